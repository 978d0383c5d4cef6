import pytest
import torch
from helpers import random_boxes, random_relations

from iterative_reasoning.losses import reasoning_loss
from iterative_reasoning.nn import MODELS, IterativeReasoningHead

C, D_F, D_R = 6, 3, 8
SIZES = torch.tensor([[100.0, 140.0], [150.0, 90.0]])  # grids 7x9 and 10x6


def _head(model="final", seed=0, **kwargs):
    torch.manual_seed(seed)
    head = IterativeReasoningHead.paper(
        model,
        num_classes=C,
        class_relations=random_relations(C, edges=10),
        feature_channels=D_F,
        region_channels=D_R,
        memory_channels=4,
        fc_channels=8,
        hidden_channels=8,
        **kwargs,
    )
    if head.local is not None:
        with torch.no_grad():
            head.local.memory.init.normal_()
            for p in (head.local.classifier.weight, head.local.attention.weight):
                p.normal_(std=0.3)
    return head.double()


def _inputs(counts=(3, 4), seed=0):
    gen = torch.Generator().manual_seed(seed)
    boxes, batch = random_boxes(list(counts), seed=seed, size=90.0)
    boxes[:, 2:] += 16
    r = boxes.size(0)
    return (
        torch.randn(len(counts), D_F, 10, 9, generator=gen, dtype=torch.float64),
        boxes,
        batch,
        SIZES[: len(counts)],
        torch.randn(r, C, generator=gen, dtype=torch.float64),
        torch.randn(r, D_R, generator=gen, dtype=torch.float64),
    )


@pytest.mark.parametrize("model", MODELS)
def test_shapes_and_attention(model):
    head = _head(model)
    out = head(*_inputs())
    n_modules = (head.local is not None) + (head.global_ is not None)
    assert out.logits.shape == (7, C)
    assert len(head.prediction_names()) == 1 + 2 * n_modules
    for logits in (out.local_logits, out.global_logits):
        assert logits is None or logits.shape == (2, 7, C)
    if model == "no_attention":
        assert out.attention is None
        last = [x[-1] for x in (out.local_logits, out.global_logits)]
        torch.testing.assert_close(out.logits, torch.stack(last).mean(0))
    else:
        assert out.attention.shape == (1 + 2 * n_modules, 7)
        torch.testing.assert_close(out.attention.sum(0), torch.ones(7, dtype=torch.float64))
        stacked = [out.base_logits]
        for t in range(2):
            stacked += [x[t] for x in (out.local_logits, out.global_logits) if x is not None]
        expected = (out.attention[:, :, None] * torch.stack(stacked)).sum(0)
        torch.testing.assert_close(out.logits, expected)


def test_feeding_modes():
    inputs = _inputs()
    out = _head("final")(*inputs)
    torch.testing.assert_close(out.local_inputs[0], inputs[4])  # f_0 feeds both at t = 1
    torch.testing.assert_close(out.global_inputs[0], inputs[4])
    torch.testing.assert_close(out.local_inputs[1], out.global_logits[0])  # cross-feed
    torch.testing.assert_close(out.global_inputs[1], out.local_logits[0])
    own = _head("no_cross_feed")(*inputs)
    torch.testing.assert_close(own.local_inputs[1], own.local_logits[0])
    torch.testing.assert_close(own.global_inputs[1], own.global_logits[0])
    mean = _head("final", feed="mean")(*inputs)
    both = 0.5 * (mean.local_logits[0] + mean.global_logits[0])
    torch.testing.assert_close(mean.local_inputs[1], both)
    torch.testing.assert_close(mean.global_inputs[1], both)


@pytest.mark.parametrize("model", ["local", "global", "final"])
def test_two_images_together_equal_each_alone(model):
    head = _head(model)
    features, boxes, batch, sizes, logits, region = _inputs()
    together = head(features, boxes, batch, sizes, logits, region)
    for b, (h, w) in enumerate([(7, 9), (10, 6)]):
        keep = batch == b
        alone = head(
            features[b : b + 1, :, :h, :w],
            boxes[keep],
            torch.zeros(int(keep.sum()), dtype=torch.long),
            sizes[b : b + 1],
            logits[keep],
            region[keep],
        )
        for name, x in together._asdict().items():
            if x is None:
                continue
            part = x[keep] if x.dim() == 2 and name != "attention" else x[:, keep]
            torch.testing.assert_close(part, getattr(alone, name), msg=name)


def test_region_order():
    head = _head("final")
    features, boxes, batch, sizes, logits, region = _inputs((7,))
    perm = torch.randperm(7)
    out = head(features[:1], boxes, batch, sizes[:1], logits, region)
    out_p = head(features[:1], boxes[perm], batch, sizes[:1], logits[perm], region[perm])
    torch.testing.assert_close(out_p.logits, out.logits[perm])
    torch.testing.assert_close(out_p.attention, out.attention[:, perm])


