"""ADE20K fixtures written in the real file formats of the 2016 and 2021 releases."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

# Instances of a 20 x 30 image: name -> (level, y1, x1, y2, x2) (inclusive pixel extents)
INSTANCES = [
    ("sky", 0, 0, 0, 5, 29),
    ("car", 0, 10, 2, 17, 13),
    ("left arm", 0, 8, 20, 12, 23),
    ("building", 0, 6, 15, 9, 19),
    ("wheel", 1, 15, 3, 17, 6),
    ("rare thing", 0, 18, 25, 19, 29),
]
NAMES = ["-", "building", "car", "left arm", "rare thing", "right arm", "sky", "wheel"]
COUNTS = [1, 50, 40, 7, 2, 6, 90, 12]
SPLIT_LINE = "images/training/s/street/ADE_train_00000001.jpg"


def write_image(path: Path, height: int = 20, width: int = 30) -> np.ndarray:
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path, quality=95)
    return pixels


def write_2016(root: Path, with_names: bool = True) -> Path:
    folder = root / "images" / "training" / "s" / "street"
    folder.mkdir(parents=True, exist_ok=True)
    stem = folder / "ADE_train_00000001"
    write_image(stem.with_suffix(".jpg"))
    lines, counters = [], {0: 0, 1: 0}
    maps = {0: np.zeros((20, 30), np.uint8), 1: np.zeros((20, 30), np.uint8)}
    for name, level, y1, x1, y2, x2 in INSTANCES:
        counters[level] += 1
        k = counters[level]
        maps[level][y1 : y2 + 1, x1 : x2 + 1] = 30 * k + 5  # increasing B values: rank k
        lines.append(f'{k:03d} # {level} # 0 # {name}, wordnet # {name} # ""')
    for level, blue in maps.items():
        rgb = np.stack([np.full_like(blue, 40), np.full_like(blue, 7), blue], axis=-1)
        suffix = "_seg.png" if level == 0 else f"_parts_{level}.png"
        Image.fromarray(rgb).save(f"{stem}{suffix}")
    (folder / "ADE_train_00000001_atr.txt").write_text("\n".join(lines) + "\n")
    (root / "train.txt").write_text(SPLIT_LINE + "\n")
    if with_names:
        (root / "objectnames.txt").write_text("".join(n + " \n" for n in NAMES))
        (root / "objectcounts.txt").write_text("".join(f"{c}\n" for c in COUNTS))
    return stem.with_suffix(".jpg")


def write_2021(root: Path) -> Path:
    folder = root / "images" / "ADE" / "training" / "urban" / "street"
    name = "ADE_train_00000002"
    (folder / name).mkdir(parents=True, exist_ok=True)
    write_image(folder / f"{name}.jpg")
    objects = []
    for k, (raw, level, y1, x1, y2, x2) in enumerate(INSTANCES):
        mask = np.zeros((20, 30), np.uint8)
        mask[y1 : y2 + 1, x1 : x2 + 1] = 255
        mask[y1, x1] = 128  # an occluded (amodal-only) pixel: not visible
        mask_name = f"{name}/instance_{k:03d}_{name}.png"
        Image.fromarray(mask, mode="L").save(folder / mask_name)
        objects.append(
            {
                "id": k,
                "raw_name": raw,
                "name": f"{raw}, wordnet",
                "parts": {"part_level": level, "ispartof": 1 if level else [], "hasparts": []},
                "instance_mask": mask_name,
            }
        )
    annotation = {
        "annotation": {"filename": f"{name}.jpg", "imsize": [20, 30, 3], "object": objects}
    }
    (folder / f"{name}.json").write_text(json.dumps(annotation))
    return folder / f"{name}.jpg"
