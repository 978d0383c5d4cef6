"""The global graph-reasoning module of Chen et al., CVPR 2018, section 4.2."""

from __future__ import annotations

import math
import warnings
from typing import Literal, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.nn import MessagePassing
from torch_geometric.utils import to_dense_batch

from iterative_reasoning._validation import check_finite, check_tensor
from iterative_reasoning.graph.assignment import dense_assignment
from iterative_reasoning.graph.class_relations import ClassRelations
from iterative_reasoning.graph.reasoning_graph import ReasoningGraph
from iterative_reasoning.ops.sparse import compute_dtype, sparse_mm
from iterative_reasoning.typing import (
    ASSIGNMENT_EDGE,
    CLASS,
    REGION,
    REV_ASSIGNMENT_EDGE,
    SPATIAL_RELATIONS,
    class_edge,
    region_edge,
)


class GlobalOutput(NamedTuple):
    """Output of :class:`GlobalModule`.

    Attributes:
        logits: global class logits ``f_g``, ``[R, C]``.
        attention: attention logit ``a_g`` of each region, ``[R]``.
        features: the reasoned region features ``G_r``, ``[R, D]``.
    """

    logits: Tensor
    attention: Tensor
    features: Tensor


class GlobalModule(nn.Module):
    r"""Graph reasoning over regions and classes, from `Iterative Visual Reasoning Beyond
    Convolutions <https://arxiv.org/abs/1803.11189>`_ (section 4.2).

    .. math::
        G_r^{spatial} &= \sum_{e \in \mathcal{E}_{r \to r}} A_e M_r W_e \\
        G_c^{semantic} &= \sum_{e \in \mathcal{E}_{c \to c}} A_e\,
            \sigma\left(A_{r \to c} M_r W_{r \to c} + M_c W_c\right) W_e \\
        G_r &= \sigma\left(G_r^{spatial} + \sigma\left(A_{c \to r} G_c^{semantic}
            W_{c \to r}\right)\right)

    with :math:`\sigma` = ReLU, :math:`M_r` the region features, :math:`M_c` learned class
    embeddings and :math:`A_e` the row-normalised adjacency of edge type :math:`e` (see
    :func:`~iterative_reasoning.graph.build_reasoning_graph`). The global logits
    :math:`f_g = G_r W_f + b_f` and the attention logit :math:`a_g = \mathrm{LN}(G_r)\, w_a`
    follow, where LN normalises each row to zero mean and unit variance: without it the
    attention logit grows with :math:`G_r`, saturates against the global predictions while they
    are still worse than the ConvNet's, and never recovers (measured on the synthetic
    benchmark).

    Two implementations share the parameters:

    - ``"fast"`` (default): the assignment as dense per-image ``[R_i, C]`` blocks, the class
      graph as one sparse buffer shared by all images, class states ``[B, C, D]``, and the
      semantic path reassociated as
      :math:`\sum_e \left((A_{c \to r} A_e) H\right) W_e W_{c \to r}` so that no
      :math:`C \times D \times D` product is formed per image and relation.
    - ``"reference"``: PyG :class:`~torch_geometric.nn.conv.MessagePassing` per edge type over
      the :class:`~torch_geometric.data.HeteroData`, in the plain order of the equations.

    Args:
        in_channels: ``D_r``, width of the region features ``M_r`` (the visual feature of a
            region, typically concatenated with its current logits).
        num_classes: ``C``, classifier outputs, background included.
        class_relations: the class graph; one weight matrix ``W_e`` per relation.
        hidden_channels: ``D``, width of the reasoned features.
        class_channels: ``D_c``, width of the class embeddings ``M_c``; defaults to the width
            of ``class_embedding`` if given, else ``hidden_channels``.
        class_embedding: optional initial ``M_c`` (for example word vectors), ``[C, D_c]``.
        spatial: use the spatial path (``False`` is the paper's "no spatial" ablation).
        semantic: use the semantic path (``False`` is the "no semantic" ablation).
        spatial_relations: the region-region edge types read from the graph.
        eps: floor of the assignment row sums.

    Shapes:
        - **input:** region features ``[R, D_r]``, a graph with ``R`` regions, ``B`` images
          and ``C`` classes
        - **output:** :class:`GlobalOutput` with logits ``[R, C]``, attention ``[R]``,
          features ``[R, D]``

    Example:
        >>> import torch
        >>> from iterative_reasoning.graph import ClassRelations, build_reasoning_graph
        >>> rel = ClassRelations(4, {"is_kind_of": torch.tensor([[1, 2], [3, 3]])})
        >>> module = GlobalModule(in_channels=8, num_classes=4, class_relations=rel,
        ...                       hidden_channels=16)
        >>> boxes = torch.tensor([[0.0, 0.0, 20.0, 20.0], [30.0, 5.0, 60.0, 40.0]])
        >>> graph = build_reasoning_graph(boxes, torch.tensor([0, 0]), torch.tensor([[64, 64]]),
        ...                               torch.full((2, 4), 0.25), rel)
        >>> out = module(torch.randn(2, 8), graph)
        >>> out.logits.shape, out.attention.shape
        (torch.Size([2, 4]), torch.Size([2]))
    """

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        class_relations: ClassRelations,
        hidden_channels: int = 512,
        class_channels: int | None = None,
        class_embedding: Tensor | None = None,
        spatial: bool = True,
        semantic: bool = True,
        spatial_relations: tuple[str, ...] = SPATIAL_RELATIONS,
        eps: float = 1e-14,
    ) -> None:
        super().__init__()
        _check_config(
            in_channels,
            num_classes,
            class_relations,
            hidden_channels,
            spatial,
            semantic,
            spatial_relations,
        )
        if class_embedding is not None:
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
            class_channels = class_embedding.size(1)
        self.in_channels = in_channels
        self.num_classes = num_classes
        self.hidden_channels = hidden_channels
        self.class_channels = class_channels or hidden_channels
        self.spatial = spatial
        self.semantic = semantic
        self.class_relations = class_relations
        self._initial_embedding = class_embedding

        self.spatial_path = (
            SpatialPath(in_channels, hidden_channels, spatial_relations) if spatial else None
        )
        self.semantic_path = (
            SemanticPath(in_channels, hidden_channels, class_relations, self.class_channels, eps)
            if semantic
            else None
        )
        self.classifier = nn.Linear(hidden_channels, num_classes)
        self.attention = nn.Linear(hidden_channels, 1, bias=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if self.spatial_path is not None:
            self.spatial_path.reset_parameters()
        if self.semantic_path is not None:
            self.semantic_path.reset_parameters(self._initial_embedding)
        nn.init.normal_(self.classifier.weight, std=0.01)
        nn.init.zeros_(self.classifier.bias)
        nn.init.normal_(self.attention.weight, std=0.01)

    def forward(
        self,
        x: Tensor,
        graph: ReasoningGraph,
        implementation: Literal["fast", "reference"] = "fast",
    ) -> GlobalOutput:
        """Reason over ``graph`` from region features ``x``.

        Args:
            x: region features ``M_r``.
            graph: from :func:`~iterative_reasoning.graph.build_reasoning_graph` with the same
                class relations; the reference implementation needs ``edge_lists=True``.
            implementation: ``"fast"`` or ``"reference"`` (PyG message passing).
        """
        self._check_input(x, graph, implementation)
        fast = implementation == "fast"
        out = x.new_zeros(x.size(0), self.hidden_channels)
        if self.spatial_path is not None:
            out = out + (self.spatial_path.fast if fast else self.spatial_path.reference)(x, graph)
        if self.semantic_path is not None:
            semantic = self.semantic_path.fast if fast else self.semantic_path.reference
            out = out + semantic(x, graph)
        features = torch.relu(out)
        normalised = F.layer_norm(features, (self.hidden_channels,))
        return GlobalOutput(self.classifier(features), self.attention(normalised)[:, 0], features)

    # -- checks ----------------------------------------------------------------------------

    def _check_input(self, x: Tensor, graph: ReasoningGraph, implementation: str) -> None:
        if implementation not in ("fast", "reference"):
            raise ValueError(
                f"implementation must be 'fast' or 'reference', got {implementation!r}"
            )
        x = check_tensor("x", x)
        if not isinstance(graph, ReasoningGraph):
            raise TypeError(
                "graph must be a ReasoningGraph from build_reasoning_graph (or a PyG Batch of "
                f"them), got {type(graph).__name__}"
            )
        if implementation == "reference" and not graph.edge_lists:
            raise ValueError(
                "the reference implementation needs a graph built with edge_lists=True "
                "(build_reasoning_graph(..., edge_lists=True))"
            )
        num_regions = graph[REGION].num_nodes
        if x.dim() != 2 or x.shape != (num_regions, self.in_channels):
            raise ValueError(
                f"x must have shape [R, D_r] = [{num_regions}, {self.in_channels}] "
                f"(R from the graph, D_r = in_channels), got {list(x.shape)}"
            )
        check_finite("x", x)
        width = graph[REGION].class_probs.size(1)
        if width != self.num_classes:
            raise ValueError(
                f"the graph has {width} classes (class_probs width) but the module was built "
                f"for num_classes = {self.num_classes}"
            )
        spatial = self.spatial_path.relations if self.spatial_path is not None else ()
        semantic = self.semantic_path.relations if self.semantic_path is not None else ()
        missing = [r for r in spatial if region_edge(r) not in graph.edge_types]
        missing += [r for r in semantic if class_edge(r) not in graph.edge_types]
        if missing:
            raise ValueError(
                f"the graph lacks the relation(s) {missing} that the module uses; build it "
                "with the same class relations (and overlaps=True if the module uses 'overlaps')"
            )

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}({self.in_channels}, {self.hidden_channels}, "
            f"num_classes={self.num_classes}, spatial={self.spatial}, semantic={self.semantic})"
        )


