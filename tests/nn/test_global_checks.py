import pytest
import torch
from helpers import image_sizes, random_boxes, random_probs, random_relations

from iterative_reasoning.graph import ClassRelations, build_reasoning_graph, reasoning_metadata
from iterative_reasoning.nn import GlobalModule, GlobalReasoningConv
from iterative_reasoning.nn.global_checks import (
    check_conv,
    check_global_config,
    check_global_input,
    class_channels_of,
)
from iterative_reasoning.typing import SPATIAL_RELATIONS

C, D_R, D = 5, 4, 3


@pytest.fixture
def module_and_graph():
    torch.manual_seed(0)
    relations = random_relations(C)
    module = GlobalModule(D_R, C, relations, hidden_channels=D)
    boxes, batch = random_boxes([3, 2], dtype=torch.float32)
    probs = random_probs(5, C, dtype=torch.float32)
    graph = build_reasoning_graph(boxes, batch, image_sizes(2), probs, relations)
    return module, graph, probs


def test_the_graph_s_probabilities_are_the_default(module_and_graph):
    module, graph, probs = module_and_graph
    x = torch.randn(5, D_R)
    assert check_global_input(module, x, graph, None) is None  # the graph's assignment weights
    given = probs.flip(0)
    assert check_global_input(module, x, graph, given) is given


def test_global_input_errors(module_and_graph):
    module, graph, probs = module_and_graph
    x = torch.randn(5, D_R)
    with pytest.raises(TypeError, match="x must be a torch.Tensor"):
        check_global_input(module, x.tolist(), graph, None)
    with pytest.raises(TypeError, match="graph must be a torch_geometric HeteroData"):
        check_global_input(module, x, graph.to_dict(), None)
    with pytest.raises(ValueError, match=r"x must have shape \[R, D_r\] = \[5, 4\]"):
        check_global_input(module, x[:4], graph, None)
    with pytest.raises(ValueError, match="x must be finite"):
        check_global_input(module, torch.full((5, D_R), float("nan")), graph, None)
    with pytest.raises(ValueError, match="class_probs must be non-negative probabilities"):
        check_global_input(module, x, graph, -probs)
    other = ClassRelations(C, {"other": torch.tensor([[0], [1]])})
    boxes, batch = random_boxes([3, 2], dtype=torch.float32)
    foreign = build_reasoning_graph(boxes, batch, image_sizes(2), probs, other)
    with pytest.raises(
        ValueError, match=r"lacks the edge type\(s\) \[\('class', 'rel_0', 'class'\)"
    ):
        check_global_input(module, x, foreign, None)
    del graph["class", "rev_assigned_to", "region"].edge_weight
    with pytest.raises(ValueError, match="give class_probs"):
        check_global_input(module, x, graph, None)
    graph["class"].num_nodes = 2 * C + 1
    with pytest.raises(ValueError, match="11 class nodes, not a multiple of num_classes = 5"):
        check_global_input(module, x, graph, probs)


def test_a_layer_that_reads_class_edges_needs_them(module_and_graph):
    module, _, probs = module_and_graph
    conv = GlobalReasoningConv(D_R, D, reasoning_metadata(module.class_relations.names), C)
    reference = GlobalModule(D_R, C, module.class_relations, hidden_channels=D, conv=conv)
    boxes, batch = random_boxes([3, 2], dtype=torch.float32)
    rel = module.class_relations
    without = build_reasoning_graph(boxes, batch, image_sizes(2), probs, rel, edge_lists=False)
    with pytest.raises(ValueError, match="GlobalReasoningConv reads the class edges"):
        check_global_input(reference, torch.randn(5, D_R), without, None)
    check_global_input(module, torch.randn(5, D_R), without, None)  # the fast layer does not


def test_class_channels_of():
    assert class_channels_of(None, 7, C) == 7
    assert class_channels_of(None, None, C) is None
    assert class_channels_of(torch.zeros(C, 6), None, C) == 6
    assert class_channels_of(torch.zeros(C, 6), 6, C) == 6
    with pytest.raises(ValueError, match=r"class_embedding must have shape \[C, D_c\] with C = 5"):
        class_channels_of(torch.zeros(C + 1, 6), None, C)
    with pytest.raises(ValueError, match="class_channels is 4 but class_embedding has 6"):
        class_channels_of(torch.zeros(C, 6), 4, C)


