"""Evaluation with the paper's metrics, written to ``metrics.json``."""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from torch import Tensor
from torch.utils.data import Dataset

from iterative_reasoning.data.records import RegionSample
from iterative_reasoning.engine.model import RegionModel, collate_regions
from iterative_reasoning.metrics import (
    ClassificationMetrics,
    average_precision_of_classes,
    evaluate_classification,
)


def predict_dataset(
    model: RegionModel,
    dataset: Dataset[RegionSample],
    batch_size: int = 1,
    device: str | torch.device = "cpu",
    progress: bool = False,
) -> tuple[Tensor, Tensor]:
    """Class probabilities ``[R, C]`` of every region of ``dataset`` and their labels ``[R]``."""
    model.to(device).eval()
    scores, labels = [], []
    num_items = len(dataset)  # type: ignore[arg-type]
    starts = range(0, num_items, batch_size)
    if progress:
        from tqdm import tqdm

        starts = tqdm(starts, desc="evaluating", unit="batch")
    for start in starts:
        batch = collate_regions(
            [dataset[i] for i in range(start, min(start + batch_size, num_items))]
        )
        scores.append(model.predict(batch.to(device)).cpu())
        labels.append(batch.labels)
    return torch.cat(scores), torch.cat(labels)


def evaluate(
    model: RegionModel,
    dataset: Dataset[RegionSample],
    batch_size: int = 1,
    output_dir: str | os.PathLike[str] | None = None,
    device: str | torch.device = "cpu",
    progress: bool = False,
) -> ClassificationMetrics:
    """Per-instance and per-class AP and accuracy of ``model`` on every region of ``dataset``
    (background excluded from the argmax); also written to ``output_dir/metrics.json`` with the
    AP of each class (named by ``dataset.classes`` when it has them)."""
    scores, labels = predict_dataset(model, dataset, batch_size, device, progress)
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
        (path / "metrics.json").write_text(json.dumps(payload, indent=2) + "\n")
    return metrics
