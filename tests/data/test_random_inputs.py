import pytest
import torch

from iterative_reasoning._detection_validation import check_detector_input
from iterative_reasoning.data import random_detection_batch


def test_a_batch_in_torchvision_s_detector_format():
    gen = torch.Generator().manual_seed(0)
    images, targets = random_detection_batch(
        3, 5, size=(200, 300), boxes_per_image=6, generator=gen
    )
    check_detector_input(images, targets, num_classes=5, training=True)
    for image, target in zip(images, targets, strict=True):
        assert image.shape == (3, 200, 300) and 0 <= image.min() and image.max() <= 1
        boxes, labels = target["boxes"], target["labels"]
        assert boxes.shape == (6, 4) and labels.shape == (6,)
        sides = boxes[:, 2:] - boxes[:, :2]
        assert (sides >= 40).all() and (sides <= 120).all()
        assert (
            (boxes[:, :2] >= 0).all() and (boxes[:, 2] <= 300).all() and (boxes[:, 3] <= 200).all()
        )
        assert ((labels >= 1) & (labels <= 5)).all()


def test_the_generator_decides_the_batch():
    first = random_detection_batch(2, 4, generator=torch.Generator().manual_seed(1))
    again = random_detection_batch(2, 4, generator=torch.Generator().manual_seed(1))
    other = random_detection_batch(2, 4, generator=torch.Generator().manual_seed(2))
    assert all(torch.equal(a, b) for a, b in zip(first[0], again[0], strict=True))
    assert torch.equal(first[1][1]["boxes"], again[1][1]["boxes"])
    assert not torch.equal(first[0][0], other[0][0])
    labels = torch.cat([t["labels"] for t in random_detection_batch(50, 3)[1]])
    assert set(labels.tolist()) == {1, 2, 3}  # every class, never background


def test_errors():
    with pytest.raises(ValueError, match="must be positive and boxes_per_image non-negative"):
        random_detection_batch(0, 3)
    with pytest.raises(ValueError, match="got 1, 0 and 4"):
        random_detection_batch(1, 0)
    assert random_detection_batch(1, 3, boxes_per_image=0)[1][0]["boxes"].shape == (0, 4)
