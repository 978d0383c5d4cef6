import pytest
import torch
from helpers import random_boxes
from naive_region_ops import original_crop
from torchvision.ops import roi_align

from iterative_reasoning.ops import RegionCrop, RegionGrid, crop_regions, grid_sizes_of


def _features(num_images, channels=3, grid=(9, 11), seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(num_images, channels, *grid, generator=gen, dtype=torch.float64)


@pytest.mark.parametrize("aligned", [True, False])
@pytest.mark.parametrize("sampling_ratio", [1, 2, 3])
def test_roi_align_mode_equals_torchvision(aligned, sampling_ratio):
    features = _features(2)
    boxes, batch = random_boxes([5, 4], seed=1, size=170.0)
    boxes[0] = torch.tensor([-20.0, -10.0, 60.0, 200.0], dtype=torch.float64)  # crosses borders
    ours = crop_regions(
        features, boxes, batch, sampling_ratio=sampling_ratio, aligned=aligned, output_size=5
    )
    rois = torch.cat([batch[:, None].double(), boxes], dim=1)
    expected = roi_align(features, rois, 5, 1 / 16, sampling_ratio, aligned)
    torch.testing.assert_close(ours, expected, rtol=0, atol=1e-12)


def test_crop_and_resize_mode_equals_the_original():
    features = _features(2)
    boxes, batch = random_boxes([4, 3], seed=2, size=150.0)
    boxes[1] = torch.tensor([100.0, 90.0, 190.0, 200.0], dtype=torch.float64)  # beyond the grid
    ours = crop_regions(features, boxes, batch, mode="crop_and_resize")
    for n in range(boxes.size(0)):
        expected = original_crop(features[batch[n]], boxes[n], (9, 11), 7)
        torch.testing.assert_close(ours[n], expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("mode", ["roi_align", "crop_and_resize"])
def test_padded_batch_equals_each_image_alone(mode):
    """An image's crops read its own grid only, never the padding of a batch."""
    sizes = torch.tensor([[100.0, 140.0], [150.0, 90.0]])
    grids = grid_sizes_of(sizes)
    assert grids.tolist() == [[7, 9], [10, 6]]
    features = _features(2, grid=(10, 9))
    boxes, batch = random_boxes([4, 5], seed=3, size=160.0)
    together = crop_regions(features, boxes, batch, grid_sizes=grids, mode=mode)
    for b in range(2):
        h, w = grids[b].tolist()
        alone = crop_regions(
            features[b : b + 1, :, :h, :w],
            boxes[batch == b],
            torch.zeros(int((batch == b).sum()), dtype=torch.long),
            mode=mode,
        )
        torch.testing.assert_close(together[batch == b], alone, rtol=0, atol=1e-12)


@pytest.mark.parametrize("mode", ["roi_align", "crop_and_resize"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gradcheck(mode, seed):
    features = _features(2, channels=2, grid=(5, 6), seed=seed).requires_grad_()
    boxes, batch = random_boxes([2, 1], seed=seed, size=90.0)
    grid = RegionGrid(boxes, batch, (5, 6), output_size=3, mode=mode)
    assert torch.autograd.gradcheck(grid.crop, (features,))


def test_zero_regions_and_region_order():
    features = _features(1)
    empty = crop_regions(features, torch.zeros(0, 4), torch.zeros(0, dtype=torch.long))
    assert empty.shape == (0, 3, 7, 7)
    boxes, batch = random_boxes([6], seed=4)
    perm = torch.randperm(6)
    full = crop_regions(features, boxes, batch)
    torch.testing.assert_close(crop_regions(features, boxes[perm], batch), full[perm])


def test_float32_matches_float64():
    features = _features(1)
    boxes, batch = random_boxes([5], seed=5)
    crop = RegionCrop()
    torch.testing.assert_close(
        crop(features.float(), boxes.float(), batch),
        crop(features, boxes, batch).float(),
        rtol=1e-5,
        atol=1e-5,
    )


def test_errors():
    features = _features(1)
    boxes, batch = random_boxes([2])
    with pytest.raises(ValueError, match="mode must be one of"):
        crop_regions(features, boxes, batch, mode="nearest")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="sampling_ratio must be a positive"):
        crop_regions(features, boxes, batch, sampling_ratio=0)
    with pytest.raises(ValueError, match="boxes must have shape"):
        crop_regions(features, boxes[:, :3], batch)
    with pytest.raises(ValueError, match="x2 >= x1"):
        crop_regions(features, boxes[:, [2, 1, 0, 3]], batch)
    with pytest.raises(ValueError, match="refers to image 1"):
        crop_regions(features, boxes, torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="larger than the feature map"):
        crop_regions(features, boxes, batch, grid_sizes=torch.tensor([[20, 11]]))
    grid = RegionGrid(boxes, batch, (9, 11))
    with pytest.raises(ValueError, match=r"features must have shape \[B, D, H, W\]"):
        grid.crop(torch.zeros(1, 3, 8, 11))


def test_non_finite_features_pass_through_where_they_are_read():
    """Deliberate: the ops check shapes, not values (the head checks its inputs)."""
    features = torch.zeros(1, 1, 8, 8)
    features[0, 0, 1, 1] = float("nan")
    boxes = torch.tensor([[0.0, 0.0, 48.0, 48.0], [80.0, 80.0, 120.0, 120.0]])
    crops = crop_regions(features, boxes, torch.tensor([0, 0]), spatial_scale=1 / 16)
    assert torch.isnan(crops[0]).any() and torch.isfinite(crops[1]).all()
