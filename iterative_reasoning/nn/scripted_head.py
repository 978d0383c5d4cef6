"""The head's inference as a TorchScript program: what a scripted detector runs.

:class:`IterativeReasoningHead` builds its region grid and its graph from Python objects (a
:class:`~iterative_reasoning.ops.RegionGrid`, a PyG :class:`~torch_geometric.data.HeteroData`)
that TorchScript cannot compile. :class:`ScriptedHead` computes the same inference, on the
same parameters (it holds the head's own layers, not copies), with TorchScript's types: the
crop and paste operators are built by the kernels of :mod:`~iterative_reasoning.ops`
(:func:`~iterative_reasoning.ops.interpolation.crop_kernel`,
:func:`~iterative_reasoning.ops.region_grid.separable_entries`), the spatial edges by
:func:`~iterative_reasoning.graph.spatial.relation_edges` and the assignment by
:func:`~iterative_reasoning.graph.assignment.dense_assignment`, all TorchScript functions.
It is what ``torch.jit.script`` of a torchvision detector with the head attached runs
(:mod:`~iterative_reasoning.detectors.torchvision.scripting`).

It covers the heads with both modules (``"final"`` and its ablations ``"no_spatial"``,
``"no_semantic"``, ``"no_cross_feed"``, ``"no_attention"``, either fusion, either crop mode,
either GRU variant) on whole boxes, in evaluation mode; anything else is refused by
:func:`check_scriptable`, naming what.
"""

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.jit import Final

from iterative_reasoning.graph.assignment import dense_assignment
from iterative_reasoning.graph.spatial import relation_edges, same_image_pairs
from iterative_reasoning.nn.global_conv import (
    GlobalReasoningConv,
    side_by_side,
    stacked_transpose,
)
from iterative_reasoning.nn.local_module import context_window
from iterative_reasoning.nn.reasoning_head import IterativeReasoningHead
from iterative_reasoning.ops.interpolation import crop_kernel, paste_kernel
from iterative_reasoning.ops.region_grid import (
    grid_sizes_of,
    read_window_of,
    separable_entries,
    valid_mask_of,
)


