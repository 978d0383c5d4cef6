"""The hard tier of the synthetic benchmark: look-alike groups of three and four classes whose
context is sometimes near, sometimes far, sometimes both, and imperfect by construction, with a
ceiling known from the generator.

Each ``384 x 384`` image holds four cells, in random order, drawn with the easy tier's
primitives (:mod:`iterative_reasoning.data.synthetic`):

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
``(seed, index)``; the layout and the cues are drawn before any pixel (:func:`plan`), so the
ceiling costs no rendering.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from iterative_reasoning.data.synthetic import (
    _CELL,
    _FRAME,
    _PAD,
    IMAGE_SIZE,
    MIN_CUE_DISTANCE,
    Appearance,
    Instance,
    _background,
    _paint,
    _shape_mask,
    _uniform,
)

#: Probability that a cue is absent, that it is misleading, and that a drawn cue object is half
#: hidden.
ABSENT, MISLEADING, OCCLUDED = 0.15, 0.10, 0.25
#: The least distance, in pixels, between an ambiguous box and a far cue: beyond the local
#: module's reach (a crop's 31 pixels plus the context convolutions' 48).
FAR_CUE_DISTANCE = 80
#: Near cues lie this far from their ambiguous box, in pixels: beyond a crop, within the local
#: module's reach (its memory crop's 16 pixels plus the context convolutions' 48).
NEAR_CUE_RANGE = (MIN_CUE_DISTANCE, 60)
#: A near cue's angle from the vertical through its ambiguous object, degrees, by value.
NEAR_ANGLES: dict[str, tuple[float, float]] = {
    "lantern_above": (2.0, 6.0),
    "lantern_diagonal": (40.0, 50.0),
    "lantern_level": (80.0, 86.0),
    "table_below": (2.0, 6.0),
    "table_diagonal": (40.0, 50.0),
}


@dataclass(frozen=True)
class Cue:
    """One cue of a group: where it is (``"near"``: unannotated marks beside the object,
    ``"far"``: cue objects in the cue cell), and the value it takes for each member."""

    reach: str
    values: tuple[str, ...]  # the cue's possible values (marks or cue classes)
    of_member: tuple[int, ...]  # member -> index into values


@dataclass(frozen=True)
class Group:
    """Classes of one look, their priors, and the cues that tell them apart."""

    name: str
    look: str
    members: tuple[str, ...]
    prior: tuple[float, ...]
    cues: tuple[Cue, ...]

    @property
    def context(self) -> str:
        """``"near"``, ``"far"`` or ``"both"``."""
        reaches = {c.reach for c in self.cues}
        return reaches.pop() if len(reaches) == 1 else "both"


GROUPS: tuple[Group, ...] = (
    Group(
        "panel",
        "panel",
        ("door", "car_door", "hatch"),
        (0.5, 0.3, 0.2),
        (Cue("near", ("lantern_above", "lantern_diagonal", "lantern_level"), (0, 1, 2)),),
    ),
    Group(
        "oval",
        "small_oval",
        ("computer_mouse", "mouse", "egg"),
        (0.5, 0.3, 0.2),
        (Cue("far", ("keyboard", "cheese", "nest"), (0, 1, 2)),),
    ),
    Group(
        "band",
        "band",
        ("ceiling", "floor", "sky", "grass"),
        (0.4, 0.3, 0.2, 0.1),
        (
            Cue("near", ("table_below", "table_diagonal"), (0, 1, 0, 1)),
            Cue("far", ("lamp", "tree"), (0, 0, 1, 1)),
        ),
    ),
)
#: Unrelated objects, most frequent first (frequency ``1/k``).
CLUTTER: tuple[str, ...] = ("ball", "book", "cup", "clock", "bottle", "vase")
#: The classes: name -> WordNet synset.
CLASSES: dict[str, str] = {
    "door": "door.n.01",
    "car_door": "car_door.n.01",
    "hatch": "hatch.n.03",
    "computer_mouse": "mouse.n.04",
    "mouse": "mouse.n.01",
    "egg": "egg.n.02",
    "lantern": "lantern.n.01",
    "table": "table.n.02",
    "keyboard": "keyboard.n.01",
    "cheese": "cheese.n.01",
    "nest": "nest.n.01",
    "ceiling": "ceiling.n.01",
    "floor": "floor.n.01",
    "sky": "sky.n.01",
    "grass": "grass.n.01",
    "lamp": "lamp.n.02",
    "tree": "tree.n.01",
    "ball": "ball.n.01",
    "book": "book.n.02",
    "cup": "cup.n.01",
    "clock": "clock.n.01",
    "bottle": "bottle.n.01",
    "vase": "vase.n.01",
}
APPEARANCES: dict[str, Appearance] = {
    "panel": Appearance("rect", (0.3, 0.55, 0.35), 4.0, 2.4),
    "small_oval": Appearance("ellipse", (0.6, 0.6, 0.62), 3.0, 0.8),
    "band": Appearance("rect", (0.75, 0.75, 0.7), 5.0, 1.2),
    "lantern": Appearance("ellipse", (0.95, 0.6, 0.2), 3.0, 0.0),
    "table": Appearance("rect", (0.5, 0.3, 0.1), 7.0, 0.0),
    "occluder": Appearance("rect", (0.45, 0.45, 0.45), 11.0, 0.9),
    "keyboard": Appearance("rect", (0.25, 0.25, 0.3), 4.0, 1.57),
    "cheese": Appearance("triangle", (0.95, 0.85, 0.2), 5.0, 2.0),
    "nest": Appearance("ellipse", (0.45, 0.3, 0.15), 2.5, 2.2),
    "lamp": Appearance("triangle", (0.95, 0.95, 0.6), 6.0, 0.0),
    "tree": Appearance("ellipse", (0.15, 0.5, 0.15), 5.0, 1.0),
    "ball": Appearance("ellipse", (0.85, 0.15, 0.15), 6.0, 0.5),
    "book": Appearance("rect", (0.15, 0.2, 0.7), 3.0, 0.0),
    "cup": Appearance("triangle", (0.9, 0.9, 0.95), 4.0, 1.2),
    "clock": Appearance("ellipse", (0.95, 0.95, 0.85), 9.0, 0.0),
    "bottle": Appearance("rect", (0.1, 0.45, 0.2), 5.0, 0.4),
    "vase": Appearance("triangle", (0.55, 0.2, 0.55), 4.0, 2.8),
}
_INNER = _CELL - 2 * _PAD  # 136: the drawable side of a cell

_Box = tuple[int, int, int, int]  # (y1, x1, y2, x2), inclusive, image pixels


@dataclass(frozen=True)
class Drawn:
    """One thing drawn: a region of class ``name`` (``None``: unannotated context), its shapes
    ``(look, box)``, and whether it hides what lies under it (an occluder)."""

    name: str | None
    shapes: tuple[tuple[str, _Box], ...]

    @property
    def box(self) -> _Box:
        """The box around its shapes."""
        boxes = np.asarray([b for _, b in self.shapes])
        return (
            int(boxes[:, 0].min()),
            int(boxes[:, 1].min()),
            int(boxes[:, 2].max()),
            int(boxes[:, 3].max()),
        )


@dataclass(frozen=True)
class Ambiguous:
    """An object of a look-alike group: its place among the regions, its class, the cue values
    the image shows (``None``: absent) and the most probable member given them."""

    region: int
    group: str
    label: str
    observed: tuple[str | None, ...]
    guess: str

    @property
    def decided(self) -> bool:
        """The context drawn makes its label the most probable one."""
        return self.guess == self.label


@dataclass(frozen=True)
class Plan:
    """An image before its pixels: what is drawn, in drawing order, and the look-alike
    regions. Region ``k`` is the ``k``-th drawn thing with a name."""

    drawn: tuple[Drawn, ...]
    ambiguous: tuple[Ambiguous, ...]

    @property
    def regions(self) -> list[Drawn]:
        return [d for d in self.drawn if d.name is not None]


def class_names() -> list[str]:
    """``__background__`` and the tier's classes, in label order."""
    from iterative_reasoning.data.ade20k import BACKGROUND

    return [BACKGROUND, *CLASSES]


