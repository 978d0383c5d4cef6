"""Where a re-scoring moves COCO AP: two results files of the same detector on the same images
(before and after the head) compared detection by detection.

The head changes scores and labels, never boxes, so a difference in AP comes from the order of
the detections. :func:`diagnose_rescoring` measures it in the terms that decide AP: AP at IoU
0.50, 0.75 and 0.50:0.95; each category's AP; the scores of true and false positives (at IoU
0.50, each false positive by kind: a duplicate of a found object, a right box with a wrong
class, a poor box, or background); how well the scores rank true above false positives across
images (the probability that a true positive outscores a false positive of its category, the
AUC); how far detections move in their category's ranking; and duplicates (two detections of
one class on one object).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torchvision.ops import box_convert, box_iou

from iterative_reasoning.data.coco import coco_ground_truth
from iterative_reasoning.metrics.detection import category_aps, run_cocoeval

#: The kinds of false positive at IoU 0.50.
FALSE_POSITIVE_KINDS = ("duplicate", "wrong class", "poor box", "background")
#: Score quantiles reported for each group of detections.
QUANTILES = (0.1, 0.5, 0.9)


def diagnose_rescoring(
    coco_gt: Any,
    before: Sequence[Mapping[str, Any]],
    after: Sequence[Mapping[str, Any]],
    image_ids: Sequence[Any] | None = None,
) -> dict[str, Any]:
    """Compare two COCO results files (``before`` and ``after`` a re-scoring) on the ground
    truth ``coco_gt`` (a ``pycocotools.coco.COCO``), on ``image_ids`` (by default the images
    of the ground truth).

    Returns:
        a dict (JSON-ready) of ``"ap"`` (AP, AP50, AP75 before and after), ``"per_category"``
        (each category's AP before and after), ``"scores"`` (per side: count, mean and
        quantiles of the scores of true positives and of each kind of false positive at IoU
        0.50, with their sum), ``"ranking"`` (per side: the AUC of true over false positives
        in each category, and its mean, and over each kind of false positive; the true
        positives' mean IoU with their objects and the rank correlation of their scores with
        that IoU; the detections found on both sides, same image, box and category, and how
        their rank within the category moved) and ``"duplicates"`` (per side: pairs of
        detections of one category in one image with IoU above 0.5, both scored at least
        0.05).
    """
    ids = list(image_ids) if image_ids is not None else list(coco_gt.getImgIds())
    sides = {"before": list(before), "after": list(after)}
    matched = {name: _matches(coco_gt, results, ids) for name, results in sides.items()}
    report: dict[str, Any] = {
        "ap": {name: m["stats"] for name, m in matched.items()},
        "per_category": _per_category(matched),
        "scores": {name: _score_groups(m["detections"]) for name, m in matched.items()},
        "ranking": _ranking(matched),
        "duplicates": {name: _duplicates(results) for name, results in sides.items()},
    }
    return report


def diagnose_run(
    annotations: str | os.PathLike[str],
    before: str | os.PathLike[str],
    after: str | os.PathLike[str],
) -> dict[str, Any]:
    """:func:`diagnose_rescoring` of two ``detections.json`` files (a run's ``detector/`` and
    ``with_head/``) against an annotation file."""
    loaded = [json.loads(Path(path).read_text()) for path in (before, after)]
    return diagnose_rescoring(coco_ground_truth(annotations), loaded[0], loaded[1])


def format_diagnosis(report: dict[str, Any]) -> str:
    """The report as text: AP, the categories that moved most, scores by kind, ranking and
    duplicates, before and after."""
    ap = report["ap"]
    lines = ["                  before   after  change"]
    for key in ("ap", "ap50", "ap75"):
        b, a = 100 * ap["before"][key], 100 * ap["after"][key]
        lines.append(f"{key.upper():<16} {b:7.1f} {a:7.1f} {a - b:+7.1f}")
    lines.append("per category (AP, IoU 0.50:0.95):")
    for name, values in sorted(
        report["per_category"].items(), key=lambda item: item[1]["after"] - item[1]["before"]
    ):
        b, a = values["before"], values["after"]
        lines.append(f"  {name:<16} {b:7.1f} {a:7.1f} {a - b:+7.1f}")
    lines.append("scores at IoU 0.50: count, mean, median (before -> after)")
    for group in ("true positive", *FALSE_POSITIVE_KINDS):
        b, a = report["scores"]["before"][group], report["scores"]["after"][group]
        lines.append(
            f"  {group:<14} {b['count']:6d} {b['mean']:.3f} {b['q50']:.3f} -> "
            f"{a['count']:6d} {a['mean']:.3f} {a['q50']:.3f}  (score sum {b['sum']:.1f} -> "
            f"{a['sum']:.1f})"
        )
    ranking = report["ranking"]
    lines.append(
        f"true over false positives (AUC, mean over categories): "
        f"{ranking['before']['mean_auc']:.4f} -> {ranking['after']['mean_auc']:.4f}"
    )
    by_kind = ", ".join(
        f"{kind} {ranking['before']['auc_by_kind'][kind]:.4f} -> "
        f"{ranking['after']['auc_by_kind'][kind]:.4f}"
        for kind in FALSE_POSITIVE_KINDS
    )
    lines.append(f"  over each kind of false positive: {by_kind}")
    lines.append(
        "true positives: mean IoU with their object "
        f"{ranking['before']['tp_iou']:.3f} -> {ranking['after']['tp_iou']:.3f}; rank "
        "correlation of score and IoU "
        f"{ranking['before']['tp_score_iou_correlation']:.3f} -> "
        f"{ranking['after']['tp_score_iou_correlation']:.3f}"
    )
    moved = ranking["moved"]
    lines.append(
        f"detections on both sides: {moved['common']} of {moved['before']} / {moved['after']}; "
        f"rank within their category moved by a median {moved['median_shift']:.3f} and a "
        f"90th percentile {moved['q90_shift']:.3f} of the list"
    )
    dup = report["duplicates"]
    lines.append(f"duplicate pairs (IoU > 0.5, scores >= 0.05): {dup['before']} -> {dup['after']}")
    return "\n".join(lines)


# -- steps -----------------------------------------------------------------------------------


def _matches(coco_gt: Any, results: list[Mapping[str, Any]], ids: list[Any]) -> dict[str, Any]:
    """COCOeval's matching at IoU 0.50 of every detection it keeps (at most 100 per image and
    category), each with its kind, and the AP numbers."""
    evaluation = run_cocoeval(coco_gt, results, "bbox", ids)
    stats = {key: float(evaluation.stats[i]) for key, i in (("ap", 0), ("ap50", 1), ("ap75", 2))}
    per_category = {
        name: 100 * ap for name, ap in category_aps(evaluation, coco_gt, bool(results)).items()
    }
    detections = []
    for entry in evaluation.evalImgs:
        if entry is None or entry["aRng"] != evaluation.params.areaRng[0]:
            continue
        for d, (det_id, score) in enumerate(zip(entry["dtIds"], entry["dtScores"], strict=True)):
            if entry["dtIgnore"][0][d]:
                continue
            detection = evaluation.cocoDt.anns[det_id]
            truth = int(entry["dtMatches"][0][d])
            detections.append(
                {
                    "image_id": entry["image_id"],
                    "category_id": entry["category_id"],
                    "bbox": tuple(detection["bbox"]),
                    "score": float(score),
                    "kind": "true positive"
                    if truth > 0
                    else _false_positive_kind(coco_gt, detection),
                    "iou": _iou(detection["bbox"], coco_gt.anns[truth]["bbox"]) if truth else 0.0,
                }
            )
    return {"stats": stats, "per_category": per_category, "detections": detections}


def _false_positive_kind(coco_gt: Any, detection: Mapping[str, Any]) -> str:
    """Why a detection is a false positive at IoU 0.50: it overlaps an object of its category
    that another detection found (``duplicate``), an object of another category
    (``wrong class``), an object of its category too little (``poor box``), or nothing."""
    truths = coco_gt.loadAnns(coco_gt.getAnnIds(imgIds=[detection["image_id"]], iscrowd=False))
    if not truths:
        return "background"
    ious = box_iou(_xyxy([detection["bbox"]]), _xyxy([t["bbox"] for t in truths]))[0]
    same = torch.tensor([t["category_id"] == detection["category_id"] for t in truths])
    if bool(((ious >= 0.5) & same).any()):
        return "duplicate"
    if bool(((ious >= 0.5) & ~same).any()):
        return "wrong class"
    if bool(((ious >= 0.1) & same).any()):
        return "poor box"
    return "background"


def _iou(box: Sequence[float], other: Sequence[float]) -> float:
    return float(box_iou(_xyxy([box]), _xyxy([other]))[0, 0])


def _xyxy(boxes: Sequence[Sequence[float]]) -> torch.Tensor:
    """COCO's ``[x, y, w, h]`` boxes as ``xyxy``, ``[n, 4]`` float64."""
    xywh = torch.tensor([list(b) for b in boxes], dtype=torch.float64).view(-1, 4)
    return box_convert(xywh, "xywh", "xyxy")


