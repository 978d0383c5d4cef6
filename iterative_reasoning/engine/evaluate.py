"""Evaluation with the paper's metrics (region classification) and COCO's (detection), written
to ``metrics.json``."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import Dataset

from iterative_reasoning.data.coco import COCODetection
from iterative_reasoning.data.records import RegionSample
from iterative_reasoning.engine.loader import evaluation_batches, workers_for
from iterative_reasoning.metrics import (
    ClassificationMetrics,
    average_precision_of_classes,
    evaluate_classification,
)
from iterative_reasoning.metrics.detection import DetectionMetrics, coco_results, evaluate_coco
from iterative_reasoning.models.detection import DetectionModel, collate_detections
from iterative_reasoning.models.region import RegionModel, collate_regions
from knowledge_graphs.files import write_atomic


def predict_dataset(
    model: RegionModel,
    dataset: Dataset[RegionSample],
    batch_size: int = 1,
    device: str | torch.device = "cpu",
    progress: bool = False,
    num_workers: int | None = None,
) -> tuple[Tensor, Tensor]:
    """Class probabilities ``[R, C]`` of every region of ``dataset`` and their labels ``[R]``;
    the images read by ``num_workers`` worker processes (0: by this one; by
    default none on the CPU, :func:`~iterative_reasoning.engine.loader.workers_for`)."""
    model.to(device).eval()
    scores, labels = [], []
    shown = "evaluating" if progress else None
    workers = workers_for(num_workers, device)
    for batch in evaluation_batches(dataset, collate_regions, batch_size, workers, shown):
        scores.append(model.predict(batch.to(device)).cpu())
        labels.append(batch.labels)
    if not scores:
        raise ValueError("the evaluation dataset is empty")
    return torch.cat(scores), torch.cat(labels)


def evaluate(
    model: RegionModel,
    dataset: Dataset[RegionSample],
    batch_size: int = 1,
    output_dir: str | os.PathLike[str] | None = None,
    device: str | torch.device = "cpu",
    progress: bool = False,
    num_workers: int | None = None,
) -> ClassificationMetrics:
    """Per-instance and per-class AP and accuracy of ``model`` on every region of ``dataset``
    (background excluded from the argmax); also written to ``output_dir/metrics.json`` with the
    AP of each class (named by ``dataset.classes`` when it has them)."""
    scores, labels = predict_dataset(model, dataset, batch_size, device, progress, num_workers)
    metrics = evaluate_classification(scores, labels)
    if output_dir is not None:
        names = getattr(dataset, "classes", None)
        per_class = {
            (names[c] if names is not None else str(c)): 100.0 * ap
            for c, ap in average_precision_of_classes(scores, labels).items()
        }
        path = Path(output_dir)
        path.mkdir(parents=True, exist_ok=True)
        payload = {
            **metrics.as_percent(),
            "regions": int(labels.numel()),
            "images": len(dataset),  # type: ignore[arg-type]
            "class_ap_of": per_class,
        }
        write_atomic(path / "metrics.json", json.dumps(payload, indent=2) + "\n")
    return metrics


def evaluate_detection(
    model: DetectionModel,
    dataset: COCODetection,
    batch_size: int = 1,
    output_dir: str | os.PathLike[str] | None = None,
    device: str | torch.device = "cpu",
    progress: bool = False,
    num_workers: int | None = None,
) -> dict[str, DetectionMetrics]:
    """COCO's metrics (``COCOeval``) of ``model`` on every image of ``dataset`` (a
    :class:`~iterative_reasoning.data.COCODetection`): ``"bbox"``, and ``"segm"`` for a
    detector that gives masks. With ``output_dir``, writes ``metrics.json`` (the numbers in
    percent and the AP of every category) and ``detections.json`` (the COCO results file).
    The images are read by ``num_workers`` worker processes (0: by this one; by
    default none on the CPU, :func:`~iterative_reasoning.engine.loader.workers_for`)."""
    if not isinstance(dataset, COCODetection):
        raise TypeError(
            f"dataset must be a COCODetection (its annotations score the detections), got "
            f"{type(dataset).__name__}"
        )
    model.to(device).eval()
    results: list[dict[str, Any]] = []
    image_ids: list[Any] = []
    with_masks = False
    shown = "detecting" if progress else None
    workers = workers_for(num_workers, device)
    for batch in evaluation_batches(dataset, collate_detections, batch_size, workers, shown):
        detections = model.predict(batch.to(device))
        with_masks = with_masks or any("masks" in d for d in detections)
        results += coco_results(detections, batch.image_ids, dataset.category_id_of)
        image_ids += batch.image_ids
    iou_types = ("bbox", "segm") if with_masks else ("bbox",)
    metrics = {t: evaluate_coco(dataset.coco, results, t, image_ids) for t in iou_types}
    if output_dir is not None:
        path = Path(output_dir)
        path.mkdir(parents=True, exist_ok=True)
        payload = {
            **{t: m.as_percent() for t, m in metrics.items()},
            "images": len(image_ids),
            "detections": len(results),
        }
        write_atomic(path / "metrics.json", json.dumps(payload, indent=2) + "\n")
        write_atomic(path / "detections.json", json.dumps(results) + "\n")
    return metrics
