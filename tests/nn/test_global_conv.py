"""The graph layer's PyG reference and its fast subclass: equal values and gradients (in the
style of PyG's ``test_rgcn_conv_equality``), on any HeteroData with the schema."""

import pytest
import torch
from helpers import image_sizes, random_boxes, random_probs, random_relations
from torch_geometric.data import Batch, HeteroData

from iterative_reasoning.graph import (
    assignment_weights,
    build_reasoning_graph,
    reasoning_metadata,
)
from iterative_reasoning.nn import FastGlobalReasoningConv, GlobalReasoningConv
from iterative_reasoning.typing import SPATIAL_RELATIONS

C, D_R, D = 6, 5, 4
WITH_OVERLAPS = (*SPATIAL_RELATIONS, "overlaps")


def _pair(rel, spatial=SPATIAL_RELATIONS, semantic=True, seed=12345):
    metadata = reasoning_metadata(rel.names if semantic else (), spatial)
    torch.manual_seed(seed)
    reference = GlobalReasoningConv(D_R, D, metadata, C).double()
    torch.manual_seed(seed)
    fast = FastGlobalReasoningConv(D_R, D, metadata, C, class_relations=rel).double()
    return reference, fast


def _inputs(counts, seed=0, overlaps=False):
    boxes, batch = random_boxes(counts, seed=seed)
    probs = random_probs(boxes.size(0), C, seed=seed)
    rel = random_relations(C, num_relations=3, seed=seed)
    graph = build_reasoning_graph(
        boxes, batch, image_sizes(len(counts)), probs, rel, overlaps=overlaps
    )
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(boxes.size(0), D_R, generator=gen, dtype=torch.float64)
    class_x = torch.randn(len(counts) * C, D, generator=gen, dtype=torch.float64)
    return rel, graph, x, class_x, probs


def _call(conv, graph, x, class_x, probs):
    """The layer on the graph, its assignment weighted by ``probs`` (so that gradients reach
    them)."""
    to_class, to_region = assignment_weights(probs, graph["region"].batch, graph.num_images)
    weights = {
        **graph.edge_weight_dict,
        ("region", "assigned_to", "class"): to_class,
        ("class", "rev_assigned_to", "region"): to_region,
    }
    x_dict = {"region": x, "class": class_x}
    return conv(x_dict, graph.edge_index_dict, weights)["region"]


@pytest.mark.parametrize("counts", [[4, 3], [1], [0], [3, 0, 2], [7]])
@pytest.mark.parametrize(
    ("spatial", "semantic"),
    [(SPATIAL_RELATIONS, True), (WITH_OVERLAPS, True), (SPATIAL_RELATIONS, False), ((), True)],
)
def test_fast_conv_equals_reference_conv(counts, spatial, semantic):
    rel, graph, x, class_x, probs = _inputs(
        counts, seed=sum(counts), overlaps="overlaps" in spatial
    )
    reference, fast = _pair(rel, spatial, semantic)
    assert list(reference.state_dict()) == list(fast.state_dict())
    for name, value in reference.state_dict().items():
        assert torch.equal(value, fast.state_dict()[name]), name  # same seed, same parameters
    x = x.requires_grad_(True)
    class_x = class_x.requires_grad_(True)
    probs = probs.clone().requires_grad_(True)
    out_ref = _call(reference, graph, x, class_x, probs)
    out_fast = _call(fast, graph, x, class_x, probs)
    torch.testing.assert_close(out_fast, out_ref, rtol=1e-10, atol=1e-12)
    assert out_fast.shape == (sum(counts), D)
    grads = []
    for conv, out in ((reference, out_ref), (fast, out_fast)):
        inputs = (x, class_x, probs, *conv.parameters())
        grads.append(torch.autograd.grad(out.square().sum(), inputs, allow_unused=True))
    for g_ref, g_fast in zip(*grads, strict=True):
        if g_ref is None or g_fast is None:
            assert g_ref is None and g_fast is None
            continue
        torch.testing.assert_close(g_fast, g_ref, rtol=1e-9, atol=1e-12)


def test_sized_by_metadata_and_repr():
    rel = random_relations(C, num_relations=3)
    reference, fast = _pair(rel, WITH_OVERLAPS)
    assert reference.spatial_relations == WITH_OVERLAPS
    assert fast.class_relations == rel.names
    assert reference.spatial_weight.shape == (5, D_R, D)
    assert reference.relation_weight.shape == (3, D, D)
    assert repr(fast) == "FastGlobalReasoningConv(5, 4, num_classes=6, spatial=5, semantic=3)"
    no_semantic = GlobalReasoningConv(D_R, D, reasoning_metadata((), ("left_of",)), C)
    assert not no_semantic.semantic and not hasattr(no_semantic, "class_weight")
    assert [n for n, _ in no_semantic.named_parameters()] == ["spatial_weight"]
    no_spatial = GlobalReasoningConv(D_R, D, reasoning_metadata(rel.names, ()), C)
    assert no_spatial.spatial_weight is None and no_spatial.semantic


