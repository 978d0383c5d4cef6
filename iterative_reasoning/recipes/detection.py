"""Detection runs: a detector with the reasoning head or without, on COCO-format data or the
synthetic benchmark written in COCO format."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from iterative_reasoning.data.coco import COCODetection
from iterative_reasoning.engine.detection import DetectionModel
from iterative_reasoning.recipes import synthetic
from iterative_reasoning.recipes.graph import run_class_graph
from iterative_reasoning.recipes.spec import RunSpec

#: The detector of a run that names none.
DEFAULT_DETECTOR = {"coco": "fasterrcnn_resnet50_fpn", "synthetic": "small"}


def detection_dataset(spec: RunSpec, split: str) -> COCODetection:
    """The images and boxes of ``split`` (random flips in training); the synthetic benchmark
    is written once in COCO format at ``spec.data_root``."""
    _check(spec)
    if spec.dataset == "synthetic":
        written = synthetic.written_coco(
            spec.data_root, spec.num_images, spec.num_test_images, spec.seed
        )
        return written["train" if split == "train" else "test"]
    if spec.root is None or spec.annotations is None:
        raise ValueError("--task detection --dataset coco needs --root and --annotations")
    masks = detector_name(spec).startswith("maskrcnn")
    flip = 0.5 if split == "train" else 0.0
    return COCODetection(spec.root, spec.annotations, hflip_prob=flip, masks=masks)


def detector_name(spec: RunSpec) -> str:
    """``spec.detector``, or the dataset's default (``small`` for the synthetic benchmark)."""
    return spec.detector or DEFAULT_DETECTOR[spec.dataset]


def detection_model(spec: RunSpec, dataset: COCODetection, split: str) -> DetectionModel:
    """The detector of ``spec`` for the dataset's categories (and background) with, but for
    the baseline, the head of ``spec.model`` attached."""
    from iterative_reasoning.detectors.torchvision import build_detector

    name = detector_name(spec)
    classes = list(dataset.classes)  # background, then the file's categories
    weights = None if name == "small" else spec.weights
    detector = build_detector(name, len(classes), weights_backbone=weights)
    if spec.model != "baseline":
        graph = run_class_graph(spec, split, classes)
        widths = synthetic.head_widths() if name == "small" else {}
        attach_head(
            detector,
            spec.model,
            graph.to_class_relations(background=True),
            widths=widths,
            reasoned_boxes=spec.reasoned_boxes,
            train_on=spec.train_on,
        )
    return DetectionModel(detector)


def attach_head(
    detector: Any,
    model: str,
    class_relations: Any,
    *,
    family: str = "faster_rcnn",
    widths: dict[str, int] | None = None,
    reasoned_boxes: int | None = None,
    train_on: str = "proposals",
    fusion: str = "paper",
) -> None:
    """Size the head of ``model`` for ``detector`` (with the ``fusion`` of
    :class:`~iterative_reasoning.nn.IterativeReasoningHead`) and attach it: a torchvision
    two-stage detector (``family="faster_rcnn"``) takes it as its RoI heads; a
    ``TransformersDetector`` (``"rt_detr"``) or ``YOLODetector`` (``"yolo"``) as its
    re-classifier."""
    options: dict[str, Any] = {**(widths or {}), "fusion": fusion}
    if family in ("rt_detr", "yolo"):
        from iterative_reasoning.detectors import transformers, ultralytics

        adapter: Any = transformers if family == "rt_detr" else ultralytics
        head = adapter.reasoning_head_for(
            detector.model, model, class_relations=class_relations, **options
        )
        detector.attach(head)
        return
    from iterative_reasoning.detectors.torchvision import (
        attach_reasoning_head,
        reasoning_head_for,
    )

    head = reasoning_head_for(detector, model, class_relations=class_relations, **options)
    attach_reasoning_head(
        detector,
        head,
        reasoned_boxes=reasoned_boxes,
        train_on=train_on,  # type: ignore[arg-type]
    )


def detection_annotations(spec: RunSpec, split: str) -> Path:
    """The annotation file a split of the run is scored against."""
    if spec.dataset == "synthetic":
        return synthetic.coco_annotations(spec.data_root, "train" if split == "train" else "test")
    assert spec.annotations is not None
    return spec.annotations


def _check(spec: RunSpec) -> None:
    if spec.dataset not in DEFAULT_DETECTOR:
        raise ValueError(f"--task detection takes --dataset coco or synthetic, not {spec.dataset}")
    if spec.write_masks:
        raise ValueError("--write-masks goes with --task classification (COCO)")
