import pytest
import torch
import torch.nn.functional as F
from helpers import random_boxes
from naive_region_ops import roi_align_paste
from torchvision.ops import roi_align

from iterative_reasoning.nn import ConvGRUCell, LocalModule
from iterative_reasoning.ops import RegionGrid, grid_sizes_of


def _module(variant="paper", seed=0):
    torch.manual_seed(seed)
    cell = ConvGRUCell(4, 4, variant=variant, init_std=0.3)
    local = LocalModule(3, 5, memory_channels=4, fc_channels=6, cell=cell, init_std=0.3)
    with torch.no_grad():  # a non-zero learned initial memory, so its resize is exercised
        local.memory.init.normal_()
    return local.double()


def _naive_local(local, features, boxes, logits, steps=2):
    """One image, no padding: the write and the read from their equations, with torchvision's
    roi_align for every crop and the [R, H, W, D] paste of the original."""
    _, _, h, w = features.shape
    rois = torch.cat([torch.zeros(len(boxes), 1, dtype=torch.float64), boxes], dim=1)

    def crop(x):
        return roi_align(x, rois, 7, 1 / 16, 2, True)

    memory = F.interpolate(local.memory.init, size=(h, w), mode="bilinear", align_corners=False)
    crops = crop(features)
    cell = local.cell
    for _ in range(steps):
        tiled = (logits @ local.logit_proj.weight.t())[:, :, None, None]
        q = torch.relu(F.conv2d(crops, local.feature_proj.weight, local.feature_proj.bias) + tiled)
        x = torch.relu(F.conv2d(q, local.fuse.weight, local.fuse.bias, padding=1))
        m = crop(memory)
        wx, bx = cell.input_conv.weight, cell.input_conv.bias
        wh, wn = cell.hidden_gates.weight, cell.hidden_candidate.weight
        r = torch.sigmoid(F.conv2d(x, wx[:1], bx[:1], padding=1) + F.conv2d(m, wh[:1], padding=1))
        u = torch.sigmoid(
            F.conv2d(x, wx[1:2], bx[1:2], padding=1) + F.conv2d(m, wh[1:2], padding=1)
        )
        cand = torch.relu(F.conv2d(x, wx[2:], bx[2:], padding=1) + F.conv2d(r * m, wn, padding=1))
        delta = u * (cand - m)
        pasted = torch.stack(
            [roi_align_paste(delta[n], boxes[n], (h, w)) for n in range(len(boxes))]
        )
        count = torch.stack(
            [
                roi_align_paste(torch.ones_like(delta[n, :1]), boxes[n], (h, w))
                for n in range(len(boxes))
            ]
        )
        memory = memory + pasted.sum(0, keepdim=True) / count.sum(0, keepdim=True).clamp(min=1)
    c = [layer for layer in local.context]
    a = F.conv2d(memory, c[0].weight, c[0].bias, padding=1)
    inner = F.conv2d(torch.relu(a), c[1].weight, c[1].bias, padding=1)
    context = a + F.conv2d(torch.relu(inner), c[2].weight, c[2].bias, padding=1)
    z = local.fc(crop(context).flatten(1))
    return local.classifier(z), local.attention(z)[:, 0]


def _run(local, features, boxes, batch, sizes, logits, steps=2):
    grid = RegionGrid(boxes, batch, tuple(features.shape[2:]), grid_sizes=grid_sizes_of(sizes))
    memory = local.memory.initial(grid)
    crops = grid.crop(features)
    for _ in range(steps):
        memory = local.write(memory, crops, logits, grid)
    return local.read(memory, grid), memory, grid