def posterior(group: Group, observed: tuple[str | None, ...]) -> np.ndarray:
    """The probability of each member of ``group`` given the cue values ``observed`` (one per
    cue, ``None`` when absent): prior times each cue's likelihood, normalised."""
    if len(observed) != len(group.cues):
        raise ValueError(f"observed needs {len(group.cues)} values, got {len(observed)}")
    weight = np.asarray(group.prior, float)
    for cue, value in zip(group.cues, observed, strict=True):
        for m, index in enumerate(cue.of_member):
            if value is None:
                weight[m] *= ABSENT
            elif value == cue.values[index]:
                weight[m] *= 1 - ABSENT - MISLEADING
            else:
                weight[m] *= MISLEADING / (len(cue.values) - 1)
    return weight / weight.sum()


def best_guess(group: Group, observed: tuple[str | None, ...]) -> str:
    """The most probable member given ``observed`` (the more frequent one on a tie)."""
    return group.members[int(np.argmax(posterior(group, observed)))]


def plan(seed: int, index: int) -> Plan:
    """The ``index``-th image of the tier's split ``seed``, before rendering."""
    rng = np.random.default_rng([seed, index, 0])
    groups = {g.name: g for g in GROUPS}
    members = {g.name: _choice(rng, g.prior) for g in GROUPS}
    observed = {
        g.name: tuple(_cue_value(rng, c, c.of_member[members[g.name]]) for c in g.cues)
        for g in GROUPS
    }
    cells = [str(k) for k in rng.permutation(["panel", "oval", "band", "cues"])]
    origin = {kind: _cell_origin(cell) for cell, kind in enumerate(cells)}
    drawn: list[Drawn] = []
    footprints: list[_Box] = []
    own: dict[str, int] = {}  # group -> position in drawn of its ambiguous object
    # the panel and its lantern
    panel, lantern = groups["panel"], observed["panel"][0]
    own["panel"] = len(drawn)
    drawn += _panel_scene(
        rng, origin["panel"], panel.members[members["panel"]], lantern, footprints
    )
    # the oval at its cell's centre
    y0, x0 = origin["oval"]
    h, w = _uniform(rng, 15, 18), _uniform(rng, 18, 23)
    y, x = (
        y0 + (_INNER - h) // 2 + _uniform(rng, -8, 8),
        x0 + (_INNER - w) // 2 + _uniform(rng, -8, 8),
    )
    oval_box = (y, x, y + h - 1, x + w - 1)
    own["oval"] = len(drawn)
    drawn.append(Drawn(groups["oval"].members[members["oval"]], (("small_oval", oval_box),)))
    footprints.append(oval_box)
    # the band and its table
    band = groups["band"]
    own["band"] = len(drawn)
    drawn += _band_scene(
        rng, origin["band"], band.members[members["band"]], observed["band"][0], footprints
    )
    # the cue cell: the oval's cue object on one side, the band's on the other
    drawn += _cue_scene(rng, origin["cues"], observed["oval"][0], observed["band"][1], footprints)
    drawn += _clutter(rng, footprints)
    named = {id(d): k for k, d in enumerate(d for d in drawn if d.name is not None)}
    ambiguous = tuple(
        Ambiguous(
            named[id(drawn[own[g.name]])],
            g.name,
            g.members[members[g.name]],
            observed[g.name],
            best_guess(g, observed[g.name]),
        )
        for g in GROUPS
    )
    return Plan(tuple(drawn), ambiguous)


