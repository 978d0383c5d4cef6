"""Where everything of a long-tail image goes, before any pixel (:func:`plan`): which two
look-alike groups it holds and which of their members, their cues (present, absent or
misleading), the context objects alone and the plain objects;
:func:`~iterative_reasoning.data.synthetic.long_tail.render` draws a plan.

The image is a ``3 x 3`` grid of ``128``-pixel cells in random order. Each of the two groups
takes a cell of its own, which nothing else enters: a ``part_of`` member inside its whole, a
``layout`` member with its reference object 40-48 pixels below or above it (centre to centre)
or 12-20 pixels to its left (box to box), a ``co_occurrence`` member at
the cell's centre, its cue object in another cell. Plain objects and context objects alone fill
the other cells, at least 6 pixels apart.

Which groups an image holds, and which members, follow low-discrepancy sequences of the split's
seed: the 15 pairs of the 6 groups in an order drawn from the seed, one pair per image in turn,
and each group's ``k``-th appearance takes the member of ``frac(offset + k * golden ratio)``
under the prior. So every group appears in a third of the images and each member as often as
its prior says, within two boxes (a rare class: ``2.5 %`` of its group's appearances).
Everything else is drawn from ``(seed, index)``.
"""

from __future__ import annotations

from functools import lru_cache
from itertools import combinations

import numpy as np

from iterative_reasoning.data.synthetic.hard_layout import Ambiguous, Drawn, Plan, box_gap
from iterative_reasoning.data.synthetic.long_tail_classes import (
    ABSENT,
    CONTEXT,
    GROUPS,
    MISLEADING,
    PLAIN,
    PRIOR,
    ZIPF,
    Group,
    best_guess,
)

_Box = tuple[int, int, int, int]  # (y1, x1, y2, x2), inclusive, image pixels
CELL, PAD, GRID = 128, 8, 3
INNER = CELL - 2 * PAD  # 112: the drawable side of a cell
#: The pairs of groups (indices into :data:`GROUPS`); each group is in five of the fifteen.
PAIRS: tuple[tuple[int, int], ...] = tuple(combinations(range(len(GROUPS)), 2))
_GOLDEN = (5**0.5 - 1) / 2
#: Sizes (height range, width range) of the looks and the context objects: every look at least
#: 14 pixels across, as the easy tier's objects that the benchmark's small Faster R-CNN finds.
SIZES: dict[str, tuple[tuple[int, int], tuple[int, int]]] = {
    "panel": ((26, 30), (16, 20)),
    "blade": ((16, 20), (26, 32)),
    "band": ((12, 14), (36, 44)),
    "cushion": ((14, 18), (20, 26)),
    "small_oval": ((14, 18), (18, 22)),
    "rod": ((12, 14), (36, 44)),
    "whole": ((64, 92), (80, 104)),
    "table": ((16, 20), (24, 30)),
    "bed": ((18, 22), (30, 36)),
    "cue": ((22, 30), (24, 36)),
    "plain": ((16, 24), (16, 24)),
}
#: A layout member's reference below or above it, centre to centre, in pixels; to its left,
#: this many pixels between the two boxes.
LAYOUT_DISTANCE, LAYOUT_GAP = (40, 48), (12, 20)
#: Plain objects per image, and context objects drawn alone.
PLAIN_OBJECTS, CONTEXT_ALONE = (5, 9), (0, 2)


def members_of(seed: int, index: int, prior: tuple[float, ...] = PRIOR) -> dict[int, int]:
    """The groups of image ``index`` of split ``seed`` (indices into :data:`GROUPS`) and the
    member each shows (0 frequent, 1 medium, 2 rare) under ``prior``."""
    order, offsets = _sequences(seed)
    cycle, position = divmod(index, len(PAIRS))
    bounds = np.cumsum(prior) / np.sum(prior)
    out = {}
    for g in PAIRS[order[position]]:
        # the group's appearances so far: one per pair it is in (5) per cycle, then those
        # earlier in this cycle
        k = cycle * (len(GROUPS) - 1) + sum(g in PAIRS[order[q]] for q in range(position))
        u = (offsets[g] + k * _GOLDEN) % 1.0
        out[g] = min(int(np.searchsorted(bounds, u, side="right")), len(prior) - 1)
    return out


