"""The synthetic context benchmark: rendered scenes whose classes are real WordNet nouns and in
which some classes look identical alone and differ only by context that a ConvNet cannot see.

Three pairs of classes share one appearance (shape, colour, texture and size distribution):

- ``computer_mouse`` / ``mouse``, told apart by **co-occurrence**: the image holds a keyboard
  and a monitor, or a cat and cheese, in another part of the image;
- ``ceiling`` / ``floor``, told apart by **spatial layout**: two identical bands, the ceiling
  above a table and the floor below it;
- ``car_door`` / ``door``, told apart by **part-of**: a door in the middle of a car or of a
  building, whose bodies share one texture and differ only by the wheels or the roof at
  their far edges.

The cues are placed where a ConvNet region classifier cannot see them: at least
:data:`MIN_CUE_DISTANCE` pixels from the ambiguous box, beyond the receptive field of the crops
of a stride-16 ConvNet such as
:class:`~iterative_reasoning.models.SmallConvNetClassifier` (31 pixels: the trunk's 15 each
side plus the bilinear crop's 16), and away from the image borders, whose padding would tell
positions apart. The layout and part-of cues lie within reach of the local module (its context
convolutions see 48 pixels further on the memory); the co-occurrence cue lies in another part of
the image, within reach of the global module only.

Each image is ``384 x 384``: four cells of ``176 x 176`` in a 16-pixel frame, holding a room
(ceiling, table, floor), a car or a building with its door, the cue objects (keyboard and monitor,
or cat and cheese) and the small oval, in random cells and at random
places within them; all deterministic from ``(seed, index)``. The benchmark can write itself to
disk in the ADE20K 2016 format
(:func:`~iterative_reasoning.data.synthetic_formats.write_ade2016`), so that it runs through
the same loader as real ADE. The easy tier of the benchmark.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from iterative_reasoning.data.records import ImageRecord
from knowledge_graphs.ade_files import inclusive_boxes_of
from knowledge_graphs.class_graph import BACKGROUND


@dataclass(frozen=True)
class Appearance:
    """How a shape is drawn: filled with a striped colour texture."""

    shape: str  # "rect", "ellipse" or "triangle"
    color: tuple[float, float, float]
    period: float  # stripe period, pixels
    angle: float  # stripe angle, radians


#: The classes: name -> (WordNet synset, look of its main shape). Pairs sharing a look differ
#: only by context; the car and the building share their body's look and differ by their wheels
#: and roof.
CLASSES: dict[str, tuple[str, str]] = {
    "keyboard": ("keyboard.n.01", "keyboard"),
    "monitor": ("monitor.n.04", "monitor"),
    "computer_mouse": ("mouse.n.04", "small_oval"),
    "cat": ("cat.n.01", "cat"),
    "cheese": ("cheese.n.01", "cheese"),
    "mouse": ("mouse.n.01", "small_oval"),
    "table": ("table.n.02", "table"),
    "ceiling": ("ceiling.n.01", "band"),
    "floor": ("floor.n.01", "band"),
    "car": ("car.n.01", "body"),
    "car_door": ("car_door.n.01", "panel"),
    "building": ("building.n.01", "body"),
    "door": ("door.n.01", "panel"),
}
#: The pairs that look identical, and the context that separates them.
AMBIGUOUS_PAIRS: tuple[tuple[str, str, str], ...] = (
    ("computer_mouse", "mouse", "co-occurrence"),
    ("ceiling", "floor", "spatial layout"),
    ("car_door", "door", "part-of"),
)
APPEARANCES: dict[str, Appearance] = {
    "keyboard": Appearance("rect", (0.25, 0.25, 0.3), 4.0, 1.57),
    "monitor": Appearance("rect", (0.1, 0.15, 0.45), 9.0, 0.0),
    "small_oval": Appearance("ellipse", (0.6, 0.6, 0.62), 3.0, 0.8),
    "cat": Appearance("ellipse", (0.85, 0.5, 0.15), 6.0, 0.3),
    "cheese": Appearance("triangle", (0.95, 0.85, 0.2), 5.0, 2.0),
    "table": Appearance("rect", (0.5, 0.3, 0.1), 7.0, 0.0),
    "band": Appearance("rect", (0.75, 0.75, 0.7), 5.0, 1.2),
    "body": Appearance("rect", (0.55, 0.5, 0.45), 8.0, 1.57),
    "wheel": Appearance("ellipse", (0.08, 0.08, 0.08), 3.0, 0.0),
    "roof": Appearance("triangle", (0.6, 0.15, 0.1), 5.0, 0.6),
    "panel": Appearance("rect", (0.3, 0.55, 0.35), 4.0, 2.4),
}
IMAGE_SIZE = 384
#: The least distance, in pixels, between an ambiguous object's box and its context cue.
MIN_CUE_DISTANCE = 36
FRAME, CELL, PAD = 16, 176, 20  # image frame, cell size, empty margin inside each cell


class Instance(NamedTuple):
    """One drawn object: class name, ADE part level, and its visible pixels."""

    name: str
    level: int
    mask: np.ndarray


def class_names() -> list[str]:
    """``__background__`` and the benchmark's classes, in label order."""
    return [BACKGROUND, *CLASSES]


