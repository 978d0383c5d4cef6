"""The classes of the long-tail tier (:mod:`iterative_reasoning.data.synthetic.long_tail`):
its look-alike groups (a frequent, a medium and a rare member of one look, and the rule that
tells them apart), the context classes the rules name, the plain classes with their Zipf
frequencies, every class's WordNet synset and look, and the most probable member given what an
image shows."""

from __future__ import annotations

import colorsys
import math
from dataclasses import dataclass

import numpy as np

from iterative_reasoning.data.synthetic.easy import Appearance
from knowledge_graphs.class_graph import BACKGROUND

#: Probability that a group's cue is absent, and that it is misleading (another member's cue).
ABSENT, MISLEADING = 0.10, 0.02
#: The members' priors in the training images and the annotation corpus: frequent, medium,
#: rare. A test split draws its members uniformly (:data:`BALANCED`), so that every rare class
#: has test boxes to score.
PRIOR: tuple[float, float, float] = (0.85, 0.125, 0.025)
BALANCED: tuple[float, float, float] = (1 / 3, 1 / 3, 1 / 3)
#: The members' tiers by their place in a group.
TIERS: tuple[str, str, str] = ("frequent", "medium", "rare")
#: The rules: ``part_of``, the object lies inside a whole that names it (WordNet's part-of, and
#: ``box_inside`` in the boxes); ``layout``, a reference object lies below, above or beside it
#: (``box_above`` / ``box_below`` / ``box_left_of`` in the boxes); ``co_occurrence``, a cue object
#: lies in another cell of the image (``co_occurs_with`` in the boxes).
RULES: tuple[str, ...] = ("part_of", "layout", "co_occurrence")
#: Where a layout rule's reference object lies, for each member in turn: below it, above it,
#: to its left.
PLACES: tuple[str, str, str] = ("below", "above", "left")


@dataclass(frozen=True)
class Group:
    """Classes of one look (frequent, medium and rare), the rule that tells them apart and each
    member's cue class: the whole it lies in (``part_of``), the reference object, the same for
    every member, which lies at the member's place of :data:`PLACES` (``layout``), or the cue
    object (``co_occurrence``)."""

    name: str
    look: str
    rule: str
    members: tuple[str, str, str]
    cues: tuple[str, str, str]

    def values(self) -> tuple[str, ...]:
        """The cue values, one per member: a class name, or a place (``layout``)."""
        return PLACES if self.rule == "layout" else self.cues


GROUPS: tuple[Group, ...] = (
    Group("panel", "panel", "part_of", ("door", "car_door", "window"), ("building", "car", "bus")),
    Group("blade", "blade", "part_of", ("wing", "fin", "beak"), ("airplane", "fish", "bird")),
    Group("band", "band", "layout", ("ceiling", "floor", "rug"), ("table",) * 3),
    Group("cushion", "cushion", "layout", ("pillow", "slipper", "blanket"), ("bed",) * 3),
    Group(
        "oval",
        "small_oval",
        "co_occurrence",
        ("computer_mouse", "mouse", "egg"),
        ("keyboard", "cheese", "nest"),
    ),
    Group(
        "rod",
        "rod",
        "co_occurrence",
        ("pencil", "candle", "chopstick"),
        ("notebook", "cake", "bowl"),
    ),
)

#: The classes a rule names (wholes, references, cue objects), each of its own look.
CONTEXT: dict[str, str] = {
    "building": "building.n.01",
    "car": "car.n.01",
    "bus": "bus.n.01",
    "airplane": "airplane.n.01",
    "fish": "fish.n.01",
    "bird": "bird.n.01",
    "table": "table.n.02",
    "bed": "bed.n.01",
    "keyboard": "keyboard.n.01",
    "cheese": "cheese.n.01",
    "nest": "nest.n.01",
    "notebook": "notebook.n.01",
    "cake": "cake.n.03",
    "bowl": "bowl.n.01",
}
#: The look-alike members' synsets.
MEMBERS: dict[str, str] = {
    "door": "door.n.01",
    "car_door": "car_door.n.01",
    "window": "window.n.02",
    "wing": "wing.n.02",
    "fin": "fin.n.06",
    "beak": "beak.n.02",
    "ceiling": "ceiling.n.01",
    "floor": "floor.n.01",
    "rug": "rug.n.01",
    "pillow": "pillow.n.01",
    "slipper": "slipper.n.01",
    "blanket": "blanket.n.01",
    "computer_mouse": "mouse.n.04",
    "mouse": "mouse.n.01",
    "egg": "egg.n.02",
    "pencil": "pencil.n.01",
    "candle": "candle.n.01",
    "chopstick": "chopstick.n.01",
}
#: Objects of their own look and no rule, most frequent first: ``k``-th drawn with weight
#: ``1 / k ** ZIPF``.
PLAIN: dict[str, str] = {
    "ball": "ball.n.01",
    "book": "book.n.02",
    "cup": "cup.n.01",
    "bottle": "bottle.n.01",
    "chair": "chair.n.01",
    "clock": "clock.n.01",
    "vase": "vase.n.01",
    "lamp": "lamp.n.02",
    "pot_plant": "pot_plant.n.01",
    "telephone": "telephone.n.01",
    "remote_control": "remote_control.n.01",
    "scissors": "scissors.n.01",
    "umbrella": "umbrella.n.01",
    "backpack": "backpack.n.01",
    "hat": "hat.n.01",
    "shoe": "shoe.n.01",
    "glove": "glove.n.02",
    "kite": "kite.n.03",
    "apple": "apple.n.01",
    "banana": "banana.n.02",
    "orange": "orange.n.01",
    "carrot": "carrot.n.03",
    "sandwich": "sandwich.n.01",
    "pizza": "pizza.n.01",
    "doughnut": "doughnut.n.02",
    "toothbrush": "toothbrush.n.01",
    "spoon": "spoon.n.01",
    "fork": "fork.n.01",
    "knife": "knife.n.01",
    "key": "key.n.01",
    "coin": "coin.n.01",
    "wallet": "wallet.n.01",
    "watch": "watch.n.01",
    "camera": "camera.n.01",
    "guitar": "guitar.n.01",
    "drum": "drum.n.01",
}
ZIPF = 1.1
#: The classes, in label order: name -> WordNet synset.
CLASSES: dict[str, str] = {**MEMBERS, **CONTEXT, **PLAIN}

