"""The fallback gate of a detector's head (:class:`~iterative_reasoning.nn.FallbackGate`) chosen
on held-out images by COCO AP: each class moves from the detector's prediction towards the
head's only as far as its AP on those images says it gains."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import torch

from iterative_reasoning.engine.detection import DetectionModel, evaluate_detection

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
        chosen: held-out mAP of the detector (every gate closed) and, where some class
            gains, of the per-class choice with the background's gate closed and opened;
            ``"chosen"`` names the one kept.
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

    1. The held-out images are scored with every class's gate at each value of ``grid``
       (``0``: the detector's own detections).
    2. Each object class takes the value where its held-out AP is highest, if that beats its
       AP at ``0`` by at least ``margin`` points, else ``0``: a class falls back to the
       detector unless the held-out images show a gain.
    3. The background's gate is the largest of the classes' (it moves with them), or ``0``;
       of these two and the detector, the held-out mAP chooses (the detector on a tie), so
       the chosen gate never scores below the detector on the held-out images.

    The head's gate is set to the choice, which is returned with what was measured.

    Args:
        model: the detector with a head of ``fusion="residual"``.
        held_out: the held-out images.
        classes: the class names, background first (the head's classes).
        grid: the gate values tried, ``0`` among them.
        margin: AP points (percent) a class must gain on the held-out images to move.
        progress: progress bars.
    """
    head = model.head
    if head is None or head.fallback is None:
        raise ValueError("select_gate needs a detector whose head has fusion='residual'")
    if 0.0 not in grid:
        raise ValueError(f"grid must hold 0 (the detector's own prediction), got {list(grid)}")
    if not math.isfinite(margin) or margin < 0:
        raise ValueError(f"margin must be finite and non-negative (AP points), got {margin}")
    if len(classes) != head.num_classes:
        raise ValueError(f"classes has {len(classes)} names but the head {head.num_classes}")
    gate = head.fallback.gate

    def score(values: torch.Tensor) -> dict[str, Any]:
        with torch.no_grad():
            gate.copy_(values.to(gate))
        bbox = evaluate_detection(model, held_out, progress=progress)["bbox"].as_percent()
        return {"ap": bbox["ap"], "ap_of": bbox["ap_of"]}

    scored = {str(value): score(torch.full_like(gate, value)) for value in grid}
    closed = scored[str(0.0)]
    chosen = torch.zeros_like(gate)
    for c, name in enumerate(classes):
        if c == 0 or name not in closed["ap_of"]:
            continue
        best = max(grid, key=lambda v: (scored[str(v)]["ap_of"].get(name, -1.0), -v))
        if scored[str(best)]["ap_of"][name] - closed["ap_of"][name] >= margin:
            chosen[c] = best
    measured = {"detector": closed["ap"]}
    options = {"detector": torch.zeros_like(gate)}
    if bool((chosen > 0).any()):
        options["classes"] = chosen.clone()
        measured["classes"] = score(chosen)["ap"]
        with_background = chosen.clone()
        with_background[0] = chosen.max()
        options["classes and background"] = with_background
        measured["classes and background"] = score(with_background)["ap"]
    best_name = max(measured, key=lambda k: (measured[k], k == "detector"))
    with torch.no_grad():
        gate.copy_(options[best_name])
    return GateSelection(gate.detach().clone(), scored, {**measured, "chosen": best_name})
