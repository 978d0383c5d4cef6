import json

import numpy as np
import pytest
import torch
from pycocotools import mask as coco_mask

from iterative_reasoning.data.coco import _index
from iterative_reasoning.metrics.detection import coco_results, evaluate_coco

CATEGORIES = [{"id": 3, "name": "car"}, {"id": 8, "name": "door"}, {"id": 21, "name": "mouse"}]


def _ground_truth(masks=False):
    """Three 64 x 80 images with known boxes (non-contiguous category ids); image 3 is empty."""
    images = [{"id": i, "file_name": f"{i}.png", "height": 64, "width": 80} for i in (1, 2, 3)]
    boxes = {
        1: [(3, [4, 4, 30, 20]), (8, [40, 10, 20, 40])],
        2: [(21, [10, 30, 12, 10]), (3, [50, 2, 28, 30]), (8, [2, 2, 10, 50])],
    }
    annotations, next_id = [], 1
    for image_id, items in boxes.items():
        for category, (x, y, w, h) in items:
            ann = {
                "id": next_id,
                "image_id": image_id,
                "category_id": category,
                "bbox": [x, y, w, h],
            }
            if masks:
                mask = np.zeros((64, 80), np.uint8, order="F")
                mask[y : y + h, x : x + w] = 1
                rle = coco_mask.encode(mask)
                ann["segmentation"] = {"size": rle["size"], "counts": rle["counts"].decode()}
            annotations.append(ann)
            next_id += 1
    data = {"images": images, "annotations": annotations, "categories": CATEGORIES}
    return _index(data), boxes


def _perfect(boxes, masks=False):
    """torchvision-format detections equal to the ground truth (labels 1..3 for ids 3, 8, 21)."""
    label_of = {3: 1, 8: 2, 21: 3}
    detections = []
    for image_id in (1, 2, 3):
        items = boxes.get(image_id, [])
        xyxy = torch.tensor(
            [[x, y, x + w, y + h] for _, (x, y, w, h) in items], dtype=torch.float
        ).reshape(-1, 4)
        found = {
            "boxes": xyxy,
            "labels": torch.tensor([label_of[c] for c, _ in items], dtype=torch.long),
            "scores": torch.linspace(0.9, 0.5, len(items)),
        }
        if masks:
            m = torch.zeros(len(items), 1, 64, 80)
            for i, (_, (x, y, w, h)) in enumerate(items):
                m[i, 0, y : y + h, x : x + w] = 0.9
            found["masks"] = m
        detections.append(found)
    return detections


CATEGORY_ID_OF = {1: 3, 2: 8, 3: 21}


def test_results_format_and_loadres():
    coco, boxes = _ground_truth()
    results = coco_results(_perfect(boxes), [1, 2, 3], CATEGORY_ID_OF)
    assert len(results) == 5
    assert results[0] == {
        "image_id": 1,
        "category_id": 3,
        "bbox": [4.0, 4.0, 30.0, 20.0],
        "score": pytest.approx(0.9),
    }
    json.dumps(results)  # a results file
    loaded = coco.loadRes(results)  # pycocotools accepts it
    assert len(loaded.getAnnIds()) == 5


def test_a_perfect_prediction_scores_one_and_a_shuffled_one_less():
    coco, boxes = _ground_truth()
    perfect = evaluate_coco(coco, coco_results(_perfect(boxes), [1, 2, 3], CATEGORY_ID_OF))
    assert perfect.ap == pytest.approx(1.0) and perfect.ap50 == pytest.approx(1.0)
    assert perfect.ap_of == pytest.approx({"car": 1.0, "door": 1.0, "mouse": 1.0})
    assert perfect.ap_small == pytest.approx(1.0)  # every object is under 32 x 32 pixels
    assert perfect.ap_medium == -1 and perfect.ap_large == -1  # nothing to measure
    shuffled = _perfect(boxes)
    shuffled[1]["labels"] = shuffled[1]["labels"][[1, 2, 0]]  # image 2's labels permuted
    worse = evaluate_coco(coco, coco_results(shuffled, [1, 2, 3], CATEGORY_ID_OF))
    assert worse.ap < 0.7
    assert worse.ap_of["mouse"] == 0.0
    assert worse.as_percent()["ap"] == pytest.approx(100 * worse.ap)