def render(seed: int, index: int) -> tuple[np.ndarray, list[Instance]]:
    """The ``index``-th image of split ``seed``: RGB ``uint8 [384, 384, 3]`` and its regions'
    visible pixels (all at ADE level 0), in :attr:`Plan.regions` order."""
    scene = plan(seed, index)
    rng = np.random.default_rng([seed, index, 1])
    image = _background(rng)
    masks: list[tuple[str, np.ndarray]] = []
    for thing in scene.drawn:
        mask = np.zeros((IMAGE_SIZE, IMAGE_SIZE), bool)
        for look, (y1, x1, y2, x2) in thing.shapes:
            part = _shape_mask(APPEARANCES[look].shape, y1, x1, y2, x2)
            _paint(image, part, APPEARANCES[look], rng)
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


# -- planning ------------------------------------------------------------------------------


def _choice(rng: np.random.Generator, weights: tuple[float, ...] | np.ndarray) -> int:
    p = np.asarray(weights, float)
    return int(rng.choice(len(p), p=p / p.sum()))


def _cue_value(rng: np.random.Generator, cue: Cue, true: int) -> str | None:
    u = rng.random()
    if u < ABSENT:
        return None
    if u < ABSENT + MISLEADING:
        others = [v for k, v in enumerate(cue.values) if k != true]
        return others[int(rng.integers(len(others)))]
    return cue.values[true]