class SpatialPath(nn.Module):
    r"""The spatial path :math:`G_r^{spatial} = \sum_{e} A_e M_r W_e` over region-region edges.

    Args:
        in_channels: ``D_r``.
        hidden_channels: ``D``.
        relations: the region-region edge types, one weight ``W_e`` each.

    Shapes:
        x: ``[R, D_r]`` -> ``[R, D]``
    """

    def __init__(self, in_channels: int, hidden_channels: int, relations: tuple[str, ...]):
        super().__init__()
        self.relations = tuple(relations)
        self.hidden_channels = hidden_channels
        self.weight = nn.Parameter(torch.empty(len(self.relations), in_channels, hidden_channels))
        self.aggregate = WeightedAggregation()

    def reset_parameters(self) -> None:
        for w in self.weight:
            nn.init.xavier_uniform_(w)

    def fast(self, x: Tensor, graph: ReasoningGraph) -> Tensor:
        """``sum_e A_e (x W_e)`` as one sparse product over all relations."""
        num_regions = x.size(0)
        transformed = torch.einsum("rk,ekd->erd", x, self.weight)  # [E_s, R, D]
        rows, cols, values = [], [], []
        for e, name in enumerate(self.relations):
            store = graph[region_edge(name)]
            rows.append(store.edge_index[1])
            cols.append(store.edge_index[0] + e * num_regions)
            values.append(store.edge_weight.to(compute_dtype(x.dtype)))
        adjacency = torch.sparse_coo_tensor(
            torch.stack([torch.cat(rows), torch.cat(cols)]),
            torch.cat(values),
            (num_regions, len(self.relations) * num_regions),
            check_invariants=False,
        )
        return sparse_mm(adjacency, transformed.reshape(-1, self.hidden_channels))

    def reference(self, x: Tensor, graph: ReasoningGraph) -> Tensor:
        """``sum_e (A_e x) W_e`` with PyG message passing, in the order of the equation."""
        out = x.new_zeros(x.size(0), self.hidden_channels)
        for e, name in enumerate(self.relations):
            out = out + _propagate(self.aggregate, graph, region_edge(name), x) @ self.weight[e]
        return out