def test_both_read_any_heterodata_with_the_schema():
    """A plain HeteroData (not the package's subclass, its node features in ``x``, its
    assignment edges in another order and without the pairs of probability 0) and a PyG Batch
    of single-image graphs give what the batched graph gives, to both layers: everything is
    read from x_dict, edge_index_dict and edge_weight_dict."""
    counts = [3, 2]
    rel, graph, x, class_x, probs = _inputs(counts, seed=3)
    probs[1, 2] = 0.0
    probs = probs / probs.sum(-1, keepdim=True)
    reference, fast = _pair(rel)
    expected = _call(reference, graph, x, class_x, probs)
    to_class, to_region = assignment_weights(probs, graph["region"].batch, 2)
    weights = {
        ("region", "assigned_to", "class"): to_class,
        ("class", "rev_assigned_to", "region"): to_region,
    }
    plain = HeteroData()
    plain["region"].x, plain["class"].x = x, class_x
    for edge_type in graph.edge_types:
        index = graph[edge_type].edge_index
        weight = weights.get(edge_type, graph[edge_type].edge_weight)
        keep = weight > 0
        order = torch.randperm(int(keep.sum()), generator=torch.Generator().manual_seed(1))
        plain[edge_type].edge_index = index[:, keep][:, order]
        plain[edge_type].edge_weight = weight[keep][order]
    assert plain["region", "assigned_to", "class"].num_edges == 5 * C - 1
    for conv in (reference, fast):
        out = conv(plain.x_dict, plain.edge_index_dict, plain.edge_weight_dict)["region"]
        torch.testing.assert_close(out, expected, rtol=1e-10, atol=1e-12)
    boxes, batch = random_boxes(counts, seed=3)
    singles = [
        build_reasoning_graph(
            boxes[batch == b],
            torch.zeros(n, dtype=torch.long),
            image_sizes(1),
            probs[batch == b],
            rel,
        )
        for b, n in enumerate(counts)
    ]
    batched = Batch.from_data_list(singles)
    for conv in (reference, fast):
        out = conv(
            {"region": x, "class": class_x}, batched.edge_index_dict, batched.edge_weight_dict
        )["region"]
        torch.testing.assert_close(out, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("fast", [False, True])
def test_gradcheck(fast):
    rel, graph, x, class_x, probs = _inputs([3, 2], seed=1, overlaps=True)
    conv = _pair(rel, WITH_OVERLAPS)[int(fast)]
    inputs = (x, class_x, probs.clone())
    for tensor in inputs:
        tensor.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x, m, p: _call(conv, graph, x, m, p), inputs)


def test_fast_conv_reads_no_class_edge_lists():
    rel, graph, x, class_x, probs = _inputs([4, 3], seed=2)
    reference, fast = _pair(rel)
    boxes, batch = random_boxes([4, 3], seed=2)
    lean = build_reasoning_graph(boxes, batch, image_sizes(2), probs, rel, edge_lists=False)
    assert fast.reads_class_edges is False and reference.reads_class_edges is True
    torch.testing.assert_close(
        _call(fast, lean, x, class_x, probs),
        _call(reference, graph, x, class_x, probs),
        rtol=1e-10,
        atol=1e-12,
    )


def test_max_regions_given_equals_read():
    rel, graph, x, class_x, probs = _inputs([4, 1, 3], seed=5)
    fast = _pair(rel)[1]
    x_dict = {"region": x, "class": class_x}
    read = fast(x_dict, graph.edge_index_dict, graph.edge_weight_dict)["region"]
    given = fast(x_dict, graph.edge_index_dict, graph.edge_weight_dict, max_regions=4)["region"]
    assert torch.equal(read, given)


def test_errors():
    rel = random_relations(C)
    with pytest.raises(TypeError, match=r"metadata must be \(node_types, edge_types\)"):
        GlobalReasoningConv(D_R, D, ["region"], C)
    with pytest.raises(ValueError, match="neither region -> region nor class -> class"):
        GlobalReasoningConv(D_R, D, (["region"], []), C)
    with pytest.raises(ValueError, match="assignment edge type"):
        GlobalReasoningConv(D_R, D, (["region", "class"], [("class", "rel_0", "class")]), C)
    with pytest.raises(ValueError, match="lack"):
        GlobalReasoningConv(D_R, D, (["region"], reasoning_metadata(rel.names)[1]), C)
    with pytest.raises(ValueError, match="out_channels must be a positive int"):
        GlobalReasoningConv(D_R, 0, reasoning_metadata(rel.names), C)
    with pytest.raises(ValueError, match="which class_relations lacks"):
        FastGlobalReasoningConv(D_R, D, reasoning_metadata(["other"]), C, class_relations=rel)
    with pytest.raises(ValueError, match="class_relations has 6 classes but num_classes is 7"):
        FastGlobalReasoningConv(D_R, D, reasoning_metadata(rel.names), 7, class_relations=rel)
    with pytest.raises(TypeError, match="ClassRelations"):
        FastGlobalReasoningConv(D_R, D, reasoning_metadata(rel.names), C, class_relations={})


def test_class_features_expanded_per_image_equal_their_copies():
    """One [C, D_c] embedding expanded to every image ([B, C, D_c], not copied) gives what its
    copies per class node give, values and gradients, in both layers."""
    rel, graph, x, _, probs = _inputs([4, 3], seed=6)
    embedding = torch.randn(C, D, dtype=torch.float64, requires_grad=True)
    for conv in _pair(rel):
        outs, grads = [], []
        for class_x in (embedding.expand(2, -1, -1), embedding.repeat(2, 1)):
            out = _call(conv, graph, x, class_x, probs)
            outs.append(out)
            grads.append(torch.autograd.grad(out.square().sum(), embedding)[0])
        torch.testing.assert_close(outs[0], outs[1], rtol=1e-12, atol=1e-14)
        torch.testing.assert_close(grads[0], grads[1], rtol=1e-12, atol=1e-14)
