"""Add the reasoning head to a torchvision Faster R-CNN, train it, and detect.

Run with ``python examples/torchvision_faster_rcnn.py`` (a few seconds on a CPU, random
weights and random images, so it needs no download). With ``--pretrained`` it starts from
torchvision's COCO weights (downloaded and cached by torchvision on first use). The user code
is the part of ``main`` between the two rulers: build the detector, build the head sized for
it, attach it, train, detect. The detector stays a torchvision ``FasterRCNN``.
"""

from __future__ import annotations

import argparse

import torch
from torchvision.models.detection import FasterRCNN_ResNet50_FPN_Weights, fasterrcnn_resnet50_fpn

from iterative_reasoning.data import random_detection_batch
from iterative_reasoning.detectors import attach_reasoning_head, reasoning_head_for
from iterative_reasoning.graph import ClassRelations
from knowledge_graphs import load_ready_made


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description="Faster R-CNN with the reasoning head.")
    parser.add_argument("--pretrained", action="store_true", help="COCO weights (download)")
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--min-size", type=int, default=240, help="detector input short side")
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    # the shipped COCO class graph (WordNet's relations among COCO's 80 categories), on the
    # detector's 91 outputs: torchvision numbers them by COCO's category ids
    categories = FasterRCNN_ResNet50_FPN_Weights.DEFAULT.meta["categories"]
    relations = ClassRelations.from_class_graph(load_ready_made("coco"), outputs=categories)

    # ---------------------------------------------------------------------------------------
    detector = fasterrcnn_resnet50_fpn(
        weights="DEFAULT" if args.pretrained else None,
        weights_backbone=None,
        min_size=args.min_size,
        max_size=int(args.min_size * 4 / 3),
        box_score_thresh=0.05 if args.pretrained else 0.0,  # random weights score low
    )
    head = reasoning_head_for(  # for its 91 classes, 256-channel FPN, 1024-d box features
        detector, "final", class_relations=relations, fc_channels=1024
    )
    detector = attach_reasoning_head(detector, head)  # the same FasterRCNN, new roi_heads
    optimizer = torch.optim.SGD(detector.parameters(), lr=5e-4, momentum=0.9, weight_decay=1e-4)

    detector.train()
    for step in range(args.steps):
        images, targets = random_detection_batch(2, 90, generator=gen)
        losses = detector(images, targets)  # torchvision's losses + "loss_reasoning"
        optimizer.zero_grad()
        sum(losses.values()).backward()
        optimizer.step()
        print(f"step {step}: " + ", ".join(f"{k} {v.item():.3f}" for k, v in losses.items()))

    detector.eval()
    with torch.no_grad():
        images = random_detection_batch(1, 90, generator=gen)[0]
        detections = detector(images)  # boxes in original-image pixels
    # ---------------------------------------------------------------------------------------

    found = detections[0]
    print(f"{len(found['boxes'])} detections, scored by the head after reasoning")
    if len(found["boxes"]):
        change = (found["scores"] - found["detector_scores"]).abs().mean().item()
        print(f"mean change of a detection's score by reasoning: {change:.3f}")
    return {"loss_reasoning": losses["loss_reasoning"].item(), "detections": len(found["boxes"])}


if __name__ == "__main__":
    main()
