import math

import pytest
import torch
from helpers import two_images

from iterative_reasoning._detection_validation import (
    check_detection_images,
    check_detection_targets,
    check_detections,
    check_detector_input,
)

NAN = float("nan")


def test_good_images_and_targets_pass():
    images, targets = two_images()
    check_detector_input(images, targets, num_classes=3, training=True)
    check_detector_input(images, None, num_classes=3, training=False)
    check_detector_input([torch.zeros(3, 4, 4), torch.ones(3, 5, 5)], None, 3, False)  # bounds


@pytest.mark.parametrize(
    ("images", "error", "match"),
    [
        ([], ValueError, "non-empty list"),
        (torch.rand(3, 8, 8), ValueError, "non-empty list of .* got Tensor"),
        ([torch.rand(8, 8)], ValueError, r"images\[0\] must be a \[3, H, W\] RGB tensor"),
        ([torch.rand(3, 8, 8), "x"], TypeError, r"images\[1\] must be a torch.Tensor, got str"),
        ([torch.rand(4, 8, 8)], ValueError, r"got \[4, 8, 8\] \(RGBA: drop the alpha channel"),
        ([torch.rand(1, 8, 8)], ValueError, r"\(a grey image: repeat it"),
        ([torch.zeros(3, 4, 4, dtype=torch.uint8)], TypeError, r"floats in \[0, 1\].*/ 255"),
        ([torch.rand(3, 8, 8) * 255], ValueError, r"values up to .*divide it by 255"),
        ([torch.rand(3, 8, 8) - 0.5], ValueError, r"values down to .*normalised already"),
        ([torch.full((3, 8, 8), NAN)], ValueError, r"images\[0\] must be finite, got 192"),
        ([torch.zeros(3, 0, 8)], ValueError, r"images\[0\] is empty"),
    ],
)
def test_bad_images_are_named(images, error, match):
    with pytest.raises(error, match=match):
        check_detection_images(images)


def _with(targets, i, **changed):
    out = [dict(t) for t in targets]
    out[i].update(changed)
    return out


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        (lambda t: t[:1], ValueError, "a list of 2 dict"),
        (lambda t: [t[0], {"boxes": t[1]["boxes"]}], ValueError, r"targets\[1\] must be a dict"),
        (
            lambda t: _with(t, 1, boxes=torch.zeros(2, 4)),
            ValueError,
            r"boxes \[n, 4\] and labels \[n\], got \[2, 4\] and \[1\]",
        ),
        (
            lambda t: _with(t, 0, boxes=torch.tensor([[10.0, 10, NAN, 50], [1, 1, 5, 5]])),
            ValueError,
            r"targets\[0\]\['boxes'\] must be finite, got 1",
        ),
        (
            lambda t: _with(t, 0, boxes=torch.tensor([[10.0, 10, math.inf, 50], [1, 1, 5, 5]])),
            ValueError,
            "must be finite",
        ),
        (
            lambda t: _with(t, 1, boxes=torch.tensor([[50.0, 5, 10, 60]])),
            ValueError,
            r"targets\[1\]\['boxes'\] must be xyxy with x2 > x1 and y2 > y1; .* box 0",
        ),
        (
            lambda t: _with(t, 1, boxes=torch.tensor([[5.0, 5, 5, 60]])),  # no width
            ValueError,
            "x2 > x1",
        ),
        (
            lambda t: _with(t, 0, labels=torch.tensor([-1, 1])),
            ValueError,
            r"object classes 1..3 \(0 is background\), got labels from -1 to 1",
        ),
        (lambda t: _with(t, 0, labels=torch.tensor([0, 1])), ValueError, "from 0 to 1"),
        (lambda t: _with(t, 1, labels=torch.tensor([4])), ValueError, "from 4 to 4"),
        (
            lambda t: _with(t, 1, labels=torch.tensor([1.0])),
            TypeError,
            r"labels'\] must have dtype torch.int64, got torch.float32",
        ),
        (
            lambda t: _with(t, 1, boxes=torch.tensor([[1, 1, 5, 5]])),
            TypeError,
            r"boxes'\] must be floats",
        ),
    ],
)
def test_bad_targets_are_named(change, error, match):
    images, targets = two_images()
    with pytest.raises(error, match=match):
        check_detection_targets(change(targets), 2, num_classes=3)


def test_empty_targets_pass_and_no_class_count_means_no_upper_bound():
    check_detection_targets(
        [{"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.long)}], 1, 3
    )
    _, targets = two_images()
    check_detection_targets(_with(targets, 1, labels=torch.tensor([99])), 2)


def _found(boxes, scores, labels=None):
    boxes = torch.tensor(boxes, dtype=torch.float).reshape(-1, 4)
    labels = torch.ones(len(boxes), dtype=torch.long) if labels is None else labels
    return {"boxes": boxes, "labels": labels, "scores": torch.tensor(scores)}


@pytest.mark.parametrize(
    ("found", "error", "match"),
    [
        (
            _found([[0.0, 0, 5, 5]], [NAN]),
            ValueError,
            r"detections\[0\]\['scores'\] must be finite",
        ),
        (_found([[0.0, 0, NAN, 5]], [0.5]), ValueError, r"\['boxes'\] must be finite"),
        (_found([[0.0, 0, math.inf, 5]], [0.5]), ValueError, r"\['boxes'\] must be finite"),
        (_found([[6.0, 0, 5, 5]], [0.5]), ValueError, "x2 >= x1 and y2 >= y1; 1 box.* box 0"),
        (
            _found([[0.0, 0, 5, 5]], [0.5, 0.4]),
            ValueError,
            r"\['scores'\] must have shape \[1\]",
        ),
        (
            _found([[0.0, 0, 5, 5]], [0.5], labels=torch.tensor([1.0])),
            TypeError,
            "labels'] must be integers",
        ),
        ({"boxes": torch.zeros(0, 4)}, ValueError, r"lacks \['labels', 'scores'\]"),
    ],
)
def test_bad_detections_are_named(found, error, match):
    with pytest.raises(error, match=match):
        check_detections([found], 1)


def test_good_detections_pass():
    check_detections([_found([[0.0, 0, 5, 5], [1, 1, 1, 1]], [0.9, 0.1]), _found([], [])], 2)
    with pytest.raises(ValueError, match="a list of 2 dict"):
        check_detections([_found([], [])], 2)
