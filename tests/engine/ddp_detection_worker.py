"""Trains a small Faster R-CNN with the reasoning head for a few steps under ``torchrun``;
every process writes its final weights to ``argv[1]/final_<rank>.pt``."""

import sys

import torch

from iterative_reasoning.data import COCODetection, write_coco
from iterative_reasoning.detectors import attach_reasoning_head, reasoning_head_for
from iterative_reasoning.engine import (
    TrainConfig,
    close_distributed,
    init_distributed,
    process_group,
    train,
)
from iterative_reasoning.graph import ClassRelations
from iterative_reasoning.models import DetectionModel
from iterative_reasoning.models.small_detectors import small_faster_rcnn

CONFIG = TrainConfig(steps=3, batch_size=2, lr=0.01, checkpoint_every=2, log_every=1, seed=5)

if __name__ == "__main__":
    device = init_distributed()
    rank, _ = process_group()
    root = write_coco(f"{sys.argv[1]}/data_{rank}", {"train": 4}, seed=0)
    data = COCODetection(root / "images", root / "annotations" / "instances_train.json")
    torch.manual_seed(0)
    detector = small_faster_rcnn(14, width=8, representation_size=64)
    relations = ClassRelations(14, {"similar_to": torch.tensor([[3, 6], [6, 3]])})
    sizes = {"memory_channels": 8, "fc_channels": 16, "hidden_channels": 16}
    head = reasoning_head_for(detector, "final", class_relations=relations, **sizes)
    model = DetectionModel(attach_reasoning_head(detector, head))
    train(model, data, CONFIG, sys.argv[1], device=device, progress=False, tensorboard=False)
    torch.save(model.state_dict(), f"{sys.argv[1]}/final_{rank}.pt")
    close_distributed()
