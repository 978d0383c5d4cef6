"""The synthetic context benchmark: rendered scenes whose classes are real WordNet nouns and in
which some classes look identical alone and differ only by their context.

Three pairs of classes share one appearance (shape, colour, texture and size distribution):

- ``computer_mouse`` / ``mouse``, told apart by **co-occurrence**: the first sits by a keyboard
  and a monitor, the second by a cat and cheese;
- ``ceiling`` / ``floor``, told apart by **spatial layout**: the ceiling is above the table, the
  floor below it;
- ``car_door`` / ``door``, told apart by **part-of**: a part of a car, or of a building.

A classifier that sees only a region's pixels cannot separate a pair; reasoning over the other
regions can. A ConvNet whose crops come from a deep feature map also sees whatever context lies
inside its receptive field: in these scenes the cues sit next to the objects, so such a ConvNet
can separate the pairs too (a 7-layer stride-16 network does, measured).

Each image is ``224 x 224`` with four scenes in its quadrants (four of five scene kinds, placed
at random), rendered deterministically from ``(seed, index)``. The benchmark can write itself to
disk in the ADE20K 2016 format (:func:`write_ade2016`), so that it runs through the same loader
as real ADE.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from torch.utils.data import Dataset

from iterative_reasoning.data.ade20k import BACKGROUND
from iterative_reasoning.data.records import ImageRecord, RegionSample, inclusive_boxes_of


@dataclass(frozen=True)
class Appearance:
    """How a class is drawn: a shape filled with a striped colour texture."""

    shape: str  # "rect", "ellipse" or "triangle"
    color: tuple[float, float, float]
    period: float  # stripe period, pixels
    angle: float  # stripe angle, radians


#: The classes: name -> (WordNet synset, appearance). Pairs sharing an appearance differ only
#: by context.
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
    "car": ("car.n.01", "car"),
    "car_door": ("car_door.n.01", "panel"),
    "building": ("building.n.01", "building"),
    "door": ("door.n.01", "panel"),
    "tree": ("tree.n.01", "tree"),
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
    "car": Appearance("rect", (0.75, 0.1, 0.1), 10.0, 0.5),
    "panel": Appearance("rect", (0.3, 0.55, 0.35), 4.0, 2.4),
    "building": Appearance("rect", (0.55, 0.5, 0.45), 8.0, 1.57),
    "tree": Appearance("triangle", (0.1, 0.5, 0.15), 3.5, 0.0),
}
IMAGE_SIZE = 224
_QUADRANT, _MARGIN = 96, 16


class Instance(NamedTuple):
    """One drawn object: class name, ADE part level, and its visible pixels."""

    name: str
    level: int
    mask: np.ndarray


def class_names() -> list[str]:
    """``__background__`` and the benchmark's classes, in label order."""
    return [BACKGROUND, *CLASSES]


