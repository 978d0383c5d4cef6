import math

import pytest
import torch

from iterative_reasoning.ops import crop_kernel, paste_kernel


def _naive_roi_align_axis(low, high, length, grid_length, p, scale, ratio, aligned):
    """One axis of torchvision's roi_align kernel, sample by sample (its bilinear_interpolate:
    a sample beyond [-1, length] reads 0, one in [-1, 0] reads cell 0, one past the last cell
    reads the last)."""
    kernel = torch.zeros(p, grid_length, dtype=torch.float64)
    offset = 0.5 if aligned else 0.0
    start = low * scale - offset
    extent = high * scale - offset - start
    if not aligned:
        extent = max(extent, 1.0)
    bin_size = extent / p
    for a in range(p):
        for s in range(ratio):
            y = start + a * bin_size + (s + 0.5) * bin_size / ratio
            if y < -1.0 or y > length:
                continue
            y = max(y, 0.0)
            lo = math.floor(y)
            if lo >= length - 1:
                lo = hi = length - 1
                y = float(lo)
            else:
                hi = lo + 1
            kernel[a, lo] += (1 - (y - lo)) / ratio
            kernel[a, hi] += (y - lo) / ratio
    return kernel


def _naive_crop_and_resize_axis(low, high, length, grid_length, p, scale):
    """One axis of the original's align-corners crop: sample ``a`` at ``start + a * step``."""
    kernel = torch.zeros(p, grid_length, dtype=torch.float64)
    start, end = low * scale, high * scale
    for a in range(p):
        y = start + a * (end - start) / (p - 1) if p > 1 else 0.5 * (start + end)
        if y < 0 or y > length - 1:
            continue
        lo, hi = math.floor(y), math.ceil(y)
        kernel[a, lo] += 1 - (y - lo)
        if hi != lo:
            kernel[a, hi] += y - lo
    return kernel


BOXES = [(-20.0, 60.0), (0.0, 16.0), (30.0, 31.0), (100.0, 180.0), (150.0, 400.0)]


@pytest.mark.parametrize("aligned", [True, False])
@pytest.mark.parametrize("ratio", [1, 2, 3])
def test_roi_align_kernel_equals_torchvision_s_sampling(aligned, ratio):
    low = torch.tensor([b[0] for b in BOXES], dtype=torch.float64)
    high = torch.tensor([b[1] for b in BOXES], dtype=torch.float64)
    lengths = torch.tensor([12, 12, 9, 12, 10])  # each region's own grid inside a padded 12
    kernel = crop_kernel(low, high, lengths, 12, 5, 1 / 16, "roi_align", ratio, aligned)
    assert kernel.shape == (5, 5, 12)
    for r, (lo, hi) in enumerate(BOXES):
        expected = _naive_roi_align_axis(lo, hi, int(lengths[r]), 12, 5, 1 / 16, ratio, aligned)
        torch.testing.assert_close(kernel[r], expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("p", [1, 4, 7])
def test_crop_and_resize_kernel_equals_the_original_s_sampling(p):
    low = torch.tensor([b[0] for b in BOXES], dtype=torch.float64)
    high = torch.tensor([b[1] for b in BOXES], dtype=torch.float64)
    lengths = torch.tensor([12, 12, 9, 12, 10])
    kernel = crop_kernel(low, high, lengths, 12, p, 1 / 16, "crop_and_resize")
    for r, (lo, hi) in enumerate(BOXES):
        expected = _naive_crop_and_resize_axis(lo, hi, int(lengths[r]), 12, p, 1 / 16)
        torch.testing.assert_close(kernel[r], expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("mode", ["roi_align", "crop_and_resize"])
def test_paste_kernel_covers_the_box_once_and_nothing_else(mode):
    gen = torch.Generator().manual_seed(0)
    low = torch.rand(20, generator=gen, dtype=torch.float64) * 150 - 20
    high = low + torch.rand(20, generator=gen, dtype=torch.float64) * 120 + 1
    lengths = torch.randint(6, 13, (20,), generator=gen)
    kernel = paste_kernel(low, high, lengths, 12, 7, 1 / 16, mode)
    assert kernel.shape == (20, 7, 12) and (kernel >= 0).all()
    cells = torch.arange(12, dtype=torch.float64)
    offset = 0.5 if mode == "roi_align" else 0.0
    start, end = low[:, None] / 16 - offset, high[:, None] / 16 - offset
    inside = (cells >= start) & (cells <= end) & (cells < lengths[:, None])
    column_sums = kernel.sum(1)
    torch.testing.assert_close(column_sums[inside], torch.ones_like(column_sums[inside]))
    assert (column_sums[~inside] == 0).all()


def test_paste_kernel_reads_the_update_at_each_cell_s_position_in_the_box():
    # crop_and_resize: the box [32, 96] px is cells [2, 6]; with P = 5 the crop cells sit on
    # grid cells 2..6, so the paste is the identity there
    kernel = paste_kernel(
        torch.tensor([32.0], dtype=torch.float64),
        torch.tensor([96.0], dtype=torch.float64),
        torch.tensor([10]),
        10,
        5,
        1 / 16,
        "crop_and_resize",
    )
    assert torch.equal(kernel[0, :, 2:7], torch.eye(5, dtype=torch.float64))
    assert (kernel[0, :, :2] == 0).all() and (kernel[0, :, 7:] == 0).all()


def test_gradients_are_not_needed_but_dtypes_follow_the_boxes():
    low, high = torch.tensor([0.0]), torch.tensor([64.0])
    for kernel in (crop_kernel, paste_kernel):
        out = kernel(low, high, torch.tensor([8]), 8, 7, 1 / 16)
        assert out.dtype == torch.float32
        out64 = kernel(low.double(), high.double(), torch.tensor([8]), 8, 7, 1 / 16)
        torch.testing.assert_close(out.double(), out64, rtol=0, atol=1e-6)