class SemanticPath(nn.Module):
    r"""The semantic path, regions -> classes -> classes -> regions.

    .. math::
        H &= \sigma\left(A_{r \to c} M_r W_{r \to c} + M_c W_c\right) \\
        \text{out} &= \sigma\left(A_{c \to r} \left(\sum_e A_e H W_e\right)
            W_{c \to r}\right)

    Args:
        in_channels: ``D_r``.
        hidden_channels: ``D``.
        class_relations: the class graph, held as one sparse buffer.
        class_channels: ``D_c``.
        eps: floor of the assignment row sums.

    Shapes:
        x: ``[R, D_r]`` -> ``[R, D]``; class states ``H``: ``[B, C, D]``
    """

    class_adjacency_t: Tensor

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        class_relations: ClassRelations,
        class_channels: int,
        eps: float = 1e-14,
    ):
        super().__init__()
        self.relations = class_relations.names
        self.num_classes = class_relations.num_classes
        self.hidden_channels = hidden_channels
        self.eps = eps
        d = hidden_channels
        self.assign_weight = nn.Parameter(torch.empty(in_channels, d))
        self.class_embedding = nn.Parameter(torch.empty(self.num_classes, class_channels))
        self.class_weight = nn.Parameter(torch.empty(class_channels, d))
        self.relation_weight = nn.Parameter(torch.empty(len(self.relations), d, d))
        self.rev_assign_weight = nn.Parameter(torch.empty(d, d))
        self.register_buffer(
            "class_adjacency_t", _stacked_transpose(class_relations), persistent=False
        )
        self.aggregate = WeightedAggregation()

    def reset_parameters(self, class_embedding: Tensor | None = None) -> None:
        for w in (
            self.assign_weight,
            self.class_weight,
            self.rev_assign_weight,
            *self.relation_weight,
        ):
            nn.init.xavier_uniform_(w)
        if class_embedding is not None:
            with torch.no_grad():
                self.class_embedding.copy_(class_embedding)
        else:
            nn.init.normal_(self.class_embedding, std=1 / math.sqrt(self.class_embedding.size(1)))

    def fast(self, x: Tensor, graph: ReasoningGraph) -> Tensor:
        """Reassociated: ``sigma(sum_e ((A_cr A_e) H) W_e W_cr)``, all images at once."""
        region = graph[REGION]
        batch, num_images = region.batch, graph.num_images
        assignment = dense_assignment(region.class_probs.to(x.dtype), batch, num_images, self.eps)
        hidden = self.class_states(x, batch, num_images, assignment.to_class)  # [B, C, D]
        # Q_e = A_cr A_e for all relations at once: (stack_e A_e^T) A_cr^T -> [E * C, R]
        q = sparse_mm(self.class_adjacency_t, assignment.to_region.t())
        num_rel = len(self.relations)
        q = q.reshape(num_rel, self.num_classes, -1).permute(2, 0, 1)  # [R, E, C]
        q_padded, mask = to_dense_batch(q, batch, batch_size=num_images)  # [B, R_max, E, C]
        r_max = q_padded.size(1)
        qh = torch.bmm(q_padded.reshape(num_images, r_max * num_rel, self.num_classes), hidden)
        qh = qh.reshape(num_images, r_max, num_rel * self.hidden_channels)[mask]  # [R, E * D]
        semantic = qh @ self.relation_weight.reshape(-1, self.hidden_channels)
        return torch.relu(semantic @ self.rev_assign_weight)

    def class_states(self, x: Tensor, batch: Tensor, num_images: int, to_class: Tensor) -> Tensor:
        """``H = sigma(A_rc M_r W_rc + M_c W_c)`` per image, ``[B, C, D]``."""
        regions, _ = to_dense_batch(x @ self.assign_weight, batch, batch_size=num_images)
        return torch.relu(torch.bmm(to_class, regions) + self.class_embedding @ self.class_weight)

    def reference(self, x: Tensor, graph: ReasoningGraph) -> Tensor:
        """The equations in their plain order, with PyG message passing per edge type."""
        class_x = self.class_embedding[graph[CLASS].class_id]  # [B * C, D_c]
        assigned = _propagate(self.aggregate, graph, ASSIGNMENT_EDGE, (x, class_x))
        hidden = torch.relu(assigned @ self.assign_weight + class_x @ self.class_weight)
        g_c = hidden.new_zeros(hidden.shape)
        for e, name in enumerate(self.relations):
            propagated = _propagate(self.aggregate, graph, class_edge(name), hidden)
            g_c = g_c + propagated @ self.relation_weight[e]
        back = _propagate(self.aggregate, graph, REV_ASSIGNMENT_EDGE, (g_c, x))
        return torch.relu(back @ self.rev_assign_weight)