@lru_cache(maxsize=16)
def _sequences(seed: int) -> tuple[tuple[int, ...], tuple[float, ...]]:
    """The split's order of the pairs of groups and each group's offset in its sequence."""
    order = np.random.default_rng([seed, 1_000_003]).permutation(len(PAIRS))
    offsets = np.random.default_rng([seed, 1_000_033]).random(len(GROUPS))
    return tuple(int(k) for k in order), tuple(float(o) for o in offsets)


def plan(seed: int, index: int, prior: tuple[float, ...] = PRIOR) -> Plan:
    """The ``index``-th image of the long-tail split ``seed`` (members drawn under ``prior``),
    before rendering. Its ambiguous regions' guesses are under the training prior
    (:data:`~iterative_reasoning.data.synthetic.long_tail_classes.PRIOR`)."""
    rng = np.random.default_rng([seed, index, 0])
    chosen = members_of(seed, index, prior)
    cells = [int(c) for c in rng.permutation(GRID * GRID)]
    free = cells[len(chosen) :]
    drawn: list[Drawn] = []
    footprints: list[_Box] = []
    own: dict[int, tuple[int, str | None]] = {}  # group -> (its member's place in drawn, cue)
    for cell, (g, member) in zip(cells, chosen.items(), strict=False):
        group = GROUPS[g]
        observed = _cue_value(rng, group, member)
        origin = _cell_origin(cell)
        footprints.append(_rect(*origin, INNER, INNER))
        things, at = _group_scene(rng, group, member, observed, origin)
        position = len(drawn) + at
        drawn += things
        if group.rule == "co_occurrence" and observed is not None:
            cue = _place(rng, [observed], free, footprints, "cue")
            observed = observed if cue else None  # no room (never seen): the cue is absent
            drawn += cue
        own[g] = (position, observed)
    present = {c for g in chosen for c in GROUPS[g].cues}
    alone = [c for c in CONTEXT if c not in present]
    count = int(rng.integers(CONTEXT_ALONE[0], CONTEXT_ALONE[1] + 1))
    picks = [alone[int(k)] for k in rng.choice(len(alone), size=count, replace=False)]
    for name in picks:
        kind = "whole" if any(g.rule == "part_of" and name in g.cues for g in GROUPS) else "cue"
        drawn += _place(rng, [name], free, footprints, name if name in SIZES else kind)
    weights = 1.0 / np.arange(1, len(PLAIN) + 1) ** ZIPF
    names = list(PLAIN)
    count = int(rng.integers(PLAIN_OBJECTS[0], PLAIN_OBJECTS[1] + 1))
    plain = [names[int(k)] for k in rng.choice(len(names), size=count, p=weights / weights.sum())]
    drawn += _place(rng, plain, free, footprints, "plain")
    named = {id(d): k for k, d in enumerate(d for d in drawn if d.name is not None)}
    ambiguous = tuple(
        Ambiguous(
            named[id(drawn[at])],
            GROUPS[g].name,
            GROUPS[g].members[chosen[g]],
            (observed,),
            best_guess(GROUPS[g], observed),
        )
        for g, (at, observed) in own.items()
    )
    return Plan(tuple(drawn), ambiguous)


def _cue_value(rng: np.random.Generator, group: Group, member: int) -> str | None:
    """The cue the image shows: absent, another member's (misleading, uniformly) or the
    member's own."""
    values = group.values()
    u = rng.random()
    if u < ABSENT:
        return None
    if u < ABSENT + MISLEADING:
        others = [v for k, v in enumerate(values) if k != member]
        return others[int(rng.integers(len(others)))]
    return values[member]