def _per_category(matched: dict[str, dict[str, Any]]) -> dict[str, dict[str, float]]:
    before, after = matched["before"]["per_category"], matched["after"]["per_category"]
    return {
        name: {"before": before.get(name, 0.0), "after": after.get(name, 0.0)}
        for name in sorted(set(before) | set(after))
    }


def _score_groups(detections: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    groups: dict[str, dict[str, float]] = {}
    for group in ("true positive", *FALSE_POSITIVE_KINDS):
        scores = np.array([d["score"] for d in detections if d["kind"] == group])
        summary = {"count": int(scores.size), "sum": float(scores.sum())}
        summary["mean"] = float(scores.mean()) if scores.size else float("nan")
        for q in QUANTILES:
            key = f"q{round(100 * q)}"
            summary[key] = float(np.quantile(scores, q)) if scores.size else float("nan")
        groups[group] = summary
    return groups


def _ranking(matched: dict[str, dict[str, Any]]) -> dict[str, Any]:
    ranking: dict[str, Any] = {}
    for side, m in matched.items():
        aucs = _category_aucs(m["detections"], FALSE_POSITIVE_KINDS)
        hits = [d for d in m["detections"] if d["kind"] == "true positive"]
        ranking[side] = {
            "auc": {str(category): auc for category, auc in aucs.items()},
            "mean_auc": _mean(aucs.values()),
            "auc_by_kind": {
                kind: _mean(_category_aucs(m["detections"], (kind,)).values())
                for kind in FALSE_POSITIVE_KINDS
            },
            "tp_iou": _mean(d["iou"] for d in hits),
            "tp_score_iou_correlation": _rank_correlation(
                [d["score"] for d in hits], [d["iou"] for d in hits]
            ),
        }
    ranking["moved"] = _rank_shifts(matched["before"]["detections"], matched["after"]["detections"])
    return ranking


def _category_aucs(detections: list[dict[str, Any]], kinds: Sequence[str]) -> dict[int, float]:
    """Per category (that has both), the AUC of its true positives over its false positives
    of ``kinds``."""
    aucs = {}
    for category in sorted({d["category_id"] for d in detections}):
        scores = [d for d in detections if d["category_id"] == category]
        positive = np.array([d["score"] for d in scores if d["kind"] == "true positive"])
        negative = np.array([d["score"] for d in scores if d["kind"] in kinds])
        if positive.size and negative.size:
            aucs[category] = _auc(positive, negative)
    return aucs


def _mean(values: Iterable[float]) -> float:
    """The mean of ``values`` (NaN for none)."""
    listed = list(values)
    return float(np.mean(listed)) if listed else float("nan")


def _rank_correlation(first: Sequence[float], second: Sequence[float]) -> float:
    """Spearman's correlation of two lists (NaN under two items)."""
    if len(first) < 2:
        return float("nan")
    ranks = [np.argsort(np.argsort(np.asarray(v), kind="stable")) for v in (first, second)]
    return float(np.corrcoef(ranks[0], ranks[1])[0, 1])


def _auc(positive: np.ndarray, negative: np.ndarray) -> float:
    """The probability that a positive outscores a negative (ties count a half)."""
    order = np.sort(negative)
    below = np.searchsorted(order, positive, side="left")
    ties = np.searchsorted(order, positive, side="right") - below
    return float((below + 0.5 * ties).sum() / (positive.size * negative.size))


def _rank_shifts(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> dict[str, Any]:
    """The detections found on both sides (same image, category and box), and how far each
    moved in its category's ranking, as a share of the category's list."""

    def ranks(detections: list[dict[str, Any]]) -> dict[tuple[Any, ...], float]:
        out: dict[tuple[Any, ...], float] = {}
        for category in {d["category_id"] for d in detections}:
            scored = sorted(
                (d for d in detections if d["category_id"] == category),
                key=lambda d: -d["score"],
            )
            for position, d in enumerate(scored):
                out[(d["image_id"], category, d["bbox"])] = position / max(1, len(scored))
        return out

    first, second = ranks(before), ranks(after)
    common = sorted(set(first) & set(second), key=str)
    shifts = np.array([abs(first[k] - second[k]) for k in common])
    return {
        "before": len(first),
        "after": len(second),
        "common": len(common),
        "median_shift": float(np.median(shifts)) if shifts.size else float("nan"),
        "q90_shift": float(np.quantile(shifts, 0.9)) if shifts.size else float("nan"),
    }


def _duplicates(results: list[Mapping[str, Any]], iou: float = 0.5, score: float = 0.05) -> int:
    groups: dict[tuple[Any, Any], list[Sequence[float]]] = {}
    for r in results:
        if r["score"] >= score:
            groups.setdefault((r["image_id"], r["category_id"]), []).append(r["bbox"])
    pairs = 0
    for boxes in groups.values():
        if len(boxes) > 1:
            overlaps = box_iou(_xyxy(boxes), _xyxy(boxes))
            pairs += int((torch.triu(overlaps, diagonal=1) > iou).sum())
    return pairs