_GROUP_LOOKS: dict[str, Appearance] = {
    "panel": Appearance("rect", (0.3, 0.55, 0.35), 4.0, 2.4),
    "blade": Appearance("triangle", (0.8, 0.8, 0.85), 3.0, 0.3),
    "band": Appearance("rect", (0.75, 0.75, 0.7), 5.0, 1.2),
    "cushion": Appearance("ellipse", (0.85, 0.55, 0.7), 4.0, 2.0),
    "small_oval": Appearance("ellipse", (0.6, 0.6, 0.62), 3.0, 0.8),
    "rod": Appearance("rect", (0.9, 0.75, 0.3), 3.0, 0.0),
}
_CONTEXT_LOOKS: dict[str, Appearance] = {
    "building": Appearance("rect", (0.55, 0.5, 0.45), 8.0, 1.57),
    "car": Appearance("rect", (0.7, 0.15, 0.15), 6.0, 0.0),
    "bus": Appearance("rect", (0.95, 0.8, 0.1), 10.0, 0.0),
    "airplane": Appearance("rect", (0.85, 0.88, 0.95), 12.0, 0.4),
    "fish": Appearance("ellipse", (0.2, 0.45, 0.75), 4.0, 1.0),
    "bird": Appearance("ellipse", (0.45, 0.3, 0.15), 3.0, 2.5),
    "table": Appearance("rect", (0.5, 0.3, 0.1), 7.0, 0.0),
    "bed": Appearance("rect", (0.9, 0.9, 0.95), 9.0, 1.57),
    "keyboard": Appearance("rect", (0.25, 0.25, 0.3), 4.0, 1.57),
    "cheese": Appearance("triangle", (0.95, 0.85, 0.2), 5.0, 2.0),
    "nest": Appearance("ellipse", (0.45, 0.3, 0.15), 2.5, 2.2),
    "notebook": Appearance("rect", (0.2, 0.6, 0.3), 2.0, 0.8),
    "cake": Appearance("triangle", (0.95, 0.6, 0.75), 6.0, 0.0),
    "bowl": Appearance("ellipse", (0.3, 0.75, 0.8), 5.0, 1.57),
}


def _plain_look(rank: int) -> Appearance:
    """The look of the ``rank``-th plain class: its shape in turn, a hue spread over the
    circle, a stripe period and an angle of its own."""
    shape = ("rect", "ellipse", "triangle")[rank % 3]
    hue = (rank * 0.381966) % 1.0  # the golden angle: neighbours in rank far apart in hue
    value = 0.95 if rank % 2 else 0.6
    red, green, blue = colorsys.hsv_to_rgb(hue, 0.75, value)
    return Appearance(shape, (red, green, blue), 3.0 + (rank * 5) % 8, (rank * 0.7) % math.pi)


#: Every look: the groups' shared ones, the context classes' and the plain classes'.
APPEARANCES: dict[str, Appearance] = {
    **_GROUP_LOOKS,
    **_CONTEXT_LOOKS,
    **{name: _plain_look(rank) for rank, name in enumerate(PLAIN)},
}


def class_names() -> list[str]:
    """``__background__`` and the tier's classes, in label order."""
    return [BACKGROUND, *CLASSES]


def tier_of(name: str) -> str:
    """``"frequent"``, ``"medium"`` or ``"rare"`` for a look-alike member by its place in its
    group; ``"context"`` or ``"plain"`` for the others."""
    for group in GROUPS:
        if name in group.members:
            return TIERS[group.members.index(name)]
    if name in CONTEXT:
        return "context"
    if name in PLAIN:
        return "plain"
    raise ValueError(f"{name!r} is not a class of the long-tail tier")


def posterior(group: Group, observed: str | None, prior: tuple[float, ...] = PRIOR) -> np.ndarray:
    """The probability of each member of ``group`` given the cue value ``observed`` (``None``:
    absent): the prior times the cue's likelihood (:data:`ABSENT`, :data:`MISLEADING`),
    normalised."""
    values = group.values()
    weight = np.asarray(prior, float).copy()
    for m in range(len(weight)):
        if observed is None:
            weight[m] *= ABSENT
        elif observed == values[m]:
            weight[m] *= 1 - ABSENT - MISLEADING
        else:
            weight[m] *= MISLEADING / (len(values) - 1)
    return weight / weight.sum()


def best_guess(group: Group, observed: str | None, prior: tuple[float, ...] = PRIOR) -> str:
    """The most probable member given ``observed`` under ``prior`` (the training prior: what a
    model can learn; the more frequent member on a tie)."""
    return group.members[int(np.argmax(posterior(group, observed, prior)))]
