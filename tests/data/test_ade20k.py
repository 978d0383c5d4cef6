import os
import shutil
from pathlib import Path

import pytest
import torch
from ade_fixtures import write_2016, write_2021

from iterative_reasoning.data.ade20k import ADE20K, ade_vocabulary


def _labelled(ds, record):
    return sorted(
        (ds.classes[label], tuple(box))
        for label, box in zip(record.labels.tolist(), record.boxes.tolist(), strict=True)
    )


EXPECTED = [  # count >= 5 keeps all but "rare thing"; boxes are [x1, y1, x2 + 1, y2 + 1]
    ("building", (15.0, 6.0, 20.0, 10.0)),
    ("car", (2.0, 10.0, 14.0, 18.0)),
    ("left_arm", (20.0, 8.0, 24.0, 13.0)),
    ("sky", (0.0, 0.0, 30.0, 6.0)),
    ("wheel", (3.0, 15.0, 7.0, 18.0)),
]


def test_vocabulary_of_the_paper(tmp_path):
    write_2016(tmp_path)
    assert ade_vocabulary(tmp_path) == [
        "__background__",
        "building",
        "car",
        "left_arm",
        "right_arm",
        "sky",
        "wheel",
    ]
    shipped = ade_vocabulary(None)
    assert len(shipped) == 1485 and shipped[0] == "__background__"


def test_2016_release(tmp_path):
    write_2016(tmp_path)
    ds = ADE20K(tmp_path, "train", cache_dir=tmp_path / "cache")
    assert ds.release == "2016" and len(ds) == 1 and ds.skipped == 0
    assert _labelled(ds, ds.records[0]) == EXPECTED
    sample = ds[0]
    assert sample.image.shape == (3, 600, 900) and sample.scale == 30.0
    torch.testing.assert_close(sample.boxes, torch.tensor(ds.records[0].boxes) * 30)


def test_2021_release_gives_the_same_regions(tmp_path):
    write_2021(tmp_path)
    ds = ADE20K(tmp_path, "train", classes=ade_vocabulary(_names(tmp_path)))
    assert ds.release == "2021" and len(ds) == 1
    # the occluded corner pixel (128) is not visible: those boxes lose their first row/column
    got = dict((n, b) for n, b in _labelled(ds, ds.records[0]))
    assert got["car"] == (2.0, 10.0, 14.0, 18.0)  # (x1, y1) is occluded; row/col still visible
    assert set(got) == {n for n, _ in EXPECTED}


def _names(tmp_path: Path) -> Path:
    folder = tmp_path / "names"
    write_2016(folder)
    return folder


def test_flip_swaps_left_and_right(tmp_path):
    write_2016(tmp_path)
    ds = ADE20K(tmp_path, "train", hflip_prob=1.0, min_size=20, max_size=30)
    sample = ds[0]
    names = [ds.classes[i] for i in sample.labels.tolist()]
    assert "right_arm" in names and "left_arm" not in names
    arm = sample.boxes[names.index("right_arm")].tolist()
    assert arm == [30.0 - 24.0, 8.0, 30.0 - 20.0, 13.0]


def test_interrupted_parsing_resumes_from_the_cache(tmp_path, monkeypatch):
    write_2016(tmp_path)
    cache = tmp_path / "cache"
    ADE20K(tmp_path, "train", cache_dir=cache)
    (cache_file,) = cache.iterdir()
    text = cache_file.read_text()
    cache_file.write_text(text + '{"key": "torn')  # a kill in the middle of a line

    def parsed_again(self, image):
        raise AssertionError(f"{image} was parsed again")

    monkeypatch.setattr(ADE20K, "_parse", parsed_again)
    ds = ADE20K(tmp_path, "train", cache_dir=cache)  # parsed records are not read again
    assert _labelled(ds, ds.records[0]) == EXPECTED


def test_an_edited_annotation_is_parsed_again(tmp_path, monkeypatch):
    write_2016(tmp_path)
    cache = tmp_path / "cache"
    first = ADE20K(tmp_path, "train", cache_dir=cache)
    assert len(first.records[0].labels) == len(EXPECTED)
    atr = tmp_path / "images/training/s/street/ADE_train_00000001_atr.txt"
    lines = atr.read_text().splitlines()
    atr.write_text(lines[0] + "\n")  # from several regions to one
    os.utime(atr, ns=(atr.stat().st_atime_ns, atr.stat().st_mtime_ns + 10**9))
    again = ADE20K(tmp_path, "train", cache_dir=cache)
    assert len(again.records[0].labels) == 1


