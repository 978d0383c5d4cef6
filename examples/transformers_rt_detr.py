"""Add the reasoning head to a Hugging Face RT-DETR, train both, and detect.

Run with ``python examples/transformers_rt_detr.py`` (random weights and random images, so it
needs no download; install the extra first: ``pip install 'iterative-reasoning[transformers]'``).
With ``--pretrained`` it starts from ``PekingU/rtdetr_r50vd`` (COCO, downloaded and cached by
transformers on first use). The user code is the part of ``main`` between the two rulers: the
detector and its image processor, a head sized for it, training, detection. The same code
serves ``DetrForObjectDetection`` and the other DETR variants (see ``FAMILIES``).
"""

from __future__ import annotations

import argparse

import torch
from transformers import RTDetrConfig, RTDetrForObjectDetection, RTDetrImageProcessor

from iterative_reasoning.data import random_detection_batch
from iterative_reasoning.detectors import reasoning_head_for
from iterative_reasoning.detectors.transformers import TransformersDetector
from iterative_reasoning.graph import ClassRelations
from knowledge_graphs import load_ready_made


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description="RT-DETR with the reasoning head.")
    parser.add_argument("--pretrained", action="store_true", help="COCO weights (download)")
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--size", type=int, default=640, help="the processor's input size")
    parser.add_argument("--queries", type=int, default=300, help="the decoder's queries")
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    # the shipped COCO class graph (WordNet's relations among COCO's 80 categories), numbered
    # as the head numbers them: background 0, then the detector's labels 0..79 as 1..80
    relations = ClassRelations.from_class_graph(load_ready_made("coco"))

    # ---------------------------------------------------------------------------------------
    if args.pretrained:
        model = RTDetrForObjectDetection.from_pretrained("PekingU/rtdetr_r50vd")
    else:
        config = RTDetrConfig(num_labels=80, num_queries=args.queries)  # ResNet-50-vd
        model = RTDetrForObjectDetection(config)  # random weights
    processor = RTDetrImageProcessor(size={"height": args.size, "width": args.size})
    head = reasoning_head_for(  # 81 classes, the 256-channel stride-16 encoder level, d_model
        model, "final", class_relations=relations, fc_channels=1024
    )
    detector = TransformersDetector(model, processor, head)  # torchvision's interface
    optimizer = torch.optim.AdamW(detector.parameters(), lr=1e-4, weight_decay=1e-4)

    detector.train()
    for step in range(args.steps):
        # labels 1..80, boxes in image pixels
        images, targets = random_detection_batch(2, 80, generator=gen)
        losses = detector(images, targets)  # "loss_detector" + "loss_reasoning"
        optimizer.zero_grad()
        sum(losses.values()).backward()
        torch.nn.utils.clip_grad_norm_(detector.parameters(), 0.1)
        optimizer.step()
        print(f"step {step}: " + ", ".join(f"{k} {v.item():.3f}" for k, v in losses.items()))

    detector.eval()
    with torch.no_grad():
        images = random_detection_batch(1, 80, generator=gen)[0]
        detections = detector(images)  # the processor's post-processing
    # ---------------------------------------------------------------------------------------

    found = detections[0]
    print(f"{len(found['boxes'])} detections, scored by the head after reasoning")
    return {"loss_reasoning": losses["loss_reasoning"].item(), "detections": len(found["boxes"])}


if __name__ == "__main__":
    main()
