"""Trains the test model of ``test_distributed.py`` for a few steps, in one process or, under
``torchrun``, in several; writes the final weights to ``argv[1]``."""

import sys

import torch

from iterative_reasoning.data.synthetic import SyntheticScenes
from iterative_reasoning.detectors.small_convnet import SmallConvNetClassifier
from iterative_reasoning.engine import (
    RegionModel,
    TrainConfig,
    close_distributed,
    init_distributed,
    train,
)
from iterative_reasoning.graph import ClassRelations
from iterative_reasoning.nn import IterativeReasoningHead

CONFIG = TrainConfig(steps=4, batch_size=2, lr=0.01, checkpoint_every=2, log_every=1, seed=5)


def model() -> RegionModel:
    torch.manual_seed(0)
    convnet = SmallConvNetClassifier(14, width=4, region_channels=16)
    for name, module in list(convnet.trunk.named_modules()):  # no batch statistics: DDP splits
        if isinstance(module, torch.nn.BatchNorm2d):  # the batch, which would change them
            parent = convnet.trunk.get_submodule(name.rsplit(".", 1)[0])
            setattr(parent, name.rsplit(".", 1)[1], torch.nn.Identity())
    convnet.region[0][1] = torch.nn.Identity()
    relations = ClassRelations(14, {"similar_to": torch.tensor([[3, 6], [6, 3]])})
    head = IterativeReasoningHead.paper(
        "final",
        num_classes=14,
        class_relations=relations,
        feature_channels=16,
        region_channels=16,
        memory_channels=8,
        fc_channels=16,
        hidden_channels=8,
    )
    return RegionModel(convnet, head)


if __name__ == "__main__":
    device = init_distributed()
    net = model()
    train(net, SyntheticScenes(6, seed=0), CONFIG, sys.argv[1], device=device, progress=False)
    if not torch.distributed.is_initialized() or torch.distributed.get_rank() == 0:
        torch.save(net.state_dict(), f"{sys.argv[1]}/final.pt")
    close_distributed()