def test_conv_must_fit_the_module():
    relations = random_relations(C)
    metadata = reasoning_metadata(relations.names, SPATIAL_RELATIONS)
    conv = GlobalReasoningConv(D_R, D, metadata, C, class_channels=6)
    check_conv(conv, D_R, D, C, torch.zeros(C, 6))
    with pytest.raises(TypeError, match="conv must be a GlobalReasoningConv, got Linear"):
        check_conv(torch.nn.Linear(2, 2), D_R, D, C, None)
    with pytest.raises(ValueError, match="conv maps 4 to 3 channels for 5 classes"):
        check_conv(conv, D_R, D + 1, C, None)
    with pytest.raises(ValueError, match="conv has class_channels=6, class_embedding 2"):
        check_conv(conv, D_R, D, C, torch.zeros(C, 2))
    spatial_only = GlobalReasoningConv(D_R, D, reasoning_metadata((), SPATIAL_RELATIONS), C)
    with pytest.raises(ValueError, match="no semantic path"):
        check_conv(spatial_only, D_R, D, C, torch.zeros(C, 6))


def test_global_config():
    relations = random_relations(C)
    check_global_config(D_R, C, relations, D, True, True, SPATIAL_RELATIONS)
    for name, args in (
        ("in_channels", (0, C, relations, D)),
        ("num_classes", (D_R, 1.5, relations, D)),
        ("hidden_channels", (D_R, C, relations, -1)),
    ):
        with pytest.raises(ValueError, match=f"{name} must be a positive int"):
            check_global_config(*args, True, True, SPATIAL_RELATIONS)
    with pytest.raises(TypeError, match="class_relations must be an iterative_reasoning"):
        check_global_config(D_R, C, {"similar_to": None}, D, True, True, SPATIAL_RELATIONS)
    with pytest.raises(ValueError, match="class_relations has 5 classes but num_classes is 6"):
        check_global_config(D_R, C + 1, relations, D, True, True, SPATIAL_RELATIONS)
    with pytest.raises(ValueError, match="at least one of spatial and semantic"):
        check_global_config(D_R, C, relations, D, False, False, SPATIAL_RELATIONS)
    with pytest.raises(ValueError, match="spatial_relations must name at least one relation"):
        check_global_config(D_R, C, relations, D, True, True, ())
    with pytest.raises(ValueError, match="the semantic path needs at least one"):
        check_global_config(D_R, C, ClassRelations(C, {}), D, True, True, SPATIAL_RELATIONS)


def test_a_graph_of_other_relations_under_the_same_names_is_refused(module_and_graph):
    """Such a graph was once used without a word (the reference layer reads its edges)."""
    module, graph, probs = module_and_graph
    x = torch.randn(5, D_R)
    check_global_input(module, x, graph, None)
    rel = module.class_relations
    name = rel.names[0]
    index, weight = rel.edges[name]
    for changed in (
        {**rel.edges, name: (index, weight * 2)},  # other weights
        {**rel.edges, name: (index.flip(0), weight)},  # other edges
    ):
        other = ClassRelations(C, changed)
        assert other.names == rel.names
        boxes, batch = random_boxes([3, 2], dtype=torch.float32)
        foreign = build_reasoning_graph(boxes, batch, image_sizes(2), probs, other)
        with pytest.raises(ValueError, match="built from other class relations than the module"):
            check_global_input(module, x, foreign, None)
    same = ClassRelations(C, {n: (i.clone(), w.clone()) for n, (i, w) in rel.edges.items()})
    boxes, batch = random_boxes([3, 2], dtype=torch.float32)
    check_global_input(
        module, x, build_reasoning_graph(boxes, batch, image_sizes(2), probs, same), None
    )


def test_class_probabilities_must_be_distributions(module_and_graph):
    module, graph, probs = module_and_graph
    x = torch.randn(5, D_R)
    with pytest.raises(ValueError, match="one probability distribution per region .* row 0"):
        check_global_input(module, x, graph, probs * torch.tensor([[2.0]] + [[1.0]] * 4))
    logits_passed_as_probs = torch.randn(5, C).abs()
    with pytest.raises(ValueError, match="rows summing to 1"):
        check_global_input(module, x, graph, logits_passed_as_probs)


def test_a_dtype_or_device_mismatch_of_x_is_named(module_and_graph):
    module, graph, _ = module_and_graph
    with pytest.raises(TypeError, match="x has dtype torch.float64 but the global module's"):
        check_global_input(module, torch.randn(5, D_R, dtype=torch.float64), graph, None)
    with pytest.raises(ValueError, match="x is on meta but the global module is on cpu"):
        check_global_input(module, torch.randn(5, D_R, device="meta"), graph, None)