def _propagate(
    aggregate: WeightedAggregation,
    graph: ReasoningGraph,
    edge_type: tuple[str, str, str],
    x: Tensor | tuple[Tensor, Tensor],
) -> Tensor:
    store = graph[edge_type]
    src, dst = (x, x) if isinstance(x, Tensor) else x
    weight = store.edge_weight.to(src.dtype)
    return aggregate((src, dst), store.edge_index, weight, (src.size(0), dst.size(0)))


class WeightedAggregation(MessagePassing):
    r"""Weighted sum of neighbour features: :math:`x'_i = \sum_{j \to i} w_{ji} x_j`, i.e. the
    product :math:`A X` with the adjacency of one edge type."""

    def __init__(self) -> None:
        super().__init__(aggr="add")

    def forward(
        self,
        x: tuple[Tensor, Tensor],
        edge_index: Tensor,
        edge_weight: Tensor,
        size: tuple[int, int],
    ) -> Tensor:
        return self.propagate(edge_index, x=x, edge_weight=edge_weight, size=size)

    def message(self, x_j: Tensor, edge_weight: Tensor) -> Tensor:
        return edge_weight.unsqueeze(-1) * x_j


def _stacked_transpose(class_relations: ClassRelations) -> Tensor:
    """``[A_1^T; ...; A_E^T]`` as one sparse CSR matrix ``[E * C, C]``."""
    num_classes = class_relations.num_classes
    rows, cols, values = [], [], []
    for e, (index, weight) in enumerate(class_relations.normalized().values()):
        rows.append(index[0] + e * num_classes)  # A_e^T[s, t] = A_e[t, s]
        cols.append(index[1])
        values.append(weight)
    coo = torch.sparse_coo_tensor(
        torch.stack([torch.cat(rows), torch.cat(cols)]),
        torch.cat(values),
        (len(rows) * num_classes, num_classes),
        check_invariants=True,
    ).coalesce()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "sparse CSR support is in beta"
        return coo.to_sparse_csr()


def _check_config(
    in_channels: int,
    num_classes: int,
    class_relations: ClassRelations,
    hidden_channels: int,
    spatial: bool,
    semantic: bool,
    spatial_relations: tuple[str, ...],
) -> None:
    for name, value in (
        ("in_channels", in_channels),
        ("num_classes", num_classes),
        ("hidden_channels", hidden_channels),
    ):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    if not isinstance(class_relations, ClassRelations):
        raise TypeError(
            "class_relations must be an iterative_reasoning.graph.ClassRelations, "
            f"got {type(class_relations).__name__}"
        )
    if class_relations.num_classes != num_classes:
        raise ValueError(
            f"class_relations has {class_relations.num_classes} classes but num_classes is "
            f"{num_classes}; the class graph needs one node per classifier output"
        )
    if not spatial and not semantic:
        raise ValueError("at least one of spatial and semantic must be true")
    if spatial and not spatial_relations:
        raise ValueError("spatial_relations must name at least one relation when spatial=True")
    if semantic and not class_relations.names:
        raise ValueError("class_relations has no relation; the semantic path needs at least one")
