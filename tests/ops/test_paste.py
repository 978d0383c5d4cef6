import pytest
import torch
from helpers import random_boxes
from naive_region_ops import original_paste, roi_align_paste

from iterative_reasoning.ops import RegionGrid, paste_regions


def _updates(num, channels=3, size=7, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(num, channels, size, size, generator=gen, dtype=torch.float64)


def _naive(updates, boxes, batch, grid_sizes, grid, mode):
    """Materialise every region's paste ``[R, D, H, W]`` and sum, like the original."""
    num_images = grid_sizes.size(0)
    per_region = torch.zeros(updates.size(0), updates.size(1), *grid, dtype=torch.float64)
    count = torch.zeros(num_images, 1, *grid, dtype=torch.float64)
    paste = original_paste if mode == "crop_and_resize" else roi_align_paste
    for n in range(updates.size(0)):
        h, w = grid_sizes[batch[n]].tolist()
        per_region[n, :, :h, :w] = paste(updates[n], boxes[n], (h, w))
        ones = torch.ones(1, *updates.shape[2:], dtype=torch.float64)
        count[batch[n], :, :h, :w] += paste(ones, boxes[n], (h, w))
    total = torch.zeros(num_images, updates.size(1), *grid, dtype=torch.float64)
    total.index_add_(0, batch, per_region)
    return total, count


@pytest.mark.parametrize("mode", ["roi_align", "crop_and_resize"])
@pytest.mark.parametrize("counts", [[4, 3], [1], [0, 2], [6]])
def test_paste_equals_naive_reference(mode, counts):
    grid_sizes = torch.tensor([[9, 11], [7, 8]])[: len(counts)]
    boxes, batch = random_boxes(counts, seed=sum(counts), size=170.0)
    if boxes.size(0):
        boxes[0] = torch.tensor([-30.0, 40.0, 90.0, 300.0], dtype=torch.float64)  # crosses edges
    updates = _updates(boxes.size(0))
    out = paste_regions(updates, boxes, batch, (9, 11), grid_sizes=grid_sizes, mode=mode)
    total, count = _naive(updates, boxes, batch, grid_sizes, (9, 11), mode)
    torch.testing.assert_close(out.total, total, rtol=0, atol=1e-12)
    torch.testing.assert_close(out.coverage, count, rtol=0, atol=1e-12)
    assert torch.equal(out.coverage, out.coverage.round())  # an integer count of covering boxes


@pytest.mark.parametrize("mode", ["roi_align", "crop_and_resize"])
def test_paste_of_a_crop_of_a_constant_is_the_constant(mode):
    boxes = torch.tensor(
        [[0.0, 0.0, 90.0, 70.0], [30.0, 50.0, 144.0, 100.0], [60.0, 10.0, 140.0, 144.0]],
        dtype=torch.float64,
    )
    grid = RegionGrid(boxes, torch.zeros(3, dtype=torch.long), (10, 10), mode=mode)
    covered = grid.coverage > 0
    constant = torch.full((1, 2, 10, 10), 3.0, dtype=torch.float64)
    pasted = grid.paste(grid.crop(constant)) / grid.coverage.clamp(min=1)
    assert covered.any()
    torch.testing.assert_close(
        pasted[covered.expand_as(pasted)], constant[covered.expand(1, 2, 10, 10)]
    )


@pytest.mark.parametrize("mode", ["roi_align", "crop_and_resize"])
def test_box_smaller_than_a_cell_writes_nothing(mode):
    boxes = torch.tensor([[20.0, 20.0, 23.0, 23.0], [40.0, 40.0, 80.0, 80.0]])
    out = paste_regions(_updates(2).float(), boxes, torch.tensor([0, 0]), (8, 8), mode=mode)
    alone = paste_regions(_updates(2).float()[1:], boxes[1:], torch.tensor([0]), (8, 8), mode=mode)
    torch.testing.assert_close(out.total, alone.total)
    torch.testing.assert_close(out.coverage, alone.coverage)


@pytest.mark.parametrize("mode", ["roi_align", "crop_and_resize"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gradcheck(mode, seed):
    boxes, batch = random_boxes([2, 2], seed=seed, size=90.0)
    grid = RegionGrid(boxes, batch, (6, 6), output_size=3, mode=mode)
    updates = _updates(4, channels=2, size=3, seed=seed).requires_grad_()
    assert torch.autograd.gradcheck(grid.paste, (updates,))


def test_zero_regions_write_nothing():
    out = paste_regions(
        torch.zeros(0, 4, 7, 7),
        torch.zeros(0, 4),
        torch.zeros(0, dtype=torch.long),
        (5, 6),
        num_images=2,
    )
    assert out.total.shape == (2, 4, 5, 6) and not out.total.any()
    assert out.mean().shape == (2, 4, 5, 6)


def test_errors():
    boxes, batch = random_boxes([2])
    grid = RegionGrid(boxes, batch, (8, 8))
    with pytest.raises(ValueError, match=r"updates must have shape \[R, D, P, P\]"):
        grid.paste(torch.zeros(3, 4, 7, 7))
    with pytest.raises(ValueError, match="grid_size must be"):
        paste_regions(torch.zeros(2, 4, 7, 7), boxes, batch, (0, 8))
