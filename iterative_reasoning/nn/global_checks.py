"""The checks of :class:`~iterative_reasoning.nn.GlobalModule`: of its arguments when it is
built, and of its inputs at every call (every value check in one host read per device)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from torch import Tensor
from torch_geometric.data import HeteroData

from iterative_reasoning._validation import (
    ValueChecks,
    check_finite,
    check_float_on,
    check_probabilities,
    check_tensor,
)
from iterative_reasoning.graph.class_relations import ClassRelations
from iterative_reasoning.nn.global_conv import GlobalReasoningConv, check_class_relations
from iterative_reasoning.typing import (
    ASSIGNMENT_EDGE,
    CLASS,
    REGION,
    REV_ASSIGNMENT_EDGE,
    class_edge,
    region_edge,
)

if TYPE_CHECKING:
    from iterative_reasoning.nn.global_module import GlobalModule


def check_global_input(
    module: GlobalModule, x: Tensor, graph: HeteroData, class_probs: Tensor | None
) -> Tensor | None:
    """Check the inputs of ``module.forward`` and return the class probabilities (``None``:
    the graph's assignment weights); errors name the argument, the expected and the actual
    value."""
    x = check_tensor("x", x)
    if not isinstance(graph, HeteroData):
        raise TypeError(
            "graph must be a torch_geometric HeteroData with the reasoning graph's schema "
            f"(build_reasoning_graph), got {type(graph).__name__}"
        )
    missing = [region_edge(r) for r in module.spatial_relations]
    missing += [class_edge(r) for r in module.semantic_relations]
    missing = [t for t in missing if t not in graph.edge_types]
    if missing:
        raise ValueError(
            f"the graph lacks the edge type(s) {missing} that the module reads; build it "
            "with the same class relations (and overlaps=True if the module reads "
            "'overlaps')"
        )
    built_from = getattr(graph, "class_relations_digest", None)
    if built_from is not None and built_from != module.class_relations.digest:
        raise ValueError(
            "the graph was built from other class relations than the module's (the same "
            f"names {list(module.semantic_relations)} or others, but other classes, edges or "
            "weights); build it with the module's class_relations"
        )
    num_regions = graph[REGION].num_nodes
    if x.dim() != 2 or x.shape != (num_regions, module.in_channels):
        raise ValueError(
            f"x must have shape [R, D_r] = [{num_regions}, {module.in_channels}] "
            f"(R from the graph, D_r = in_channels), got {list(x.shape)}"
        )
    parameter = next(module.parameters(), None)
    if parameter is not None:
        check_float_on("x", x, parameter.device, parameter.dtype, "the global module")
    checks = ValueChecks()
    check_finite("x", x, checks)
    class_nodes = graph[CLASS].num_nodes
    if class_nodes % module.num_classes:
        raise ValueError(
            f"the graph has {class_nodes} class nodes, not a multiple of num_classes = "
            f"{module.num_classes} (one copy of the classes per image)"
        )
    probs = None
    if class_probs is not None:
        probs = check_probabilities(
            "class_probs", class_probs, num_regions, module.num_classes, checks
        )
    elif module.conv.semantic and not all(
        t in graph.edge_types and "edge_weight" in graph[t]
        for t in (ASSIGNMENT_EDGE, REV_ASSIGNMENT_EDGE)
    ):
        raise ValueError(
            "give class_probs (the previous prediction's probabilities): the graph has no "
            "weighted assignment edges"
        )
    checks.run()
    if module.conv.reads_class_edges:
        empty = [
            r
            for r in module.semantic_relations
            if graph[class_edge(r)].edge_index.size(1) == 0
            and module.class_relations.edges[r][0].size(1) > 0
            and class_nodes > 0
        ]
        if empty:
            raise ValueError(
                f"{type(module.conv).__name__} reads the class edges, and the graph has none "
                f"of {empty}: build it with edge_lists=True"
            )
    return probs


def class_channels_of(
    class_embedding: Tensor | None, class_channels: int | None, num_classes: int
) -> int | None:
    """``D_c``: the width of ``class_embedding`` when given (``class_channels`` must agree)."""
    if class_embedding is None:
        return class_channels
    class_embedding = check_tensor("class_embedding", class_embedding)
    if class_embedding.dim() != 2 or class_embedding.size(0) != num_classes:
        raise ValueError(
            f"class_embedding must have shape [C, D_c] with C = {num_classes}, "
            f"got {list(class_embedding.shape)}"
        )
    if class_channels is not None and class_channels != class_embedding.size(1):
        raise ValueError(
            f"class_channels is {class_channels} but class_embedding has "
            f"{class_embedding.size(1)} channels; give one or make them agree"
        )
    return class_embedding.size(1)


def check_conv(
    conv: GlobalReasoningConv,
    in_channels: int,
    hidden_channels: int,
    num_classes: int,
    class_embedding: Tensor | None,
) -> None:
    """A graph layer given to the module fits it."""
    if not isinstance(conv, GlobalReasoningConv):
        raise TypeError(f"conv must be a GlobalReasoningConv, got {type(conv).__name__}")
    given = (conv.in_channels, conv.out_channels, conv.num_classes)
    if given != (in_channels, hidden_channels, num_classes):
        raise ValueError(
            f"conv maps {given[0]} to {given[1]} channels for {given[2]} classes; the module "
            f"has in_channels={in_channels}, hidden_channels={hidden_channels}, "
            f"num_classes={num_classes}"
        )
    if class_embedding is not None and not conv.semantic:
        raise ValueError("class_embedding was given but the module has no semantic path")
    if class_embedding is not None and conv.class_channels != class_embedding.size(1):
        raise ValueError(
            f"conv has class_channels={conv.class_channels}, class_embedding "
            f"{class_embedding.size(1)}"
        )


def check_global_config(
    in_channels: int,
    num_classes: int,
    class_relations: ClassRelations,
    hidden_channels: int,
    spatial: bool,
    semantic: bool,
    spatial_relations: tuple[str, ...],
) -> None:
    """The module's sizes and paths."""
    for name, value in (
        ("in_channels", in_channels),
        ("num_classes", num_classes),
        ("hidden_channels", hidden_channels),
    ):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    check_class_relations(class_relations, num_classes)
    if not spatial and not semantic:
        raise ValueError("at least one of spatial and semantic must be true")
    if spatial and not spatial_relations:
        raise ValueError("spatial_relations must name at least one relation when spatial=True")
    if semantic and not class_relations.names:
        raise ValueError("class_relations has no relation; the semantic path needs at least one")
