"""The iterative reasoning head: local and global modules rolled out with cross-feed, and an
attention that fuses every prediction."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import torch
from torch import Tensor, nn

from iterative_reasoning.graph import ClassRelations
from iterative_reasoning.graph.reasoning_graph import ReasoningGraph
from iterative_reasoning.nn.attention import AttentionFusion
from iterative_reasoning.nn.fallback import FallbackGate, FusionMode, check_fusion
from iterative_reasoning.nn.global_conv import most_regions
from iterative_reasoning.nn.global_module import GlobalModule
from iterative_reasoning.nn.head_checks import (
    FeedMode,
    check_head_config,
    check_head_fit,
    check_head_input,
)
from iterative_reasoning.nn.head_trace import ReasoningOutput, Trace
from iterative_reasoning.nn.local_module import LocalModule
from iterative_reasoning.nn.pretrained import load_head, push_head, save_head
from iterative_reasoning.nn.region_batch import RegionBatch, check_crops
from iterative_reasoning.ops import CropMode, RegionCrop, RegionGrid, grid_sizes_of
from iterative_reasoning.typing import OVERLAPS, SPATIAL_RELATIONS

MODELS: tuple[str, ...] = (
    "local",
    "global",
    "final",
    "no_spatial",
    "no_semantic",
    "no_cross_feed",
    "no_attention",
)


class PreparedRegions(NamedTuple):
    """The regions as the head reads them at every iteration
    (:meth:`IterativeReasoningHead.prepare`).

    Attributes:
        grid: the region grid, its operators built (``None`` when the head crops nothing).
        crops: the boxes' crops of the feature map ``[R, D_f, P, P]``, detached, or ``None``.
        region_features: the regions' features for the global module ``[R, D_r]``, or
            ``None`` without a global module.
        graph: the reasoning graph of the global module, or ``None``.
        most: the most regions of an image (the global module's padded blocks), or ``None``.
    """

    grid: RegionGrid | None
    crops: Tensor | None
    region_features: Tensor | None
    graph: ReasoningGraph | None
    most: int | None


@dataclass(frozen=True)
class HeadSize:
    """A size of the head (:meth:`IterativeReasoningHead.paper`'s ``size``): the fractions
    of the memory, FC and graph widths given that it takes, its ``T`` and its number of
    context convolutions (when not given)."""

    memory: float
    fc: float
    hidden: float
    num_iterations: int
    context_layers: int

    def of(
        self,
        memory_channels: int,
        fc_channels: int,
        hidden_channels: int,
        num_iterations: int | None = None,
        context_layers: int | None = None,
    ) -> dict[str, int]:
        """The widths, ``T`` and context layers of a head of this size from the widths
        given (each at least 1); a ``num_iterations`` or ``context_layers`` given is kept."""
        return {
            "memory_channels": max(1, round(memory_channels * self.memory)),
            "fc_channels": max(1, round(fc_channels * self.fc)),
            "hidden_channels": max(1, round(hidden_channels * self.hidden)),
            "num_iterations": self.num_iterations if num_iterations is None else num_iterations,
            "context_layers": self.context_layers if context_layers is None else context_layers,
        }


#: The head's sizes: the paper's, and a light head for detection at scale, chosen by
#: measurement (``docs/reasoning_head.rst``, "A light head").
HEAD_SIZES: dict[str, HeadSize] = {
    "paper": HeadSize(1.0, 1.0, 1.0, 3, 3),
    "light": HeadSize(0.5, 0.25, 0.5, 2, 3),
}


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
    original), or without a local module from one learned logit.

    Args:
        num_classes: ``C``, background included.
        local: the local module, or ``None``.
        global_: the global module, or ``None``; its input is the region features concatenated
            with the logits it reads, so ``global_.in_channels = D_r + C``. Its graph settings
            (``delta``, the ``overlaps`` relation) are the head's.
        num_iterations: ``T``, predictions per module including the ConvNet's (3).
        feed: ``"cross"``, ``"self"`` or ``"mean"``.
        attention: fuse with attention; otherwise the final prediction is the last iteration's.
        crop: how the regions are cropped from the feature map and the memory (and pasted
            back): a :class:`~iterative_reasoning.ops.RegionCrop` whose ``output_size`` is the
            local module's ``crop_size``; by default ``RegionCrop(crop_size)`` (roi_align at
            stride 16, two samples per bin).
        fusion: ``"paper"``: the output is the fused prediction :math:`f`; ``"residual"``:
            the base prediction plus the change :math:`f - f_0` through a per-class gate that
            starts at zero (:class:`~iterative_reasoning.nn.FallbackGate`), so that the head
            starts as its input, bit for bit, and moves from it only as far as the gate is
            fitted to (on held-out images, by :mod:`~iterative_reasoning.demos.detection`).

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
        crop: RegionCrop | None = None,
        fusion: FusionMode = "paper",
    ) -> None:
        super().__init__()
        crop = crop if crop is not None else RegionCrop(local.crop_size if local else 7)
        check_head_config(num_classes, local, global_, num_iterations, feed, crop)
        check_fusion(fusion)
        self.num_classes = num_classes
        self.local = local
        self.global_ = global_
        self.num_iterations = num_iterations
        self.feed: FeedMode = feed
        self.crop = crop
        self.region_channels = global_.in_channels - num_classes if global_ is not None else None
        self.fusion = AttentionFusion() if attention else None
        # a_0 of a head without a local module: one learned logit, as the local module's a_0 (its
        # read of the initial memory) is nearly the same for every region. A logit from the region
        # features saturates towards the ConvNet, which predicts better early in training, and
        # then never lets the global predictions in (measured on the synthetic benchmark).
        self.base_attention = nn.Parameter(torch.zeros(1)) if attention and local is None else None
        self.fusion_mode: FusionMode = fusion
        self.fallback = FallbackGate(num_classes) if fusion == "residual" else None
        #: the arguments of paper() that built the head (what save_pretrained records)
        self.paper_config: dict[str, Any] | None = None
        #: the class names and the class graph's provenance, when known (from_pretrained)
        self.classes: list[str] | None = None
        self.class_graph_provenance: dict[str, Any] | None = None
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
        num_iterations: int | None = None,
        context_layers: int | None = None,
        spatial_scale: float = 1 / 16,
        crop_mode: CropMode = "roi_align",
        sampling_ratio: int = 2,
        aligned: bool = True,
        delta: float = 50.0,
        overlaps: bool = False,
        size: str = "paper",
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
            num_iterations: ``T`` (the size's: 3 for the paper's, 2 for the light).
            context_layers: the local module's context convolutions (the size's: 3 for the
                paper's).
            spatial_scale: feature cells per input pixel (1/16) of the head's
                :class:`~iterative_reasoning.ops.RegionCrop`.
            crop_mode: ``"roi_align"`` or the original's ``"crop_and_resize"``.
            sampling_ratio: samples per bin and axis for ``"roi_align"``.
            aligned: the half-pixel offset of ``"roi_align"``.
            delta: length scale of the global module's spatial edges, pixels (50).
            overlaps: give the global module the IoU ``overlaps`` region relation.
            size: ``"paper"`` (the widths given), or ``"light"``: half the memory and graph
                widths given, a quarter of the FC width and ``T = 2`` (on a ResNet-50:
                memory 256, FC 1,024, graph 256), for detection at scale
                (:data:`HEAD_SIZES`).
            kwargs: further arguments of :class:`IterativeReasoningHead` (``feed``,
                ``attention``, ``fusion``).
        """
        if model not in MODELS:
            raise ValueError(f"model must be one of {MODELS}, got {model!r}")
        widths = head_size(size).of(
            memory_channels, fc_channels, hidden_channels, num_iterations, context_layers
        )
        local = None
        if model != "global":
            local = LocalModule(
                feature_channels,
                num_classes,
                widths["memory_channels"],
                widths["fc_channels"],
                context_layers=widths["context_layers"],
            )
        global_ = None
        if model != "local":
            if class_relations is None:
                raise ValueError(f"model {model!r} has a global module and needs class_relations")
            global_ = GlobalModule(
                region_channels + num_classes,
                num_classes,
                class_relations,
                hidden_channels=widths["hidden_channels"],
                class_embedding=class_embedding,
                spatial=model != "no_spatial",
                semantic=model != "no_semantic",
                spatial_relations=(*SPATIAL_RELATIONS, *((OVERLAPS,) if overlaps else ())),
                delta=delta,
            )
        crop = RegionCrop(
            local.crop_size if local is not None else 7,
            spatial_scale,
            crop_mode,
            sampling_ratio,
            aligned,
        )
        options: dict[str, object] = {"feed": "self" if model == "no_cross_feed" else "cross"}
        options["attention"] = model != "no_attention"
        options.update(kwargs)
        head = cls(num_classes, local, global_, widths["num_iterations"], crop=crop, **options)  # type: ignore[arg-type]
        # what rebuilds it (save_pretrained): the arguments, the class relations aside
        head.paper_config = {
            "model": model,
            "num_classes": num_classes,
            "feature_channels": feature_channels,
            "region_channels": region_channels,
            "memory_channels": memory_channels,
            "fc_channels": fc_channels,
            "hidden_channels": hidden_channels,
            "class_embedding_shape": (
                list(class_embedding.shape) if class_embedding is not None else None
            ),
            "num_iterations": num_iterations,
            "context_layers": context_layers,
            "size": size,
            "spatial_scale": spatial_scale,
            "crop_mode": crop_mode,
            "sampling_ratio": sampling_ratio,
            "aligned": aligned,
            "delta": delta,
            "overlaps": overlaps,
            **kwargs,
        }
        return head

    def save_pretrained(
        self,
        directory: str | os.PathLike[str],
        classes: Sequence[str] | None = None,
        class_graph: Any = None,
    ) -> Path:
        """Save the head as a shareable artifact: ``directory/model.safetensors`` (the
        weights and the class relations) and ``directory/config.json`` (what rebuilds it: the
        arguments of :meth:`paper`, the dtype, ``classes`` and the class graph's provenance,
        the package version). Heads made by :meth:`paper` (or ``reasoning_head_for``) only.

        Args:
            directory: where to write (created).
            classes: the class names, background first (kept with the head).
            class_graph: the :class:`~knowledge_graphs.ClassGraph` (or its file) the class
                relations came from; its provenance is kept.

        Example:
            >>> import tempfile, torch
            >>> from iterative_reasoning.graph import ClassRelations
            >>> rel = ClassRelations(3, {"is_part_of": torch.tensor([[1], [2]])})
            >>> head = IterativeReasoningHead.paper(
            ...     "final", num_classes=3, class_relations=rel, feature_channels=4,
            ...     region_channels=4, memory_channels=4, fc_channels=8, hidden_channels=4)
            >>> folder = head.save_pretrained(tempfile.mkdtemp(), classes=["bg", "a", "b"])
            >>> again = IterativeReasoningHead.from_pretrained(folder)
            >>> again.classes, all(torch.equal(p, q) for p, q in
            ...                    zip(head.state_dict().values(), again.state_dict().values()))
            (['bg', 'a', 'b'], True)
        """
        return save_head(self, directory, classes, class_graph)

    @classmethod
    def from_pretrained(
        cls, source: str | os.PathLike[str], map_location: str | torch.device = "cpu"
    ) -> IterativeReasoningHead:
        """The head saved by :meth:`save_pretrained` at ``source`` (a directory, or with
        ``huggingface_hub`` a Hub repository id such as ``"user/name"``), rebuilt exactly
        (the same outputs, bit for bit). Reads JSON and safetensors only: nothing is
        unpickled. Its ``classes`` and ``class_graph_provenance`` are what was saved.

        Raises:
            PretrainedHeadError: not an artifact of this format (the file is named).
        """
        return load_head(cls, source, map_location)

    def push_to_hub(self, repo_id: str, **options: Any) -> str:
        """Upload the head (as :meth:`save_pretrained` writes it; ``classes`` and
        ``class_graph`` may be given) to the Hugging Face Hub repository ``repo_id``, created
        if needed; needs ``huggingface_hub`` (the ``hub`` extra). Returns the commit URL."""
        return push_head(self, repo_id, **options)

    @property
    def spatial_scale(self) -> float:
        """Feature cells per input pixel: the stride of the map the head reads is its inverse."""
        return self.crop.spatial_scale

    @property
    def overlaps(self) -> bool:
        """Whether the graph has the IoU ``overlaps`` relation (the global module reads it)."""
        return self.global_ is not None and self.global_.overlaps

    def reset_parameters(self) -> None:
        if self.base_attention is not None:
            nn.init.zeros_(self.base_attention)

    def prediction_names(self) -> list[str]:
        """Names of the predictions in the order of ``ReasoningOutput.attention``."""
        names = ["base"]
        for t in range(1, self.num_iterations):
            names += [f"{m}_{t}" for m in self._modules_in_order()]
        return names

    def forward(
        self,
        features: Tensor | RegionBatch,
        boxes: Tensor | None = None,
        batch: Tensor | None = None,
        image_sizes: Tensor | None = None,
        base_logits: Tensor | None = None,
        region_features: Tensor | None = None,
        masks: Tensor | None = None,
        crops: Tensor | None = None,
        cropped_by: RegionCrop | None = None,
    ) -> ReasoningOutput:
        """:meth:`reason` on a :class:`~iterative_reasoning.nn.RegionBatch` that
        :func:`~iterative_reasoning.nn.region_batch` built and checked (``head(regions)``:
        only its fit to the head is checked), or on the tensors, checked here (one host read
        per device).

        Args:
            features: the mid-level feature map (stride 16) of the padded batch, or a
                :class:`~iterative_reasoning.nn.RegionBatch` alone.
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
            crops, cropped_by: the boxes' crops of ``features`` and the
                :class:`~iterative_reasoning.ops.RegionCrop` that made them: read in place of
                the head's own crops when ``cropped_by`` has the head's settings.
        """
        if isinstance(features, RegionBatch):
            given = (boxes, batch, image_sizes, base_logits, region_features, masks, crops)
            if any(a is not None for a in given) or cropped_by is not None:
                raise TypeError("give a RegionBatch alone, or the tensors without one")
            regions = features
            check_head_fit(self, regions)
        else:
            sizes = check_head_input(
                self, features, boxes, batch, image_sizes, base_logits, region_features, masks
            )
            regions = RegionBatch(
                features,
                boxes,  # type: ignore[arg-type]
                batch,  # type: ignore[arg-type]
                sizes,
                base_logits,  # type: ignore[arg-type]
                region_features,
                masks,
                crops,
                cropped_by,
            )
            check_crops(regions)
        return self.reason(
            regions.features,
            regions.boxes,
            regions.batch,
            regions.image_sizes,
            regions.base_logits,
            regions.region_features,
            regions.masks,
            regions.crops_for(self.crop),
        )

    def reason(
        self,
        features: Tensor,
        boxes: Tensor,
        batch: Tensor,
        image_sizes: Tensor,
        base_logits: Tensor,
        region_features: Tensor | None = None,
        masks: Tensor | None = None,
        crops: Tensor | None = None,
    ) -> ReasoningOutput:
        """Roll the modules out for ``T - 1`` iterations after the ConvNet prediction, on
        inputs already checked (:meth:`forward` checks them); ``crops``: the boxes' crops of
        ``features`` by the head's crop, when already made. The same as :meth:`roll_out` of
        :meth:`prepare`."""
        regions = self.prepare(features, boxes, batch, image_sizes, region_features, masks, crops)
        return self.roll_out(regions, base_logits)

    def prepare(
        self,
        features: Tensor,
        boxes: Tensor,
        batch: Tensor,
        image_sizes: Tensor,
        region_features: Tensor | None = None,
        masks: Tensor | None = None,
        crops: Tensor | None = None,
    ) -> PreparedRegions:
        """What the head reads of the regions at every iteration, built once from inputs
        already checked: the region grid with its operators built, the crops of ``features``,
        the region features, the reasoning graph. Its sizes depend on the boxes' values (host
        reads), so this part stays out of a compiled graph; :meth:`roll_out` takes it from
        there and compiles whole (``torch.compile(head.roll_out, fullgraph=True)``)."""
        grid = None
        needs_crops = self.local is not None or (region_features is None and self.global_)
        if needs_crops:
            grid = self._grid(features, boxes, batch, image_sizes, masks)
            if self.local is not None:
                grid.build()
        if crops is None and grid is not None:
            crops = grid.crop(features)
        crops = crops.detach() if crops is not None else None
        if region_features is None and crops is not None and self.global_ is not None:
            region_features = crops.mean(dim=(2, 3))
        graph = most = None
        if self.global_ is not None:
            graph = self.global_.graph(boxes, batch, image_sizes)
            most = most_regions(batch, image_sizes.size(0))
        return PreparedRegions(grid, crops, region_features, graph, most)

    def roll_out(self, regions: PreparedRegions, base_logits: Tensor) -> ReasoningOutput:
        """The iterations, the fusion and the fallback gate on :meth:`prepare`'s regions,
        from the ConvNet's logits ``f_0``. Nothing in it reads a value on the host, so
        ``torch.compile(head.roll_out, fullgraph=True)`` traces it into one graph (it
        recompiles for other image grid sizes and, once, for another number of boxes)."""
        grid, crops, region_features, graph, most = regions
        memory = self.local.memory.initial(grid) if self.local and grid else None
        trace = Trace(base_logits, self._base_attention(memory, grid, base_logits.size(0)))
        local_in = global_in = base_logits.detach()
        for _ in range(1, self.num_iterations):
            local_logits = global_logits = None
            if self.local is not None and memory is not None and grid is not None:
                memory = self.local.write(memory, crops, local_in, grid)  # type: ignore[arg-type]
                out = self.local.read(memory, grid)
                trace.local.add(local_in, out.logits, out.attention)
                local_logits = out.logits
            if self.global_ is not None and graph is not None and region_features is not None:
                global_logits, attention = self._reason_globally(
                    region_features, global_in, graph, most
                )
                trace.global_.add(global_in, global_logits, attention)
            local_in, global_in = self._next_inputs(local_logits, global_logits)
        output = trace.output(self.fusion, self.num_iterations - 1)
        if self.fallback is None:
            return output
        gated = self.fallback(output.base_logits, output.logits)
        return output._replace(logits=gated, fused_logits=output.logits)

    # -- steps -----------------------------------------------------------------------------

    def _grid(
        self,
        features: Tensor,
        boxes: Tensor,
        batch: Tensor,
        image_sizes: Tensor,
        masks: Tensor | None,
    ) -> RegionGrid:
        """The regions on the feature grid: their crops, and the memory's paste (each built
        when first used)."""
        return RegionGrid.unchecked(
            boxes,
            batch,
            (features.size(2), features.size(3)),
            grid_sizes=grid_sizes_of(image_sizes, self.crop.spatial_scale),
            masks=masks,
            **self.crop.options(),
        )

    def _base_attention(
        self, memory: Tensor | None, grid: RegionGrid | None, num_regions: int
    ) -> Tensor | None:
        """``a_0``: from the read of the initial memory, or the learned base logit."""
        if self.fusion is None:
            return None
        if self.local is not None and memory is not None and grid is not None:
            return self.local.read_initial(grid, memory).attention
        assert self.base_attention is not None
        return self.base_attention.expand(num_regions)

    def _reason_globally(
        self,
        region_features: Tensor,
        logits: Tensor,
        graph: ReasoningGraph,
        max_regions: int | None = None,
    ) -> tuple[Tensor, Tensor]:
        """``f_g`` and ``a_g`` from the region features and the logits the module reads (they
        also assign the regions to the classes)."""
        assert self.global_ is not None
        x = torch.cat([region_features.detach(), logits], dim=-1)
        out = self.global_.reason(x, graph, torch.softmax(logits, dim=-1), max_regions)
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

    def _modules_in_order(self) -> list[str]:
        return [m for m, on in (("local", self.local), ("global", self.global_)) if on is not None]

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}(num_classes={self.num_classes}, "
            f"local={self.local is not None}, global={self.global_ is not None}, "
            f"num_iterations={self.num_iterations}, feed={self.feed!r}, "
            f"attention={self.fusion is not None}, fusion={self.fusion_mode!r})"
        )


def head_size(size: str, name: str = "size") -> HeadSize:
    """The :class:`HeadSize` named ``size`` (:data:`HEAD_SIZES`); an unknown one is an error
    that names the argument ``name``."""
    if size not in HEAD_SIZES:
        raise ValueError(f"{name} must be one of {tuple(HEAD_SIZES)}, got {size!r}")
    return HEAD_SIZES[size]
