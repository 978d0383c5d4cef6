"""The look-alike groups of the hard tier (:mod:`iterative_reasoning.data.synthetic.hard`):
their members and priors, their cues and how often a cue is absent, misleading or hidden,
the clutter, and the most probable member given the cues an image shows."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from iterative_reasoning.data.synthetic.easy import (
    CELL,
    MIN_CUE_DISTANCE,
    PAD,
    Appearance,
)
from knowledge_graphs.class_graph import BACKGROUND

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
INNER = CELL - 2 * PAD  # 136: the drawable side of a cell


def class_names() -> list[str]:
    """``__background__`` and the tier's classes, in label order."""
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
