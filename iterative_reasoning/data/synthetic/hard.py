"""The hard tier of the synthetic benchmark: look-alike groups of three and four classes whose
context is sometimes near, sometimes far, sometimes both, and imperfect by construction, with a
ceiling known from the generator.

Each ``384 x 384`` image holds four cells, in random order, drawn with the easy tier's
primitives (:mod:`iterative_reasoning.data.synthetic.easy`):

- a **panel** (``door`` / ``car_door`` / ``hatch``, priors 0.5 / 0.3 / 0.2) with a ``lantern``
  straight above it, diagonally above it, or above it and nearly level: **near** context, 38-56
  pixels away, beyond a ConvNet crop's reach and within the local module's;
- a **small oval** (``computer_mouse`` / ``mouse`` / ``egg``, 0.5 / 0.3 / 0.2) at its cell's
  centre, told apart by a cue object in the cue cell (``keyboard`` / ``cheese`` / ``nest``):
  **far** context, at least :data:`FAR_CUE_DISTANCE` pixels away, which only the global module
  reaches;
- a **band** (``ceiling`` / ``floor`` / ``sky`` / ``grass``, 0.4 / 0.3 / 0.2 / 0.1) that needs
  **both**: a ``table`` straight below it (ceiling, sky) or diagonally below it (floor, grass),
  and a ``lamp`` (ceiling, floor) or a ``tree`` (sky, grass) in the cue cell;
- the **cue cell** with the oval's and the band's cue objects.

The near cues are placed so that the global module cannot read them: its region-region edges
(:mod:`iterative_reasoning.graph.spatial`) carry the sign of each centre offset and a weight of
the centre distance, and a near cue of every member lies in the same quadrant (above and to a
random side of the panel; below and to a random side of the band) at a centre distance drawn
from the same range. Only the angle differs, which the local module's memory keeps.

Every cue is independently **absent** with probability :data:`ABSENT` and **misleading** (the cue
of another member, uniformly) with probability :data:`MISLEADING`; a far cue object is half
hidden by an unannotated occluder with probability :data:`OCCLUDED`. One to three **clutter**
objects of six unrelated classes, with long-tailed (``1/k``) frequencies, lie at random free
places. Cue objects follow their members' priors, so their classes are long-tailed too.

The generator knows what each image shows: for every region it computes the most probable label
given the cues drawn (the members' priors times the cues' likelihoods), and a region is *decided*
when that guess is its label. The share of decided regions is the **ceiling**: the best
per-instance accuracy a model could reach on the split (:func:`ceiling`). Objects of their own
look (cue objects, clutter) are always decided. Everything is deterministic from
``(seed, index)``; the layout and the cues are drawn before any pixel
(:func:`~iterative_reasoning.data.synthetic.hard_layout.plan`), so the ceiling costs no
rendering.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from iterative_reasoning.data.synthetic.easy import (
    IMAGE_SIZE,
    Appearance,
    Instance,
    background,
    paint,
    shape_mask,
)
from iterative_reasoning.data.synthetic.hard_groups import (
    ABSENT,
    APPEARANCES,
    CLASSES,
    CLUTTER,
    FAR_CUE_DISTANCE,
    GROUPS,
    MISLEADING,
    NEAR_ANGLES,
    NEAR_CUE_RANGE,
    OCCLUDED,
    Cue,
    Group,
    best_guess,
    class_names,
    posterior,
)
from iterative_reasoning.data.synthetic.hard_layout import Plan, plan

__all__ = [
    "ABSENT",
    "APPEARANCES",
    "CLASSES",
    "CLUTTER",
    "FAR_CUE_DISTANCE",
    "GROUPS",
    "MISLEADING",
    "NEAR_ANGLES",
    "NEAR_CUE_RANGE",
    "OCCLUDED",
    "Cue",
    "Group",
    "best_guess",
    "ceiling",
    "class_names",
    "draw",
    "posterior",
    "render",
]


def render(seed: int, index: int) -> tuple[np.ndarray, list[Instance]]:
    """The ``index``-th image of split ``seed``: RGB ``uint8 [384, 384, 3]`` and its regions'
    visible pixels (all at ADE level 0), in :attr:`~iterative_reasoning.data.synthetic.hard_layout.
    Plan.regions` order."""
    return draw(plan(seed, index), APPEARANCES, np.random.default_rng([seed, index, 1]))


def draw(
    scene: Plan, appearances: Mapping[str, Appearance], rng: np.random.Generator
) -> tuple[np.ndarray, list[Instance]]:
    """The pixels of a plan (each shape in its look of ``appearances``, in drawing order, on
    a noisy background) and its regions' visible pixels (all at ADE level 0), in
    :attr:`~iterative_reasoning.data.synthetic.hard_layout.Plan.regions` order."""
    image = background(rng)
    masks: list[tuple[str, np.ndarray]] = []
    for thing in scene.drawn:
        mask = np.zeros((IMAGE_SIZE, IMAGE_SIZE), bool)
        for look, (y1, x1, y2, x2) in thing.shapes:
            part = shape_mask(appearances[look].shape, y1, x1, y2, x2)
            paint(image, part, appearances[look], rng)
            mask |= part
        for _, earlier in masks:  # what it covers is hidden
            earlier &= ~mask
        if thing.name is not None:
            masks.append((thing.name, mask))
    return image, [Instance(name, 0, mask) for name, mask in masks]


def ceiling(seed: int, count: int) -> dict[str, Any]:
    """The ceiling of the split ``seed`` of ``count`` images: the share of regions whose label
    is the most probable given the image (``instance_ac``, percent), the same per group, and the
    regions counted."""
    regions = 0
    decided: dict[str, list[int]] = {g.name: [0, 0] for g in GROUPS}
    for index in range(count):
        scene = plan(seed, index)
        regions += len(scene.regions)
        for a in scene.ambiguous:
            decided[a.group][0] += a.decided
            decided[a.group][1] += 1
    undecided = sum(total - hit for hit, total in decided.values())
    return {
        "instance_ac": 100.0 * (regions - undecided) / max(regions, 1),
        "groups": {g: 100.0 * hit / max(total, 1) for g, (hit, total) in decided.items()},
        "regions": regions,
    }
