import json

import pytest

from iterative_reasoning.metrics.diagnosis import (
    FALSE_POSITIVE_KINDS,
    _auc,
    diagnose_rescoring,
    diagnose_run,
    format_diagnosis,
)

pytest.importorskip("pycocotools")


def _ground_truth():
    from pycocotools.coco import COCO

    coco = COCO()
    coco.dataset = {
        "images": [{"id": 1, "width": 100, "height": 100}, {"id": 2, "width": 100, "height": 100}],
        "categories": [{"id": 1, "name": "door"}, {"id": 2, "name": "car_door"}],
        "annotations": [
            {
                "id": 1,
                "image_id": 1,
                "category_id": 1,
                "bbox": [10, 10, 20, 20],
                "area": 400,
                "iscrowd": 0,
            },
            {
                "id": 2,
                "image_id": 1,
                "category_id": 2,
                "bbox": [60, 60, 20, 20],
                "area": 400,
                "iscrowd": 0,
            },
            {
                "id": 3,
                "image_id": 2,
                "category_id": 1,
                "bbox": [10, 50, 30, 30],
                "area": 900,
                "iscrowd": 0,
            },
        ],
    }
    coco.createIndex()
    return coco


def _det(image, category, box, score):
    return {"image_id": image, "category_id": category, "bbox": box, "score": score}


BEFORE = [
    _det(1, 1, [10, 10, 20, 20], 0.9),  # true positive
    _det(1, 1, [11, 10, 20, 20], 0.3),  # duplicate of it
    _det(1, 1, [60, 60, 20, 20], 0.4),  # right box, wrong class (a car_door)
    _det(1, 2, [60, 60, 20, 20], 0.5),  # true positive
    _det(2, 1, [10, 50, 30, 30], 0.6),  # true positive
    _det(2, 1, [25, 65, 30, 30], 0.2),  # poor box (IoU about 0.14)
    _det(2, 2, [80, 0, 10, 10], 0.7),  # background
]


def test_each_false_positive_has_its_kind_and_the_scores_are_summed():
    after = [dict(d, score=d["score"] / 2) if d["bbox"] == [80, 0, 10, 10] else d for d in BEFORE]
    report = diagnose_rescoring(_ground_truth(), BEFORE, after)
    scores = report["scores"]["before"]
    assert scores["true positive"]["count"] == 3
    for kind in FALSE_POSITIVE_KINDS:
        assert scores[kind]["count"] == 1, kind
    assert scores["background"]["sum"] == pytest.approx(0.7)
    assert report["scores"]["after"]["background"]["sum"] == pytest.approx(0.35)
    assert report["duplicates"] == {"before": 1, "after": 1}
    moved = report["ranking"]["moved"]
    assert moved["common"] == len(BEFORE)
    # lowering the background detection lifts car_door's AP (its one object is outscored by it)
    assert (
        report["per_category"]["car_door"]["after"] > report["per_category"]["car_door"]["before"]
    )
    assert report["ap"]["after"]["ap50"] > report["ap"]["before"]["ap50"]
    text = format_diagnosis(report)
    assert "AP50" in text and "background" in text


def test_the_auc_against_all_pairs():
    positive, negative = [0.9, 0.5, 0.5], [0.5, 0.1, 0.95]
    import numpy as np

    pairs = [1.0 if p > n else 0.5 if p == n else 0.0 for p in positive for n in negative]
    assert _auc(np.array(positive), np.array(negative)) == pytest.approx(sum(pairs) / len(pairs))


def test_a_run_folder_is_read_from_its_files(tmp_path):
    coco = _ground_truth()
    annotations = tmp_path / "instances.json"
    dataset = dict(coco.dataset)
    dataset["annotations"] = [
        {k: v for k, v in a.items() if k not in ("area", "iscrowd")}
        for a in coco.dataset["annotations"]
    ]
    annotations.write_text(json.dumps(dataset))
    (tmp_path / "a.json").write_text(json.dumps(BEFORE))
    (tmp_path / "b.json").write_text(json.dumps(BEFORE[:3]))
    report = diagnose_run(annotations, tmp_path / "a.json", tmp_path / "b.json")
    assert report["ranking"]["moved"]["common"] == 3
    assert report["per_category"]["door"]["after"] < report["per_category"]["door"]["before"]
