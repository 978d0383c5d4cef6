"""Evaluation with the paper's metrics, written to ``metrics.json``."""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from torch.utils.data import Dataset

from iterative_reasoning.data.records import RegionSample
from iterative_reasoning.engine.model import RegionModel, collate_regions
from iterative_reasoning.metrics import ClassificationMetrics, evaluate_classification


def evaluate(
    model: RegionModel,
    dataset: Dataset[RegionSample],
    batch_size: int = 1,
    output_dir: str | os.PathLike[str] | None = None,
    device: str | torch.device = "cpu",
) -> ClassificationMetrics:
    """Per-instance and per-class AP and accuracy of ``model`` on every region of ``dataset``
    (background excluded from the argmax); also written to ``output_dir/metrics.json``."""
    model.to(device).eval()
    scores, labels = [], []
    num_items = len(dataset)  # type: ignore[arg-type]
    for start in range(0, num_items, batch_size):
        batch = collate_regions(
            [dataset[i] for i in range(start, min(start + batch_size, num_items))]
        )
        scores.append(model.predict(batch.to(device)).cpu())
        labels.append(batch.labels)
    metrics = evaluate_classification(torch.cat(scores), torch.cat(labels))
    if output_dir is not None:
        path = Path(output_dir)
        path.mkdir(parents=True, exist_ok=True)
        payload = {
            **metrics.as_percent(),
            "regions": int(sum(len(x) for x in labels)),
            "images": num_items,
        }
        (path / "metrics.json").write_text(json.dumps(payload, indent=2) + "\n")
    return metrics
