"""The iterative reasoning head: local and global modules rolled out with cross-feed, and an
attention that fuses every prediction."""

from __future__ import annotations

from typing import Literal, NamedTuple

import torch
from torch import Tensor, nn

from iterative_reasoning._validation import (
    check_batch,
    check_boxes,
    check_finite,
    check_image_sizes,
    check_not_normalised,
    check_positive,
    check_tensor,
    warn_boxes_outside,
)
from iterative_reasoning.graph import ClassRelations, build_reasoning_graph
from iterative_reasoning.graph.reasoning_graph import ReasoningGraph
from iterative_reasoning.nn.attention import AttentionFusion
from iterative_reasoning.nn.global_module import GlobalModule
from iterative_reasoning.nn.local_module import LocalModule
from iterative_reasoning.ops import CropMode, RegionGrid, grid_sizes_of
from iterative_reasoning.typing import OVERLAPS, REGION, SPATIAL_RELATIONS

FeedMode = Literal["cross", "self", "mean"]
FEED_MODES: tuple[str, ...] = ("cross", "self", "mean")
MODELS: tuple[str, ...] = (
    "local",
    "global",
    "final",
    "no_spatial",
    "no_semantic",
    "no_cross_feed",
    "no_attention",
)


class ReasoningOutput(NamedTuple):
    """Output of :class:`IterativeReasoningHead`.

    Attributes:
        logits: the final prediction ``f``, ``[R, C]``: the attention fusion of all
            predictions, or without attention the last iteration's (averaged over modules).
        base_logits: the ConvNet prediction ``f_0``, ``[R, C]``.
        local_logits: local predictions ``f_l^t`` for ``t = 1..T-1``, ``[T-1, R, C]``, or
            ``None`` without a local module.
        global_logits: global predictions ``f_g^t``, ``[T-1, R, C]``, or ``None``.
        attention: softmax weight of every prediction, ``[N, R]``, in the order of
            :meth:`IterativeReasoningHead.prediction_names`; ``None`` without attention.
        local_inputs: the logits each local step read (its "previous prediction", from which
            the loss computes hard-example weights), ``[T-1, R, C]``, or ``None``.
        global_inputs: the same for the global module, or ``None``.
    """

    logits: Tensor
    base_logits: Tensor
    local_logits: Tensor | None
    global_logits: Tensor | None
    attention: Tensor | None
    local_inputs: Tensor | None
    global_inputs: Tensor | None