@pytest.mark.parametrize("model", ["local", "global", "final"])
def test_zero_regions(model):
    head = _head(model)
    features = torch.randn(1, D_F, 7, 9, dtype=torch.float64)
    empty = torch.zeros(0, 4, dtype=torch.float64)
    out = head(
        features,
        empty,
        torch.zeros(0, dtype=torch.long),
        SIZES[:1],
        torch.zeros(0, C, dtype=torch.float64),
        torch.zeros(0, D_R, dtype=torch.float64),
    )
    assert out.logits.shape == (0, C) and out.base_logits.shape == (0, C)
    n = len(head.prediction_names())
    assert out.attention is not None and out.attention.shape == (n, 0)
    for stacked in (out.local_logits, out.global_logits, out.local_inputs, out.global_inputs):
        assert stacked is None or stacked.shape == (2, 0, C)
    assert (out.local_logits is None) == (model == "global")
    assert (out.global_logits is None) == (model == "local")
    # an empty batch trains: the loss is zero and every gradient is zero, none NaN
    loss = sum(t.sum() for t in out if t is not None)
    loss.backward()
    grads = [p.grad for p in head.parameters() if p.grad is not None]
    assert all(torch.equal(g, torch.zeros_like(g)) for g in grads)


def test_trains_every_parameter_and_the_loss_decreases():
    head = _head("final").float()
    features, boxes, batch, sizes, logits, region = (
        x.float() if x.is_floating_point() else x for x in _inputs(seed=3)
    )
    labels = torch.randint(1, C, (7,), generator=torch.Generator().manual_seed(0))
    optimizer = torch.optim.SGD(head.parameters(), lr=0.05, momentum=0.9)
    losses = []
    for step in range(40):
        optimizer.zero_grad()
        out = head(features, boxes, batch, sizes, logits, region)
        loss = reasoning_loss(out, labels, batch)
        loss.total.backward()
        if step == 0:
            for name, p in head.named_parameters():
                assert p.grad is not None and torch.isfinite(p.grad).all(), name
                assert p.grad.abs().sum() > 0, name
        optimizer.step()
        losses.append(loss.total.detach().item())
    assert losses[-1] < 0.7 * losses[0], losses


def test_global_only_head_gives_the_base_one_learned_logit():
    head = _head("global")
    assert isinstance(head.base_attention, torch.nn.Parameter)
    with torch.no_grad():
        head.base_attention.fill_(2.0)
    inputs = _inputs()
    out = head(*inputs)
    assert out.attention.shape == (3, 7)
    logits = out.attention.log()  # softmax over iterations: log-weights = logits - logsumexp
    graph = head.global_.graph(*inputs[1:4])
    a_g = torch.stack([head._reason_globally(inputs[5], x, graph)[1] for x in out.global_inputs])
    torch.testing.assert_close(logits[1:] - logits[:1], a_g - 2.0)


