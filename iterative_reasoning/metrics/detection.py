"""Detection metrics with pycocotools: detections as a COCO results file, scored by ``COCOeval``.

The numbers are COCO's: AP averaged over IoU thresholds 0.50:0.05:0.95 (``AP``), at IoU 0.50
(``AP50``) and 0.75 (``AP75``), over small, medium and large objects, each with at most 100
detections per image, and the AP of every category (the same average, over that category's
precision), for boxes (``"bbox"``) and instance masks (``"segm"``).
"""

from __future__ import annotations

import contextlib
import io
import math
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import Tensor

from iterative_reasoning._detection_validation import check_detections
from iterative_reasoning._validation import ValueChecks

IOU_TYPES = ("bbox", "segm")
#: ``COCOeval.stats`` positions of the six numbers :class:`DetectionMetrics` keeps.
_STATS = {"ap": 0, "ap50": 1, "ap75": 2, "ap_small": 3, "ap_medium": 4, "ap_large": 5}


class DetectionMetrics(NamedTuple):
    """COCO's detection metrics, fractions in ``[0, 1]`` (``-1`` where COCO has no ground
    truth to measure, e.g. no small objects).

    Attributes:
        ap: AP at IoU 0.50:0.95.
        ap50: AP at IoU 0.50.
        ap75: AP at IoU 0.75.
        ap_small: AP of objects under 32 x 32 pixels.
        ap_medium: AP of objects between 32 x 32 and 96 x 96 pixels.
        ap_large: AP of larger objects.
        ap_of: category name -> its AP at IoU 0.50:0.95 (categories with ground truth only).
        iou_type: ``"bbox"`` or ``"segm"``.
    """

    ap: float
    ap50: float
    ap75: float
    ap_small: float
    ap_medium: float
    ap_large: float
    ap_of: dict[str, float]
    iou_type: str

    def as_percent(self) -> dict[str, Any]:
        """The numbers in percent (``-1`` stays), with ``ap_of`` in percent too."""

        def percent(value: float) -> float:
            return 100.0 * value if value >= 0 else -1.0

        numbers = {name: percent(getattr(self, name)) for name in _STATS}
        return {**numbers, "ap_of": {k: percent(v) for k, v in self.ap_of.items()}}


def coco_results(
    detections: Sequence[Mapping[str, Tensor]],
    image_ids: Sequence[Any],
    category_id_of: Mapping[int, int] | Sequence[int | None],
    mask_threshold: float = 0.5,
) -> list[dict[str, Any]]:
    """Detections in the COCO results format: one dict per detection with ``image_id``,
    ``category_id`` (the dataset's own id), ``bbox`` (``[x, y, w, h]``), ``score`` and, for
    detections with ``"masks"``, ``segmentation`` (compressed RLE of the mask probabilities
    above ``mask_threshold``).

    Args:
        detections: per image, torchvision's output: ``"boxes"`` ``[N, 4]`` ``xyxy`` in
            original-image pixels, ``"labels"`` ``[N]``, ``"scores"`` ``[N]``, optionally
            ``"masks"`` ``[N, 1, H, W]`` probabilities.
        image_ids: the id of each image in the annotation file.
        category_id_of: label -> category id (a mapping, or a sequence indexed by label);
            detections of labels without a category (absent, or ``None``: background) are
            left out.
        mask_threshold: the probability above which a mask pixel is in.

    Example:
        >>> import torch
        >>> coco_results([{"boxes": torch.tensor([[10.0, 20.0, 50.0, 80.0]]),
        ...                "labels": torch.tensor([1]), "scores": torch.tensor([0.75])}],
        ...              image_ids=[42], category_id_of={1: 7})
        [{'image_id': 42, 'category_id': 7, 'bbox': [10.0, 20.0, 40.0, 60.0], 'score': 0.75}]
    """
    if len(detections) != len(image_ids):
        raise ValueError(
            f"detections has {len(detections)} image(s) but image_ids {len(image_ids)}; "
            "give one id per image"
        )
    checks = ValueChecks()
    check_detections(detections, len(image_ids), checks)
    checks.run()
    pairs = (
        category_id_of.items() if isinstance(category_id_of, Mapping) else enumerate(category_id_of)
    )
    lookup = {label: category for label, category in pairs if category is not None}
    results: list[dict[str, Any]] = []
    for found, image_id in zip(detections, image_ids, strict=True):
        boxes = found["boxes"].detach().to("cpu", torch.float64)
        xywh = torch.cat([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], dim=1).tolist()
        labels = found["labels"].tolist()
        scores = found["scores"].detach().to("cpu", torch.float64).tolist()
        rles = _rles(found["masks"], mask_threshold) if "masks" in found else None
        for i, (bbox, label, score) in enumerate(zip(xywh, labels, scores, strict=True)):
            if label not in lookup:
                continue
            result = {
                "image_id": image_id,
                "category_id": lookup[label],
                "bbox": bbox,
                "score": score,
            }
            if rles is not None:
                result["segmentation"] = rles[i]
            results.append(result)
    return results


