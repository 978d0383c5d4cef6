"""Add the reasoning head to an ultralytics YOLO detector, train, and detect.

ultralytics is AGPL-3.0 and this package never requires it: install it yourself
(``pip install ultralytics``). Run with ``python examples/ultralytics_yolo.py`` (a YOLOv8n with
random weights built from its YAML, random images: nothing is downloaded). With ``--weights
yolov8n.pt`` it starts from ultralytics' COCO weights (downloaded by ultralytics).

The usual recipe trains YOLO with ultralytics' own trainer (``YOLO(...).train(data=...)``) and
then the head on the frozen detector: ``--frozen`` does that here (``detector.model.eval()``
while the head trains: YOLO's weights and statistics do not move). Without it, both train
together in one loop: YOLO's own loss and the head's. The user code is between the rulers.
"""

from __future__ import annotations

import argparse

import torch

from iterative_reasoning.data import random_detection_batch
from iterative_reasoning.detectors import reasoning_head_for
from iterative_reasoning.detectors.ultralytics import YOLODetector, import_ultralytics
from iterative_reasoning.graph import ClassRelations
from knowledge_graphs import load_ready_made

# ultralytics through the adapter: importing it changes process-wide settings (threads of child
# processes, PIL.Image.open, torch.save, ...), which this undoes; offline while importing.
YOLO = import_ultralytics().YOLO


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description="YOLO with the reasoning head.")
    parser.add_argument("--weights", default="yolov8n.yaml", help="a YAML, or a .pt (download)")
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--imgsz", type=int, default=640)
    parser.add_argument("--frozen", action="store_true", help="train the head alone")
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    # the shipped COCO class graph (WordNet's relations among COCO's 80 categories), numbered
    # as the head numbers them: background 0, then the detector's labels 0..79 as 1..80
    relations = ClassRelations.from_class_graph(load_ready_made("coco"))

    # ---------------------------------------------------------------------------------------
    yolo = YOLO(args.weights)  # 80 classes
    head = reasoning_head_for(yolo, "final", class_relations=relations, fc_channels=512)
    random_weights = args.weights.endswith(".yaml")  # they score everything low
    detector = YOLODetector(  # re-scores YOLO's detections
        yolo, head, imgsz=args.imgsz, conf=0.0 if random_weights else 0.001
    )
    trained = head.parameters() if args.frozen else detector.parameters()
    optimizer = torch.optim.SGD(trained, lr=1e-3, momentum=0.9, weight_decay=5e-4)

    detector.train()
    if args.frozen:
        detector.model.eval()
        detector.model.requires_grad_(False)
    for step in range(args.steps):
        # labels 1..80, boxes in image pixels
        images, targets = random_detection_batch(2, 80, generator=gen)
        losses = detector(images, targets)  # ("loss_detector" +) "loss_reasoning"
        optimizer.zero_grad()
        sum(losses.values()).backward()
        optimizer.step()
        print(f"step {step}: " + ", ".join(f"{k} {v.item():.3f}" for k, v in losses.items()))

    detector.eval()
    with torch.no_grad():
        images = random_detection_batch(1, 80, generator=gen)[0]
        detections = detector(images)  # NMS, then the head, then NMS again
    # ---------------------------------------------------------------------------------------

    found = detections[0]
    print(f"{len(found['boxes'])} detections, re-scored by the head after reasoning")
    if len(found["boxes"]):
        before, after = found["detector_scores"].mean().item(), found["scores"].mean().item()
        print(f"mean score of a detection: YOLO's {before:.3g}, after reasoning {after:.3g}")
    return {"loss_reasoning": losses["loss_reasoning"].item(), "detections": len(found["boxes"])}


if __name__ == "__main__":
    main()
