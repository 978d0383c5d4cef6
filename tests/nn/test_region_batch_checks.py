"""region_batch: what it packs and what it refuses."""

import pytest
import torch

from iterative_reasoning.nn import region_batch
from iterative_reasoning.ops import rescale_boxes


def test_boxes_per_image_become_a_batch_vector():
    boxes = [
        torch.tensor([[0.0, 0.0, 50.0, 50.0], [10.0, 10.0, 90.0, 60.0]]),
        torch.zeros(0, 4),
        torch.tensor([[5.0, 5.0, 30.0, 40.0]]),
    ]
    rb = region_batch(
        torch.zeros(3, 4, 8, 8), boxes, [(128, 128)] * 3, base_logits=torch.zeros(3, 5)
    )
    assert rb.batch.tolist() == [0, 0, 2]
    assert rb.boxes.shape == (3, 4) and rb.region_features is None


def test_a_classifier_can_produce_logits_and_region_features():
    calls = []

    def classifier(features, boxes, batch, sizes):
        calls.append((features.shape, boxes.shape, batch.tolist(), sizes.tolist()))
        return torch.ones(boxes.size(0), 5), torch.ones(boxes.size(0), 7)

    rb = region_batch(
        torch.zeros(1, 4, 8, 8),
        torch.tensor([[0.0, 0.0, 50.0, 50.0]]),
        [(128, 128)],
        classifier=classifier,
    )
    assert calls == [((1, 4, 8, 8), (1, 4), [0], [[128.0, 128.0]])]
    assert rb.base_logits.shape == (1, 5) and rb.region_features.shape == (1, 7)


def test_wrong_coordinate_frames_are_caught():
    features = torch.zeros(1, 4, 38, 50)
    with pytest.raises(ValueError, match="look normalised"):
        region_batch(
            features,
            torch.tensor([[0.1, 0.1, 0.5, 0.6]]),
            [(600, 800)],
            base_logits=torch.zeros(1, 3),
        )
    original = torch.tensor([[100.0, 100.0, 1500.0, 1100.0]])  # in a 1200 x 1600 original
    with pytest.raises(ValueError, match="rescale_boxes"):
        region_batch(features, original, [(600, 800)], base_logits=torch.zeros(1, 3))
    rescaled = rescale_boxes(original, (1200, 1600), (600, 800))
    packed = region_batch(features, rescaled, [(600, 800)], base_logits=torch.zeros(1, 3))
    torch.testing.assert_close(packed.boxes, torch.tensor([[50.0, 50.0, 750.0, 550.0]]))
    assert packed.batch.tolist() == [0] and packed.image_sizes.tolist() == [[600, 800]]


def test_feature_stride_is_checked():
    with pytest.raises(ValueError, match="is spatial_scale the stride"):
        region_batch(
            torch.zeros(1, 4, 19, 25),
            torch.zeros(0, 4),
            [(600, 800)],
            base_logits=torch.zeros(0, 3),
        )
    packed = region_batch(
        torch.zeros(1, 4, 19, 25),
        torch.zeros(0, 4),
        [(600, 800)],
        base_logits=torch.zeros(0, 3),
        spatial_scale=1 / 32,
    )
    assert packed.boxes.shape == (0, 4) and packed.batch.shape == (0,)
    assert packed.base_logits.shape == (0, 3) and packed.features.shape == (1, 4, 19, 25)


def test_errors():
    features = torch.zeros(2, 4, 8, 8)
    box = torch.tensor([[0.0, 0.0, 50.0, 50.0]])
    with pytest.raises(ValueError, match="give batch"):
        region_batch(features, box, [(128, 128)] * 2, base_logits=torch.zeros(1, 3))
    with pytest.raises(ValueError, match="boxes has 1 entries for 2 images"):
        region_batch(features, [box], [(128, 128)] * 2, base_logits=torch.zeros(1, 3))
    with pytest.raises(ValueError, match="give base_logits or a classifier"):
        region_batch(features, [box, box], [(128, 128)] * 2)
    with pytest.raises(ValueError, match="base_logits must have shape"):
        region_batch(features, [box, box], [(128, 128)] * 2, base_logits=torch.zeros(1, 3))
    with pytest.raises(ValueError, match="image_sizes has 1 row"):
        region_batch(features, [box, box], [(128, 128)], base_logits=torch.zeros(2, 3))
    two = torch.cat([box, box])
    logits = torch.zeros(2, 3)
    # once taken: an unsorted batch, and one that points past the images
    with pytest.raises(ValueError, match="batch must be sorted"):
        region_batch(
            features, two, [(128, 128)] * 2, batch=torch.tensor([1, 0]), base_logits=logits
        )
    with pytest.raises(ValueError, match=r"batch refers to image 2 but only 2 image\(s\)"):
        region_batch(
            features, two, [(128, 128)] * 2, batch=torch.tensor([0, 2]), base_logits=logits
        )
    with pytest.raises(ValueError, match=r"batch must have shape \[R\] = \[2\]"):
        region_batch(features, two, [(128, 128)] * 2, batch=torch.tensor([0]), base_logits=logits)
