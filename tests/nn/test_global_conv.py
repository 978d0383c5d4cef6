"""The graph layer's PyG reference and its fast subclass: equal values and gradients (in the
style of PyG's ``test_rgcn_conv_equality``), on any HeteroData with the schema."""

import pytest
import torch
from helpers import image_sizes, random_boxes, random_probs, random_relations
from torch_geometric.data import Batch, HeteroData

from iterative_reasoning.graph import build_reasoning_graph, reasoning_metadata
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
    return rel, graph, x, probs


def _call(conv, graph, x, probs):
    return conv(
        {"region": x},
        graph.edge_index_dict,
        graph.edge_weight_dict,
        probs,
        graph["region"].batch,
        graph.num_images,
    )["region"]


@pytest.mark.parametrize("counts", [[4, 3], [1], [0], [3, 0, 2], [7]])
@pytest.mark.parametrize(
    ("spatial", "semantic"),
    [(SPATIAL_RELATIONS, True), (WITH_OVERLAPS, True), (SPATIAL_RELATIONS, False), ((), True)],
)
def test_fast_conv_equals_reference_conv(counts, spatial, semantic):
    rel, graph, x, probs = _inputs(counts, seed=sum(counts), overlaps="overlaps" in spatial)
    reference, fast = _pair(rel, spatial, semantic)
    assert list(reference.state_dict()) == list(fast.state_dict())
    for name, value in reference.state_dict().items():
        assert torch.equal(value, fast.state_dict()[name]), name  # same seed, same parameters
    x = x.requires_grad_(True)
    probs = probs.clone().requires_grad_(True)
    out_ref, out_fast = _call(reference, graph, x, probs), _call(fast, graph, x, probs)
    torch.testing.assert_close(out_fast, out_ref, rtol=1e-10, atol=1e-12)
    assert out_fast.shape == (sum(counts), D)
    grads = []
    for conv, out in ((reference, out_ref), (fast, out_fast)):
        inputs = (x, probs, *conv.parameters())
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
    assert not no_semantic.semantic and not hasattr(no_semantic, "class_embedding")
    assert [n for n, _ in no_semantic.named_parameters()] == ["spatial_weight"]
    no_spatial = GlobalReasoningConv(D_R, D, reasoning_metadata(rel.names, ()), C)
    assert no_spatial.spatial_weight is None and no_spatial.semantic


def test_reference_reads_any_heterodata_with_the_schema():
    """A plain HeteroData (not the package's subclass) and a PyG Batch of single-image graphs
    give what the batched graph gives."""
    counts = [3, 2]
    rel, graph, x, probs = _inputs(counts, seed=3)
    reference, fast = _pair(rel)
    expected = _call(reference, graph, x, probs)
    plain = HeteroData()
    for edge_type in graph.edge_types:
        plain[edge_type].edge_index = graph[edge_type].edge_index
        plain[edge_type].edge_weight = graph[edge_type].edge_weight
    plain["region"].batch, plain["class"].num_nodes = graph["region"].batch, 2 * C
    batch = graph["region"].batch
    out = reference({"region": x}, plain.edge_index_dict, plain.edge_weight_dict, probs, batch, 2)[
        "region"
    ]
    torch.testing.assert_close(out, expected, rtol=1e-12, atol=1e-14)
    boxes, _ = random_boxes(counts, seed=3)
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
            {"region": x},
            batched.edge_index_dict,
            batched.edge_weight_dict,
            probs,
            batched["region"].batch,
            len(counts),
        )["region"]
        torch.testing.assert_close(out, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("fast", [False, True])
def test_gradcheck(fast):
    rel, graph, x, probs = _inputs([3, 2], seed=1, overlaps=True)
    conv = _pair(rel, WITH_OVERLAPS)[int(fast)]
    x = x.requires_grad_(True)
    probs = probs.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x, p: _call(conv, graph, x, p), (x, probs))


def test_fast_conv_reads_no_class_edge_lists():
    rel, graph, x, probs = _inputs([4, 3], seed=2)
    reference, fast = _pair(rel)
    boxes, batch = random_boxes([4, 3], seed=2)
    lean = build_reasoning_graph(boxes, batch, image_sizes(2), probs, rel, edge_lists=False)
    assert fast.reads_class_edges is False and reference.reads_class_edges is True
    torch.testing.assert_close(
        _call(fast, lean, x, probs), _call(reference, graph, x, probs), rtol=1e-10, atol=1e-12
    )


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
