"""The readers of annotated images: COCO-format files, Visual Genome's objects.json, a
dataset's records, and the relabelling by class name."""

import json

import numpy as np
import pytest

from knowledge_graphs.builders.annotations import (
    coco_images,
    record_images,
    remap_images,
    vg_images,
)
from knowledge_graphs.builders.statistics import co_occurs_with, count_boxes


def _coco_file(tmp_path, categories, annotations, images=(1, 2)):
    data = {
        "images": [{"id": i, "file_name": f"{i}.jpg", "height": 50, "width": 50} for i in images],
        "categories": [{"id": k, "name": n} for k, n in categories],
        "annotations": [
            {"id": n, "image_id": i, "category_id": k, "bbox": b, "iscrowd": crowd, "area": 1}
            for n, (i, k, b, crowd) in enumerate(annotations, 1)
        ],
    }
    path = tmp_path / "instances.json"
    path.write_text(json.dumps(data))
    return path


def test_coco_reader(tmp_path):
    # categories in id order whatever their order in the file; crowd boxes left out; xywh
    path = _coco_file(
        tmp_path,
        [(7, "cup"), (3, "table")],
        [(1, 3, [0, 0, 10, 10], 0), (1, 7, [2, 2, 2, 2], 0), (1, 7, [0, 0, 50, 50], 1)],
    )
    names, images = coco_images(path)
    assert names == ["table", "cup"]
    got = [(labels.tolist(), boxes.tolist()) for labels, boxes in images]
    assert got == [([0, 1], [[0, 0, 10, 10], [2, 2, 4, 4]]), ([], [])]
    stats = count_boxes(coco_images(path)[1], 2)
    assert stats.place_counts["inside"] == {(1, 0): 1}
    # a file with one category gives an empty (but valid) relation
    path = _coco_file(tmp_path, [(1, "cup")], [(1, 1, [0, 0, 1, 1], 0), (2, 1, [0, 0, 2, 2], 0)])
    names, images = coco_images(path)
    assert names == ["cup"] and co_occurs_with(count_boxes(images, 1)) == []
    with pytest.raises(FileNotFoundError, match="nope.json: no such COCO annotation file"):
        coco_images(tmp_path / "nope.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"images": []}')
    with pytest.raises(ValueError, match="bad.json: not a COCO annotation file"):
        coco_images(bad)


def test_visual_genome_reader(tmp_path):
    objects = [
        {
            "image_id": 1,
            "objects": [
                {"synsets": ["tree.n.01"], "names": ["trees"], "x": 0, "y": 0, "w": 10, "h": 5},
                {"synsets": ["man.n.01"], "names": ["Man"], "x": 2, "y": 6, "w": 1, "h": 1},
                {"synsets": [], "names": ["blob"], "x": 0, "y": 0, "w": 1, "h": 1},
            ],
        },
        {"image_id": 2, "objects": []},
    ]
    path = tmp_path / "objects.json"
    path.write_text(json.dumps(objects))
    by_synset = [(la.tolist(), b.tolist()) for la, b in vg_images(path, ["man.n.01", "tree.n.01"])]
    assert by_synset == [([1, 0], [[0, 0, 10, 5], [2, 6, 3, 7]]), ([], [])]
    by_name = [la.tolist() for la, _ in vg_images(path, ["guy", "trees"], {"man": "guy"})]
    assert by_name == [[1, 0], []]


def test_remap_by_name_and_records():
    images = iter([(np.array([0, 1, 2]), np.arange(12.0).reshape(3, 4))])
    # "Traffic light" is the graph's traffic_light; "dog" is not a class: its box goes
    ((labels, boxes),) = remap_images(
        images, ["Traffic light", "dog", "car"], ["car", "traffic_light"]
    )
    assert labels.tolist() == [1, 0] and boxes.tolist() == [[0, 1, 2, 3], [8, 9, 10, 11]]
    with pytest.raises(ValueError, match="none of the 1 annotated class names"):
        next(remap_images(iter([]), ["dog"], ["car"]))

    class Record:  # what iterative_reasoning's datasets hold: background-first labels
        labels = np.array([1, 3])
        boxes = np.zeros((2, 4), np.float32)

    ((labels, boxes),) = record_images([Record()])
    assert labels.tolist() == [0, 2] and boxes.dtype == np.float64


@pytest.mark.parametrize(
    ("change", "message"),
    [
        # two images under one id once had their boxes counted as one image's
        (lambda d: d["images"][1].update(id=1), r"image ids must be unique, but \['1'\]"),
        (lambda d: d["annotations"][1].update(id=1), "annotation ids must be unique"),
        (lambda d: d["annotations"][0].update(bbox=[0, 0, float("nan"), 5]), "non-finite bbox"),
        (lambda d: d["annotations"][0].update(bbox=["0", "0", "5", "5"]), "four numbers"),
        (lambda d: d["categories"][0].update(name="__background__"), "the background class"),
        (lambda d: d["annotations"][0].update(category_id=99), "category_id 99"),
    ],
)
def test_the_coco_reader_refuses_what_would_count_wrong(tmp_path, change, message):
    path = _coco_file(
        tmp_path, [(1, "cup"), (2, "table")], [(1, 1, [0, 0, 1, 1], 0), (2, 2, [0, 0, 2, 2], 0)]
    )
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match=message):
        names, images = coco_images(path)
        list(images)