def test_known_partial_answers():
    coco, boxes = _ground_truth()
    detections = _perfect(boxes)
    # a confident false positive of "car" on the empty image, above both true cars
    detections[2] = {
        "boxes": torch.tensor([[0.0, 0.0, 30.0, 30.0]]),
        "labels": torch.tensor([1]),
        "scores": torch.tensor([0.99]),
    }
    metrics = evaluate_coco(coco, coco_results(detections, [1, 2, 3], CATEGORY_ID_OF))
    # car: precision 1/2 at recall 1/2, 2/3 at recall 1 -> the interpolated AP is 2/3
    assert metrics.ap_of["car"] == pytest.approx(2 / 3, abs=0.01)
    assert metrics.ap_of["door"] == pytest.approx(1.0)


def test_masks_are_scored_as_segm():
    coco, boxes = _ground_truth(masks=True)
    results = coco_results(_perfect(boxes, masks=True), [1, 2, 3], CATEGORY_ID_OF)
    assert all(isinstance(r["segmentation"]["counts"], str) for r in results)
    metrics = evaluate_coco(coco, results, "segm")
    assert metrics.ap == pytest.approx(1.0) and metrics.iou_type == "segm"


def test_no_detection_scores_zero():
    coco, _ = _ground_truth()
    metrics = evaluate_coco(coco, [])
    assert metrics.ap == 0.0 and metrics.ap50 == 0.0
    assert metrics.ap_of == {"car": 0.0, "door": 0.0, "mouse": 0.0}


def test_errors():
    coco, boxes = _ground_truth()
    results = coco_results(_perfect(boxes), [1, 2, 3], CATEGORY_ID_OF)
    with pytest.raises(ValueError, match="image ids that the ground truth does not have: \\[9\\]"):
        evaluate_coco(coco, [{**results[0], "image_id": 9}])
    with pytest.raises(ValueError, match="category ids .* \\[1\\]"):
        evaluate_coco(coco, [{**results[0], "category_id": 1}])
    with pytest.raises(ValueError, match="iou_type must be one of"):
        evaluate_coco(coco, results, "keypoints")
    with pytest.raises(ValueError, match="needs a 'segmentation'"):
        evaluate_coco(coco, results, "segm")
    with pytest.raises(ValueError, match="3 image\\(s\\) but image_ids 2"):
        coco_results(_perfect(boxes), [1, 2], CATEGORY_ID_OF)
    with pytest.raises(ValueError, match="lacks \\['scores'\\]"):
        coco_results([{"boxes": torch.zeros(0, 4), "labels": torch.zeros(0)}], [1], {})


def test_background_and_unknown_labels_are_left_out():
    results = coco_results(
        [
            {
                "boxes": torch.tensor([[0.0, 0.0, 5.0, 5.0]] * 2),
                "labels": torch.tensor([0, 1]),
                "scores": torch.tensor([0.5, 0.4]),
            }
        ],
        [7],
        [None, 12],  # a sequence indexed by label; label 0 maps to nothing
    )
    assert [r["category_id"] for r in results] == [12]


def test_a_nan_or_infinite_box_or_score_is_refused_not_scored():
    """A NaN box once scored AP 1.0: COCOeval takes it without a word."""
    coco, boxes = _ground_truth()
    detections = _perfect(boxes)
    results = coco_results(detections, [1, 2, 3], CATEGORY_ID_OF)
    for key, value in (("boxes", float("nan")), ("boxes", float("inf")), ("scores", float("nan"))):
        bad = [{k: v.clone() for k, v in d.items()} for d in detections]
        bad[0][key].view(-1)[0] = value
        with pytest.raises(ValueError, match=rf"detections\[0\]\['{key}'\] must be finite"):
            coco_results(bad, [1, 2, 3], CATEGORY_ID_OF)
    for change, match in (
        ({"bbox": [float("nan"), 0.0, 5.0, 5.0]}, r"results\[0\]\['bbox'\] must be"),
        ({"bbox": [0.0, 0.0, -5.0, 5.0]}, "width and height not negative"),
        ({"bbox": ["1", "2", "3", "4"]}, "four finite numbers"),
        ({"score": float("inf")}, r"results\[0\]\['score'\] must be a finite number"),
    ):
        with pytest.raises(ValueError, match=match):
            evaluate_coco(coco, [{**results[0], **change}, *results[1:]])