def test_equals_naive_reference_inside_a_padded_batch():
    local = _module()
    gen = torch.Generator().manual_seed(1)
    sizes = torch.tensor([[100.0, 140.0], [150.0, 90.0]])  # grids 7x9 and 10x6
    features = torch.randn(2, 3, 10, 9, generator=gen, dtype=torch.float64)
    boxes, batch = random_boxes([3, 4], seed=2, size=100.0)
    boxes[:, 2:] += 20
    logits = torch.randn(7, 5, generator=gen, dtype=torch.float64)
    out, memory, grid = _run(local, features, boxes, batch, sizes, logits)
    assert not memory[0, :, 7:].any() and not memory[1, :, :, 6:].any()  # padding stays zero
    for b, (h, w) in enumerate(grid.grid_sizes.tolist()):
        keep = batch == b
        expected = _naive_local(local, features[b : b + 1, :, :h, :w], boxes[keep], logits[keep])
        torch.testing.assert_close(out.logits[keep], expected[0])
        torch.testing.assert_close(out.attention[keep], expected[1])


@pytest.mark.parametrize("corner", ["inside", "edges"])
def test_context_on_the_read_block_equals_the_context_of_the_whole_memory(corner):
    """The read computes the context convolutions on the block of cells the crops read, widened
    by one cell per convolution: the same logits, attention and gradients (memory and every
    parameter) as over the whole memory, with the block inside the grid or at its edges."""
    local = _module()
    with torch.no_grad():
        for layer in local.context:
            layer.bias.normal_()  # a wrong zero padding at the block's edges would show
    if corner == "inside":
        boxes = torch.tensor([[100.0, 80.0, 150.0, 110.0], [120.0, 90.0, 170.0, 120.0]])
    else:
        boxes = torch.tensor([[0.0, 0.0, 60.0, 50.0], [200.0, 150.0, 256.0, 192.0]])
    batch = torch.tensor([0, 1])
    sizes = torch.tensor([[192.0, 256.0], [192.0, 240.0]])  # grids 12x16 and 12x15
    grid = RegionGrid(boxes, batch, (12, 16), grid_sizes=grid_sizes_of(sizes))
    gen = torch.Generator().manual_seed(4)
    memory = torch.randn(2, 4, 12, 16, generator=gen, dtype=torch.float64, requires_grad=True)
    top, bottom, left, right = grid.read_window
    if corner == "inside":
        assert 3 < top and bottom + 3 < 12 and 3 < left and right + 3 < 16  # widened, inside

    def whole(state):
        return local._read_context(local._context(state, grid.valid_mask.double()), grid)

    runs = []
    for read in (lambda state: local.read(state, grid), whole):
        local.zero_grad()
        out = read(memory)
        (out.logits.square().sum() + out.attention.sum()).backward()
        grad = memory.grad.clone()
        memory.grad = None
        runs.append((out, grad, [p.grad.clone() for p in local.parameters() if p.grad is not None]))
    (block, block_grad, block_params), (expected, expected_grad, expected_params) = runs
    for a, b in zip(block, expected, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(block_grad, expected_grad, rtol=1e-12, atol=1e-12)
    assert len(block_params) == len(expected_params) > 0
    for a, b in zip(block_params, expected_params, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


def test_gradcheck_through_write_and_read():
    local = _module()
    boxes, batch = random_boxes([2], seed=3, size=80.0)
    grid = RegionGrid(boxes + 10, batch, (6, 6))
    gen = torch.Generator().manual_seed(0)
    crops = torch.randn(2, 3, 7, 7, generator=gen, dtype=torch.float64)
    logits = torch.randn(2, 5, generator=gen, dtype=torch.float64)
    memory = torch.randn(1, 4, 6, 6, generator=gen, dtype=torch.float64, requires_grad=True)

    def step(state):
        return local.read(local.write(state, crops, logits, grid), grid).logits

    assert torch.autograd.gradcheck(step, (memory,))


@pytest.mark.parametrize("variant", ["paper", "textbook"])
def test_every_parameter_gets_a_gradient(variant):
    local = _module(variant)
    boxes, batch = random_boxes([3, 2], seed=4, size=100.0)
    features = torch.randn(2, 3, 8, 8, dtype=torch.float64)
    out, _, _ = _run(
        local,
        features,
        boxes + 10,
        batch,
        torch.full((2, 2), 128.0),
        torch.randn(5, 5, dtype=torch.float64),
    )
    (out.logits.square().sum() + out.attention.sum()).backward()
    for name, p in local.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name


def test_region_order_and_writes_of_tiny_boxes():
    local = _module()
    boxes, batch = random_boxes([6], seed=5, size=120.0)
    boxes[:, 2:] += 16
    features = torch.randn(1, 3, 9, 9, dtype=torch.float64)
    logits = torch.randn(6, 5, dtype=torch.float64)
    sizes = torch.tensor([[140.0, 140.0]])
    perm = torch.randperm(6)
    out, memory, _ = _run(local, features, boxes, batch, sizes, logits)
    out_p, memory_p, _ = _run(local, features, boxes[perm], batch, sizes, logits[perm])
    torch.testing.assert_close(out_p.logits, out.logits[perm])
    torch.testing.assert_close(memory_p, memory)
    # A box narrower than one cell covers no cell centre: the memory is as without it.
    tiny = torch.tensor([[20.0, 20.0, 23.0, 23.0]], dtype=torch.float64)
    _, with_tiny, _ = _run(
        local,
        features,
        torch.cat([boxes, tiny]),
        torch.zeros(7, dtype=torch.long),
        sizes,
        torch.cat([logits, torch.randn(1, 5, dtype=torch.float64)]),
    )
    torch.testing.assert_close(with_tiny, memory)


def test_zero_regions_leave_the_memory_unchanged():
    local = _module()
    grid = RegionGrid(torch.zeros(0, 4), torch.zeros(0, dtype=torch.long), (5, 5), num_images=1)
    memory = local.memory.initial(grid)
    written = local.write(
        memory,
        torch.zeros(0, 3, 7, 7, dtype=torch.float64),
        torch.zeros(0, 5, dtype=torch.float64),
        grid,
    )
    torch.testing.assert_close(written, memory)
    assert local.read(written, grid).logits.shape == (0, 5)


def test_errors():
    with pytest.raises(ValueError, match="context_layers must be odd"):
        LocalModule(3, 5, context_layers=2)
    with pytest.raises(ValueError, match="cell must map 8 to 8"):
        LocalModule(3, 5, memory_channels=8, cell=ConvGRUCell(4, 4))
    local = _module()
    boxes, batch = random_boxes([2])
    grid = RegionGrid(boxes, batch, (8, 8))
    memory = local.memory.initial(grid)
    with pytest.raises(ValueError, match=r"crops must have shape \[R, D_f, P, P\] = \[2, 3"):
        local.write(memory, torch.zeros(2, 4, 7, 7), torch.zeros(2, 5), grid)
    with pytest.raises(ValueError, match=r"logits must have shape \[R, C\] = \[2, 5\]"):
        local.write(memory, torch.zeros(2, 3, 7, 7), torch.zeros(2, 4), grid)


def test_torch_compile_fullgraph_matches_eager():
    """With its region grid built (the operators' sizes depend on the boxes), the initial
    memory, a write and a read trace into one graph (the sparse products are custom
    operators): the same values and gradients as eager."""
    local = _module().float()
    boxes, batch = random_boxes([3, 4], seed=0, size=90.0, dtype=torch.float32)
    boxes[:, 2:] += 16
    sizes = torch.tensor([[100.0, 140.0], [150.0, 90.0]])
    grid = RegionGrid(boxes, batch, (10, 9), grid_sizes=grid_sizes_of(sizes)).build()
    gen = torch.Generator().manual_seed(0)
    crops = grid.crop(torch.randn(2, 3, 10, 9, generator=gen))
    logits = torch.randn(7, 5, generator=gen)

    def step(crops, logits):
        memory = local.write(local.memory.initial(grid), crops, logits, grid)
        out = local.read(memory, grid)
        return out.logits, out.attention

    runs = []
    for fn in (step, torch.compile(step, fullgraph=True)):
        local.zero_grad()
        out = fn(crops, logits)
        (out[0].square().sum() + out[1].sum()).backward()
        runs.append((out, [p.grad.clone() for p in local.parameters()]))
    (eager, eager_grads), (compiled, compiled_grads) = runs
    for a, b in zip(compiled, eager, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    for a, b in zip(compiled_grads, eager_grads, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)
