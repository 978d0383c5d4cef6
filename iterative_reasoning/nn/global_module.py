"""The global graph-reasoning module of Chen et al., CVPR 2018, section 4.2: the graph layer of
:mod:`~iterative_reasoning.nn.global_conv`, and the classifier and attention on top."""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.data import HeteroData

from iterative_reasoning._validation import (
    check_finite,
    check_positive,
    check_probabilities,
    check_tensor,
)
from iterative_reasoning.graph.class_relations import ClassRelations
from iterative_reasoning.graph.reasoning_graph import (
    ReasoningGraph,
    assemble_reasoning_graph,
    reasoning_metadata,
)
from iterative_reasoning.nn.global_conv import FastGlobalReasoningConv, GlobalReasoningConv
from iterative_reasoning.typing import (
    CLASS,
    OVERLAPS,
    REGION,
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
    :func:`~iterative_reasoning.graph.build_reasoning_graph`); this is the layer ``conv``
    (:class:`~iterative_reasoning.nn.FastGlobalReasoningConv` by default, or its PyG
    reference :class:`~iterative_reasoning.nn.GlobalReasoningConv`: the same parameters and
    numbers). The global logits :math:`f_g = G_r W_f + b_f` and the attention logit
    :math:`a_g = \mathrm{LN}(G_r)\, w_a` follow, where LN normalises each row to zero mean and
    unit variance: without it the attention logit grows with :math:`G_r`, saturates against
    the global predictions while they are still worse than the ConvNet's, and never recovers
    (measured on the synthetic benchmark).

    Args:
        in_channels: ``D_r``, width of the region features ``M_r`` (the visual feature of a
            region, typically concatenated with its current logits).
        num_classes: ``C``, classifier outputs, background included.
        class_relations: the class graph; one weight matrix ``W_e`` per relation.
        hidden_channels: ``D``, width of the reasoned features.
        class_channels: ``D_c``, width of the class embeddings ``M_c``; defaults to the width
            of ``class_embedding`` if given, else ``hidden_channels``.
        class_embedding: optional initial ``M_c`` (for example word vectors), ``[C, D_c]``;
            :meth:`reset_parameters` puts it back.
        spatial: use the spatial path (``False`` is the paper's "no spatial" ablation).
        semantic: use the semantic path (``False`` is the "no semantic" ablation).
        spatial_relations: the region-region edge types read from the graph (add
            ``"overlaps"`` for the IoU relation).
        delta: length scale of the spatial edges of the graphs :meth:`graph` builds, pixels.
        eps: floor of the assignment row sums.
        conv: the graph layer, instead of the :class:`FastGlobalReasoningConv` the arguments
            above describe (e.g. the reference layer, or a subclass of one's own); it must map
            ``in_channels`` to ``hidden_channels`` for ``num_classes``. Its parameters are kept
            as given (:meth:`reset_parameters` resets them with the rest).

    Shapes:
        - **input:** region features ``[R, D_r]``, a graph with ``R`` regions, ``B`` images
          and ``B * C`` class nodes, class probabilities ``[R, C]``
        - **output:** :class:`GlobalOutput` with logits ``[R, C]``, attention ``[R]``,
          features ``[R, D]``

    Example:
        >>> import torch
        >>> from iterative_reasoning.graph import ClassRelations, build_reasoning_graph
        >>> rel = ClassRelations(4, {"is_kind_of": torch.tensor([[1, 2], [3, 3]])})
        >>> module = GlobalModule(in_channels=8, num_classes=4, class_relations=rel,
        ...                       hidden_channels=16)
        >>> boxes = torch.tensor([[0.0, 0.0, 20.0, 20.0], [30.0, 5.0, 60.0, 40.0]])
        >>> probs = torch.full((2, 4), 0.25)
        >>> graph = build_reasoning_graph(boxes, torch.tensor([0, 0]), torch.tensor([[64, 64]]),
        ...                               probs, rel)
        >>> out = module(torch.randn(2, 8), graph, probs)
        >>> out.logits.shape, out.attention.shape
        (torch.Size([2, 4]), torch.Size([2]))
    """

    initial_class_embedding: Tensor | None

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
        delta: float = 50.0,
        eps: float = 1e-14,
        conv: GlobalReasoningConv | None = None,
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
        class_channels = _class_channels(class_embedding, class_channels, num_classes)
        # the classifier and attention layers before the graph layer, whose constructor
        # initialises it: the random stream of the initialisation is that of the paths and the
        # classifier as first written, so a seed gives the same module as it always has
        classifier = nn.Linear(hidden_channels, num_classes)
        attention = nn.Linear(hidden_channels, 1, bias=False)
        if conv is None:
            metadata = reasoning_metadata(
                class_relations.names if semantic else (),
                spatial_relations if spatial else (),
            )
            conv = FastGlobalReasoningConv(
                in_channels,
                hidden_channels,
                metadata,
                num_classes,
                class_channels or hidden_channels,
                eps,
                class_relations=class_relations,
            )
        _check_conv(conv, in_channels, hidden_channels, num_classes, class_embedding)
        self.in_channels = in_channels
        self.num_classes = num_classes
        self.hidden_channels = hidden_channels
        self.class_relations = class_relations
        self.delta = check_positive("delta", delta)
        self.conv = conv
        self.classifier = classifier
        self.attention = attention
        self.register_buffer("initial_class_embedding", class_embedding, persistent=False)
        self._reset_own_parameters()  # the layer initialised itself (or came as given)

    @property
    def spatial_relations(self) -> tuple[str, ...]:
        """The region-region relations the spatial path reads (empty without it)."""
        return self.conv.spatial_relations

    @property
    def semantic_relations(self) -> tuple[str, ...]:
        """The class relations the semantic path reads (empty without it)."""
        return self.conv.class_relations

    @property
    def overlaps(self) -> bool:
        """Whether the module reads the IoU ``overlaps`` relation."""
        return OVERLAPS in self.spatial_relations

    def reset_parameters(self) -> None:
        self.conv.reset_parameters()
        self._reset_own_parameters()

    def _reset_own_parameters(self) -> None:
        """The given class embedding, the classifier and the attention layer."""
        if self.initial_class_embedding is not None:
            with torch.no_grad():
                self.conv.class_embedding.copy_(self.initial_class_embedding)
        nn.init.normal_(self.classifier.weight, std=0.01)
        nn.init.zeros_(self.classifier.bias)
        nn.init.normal_(self.attention.weight, std=0.01)

    def forward(
        self, x: Tensor, graph: HeteroData, class_probs: Tensor | None = None
    ) -> GlobalOutput:
        """Reason over ``graph`` from region features ``x``.

        Args:
            x: region features ``M_r``.
            graph: a :class:`~torch_geometric.data.HeteroData` with the reasoning graph's
                schema, e.g. from :func:`~iterative_reasoning.graph.build_reasoning_graph`
                with the same class relations (with the reference layer, built with
                ``edge_lists=True``).
            class_probs: the previous prediction's class probabilities, which assign the
                regions to the classes; by default the graph's ``region.class_probs``.
        """
        class_probs = self._check_input(x, graph, class_probs)
        return self.reason(x, graph, class_probs)

    def reason(self, x: Tensor, graph: HeteroData, class_probs: Tensor) -> GlobalOutput:
        """:meth:`forward` without its input checks (the head checks its inputs once)."""
        num_images = graph[CLASS].num_nodes // self.num_classes
        features = self.conv(
            {REGION: x},
            graph.edge_index_dict,
            graph.edge_weight_dict,
            class_probs,
            graph[REGION].batch,
            num_images,
        )[REGION]
        normalised = F.layer_norm(features, (self.hidden_channels,))
        return GlobalOutput(self.classifier(features), self.attention(normalised)[:, 0], features)

    def graph(self, boxes: Tensor, batch: Tensor, image_sizes: Tensor) -> ReasoningGraph:
        """The graph this module reads for regions already checked: the spatial edges (with
        ``overlaps`` when it reads them), the class nodes, and the class edges when the layer
        reads them; the assignment comes with each call's ``class_probs``."""
        return assemble_reasoning_graph(
            boxes,
            batch,
            image_sizes,
            self.class_relations,
            delta=self.delta,
            overlaps=self.overlaps,
            edge_lists=self.conv.reads_class_edges,
        )

    # -- checks ----------------------------------------------------------------------------

    def _check_input(self, x: Tensor, graph: HeteroData, class_probs: Tensor | None) -> Tensor:
        x = check_tensor("x", x)
        if not isinstance(graph, HeteroData):
            raise TypeError(
                "graph must be a torch_geometric HeteroData with the reasoning graph's schema "
                f"(build_reasoning_graph), got {type(graph).__name__}"
            )
        missing = [region_edge(r) for r in self.spatial_relations]
        missing += [class_edge(r) for r in self.semantic_relations]
        missing = [t for t in missing if t not in graph.edge_types]
        if missing:
            raise ValueError(
                f"the graph lacks the edge type(s) {missing} that the module reads; build it "
                "with the same class relations (and overlaps=True if the module reads "
                "'overlaps')"
            )
        num_regions = graph[REGION].num_nodes
        if x.dim() != 2 or x.shape != (num_regions, self.in_channels):
            raise ValueError(
                f"x must have shape [R, D_r] = [{num_regions}, {self.in_channels}] "
                f"(R from the graph, D_r = in_channels), got {list(x.shape)}"
            )
        check_finite("x", x)
        class_nodes = graph[CLASS].num_nodes
        if class_nodes % self.num_classes:
            raise ValueError(
                f"the graph has {class_nodes} class nodes, not a multiple of num_classes = "
                f"{self.num_classes} (one copy of the classes per image)"
            )
        if class_probs is None:
            if "class_probs" not in graph[REGION]:
                raise ValueError(
                    "give class_probs (the previous prediction's probabilities): the graph "
                    "holds none"
                )
            class_probs = graph[REGION].class_probs
        probs = check_probabilities("class_probs", class_probs, num_regions, self.num_classes)
        if self.conv.reads_class_edges:
            empty = [
                r
                for r in self.semantic_relations
                if graph[class_edge(r)].edge_index.size(1) == 0
                and self.class_relations.edges[r][0].size(1) > 0
                and class_nodes > 0
            ]
            if empty:
                raise ValueError(
                    f"{type(self.conv).__name__} reads the class edges, and the graph has none "
                    f"of {empty}: build it with edge_lists=True"
                )
        return probs

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}({self.in_channels}, {self.hidden_channels}, "
            f"num_classes={self.num_classes}, spatial={self.conv.spatial}, "
            f"semantic={self.conv.semantic})"
        )


def _class_channels(
    class_embedding: Tensor | None, class_channels: int | None, num_classes: int
) -> int | None:
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


def _check_conv(
    conv: GlobalReasoningConv,
    in_channels: int,
    hidden_channels: int,
    num_classes: int,
    class_embedding: Tensor | None,
) -> None:
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
