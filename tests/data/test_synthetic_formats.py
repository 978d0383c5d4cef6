import json

import pytest
from PIL import Image

from iterative_reasoning.data.ade20k import ADE20K
from iterative_reasoning.data.coco import COCODataset
from iterative_reasoning.data.synthetic import SyntheticScenes, class_names, render, tier
from iterative_reasoning.data.synthetic.hard import CLASSES
from iterative_reasoning.data.synthetic.hard import class_names as hard_class_names
from iterative_reasoning.data.synthetic_formats import write_ade2016, write_coco


def test_the_easy_tier_in_ade_format_loads_through_the_ade_loader(tmp_path):
    root = write_ade2016(tmp_path / "syn", {"train": 3, "mtest": 2}, seed=7)
    assert (root / "objectnames.txt").read_text().startswith("- \nbuilding \ncar \ncar door \n")
    loaded = ADE20K(root, "train", classes=class_names(), cache_dir=tmp_path / "cache")
    direct = SyntheticScenes(3, seed=7)
    assert len(loaded) == 3
    for index in range(3):
        got, want = loaded.records[index], direct.record(index)
        order_got = sorted(zip(got.labels.tolist(), got.boxes.tolist(), strict=True))
        order_want = sorted(zip(want.labels.tolist(), want.boxes.tolist(), strict=True))
        assert order_got == order_want  # the same regions, parts (doors) included
    test = ADE20K(root, "mtest", classes=class_names(), cache_dir=tmp_path / "cache")
    assert len(test) == 2 and test.records[0].image_id == "ADE_val_00000001"
    image = test[0].image
    assert image.shape[1:] == (600, 600)  # the paper's resize applies


def test_the_hard_tier_in_both_formats_loads_back(tmp_path):
    root = write_ade2016(tmp_path / "ade", {"train": 3, "mtest": 2}, seed=7, benchmark="hard")
    loaded = ADE20K(root, "train", classes=hard_class_names(), cache_dir=tmp_path / "cache")
    direct = SyntheticScenes(3, seed=7, benchmark="hard")
    assert direct.classes == hard_class_names()
    for index in range(3):
        got, want = loaded.records[index], direct.record(index)
        order_got = sorted(zip(got.labels.tolist(), got.boxes.tolist(), strict=True))
        order_want = sorted(zip(want.labels.tolist(), want.boxes.tolist(), strict=True))
        assert order_got == order_want
    coco = write_coco(tmp_path / "coco", {"train": 2}, seed=7, benchmark="hard")
    payload = json.loads((coco / "annotations" / "instances_train.json").read_text())
    assert [c["name"] for c in payload["categories"]] == list(CLASSES)
    first = [a for a in payload["annotations"] if a["image_id"] == 1]
    assert len(first) == len(direct.record(0).labels)
    with pytest.raises(ValueError, match="benchmark must be one of"):
        tier("medium")


def test_the_easy_tier_in_coco_format_has_the_rendered_pixels_and_regions(tmp_path):
    root = write_coco(tmp_path / "coco", {"train": 2, "test": 1}, seed=3)
    payload = json.loads((root / "annotations" / "instances_train.json").read_text())
    assert [c["name"] for c in payload["categories"]] == class_names()[1:]
    assert [i["file_name"] for i in payload["images"]] == ["train/000000.png", "train/000001.png"]
    direct = SyntheticScenes(2, seed=3)
    for index in range(2):
        pixels = Image.open(root / "images" / "train" / f"{index:06d}.png")
        assert pixels.tobytes() == render(3, index)[0].tobytes()  # lossless
        mine = [a for a in payload["annotations"] if a["image_id"] == index + 1]
        assert len(mine) == len(direct.record(index).labels)
    test = json.loads((root / "annotations" / "instances_test.json").read_text())
    first_test = test["annotations"][0]["id"]
    assert first_test == len(payload["annotations"]) + 1  # ids unique over the splits
    dataset = COCODataset(root / "images", root / "annotations" / "instances_train.json")
    assert len(dataset) == 2


def test_each_split_has_its_own_seed(tmp_path):
    root = write_ade2016(tmp_path / "ade", {"train": 1, "mtest": 1}, seed=4)
    train = (root / "images/training/s/synthetic_scene/ADE_train_00000001.jpg").read_bytes()
    test = (root / "images/validation/s/synthetic_scene/ADE_val_00000001.jpg").read_bytes()
    assert train != test
    again = write_ade2016(tmp_path / "again", {"mtest": 1}, seed=5)  # the test split alone
    assert (again / "images/validation/s/synthetic_scene/ADE_val_00000001.jpg").read_bytes() == test