class ScriptedHead(nn.Module):
    """The inference of an :class:`IterativeReasoningHead` with both modules, in a form
    ``torch.jit.script`` compiles: the logits of ``head(...).logits`` at inference, on the
    head's own parameters (the same operations in the same order: equal to the last bit in
    the tests, float32 and float64).

    Args:
        head: the head (see :func:`check_scriptable` for which).

    Shapes:
        as :meth:`IterativeReasoningHead.forward <iterative_reasoning.nn.IterativeReasoningHead.
        forward>` without masks: **features** ``[B, D_f, H, W]``, **boxes** ``[R, 4]``,
        **batch** ``[R]`` (sorted), **image_sizes** ``[B, 2]``, **base_logits** ``[R, C]``,
        **region_features** ``[R, D_r]`` -> the head's final logits ``[R, C]``

    Example:
        >>> import torch
        >>> from iterative_reasoning.graph import ClassRelations
        >>> rel = ClassRelations(5, {"is_kind_of": torch.tensor([[1, 2], [3, 3]])})
        >>> head = IterativeReasoningHead.paper(
        ...     "final", num_classes=5, class_relations=rel, feature_channels=8,
        ...     region_channels=16, memory_channels=8, fc_channels=32, hidden_channels=16).eval()
        >>> inputs = (torch.randn(1, 8, 6, 8), torch.tensor([[0.0, 0.0, 64.0, 48.0]]),
        ...           torch.tensor([0]), torch.tensor([[96.0, 128.0]]), torch.randn(1, 5),
        ...           torch.randn(1, 16))
        >>> scripted = torch.jit.script(ScriptedHead(head))
        >>> torch.allclose(scripted(*inputs), head(*inputs).logits, atol=1e-6)
        True
    """

    num_classes: Final[int]
    num_iterations: Final[int]
    feed: Final[str]
    attention_fusion: Final[bool]
    residual: Final[bool]
    crop_size: Final[int]
    spatial_scale: Final[float]
    crop_mode: Final[str]
    sampling_ratio: Final[int]
    aligned: Final[bool]
    paper_cell: Final[bool]
    gate_channels: Final[int]
    memory_channels: Final[int]
    spatial: Final[bool]
    semantic: Final[bool]
    hidden_channels: Final[int]
    num_class_relations: Final[int]
    delta: Final[float]
    eps: Final[float]
    spatial_relations: list[str]
    class_graph_crow: Tensor
    class_graph_col: Tensor
    class_graph_values: Tensor

    def __init__(self, head: IterativeReasoningHead) -> None:
        super().__init__()
        check_scriptable(head)
        local, global_ = head.local, head.global_
        assert local is not None and global_ is not None
        self.num_classes = head.num_classes
        self.num_iterations = head.num_iterations
        self.feed = head.feed
        self.attention_fusion = head.fusion is not None
        self.residual = head.fallback is not None
        # the local module: its layers themselves
        self.crop_size = head.crop.output_size
        self.spatial_scale = head.crop.spatial_scale
        self.crop_mode = head.crop.mode
        self.sampling_ratio = head.crop.sampling_ratio
        self.aligned = head.crop.aligned
        self.memory_channels = local.memory_channels
        self.memory = local.memory
        self.feature_proj = local.feature_proj
        self.logit_proj = local.logit_proj
        self.fuse = local.fuse
        self.paper_cell = local.cell.variant == "paper"
        self.gate_channels = local.cell.gate_channels
        self.cell_input = local.cell.input_conv
        self.cell_gates = local.cell.hidden_gates
        self.cell_candidate = local.cell.hidden_candidate
        self.context = local.context
        self.fc = local.fc
        self.local_classifier = local.classifier
        self.local_attention = local.attention
        # the global module
        conv = global_.conv
        self.spatial = conv.spatial
        self.semantic = conv.semantic
        self.hidden_channels = global_.hidden_channels
        self.spatial_relations = list(conv.spatial_relations)
        self.num_class_relations = len(conv.class_relations)
        self.delta = float(global_.delta)
        self.eps = float(global_.eps)
        empty = torch.zeros(0)
        self.spatial_weight = conv.spatial_weight if conv.spatial else nn.Parameter(empty)
        if conv.semantic:
            assert global_.class_embedding is not None
            self.assign_weight = conv.assign_weight
            self.class_weight = conv.class_weight
            self.relation_weight = conv.relation_weight
            self.rev_assign_weight = conv.rev_assign_weight
            self.class_embedding = global_.class_embedding
            graph = stacked_transpose(global_.class_relations, conv.class_relations)
            crow, col, values = graph.crow, graph.col, graph.values
        else:
            for name in ("assign_weight", "class_weight", "relation_weight", "rev_assign_weight"):
                setattr(self, name, nn.Parameter(empty))
            self.class_embedding = nn.Parameter(empty)
            crow, col, values = torch.zeros(1, dtype=torch.long), empty.long(), empty
        #: the class graph of the semantic path, ``[A_1^T; ...; A_E^T]`` in CSR form
        self.register_buffer("class_graph_crow", crow, persistent=False)
        self.register_buffer("class_graph_col", col, persistent=False)
        self.register_buffer("class_graph_values", values, persistent=False)
        self.global_classifier = global_.classifier
        self.global_attention = global_.attention
        # a_0 (the local module's read of the initial memory) and the fallback gate
        self.gate = head.fallback.gate if head.fallback is not None else nn.Parameter(empty)

    def forward(
        self,
        features: Tensor,
        boxes: Tensor,
        batch: Tensor,
        image_sizes: Tensor,
        base_logits: Tensor,
        region_features: Tensor,
    ) -> Tensor:
        """The head's final logits ``[R, C]`` (``head(...).logits``)."""
        num_images, height, width = features.size(0), features.size(2), features.size(3)
        grid_sizes = grid_sizes_of(image_sizes, self.spatial_scale)
        crop, paste = self._operators(boxes, batch, grid_sizes, height, width, num_images)
        ones = torch.ones([paste.size(1), 1], dtype=torch.float64, device=boxes.device)
        coverage = torch.sparse.mm(paste, ones).round()
        coverage = coverage.reshape(num_images, 1, height, width).to(features.dtype)
        mask = valid_mask_of(grid_sizes, height, width).to(features.dtype)
        window = context_window(
            read_window_of(crop.indices()[1], height, width), len(self.context), height, width
        )
        crop, paste = crop.to(features.dtype), paste.to(features.dtype)
        crops = self._crop(crop, features.detach())
        states = self._initial_states(grid_sizes)
        memory = self._padded(states, height, width).to(features.dtype)
        spatial = self._spatial_adjacency(boxes, batch) if self.spatial else None
        most = int(torch.bincount(batch, minlength=num_images).max()) if batch.numel() else 0
        base_logits = base_logits.detach()
        predictions = [base_logits]
        attention = [self._read_initial(states, crop, height, width)[1]]
        local_in, global_in = base_logits, base_logits
        local_logits, global_logits = base_logits, base_logits
        for _ in range(1, self.num_iterations):
            memory = self._write(memory, crops, local_in, crop, paste, coverage)
            local_logits, local_attention = self._read(memory, crop, mask, window)
            global_logits, global_attention = self._reason_globally(
                region_features.detach(), global_in, batch, num_images, most, spatial
            )
            predictions += [local_logits, global_logits]
            attention += [local_attention, global_attention]
            local_in, global_in = self._next_inputs(local_logits, global_logits)
        if self.attention_fusion:
            weights = torch.softmax(torch.stack(attention), dim=0)
            fused = (weights.unsqueeze(-1) * torch.stack(predictions)).sum(0)
        else:
            fused = torch.stack([local_logits, global_logits]).mean(0)
        if self.residual:
            return base_logits + self.gate.to(base_logits.dtype) * (fused - base_logits)
        return fused

    # -- the regions on the grid -----------------------------------------------------------

    def _operators(
        self,
        boxes: Tensor,
        batch: Tensor,
        grid_sizes: Tensor,
        height: int,
        width: int,
        num_images: int,
    ) -> tuple[Tensor, Tensor]:
        """The crop ``[R * P * P, B * H * W]`` and the paste (its shape transposed), sparse,
        coalesced, float64, as :class:`~iterative_reasoning.ops.RegionGrid` builds them."""
        box = boxes.detach().to(torch.float64)
        rows, cols = grid_sizes[batch, 0], grid_sizes[batch, 1]
        p, scale, mode = self.crop_size, self.spatial_scale, self.crop_mode
        crop_y = crop_kernel(
            box[:, 1], box[:, 3], rows, height, p, scale, mode, self.sampling_ratio, self.aligned
        )
        crop_x = crop_kernel(
            box[:, 0], box[:, 2], cols, width, p, scale, mode, self.sampling_ratio, self.aligned
        )
        cells, grid, values = separable_entries(crop_y, crop_x, batch, height, width)
        size = [boxes.size(0) * p * p, num_images * height * width]
        crop = torch.sparse_coo_tensor(torch.stack([cells, grid]), values, size).coalesce()
        paste_y = paste_kernel(box[:, 1], box[:, 3], rows, height, p, scale, mode, self.aligned)
        paste_x = paste_kernel(box[:, 0], box[:, 2], cols, width, p, scale, mode, self.aligned)
        cells, grid, values = separable_entries(paste_y, paste_x, batch, height, width)
        size = [size[1], size[0]]
        paste = torch.sparse_coo_tensor(torch.stack([grid, cells]), values, size).coalesce()
        return crop, paste

    def _crop(self, crop: Tensor, grid: Tensor) -> Tensor:
        """``[B, D, H, W]`` -> ``[R, D, P, P]``."""
        num, channels, height, width = grid.shape
        flat = grid.permute(0, 2, 3, 1).reshape(num * height * width, channels)
        p = self.crop_size
        return torch.sparse.mm(crop, flat).reshape(-1, p, p, channels).permute(0, 3, 1, 2)

    def _paste(self, paste: Tensor, updates: Tensor, memory: Tensor) -> Tensor:
        """``[R, D, P, P]`` -> ``[B, D, H, W]`` (the shape of ``memory``), summed over the
        boxes."""
        r, channels, p = updates.size(0), updates.size(1), self.crop_size
        flat = updates.permute(0, 2, 3, 1).reshape(r * p * p, channels)
        out = torch.sparse.mm(paste, flat)
        shape = [memory.size(0), memory.size(2), memory.size(3), channels]
        return out.reshape(shape).permute(0, 3, 1, 2)

    # -- the local module ------------------------------------------------------------------

    def _initial_states(self, grid_sizes: Tensor) -> list[Tensor]:
        """The learned initial state resized to each image's grid, ``[1, D_m, rows, cols]``
        each."""
        sizes: list[list[int]] = grid_sizes.tolist()
        return [self.memory.resized((size[0], size[1])) for size in sizes]

    def _padded(self, maps: list[Tensor], height: int, width: int) -> Tensor:
        """Each image's map padded with zeros to the batch's ``height x width``, stacked."""
        padded = [F.pad(m, [0, width - m.size(3), 0, height - m.size(2)]) for m in maps]
        if len(padded) == 0:
            return self.memory.init.new_zeros([0, self.memory_channels, height, width])
        return torch.cat(padded)

    def _write(
        self,
        memory: Tensor,
        crops: Tensor,
        logits: Tensor,
        crop: Tensor,
        paste: Tensor,
        coverage: Tensor,
    ) -> Tensor:
        tiled = self.logit_proj(logits)[:, :, None, None]
        x = torch.relu(self.fuse(torch.relu(self.feature_proj(crops) + tiled)))
        h = self._crop(crop, memory)
        g = self.gate_channels
        x_reset, x_update, x_candidate = self.cell_input(x).split(
            [g, g, self.memory_channels], dim=1
        )
        h_reset, h_update = self.cell_gates(h).split([g, g], dim=1)
        reset = torch.sigmoid(x_reset + h_reset)
        if self.paper_cell:
            update = torch.sigmoid(x_update + h_update)
            candidate = torch.relu(x_candidate + self.cell_candidate(reset * h))
        else:
            update = torch.sigmoid(-(x_update + h_update))
            candidate = torch.tanh(x_candidate + reset * self.cell_candidate(h))
        total = self._paste(paste, update * (candidate - h), memory)
        return memory + total / coverage.clamp(min=1)

    def _read(
        self, memory: Tensor, crop: Tensor, mask: Tensor, window: tuple[int, int, int, int]
    ) -> tuple[Tensor, Tensor]:
        """Context convolutions on the block the crops read, crop, FC, logits, attention."""
        height, width = memory.size(2), memory.size(3)
        top, bottom, left, right = window
        context = self._context(
            memory[:, :, top:bottom, left:right], mask[:, :, top:bottom, left:right]
        )
        context = F.pad(context, [left, width - right, top, height - bottom])
        features = self.fc(self._crop(crop, context).flatten(1))
        return self.local_classifier(features), self.local_attention(features)[:, 0]

    def _read_initial(
        self, states: list[Tensor], crop: Tensor, height: int, width: int
    ) -> tuple[Tensor, Tensor]:
        """The read of ``S_0`` as the head reads it at inference
        (:meth:`~iterative_reasoning.nn.LocalModule.read_initial`): the context convolutions
        of each image's initial ``states`` on its own grid, padded to the batch's."""
        contexts = [
            self._context(state, state.new_ones([1, 1, state.size(2), state.size(3)]))
            for state in states
        ]
        features = self.fc(self._crop(crop, self._padded(contexts, height, width)).flatten(1))
        return self.local_classifier(features), self.local_attention(features)[:, 0]

    def _context(self, memory: Tensor, mask: Tensor) -> Tensor:
        out, inner = memory, memory
        for k, layer in enumerate(self.context):
            if k == 0:
                out = layer(memory) * mask
            elif k % 2 == 1:
                inner = layer(torch.relu(out)) * mask
            else:
                out = out + layer(torch.relu(inner)) * mask
        return out

    # -- the global module -----------------------------------------------------------------

    def _spatial_adjacency(self, boxes: Tensor, batch: Tensor) -> Tensor:
        """``[R, E_s * R]``: every spatial relation's row-normalised adjacency side by side."""
        num = boxes.size(0)
        source, target = same_image_pairs(batch)
        indices: list[Tensor] = []
        values: list[Tensor] = []
        for name in self.spatial_relations:
            index, weight = relation_edges(boxes, source, target, name, self.delta)
            indices.append(index)
            values.append(weight)
        size = [num, len(self.spatial_relations) * num]
        adjacency = torch.sparse_coo_tensor(side_by_side(indices, num), torch.cat(values), size)
        return adjacency.coalesce()

    def _reason_globally(
        self,
        region_features: Tensor,
        logits: Tensor,
        batch: Tensor,
        num_images: int,
        most: int,
        spatial: Tensor | None,
    ) -> tuple[Tensor, Tensor]:
        x = torch.cat([region_features, logits], dim=-1)
        out = x.new_zeros([x.size(0), self.hidden_channels])
        if spatial is not None:
            transformed = torch.einsum("rk,ekd->erd", x, self.spatial_weight)
            adjacency = spatial.to(x.dtype)
            out = out + torch.sparse.mm(adjacency, transformed.reshape(-1, self.hidden_channels))
        if self.semantic:
            probs = torch.softmax(logits, dim=-1).to(x.dtype)
            out = out + self._semantic(x, probs, batch, num_images, most)
        features = torch.relu(out)
        normalised = F.layer_norm(features, [self.hidden_channels])
        return self.global_classifier(features), self.global_attention(normalised)[:, 0]

    def _semantic(
        self, x: Tensor, probs: Tensor, batch: Tensor, num_images: int, most: int
    ) -> Tensor:
        """:meth:`FastGlobalReasoningConv.semantic_messages
        <iterative_reasoning.nn.FastGlobalReasoningConv.semantic_messages>`."""
        c, d, num_rel = self.num_classes, self.hidden_channels, self.num_class_relations
        assignment = dense_assignment(probs, batch, num_images, self.eps, most)
        counts = torch.bincount(batch, minlength=num_images)
        slot = torch.arange(batch.numel(), device=batch.device) - (counts.cumsum(0) - counts)[batch]
        regions = x.new_zeros([num_images, most, d])
        regions[batch, slot] = x @ self.assign_weight
        class_term = self.class_embedding @ self.class_weight  # [C, D]
        hidden = torch.relu(torch.bmm(assignment.to_class.to(x.dtype), regions) + class_term)
        graph = torch.sparse_csr_tensor(
            self.class_graph_crow,
            self.class_graph_col,
            self.class_graph_values.to(x.dtype),
            [num_rel * c, c],
            dtype=x.dtype,
        )
        q = torch.sparse.mm(graph, assignment.to_region.to(x.dtype).t().contiguous())
        q = q.reshape(num_rel, c, -1).permute(2, 0, 1)  # [R, E, C]
        q_padded = q.new_zeros([num_images, most, num_rel, c])
        q_padded[batch, slot] = q
        qh = torch.bmm(q_padded.reshape(num_images, most * num_rel, c), hidden)
        qh = qh.reshape(num_images * most, num_rel * d)[batch * most + slot]
        semantic = qh @ self.relation_weight.reshape(-1, d)
        return torch.relu(semantic @ self.rev_assign_weight)

    def _next_inputs(self, local: Tensor, global_: Tensor) -> tuple[Tensor, Tensor]:
        if self.feed == "self":
            return local, global_
        if self.feed == "cross":
            return global_, local
        mean = 0.5 * (local + global_)
        return mean, mean


