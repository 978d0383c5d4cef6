import pytest
import torch
from naive_region_ops import roi_align_paste

from iterative_reasoning.nn import IterativeReasoningHead, SpatialMemory
from iterative_reasoning.ops import RegionGrid, box_masks

BOXES = torch.tensor([[8.0, 8.0, 72.0, 56.0], [40.0, 24.0, 120.0, 100.0], [0.0, 0.0, 50.0, 40.0]])
BATCH = torch.tensor([0, 0, 1])


def _masks(seed=0):
    return torch.rand(3, 7, 7, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_masked_paste_equals_the_naive_paste_of_masked_updates():
    updates = torch.randn(3, 4, 7, 7, dtype=torch.float64)
    masks = _masks()
    grid = RegionGrid(BOXES, BATCH, (8, 9), masks=masks)
    want = torch.zeros(2, 4, 8, 9, dtype=torch.float64)
    coverage = torch.zeros(2, 1, 8, 9, dtype=torch.float64)
    for r in range(3):
        b = int(BATCH[r])
        want[b] += roi_align_paste(updates[r] * masks[r], BOXES[r].double(), (8, 9))
        coverage[b] += roi_align_paste(masks[r][None], BOXES[r].double(), (8, 9))
    torch.testing.assert_close(grid.paste(updates), want)
    torch.testing.assert_close(grid.coverage.double(), coverage, rtol=1e-6, atol=1e-6)


def test_full_masks_are_boxes():
    updates = torch.randn(3, 4, 7, 7, dtype=torch.float64)
    boxes_only = RegionGrid(BOXES, BATCH, (8, 9))
    full = RegionGrid(BOXES, BATCH, (8, 9), masks=torch.ones(3, 7, 7, dtype=torch.float64))
    torch.testing.assert_close(full.paste(updates), boxes_only.paste(updates))
    torch.testing.assert_close(full.coverage, boxes_only.coverage)


def test_the_memory_outside_a_mask_keeps_its_state():
    memory = SpatialMemory(2).double()
    masks = torch.zeros(3, 7, 7, dtype=torch.float64)
    masks[:, :, :3] = 1  # each region shows in the left 3 of its 7 bin columns
    grid = RegionGrid(BOXES, BATCH, (8, 9), masks=masks)
    state = torch.randn(2, 2, 8, 9, dtype=torch.float64)
    written = memory.write(state, torch.ones(3, 2, 7, 7, dtype=torch.float64), grid)
    # box 0 spans cells 0.5..4.5 in x: its right part (x cells 3, 4) at rows it alone covers
    # lies beyond its mask and beyond the other boxes
    torch.testing.assert_close(written[0, :, 0:1, 3:5], state[0, :, 0:1, 3:5])
    assert not torch.allclose(written[0, :, 0:1, 0:2], state[0, :, 0:1, 0:2])


def test_box_masks_are_area_fractions():
    full = torch.zeros(2, 32, 48)
    full[0, 8:24, 8:16] = 1  # the left half of box 0
    full[1] = 1
    boxes = torch.tensor([[8.0, 8.0, 24.0, 24.0], [0.0, 0.0, 48.0, 32.0]])
    masks = box_masks(full, boxes, output_size=4)
    assert masks.shape == (2, 4, 4)
    torch.testing.assert_close(masks[0], torch.tensor([[1.0, 1.0, 0.0, 0.0]] * 4))
    torch.testing.assert_close(masks[1], torch.ones(4, 4))


def test_a_head_with_full_masks_equals_the_paper_s_boxes():
    torch.manual_seed(0)
    head = IterativeReasoningHead.paper(
        "local", num_classes=5, feature_channels=6, memory_channels=4, fc_channels=8
    ).double()
    features = torch.randn(2, 6, 8, 9, dtype=torch.float64)
    sizes = torch.tensor([[128, 144], [64, 64]])
    logits = torch.randn(3, 5, dtype=torch.float64)
    plain = head(features, BOXES, BATCH, sizes, logits)
    full = head(features, BOXES, BATCH, sizes, logits, masks=torch.ones(3, 7, 7))
    torch.testing.assert_close(full.logits, plain.logits)
    half = torch.zeros(3, 7, 7)
    half[:, :, :3] = 1
    assert not torch.allclose(
        head(features, BOXES, BATCH, sizes, logits, masks=half).logits, plain.logits
    )


def test_mask_errors():
    with pytest.raises(ValueError, match=r"masks must have shape \[R, P, P\] = \[3, 7, 7\]"):
        RegionGrid(BOXES, BATCH, (8, 9), masks=torch.ones(3, 5, 5))
    with pytest.raises(ValueError, match="fractions in"):
        RegionGrid(BOXES, BATCH, (8, 9), masks=torch.full((3, 7, 7), 2.0))
    with pytest.raises(ValueError, match=r"masks must have shape \[R, H, W\]"):
        box_masks(torch.ones(2, 8, 8), BOXES)