def test_the_default_cache_is_the_user_s_not_the_dataset_s(tmp_path, monkeypatch):
    root = tmp_path / "ade"
    write_2016(root)
    monkeypatch.setenv("ITER_REASONING_CACHE", str(tmp_path / "user-cache"))
    ADE20K(root, "train")
    assert not (root / ".cache").exists()
    (folder,) = (tmp_path / "user-cache").iterdir()
    assert folder.name.startswith("ade-") and list(folder.glob("ade20k_*.jsonl"))


def test_bad_input_names_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="is not a directory"):
        ADE20K(tmp_path / "missing")
    write_2016(tmp_path)
    (tmp_path / "mtest.txt").write_text("images/validation/x/ADE_val_00000001.jpg\n")
    with pytest.raises(FileNotFoundError, match=r"mtest.txt, line 1: .* has no annotation"):
        ADE20K(tmp_path, "mtest")
    with pytest.raises(FileNotFoundError, match="no split file"):
        ADE20K(tmp_path, "mval")
    atr = tmp_path / "images/training/s/street/ADE_train_00000001_atr.txt"
    atr.write_text(atr.read_text() + "garbage line\n")
    with pytest.raises(ValueError, match=r"_atr.txt, line 7: not an atr line"):
        ADE20K(tmp_path, "train", cache_dir=tmp_path / "c1")
    write_2016(tmp_path)
    (tmp_path / "images/training/s/street/ADE_train_00000001_seg.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match="_seg.png: not a readable PNG"):
        ADE20K(tmp_path, "train", cache_dir=tmp_path / "c2")


def test_images_without_regions_are_counted_and_skipped(tmp_path):
    write_2016(tmp_path)
    with pytest.raises(ValueError, match="none of the 1 image"):
        ADE20K(tmp_path, "train", classes=["__background__", "unicorn"], cache_dir=tmp_path / "c")
    second = tmp_path / "images/training/s/street/ADE_train_00000002"
    for suffix in (".jpg", "_seg.png", "_parts_1.png"):
        shutil.copyfile(f"{second.with_name('ADE_train_00000001')}{suffix}", f"{second}{suffix}")
    (second.parent / "ADE_train_00000002_atr.txt").write_text('001 # 0 # 0 # x # rare thing # ""\n')
    with open(tmp_path / "train.txt", "a") as f:
        f.write("images/training/s/street/ADE_train_00000002.jpg\n")
    with pytest.warns(UserWarning, match="skipped 1 of 2 image"):
        ds = ADE20K(tmp_path, "train", cache_dir=tmp_path / "c3")
    assert len(ds) == 1 and ds.skipped == 1


REAL = os.environ.get("ITER_REASONING_REAL_SAMPLES")


@pytest.mark.skipif(not REAL, reason="ITER_REASONING_REAL_SAMPLES is not set")
def test_real_samples_in_both_releases(tmp_path):
    derived = Path(REAL) / "ade20k" / "derived_2016_layout"
    shutil.copytree(derived / "images", tmp_path / "images")
    folder = tmp_path / "images" / "training" / "s" / "street"
    names = sorted(p.name.replace("_atr.txt", ".jpg") for p in folder.glob("*_atr.txt"))
    (tmp_path / "train.txt").write_text("".join(f"images/training/s/street/{n}\n" for n in names))
    old = ADE20K(tmp_path, "train", cache_dir=tmp_path / "c")
    record = {r.image_id: r for r in old.records}["ADE_train_00016964"]
    assert (record.height, record.width) == (1467, 2200)
    boxes = _labelled(old, record)
    # the documented boxes (inclusive xyxy in the docs; here x2 + 1, y2 + 1)
    assert ("road", (1528.0, 1204.0, 1916.0, 1426.0)) in boxes
    assert ("building", (11.0, 6.0, 498.0, 1366.0)) in boxes
    assert ("van", (1637.0, 490.0, 2200.0, 1358.0)) in boxes
    assert ("street_light", (2033.0, 313.0, 2137.0, 541.0)) in boxes
    assert ("metal_shutters", (141.0, 433.0, 271.0, 1159.0)) in boxes  # a level-1 part
    new = ADE20K(
        Path(REAL) / "ade20k" / "CSAILVision_ADE20K" / "ADE20K_2021_17_01",
        "train",
        cache_dir=tmp_path / "c21",
    )
    same = sum(
        len(set(_labelled(old, a)) & set(_labelled(new, b)))
        for a, b in zip(old.records, new.records, strict=True)
    )
    assert [len(r.labels) for r in new.records] == [70, 37, 32]
    assert same == 136  # of 139: three objects with parts differ slightly in extent