def _cell_origin(cell: int) -> tuple[int, int]:
    """The top-left drawable pixel of a cell (0..3, row-major)."""
    return _FRAME + (cell // 2) * _CELL + _PAD, _FRAME + (cell % 2) * _CELL + _PAD


def _rect(y: int, x: int, height: int, width: int) -> _Box:
    return (y, x, y + height - 1, x + width - 1)


def _near_cue(
    rng: np.random.Generator,
    value: str,
    centre: tuple[float, float],
    radius: tuple[int, int],
    height: int,
    width: int,
    below: bool,
) -> Drawn:
    """The near cue ``value`` (``"<class>_<where>"``) of a given size, at a centre distance drawn
    from ``radius`` and an angle from :data:`NEAR_ANGLES`, above (or ``below``) ``centre`` and to
    a random side."""
    r = rng.uniform(*radius)
    angle = np.deg2rad(rng.uniform(*NEAR_ANGLES[value]))
    side = 1.0 if rng.random() < 0.5 else -1.0
    cy = centre[0] + (1.0 if below else -1.0) * r * np.cos(angle)
    cx = centre[1] + side * r * np.sin(angle)
    y, x = round(cy - (height - 1) / 2), round(cx - (width - 1) / 2)
    name = value.split("_")[0]
    return Drawn(name, ((name, _rect(y, x, height, width)),))


def _centre(box: _Box) -> tuple[float, float]:
    return (box[0] + box[2]) / 2, (box[1] + box[3]) / 2


def _panel_scene(
    rng: np.random.Generator,
    origin: tuple[int, int],
    member: str,
    lantern: str | None,
    footprints: list[_Box],
) -> list[Drawn]:
    """The panel near its cell's centre (12 pixels low) and the lantern 60-64 pixels from it,
    centre to centre, above it."""
    h, w = _uniform(rng, 22, 26), _uniform(rng, 14, 16)
    y = origin[0] + (_INNER - h) // 2 + 12 + _uniform(rng, -4, 4)
    x = origin[1] + (_INNER - w) // 2 + _uniform(rng, -4, 4)
    panel = _rect(y, x, h, w)
    size = _uniform(rng, 11, 13)
    out = [Drawn(member, (("panel", panel),))]
    if lantern is not None:
        out.append(_near_cue(rng, lantern, _centre(panel), (60, 64), size, size, below=False))
    cy, cx = _centre(panel)
    footprints.append((int(cy) - 72, int(cx) - 72, y + h - 1, int(cx) + 72))
    return out


def _band_scene(
    rng: np.random.Generator,
    origin: tuple[int, int],
    member: str,
    table: str | None,
    footprints: list[_Box],
) -> list[Drawn]:
    """The band near its cell's centre (12 pixels high) and the table 62-66 pixels from it,
    centre to centre, below it."""
    h, w = _uniform(rng, 8, 10), _uniform(rng, 24, 30)
    y = origin[0] + (_INNER - h) // 2 - 12 + _uniform(rng, -8, 8)
    x = origin[1] + (_INNER - w) // 2 + _uniform(rng, -8, 8)
    band = _rect(y, x, h, w)
    out = [Drawn(member, (("band", band),))]
    th, tw = _uniform(rng, 12, 14), _uniform(rng, 14, 16)
    if table is not None:
        out.append(_near_cue(rng, table, _centre(band), (62, 66), th, tw, below=True))
    cy, cx = _centre(band)
    footprints.append((y, int(cx) - 62, int(cy) + 76, int(cx) + 62))
    return out


#: Sizes of the cue objects, (height range, width range).
_CUE_SIZES = {
    "keyboard": ((12, 14), (36, 44)),
    "cheese": ((20, 26), (20, 26)),
    "nest": ((16, 20), (28, 34)),
    "lamp": ((26, 32), (20, 26)),
    "tree": ((34, 40), (26, 32)),
}


def _cue_scene(
    rng: np.random.Generator,
    origin: tuple[int, int],
    oval_cue: str | None,
    band_cue: str | None,
    footprints: list[_Box],
) -> list[Drawn]:
    """The cue objects side by side, in random order, each in a 44 x 60 slot; a drawn one is
    half hidden by an occluder with probability :data:`OCCLUDED`."""
    out: list[Drawn] = []
    slot_h, slot_w, gap = 44, 60, 8
    y = origin[0] + _uniform(rng, 0, _INNER - slot_h)
    x = origin[1] + _uniform(rng, 0, _INNER - 2 * slot_w - gap)
    order = [oval_cue, band_cue] if rng.random() < 0.5 else [band_cue, oval_cue]
    for slot, name in enumerate(order):
        sy, sx = y, x + slot * (slot_w + gap)
        footprints.append(_rect(sy, sx, slot_h, slot_w))
        hidden = bool(rng.random() < OCCLUDED)
        if name is None:
            continue
        (h0, h1), (w0, w1) = _CUE_SIZES[name]
        h, w = _uniform(rng, h0, h1), _uniform(rng, w0, w1)
        cy, cx = sy + _uniform(rng, 0, slot_h - h), sx + _uniform(rng, 0, slot_w - w)
        out.append(Drawn(name, ((name, _rect(cy, cx, h, w)),)))
        if hidden:  # an occluder over one half: the top of a triangle (whose base stays), the
            # top or bottom of a narrow object, any side of a wide one (36 pixels or more)
            sides = 1 if APPEARANCES[name].shape == "triangle" else 4 if w >= 36 else 2
            side = int(rng.integers(sides)) ^ 2  # 2 (top), 3 (bottom), 0 (left), 1 (right)
            y1, x1, y2, x2 = cy - 2, cx - 2, cy + h + 1, cx + w + 1
            if side == 0:
                x2 = cx + w // 2
            elif side == 1:
                x1 = cx + w - w // 2
            elif side == 2:
                y2 = cy + h // 2
            else:
                y1 = cy + h - h // 2
            out.append(Drawn(None, (("occluder", (y1, x1, y2, x2)),)))
    return out


def _clutter(rng: np.random.Generator, footprints: list[_Box]) -> list[Drawn]:
    """One to three clutter objects at random places at least 6 pixels from every footprint
    (which does not depend on any label) and from each other."""
    weights = 1.0 / np.arange(1, len(CLUTTER) + 1)
    out: list[Drawn] = []
    for _ in range(_uniform(rng, 1, 3)):
        name = CLUTTER[_choice(rng, weights)]
        h, w = _uniform(rng, 14, 22), _uniform(rng, 16, 22)
        for _attempt in range(40):
            cell = int(rng.integers(4))
            oy, ox = _cell_origin(cell)
            box = _rect(oy + _uniform(rng, 0, _INNER - h), ox + _uniform(rng, 0, _INNER - w), h, w)
            if all(_gap(box, other) >= 6 for other in footprints):
                footprints.append(box)
                out.append(Drawn(name, ((name, box),)))
                break
    return out


def _gap(a: _Box, b: _Box) -> float:
    """The distance between two boxes (0 when they touch or overlap)."""
    dy = max(0, max(a[0], b[0]) - min(a[2], b[2]))
    dx = max(0, max(a[1], b[1]) - min(a[3], b[3]))
    return float(np.hypot(dy, dx))
