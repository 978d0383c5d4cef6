"""Evaluation with the paper's metrics, written to ``metrics.json``."""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from torch import Tensor
from torch.utils.data import Dataset

from iterative_reasoning.data.records import RegionSample
from iterative_reasoning.engine.loader import evaluation_batches, workers_for
from iterative_reasoning.engine.model import RegionModel, collate_regions
from iterative_reasoning.metrics import (
    ClassificationMetrics,
    average_precision_of_classes,
    evaluate_classification,
)
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