class IterativeReasoningHead(nn.Module):
    r"""The reasoning head of `Iterative Visual Reasoning Beyond Convolutions
    <https://arxiv.org/abs/1803.11189>`_: ``T`` iterations of a local module (spatial memory)
    and a global module (graph reasoning), cross-fed, fused by attention.

    Iteration 0 is the ConvNet's prediction :math:`f_0`. For :math:`t = 1 \dots T-1` each
    module reads the logits fed to it, stop-gradient: with ``feed="cross"`` the other
    module's prediction at :math:`t-1` (:math:`f_0` at :math:`t = 1`), with ``"self"`` its own,
    with ``"mean"`` the mean of both. The final prediction is

    .. math::
        f = \sum_n \mathrm{softmax}(a)_n\, \mathrm{sg}(f_n), \quad
        n \in \{0\} \cup \{(l, t), (g, t)\}_{t=1}^{T-1}

    where each :math:`a_n` comes from the features of the module that made :math:`f_n`. The
    weight of :math:`f_0` comes from the local module's read of the initial memory (as the
    original), or without a local module from a bias-free linear layer on the region features.

    Args:
        num_classes: ``C``, background included.
        local: the local module, or ``None``.
        global_: the global module, or ``None``; its input is the region features concatenated
            with the logits it reads, so ``global_.in_channels = D_r + C``.
        num_iterations: ``T``, predictions per module including the ConvNet's (3).
        feed: ``"cross"``, ``"self"`` or ``"mean"``.
        attention: fuse with attention; otherwise the final prediction is the last iteration's.
        spatial_scale: feature cells per input pixel (1/16).
        crop_mode: ``"roi_align"`` or the original's ``"crop_and_resize"``.
        sampling_ratio: samples per bin and axis for ``"roi_align"``.
        aligned: the half-pixel offset of ``"roi_align"``.
        delta: length scale of the spatial edges, pixels (50).
        overlaps: add the IoU ``overlaps`` region relation to the graph; by default, whether
            the global module reads it (a value that contradicts the module is an error).

    Shapes:
        - **features:** ``[B, D_f, H, W]`` at ``spatial_scale``; **boxes:** ``[R, 4]`` in
          network-input pixels; **batch:** ``[R]``; **image_sizes:** ``[B, 2]``;
          **base_logits:** ``[R, C]``; **region_features:** ``[R, D_r]``
        - **output:** :class:`ReasoningOutput`

    Example:
        >>> import torch
        >>> from iterative_reasoning.graph import ClassRelations
        >>> rel = ClassRelations(5, {"is_kind_of": torch.tensor([[1, 2], [3, 3]])})
        >>> head = IterativeReasoningHead.paper(
        ...     "final", num_classes=5, class_relations=rel, feature_channels=8,
        ...     region_channels=16, memory_channels=8, fc_channels=32, hidden_channels=16)
        >>> out = head(torch.randn(1, 8, 6, 8), torch.tensor([[0.0, 0.0, 64.0, 48.0]]),
        ...            torch.tensor([0]), torch.tensor([[96, 128]]), torch.randn(1, 5),
        ...            torch.randn(1, 16))
        >>> out.logits.shape, out.local_logits.shape, out.attention.shape
        (torch.Size([1, 5]), torch.Size([2, 1, 5]), torch.Size([5, 1]))
        >>> head.prediction_names()
        ['base', 'local_1', 'global_1', 'local_2', 'global_2']
    """

    def __init__(
        self,
        num_classes: int,
        local: LocalModule | None = None,
        global_: GlobalModule | None = None,
        num_iterations: int = 3,
        feed: FeedMode = "cross",
        attention: bool = True,
        spatial_scale: float = 1 / 16,
        crop_mode: CropMode = "roi_align",
        sampling_ratio: int = 2,
        aligned: bool = True,
        delta: float = 50.0,
        overlaps: bool | None = None,
    ) -> None:
        super().__init__()
        _check_config(num_classes, local, global_, num_iterations, feed)
        reads = global_ is not None and global_.spatial_path is not None
        reads = reads and OVERLAPS in global_.spatial_path.relations  # type: ignore[union-attr]
        if overlaps is not None and overlaps != reads:
            raise ValueError(
                f"overlaps={overlaps}, but the global module "
                + ("reads" if reads else "does not read")
                + " the 'overlaps' relation; leave overlaps out to follow the module"
            )
        check_positive("delta", delta)
        check_positive("spatial_scale", spatial_scale)
        self.num_classes = num_classes
        self.local = local
        self.global_ = global_
        self.num_iterations = num_iterations
        self.feed: FeedMode = feed
        self.spatial_scale = spatial_scale
        self.crop_mode: CropMode = crop_mode
        self.sampling_ratio = sampling_ratio
        self.aligned = aligned
        self.delta = delta
        self.overlaps = reads
        self.region_channels = global_.in_channels - num_classes if global_ is not None else None
        self.fusion = AttentionFusion() if attention else None
        # a_0 of a head without a local module: one learned logit, as the local module's a_0 (its
        # read of the initial memory) is nearly the same for every region. A logit from the region
        # features saturates towards the ConvNet, which predicts better early in training, and
        # then never lets the global predictions in (measured on the synthetic benchmark).
        self.base_attention = nn.Parameter(torch.zeros(1)) if attention and local is None else None
        self.reset_parameters()

    @classmethod
    def paper(
        cls,
        model: str = "final",
        *,
        num_classes: int,
        class_relations: ClassRelations | None = None,
        feature_channels: int = 1024,
        region_channels: int = 2048,
        memory_channels: int = 512,
        fc_channels: int = 4096,
        hidden_channels: int = 512,
        class_embedding: Tensor | None = None,
        num_iterations: int = 3,
        **kwargs: object,
    ) -> IterativeReasoningHead:
        """The head of one row of the paper's tables, with the paper's settings.

        Args:
            model: ``"local"``, ``"global"``, ``"final"`` (both), or an ablation of the final
                model: ``"no_spatial"``, ``"no_semantic"``, ``"no_cross_feed"`` (each module
                feeds itself), ``"no_attention"`` (the last iteration's prediction).
            num_classes: ``C``, background included.
            class_relations: the class graph (needed by every model but ``"local"``).
            feature_channels: ``D_f`` of the mid-level map (1024: ResNet-50 conv4).
            region_channels: ``D_r`` of the region features (2048: ResNet-50 conv5, pooled).
            memory_channels: ``D_m`` of the spatial memory.
            fc_channels: width of the local module's FC layers.
            hidden_channels: ``D`` of the global module.
            class_embedding: initial class embeddings ``[C, D_c]`` (e.g. word vectors).
            num_iterations: ``T``.
            kwargs: further arguments of :class:`IterativeReasoningHead`; ``overlaps=True``
                also gives the global module the ``overlaps`` relation.
        """
        if model not in MODELS:
            raise ValueError(f"model must be one of {MODELS}, got {model!r}")
        local = None
        if model != "global":
            local = LocalModule(feature_channels, num_classes, memory_channels, fc_channels)
        global_ = None
        if model != "local":
            if class_relations is None:
                raise ValueError(f"model {model!r} has a global module and needs class_relations")
            overlaps = (OVERLAPS,) if kwargs.get("overlaps") else ()
            global_ = GlobalModule(
                region_channels + num_classes,
                num_classes,
                class_relations,
                hidden_channels=hidden_channels,
                class_embedding=class_embedding,
                spatial=model != "no_spatial",
                semantic=model != "no_semantic",
                spatial_relations=(*SPATIAL_RELATIONS, *overlaps),
            )
        options: dict[str, object] = {"feed": "self" if model == "no_cross_feed" else "cross"}
        options["attention"] = model != "no_attention"
        options.update(kwargs)
        return cls(num_classes, local, global_, num_iterations, **options)  # type: ignore[arg-type]

    def reset_parameters(self) -> None:
        if self.base_attention is not None:
            nn.init.zeros_(self.base_attention)

    def prediction_names(self) -> list[str]:
        """Names of the predictions in the order of ``ReasoningOutput.attention``."""
        modules = [
            m for m, on in (("local", self.local), ("global", self.global_)) if on is not None
        ]
        names = ["base"]
        for t in range(1, self.num_iterations):
            names += [f"{m}_{t}" for m in modules]
        return names

    def forward(
        self,
        features: Tensor,
        boxes: Tensor,
        batch: Tensor,
        image_sizes: Tensor,
        base_logits: Tensor,
        region_features: Tensor | None = None,
        masks: Tensor | None = None,
    ) -> ReasoningOutput:
        """Roll the modules out for ``T - 1`` iterations after the ConvNet prediction.

        Args:
            features: the mid-level feature map (stride 16) of the padded batch.
            boxes: ``xyxy`` boxes in pixels of the network input.
            batch: image index of each box, sorted.
            image_sizes: ``(height, width)`` of each network input before padding.
            base_logits: the ConvNet's logits ``f_0``.
            region_features: the regions' visual features for the global module (the ConvNet's
                pooled high-level feature); by default the mean of each region's crop of
                ``features``.
            masks: ``[R, P, P]``, the fraction of each crop bin of each box that the region's
                instance mask covers (:func:`~iterative_reasoning.ops.box_masks`): the memory
                is then written through the masks instead of whole boxes. ``None`` (the
                paper's way): boxes.
        """
        grid = self._check_input(
            features, boxes, batch, image_sizes, base_logits, region_features, masks
        )
        crops = grid.crop(features).detach()
        if region_features is None and self.global_ is not None:
            region_features = crops.mean(dim=(2, 3))
        memory = self.local.memory.initial(grid) if self.local is not None else None
        graph = self._graph(boxes, batch, image_sizes, base_logits)
        steps = _Steps(base_logits, self._base_attention(memory, grid, region_features))
        local_in = global_in = base_logits.detach()
        for _ in range(1, self.num_iterations):
            local_out = global_out = None
            if self.local is not None and memory is not None:
                memory = self.local.write(memory, crops, local_in, grid)
                local_out = self.local.read(memory, grid)
                steps.add("local", local_in, local_out.logits, local_out.attention)
            if self.global_ is not None and graph is not None and region_features is not None:
                global_out = self._reason(region_features, global_in, graph)
                steps.add("global", global_in, global_out[0], global_out[1])
            local_in, global_in = self._next_inputs(
                local_out.logits if local_out is not None else None,
                global_out[0] if global_out is not None else None,
            )
        return steps.output(self.fusion)

    # -- steps -----------------------------------------------------------------------------

    def _base_attention(
        self, memory: Tensor | None, grid: RegionGrid, region_features: Tensor | None
    ) -> Tensor | None:
        """``a_0``: from the read of the initial memory, or the learned base logit."""
        if self.fusion is None:
            return None
        if self.local is not None and memory is not None:
            return self.local.read(memory, grid).attention
        if self.base_attention is not None:
            return self.base_attention.expand(grid.batch.numel())
        raise RuntimeError("unreachable: a head has a local or a global module")

    def _graph(
        self, boxes: Tensor, batch: Tensor, image_sizes: Tensor, base_logits: Tensor
    ) -> ReasoningGraph | None:
        """The reasoning graph; the spatial edges are built once, the assignment is refreshed
        at every iteration from the logits the global module reads."""
        if self.global_ is None:
            return None
        return build_reasoning_graph(
            boxes,
            batch,
            image_sizes,
            torch.softmax(base_logits.detach(), dim=-1),
            self.global_.class_relations,
            delta=self.delta,
            overlaps=self.overlaps,
            edge_lists=False,
        )

    def _reason(
        self, region_features: Tensor, logits: Tensor, graph: ReasoningGraph
    ) -> tuple[Tensor, Tensor]:
        assert self.global_ is not None
        graph[REGION].class_probs = torch.softmax(logits, dim=-1)
        out = self.global_(torch.cat([region_features.detach(), logits], dim=-1), graph)
        return out.logits, out.attention

    def _next_inputs(self, local: Tensor | None, global_: Tensor | None) -> tuple[Tensor, Tensor]:
        """The logits each module reads at the next iteration (stop-gradient)."""
        if local is None or global_ is None:
            only = local if local is not None else global_
            assert only is not None
            return only.detach(), only.detach()
        local, global_ = local.detach(), global_.detach()
        if self.feed == "self":
            return local, global_
        if self.feed == "cross":
            return global_, local
        mean = 0.5 * (local + global_)
        return mean, mean

    # -- checks ----------------------------------------------------------------------------

    def _check_input(
        self,
        features: Tensor,
        boxes: Tensor,
        batch: Tensor,
        image_sizes: Tensor,
        base_logits: Tensor,
        region_features: Tensor | None,
        masks: Tensor | None = None,
    ) -> RegionGrid:
        features = check_tensor("features", features)
        if features.dim() != 4:
            raise ValueError(f"features must have shape [B, D_f, H, W], got {list(features.shape)}")
        check_finite("features", features)
        if self.local is not None and features.size(1) != self.local.in_channels:
            raise ValueError(
                f"features have {features.size(1)} channels but the local module was built for "
                f"in_channels = {self.local.in_channels}"
            )
        boxes = check_boxes("boxes", boxes)
        sizes = check_image_sizes(image_sizes)
        if sizes.size(0) != features.size(0):
            raise ValueError(
                f"image_sizes has {sizes.size(0)} row(s) but features hold {features.size(0)} "
                "image(s); give one (height, width) per image"
            )
        batch = check_batch(batch, boxes.size(0), sizes.size(0))
        check_not_normalised(boxes, batch, sizes)
        logits = check_tensor("base_logits", base_logits)
        if logits.shape != (boxes.size(0), self.num_classes):
            raise ValueError(
                f"base_logits must have shape [R, C] = [{boxes.size(0)}, {self.num_classes}], "
                f"got {list(logits.shape)}"
            )
        check_finite("base_logits", logits)
        if region_features is not None and self.global_ is not None:
            region_features = check_tensor("region_features", region_features)
            if region_features.shape != (boxes.size(0), self.region_channels):
                raise ValueError(
                    f"region_features must have shape [R, D_r] = [{boxes.size(0)}, "
                    f"{self.region_channels}] (D_r = global module in_channels - C), "
                    f"got {list(region_features.shape)}"
                )
            check_finite("region_features", region_features)
        if self.global_ is None:
            warn_boxes_outside(boxes, batch, sizes, stacklevel=4)
        return RegionGrid(
            boxes,
            batch,
            (features.size(2), features.size(3)),
            grid_sizes=grid_sizes_of(sizes, self.spatial_scale),
            output_size=self.local.crop_size if self.local is not None else 7,
            spatial_scale=self.spatial_scale,
            mode=self.crop_mode,
            sampling_ratio=self.sampling_ratio,
            aligned=self.aligned,
            masks=masks,
        )

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}(num_classes={self.num_classes}, "
            f"local={self.local is not None}, global={self.global_ is not None}, "
            f"num_iterations={self.num_iterations}, feed={self.feed!r}, "
            f"attention={self.fusion is not None})"
        )