def render(seed: int, index: int) -> tuple[np.ndarray, list[Instance]]:
    """The ``index``-th image of the benchmark of ``seed``: RGB ``uint8 [384, 384, 3]`` and its
    instances (objects at level 0, doors at level 1), deterministically."""
    rng = np.random.default_rng([seed, index])
    image = background(rng)
    instances: list[Instance] = []
    scenes = _scenes(rng)
    for cell, kind in enumerate(rng.permutation(list(scenes))):
        height, width, objects = scenes[str(kind)]
        room_y, room_x = CELL - 2 * PAD - height, CELL - 2 * PAD - width
        if room_y < 0 or room_x < 0:
            raise AssertionError(f"scene {kind} of {height}x{width} overflows its cell")
        y0 = FRAME + (cell // 2) * CELL + PAD + int(rng.integers(0, room_y + 1))
        x0 = FRAME + (cell % 2) * CELL + PAD + int(rng.integers(0, room_x + 1))
        for name, level, shapes in objects:
            mask = np.zeros((IMAGE_SIZE, IMAGE_SIZE), bool)
            for look, (y1, x1, y2, x2) in shapes:
                part = shape_mask(APPEARANCES[look].shape, y0 + y1, x0 + x1, y0 + y2, x0 + x2)
                paint(image, part, APPEARANCES[look], rng)
                mask |= part
            instances.append(Instance(name, level, mask))
    return image, instances


def record_of(image_id: str, path: str, instances: list[Instance], names: list[str]) -> ImageRecord:
    """The regions of rendered instances, as a dataset record (boxes from the visible pixels)."""
    index = {n: i for i, n in enumerate(names)}
    boxes = np.stack([inclusive_boxes_of(i.mask.astype(np.int64), 1)[0] for i in instances])
    labels = np.asarray([index[i.name] for i in instances], np.int64)
    height, width = instances[0].mask.shape
    return ImageRecord(image_id, path, height, width, boxes, labels)


# -- scenes: (height, width, objects), each object (name, level, [(look, box)]) with boxes
# (y1, x1, y2, x2), inclusive, in the scene's own pixels ---------------------------------------

_Box = tuple[int, int, int, int]
_Scene = tuple[int, int, list[tuple[str, int, list[tuple[str, _Box]]]]]


def uniform(rng: np.random.Generator, low: int, high: int) -> int:
    return int(rng.integers(low, high + 1))


def _at(look: str, y: int, x: int, height: int, width: int) -> tuple[str, _Box]:
    """A shape of ``look`` with its top-left pixel at ``(y, x)``."""
    return look, (y, x, y + height - 1, x + width - 1)


def _room(rng: np.random.Generator) -> _Scene:
    """Two identical bands, a table between them, each band 36-44 pixels from the table."""
    band_h, band_w = uniform(rng, 8, 10), uniform(rng, 96, 120)
    table_h, table_w = uniform(rng, 16, 20), uniform(rng, 48, 68)
    gap_top, gap_bottom = uniform(rng, 36, 44), uniform(rng, 36, 44)
    table_x = (band_w - table_w) // 2 + uniform(rng, -12, 12)
    table_y = band_h + gap_top
    floor_y = table_y + table_h + gap_bottom
    return (
        floor_y + band_h,
        band_w,
        [
            ("ceiling", 0, [_at("band", 0, 0, band_h, band_w)]),
            ("table", 0, [_at("table", table_y, table_x, table_h, table_w)]),
            ("floor", 0, [_at("band", floor_y, 0, band_h, band_w)]),
        ],
    )


def _whole(rng: np.random.Generator, kind: str) -> _Scene:
    """A body of the shared texture with a door in its middle, 36-44 pixels from its edges, and
    wheels below (a car) or a roof above (a building), at least 36 pixels from the door."""
    door_h, door_w = uniform(rng, 26, 30), uniform(rng, 16, 20)
    margin_top, margin_bottom = uniform(rng, 38, 42), uniform(rng, 38, 42)
    margin_x = uniform(rng, 38, 42)
    body_h, body_w = margin_top + door_h + margin_bottom, door_w + 2 * margin_x
    top = uniform(rng, 12, 16) if kind == "building" else 0
    door_y, door_x = top + margin_top, margin_x + uniform(rng, -2, 2)
    body: list[tuple[str, _Box]] = [("body", (top, 0, top + body_h - 1, body_w - 1))]
    if kind == "building":
        overhang = uniform(rng, 0, 6)
        body.insert(0, ("roof", (0, -overhang, top - 1, body_w - 1 + overhang)))
        height, door = top + body_h, "door"
    else:
        radius = uniform(rng, 8, 10)
        wheel_top = body_h - 2  # the wheels' tops stay margin_bottom - 2 from the door
        for cx in (uniform(rng, 14, 24), body_w - 1 - uniform(rng, 14, 24)):
            body.append(("wheel", (wheel_top, cx - radius, wheel_top + 2 * radius, cx + radius)))
        height, door = wheel_top + 2 * radius + 1, "car_door"
    door_box = (door_y, door_x, door_y + door_h - 1, door_x + door_w - 1)
    # the roof's overhang reaches left of the scene's origin: shift everything right by 6
    shift = 6
    shapes = [(look, (y1, x1 + shift, y2, x2 + shift)) for look, (y1, x1, y2, x2) in body]
    y1, x1, y2, x2 = door_box
    return (
        height,
        body_w + 2 * shift,
        [
            (kind, 0, shapes),
            (door, 1, [("panel", (y1, x1 + shift, y2, x2 + shift))]),
        ],
    )


def _cues(rng: np.random.Generator, office: bool) -> _Scene:
    """Keyboard under a monitor, or a cat beside cheese."""
    if office:
        mon_h, mon_w = uniform(rng, 30, 36), uniform(rng, 40, 50)
        key_h, key_w = uniform(rng, 12, 14), uniform(rng, 50, 60)
        gap = uniform(rng, 4, 10)
        mon_x = (key_w - mon_w) // 2 + uniform(rng, -4, 4)
        return (
            mon_h + gap + key_h,
            key_w,
            [
                ("monitor", 0, [_at("monitor", 0, mon_x, mon_h, mon_w)]),
                ("keyboard", 0, [_at("keyboard", mon_h + gap, 0, key_h, key_w)]),
            ],
        )
    cat_h, cat_w = uniform(rng, 36, 44), uniform(rng, 30, 38)
    cheese_h, cheese_w = uniform(rng, 20, 26), uniform(rng, 20, 26)
    gap = uniform(rng, 4, 12)
    cheese_y = cat_h - cheese_h
    return (
        cat_h,
        cat_w + gap + cheese_w,
        [
            ("cat", 0, [_at("cat", 0, 0, cat_h, cat_w)]),
            ("cheese", 0, [_at("cheese", cheese_y, cat_w + gap, cheese_h, cheese_w)]),
        ],
    )


def _oval(rng: np.random.Generator, office: bool) -> _Scene:
    """The small oval alone, near its cell's centre: far from every other cell's objects."""
    size = CELL - 2 * PAD
    h, w = uniform(rng, 15, 18), uniform(rng, 18, 23)
    y, x = (size - h) // 2 + uniform(rng, -10, 10), (size - w) // 2 + uniform(rng, -10, 10)
    name = "computer_mouse" if office else "mouse"
    return size, size, [(name, 0, [_at("small_oval", y, x, h, w)])]


def _scenes(rng: np.random.Generator) -> dict[str, _Scene]:
    """The four scenes of one image; the cue objects and the oval agree (office or pet)."""
    office = bool(rng.random() < 0.5)
    return {
        "room": _room(rng),
        "whole": _whole(rng, "car" if rng.random() < 0.5 else "building"),
        "cues": _cues(rng, office),
        "oval": _oval(rng, office),
    }


# -- drawing -------------------------------------------------------------------------------


def background(rng: np.random.Generator) -> np.ndarray:
    base = rng.uniform(0.35, 0.55)
    noise = rng.normal(0.0, 0.04, (IMAGE_SIZE, IMAGE_SIZE, 3))
    return np.clip((base + noise) * 255, 0, 255).astype(np.uint8)


def shape_mask(shape: str, y1: int, x1: int, y2: int, x2: int) -> np.ndarray:
    yy, xx = np.mgrid[0:IMAGE_SIZE, 0:IMAGE_SIZE]
    inside = (yy >= y1) & (yy <= y2) & (xx >= x1) & (xx <= x2)
    if shape == "ellipse":
        cy, cx = (y1 + y2) / 2, (x1 + x2) / 2
        ry, rx = max((y2 - y1) / 2, 0.5), max((x2 - x1) / 2, 0.5)
        inside &= ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1.0
    elif shape == "triangle":
        half = (x2 - x1) / 2 * (yy - y1) / max(y2 - y1, 1)
        inside &= np.abs(xx - (x1 + x2) / 2) <= half + 0.5
    return inside


def paint(image: np.ndarray, mask: np.ndarray, look: Appearance, rng: np.random.Generator) -> None:
    yy, xx = np.nonzero(mask)
    phase = rng.uniform(0, 2 * np.pi)
    stripes = 0.5 + 0.5 * np.sin(
        2 * np.pi * (xx * np.cos(look.angle) + yy * np.sin(look.angle)) / look.period + phase
    )
    color = np.asarray(look.color) * rng.uniform(0.9, 1.1)
    shade = 0.75 + 0.25 * stripes[:, None]
    noise = rng.normal(0.0, 0.03, (len(yy), 3))
    image[yy, xx] = np.clip((color[None] * shade + noise) * 255, 0, 255).astype(np.uint8)
