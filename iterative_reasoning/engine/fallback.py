"""The fallback gate of a detector's head (:class:`~iterative_reasoning.nn.FallbackGate`) chosen
on held-out images by COCO AP: each class moves from the detector's prediction towards the
head's only as far as its AP on those images says it gains."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any, NamedTuple

import torch
from torch.utils.data import Subset

from iterative_reasoning._validation import check_weight
from iterative_reasoning.data.coco import COCODetection
from iterative_reasoning.engine.evaluate import evaluate_detection
from iterative_reasoning.models.detection import DetectionModel

#: How a fallback gate is fitted on held-out images: by COCO AP (:func:`select_gate`), or by
#: the loss of the gated prediction (:class:`~iterative_reasoning.engine.DetectionModel`'s
#: ``trains="fallback"`` in the training loop).
GATE_FITS: tuple[str, ...] = ("ap", "loss")
#: The gate values tried for every class.
GATE_GRID: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0)


class GateSelection(NamedTuple):
    """What :func:`select_gate` measured and chose.

    Attributes:
        gate: the gate of each class, ``[C]`` (background first).
        grid: held-out AP (percent) with every class's gate at each value of the grid:
            ``{value: {"ap": mAP, "ap_of": {category: AP}}}``.
        chosen: held-out mAP of each candidate: the detector (every gate closed), the best
            shared value (``"shared 0.5"``) and, where some class gains, the per-class choice
            with the background's gate closed (``"classes"``) and opened (``"classes and
            background"``); ``"chosen"`` names the one kept.
    """

    gate: torch.Tensor
    grid: dict[str, dict[str, Any]]
    chosen: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        return {"gate": self.gate.tolist(), "grid": self.grid, "chosen": self.chosen}


def select_gate(
    model: DetectionModel,
    held_out: Any,
    classes: Sequence[str],
    grid: Sequence[float] = GATE_GRID,
    margin: float = 1.0,
    progress: bool = False,
) -> GateSelection:
    """Choose the gate of ``model``'s head by COCO AP on ``held_out`` (a
    :class:`~iterative_reasoning.data.COCODetection` of images the head did not train on).

    1. The held-out images are scored with every gate at each value of ``grid`` (one value
       shared by every class; ``0``: the detector's own detections).
    2. Per class: each object class takes the value where its held-out AP is highest, if
       that beats its AP at ``0`` by at least ``margin`` points, else ``0`` (a class falls
       back to the detector unless the held-out images show a gain); the held-out images
       are scored with these gates, the background's closed, and again with the
       background's at the largest of them.
    3. Of the detector, the best shared value and the two per-class choices, the highest
       held-out mAP wins (:func:`choose_gate`; on a tie the detector, then the shared value),
       if it beats the detector's by at least ``margin`` points, else the detector: the
       chosen gate never scores below the detector on the held-out images. The
       classes' gates are not independent (the head's logits meet in a softmax), which is
       why a choice per class is measured as a whole before it is taken.

    The head's gate is set to the choice, which is returned with what was measured.

    Args:
        model: the detector with a head of ``fusion="residual"``.
        held_out: the held-out images: a ``COCODetection``, or a ``Subset`` of one (the
            held-out part of :func:`~iterative_reasoning.engine.validation.validation_split`).
        classes: the class names, background first (the head's classes).
        grid: the gate values tried, ``0`` among them.
        margin: AP points (percent) that a class, and the whole choice in mAP, must gain on
            the held-out images to move from the detector.
        progress: progress bars.
    """
    head = model.head
    if head is None or head.fallback is None:
        raise ValueError("select_gate needs a detector whose head has fusion='residual'")
    if 0.0 not in grid:
        raise ValueError(f"grid must hold 0 (the detector's own prediction), got {list(grid)}")
    check_weight("margin", margin)
    if len(classes) != head.num_classes:
        raise ValueError(f"classes has {len(classes)} names but the head {head.num_classes}")
    gate = head.fallback.gate
    held_out = _scored_images(held_out)

    def score(values: torch.Tensor) -> dict[str, Any]:
        with torch.no_grad():
            gate.copy_(values.to(gate))
        bbox = evaluate_detection(model, held_out, progress=progress)["bbox"].as_percent()
        return {"ap": bbox["ap"], "ap_of": bbox["ap_of"]}

    scored = {str(value): score(torch.full_like(gate, value)) for value in grid}
    chosen = per_class_gates(scored, classes, margin)
    measured: dict[str, float] = {}
    if bool((chosen > 0).any()):
        measured["classes"] = score(chosen)["ap"]
        measured["classes and background"] = score(_with_background(chosen))["ap"]
    return choose_gate(head.fallback.gate, scored, classes, margin, measured)


def per_class_gates(
    scored: dict[str, dict[str, Any]], classes: Sequence[str], margin: float
) -> torch.Tensor:
    """Each object class's best value of the grid by its held-out AP (the smaller on a tie),
    where it beats the detector's by ``margin`` points; ``0`` elsewhere and for the
    background."""
    values = sorted(float(v) for v in scored)
    closed = scored[str(0.0)]["ap_of"]
    chosen = torch.zeros(len(classes))
    for c, name in enumerate(classes):
        if c == 0 or name not in closed:
            continue
        best = max(values, key=lambda v: (scored[str(v)]["ap_of"].get(name, -1.0), -v))
        if scored[str(best)]["ap_of"][name] - closed[name] >= margin:
            chosen[c] = best
    return chosen


def choose_gate(
    gate: torch.Tensor,
    scored: dict[str, dict[str, Any]],
    classes: Sequence[str],
    margin: float,
    measured: dict[str, float],
) -> GateSelection:
    """Set ``gate`` to the choice of highest held-out mAP among the detector, the best shared
    value of the grid (``scored``) and the per-class choices whose mAP ``measured`` holds
    (``"classes"``, ``"classes and background"``), or to the detector's where that choice
    gains less than ``margin`` points over it; returns the selection."""
    values = sorted(float(v) for v in scored)
    shared = max(values, key=lambda v: (scored[str(v)]["ap"], -v))
    per_class = per_class_gates(scored, classes, margin)
    options = {
        "detector": (scored[str(0.0)]["ap"], torch.zeros(len(classes))),
        f"shared {shared}": (scored[str(shared)]["ap"], torch.full((len(classes),), shared)),
    }
    if "classes" in measured:
        options["classes"] = (measured["classes"], per_class)
        both = measured["classes and background"]
        options["classes and background"] = (both, _with_background(per_class))
    best = max(options, key=lambda k: options[k][0])  # the first of the highest, in order
    if options[best][0] - options["detector"][0] < margin:
        best = "detector"  # no gain on the held-out images beyond their noise
    with torch.no_grad():
        gate.copy_(options[best][1].to(gate))
    report = {name: ap for name, (ap, _) in options.items()}
    return GateSelection(gate.detach().clone(), scored, {**report, "chosen": best})


def _scored_images(held_out: Any) -> Any:
    """``held_out`` as COCOeval scores it: a :class:`~iterative_reasoning.data.COCODetection`
    as it is, and a ``Subset`` of one (:func:`~iterative_reasoning.engine.validation.
    validation_split`'s) as a copy of that dataset holding those images, unflipped."""
    if isinstance(held_out, Subset) and isinstance(held_out.dataset, COCODetection):
        images = copy.copy(held_out.dataset)
        images.records = [held_out.dataset.records[i] for i in held_out.indices]
        images.hflip_prob = 0.0
        return images
    return held_out


def _with_background(chosen: torch.Tensor) -> torch.Tensor:
    """The per-class gates with the background's at their largest."""
    both = chosen.clone()
    both[0] = chosen.max()
    return both
