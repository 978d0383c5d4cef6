"""Where everything of a hard-tier image goes, before any pixel: the cells, the look-alike
objects and their cues (near, far, absent, misleading, hidden), the clutter
(:func:`plan`); :func:`~iterative_reasoning.data.synthetic.hard.render` draws a plan."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from iterative_reasoning.data.synthetic.easy import CELL, FRAME, PAD, uniform
from iterative_reasoning.data.synthetic.hard_groups import (
    ABSENT,
    APPEARANCES,
    CLUTTER,
    GROUPS,
    INNER,
    MISLEADING,
    NEAR_ANGLES,
    OCCLUDED,
    Cue,
    best_guess,
)

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
    h, w = uniform(rng, 15, 18), uniform(rng, 18, 23)
    y, x = (
        y0 + (INNER - h) // 2 + uniform(rng, -8, 8),
        x0 + (INNER - w) // 2 + uniform(rng, -8, 8),
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
    return FRAME + (cell // 2) * CELL + PAD, FRAME + (cell % 2) * CELL + PAD


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
    h, w = uniform(rng, 22, 26), uniform(rng, 14, 16)
    y = origin[0] + (INNER - h) // 2 + 12 + uniform(rng, -4, 4)
    x = origin[1] + (INNER - w) // 2 + uniform(rng, -4, 4)
    panel = _rect(y, x, h, w)
    size = uniform(rng, 11, 13)
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
    h, w = uniform(rng, 8, 10), uniform(rng, 24, 30)
    y = origin[0] + (INNER - h) // 2 - 12 + uniform(rng, -8, 8)
    x = origin[1] + (INNER - w) // 2 + uniform(rng, -8, 8)
    band = _rect(y, x, h, w)
    out = [Drawn(member, (("band", band),))]
    th, tw = uniform(rng, 12, 14), uniform(rng, 14, 16)
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
    y = origin[0] + uniform(rng, 0, INNER - slot_h)
    x = origin[1] + uniform(rng, 0, INNER - 2 * slot_w - gap)
    order = [oval_cue, band_cue] if rng.random() < 0.5 else [band_cue, oval_cue]
    for slot, name in enumerate(order):
        sy, sx = y, x + slot * (slot_w + gap)
        footprints.append(_rect(sy, sx, slot_h, slot_w))
        hidden = bool(rng.random() < OCCLUDED)
        if name is None:
            continue
        (h0, h1), (w0, w1) = _CUE_SIZES[name]
        h, w = uniform(rng, h0, h1), uniform(rng, w0, w1)
        cy, cx = sy + uniform(rng, 0, slot_h - h), sx + uniform(rng, 0, slot_w - w)
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
    for _ in range(uniform(rng, 1, 3)):
        name = CLUTTER[_choice(rng, weights)]
        h, w = uniform(rng, 14, 22), uniform(rng, 16, 22)
        for _attempt in range(40):
            cell = int(rng.integers(4))
            oy, ox = _cell_origin(cell)
            box = _rect(oy + uniform(rng, 0, INNER - h), ox + uniform(rng, 0, INNER - w), h, w)
            if all(box_gap(box, other) >= 6 for other in footprints):
                footprints.append(box)
                out.append(Drawn(name, ((name, box),)))
                break
    return out


def box_gap(a: _Box, b: _Box) -> float:
    """The distance between two boxes (0 when they touch or overlap)."""
    dy = max(0, max(a[0], b[0]) - min(a[2], b[2]))
    dx = max(0, max(a[1], b[1]) - min(a[3], b[3]))
    return float(np.hypot(dy, dx))