def _group_scene(
    rng: np.random.Generator,
    group: Group,
    member: int,
    observed: str | None,
    origin: tuple[int, int],
) -> tuple[list[Drawn], int]:
    """What a group draws in its cell, in drawing order, and the member's place in it."""
    name = group.members[member]
    h, w = _size(rng, group.look)
    y0, x0 = origin
    if group.rule == "part_of":
        if observed is None:  # the part alone, anywhere in its cell
            box = _rect(y0 + _uniform(rng, 0, INNER - h), x0 + _uniform(rng, 0, INNER - w), h, w)
            return [Drawn(name, ((group.look, box),))], 0
        wh, ww = _size(rng, "whole")
        wy, wx = y0 + _uniform(rng, 0, INNER - wh), x0 + _uniform(rng, 0, INNER - ww)
        py = wy + _uniform(rng, 6, wh - h - 6)
        px = wx + _uniform(rng, 6, ww - w - 6)
        whole = Drawn(observed, ((observed, _rect(wy, wx, wh, ww)),))
        return [whole, Drawn(name, ((group.look, _rect(py, px, h, w)),))], 1
    cy, cx = y0 + INNER / 2 + _uniform(rng, -6, 6), x0 + INNER / 2 + _uniform(rng, -6, 6)
    if group.rule == "co_occurrence" or observed is None:
        box = _rect(round(cy - h / 2), round(cx - w / 2), h, w)
        return [Drawn(name, ((group.look, box),))], 0
    # layout: the reference at its place, the member opposite, the pair about the centre
    reference = group.cues[0]
    rh, rw = _size(rng, reference)
    distance = rng.uniform(*LAYOUT_DISTANCE)
    if observed == "left":
        distance = (w + rw) / 2 + rng.uniform(*LAYOUT_GAP)
    dy, dx = {"below": (1.0, 0.0), "above": (-1.0, 0.0), "left": (0.0, -1.0)}[observed]
    my, mx = cy - dy * distance / 2, cx - dx * distance / 2
    ry, rx = cy + dy * distance / 2, cx + dx * distance / 2
    box = _rect(round(my - h / 2), round(mx - w / 2), h, w)
    ref = _rect(round(ry - rh / 2), round(rx - rw / 2), rh, rw)
    return [Drawn(name, ((group.look, box),)), Drawn(reference, ((reference, ref),))], 0


def _place(
    rng: np.random.Generator,
    names: list[str],
    free: list[int],
    footprints: list[_Box],
    kind: str,
) -> list[Drawn]:
    """Each of ``names`` at a random place in a random free cell, at least 6 pixels from every
    footprint (skipped after 40 tries)."""
    out = []
    for name in names:
        h, w = _size(rng, kind)
        for _attempt in range(40):
            oy, ox = _cell_origin(free[int(rng.integers(len(free)))])
            box = _rect(oy + _uniform(rng, 0, INNER - h), ox + _uniform(rng, 0, INNER - w), h, w)
            if all(box_gap(box, other) >= 6 for other in footprints):
                footprints.append(box)
                out.append(Drawn(name, ((name, box),)))
                break
    return out


def _size(rng: np.random.Generator, kind: str) -> tuple[int, int]:
    (h0, h1), (w0, w1) = SIZES[kind]
    return _uniform(rng, h0, h1), _uniform(rng, w0, w1)


def _uniform(rng: np.random.Generator, low: float, high: float) -> int:
    return int(rng.integers(round(low), round(high) + 1))


def _cell_origin(cell: int) -> tuple[int, int]:
    """The top-left drawable pixel of a cell (0..8, row-major)."""
    return (cell // GRID) * CELL + PAD, (cell % GRID) * CELL + PAD


def _rect(y: float, x: float, height: int, width: int) -> _Box:
    y, x = int(y), int(x)
    return (y, x, y + height - 1, x + width - 1)