def render(seed: int, index: int) -> tuple[np.ndarray, list[Instance]]:
    """The ``index``-th image of the benchmark of ``seed``: RGB ``uint8 [224, 224, 3]`` and its
    instances (objects at level 0, doors at level 1), deterministically."""
    rng = np.random.default_rng([seed, index])
    image = _background(rng)
    instances: list[Instance] = []
    kinds = rng.permutation(["desk", "kitchen", "room", "car", "building"])[:4]
    for quadrant, kind in enumerate(kinds):
        qy = _MARGIN + (quadrant // 2) * _QUADRANT + int(rng.integers(-4, 5))
        qx = _MARGIN + (quadrant % 2) * _QUADRANT + int(rng.integers(-4, 5))
        for name, level, (y1, x1, y2, x2) in _SCENES[str(kind)](rng):
            mask = _shape_mask(
                APPEARANCES[CLASSES[name][1]].shape, qy + y1, qx + x1, qy + y2, qx + x2
            )
            _paint(image, mask, APPEARANCES[CLASSES[name][1]], rng)
            instances.append(Instance(name, level, mask))
    return image, instances


def record_of(image_id: str, path: str, instances: list[Instance], names: list[str]) -> ImageRecord:
    """The regions of rendered instances, as a dataset record (boxes from the visible pixels)."""
    index = {n: i for i, n in enumerate(names)}
    boxes = np.stack([inclusive_boxes_of(i.mask.astype(np.int64), 1)[0] for i in instances])
    labels = np.asarray([index[i.name] for i in instances], np.int64)
    height, width = instances[0].mask.shape
    return ImageRecord(image_id, path, height, width, boxes, labels)


class SyntheticScenes(Dataset[RegionSample]):
    """The benchmark as a dataset, rendered on the fly: ``num_images`` images of ``seed``.

    Args:
        num_images: images in the split.
        seed: the split's seed (use different seeds for training and testing).
        hflip_prob: probability of a horizontal flip (no class is left/right here).
    """

    def __init__(self, num_images: int, seed: int = 0, hflip_prob: float = 0.0) -> None:
        if num_images < 1:
            raise ValueError(f"num_images must be positive, got {num_images}")
        self.num_images, self.seed, self.hflip_prob = num_images, seed, hflip_prob
        self.classes = class_names()

    def __len__(self) -> int:
        return self.num_images

    def record(self, index: int) -> ImageRecord:
        _, instances = render(self.seed, index)
        return record_of(f"synthetic_{self.seed}_{index:06d}", "", instances, self.classes)

    def __getitem__(self, index: int) -> RegionSample:
        if not 0 <= index < self.num_images:
            raise IndexError(f"index {index} out of range for {self.num_images} images")
        pixels, instances = render(self.seed, index)
        record = record_of(f"synthetic_{self.seed}_{index:06d}", "", instances, self.classes)
        image = torch.from_numpy(pixels).permute(2, 0, 1).float() / 255
        boxes = torch.from_numpy(record.boxes.copy())
        if self.hflip_prob > 0 and float(torch.rand(())) < self.hflip_prob:
            image = image.flip(-1)
            boxes = torch.stack(
                [IMAGE_SIZE - boxes[:, 2], boxes[:, 1], IMAGE_SIZE - boxes[:, 0], boxes[:, 3]], 1
            )
        return RegionSample(
            image, boxes, torch.from_numpy(record.labels.copy()), record.image_id, 1.0
        )


def write_ade2016(
    root: str | os.PathLike[str],
    splits: dict[str, int] | None = None,
    seed: int = 0,
) -> Path:
    """Write the benchmark in the ADE20K 2016 layout: ``images/{training,validation}/s/
    synthetic_scene/ADE_{train,val}_NNNNNNNN{.jpg,_seg.png,_parts_1.png,_atr.txt}``, the split
    files (``train.txt``, ``mval.txt``, ``mtest.txt`` by default) and ``objectnames.txt`` /
    ``objectcounts.txt``; :class:`~iterative_reasoning.data.ADE20K` then loads it like real ADE.
    Each split uses its own seed (``seed`` + its position). Returns ``root``."""
    from PIL import Image

    root = Path(root)
    splits = splits or {"train": 800, "mval": 100, "mtest": 200}
    names = list(CLASSES)
    code = {n: i + 1 for i, n in enumerate(names)}  # ADE class codes, 1-based
    counts = dict.fromkeys(names, 0)
    val_number = 0
    for position, (split, count) in enumerate(splits.items()):
        folder_kind, prefix = ("training", "train") if split == "train" else ("validation", "val")
        folder = root / "images" / folder_kind / "s" / "synthetic_scene"
        folder.mkdir(parents=True, exist_ok=True)
        lines = []
        for index in range(count):
            number = index + 1 if split == "train" else (val_number := val_number + 1)
            stem = folder / f"ADE_{prefix}_{number:08d}"
            pixels, instances = render(seed + position, index)
            Image.fromarray(pixels).save(stem.with_suffix(".jpg"), quality=95)
            atr = []
            for level in (0, 1):
                seg = np.zeros((*pixels.shape[:2], 3), np.uint8)
                ranked = [i for i in instances if i.level == level]
                for rank, instance in enumerate(ranked, 1):
                    seg[instance.mask] = (
                        code[instance.name] // 256 * 10,
                        code[instance.name] % 256,
                        min(255, 4 * rank),
                    )
                    atr.append(
                        f"{rank:03d} # {level} # 0 # {CLASSES[instance.name][0]} # "
                        f'{instance.name.replace("_", " ")} # ""'
                    )
                    counts[instance.name] += 1
                suffix = "_seg.png" if level == 0 else f"_parts_{level}.png"
                Image.fromarray(seg).save(f"{stem}{suffix}")
            (folder / f"{stem.name}_atr.txt").write_text("\n".join(atr) + "\n")
            lines.append(f"images/{folder_kind}/s/synthetic_scene/{stem.name}.jpg")
        (root / f"{split}.txt").write_text("\n".join(lines) + "\n")
    ordered = sorted(names, key=lambda n: n.replace("_", " "))
    (root / "objectnames.txt").write_text(
        "- \n" + "".join(n.replace("_", " ") + " \n" for n in ordered)
    )
    (root / "objectcounts.txt").write_text("1\n" + "".join(f"{counts[n]}\n" for n in ordered))
    return root


# -- scenes (quadrant-local boxes y1, x1, y2, x2, inclusive) ------------------------------------


def _jitter(
    rng: np.random.Generator, box: tuple[int, int, int, int], amount: int = 4
) -> tuple[int, int, int, int]:
    dy, dx = (int(v) for v in rng.integers(-amount, amount + 1, 2))
    y1, x1, y2, x2 = box
    return y1 + dy, x1 + dx, y2 + dy, x2 + dx


def _small_oval(rng: np.random.Generator, y: int, x: int) -> tuple[int, int, int, int]:
    h, w = int(rng.integers(15, 19)), int(rng.integers(18, 24))
    return y, x, y + h, x + w


def _panel(rng: np.random.Generator, y: int, x: int) -> tuple[int, int, int, int]:
    h, w = int(rng.integers(26, 33)), int(rng.integers(16, 22))
    return y, x, y + h, x + w


def _desk(rng: np.random.Generator) -> list[tuple[str, int, tuple[int, int, int, int]]]:
    return [
        ("monitor", 0, _jitter(rng, (6, 18, 40, 70))),
        ("keyboard", 0, _jitter(rng, (52, 8, 64, 66))),
        ("computer_mouse", 0, _small_oval(rng, 50 + int(rng.integers(-3, 4)), 68)),
    ]


def _kitchen(rng: np.random.Generator) -> list[tuple[str, int, tuple[int, int, int, int]]]:
    return [
        ("cat", 0, _jitter(rng, (20, 2, 62, 38))),
        ("cheese", 0, _jitter(rng, (52, 68, 78, 90))),
        ("mouse", 0, _small_oval(rng, 58 + int(rng.integers(-3, 4)), 44)),
    ]


def _room(rng: np.random.Generator) -> list[tuple[str, int, tuple[int, int, int, int]]]:
    shift = int(rng.integers(-4, 5))
    return [
        ("ceiling", 0, (shift + 4, 4, shift + 14, 88)),
        ("table", 0, _jitter(rng, (38, 20, 56, 72))),
        ("floor", 0, (shift + 74, 4, shift + 84, 88)),
    ]


def _car(rng: np.random.Generator) -> list[tuple[str, int, tuple[int, int, int, int]]]:
    body = _jitter(rng, (24, 4, 72, 88))
    door = _panel(rng, body[0] + 8, body[1] + 30 + int(rng.integers(-6, 7)))
    return [("car", 0, body), ("car_door", 1, door)]


def _building(rng: np.random.Generator) -> list[tuple[str, int, tuple[int, int, int, int]]]:
    body = _jitter(rng, (4, 14, 86, 62))
    door = _panel(rng, body[2] - 34, body[1] + 14 + int(rng.integers(-4, 5)))
    return [("building", 0, body), ("door", 1, door), ("tree", 0, _jitter(rng, (40, 68, 86, 90)))]


_SCENES = {"desk": _desk, "kitchen": _kitchen, "room": _room, "car": _car, "building": _building}


# -- drawing -------------------------------------------------------------------------------


def _background(rng: np.random.Generator) -> np.ndarray:
    base = rng.uniform(0.35, 0.55)
    noise = rng.normal(0.0, 0.04, (IMAGE_SIZE, IMAGE_SIZE, 3))
    return np.clip((base + noise) * 255, 0, 255).astype(np.uint8)


def _shape_mask(shape: str, y1: int, x1: int, y2: int, x2: int) -> np.ndarray:
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


def _paint(image: np.ndarray, mask: np.ndarray, look: Appearance, rng: np.random.Generator) -> None:
    yy, xx = np.nonzero(mask)
    phase = rng.uniform(0, 2 * np.pi)
    stripes = 0.5 + 0.5 * np.sin(
        2 * np.pi * (xx * np.cos(look.angle) + yy * np.sin(look.angle)) / look.period + phase
    )
    color = np.asarray(look.color) * rng.uniform(0.9, 1.1)
    shade = 0.75 + 0.25 * stripes[:, None]
    noise = rng.normal(0.0, 0.03, (len(yy), 3))
    image[yy, xx] = np.clip((color[None] * shade + noise) * 255, 0, 255).astype(np.uint8)
