"""The local module of Chen et al., CVPR 2018, section 4.1: a spatial memory written by a
convolutional GRU and read by context convolutions."""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from iterative_reasoning._validation import check_tensor
from iterative_reasoning.nn.conv_gru import ConvGRUCell
from iterative_reasoning.nn.initial_context import InitialContextCache
from iterative_reasoning.nn.spatial_memory import SpatialMemory
from iterative_reasoning.ops import RegionGrid


class LocalOutput(NamedTuple):
    """A read of the memory.

    Attributes:
        logits: local class logits ``f_l``, ``[R, C]``.
        attention: attention logit ``a_l`` of each region, ``[R]``.
        features: the region features of the last FC layer, ``[R, D_fc]``.
    """

    logits: Tensor
    attention: Tensor
    features: Tensor


class LocalModule(nn.Module):
    r"""Spatial-memory reasoning, from `Iterative Visual Reasoning Beyond Convolutions
    <https://arxiv.org/abs/1803.11189>`_ (section 4.1), as the original code has it.

    **Write** (all regions in parallel; both inputs are stop-gradient):

    .. math::
        q &= \mathrm{ReLU}(W_1 * P + \mathrm{tile}_{P \times P}(f W_p)) \\
        x &= \mathrm{ReLU}(W_3 * q) \\
        \Delta &= \mathrm{GRU}(x, \mathrm{crop}(S_t)) - \mathrm{crop}(S_t) \\
        S_{t+1} &= S_t + \mathrm{paste}(\Delta) / \max(K, 1)

    with ``P`` the ``P x P`` crop of the mid-level features, ``f`` the current logits through a
    bias-free FC ``W_p``, ``W_1`` a 1x1 and ``W_3`` a 3x3 convolution, the GRU of
    :class:`ConvGRUCell` and the averaged write of :class:`SpatialMemory`.

    **Read**: context convolutions of the memory (computed on the block of cells the crops can
    read, which gives the same values as over the whole memory),
    :math:`\hat S = a + W_c * \mathrm{ReLU}(W_b * \mathrm{ReLU}(a)),\ a = W_a * S`
    (``context_layers = 3``; 5 adds a second residual block), then the crop of every region,
    two FC layers with ReLU, the class logits and a bias-free attention logit.

    Args:
        in_channels: ``D_f``, channels of the mid-level feature map (1024 for ResNet conv4).
        num_classes: ``C``, background included.
        memory_channels: ``D_m`` (512).
        fc_channels: width of the two FC layers (4096; the first has
            ``D_m * P * P * fc_channels`` weights, 102.8 M in the paper).
        crop_size: ``P`` (7).
        context_layers: odd number of context convolutions (3).
        cell: the memory cell; defaults to the paper's :class:`ConvGRUCell`
            (``ConvGRUCell(D_m, D_m, 3, variant="textbook")`` is the textbook option).
        init_size: size of the learned initial memory (20 x 20).
        init_std: init std of the 1x1 fusion, the logit FC, the classifier and attention.

    Shapes:
        - :meth:`write`: memory ``[B, D_m, H, W]``, crops ``[R, D_f, P, P]``, logits
          ``[R, C]`` -> memory
        - :meth:`read`: memory -> :class:`LocalOutput` with ``[R, C]``, ``[R]``,
          ``[R, D_fc]``

    Example:
        >>> import torch
        >>> from iterative_reasoning.ops import RegionGrid
        >>> local = LocalModule(in_channels=8, num_classes=5, memory_channels=16, fc_channels=32)
        >>> grid = RegionGrid(torch.tensor([[0.0, 0.0, 64.0, 48.0]]), torch.tensor([0]), (6, 8))
        >>> memory = local.memory.initial(grid)
        >>> crops = grid.crop(torch.randn(1, 8, 6, 8))
        >>> memory = local.write(memory, crops, torch.randn(1, 5), grid)
        >>> local.read(memory, grid).logits.shape
        torch.Size([1, 5])
    """

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        memory_channels: int = 512,
        fc_channels: int = 4096,
        crop_size: int = 7,
        context_layers: int = 3,
        cell: ConvGRUCell | None = None,
        init_size: tuple[int, int] = (20, 20),
        init_std: float = 0.01,
    ) -> None:
        super().__init__()
        for name, value in (
            ("in_channels", in_channels),
            ("num_classes", num_classes),
            ("memory_channels", memory_channels),
            ("fc_channels", fc_channels),
            ("crop_size", crop_size),
        ):
            if value < 1:
                raise ValueError(f"{name} must be positive, got {value}")
        if context_layers < 1 or context_layers % 2 == 0:
            raise ValueError(f"context_layers must be odd (1, 3, 5, ...), got {context_layers}")
        cell = cell if cell is not None else ConvGRUCell(memory_channels, memory_channels)
        if (cell.input_channels, cell.hidden_channels) != (memory_channels, memory_channels):
            raise ValueError(
                f"cell must map {memory_channels} to {memory_channels} channels "
                f"(memory_channels), got {cell.input_channels} -> {cell.hidden_channels}"
            )
        self.in_channels = in_channels
        self.num_classes = num_classes
        self.memory_channels = memory_channels
        self.crop_size = crop_size
        self.init_std = init_std
        d = memory_channels
        self.memory = SpatialMemory(d, init_size)
        self.feature_proj = nn.Conv2d(in_channels, d, 1)
        self.logit_proj = nn.Linear(num_classes, d, bias=False)
        self.fuse = nn.Conv2d(d, d, 3, padding=1)
        self.cell = cell
        self.context = nn.ModuleList(nn.Conv2d(d, d, 3, padding=1) for _ in range(context_layers))
        self.fc = nn.Sequential(
            nn.Linear(d * crop_size * crop_size, fc_channels),
            nn.ReLU(),
            nn.Linear(fc_channels, fc_channels),
            nn.ReLU(),
        )
        self.classifier = nn.Linear(fc_channels, num_classes)
        self.attention = nn.Linear(fc_channels, 1, bias=False)
        self.initial_context = InitialContextCache()
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.memory.reset_parameters()
        self.cell.reset_parameters()
        for layer in (self.feature_proj, self.logit_proj, self.classifier, self.attention):
            nn.init.normal_(layer.weight, std=self.init_std)
        for layer in (self.fuse, *self.context, self.fc[0], self.fc[2]):
            nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
        for layer in (self.feature_proj, self.fuse, *self.context, self.fc[0], self.fc[2]):
            nn.init.zeros_(layer.bias)
        nn.init.zeros_(self.classifier.bias)

    def write(self, memory: Tensor, crops: Tensor, logits: Tensor, grid: RegionGrid) -> Tensor:
        """One memory update from the regions' feature ``crops`` and current ``logits``
        (both detached here: writes never train the backbone or earlier predictions)."""
        self._check_write(crops, logits, grid)
        tiled = self.logit_proj(logits.detach())[:, :, None, None]
        x = torch.relu(self.fuse(torch.relu(self.feature_proj(crops.detach()) + tiled)))
        delta = self.cell.delta(x, self.memory.read(memory, grid))
        return self.memory.write(memory, delta, grid)

    def read(self, memory: Tensor, grid: RegionGrid) -> LocalOutput:
        """Context convolutions, crop, FC layers, logits and attention logits."""
        return self._read_context(self._read_context_window(memory, grid), grid)

    def read_initial(self, grid: RegionGrid, memory: Tensor | None = None) -> LocalOutput:
        """The read of the initial memory, ``read(memory.initial(grid), grid)``. At inference
        (no autograd) the context convolutions of the initial memory, which depend only on
        each image's grid size and the parameters, come from :attr:`initial_context`;
        otherwise they are computed on ``memory``, the initial memory when already made."""
        if grid.num_images == 0 or not self.initial_context.active():
            return self.read(self.memory.initial(grid) if memory is None else memory, grid)
        height, width = grid.grid_size
        sizes = grid.image_grids
        kept = self.initial_context.contexts(sizes, self._initial_parameters(), self._initial)
        padded = [
            F.pad(c, (0, width - cols, 0, height - rows))
            for c, (rows, cols) in zip(kept, sizes, strict=True)
        ]
        return self._read_context(torch.cat(padded), grid)

    def _read_context(self, context: Tensor, grid: RegionGrid) -> LocalOutput:
        features = self.fc(grid.crop(context).flatten(1))
        return LocalOutput(self.classifier(features), self.attention(features)[:, 0], features)

    def _read_context_window(self, memory: Tensor, grid: RegionGrid) -> Tensor:
        """The context convolutions where the crops can read them: on the block of cells they
        read (:attr:`~iterative_reasoning.ops.RegionGrid.read_window`) widened by one cell per
        convolution, since each 3 x 3 convolution reaches one cell further, and cut at the
        grid's edges, where the zero padding is the whole grid's. Zero outside the block, which
        no crop reads; the same values and gradients as over the whole grid."""
        height, width = grid.grid_size
        top, bottom, left, right = context_window(
            grid.read_window, len(self.context), height, width
        )
        mask = grid.valid_mask.to(memory.dtype)
        if (top, bottom, left, right) == (0, height, 0, width):
            return self._context(memory, mask)
        block = (slice(None), slice(None), slice(top, bottom), slice(left, right))
        context = self._context(memory[block], mask[block])
        return F.pad(context, (left, width - right, top, height - bottom))

    def _initial(self, size: tuple[int, int]) -> Tensor:
        """The context of one image's initial memory on its own ``size`` grid."""
        state = self.memory.resized(size)
        return self._context(state, state.new_ones(1, 1, *size))

    def _initial_parameters(self) -> list[Tensor]:
        return [self.memory.init, *(p for layer in self.context for p in layer.parameters())]

    def _context(self, memory: Tensor, mask: Tensor) -> Tensor:
        """``a = W_a * S``, then residual blocks ``a + W_c * ReLU(W_b * ReLU(a))``; every
        convolution's output is masked to each image's own grid (batch-padding stays zero)."""
        out = self.context[0](memory) * mask
        for k in range(1, len(self.context), 2):
            inner = self.context[k](torch.relu(out)) * mask
            out = out + self.context[k + 1](torch.relu(inner)) * mask
        return out

    def _check_write(self, crops: Tensor, logits: Tensor, grid: RegionGrid) -> None:
        crops, logits = check_tensor("crops", crops), check_tensor("logits", logits)
        r, p = grid.batch.numel(), self.crop_size
        if crops.shape[0] != r or crops.dim() != 4 or crops.shape[1:] != (self.in_channels, p, p):
            raise ValueError(
                f"crops must have shape [R, D_f, P, P] = [{r}, {self.in_channels}, {p}, {p}], "
                f"got {list(crops.shape)}"
            )
        if logits.shape != (r, self.num_classes):
            raise ValueError(
                f"logits must have shape [R, C] = [{r}, {self.num_classes}], "
                f"got {list(logits.shape)}"
            )

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}({self.in_channels}, num_classes={self.num_classes}, "
            f"memory_channels={self.memory_channels}, cell={self.cell.variant!r})"
        )


def context_window(
    read_window: tuple[int, int, int, int], margin: int, height: int, width: int
) -> tuple[int, int, int, int]:
    """The block ``(top, bottom, left, right)`` on which ``margin`` 3 x 3 convolutions give
    the context of every cell of ``read_window`` (a
    :attr:`~iterative_reasoning.ops.RegionGrid.read_window`): widened by one cell per
    convolution and cut at the ``height x width`` grid's edges."""
    top, bottom, left, right = read_window
    return (
        max(top - margin, 0),
        min(bottom + margin, height),
        max(left - margin, 0),
        min(right + margin, width),
    )
