import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from iterative_reasoning.data.visual_genome import VisualGenome, vg_vocabulary

IMAGES = [
    {"image_id": 1, "width": 40, "height": 30, "url": "https://x/rak248/VG_100K_2/1.jpg"},
    {"image_id": 2, "width": 50, "height": 20, "url": "https://x/rak248/VG_100K/2.jpg"},
    {"image_id": 3, "width": 10, "height": 10, "url": "https://x/rak248/VG_100K/3.jpg"},
]
OBJECTS_V12 = [
    {
        "image_id": 1,
        "objects": [
            {
                "object_id": 1,
                "x": 0,
                "y": 0,
                "w": 10,
                "h": 8,
                "names": ["tree"],
                "synsets": ["tree.n.01"],
            },
            {
                "object_id": 2,
                "x": 35,
                "y": 20,
                "w": 20,
                "h": 20,
                "names": ["Man"],
                "synsets": ["man.n.01", "person.n.01"],
            },  # two class synsets: two regions; clipped
            {
                "object_id": 3,
                "x": 39.5,
                "y": 5,
                "w": 9,
                "h": 9,
                "names": ["tree"],
                "synsets": ["tree.n.01"],
            },  # less than one pixel wide after clipping: dropped
            {"object_id": 4, "x": 5, "y": 5, "w": 5, "h": 5, "names": ["cloud"], "synsets": []},
        ],
    },
    {
        "image_id": 2,
        "objects": [
            {
                "object_id": 5,
                "x": 1,
                "y": 1,
                "w": 4,
                "h": 4,
                "names": ["trees"],
                "synsets": ["tree.n.01"],
                "merged_object_ids": [9],
            },  # v1.4 carries merged ids
        ],
    },
    {
        "image_id": 3,
        "objects": [
            {"object_id": 6, "x": 1, "y": 1, "w": 4, "h": 4, "names": ["cloud"], "synsets": []},
        ],
    },
]


def _write(root: Path, objects=OBJECTS_V12) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "image_data.json").write_text(json.dumps(IMAGES))
    (root / "objects.json").write_text(json.dumps(objects, indent=1))
    for image in IMAGES:
        folder = root / image["url"].split("/")[-2]
        folder.mkdir(exist_ok=True)
        pixels = np.zeros((image["height"], image["width"], 3), np.uint8)
        Image.fromarray(pixels).save(folder / f"{image['image_id']}.jpg")
    return root


def test_vocabulary_is_counted_by_streaming(tmp_path):
    root = _write(tmp_path)
    assert vg_vocabulary(root / "objects.json", 1) == [
        "__background__",
        "man.n.01",
        "person.n.01",
        "tree.n.01",
    ]
    assert vg_vocabulary(root / "objects.json", 2) == ["__background__", "tree.n.01"]
    assert vg_vocabulary(root / "objects.json", 2, "name", {"trees": "tree"}) == [
        "__background__",
        "cloud",
        "tree",
    ]


def test_regions_boxes_and_skips(tmp_path):
    root = _write(tmp_path)
    with pytest.warns(UserWarning, match="skipped 1 of 3 image"):
        ds = VisualGenome(root, "all", min_count=1)
    assert len(ds) == 2 and ds.skipped == 1
    first = ds.records[0]
    names = [ds.classes[i] for i in first.labels]
    assert names == ["tree.n.01", "man.n.01", "person.n.01"]
    np.testing.assert_array_equal(first.boxes, [[0, 0, 10, 8], [35, 20, 40, 30], [35, 20, 40, 30]])
    assert first.path.endswith("VG_100K_2/1.jpg")
    sample = ds[1]
    assert sample.image.shape == (3, 400, 1000) and sample.scale == 20.0  # the long side caps
    by_name = VisualGenome(
        root,
        "all",
        label_by="name",
        aliases={"trees": "tree"},
        classes=["__background__", "tree", "cloud"],
        cache_dir=tmp_path / "n",
    )
    assert [by_name.classes[i] for r in by_name.records for i in r.labels] == [
        "tree",
        "cloud",
        "tree",
        "cloud",
    ]


def test_splits(tmp_path):
    root = _write(tmp_path)
    split_file = tmp_path / "splits.json"
    split_file.write_text(json.dumps({"train": [2], "val": [1], "test": [3]}))
    ds = VisualGenome(root, "train", min_count=1, split_file=split_file)
    assert [r.image_id for r in ds.records] == ["2"]
    split_file.write_text(json.dumps({"train": [2, 77]}))
    with pytest.raises(ValueError, match="not in image_data.json, e.g. 77"):
        VisualGenome(root, "train", min_count=1, split_file=split_file, cache_dir=tmp_path / "c")


def test_bad_input(tmp_path):
    with pytest.raises(FileNotFoundError, match="objects.json is missing"):
        VisualGenome(tmp_path)
    root = _write(tmp_path / "vg")
    (root / "objects.json").write_text('[{"image_id": 1, "objects": [')
    with pytest.raises(ValueError, match="corrupted JSON"):
        VisualGenome(root, "all", classes=["__background__", "tree.n.01"])
    with pytest.raises(ValueError, match="split must be one of"):
        VisualGenome(root, "training")


REAL = os.environ.get("ITER_REASONING_REAL_SAMPLES")


@pytest.mark.skipif(not REAL, reason="ITER_REASONING_REAL_SAMPLES is not set")
@pytest.mark.parametrize("version", ["v1.0.0", "v1.2.0"])
def test_real_samples(tmp_path, version):
    source = Path(REAL) / "visual_genome" / "hf_datasets_dummy" / version
    shutil.copy(source / "image_data.json", tmp_path / "image_data.json")
    shutil.copy(source / "objects" / "objects.json", tmp_path / "objects.json")
    label_by = "name" if version == "v1.0.0" else "synset"  # v1.0 has no synsets
    ds = VisualGenome(tmp_path, "all", min_count=1, label_by=label_by)
    assert len(ds) == 5
    clock = "clock" if label_by == "name" else "clock.n.01"
    first = ds.records[0]
    boxes = first.boxes[np.asarray(first.labels) == ds.classes.index(clock)]
    np.testing.assert_array_equal(boxes[0], [421, 91, 500, 430])  # x, y, x + w, y + h


def test_caches_follow_the_files_they_summarise(tmp_path, monkeypatch):
    root = _write(tmp_path / "vg")
    monkeypatch.setenv("ITER_REASONING_CACHE", str(tmp_path / "user-cache"))
    with pytest.warns(UserWarning):
        before = VisualGenome(root, "all", min_count=1)
    assert not (root / ".cache").exists()  # the dataset's folder is left alone
    assert "man.n.01" in before.classes and len(before.records[0].labels) == 3
    edited = json.loads(json.dumps(OBJECTS_V12))
    edited[0]["objects"] = edited[0]["objects"][:1]  # image 1 keeps its tree only
    (root / "objects.json").write_text(json.dumps(edited))
    stat = (root / "objects.json").stat()
    os.utime(root / "objects.json", ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    with pytest.warns(UserWarning):
        after = VisualGenome(root, "all", min_count=1)
    assert "man.n.01" not in after.classes  # the vocabulary is counted again
    assert len(after.records[0].labels) == 1  # and the records parsed again
