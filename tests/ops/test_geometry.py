"""The geometry between an image and the network input."""

import pytest
import torch

from iterative_reasoning.ops import pad_images, rescale_boxes, resized_shape


def test_resize_helpers():
    assert resized_shape(480, 640) == (600, 800, 1.25)
    h, w, s = resized_shape(300, 1500)
    assert w == 1000 and h == 200 and s == pytest.approx(2 / 3)
    boxes = torch.tensor([[10.0, 20.0, 30.0, 40.0]])
    back = rescale_boxes(rescale_boxes(boxes, (480, 640), (600, 800)), (600, 800), (480, 640))
    torch.testing.assert_close(back, boxes)
    images, sizes = pad_images([torch.ones(3, 20, 30), torch.ones(3, 33, 10)])
    assert images.shape == (2, 3, 48, 32) and sizes.tolist() == [[20, 30], [33, 10]]
    assert images[0, :, 20:].abs().sum() == 0
    with pytest.raises(ValueError, match="positive"):
        rescale_boxes(boxes, (0, 10), (10, 10))
