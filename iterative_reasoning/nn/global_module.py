"""The global graph-reasoning module of Chen et al., CVPR 2018, section 4.2: the graph layer of
:mod:`~iterative_reasoning.nn.global_conv`, and the classifier and attention on top."""

from __future__ import annotations

from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.data import HeteroData

from iterative_reasoning._validation import (
    check_positive,
)
from iterative_reasoning.graph.assignment import assignment_weights
from iterative_reasoning.graph.class_relations import ClassRelations
from iterative_reasoning.graph.reasoning_graph import (
    ReasoningGraph,
    assemble_reasoning_graph,
    reasoning_metadata,
)
from iterative_reasoning.nn.global_checks import (
    check_conv,
    check_global_config,
    check_global_input,
    class_channels_of,
)
from iterative_reasoning.nn.global_conv import FastGlobalReasoningConv, GlobalReasoningConv
from iterative_reasoning.typing import (
    ASSIGNMENT_EDGE,
    CLASS,
    OVERLAPS,
    REGION,
    REV_ASSIGNMENT_EDGE,
    SPATIAL_RELATIONS,
    EdgeType,
    NodeType,
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
    embeddings (``class_embedding``, the features of every image's class nodes) and
    :math:`A_e` the row-normalised adjacency of edge type :math:`e` (see
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
        check_global_config(
            in_channels,
            num_classes,
            class_relations,
            hidden_channels,
            spatial,
            semantic,
            spatial_relations,
        )
        class_channels = class_channels_of(class_embedding, class_channels, num_classes)
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
                class_relations=class_relations,
            )
        check_conv(conv, in_channels, hidden_channels, num_classes, class_embedding)
        self.in_channels = in_channels
        self.num_classes = num_classes
        self.hidden_channels = hidden_channels
        self.class_relations = class_relations
        self.delta = check_positive("delta", delta)
        self.eps = eps
        self.conv = conv
        #: :math:`M_c`, ``[C, D_c]``: the features of the class nodes, the same for each image
        self.class_embedding = (
            nn.Parameter(torch.empty(num_classes, conv.class_channels)) if conv.semantic else None
        )
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
        """The class embedding (normal with std ``1 / sqrt(D_c)``, or the one given), the
        classifier and the attention layer."""
        if self.class_embedding is not None:
            nn.init.normal_(self.class_embedding, std=self.class_embedding.size(1) ** -0.5)
        if self.initial_class_embedding is not None and self.class_embedding is not None:
            with torch.no_grad():
                self.class_embedding.copy_(self.initial_class_embedding)
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
                regions to the classes (the weights of the graph's assignment edges); by
                default the graph's assignment weights.
        """
        class_probs = check_global_input(self, x, graph, class_probs)
        return self.reason(x, graph, class_probs)

    def reason(
        self,
        x: Tensor,
        graph: HeteroData,
        class_probs: Tensor | None = None,
        max_regions: int | None = None,
    ) -> GlobalOutput:
        """:meth:`forward` without its input checks (the head checks its inputs once): the
        graph's assignment edges weighted by ``class_probs`` when given
        (:func:`~iterative_reasoning.graph.assignment.assignment_weights`); ``max_regions``
        as :meth:`reason_on`."""
        num_images = graph[CLASS].num_nodes // self.num_classes
        edge_weight_dict = graph.edge_weight_dict
        if class_probs is not None and self.conv.semantic:
            weights = assignment_weights(
                class_probs.to(x.dtype), graph[REGION].batch, num_images, self.eps, max_regions
            )
            edge_weight_dict = {
                **edge_weight_dict,
                ASSIGNMENT_EDGE: weights[0],
                REV_ASSIGNMENT_EDGE: weights[1],
            }
        return self.reason_on(x, graph.edge_index_dict, edge_weight_dict, num_images, max_regions)

    def reason_on(
        self,
        x: Tensor,
        edge_index_dict: dict[EdgeType, Tensor],
        edge_weight_dict: dict[EdgeType, Tensor],
        num_images: int,
        max_regions: int | None = None,
    ) -> GlobalOutput:
        """:meth:`reason` on the graph's dictionaries, the assignment weighted (what
        ``torch.compile(fullgraph=True)`` traces: with the fast layer and ``max_regions``
        given, nothing in it reads a value on the host). ``num_images``: ``B``, whose class
        nodes get the class embedding; ``max_regions``: the most regions of an image
        (:func:`~iterative_reasoning.nn.global_conv.most_regions`), read from the graph when
        not given."""
        x_dict: dict[NodeType, Tensor] = {REGION: x}
        if self.class_embedding is not None:
            # [B, C, D_c], every image's class nodes the same features (not copied)
            x_dict[CLASS] = self.class_embedding.expand(num_images, -1, -1)
        features = self.conv(x_dict, edge_index_dict, edge_weight_dict, max_regions=max_regions)[
            REGION
        ]
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

    def _load_from_state_dict(
        self, state_dict: dict[str, Any], prefix: str, *args: Any, **kwargs: Any
    ) -> None:
        # the class embedding was the graph layer's parameter ("conv.class_embedding") before
        # the layer took the class nodes' features from x_dict
        old = prefix + "conv.class_embedding"
        if old in state_dict and prefix + "class_embedding" not in state_dict:
            state_dict[prefix + "class_embedding"] = state_dict.pop(old)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}({self.in_channels}, {self.hidden_channels}, "
            f"num_classes={self.num_classes}, spatial={self.conv.spatial}, "
            f"semantic={self.conv.semantic})"
        )
