import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from knowledge_graphs.builders.ade_parts import ade_part_counts, ade_part_of

# Instances of a 8 x 10 image: two cars (level 0), wheels and a door (level 1), a rim (level 2).
# The second wheel straddles both cars but lies mostly under car 2 (the majority vote).
LEVELS = {
    0: [("car", (0, 0, 8, 5)), ("car", (0, 5, 8, 10)), ("sky", (0, 0, 0, 0))],
    1: [("wheel", (5, 1, 8, 3)), ("wheel", (5, 4, 8, 9)), ("door", (1, 1, 4, 4))],
    2: [("rim", (6, 1, 7, 2))],
}


def _write_2016(folder: Path) -> Path:
    stem = folder / "ADE_train_00000001"
    lines = []
    for level, instances in LEVELS.items():
        blue = np.zeros((8, 10), dtype=np.uint8)
        for k, (name, (y1, x1, y2, x2)) in enumerate(instances, 1):
            blue[y1:y2, x1:x2] = 40 * k + 7  # any increasing values: instances are their ranks
            lines.append(f'{k:03d} # {level} # 0 # {name}, wordnet # {name} # ""')
        rgb = np.stack([np.full_like(blue, 3), np.full_like(blue, 5), blue], axis=-1)
        suffix = "_seg.png" if level == 0 else f"_parts_{level}.png"
        Image.fromarray(rgb).save(f"{stem}{suffix}")
    (folder / "ADE_train_00000001_atr.txt").write_text("\n".join(lines) + "\n")
    return stem.with_suffix(".jpg")


def _write_2021(folder: Path) -> Path:
    objects = [
        {"id": 0, "raw_name": "car", "parts": {"ispartof": [], "part_level": 0}},
        {"id": 1, "raw_name": "car", "parts": {"ispartof": [], "part_level": 0}},
        {"id": 2, "raw_name": "wheel", "parts": {"ispartof": 0, "part_level": 1}},
        {"id": 3, "raw_name": "wheel", "parts": {"ispartof": 1, "part_level": 1}},
        {"id": 4, "raw_name": "door", "parts": {"ispartof": 0, "part_level": 1}},
        {"id": 5, "raw_name": "rim", "parts": {"ispartof": 2, "part_level": 2}},
    ]
    path = folder / "ADE_train_00000002.json"
    path.write_text(json.dumps({"annotation": {"object": objects}}))
    return path.with_suffix(".jpg")


def test_2016_majority_vote_and_2021_pointers_agree(tmp_path):
    expected = {("wheel", "car"): 2, ("door", "car"): 1, ("rim", "wheel"): 1}
    assert dict(ade_part_counts([_write_2016(tmp_path)])) == expected
    assert dict(ade_part_counts([_write_2021(tmp_path)])) == expected
    counts = ade_part_counts([_write_2016(tmp_path), _write_2021(tmp_path)], progress=True)
    edges = ade_part_of(["car", "wheel", "door", "rim"], counts)
    assert edges == [(1, 0, 4.0), (2, 0, 2.0), (3, 1, 2.0)]


def test_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="ADE_train_00000009.jpg: neither"):
        ade_part_counts([tmp_path / "ADE_train_00000009.jpg"])
    image = _write_2016(tmp_path)
    atr = tmp_path / "ADE_train_00000001_atr.txt"
    atr.write_text(atr.read_text() + "oops, not an atr line\n")
    with pytest.raises(ValueError, match=r"_atr.txt, line 8: not an atr line"):
        ade_part_counts([image])
    _write_2016(tmp_path)
    os.remove(tmp_path / "ADE_train_00000001_parts_2.png")
    with pytest.raises(FileNotFoundError, match="level-2 instances but .*_parts_2.png is missing"):
        ade_part_counts([image])


def test_real_samples_2016_and_2021_agree():
    root = os.environ.get("ITER_REASONING_REAL_SAMPLES")
    if not root:
        pytest.skip("ITER_REASONING_REAL_SAMPLES is not set")
    ade = Path(root) / "ade20k"
    old = sorted((ade / "derived_2016_layout").rglob("*_atr.txt"))
    new = sorted((ade / "CSAILVision_ADE20K").rglob("ADE_train_*.json"))
    assert len(old) == len(new) == 3
    from_2016 = ade_part_counts([str(p).replace("_atr.txt", ".jpg") for p in old])
    from_2021 = ade_part_counts([p.with_suffix(".jpg") for p in new])
    assert from_2016 == from_2021 and sum(from_2016.values()) == 30
    assert from_2016[("wheel", "car")] == 2