def check_results(results: Sequence[Mapping[str, Any]]) -> None:
    """Raise ``ValueError`` unless every result has a ``bbox`` of four finite numbers with
    non-negative width and height and a finite ``score`` (``COCOeval`` takes a NaN box or
    score without a word; :func:`run_cocoeval` checks the image and category ids)."""
    for i, result in enumerate(results):
        if not isinstance(result, Mapping):
            raise ValueError(f"results[{i}] must be a dict, got {type(result).__name__}")
        missing = {"image_id", "category_id", "bbox", "score"} - set(result)
        if missing:
            raise ValueError(f"results[{i}] lacks {sorted(missing)}")
        bbox, score = result["bbox"], result["score"]
        if not (
            isinstance(bbox, Sequence)
            and len(bbox) == 4
            and all(_is_finite_number(v) for v in bbox)
            and bbox[2] >= 0
            and bbox[3] >= 0
        ):
            raise ValueError(
                f"results[{i}]['bbox'] must be [x, y, width, height]: four finite numbers, "
                f"width and height not negative; got {bbox!r}"
            )
        if not _is_finite_number(score):
            raise ValueError(f"results[{i}]['score'] must be a finite number, got {score!r}")


def _is_finite_number(value: object) -> bool:
    return (
        isinstance(value, (int, float, np.number))
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )


def evaluate_coco(
    coco_gt: Any,
    results: Sequence[Mapping[str, Any]],
    iou_type: str = "bbox",
    image_ids: Sequence[Any] | None = None,
) -> DetectionMetrics:
    """Score COCO ``results`` against the ground truth with ``pycocotools``' ``COCOeval``.

    Args:
        coco_gt: a ``pycocotools.coco.COCO`` of the ground truth (annotations need ``area``
            and ``iscrowd``; :class:`~iterative_reasoning.data.COCODetection` fills them in).
        results: detections as :func:`coco_results` gives them.
        iou_type: ``"bbox"`` or ``"segm"`` (the results then need ``segmentation``).
        image_ids: the images to evaluate (all of the ground truth's by default).

    Returns:
        :class:`DetectionMetrics`; with no detection at all, every AP is 0 (-1 where there is
        nothing to measure).
    """
    results = list(results)
    check_results(results)
    evaluation = run_cocoeval(coco_gt, results, iou_type, image_ids)
    stats = {name: float(evaluation.stats[i]) for name, i in _STATS.items()}
    if not results:  # COCOeval reports -1 (nothing to measure) where the AP is 0
        stats = {
            name: 0.0 if value < 0 and _has_ground_truth(evaluation, name) else value
            for name, value in stats.items()
        }
    return DetectionMetrics(
        **stats, ap_of=category_aps(evaluation, coco_gt, bool(results)), iou_type=iou_type
    )


