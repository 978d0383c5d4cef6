import pytest
import torch
from helpers import random_boxes

from iterative_reasoning.ops import RegionGrid, crop_kernel, grid_sizes_of, paste_kernel
from iterative_reasoning.ops.region_grid import check_crop_settings


def _grid(mode="roi_align", masks=None, unchecked=False):
    boxes, batch = random_boxes([4, 3], seed=3, size=150.0)
    grid_sizes = torch.tensor([[9, 11], [7, 8]])
    options = {"grid_sizes": grid_sizes, "output_size": 5, "mode": mode, "masks": masks}
    if unchecked:
        return RegionGrid.unchecked(boxes, batch, (9, 11), **options), boxes, batch
    return RegionGrid(boxes, batch, (9, 11), **options), boxes, batch


def test_grid_sizes_of_is_the_ceiling_of_the_scaled_size():
    sizes = torch.tensor([[600, 800], [593, 17], [16, 1]])
    assert grid_sizes_of(sizes).tolist() == [[38, 50], [38, 2], [1, 1]]
    assert grid_sizes_of(sizes, 1 / 32).tolist() == [[19, 25], [19, 1], [1, 1]]


@pytest.mark.parametrize("mode", ["roi_align", "crop_and_resize"])
def test_operators_are_the_separable_products_of_the_kernels(mode):
    grid, boxes, batch = _grid(mode)
    features = torch.randn(2, 3, 9, 11, dtype=torch.float64)
    updates = torch.randn(7, 3, 5, 5, dtype=torch.float64)
    crops, pasted = grid.crop(features), grid.paste(updates)
    expected_paste = torch.zeros(2, 3, 9, 11, dtype=torch.float64)
    for r in range(7):
        rows, cols = grid.grid_sizes[batch[r]].tolist()
        lengths_y, lengths_x = torch.tensor([rows]), torch.tensor([cols])
        options = {"output_size": 5, "spatial_scale": 1 / 16, "mode": mode}
        ky = crop_kernel(boxes[r : r + 1, 1], boxes[r : r + 1, 3], lengths_y, 9, **options)[0]
        kx = crop_kernel(boxes[r : r + 1, 0], boxes[r : r + 1, 2], lengths_x, 11, **options)[0]
        expected = torch.einsum("ai,dij,cj->dac", ky, features[batch[r]], kx)
        torch.testing.assert_close(crops[r], expected, rtol=0, atol=1e-12)
        py = paste_kernel(boxes[r : r + 1, 1], boxes[r : r + 1, 3], lengths_y, 9, **options)[0]
        px = paste_kernel(boxes[r : r + 1, 0], boxes[r : r + 1, 2], lengths_x, 11, **options)[0]
        expected_paste[batch[r]] += torch.einsum("ai,dac,cj->dij", py, updates[r], px)
    torch.testing.assert_close(pasted, expected_paste, rtol=0, atol=1e-12)


