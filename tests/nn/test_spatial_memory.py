import pytest
import torch
import torch.nn.functional as F
from helpers import random_boxes

from iterative_reasoning.nn.spatial_memory import SpatialMemory
from iterative_reasoning.ops import RegionGrid


def _grid(counts=(3, 2)):
    boxes, batch = random_boxes(list(counts), seed=2, size=120.0)
    boxes[:, 2:] += 20
    return RegionGrid(boxes, batch, (9, 10), grid_sizes=torch.tensor([[9, 10], [6, 7]]))


def test_initial_state_is_the_learned_tensor_resized_to_each_image_and_zero_on_padding():
    memory = SpatialMemory(channels=3, init_size=(4, 5)).double()
    with torch.no_grad():
        memory.init.normal_()
    state = memory.initial(_grid())
    assert state.shape == (2, 3, 9, 10)
    for b, (rows, cols) in enumerate([(9, 10), (6, 7)]):
        expected = F.interpolate(memory.init, size=(rows, cols), mode="bilinear")
        torch.testing.assert_close(state[b : b + 1, :, :rows, :cols], expected, rtol=0, atol=0)
    assert (state[1, :, 6:] == 0).all() and (state[1, :, :, 7:] == 0).all()


def test_initial_state_is_zero_at_initialisation_and_for_no_image():
    memory = SpatialMemory(channels=2)
    assert (memory.initial(_grid()) == 0).all()
    empty = RegionGrid(torch.zeros(0, 4), torch.zeros(0, dtype=torch.long), (3, 3), num_images=0)
    assert memory.initial(empty).shape == (0, 2, 3, 3)


def test_write_averages_over_the_covering_boxes_and_leaves_the_rest():
    grid = _grid()
    memory = SpatialMemory(channels=2).double()
    state = torch.randn(2, 2, 9, 10, dtype=torch.float64)
    updates = torch.randn(5, 2, 7, 7, dtype=torch.float64)
    written = memory.write(state, updates, grid)
    # naive: each box's pasted update alone, summed, divided by the count of covering boxes
    total = torch.zeros_like(state)
    count = torch.zeros(2, 1, 9, 10, dtype=torch.float64)
    for r in range(5):
        keep = torch.zeros(5, 1, 1, 1, dtype=torch.float64)
        keep[r] = 1
        pasted = grid.paste(updates * keep)
        total += pasted
        count += (grid.paste(torch.ones(5, 1, 7, 7, dtype=torch.float64) * keep) > 0).double()
    expected = state + total / count.clamp(min=1)
    torch.testing.assert_close(written, expected, rtol=1e-12, atol=1e-12)
    untouched = grid.coverage.expand_as(state) == 0
    assert torch.equal(written[untouched], state[untouched])


def test_read_is_the_crop_of_the_memory():
    grid = _grid()
    state = torch.randn(2, 4, 9, 10)
    assert torch.equal(SpatialMemory(4).read(state, grid), grid.crop(state))


def test_gradcheck_and_the_initial_state_gets_a_gradient():
    grid = _grid()
    memory = SpatialMemory(channels=2).double()
    with torch.no_grad():
        memory.init.normal_()
    updates = torch.randn(5, 2, 7, 7, dtype=torch.float64, requires_grad=True)
    state = torch.randn(2, 2, 9, 10, dtype=torch.float64, requires_grad=True)

    def run(state, updates):
        return memory.read(memory.write(state, updates, grid), grid)

    assert torch.autograd.gradcheck(run, (state, updates))
    run(memory.initial(grid), updates).square().sum().backward()
    assert memory.init.grad is not None and memory.init.grad.abs().sum() > 0


def test_errors_and_repr():
    with pytest.raises(ValueError, match="channels must be positive, got 0"):
        SpatialMemory(channels=0)
    assert repr(SpatialMemory(8)) == "SpatialMemory(channels=8, init_size=(20, 20))"