def test_torch_compile_matches_eager():
    head = _head("final").float().eval()
    inputs = [x.float() if x.is_floating_point() else x for x in _inputs()]
    eager = head(*inputs)
    compiled = torch.compile(head)(*inputs)
    torch.testing.assert_close(compiled.logits, eager.logits, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(compiled.attention, eager.attention, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    ("model", "options", "backend"),
    [
        ("final", {}, "inductor"),
        ("final", {"fusion": "residual", "overlaps": True}, "eager"),
        ("local", {}, "eager"),
        ("global", {}, "eager"),
        ("no_attention", {"feed": "mean"}, "eager"),
    ],
)
def test_roll_out_compiles_into_one_graph(model, options, backend):
    """In evaluation mode, :meth:`prepare` (eager: its operators' sizes depend on the boxes)
    and the rest, ``roll_out``, traced whole (``fullgraph=True``): the head's outputs.
    ``backend="eager"`` checks the trace alone; inductor its kernels too. (Compiled, the
    read of the initial memory is computed, not taken from the inference cache, hence
    float32 rounding.)"""
    head = _head(model, **options).float().eval()
    if head.fallback is not None:
        with torch.no_grad():
            head.fallback.gate.fill_(0.7)
    features, boxes, batch, sizes, base, region_features = (
        x.float() if x.is_floating_point() else x for x in _inputs()
    )
    with torch.no_grad():
        want = head(features, boxes, batch, sizes, base, region_features)
        regions = head.prepare(features, boxes, batch, sizes, region_features)
        compiled = torch.compile(head.roll_out, fullgraph=True, backend=backend)
        got = compiled(regions, base)
    for name in ("logits", "attention", "local_logits", "global_logits"):
        if getattr(want, name) is None:
            assert getattr(got, name) is None
        else:
            torch.testing.assert_close(
                getattr(got, name), getattr(want, name), rtol=1e-4, atol=1e-5
            )
    assert (want.logits - base).abs().max() > 1e-3  # the head changed the prediction


def test_errors():
    with pytest.raises(ValueError, match="model must be one of"):
        IterativeReasoningHead.paper("both", num_classes=C)
    with pytest.raises(ValueError, match="needs class_relations"):
        IterativeReasoningHead.paper("final", num_classes=C)
    with pytest.raises(ValueError, match="needs a local module, a global module or both"):
        IterativeReasoningHead(C)
    with pytest.raises(ValueError, match="num_iterations must be >= 2"):
        _head("local", num_iterations=1)
    head = _head("final")
    features, boxes, batch, sizes, logits, region = _inputs()
    with pytest.raises(ValueError, match="features have 4 channels but the local module"):
        head(torch.zeros(2, 4, 10, 9, dtype=torch.float64), boxes, batch, sizes, logits, region)
    with pytest.raises(ValueError, match=r"base_logits must have shape \[R, C\] = \[7, 6\]"):
        head(features, boxes, batch, sizes, logits[:, :5], region)
    with pytest.raises(ValueError, match=r"region_features must have shape \[R, D_r\] = \[7, 8\]"):
        head(features, boxes, batch, sizes, logits, region[:, :4])
    with pytest.raises(ValueError, match="image_sizes has 1 row"):
        head(features, boxes, batch, sizes[:1], logits, region)
    with pytest.raises(ValueError, match="larger than the feature map"):
        head(features[:, :, :5], boxes, batch, sizes, logits, region)
    with pytest.warns(UserWarning, match="outside their image"):
        _head("local")(features, boxes * 10, batch, sizes, logits, region)


@pytest.mark.parametrize(
    ("position", "value", "match"),
    [
        (0, float("nan"), "features must be finite"),
        (5, float("inf"), "region_features must be finite"),
        (3, float("inf"), "image_sizes must be finite"),
    ],
)
def test_non_finite_inputs_are_refused(position, value, match):
    inputs = list(_inputs())
    inputs[position] = inputs[position].clone()
    inputs[position].view(-1)[1] = value
    with pytest.raises(ValueError, match=match):
        _head()(*inputs)


def test_normalised_boxes_and_bad_settings_are_refused():
    inputs = list(_inputs())
    inputs[1] = inputs[1] / 200  # normalised by mistake
    with pytest.raises(ValueError, match="look normalised to"):
        _head()(*inputs)
    with pytest.raises(ValueError, match="delta must be finite and positive, got nan"):
        _head(delta=float("nan"))
    with pytest.raises(ValueError, match="spatial_scale must be finite and positive"):
        _head(spatial_scale=0.0)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_runs_under_autocast_and_in_half_precision_on_the_cpu(dtype):
    """The sparse products (crop, paste, class graph) run in float32 for half precision."""
    head = _head().float()
    inputs = [x.float() if x.is_floating_point() else x for x in _inputs()]
    with torch.no_grad():
        full = head(*inputs).logits
        with torch.autocast("cpu", dtype=dtype):
            mixed = head(*inputs).logits
        half = head.to(dtype)(*[x.to(dtype) if x.is_floating_point() else x for x in inputs])
    assert torch.isfinite(mixed).all() and half.logits.dtype == dtype
    torch.testing.assert_close(mixed.float(), full, atol=0.15, rtol=0.1)
    torch.testing.assert_close(half.logits.float(), full, atol=0.15, rtol=0.1)


def test_no_gradient_reaches_the_convnet():
    head = _head("final")
    features, boxes, batch, sizes, logits, region = _inputs()
    for t in (features, logits, region):
        t.requires_grad_(True)
    out = head(features, boxes, batch, sizes, logits, region)
    made = (out.logits, out.local_logits, out.global_logits, out.attention)  # not base_logits
    loss = sum(t.square().sum() for t in made if t is not None)
    loss.backward()
    # the head's inputs are stop-gradient: the ConvNet's map, logits and features get nothing
    assert features.grad is None and logits.grad is None and region.grad is None
    assert all(p.grad is not None for p in head.parameters())


@pytest.mark.parametrize("fast", [True, pytest.param(False, marks=pytest.mark.slow)])
def test_whole_head_gradcheck(fast):
    """The gradient of every parameter of the whole head (local and global modules, attention)
    against finite differences, in float64, on a tiny head. One iteration (T = 2): the
    predictions fed to the next iteration are stop-gradient, so later predictions depend on
    the parameters also through values that autograd treats as constants, and the fused
    logits only through the attention (tested in test_attention.py). Parameters are drawn
    away from zero so that no ReLU sits on its kink (a zero bias puts padded cells there).
    The fast mode checks random projections of the Jacobian; the slow set checks all of it."""
    from torch.func import functional_call

    torch.manual_seed(0)
    head = IterativeReasoningHead.paper(
        "final",
        num_classes=4,
        class_relations=random_relations(4, edges=4),
        feature_channels=2,
        region_channels=3,
        memory_channels=2,
        fc_channels=4,
        hidden_channels=3,
        num_iterations=2,
    ).double()
    with torch.no_grad():
        for p in head.parameters():
            p.normal_(std=0.3)
    gen = torch.Generator().manual_seed(0)
    boxes, batch = random_boxes([2, 2], seed=0, size=90.0)
    boxes[:, 2:] += 16
    inputs = (
        torch.randn(2, 2, 10, 9, generator=gen, dtype=torch.float64),
        boxes,
        batch,
        SIZES,
        torch.randn(4, 4, generator=gen, dtype=torch.float64),
        torch.randn(4, 3, generator=gen, dtype=torch.float64),
    )
    names = [n for n, _ in head.named_parameters()]
    params = tuple(p.detach().clone().requires_grad_(True) for p in head.parameters())

    def predictions(*values):
        out = functional_call(head, dict(zip(names, values, strict=True)), args=inputs)
        return out.local_logits, out.global_logits, out.attention

    assert torch.autograd.gradcheck(predictions, params, eps=1e-6, atol=1e-6, fast_mode=fast)


def test_overlaps_follow_the_global_module():
    from iterative_reasoning.nn import GlobalModule
    from iterative_reasoning.typing import OVERLAPS, SPATIAL_RELATIONS

    torch.manual_seed(0)
    relations = random_relations(C, edges=10)
    module = GlobalModule(
        D_R + C, C, relations, hidden_channels=8, spatial_relations=(*SPATIAL_RELATIONS, OVERLAPS)
    ).double()
    head = IterativeReasoningHead(C, global_=module)
    assert head.overlaps  # taken from the module: its graph has the relation it reads
    features, boxes, batch, sizes, logits, region = _inputs()
    assert ("region", OVERLAPS, "region") in module.graph(boxes, batch, sizes).edge_types
    assert head(features, boxes, batch, sizes, logits, region).logits.shape == (7, C)
    plain_module = GlobalModule(D_R + C, C, relations, hidden_channels=8)
    plain = IterativeReasoningHead(C, global_=plain_module)
    assert not plain.overlaps
    # the paper's constructor gives its global module the relation
    assert _head("final", overlaps=True).global_.spatial_relations[-1] == OVERLAPS
    assert not _head("final").overlaps


def test_the_crop_settings_are_the_crop_module():
    from iterative_reasoning.ops import RegionCrop

    head = _head("final", spatial_scale=1 / 8, crop_mode="crop_and_resize")
    assert isinstance(head.crop, RegionCrop) and head.spatial_scale == 1 / 8
    assert head.crop.mode == "crop_and_resize" and head.crop.output_size == 7
    with pytest.raises(ValueError, match="crop.output_size is 5 but the local module reads 7"):
        IterativeReasoningHead(C, local=head.local, crop=RegionCrop(5))


def _widths(head):
    local, global_ = head.local, head.global_
    return (
        local.memory_channels,
        local.fc[0].out_features,
        global_.hidden_channels,
        head.num_iterations,
        len(local.context),
    )


def test_the_light_head_takes_its_share_of_the_widths_given():
    relations = random_relations(C, edges=10)
    sizes = {"num_classes": C, "class_relations": relations}
    paper = IterativeReasoningHead.paper("final", **sizes)
    light = IterativeReasoningHead.paper("final", **sizes, size="light")
    assert _widths(paper) == (512, 4096, 512, 3, 3)
    assert _widths(light) == (256, 1024, 256, 2, 3)
    assert (
        sum(p.numel() for p in light.parameters()) < sum(p.numel() for p in paper.parameters()) / 6
    )
    # of the widths given, and a T or context layers given are kept
    given = {"memory_channels": 64, "fc_channels": 256, "hidden_channels": 128}
    small = IterativeReasoningHead.paper("final", **sizes, **given, size="light")
    assert _widths(small) == (32, 64, 64, 2, 3)
    kept = {"num_iterations": 3, "context_layers": 5}
    two = IterativeReasoningHead.paper("final", **sizes, **given, size="light", **kept)
    assert _widths(two) == (32, 64, 64, 3, 5)
    tiny = {"memory_channels": 1, "fc_channels": 3, "hidden_channels": 1}  # at least 1
    assert _widths(IterativeReasoningHead.paper("final", **sizes, **tiny, size="light"))[:3] == (
        1,
        1,
        1,
    )
    with pytest.raises(ValueError, match=r"size must be one of \('paper', 'light'\), got 'huge'"):
        IterativeReasoningHead.paper("final", **sizes, size="huge")
