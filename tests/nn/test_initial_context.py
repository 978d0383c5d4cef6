import pytest
import torch
from helpers import random_boxes

from iterative_reasoning.nn import ConvGRUCell, LocalModule
from iterative_reasoning.nn.initial_context import InitialContextCache
from iterative_reasoning.ops import RegionGrid, grid_sizes_of

# Grids 7x9, 10x6 and 7x9 again: two images share a size, and the batch is padded to 10x9.
SIZES = torch.tensor([[100.0, 140.0], [150.0, 90.0], [110.0, 130.0]])


def _module(seed=0):
    torch.manual_seed(seed)
    cell = ConvGRUCell(4, 4, init_std=0.3)
    local = LocalModule(3, 5, memory_channels=4, fc_channels=6, cell=cell, init_std=0.3)
    with torch.no_grad():
        local.memory.init.normal_()
        for layer in local.context:
            layer.bias.normal_()  # biases make the zero padding's edges differ from the inside
    return local.double()


def _grid(counts=(3, 4, 2), sizes=SIZES):
    boxes, batch = random_boxes(list(counts), seed=1, size=90.0)
    boxes[:, 2:] += 16
    return RegionGrid(boxes, batch, (10, 9), grid_sizes=grid_sizes_of(sizes[: len(counts)]))


def _reference(local, grid):
    """The read of the initial memory as every later read: context convolutions over the
    padded batch, autograd on (so nothing is kept)."""
    return local.read(local.memory.initial(grid), grid)


def test_equals_the_read_of_the_initial_memory_in_every_mode():
    local, grid = _module(), _grid()
    expected = _reference(local, grid)
    with torch.no_grad():
        first = local.read_initial(grid)
        assert len(local.initial_context) == 2  # 7x9 once for two images, and 10x6
        second = local.read_initial(grid)
    with torch.inference_mode():
        third = local.read_initial(grid)
    for out in (first, second, third):
        for a, b in zip(out, expected, strict=True):
            torch.testing.assert_close(a, b.detach(), rtol=1e-12, atol=1e-12)


def test_with_autograd_nothing_is_kept_and_every_parameter_gets_its_gradient():
    local, grid = _module(), _grid()
    out = local.read_initial(grid)
    assert len(local.initial_context) == 0
    (out.logits.square().sum() + out.attention.sum()).backward()
    for p in (local.memory.init, *local.context.parameters()):
        assert p.grad is not None and p.grad.abs().sum() > 0
    memory = local.memory.initial(grid)  # the head's own S_0, which it then writes
    given = local.read_initial(grid, memory)
    assert memory.requires_grad and len(local.initial_context) == 0
    torch.testing.assert_close(given.attention, local.read(memory, grid).attention)


def test_a_parameter_changed_in_any_way_empties_the_cache():
    local, grid = _module(), _grid()
    with torch.no_grad():
        before = local.read_initial(grid).attention
        local.context[1].weight.data.mul_(-2.0)  # .data: no version bump to rely on
        after = local.read_initial(grid).attention
    torch.testing.assert_close(after, _reference(local, grid).attention.detach())
    assert not torch.allclose(before, after)
    local.load_state_dict(_module(seed=5).state_dict())
    with torch.no_grad():
        loaded = local.read_initial(grid).attention
    torch.testing.assert_close(loaded, _reference(local, grid).attention.detach())
    with torch.no_grad():
        as_float = local.float().read_initial(grid).attention
    assert as_float.dtype == torch.float32


def test_region_order_and_batch_composition():
    local, grid = _module(), _grid()
    boxes = grid._boxes.to(torch.float64)
    shuffled = torch.randperm(boxes.size(0), generator=torch.Generator().manual_seed(0))
    order = torch.argsort(grid.batch * boxes.size(0) + shuffled)  # within each image
    permuted = RegionGrid(boxes[order], grid.batch[order], (10, 9), grid_sizes=grid.grid_sizes)
    second = grid.batch == 1  # the 10x6 image alone, on its own unpadded grid
    alone = RegionGrid(
        boxes[second], grid.batch[second] - 1, (10, 6), grid_sizes=grid.grid_sizes[1:2]
    )
    with torch.no_grad():
        batched = local.read_initial(grid).attention
        torch.testing.assert_close(local.read_initial(permuted).attention, batched[order])
        torch.testing.assert_close(local.read_initial(alone).attention, batched[second])


def test_the_least_recently_used_sizes_are_dropped():
    cache = InitialContextCache(max_sizes=2)
    calls = []

    def compute(size):
        calls.append(size)
        return torch.zeros(1, 1, *size)

    parameters = [torch.ones(3)]
    with torch.no_grad():
        cache.contexts([(2, 3), (4, 5)], parameters, compute)
        cache.contexts([(2, 3)], parameters, compute)  # (2, 3) now the most recent
        cache.contexts([(6, 7)], parameters, compute)  # drops (4, 5)
        cache.contexts([(2, 3), (4, 5)], parameters, compute)
    assert calls == [(2, 3), (4, 5), (6, 7), (4, 5)]
    assert len(cache) == 2


def test_errors():
    with pytest.raises(ValueError, match="max_sizes must be positive, got 0"):
        InitialContextCache(max_sizes=0)