class _Steps:
    """The predictions, attention logits and inputs collected over the iterations."""

    def __init__(self, base_logits: Tensor, base_attention: Tensor | None) -> None:
        self.base_logits = base_logits
        self.logits: list[Tensor] = [base_logits]
        self.attention: list[Tensor | None] = [base_attention]
        self.by_module: dict[str, tuple[list[Tensor], list[Tensor]]] = {
            "local": ([], []),
            "global": ([], []),
        }

    def add(self, module: str, inputs: Tensor | None, logits: Tensor, attention: Tensor) -> None:
        assert inputs is not None
        self.by_module[module][0].append(logits)
        self.by_module[module][1].append(inputs)
        self.logits.append(logits)
        self.attention.append(attention)

    def output(self, fusion: AttentionFusion | None) -> ReasoningOutput:
        def stacked(module: str, index: int) -> Tensor | None:
            items = self.by_module[module][index]
            return torch.stack(items) if items else None

        local, global_ = stacked("local", 0), stacked("global", 0)
        if fusion is not None:
            attention = torch.stack([a for a in self.attention if a is not None])
            fused = fusion(torch.stack(self.logits), attention)
            logits, weights = fused.logits, fused.weights
        else:
            last = [x[-1] for x in (local, global_) if x is not None]
            logits, weights = torch.stack(last).mean(0), None
        return ReasoningOutput(
            logits,
            self.base_logits,
            local,
            global_,
            weights,
            stacked("local", 1),
            stacked("global", 1),
        )


def _check_config(
    num_classes: int,
    local: LocalModule | None,
    global_: GlobalModule | None,
    num_iterations: int,
    feed: str,
) -> None:
    if local is None and global_ is None:
        raise ValueError("the head needs a local module, a global module or both; got neither")
    if num_iterations < 2:
        raise ValueError(
            f"num_iterations must be >= 2 (the ConvNet prediction plus at least one reasoning "
            f"round), got {num_iterations}"
        )
    if feed not in FEED_MODES:
        raise ValueError(f"feed must be one of {FEED_MODES}, got {feed!r}")
    if local is not None and local.num_classes != num_classes:
        raise ValueError(
            f"the local module has {local.num_classes} classes, the head {num_classes}"
        )
    if global_ is not None:
        if global_.num_classes != num_classes:
            raise ValueError(
                f"the global module has {global_.num_classes} classes, the head {num_classes}"
            )
        if global_.in_channels <= num_classes:
            raise ValueError(
                f"the global module's in_channels ({global_.in_channels}) must be D_r + C: the "
                f"region features concatenated with the {num_classes} logits"
            )
