"""The graph layer of the global module (Chen et al., CVPR 2018, section 4.2) as a PyG operator
pair: :class:`GlobalReasoningConv`, message passing per edge type with PyG's primitives, and
:class:`FastGlobalReasoningConv`, the same layer and parameters computed with dense assignment
blocks, a class graph shared by every image and the semantic path reassociated."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch_geometric.nn import SimpleConv
from torch_geometric.typing import Metadata
from torch_geometric.utils import to_dense_batch

from iterative_reasoning.graph.assignment import assignment_blocks, region_images, region_slots
from iterative_reasoning.graph.class_relations import ClassRelations
from iterative_reasoning.graph.reasoning_graph import metadata_relations
from iterative_reasoning.ops.sparse import CSRMatrix, SparseMatrix, compute_dtype
from iterative_reasoning.typing import (
    ASSIGNMENT_EDGE,
    CLASS,
    REGION,
    REV_ASSIGNMENT_EDGE,
    EdgeType,
    NodeType,
    class_edge,
    region_edge,
)


class GlobalReasoningConv(nn.Module):
    r"""The reasoning layer of `Iterative Visual Reasoning Beyond Convolutions
    <https://arxiv.org/abs/1803.11189>`_ (section 4.2), over a heterogeneous graph of regions
    and classes (:doc:`/graph_schema`):

    .. math::
        G_r^{spatial} &= \sum_{e \in \mathcal{E}_{r \to r}} A_e M_r W_e \\
        H &= \sigma\left(A_{r \to c} M_r W_{r \to c} + M_c W_c\right) \\
        G_r &= \sigma\left(G_r^{spatial} + \sigma\left(A_{c \to r}
            \Big(\sum_{e \in \mathcal{E}_{c \to c}} A_e H W_e\Big) W_{c \to r}\right)\right)

    with :math:`\sigma` = ReLU, :math:`M_r` the region features, :math:`M_c` the features of
    the class nodes, :math:`A_e` the row-normalised adjacency of edge type :math:`e`, and
    :math:`A_{r \to c}`, :math:`A_{c \to r}` the soft assignment of regions to classes, the
    graph's ``assigned_to`` and ``rev_assigned_to`` edge types
    (:mod:`~iterative_reasoning.graph.assignment`).

    This is the reference implementation: each :math:`A_e X` is a
    :class:`~torch_geometric.nn.conv.SimpleConv` (a weighted sum over the edges of one type),
    evaluated in the order of the equations, on any
    :class:`~torch_geometric.data.HeteroData` with the schema: everything it reads is in
    ``x_dict``, ``edge_index_dict`` and ``edge_weight_dict``.
    :class:`FastGlobalReasoningConv` computes the same with the same parameters, faster.

    The layer is sized by ``metadata``: one :math:`W_e` per ``region -> region`` edge type (the
    spatial path) and one per ``class -> class`` edge type (the semantic path). Leaving out every
    edge type of a path drops it (the paper's "no spatial" and "no semantic" ablations).

    Args:
        in_channels: ``D_r``, width of the region features :math:`M_r`.
        out_channels: ``D``, width of :math:`G_r` and of the class states.
        metadata: ``(node_types, edge_types)`` of the graphs it reads, as
            :meth:`~torch_geometric.data.HeteroData.metadata` gives them (see
            :func:`~iterative_reasoning.graph.reasoning_metadata`).
        num_classes: ``C``, classes of the class nodes (background included).
        class_channels: ``D_c``, width of the class features :math:`M_c` (default:
            ``out_channels``).

    Shapes:
        - **input:** ``x_dict["region"]`` ``[R, D_r]``; ``x_dict["class"]`` (only with the
          semantic path) ``[B * C, D_c]`` (class node ``b * C + c`` is class ``c`` of image
          ``b``) or ``[B, C, D_c]``, for example one ``[C, D_c]`` embedding expanded to every
          image (``.expand(B, -1, -1)``, which the fast layer multiplies by :math:`W_c`
          once); ``edge_index_dict`` and ``edge_weight_dict`` of the graph's edge types
          (``[2, E]`` and ``[E]``)
        - **output:** ``{"region": G_r}`` with ``G_r`` ``[R, D]``

    Example:
        >>> import torch
        >>> from iterative_reasoning.graph import ClassRelations, build_reasoning_graph
        >>> rel = ClassRelations(4, {"is_kind_of": torch.tensor([[1, 2], [3, 3]])})
        >>> boxes = torch.tensor([[0.0, 0.0, 20.0, 20.0], [30.0, 5.0, 60.0, 40.0]])
        >>> graph = build_reasoning_graph(boxes, torch.tensor([0, 0]), torch.tensor([[64, 64]]),
        ...                               torch.full((2, 4), 0.25), rel)
        >>> graph["region"].x, graph["class"].x = torch.randn(2, 8), torch.randn(4, 16)
        >>> conv = GlobalReasoningConv(8, 16, graph.metadata(), num_classes=4)
        >>> conv
        GlobalReasoningConv(8, 16, num_classes=4, spatial=4, semantic=1)
        >>> out = conv(graph.x_dict, graph.edge_index_dict, graph.edge_weight_dict)
        >>> out["region"].shape
        torch.Size([2, 16])
    """

    #: Whether :meth:`forward` reads the ``class -> class`` edges of the graph (the fast layer
    #: holds the class graph itself, so its graphs may omit them: ``edge_lists=False``).
    reads_class_edges = True

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        metadata: Metadata,
        num_classes: int,
        class_channels: int | None = None,
    ) -> None:
        super().__init__()
        for name, value in (
            ("in_channels", in_channels),
            ("out_channels", out_channels),
            ("num_classes", num_classes),
            ("class_channels", class_channels or out_channels),
        ):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.num_classes = num_classes
        self.class_channels = class_channels or out_channels
        self.spatial_relations, self.class_relations = metadata_relations(metadata)
        d, e_s, e_c = out_channels, len(self.spatial_relations), len(self.class_relations)
        self.spatial_weight = nn.Parameter(torch.empty(e_s, in_channels, d)) if e_s else None
        if e_c:
            self.assign_weight = nn.Parameter(torch.empty(in_channels, d))
            self.class_weight = nn.Parameter(torch.empty(self.class_channels, d))
            self.relation_weight = nn.Parameter(torch.empty(e_c, d, d))
            self.rev_assign_weight = nn.Parameter(torch.empty(d, d))
        self.aggregate = SimpleConv(aggr="sum")
        self.reset_parameters()

    @property
    def spatial(self) -> bool:
        """Whether the layer has the spatial path."""
        return bool(self.spatial_relations)

    @property
    def semantic(self) -> bool:
        """Whether the layer has the semantic path."""
        return bool(self.class_relations)

    def reset_parameters(self) -> None:
        """Xavier-uniform weights."""
        weights = list(self.spatial_weight) if self.spatial_weight is not None else []
        if self.semantic:
            weights += [
                self.assign_weight,
                self.class_weight,
                self.rev_assign_weight,
                *self.relation_weight,
            ]
        for w in weights:
            nn.init.xavier_uniform_(w)

    def forward(
        self,
        x_dict: dict[NodeType, Tensor],
        edge_index_dict: dict[EdgeType, Tensor],
        edge_weight_dict: dict[EdgeType, Tensor],
        *,
        max_regions: int | None = None,
    ) -> dict[NodeType, Tensor]:
        """:math:`G_r` from the node features and the graph.

        Args:
            x_dict: ``"region"``: the region features :math:`M_r`; ``"class"`` (with the
                semantic path): the class node features :math:`M_c`.
            edge_index_dict: the graph's edges by type (``graph.edge_index_dict``); the
                layer reads the ``region -> region`` types of its metadata and, with the
                semantic path, the assignment and ``class -> class`` types.
            edge_weight_dict: their row-normalised weights (``graph.edge_weight_dict``).
            max_regions: the most regions of an image, when known: the fast layer pads its
                per-image blocks to it, and reads it from the graph otherwise (a host read);
                the reference does not use it.
        """
        x = x_dict[REGION]
        out = x.new_zeros(x.size(0), self.out_channels)
        if self.spatial:
            out = out + self.spatial_messages(x, edge_index_dict, edge_weight_dict)
        if self.semantic:
            out = out + self.semantic_messages(
                x, x_dict[CLASS], edge_index_dict, edge_weight_dict, max_regions
            )
        return {REGION: torch.relu(out)}

    def spatial_messages(
        self,
        x: Tensor,
        edge_index_dict: dict[EdgeType, Tensor],
        edge_weight_dict: dict[EdgeType, Tensor],
    ) -> Tensor:
        r""":math:`\sum_e (A_e M_r) W_e` over the ``region -> region`` edge types."""
        assert self.spatial_weight is not None
        out = x.new_zeros(x.size(0), self.out_channels)
        for e, name in enumerate(self.spatial_relations):
            key = region_edge(name)
            aggregated = self._propagate(x, x, edge_index_dict[key], edge_weight_dict[key])
            out = out + aggregated @ self.spatial_weight[e]
        return out

    def semantic_messages(
        self,
        x: Tensor,
        class_x: Tensor,
        edge_index_dict: dict[EdgeType, Tensor],
        edge_weight_dict: dict[EdgeType, Tensor],
        max_regions: int | None = None,
    ) -> Tensor:
        r""":math:`\sigma(A_{c \to r} (\sum_e A_e H W_e) W_{c \to r})`, in the plain order."""
        class_x = class_x.reshape(-1, class_x.size(-1))  # [B, C, D_c] -> [B * C, D_c]
        assigned = self._propagate(
            x, class_x, edge_index_dict[ASSIGNMENT_EDGE], edge_weight_dict[ASSIGNMENT_EDGE]
        )
        hidden = torch.relu(assigned @ self.assign_weight + class_x @ self.class_weight)
        g_c = hidden.new_zeros(hidden.shape)
        for e, name in enumerate(self.class_relations):
            key = class_edge(name)
            edges, weights = edge_index_dict[key], edge_weight_dict[key]
            g_c = g_c + self._propagate(hidden, hidden, edges, weights) @ self.relation_weight[e]
        back = self._propagate(
            g_c, x, edge_index_dict[REV_ASSIGNMENT_EDGE], edge_weight_dict[REV_ASSIGNMENT_EDGE]
        )
        return torch.relu(back @ self.rev_assign_weight)

    def _propagate(self, src: Tensor, dst: Tensor, edge_index: Tensor, weight: Tensor) -> Tensor:
        size = (src.size(0), dst.size(0))
        return self.aggregate((src, dst), edge_index, weight.to(src.dtype), size=size)

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}({self.in_channels}, {self.out_channels}, "
            f"num_classes={self.num_classes}, spatial={len(self.spatial_relations)}, "
            f"semantic={len(self.class_relations)})"
        )


class FastGlobalReasoningConv(GlobalReasoningConv):
    r""":class:`GlobalReasoningConv` with the same parameters, computed for speed (the tests
    prove the two equal, values and gradients):

    - the spatial path is one sparse product over all ``region -> region`` edge types at once;
    - the assignment edges are read into a dense ``[R_i, C]`` block per image
      (:func:`~iterative_reasoning.graph.assignment.assignment_blocks`), applied by batched
      matrix products;
    - the class graph is one sparse CSR matrix held by the layer and shared by every image
      (its graphs need no ``class -> class`` edge lists: ``build_reasoning_graph(...,
      edge_lists=False)``), and the class states of all images ``[B, C, D]`` are propagated
      together;
    - the semantic path is linear from :math:`H` up to its last activation, so it is
      reassociated as
      :math:`\sum_e \left((A_{c \to r} A_e) H\right) W_e W_{c \to r}`: an ``[R_i, C]`` matrix
      times :math:`H` per relation and image, and ``D x D`` products shared by all images,
      instead of a ``C x D x D`` product per relation and image.

    The image of each region is read from its assignment edges (every region has at least one,
    as in the graphs :func:`~iterative_reasoning.graph.build_reasoning_graph` builds).

    Args:
        in_channels, out_channels, metadata, num_classes, class_channels: as
            :class:`GlobalReasoningConv`.
        class_relations: the class graph of the ``class -> class`` edge types of
            ``metadata`` (the same relations the graphs were built from).

    Example:
        >>> import torch
        >>> from iterative_reasoning.graph import ClassRelations, reasoning_metadata
        >>> rel = ClassRelations(4, {"is_kind_of": torch.tensor([[1, 2], [3, 3]])})
        >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
        <torch._C.Generator object at ...>
        >>> fast = FastGlobalReasoningConv(8, 16, reasoning_metadata(rel.names), 4,
        ...                                class_relations=rel)
        >>> reference = GlobalReasoningConv(8, 16, reasoning_metadata(rel.names), 4)
        >>> _ = reference.load_state_dict(fast.state_dict())  # the same parameters
    """

    reads_class_edges = False

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        metadata: Metadata,
        num_classes: int,
        class_channels: int | None = None,
        *,
        class_relations: ClassRelations,
    ) -> None:
        super().__init__(in_channels, out_channels, metadata, num_classes, class_channels)
        check_class_relations(class_relations, num_classes)
        missing = [r for r in self.class_relations if r not in class_relations.names]
        if missing:
            raise ValueError(
                f"metadata names the class relation(s) {missing}, which class_relations lacks "
                f"(it has {list(class_relations.names)})"
            )
        if self.semantic:
            graph = stacked_transpose(class_relations, self.class_relations)
            self._graph_shape = (graph.rows, graph.cols)
            for name in _GRAPH_PARTS:
                self.register_buffer(f"class_graph_{name}", getattr(graph, name), persistent=False)

    @property
    def class_graph(self) -> CSRMatrix:
        """``[A_1^T; ...; A_E^T]``, ``[E * C, C]``: the class relations' transposed adjacencies
        stacked, one static sparse matrix shared by every image (kept as buffers, so that it
        moves with the layer)."""
        parts = {name: getattr(self, f"class_graph_{name}") for name in _GRAPH_PARTS}
        rows, cols = self._graph_shape
        return CSRMatrix(rows=rows, cols=cols, **parts)

    def spatial_messages(
        self,
        x: Tensor,
        edge_index_dict: dict[EdgeType, Tensor],
        edge_weight_dict: dict[EdgeType, Tensor],
    ) -> Tensor:
        """``sum_e A_e (x W_e)`` as one sparse product over all relations."""
        assert self.spatial_weight is not None
        num_regions = x.size(0)
        transformed = torch.einsum("rk,ekd->erd", x, self.spatial_weight)  # [E_s, R, D]
        keys = [region_edge(name) for name in self.spatial_relations]
        index = side_by_side([edge_index_dict[key] for key in keys], num_regions)
        values = torch.cat([edge_weight_dict[key] for key in keys]).to(compute_dtype(x.dtype))
        adjacency = SparseMatrix(index, values, num_regions, len(keys) * num_regions)
        return adjacency.mm(transformed.reshape(-1, self.out_channels))

    def semantic_messages(
        self,
        x: Tensor,
        class_x: Tensor,
        edge_index_dict: dict[EdgeType, Tensor],
        edge_weight_dict: dict[EdgeType, Tensor],
        max_regions: int | None = None,
    ) -> Tensor:
        """Reassociated: ``sigma(sum_e ((A_cr A_e) H) W_e W_cr)``, all images at once."""
        num_rel, c, d = len(self.class_relations), self.num_classes, self.out_channels
        if class_x.dim() == 3 and class_x.size(0) > 0 and class_x.stride(0) == 0:
            num_images = class_x.size(0)  # the same features for every image: M_c W_c once
            class_term = class_x[0] @ self.class_weight  # [C, D]
        else:
            num_images = class_x.size(0) if class_x.dim() == 3 else class_x.size(0) // c
            class_term = class_x.reshape(num_images, c, -1) @ self.class_weight  # [B, C, D]
        batch = region_images(edge_index_dict[ASSIGNMENT_EDGE], x.size(0), c)
        if max_regions is None:  # a host read: the padded per-image size of the dense blocks
            max_regions = most_regions(batch, num_images)
        slot = region_slots(batch, num_images)
        flat = batch * max_regions + slot  # each region's place in the padded [B * R_max] layout
        assignment = assignment_blocks(
            edge_index_dict, edge_weight_dict, batch, c, num_images, max_regions, slot
        )
        regions, _ = to_dense_batch(
            x @ self.assign_weight, batch, batch_size=num_images, max_num_nodes=max_regions
        )
        # H = relu(A_rc M_r W_rc + M_c W_c) [B, C, D]
        hidden = torch.relu(torch.bmm(assignment.to_class.to(x.dtype), regions) + class_term)
        # Q_e = A_cr A_e for all relations at once: (stack_e A_e^T) A_cr^T -> [E * C, R]
        q = self.class_graph.mm(assignment.to_region.to(x.dtype).t().contiguous())
        q = q.reshape(num_rel, c, -1).permute(2, 0, 1)  # [R, E, C]
        q_padded, _ = to_dense_batch(
            q, batch, batch_size=num_images, max_num_nodes=max_regions
        )  # [B, R_max, E, C]
        qh = torch.bmm(q_padded.reshape(num_images, max_regions * num_rel, c), hidden)
        qh = qh.reshape(num_images * max_regions, num_rel * d)[flat]  # [R, E * D]
        semantic = qh @ self.relation_weight.reshape(-1, d)
        return torch.relu(semantic @ self.rev_assign_weight)


def side_by_side(edge_indices: list[Tensor], num_regions: int) -> Tensor:
    """The indices ``[2, E]`` of ``[A_1 | ... | A_E]``, ``[R, E * R]``, from each relation's
    ``edge_index`` (source, target) over ``R`` regions: row ``target``, column ``source + e *
    R`` (a TorchScript function: the scripted head assembles its spatial path with it)."""
    rows = [index[1] for index in edge_indices]
    cols = [index[0] + e * num_regions for e, index in enumerate(edge_indices)]
    return torch.stack([torch.cat(rows), torch.cat(cols)])


def most_regions(batch: Tensor, num_images: int) -> int:
    """``R_max``, the most regions of an image of the batch (a host read)."""
    return int(torch.bincount(batch, minlength=num_images).max()) if batch.numel() else 0


#: The tensors of a :class:`~iterative_reasoning.ops.sparse.CSRMatrix`, as the layer's buffers.
_GRAPH_PARTS = ("crow", "col", "values", "t_crow", "t_col", "t_values")


def stacked_transpose(class_relations: ClassRelations, names: tuple[str, ...]) -> CSRMatrix:
    """``[A_1^T; ...; A_E^T]`` of the relations ``names`` as one sparse CSR matrix
    ``[E * C, C]``."""
    num_classes = class_relations.num_classes
    normalized = class_relations.normalized()
    rows, cols, values = [], [], []
    for e, name in enumerate(names):
        index, weight = normalized[name]
        rows.append(index[0] + e * num_classes)  # A_e^T[s, t] = A_e[t, s]
        cols.append(index[1])
        values.append(weight)
    coo = torch.sparse_coo_tensor(
        torch.stack([torch.cat(rows), torch.cat(cols)]),
        torch.cat(values),
        (len(rows) * num_classes, num_classes),
        check_invariants=True,
    )
    return CSRMatrix.from_sparse(coo)


def check_class_relations(class_relations: ClassRelations, num_classes: int) -> None:
    """``class_relations`` is a :class:`~iterative_reasoning.graph.ClassRelations` of
    ``num_classes`` classes."""
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
