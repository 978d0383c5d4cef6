"""Region classification metrics of the paper: per-instance and per-class AP and accuracy.

Exactly the original evaluation (``lib/datasets/imdb.py`` and ``voc_eval.voc_ap`` of the
official code), on softmax scores ``S [N, C]`` of ``N`` test regions and their labels ``y``:

- the predicted class is ``argmax`` over the non-background columns;
- **per-instance AC**: the fraction of regions classified correctly;
- **per-class AC**: the mean over the classes present in ``y`` of each class's accuracy;
- **per-class AP**: the mean over the classes present of the VOC area AP obtained by ranking
  *all* regions by ``S[:, c]``, with the regions of class ``c`` as positives;
- **per-instance AP**: the VOC area AP obtained by ranking regions by ``S[n, y_n]``, with the
  correctly classified regions as positives and ``N`` as the recall denominator (so it never
  exceeds per-instance AC).

Ties in a ranking are scored as one block (precision and recall are read only where the score
changes), which makes every metric independent of the order of the regions. The original
ordered tied scores arbitrarily (an unstable sort); without ties the two are identical.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

from iterative_reasoning._validation import check_finite


class ClassificationMetrics(NamedTuple):
    """The four numbers of the paper's Table 1, as fractions in ``[0, 1]``."""

    instance_ap: float
    instance_ac: float
    class_ap: float
    class_ac: float

    def as_percent(self) -> dict[str, float]:
        """The metrics in percent, keyed by field name, as the paper prints them."""
        return {k: 100.0 * v for k, v in self._asdict().items()}


def voc_ap(recall: Tensor, precision: Tensor) -> float:
    """VOC "area" average precision (``voc_eval.voc_ap`` with ``use_07_metric=False``).

    The precision envelope (running maximum from the right) is summed over the steps of the
    recall.

    Shapes:
        recall, precision: ``[K]`` points of the ranking, recall non-decreasing

    Example:
        >>> import torch
        >>> round(voc_ap(torch.tensor([0.5, 0.5, 1.0]), torch.tensor([1.0, 0.5, 2 / 3])), 4)
        0.8333
    """
    recall, precision = recall.double(), precision.double()
    mrec = torch.cat([recall.new_zeros(1), recall, recall.new_ones(1)])
    mpre = torch.cat([precision.new_zeros(1), precision, precision.new_zeros(1)])
    mpre = torch.flip(torch.cummax(torch.flip(mpre, [0]), 0).values, [0])
    steps = (mrec[1:] != mrec[:-1]).nonzero().flatten()
    return float(((mrec[steps + 1] - mrec[steps]) * mpre[steps + 1]).sum())


def ranked_ap(scores: Tensor, positive: Tensor, num_positive: int) -> float:
    """VOC AP of ranking ``scores`` in descending order, ties taken as one block.

    Args:
        scores: ranking score of each item.
        positive: whether each item is a true positive.
        num_positive: recall denominator.

    Shapes:
        scores, positive: ``[N]``
    """
    order = torch.argsort(scores, descending=True, stable=True)
    sorted_scores = scores[order]
    hits = torch.cumsum(positive[order].double(), 0)
    seen = torch.arange(1, scores.numel() + 1, dtype=torch.float64)
    block_end = torch.ones_like(sorted_scores, dtype=torch.bool)
    block_end[:-1] = sorted_scores[1:] != sorted_scores[:-1]
    return voc_ap(hits[block_end] / num_positive, hits[block_end] / seen[block_end])


def predict(scores: Tensor, background: int | None = 0) -> Tensor:
    """The predicted class of each region, never the background column.

    Shapes:
        scores: ``[N, C]`` -> ``[N]``
    """
    if background is None:
        return scores.argmax(dim=1)
    masked = scores.clone()
    masked[:, background] = -torch.inf
    return masked.argmax(dim=1)


def instance_accuracy(scores: Tensor, labels: Tensor, background: int | None = 0) -> float:
    """Per-instance AC: the fraction of regions classified correctly."""
    scores, labels = _check(scores, labels, background)
    return float((predict(scores, background) == labels).double().mean())


def class_accuracy(scores: Tensor, labels: Tensor, background: int | None = 0) -> float:
    """Per-class AC: mean accuracy over the classes present in ``labels``."""
    scores, labels = _check(scores, labels, background)
    correct = (predict(scores, background) == labels).double()
    classes, inverse = torch.unique(labels, return_inverse=True)
    per_class = torch.zeros(classes.numel(), dtype=torch.float64).index_add_(0, inverse, correct)
    counts = torch.bincount(inverse, minlength=classes.numel())
    return float((per_class / counts).mean())


