import pytest
import torch
from helpers import image_sizes, naive_spatial, random_boxes, random_probs, random_relations

from iterative_reasoning.graph import ClassRelations, build_reasoning_graph, reasoning_metadata
from iterative_reasoning.nn import GlobalModule, GlobalReasoningConv
from iterative_reasoning.nn.global_conv import most_regions

C, D_R, D = 6, 5, 4


def naive_global(module, x, boxes, batch, probs, relations, num_images):
    """The three equations, image by image, with dense matrices built by loops (float64)."""
    conv = module.conv
    dense_rel = []
    for name in relations.names:
        a = torch.zeros(C, C, dtype=torch.float64)
        index, weight = relations.edges[name]
        for (s, t), w in zip(index.t().tolist(), weight.tolist(), strict=True):
            a[t, s] += w
        dense_rel.append(a / a.sum(1, keepdim=True).clamp_min(1e-14))
    logits, attention = [], []
    for b in range(num_images):
        idx = (batch == b).nonzero().flatten()
        xb, pb = x[idx], probs[idx]
        g = torch.zeros(idx.numel(), D, dtype=torch.float64)
        if conv.spatial:
            adj = naive_spatial(boxes[idx], torch.zeros(idx.numel(), dtype=torch.long))
            for e, name in enumerate(conv.spatial_relations):
                g = g + adj[name] @ xb @ conv.spatial_weight[e]
        if conv.semantic:
            to_class = (pb / pb.sum(0, keepdim=True).clamp_min(1e-14)).t()
            to_region = pb / pb.sum(1, keepdim=True).clamp_min(1e-14)
            h = torch.relu(
                to_class @ xb @ conv.assign_weight + module.class_embedding @ conv.class_weight
            )
            g_c = sum(a @ h @ w for a, w in zip(dense_rel, conv.relation_weight, strict=True))
            g = g + torch.relu(to_region @ g_c @ conv.rev_assign_weight)
        g = torch.relu(g)
        logits.append(g @ module.classifier.weight.t() + module.classifier.bias)
        mean = g.mean(-1, keepdim=True)
        var = (g - mean).pow(2).mean(-1, keepdim=True)
        attention.append((g - mean) / torch.sqrt(var + 1e-5) @ module.attention.weight[0])
    order = torch.cat([(batch == b).nonzero().flatten() for b in range(num_images)])
    out_logits = torch.zeros(x.size(0), C, dtype=torch.float64)
    out_att = torch.zeros(x.size(0), dtype=torch.float64)
    out_logits[order] = torch.cat(logits)
    out_att[order] = torch.cat(attention)
    return out_logits, out_att


def setup(counts, seed=0, overlaps=False, **kwargs):
    torch.manual_seed(seed)
    boxes, batch = random_boxes(counts, seed=seed)
    probs = random_probs(boxes.size(0), C, seed=seed)
    rel = random_relations(C, num_relations=3, seed=seed)
    relations = ("left_of", "right_of", "above", "below") + (("overlaps",) if overlaps else ())
    module = GlobalModule(
        D_R, C, rel, hidden_channels=D, spatial_relations=relations, **kwargs
    ).double()
    graph = build_reasoning_graph(
        boxes, batch, image_sizes(len(counts)), probs, rel, overlaps=overlaps
    )
    x = torch.randn(boxes.size(0), D_R, dtype=torch.float64)
    return module, x, graph, (boxes, batch, probs, rel)


def reference_twin(module):
    """The module with the PyG reference layer in place of the fast one, same parameters."""
    fast = module.conv
    metadata = reasoning_metadata(fast.class_relations, fast.spatial_relations)
    conv = GlobalReasoningConv(D_R, D, metadata, C, fast.class_channels).double()
    twin = GlobalModule(D_R, C, module.class_relations, hidden_channels=D, conv=conv).double()
    twin.load_state_dict(module.state_dict())
    return twin