def check_scriptable(head: object) -> None:
    """Raise unless :class:`ScriptedHead` can run ``head``: an
    :class:`~iterative_reasoning.nn.IterativeReasoningHead` with both modules, a global module
    with the package's graph layer (:class:`~iterative_reasoning.nn.FastGlobalReasoningConv`
    or its reference), in float32 or float64."""
    if not isinstance(head, IterativeReasoningHead):
        raise TypeError(f"head must be an IterativeReasoningHead, got {type(head).__name__}")
    if head.local is None or head.global_ is None:
        missing = "global" if head.global_ is None else "local"
        raise ValueError(
            "torch.jit.script runs heads with both modules (the final model and its "
            f"ablations); this head has no {missing} module"
        )
    conv = head.global_.conv
    if type(conv).__name__ not in ("FastGlobalReasoningConv", "GlobalReasoningConv") or not (
        isinstance(conv, GlobalReasoningConv)
    ):
        raise ValueError(
            "torch.jit.script runs the package's graph layers (FastGlobalReasoningConv, "
            f"GlobalReasoningConv), not {type(conv).__name__}"
        )
    dtype = head.local.memory.init.dtype
    if dtype not in (torch.float32, torch.float64):
        raise ValueError(f"torch.jit.script runs heads in float32 or float64, not {dtype}")