def class_average_precision(scores: Tensor, labels: Tensor, background: int | None = 0) -> float:
    """Per-class AP: mean over the classes present of the AP of ranking all regions by
    ``S[:, c]``."""
    return float(np.mean(list(average_precision_of_classes(scores, labels, background).values())))


def average_precision_of_classes(
    scores: Tensor, labels: Tensor, background: int | None = 0
) -> dict[int, float]:
    """The AP of each class present in ``labels`` (ranking all regions by ``S[:, c]``), whose
    mean is the per-class AP.

    Example:
        >>> import torch
        >>> scores = torch.tensor([[0.1, 0.7, 0.2], [0.5, 0.2, 0.3], [0.0, 0.6, 0.4]])
        >>> average_precision_of_classes(scores, torch.tensor([1, 2, 2]))
        {1: 1.0, 2: 1.0}
    """
    scores, labels = _check(scores, labels, background)
    classes, counts = torch.unique(labels, return_counts=True)
    return {
        c: ranked_ap(scores[:, c], labels == c, int(n))
        for c, n in zip(classes.tolist(), counts.tolist(), strict=True)
    }


def instance_average_precision(scores: Tensor, labels: Tensor, background: int | None = 0) -> float:
    """Per-instance AP: AP of ranking regions by their true class's score, correct ones
    positive, ``N`` as the recall denominator."""
    scores, labels = _check(scores, labels, background)
    correct = predict(scores, background) == labels
    true_score = scores.gather(1, labels[:, None])[:, 0]
    return ranked_ap(true_score, correct, labels.numel())


def evaluate_classification(
    scores: Tensor | np.ndarray, labels: Tensor | np.ndarray, background: int | None = 0
) -> ClassificationMetrics:
    """All four metrics of the paper's Table 1.

    Args:
        scores: softmax probabilities of each region (any monotone score works for the APs,
            but the paper's numbers are on probabilities).
        labels: ground-truth class of each region, never ``background``.
        background: the background column, excluded from the argmax; ``None`` if the
            classifier has none.

    Shapes:
        scores: ``[N, C]``; labels: ``[N]``

    Example:
        >>> import torch
        >>> scores = torch.tensor([[0.1, 0.7, 0.2], [0.5, 0.2, 0.3], [0.0, 0.6, 0.4]])
        >>> m = evaluate_classification(scores, torch.tensor([1, 2, 2]))
        >>> round(m.instance_ac, 4), round(m.class_ac, 4)
        (0.6667, 0.75)
    """
    scores, labels = _check(scores, labels, background)
    return ClassificationMetrics(
        instance_ap=instance_average_precision(scores, labels, background),
        instance_ac=instance_accuracy(scores, labels, background),
        class_ap=class_average_precision(scores, labels, background),
        class_ac=class_accuracy(scores, labels, background),
    )


def _check(
    scores: Tensor | np.ndarray, labels: Tensor | np.ndarray, background: int | None
) -> tuple[Tensor, Tensor]:
    scores = torch.as_tensor(scores).detach().cpu()
    labels = torch.as_tensor(labels).detach().cpu()
    if scores.dim() != 2:
        raise ValueError(f"scores must have shape [N, C], got {list(scores.shape)}")
    if not scores.is_floating_point():
        raise TypeError(f"scores must be floating point, got dtype {scores.dtype}")
    check_finite("scores", scores)
    num, num_classes = scores.shape
    if labels.shape != (num,):
        raise ValueError(f"labels must have shape [N] = [{num}], got {list(labels.shape)}")
    if labels.dtype.is_floating_point or labels.dtype == torch.bool:
        raise TypeError(f"labels must be integer class indices, got dtype {labels.dtype}")
    if num == 0:
        raise ValueError("scores and labels are empty; the metrics need at least one region")
    labels = labels.long()
    if int(labels.min()) < 0 or int(labels.max()) >= num_classes:
        raise ValueError(
            f"labels must lie in [0, C) = [0, {num_classes}), got values in "
            f"[{int(labels.min())}, {int(labels.max())}]"
        )
    if background is not None:
        if not 0 <= background < num_classes:
            raise ValueError(f"background must be in [0, {num_classes}) or None, got {background}")
        if bool((labels == background).any()):
            raise ValueError(
                f"labels contain the background class {background}, which is never a target; "
                "drop those regions or pass background=None"
            )
        if num_classes < 2:
            raise ValueError("scores need at least one non-background column")
    return scores.double(), labels
