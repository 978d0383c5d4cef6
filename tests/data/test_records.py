import os

import numpy as np
import pytest
import torch
from PIL import Image

from iterative_reasoning.data.records import (
    ImageRecord,
    RecordCache,
    default_cache_dir,
    file_fingerprint,
    load_sample,
    read_image,
    sibling_fingerprints,
)
from iterative_reasoning.data.transforms import flip_permutation


def _record(path, boxes=((2.0, 3.0, 10.0, 8.0),), labels=(1,), height=12, width=16):
    return ImageRecord(
        "img", str(path), height, width, np.asarray(boxes, np.float32), np.asarray(labels)
    )


def _image(path, height=12, width=16, seed=0):
    rgb = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(path)
    return rgb


def test_record_json_round_trip():
    record = _record("a.jpg", boxes=[[0, 0, 1, 1], [2, 2, 5, 6]], labels=[3, 1])
    back = ImageRecord.from_json(record.to_json())
    assert (back.image_id, back.path, back.height, back.width) == ("img", "a.jpg", 12, 16)
    assert back.boxes.dtype == np.float32 and np.array_equal(back.boxes, record.boxes)
    assert back.labels.dtype == np.int64 and back.labels.tolist() == [3, 1]
    empty = ImageRecord.from_json(dict(record.to_json(), boxes=[], labels=[]))
    assert empty.boxes.shape == (0, 4) and empty.labels.shape == (0,)


def test_record_cache_resumes_and_ignores_a_torn_line(tmp_path):
    cache = RecordCache(tmp_path / "sub" / "records.jsonl")
    parsed = []

    def parse(key):
        parsed.append(key)
        return None if key == "skip" else _record(f"{key}.jpg")

    done = cache.fill(["a", "skip"], parse)
    assert set(done) == {"a", "skip"} and done["skip"] is None
    with open(cache.path, "a") as f:
        f.write('{"key": "b", "rec')  # killed mid-write
    done = cache.fill(["a", "skip", "b", "c"], parse)
    assert parsed == ["a", "skip", "b", "c"]  # only what was not cached is parsed again
    assert done["c"].path == "c.jpg" and len(RecordCache(cache.path).load()) == 4


def test_read_image_and_its_errors(tmp_path):
    rgb = _image(tmp_path / "x.png")
    image = read_image(str(tmp_path / "x.png"))
    assert image.shape == (3, 12, 16) and image.dtype == torch.float32
    assert torch.equal(image, torch.from_numpy(rgb).permute(2, 0, 1).float() / 255)
    with pytest.raises(FileNotFoundError, match="image .*missing.png is missing"):
        read_image(str(tmp_path / "missing.png"))
    (tmp_path / "bad.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match="bad.png: not a readable image"):
        read_image(str(tmp_path / "bad.png"))


def test_load_sample_flips_swaps_labels_and_resizes(tmp_path):
    _image(tmp_path / "x.png")
    names = ["__background__", "left_arm", "right_arm"]
    record = _record(tmp_path / "x.png", labels=(1,))
    masks = torch.arange(4.0).reshape(1, 2, 2)
    plain = load_sample(record, flip_permutation(names), 0.0, 24, 100, masks=masks)
    assert plain.image.shape == (3, 24, 32) and plain.scale == 2.0
    assert plain.boxes.tolist() == [[4.0, 6.0, 20.0, 16.0]] and plain.labels.tolist() == [1]
    flipped = load_sample(record, flip_permutation(names), 1.0, 24, 100, masks=masks)
    assert flipped.boxes.tolist() == [[12.0, 6.0, 28.0, 16.0]] and flipped.labels.tolist() == [2]
    torch.testing.assert_close(flipped.image, plain.image.flip(-1), rtol=0, atol=1e-6)
    assert torch.equal(flipped.masks, masks.flip(-1))
    wrong = _record(tmp_path / "x.png", height=20)
    with pytest.raises(ValueError, match=r"the image is \(12, 16\) but its annotation \(20, 16\)"):
        load_sample(wrong, flip_permutation(names))
    assert load_sample(wrong, flip_permutation(names), check_size=False).image.shape[1:] == (
        600,
        800,
    )


def test_default_cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("ITER_REASONING_CACHE", str(tmp_path / "mine"))
    first = default_cache_dir(tmp_path / "ADE20K")
    assert first.parent == tmp_path / "mine" and first.name.startswith("ADE20K-")
    assert first != default_cache_dir(tmp_path / "other" / "ADE20K")
    monkeypatch.delenv("ITER_REASONING_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir(tmp_path / "ADE20K").parent == tmp_path / "xdg" / "iterative-reasoning"


def test_fingerprints_change_with_the_files(tmp_path):
    a = tmp_path / "a.json"
    a.write_text("1")
    before = file_fingerprint(a)
    assert file_fingerprint(a) == before
    a.write_text("12")
    assert file_fingerprint(a) != before

    folder = tmp_path / "images"
    folder.mkdir()
    for name in ("x.jpg", "x_seg.png", "x.json", "xy.jpg", "xy_seg.png"):
        (folder / name).write_text(name)
    prints = sibling_fingerprints([folder / "x.jpg", folder / "xy.jpg"])
    (folder / "xy_seg.png").write_text("changed")  # another image's file, not x's
    os.utime(folder / "xy_seg.png", ns=(1, 1))
    again = sibling_fingerprints([folder / "x.jpg", folder / "xy.jpg"])
    assert again[str(folder / "x.jpg")] == prints[str(folder / "x.jpg")]
    assert again[str(folder / "xy.jpg")] != prints[str(folder / "xy.jpg")]
    (folder / "x_parts_1.png").write_text("new part map")
    assert (
        sibling_fingerprints([folder / "x.jpg"])[str(folder / "x.jpg")]
        != prints[str(folder / "x.jpg")]
    )