def test_coverage_counts_the_pasted_boxes_and_the_masks():
    grid, _, _ = _grid()
    ones = torch.ones(7, 1, 5, 5, dtype=torch.float64)
    assert torch.equal(grid.coverage, grid.paste(ones).round().float())
    masks = torch.rand(7, 5, 5, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    masked, _, _ = _grid(masks=masks)
    torch.testing.assert_close(masked.coverage, masked.paste(ones).float())


def test_valid_mask_and_image_grids_are_each_image_s_own_grid():
    grid, _, _ = _grid()
    assert grid.image_grids == [(9, 11), (7, 8)]
    mask = grid.valid_mask
    assert mask.shape == (2, 1, 9, 11)
    assert mask[0].sum() == 99 and mask[1, 0, :7, :8].all() and mask[1].sum() == 56
    # nothing is read from or written to the padding of the second image
    assert (grid.coverage * (1 - mask)).sum() == 0


@pytest.mark.parametrize("masks", [False, True])
def test_unchecked_grid_equals_the_checked_one(masks):
    given = torch.rand(7, 5, 5, dtype=torch.float64) if masks else None
    checked, _, _ = _grid(masks=given)
    unchecked, _, _ = _grid(masks=given, unchecked=True)
    features = torch.randn(2, 4, 9, 11, dtype=torch.float64)
    updates = torch.randn(7, 4, 5, 5, dtype=torch.float64)
    assert torch.equal(checked.crop(features), unchecked.crop(features))
    assert torch.equal(checked.paste(updates), unchecked.paste(updates))
    assert torch.equal(checked.coverage, unchecked.coverage)


def test_operators_are_built_when_first_used_and_once_per_dtype():
    grid, _, _ = _grid()
    assert grid._built == {}
    grid.crop(torch.randn(2, 3, 9, 11))
    assert set(grid._built) == {"crop"}  # a head without a local module never pastes
    first = grid._operator("crop", torch.float32)
    grid.crop(torch.randn(2, 5, 9, 11))
    assert grid._operator("crop", torch.float32) is first
    assert grid.build() is grid and set(grid._built) == {"crop", "paste"}
    assert repr(grid) == "RegionGrid(regions=7, images=2, grid_size=(9, 11), output_size=5)"


@pytest.mark.parametrize("mode", ["roi_align", "crop_and_resize"])
def test_read_window_is_the_block_of_every_cell_the_crop_reads(mode):
    boxes = torch.tensor([[60.0, 40.0, 110.0, 80.0], [40.0, 70.0, 70.0, 110.0]])
    grid = RegionGrid(boxes, torch.tensor([0, 1]), (12, 14), mode=mode)
    read = grid._base("crop").to_dense().abs().sum(0).reshape(2, 12, 14) > 0
    rows, cols = read.any(dim=(0, 2)).nonzero()[:, 0], read.any(dim=(0, 1)).nonzero()[:, 0]
    expected = (int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1)
    assert grid.read_window == expected
    top, bottom, left, right = expected
    assert 0 < top and bottom < 12 and 0 < left and right < 14  # a block inside the grid
    inside = torch.zeros(2, 1, 12, 14)
    inside[:, :, top:bottom, left:right] = 1
    features = torch.randn(2, 3, 12, 14)
    assert torch.equal(grid.crop(features * inside), grid.crop(features))


def test_zero_regions():
    grid = RegionGrid(torch.zeros(0, 4), torch.zeros(0, dtype=torch.long), (4, 5), num_images=2)
    assert grid.read_window == (0, 0, 0, 0)
    assert grid.crop(torch.randn(2, 3, 4, 5)).shape == (0, 3, 7, 7)
    assert torch.equal(grid.paste(torch.zeros(0, 3, 7, 7)), torch.zeros(2, 3, 4, 5))
    assert torch.equal(grid.coverage, torch.zeros(2, 1, 4, 5))


def test_errors():
    boxes, batch = torch.tensor([[0.0, 0.0, 32.0, 32.0]]), torch.tensor([0])
    with pytest.raises(ValueError, match=r"grid_size must be \(H, W\) with H, W >= 1"):
        RegionGrid(boxes, batch, (0, 4))
    with pytest.raises(ValueError, match="is larger than the feature map"):
        RegionGrid(boxes, batch, (4, 4), grid_sizes=torch.tensor([[5, 4]]))
    with pytest.raises(ValueError, match="grid_sizes must be positive"):
        RegionGrid(boxes, batch, (4, 4), grid_sizes=torch.tensor([[0, 4]]))
    with pytest.raises(ValueError, match=r"grid_sizes must have shape \[B, 2\]"):
        RegionGrid(boxes, batch, (4, 4), grid_sizes=torch.tensor([4, 4]))
    grid = RegionGrid(boxes, batch, (4, 4))
    with pytest.raises(
        ValueError, match=r"features must have shape \[B, D, H, W\] = \[1, D, 4, 4\]"
    ):
        grid.crop(torch.randn(1, 3, 5, 4))
    with pytest.raises(
        ValueError, match=r"updates must have shape \[R, D, P, P\] = \[1, D, 7, 7\]"
    ):
        grid.paste(torch.randn(1, 3, 5, 5))
    with pytest.raises(ValueError, match="output_size must be a positive int"):
        check_crop_settings(0, 1 / 16, "roi_align", 2)
    with pytest.raises(ValueError, match="mode must be one of"):
        check_crop_settings(7, 1 / 16, "nearest", 2)
    with pytest.raises(ValueError, match="adaptive ratio"):
        check_crop_settings(7, 1 / 16, "roi_align", 0)
    with pytest.raises(ValueError, match="spatial_scale"):
        check_crop_settings(7, 0.0, "roi_align", 2)
