"""The spatial memory of the local module: its learned initial state, and region-wise reads
and averaged writes."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from iterative_reasoning.ops import RegionGrid


class SpatialMemory(nn.Module):
    r"""A memory ``S`` of ``D_m`` channels on the ``H x W`` grid of the mid-level features
    (stride 16), from `Iterative Visual Reasoning Beyond Convolutions
    <https://arxiv.org/abs/1803.11189>`_ (section 4.1).

    The initial state is a learned ``init_size`` tensor (zero at initialisation), resized
    bilinearly to each image's own grid. A write adds the regions' updates, pasted back over
    their boxes and averaged over the boxes covering each cell:

    .. math::
        S_{t+1} = S_t + \frac{\sum_n \mathrm{paste}_n(\Delta_n)}{\max(K, 1)},
        \qquad K = \text{number of boxes covering the cell}

    so cells that no box covers are unchanged, and a box narrower than one cell (about 16
    input pixels) may cover no cell centre and write nothing. The padding of a batch stays zero.

    Args:
        channels: ``D_m`` (512 in the paper).
        init_size: size of the learned initial state (20 x 20 in the paper).

    Shapes:
        - :meth:`initial`: ``[B, D_m, H, W]``
        - :meth:`read`: ``[B, D_m, H, W]`` -> ``[R, D_m, P, P]``
        - :meth:`write`: ``[B, D_m, H, W]``, ``[R, D_m, P, P]`` -> ``[B, D_m, H, W]``

    Example:
        >>> import torch
        >>> from iterative_reasoning.ops import RegionGrid
        >>> memory = SpatialMemory(channels=4)
        >>> grid = RegionGrid(torch.tensor([[0.0, 0.0, 64.0, 48.0]]), torch.tensor([0]), (6, 8))
        >>> state = memory.write(memory.initial(grid), torch.ones(1, 4, 7, 7), grid)
        >>> float(state[0, 0].detach().sum())  # the box covers 4 x 3 cells
        12.0
    """

    def __init__(self, channels: int = 512, init_size: tuple[int, int] = (20, 20)) -> None:
        super().__init__()
        if channels < 1:
            raise ValueError(f"channels must be positive, got {channels}")
        self.channels = channels
        self.init_size = tuple(init_size)
        self.init = nn.Parameter(torch.empty(1, channels, *self.init_size))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.zeros_(self.init)

    def initial(self, grid: RegionGrid) -> Tensor:
        """``S_0``: the learned state resized to each image's grid, zero on the padding."""
        height, width = grid.grid_size
        state = self.init.new_zeros(grid.num_images, self.channels, height, width)
        resized: dict[tuple[int, int], Tensor] = {}
        rows = []
        for rows_b, cols_b in grid.image_grids:
            key = (rows_b, cols_b)
            if key not in resized:
                resized[key] = F.pad(self.resized(key), (0, width - cols_b, 0, height - rows_b))
            rows.append(resized[key])
        return torch.cat(rows) if rows else state

    def resized(self, size: tuple[int, int]) -> Tensor:
        """The learned state resized (bilinearly) to one image's ``(rows, columns)`` grid,
        ``[1, D_m, rows, columns]``."""
        return F.interpolate(self.init, size=size, mode="bilinear", align_corners=False)

    def read(self, state: Tensor, grid: RegionGrid) -> Tensor:
        """The ``P x P`` crop of the memory at every region."""
        return grid.crop(state)

    def write(self, state: Tensor, updates: Tensor, grid: RegionGrid) -> Tensor:
        """Add the regions' ``updates``, pasted and averaged over covering boxes."""
        total = grid.paste(updates)
        return state + total / grid.coverage.to(total.dtype).clamp(min=1)

    def extra_repr(self) -> str:
        return f"channels={self.channels}, init_size={self.init_size}"