def run_cocoeval(
    coco_gt: Any,
    results: Sequence[Mapping[str, Any]],
    iou_type: str = "bbox",
    image_ids: Sequence[Any] | None = None,
) -> Any:
    """``pycocotools``' ``COCOeval`` of ``results`` against ``coco_gt``, checked as
    :func:`evaluate_coco` checks them, evaluated, accumulated and summarised (without its
    printing): its ``stats``, ``eval`` and ``evalImgs`` (each detection's matches) are
    filled."""
    from pycocotools.cocoeval import COCOeval

    if iou_type not in IOU_TYPES:
        raise ValueError(f"iou_type must be one of {IOU_TYPES}, got {iou_type!r}")
    results = list(results)
    known = set(coco_gt.getImgIds())
    stray = {r["image_id"] for r in results} - known
    if stray:
        raise ValueError(
            f"results name image ids that the ground truth does not have: {sorted(stray)[:5]}"
        )
    categories = set(coco_gt.getCatIds())
    unknown = {r["category_id"] for r in results} - categories
    if unknown:
        raise ValueError(
            f"results name category ids that the ground truth does not have: "
            f"{sorted(unknown)[:5]} (give category_id in the annotation file's ids)"
        )
    if iou_type == "segm" and any("segmentation" not in r for r in results):
        raise ValueError("iou_type 'segm' needs a 'segmentation' in every result")
    with contextlib.redirect_stdout(io.StringIO()):
        detections = coco_gt.loadRes(results) if results else _empty_results(coco_gt)
        evaluation = COCOeval(coco_gt, detections, iou_type)
        if image_ids is not None:
            evaluation.params.imgIds = list(image_ids)
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    return evaluation


def category_aps(evaluation: Any, coco_gt: Any, any_results: bool = True) -> dict[str, float]:
    """Each category's AP at IoU 0.50:0.95 over all areas, 100 detections, of a
    :func:`run_cocoeval` (categories without ground truth left out; 0 for those with ground
    truth when there was no detection at all, ``any_results`` false)."""
    precision = evaluation.eval["precision"]  # [T, R, K, A, M]
    aps = {}
    for k, category_id in enumerate(evaluation.params.catIds):
        name = coco_gt.cats[category_id]["name"]
        has_truth = len(coco_gt.getAnnIds(catIds=[category_id], iscrowd=False)) > 0
        values = precision[:, :, k, 0, -1]
        values = values[values > -1]
        if values.size:
            aps[name] = float(np.mean(values))
        elif has_truth and not any_results:
            aps[name] = 0.0
    return aps


def _has_ground_truth(evaluation: Any, name: str) -> bool:
    area = {"ap_small": "small", "ap_medium": "medium", "ap_large": "large"}.get(name, "all")
    low, high = evaluation.params.areaRng[evaluation.params.areaRngLbl.index(area)]
    return any(
        low <= g["area"] < high and not g.get("iscrowd", 0)
        for g in evaluation.cocoGt.dataset["annotations"]
    )


def _empty_results(coco_gt: Any) -> Any:
    from pycocotools.coco import COCO

    empty = COCO()
    empty.dataset = {
        "images": list(coco_gt.dataset["images"]),
        "annotations": [],
        "categories": list(coco_gt.dataset["categories"]),
    }
    empty.createIndex()
    return empty


def _rles(masks: Tensor, threshold: float) -> list[dict[str, Any]]:
    """``[N, 1, H, W]`` (or ``[N, H, W]``) mask probabilities as compressed RLEs."""
    from pycocotools import mask as coco_mask

    if not math.isfinite(threshold):
        raise ValueError(f"mask_threshold must be finite, got {threshold}")
    binary = (masks.detach().cpu().reshape(-1, *masks.shape[-2:]) > threshold).numpy()
    rles = []
    for mask in binary:
        rle = coco_mask.encode(np.asfortranarray(mask.astype(np.uint8)))
        rles.append({"size": rle["size"], "counts": rle["counts"].decode("ascii")})
    return rles