@pytest.mark.parametrize("counts", [[4, 3], [1], [0], [3, 0, 2], [7]])
@pytest.mark.parametrize(("spatial", "semantic"), [(True, True), (True, False), (False, True)])
@pytest.mark.parametrize("overlaps", [False, True])
def test_fast_equals_reference_equals_naive(counts, spatial, semantic, overlaps):
    module, x, graph, (boxes, batch, probs, rel) = setup(
        counts, seed=sum(counts), overlaps=overlaps, spatial=spatial, semantic=semantic
    )
    fast = module(x, graph, probs)
    reference = reference_twin(module)(x, graph, probs)
    naive_logits, naive_att = naive_global(module, x, boxes, batch, probs, rel, len(counts))
    torch.testing.assert_close(fast.logits, reference.logits, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(fast.attention, reference.attention, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(fast.logits, naive_logits, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(fast.attention, naive_att, rtol=1e-10, atol=1e-12)
    assert fast.logits.shape == (sum(counts), C) and fast.attention.shape == (sum(counts),)
    assert fast.features.shape == (sum(counts), D)


def test_gradients_of_fast_and_reference_agree():
    module, x, graph, _ = setup([4, 2, 3], seed=1, overlaps=True)
    x.requires_grad_(True)
    grads = {}
    for name, which in (("fast", module), ("reference", reference_twin(module))):
        x.grad = None
        out = which(x, graph)
        (out.logits.square().sum() + out.attention.sum()).backward()
        grads[name] = {n: p.grad.clone() for n, p in which.named_parameters()}
        grads[name]["x"] = x.grad.clone()
    for name, grad in grads["fast"].items():
        torch.testing.assert_close(grad, grads["reference"][name], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gradcheck_fast_path(seed):
    module, x, _, (boxes, batch, probs, rel) = setup([3, 2], seed=seed)
    x.requires_grad_(True)
    probs = probs.clone().requires_grad_(True)

    graph = build_reasoning_graph(boxes, batch, image_sizes(2), probs, rel, edge_lists=False)

    def fn(x, probs):
        out = module(x, graph, probs)
        return out.logits, out.attention

    assert torch.autograd.gradcheck(fn, (x, probs))


def test_every_parameter_gets_a_finite_gradient():
    torch.manual_seed(0)
    boxes, batch = random_boxes([5, 3], dtype=torch.float32)
    rel = random_relations(C, dtype=torch.float32)
    module = GlobalModule(
        D_R,
        C,
        rel,
        hidden_channels=D,
        spatial_relations=("left_of", "right_of", "above", "below", "overlaps"),
    )
    graph = build_reasoning_graph(
        boxes, batch, image_sizes(2), random_probs(8, C, dtype=torch.float32), rel, overlaps=True
    )
    out = module(torch.randn(8, D_R), graph)
    (out.logits.sum() + out.attention.sum()).backward()
    for name, param in module.named_parameters():
        assert param.grad is not None, name
        assert bool(torch.isfinite(param.grad).all()), name
        assert float(param.grad.abs().sum()) > 0, name


def test_two_images_together_equal_one_by_one():
    module, x, graph, (boxes, batch, probs, rel) = setup([4, 3], seed=5)
    together = module(x, graph)
    for b in range(2):
        idx = batch == b
        single = build_reasoning_graph(
            boxes[idx],
            torch.zeros(int(idx.sum()), dtype=torch.long),
            image_sizes(1),
            probs[idx],
            rel,
        )
        alone = module(x[idx], single)
        torch.testing.assert_close(together.logits[idx], alone.logits, rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(together.attention[idx], alone.attention, rtol=1e-10, atol=1e-12)


def test_region_order_does_not_matter():
    module, x, graph, (boxes, batch, probs, rel) = setup([5, 4], seed=6)
    out = module(x, graph)
    perm = torch.cat([torch.randperm(5), 5 + torch.randperm(4)])  # keeps batch sorted
    permuted = build_reasoning_graph(boxes[perm], batch[perm], image_sizes(2), probs[perm], rel)
    out_perm = module(x[perm], permuted)
    torch.testing.assert_close(out_perm.logits, out.logits[perm], rtol=1e-10, atol=1e-12)


def test_zero_regions():
    module, x, graph, _ = setup([0, 0])
    out = module(x, graph)
    assert out.logits.shape == (0, C) and out.attention.shape == (0,)
    (out.logits.sum() + out.attention.sum()).backward()  # through an empty batch
    # ... which gives every parameter a zero gradient, none NaN
    grads = [p.grad for p in module.parameters()]
    assert grads and all(g is not None and torch.equal(g, torch.zeros_like(g)) for g in grads)


def test_class_embedding_initialisation_reset_and_repr():
    rel = random_relations(C)
    init = torch.randn(C, 9)
    module = GlobalModule(D_R, C, rel, hidden_channels=D, class_embedding=init)
    assert module.conv.class_channels == 9
    torch.testing.assert_close(module.class_embedding.data, init)
    with torch.no_grad():
        module.class_embedding.zero_()
    module.reset_parameters()  # puts the given embedding back
    torch.testing.assert_close(module.class_embedding.data, init)
    assert "initial_class_embedding" not in module.state_dict()
    assert repr(module) == "GlobalModule(5, 4, num_classes=6, spatial=True, semantic=True)"


def test_float32_fast_matches_float64():
    module, x, graph, _ = setup([4, 3], seed=7)
    expected = module(x, graph).logits
    module32 = module.float()
    got = module32(x.float(), graph, graph["region"].class_probs.float()).logits
    torch.testing.assert_close(got.double(), expected, rtol=1e-4, atol=1e-5)


def test_torch_compile_fullgraph_matches_eager():
    """On the graph's dictionaries, with the most regions of an image given, the fast module
    traces into one graph (the class graph and the spatial edges go through custom sparse
    operators; nothing reads a value on the host): the same values and gradients as eager."""
    module, x, graph, (boxes, batch, probs, rel) = setup([4, 3], seed=8)
    module, x, probs = module.float(), x.float(), probs.float()
    graph = build_reasoning_graph(boxes.float(), batch, image_sizes(2), probs, rel)
    args = (graph.edge_index_dict, graph.edge_weight_dict, 2)
    most = most_regions(batch, 2)

    def run(x):
        out = module.reason_on(x, *args, max_regions=most)
        return out.logits, out.attention

    results = []
    for fn in (run, torch.compile(run, fullgraph=True)):
        module.zero_grad()
        leaf = x.clone().requires_grad_(True)
        logits, attention = fn(leaf)
        (logits.square().sum() + attention.sum()).backward()
        grads = [p.grad.clone() for p in module.parameters()] + [leaf.grad]
        results.append(((logits, attention), grads))
    (eager, eager_grads), (compiled, compiled_grads) = results
    for a, b in zip(compiled, eager, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    for a, b in zip(compiled_grads, eager_grads, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


def test_errors():
    module, x, graph, (boxes, batch, probs, rel) = setup([3])
    with pytest.raises(ValueError, match=r"x must have shape \[R, D_r\] = \[3, 5\]"):
        module(x[:, :4], graph)
    with pytest.raises(TypeError, match="HeteroData"):
        module(x, {"region": None})
    with pytest.raises(ValueError, match="x must be finite"):
        module(x.clone().fill_(float("nan")), graph)
    lists_off = build_reasoning_graph(boxes, batch, image_sizes(1), probs, rel, edge_lists=False)
    with pytest.raises(ValueError, match="edge_lists=True"):
        reference_twin(module)(x, lists_off)
    other = ClassRelations(C, {"other": torch.tensor([[0], [1]])})
    foreign = build_reasoning_graph(boxes, batch, image_sizes(1), probs, other)
    with pytest.raises(ValueError, match="lacks the edge type"):
        module(x, foreign)
    with pytest.raises(ValueError, match=r"class_probs must have shape \[R, C\] = \[3, 6\]"):
        module(x, graph, probs[:2])
    with pytest.raises(ValueError, match="7 classes but the class graph has 6"):
        module(x, graph, random_probs(3, C + 1))
    bare = build_reasoning_graph(boxes, batch, image_sizes(1), probs, rel)
    del bare["region", "assigned_to", "class"].edge_weight
    with pytest.raises(ValueError, match="give class_probs"):
        module(x, bare)
    with pytest.raises(ValueError, match="conv maps 5 to 4 channels"):
        GlobalModule(D_R, C, rel, hidden_channels=8, conv=module.conv)
    with pytest.raises(ValueError, match="class_relations has 6 classes but num_classes is 7"):
        GlobalModule(D_R, C + 1, rel)
    with pytest.raises(ValueError, match="at least one of spatial and semantic"):
        GlobalModule(D_R, C, rel, spatial=False, semantic=False)
    with pytest.raises(ValueError, match="hidden_channels must be a positive int"):
        GlobalModule(D_R, C, rel, hidden_channels=0)
    with pytest.raises(ValueError, match=r"class_embedding must have shape \[C, D_c\]"):
        GlobalModule(D_R, C, rel, class_embedding=torch.zeros(C + 1, 3))
    with pytest.raises(ValueError, match="class_channels is 4 but class_embedding has 3"):
        GlobalModule(D_R, C, rel, class_channels=4, class_embedding=torch.zeros(C, 3))
    with pytest.raises(ValueError, match="no relation"):
        GlobalModule(D_R, C, ClassRelations(C, {}))


def test_a_given_layer_keeps_its_parameters():
    rel = random_relations(C)
    conv = GlobalReasoningConv(D_R, D, reasoning_metadata(rel.names), C)
    before = {k: v.clone() for k, v in conv.state_dict().items()}
    module = GlobalModule(D_R, C, rel, hidden_channels=D, conv=conv)
    assert module.conv is conv
    assert all(torch.equal(v, conv.state_dict()[k]) for k, v in before.items())
    module.reset_parameters()  # resets the layer too
    assert not torch.equal(before["assign_weight"], conv.assign_weight.detach())


def test_a_state_dict_with_the_class_embedding_in_the_layer_loads():
    """Checkpoints written when the layer held the class embedding
    (``conv.class_embedding``) load into the module that holds it now."""
    module, *_ = setup([2], seed=9)
    state = module.state_dict()
    old = {("conv." + k if k == "class_embedding" else k): v for k, v in state.items()}
    assert "conv.class_embedding" in old and "class_embedding" not in old
    twin, *_ = setup([2], seed=10)
    twin.load_state_dict(old)
    for name, value in state.items():
        assert torch.equal(twin.state_dict()[name], value), name
