"""Paste per-region updates back onto a feature grid: the inverse of the crop."""

from __future__ import annotations

from typing import NamedTuple

from torch import Tensor

from iterative_reasoning.ops.interpolation import CropMode
from iterative_reasoning.ops.region_grid import RegionGrid


class Paste(NamedTuple):
    """Output of :func:`paste_regions`.

    Attributes:
        total: the pasted updates summed over regions, ``[B, D, H, W]``.
        coverage: the number of boxes covering each cell, ``[B, 1, H, W]``.
    """

    total: Tensor
    coverage: Tensor

    def mean(self) -> Tensor:
        """``total / coverage`` where a box covers the cell, 0 elsewhere (the memory write)."""
        return self.total / self.coverage.clamp(min=1)


def paste_regions(
    updates: Tensor,
    boxes: Tensor,
    batch: Tensor,
    grid_size: tuple[int, int],
    *,
    grid_sizes: Tensor | None = None,
    num_images: int | None = None,
    spatial_scale: float = 1 / 16,
    mode: CropMode = "roi_align",
    aligned: bool = True,
) -> Paste:
    r"""Paste each region's ``P x P`` update over its box (bilinear) and sum over regions.

    .. math::
        \text{total}[i, j] = \sum_n \sum_{a, c} K^y_n[a, i]\, K^x_n[c, j]\, U_n[a, c]

    with the paste kernels of :func:`~iterative_reasoning.ops.interpolation.paste_kernel`:
    cell ``(i, j)`` inside box ``n`` reads ``U_n`` bilinearly at its position in crop units;
    cells outside the box get nothing. With ``mode="crop_and_resize"`` this is the original's
    inverse crop. ``coverage`` is the number of boxes covering each cell (bilinear weights of a
    constant sum to one), so :meth:`Paste.mean` is the original's averaged write. A box that
    covers no cell centre (narrower than one cell) writes nothing.

    It is one sparse product with at most four non-zeros per covered cell and box; the
    ``[R, H, W, D]`` tensor of per-region pastes is never formed.

    Args:
        updates: per-region updates.
        boxes: ``xyxy`` boxes in input pixels.
        batch: image index of each box.
        grid_size: ``(H, W)`` of the output grid.
        grid_sizes: cells of each image's own grid inside a padded batch (nothing is written
            beyond it); defaults to the whole grid.
        num_images: ``B``; defaults to the rows of ``grid_sizes``, else ``max(batch) + 1``.
        spatial_scale: grid cells per input pixel.
        mode: ``"roi_align"`` or ``"crop_and_resize"``, the convention of the crop it inverts.
        aligned: half-pixel offset (``"roi_align"``).

    Shapes:
        - **updates:** ``[R, D, P, P]``; **boxes:** ``[R, 4]``; **batch:** ``[R]``
        - **output:** :class:`Paste` of ``[B, D, H, W]`` and ``[B, 1, H, W]``

    Example:
        >>> import torch
        >>> boxes = torch.tensor([[0.0, 0.0, 64.0, 64.0], [32.0, 32.0, 96.0, 96.0]])
        >>> out = paste_regions(torch.ones(2, 1, 7, 7), boxes, torch.tensor([0, 0]), (8, 8))
        >>> out.total[0, 0, 3]
        tensor([1., 1., 2., 2., 1., 1., 0., 0.])
        >>> out.mean()[0, 0, 3]
        tensor([1., 1., 1., 1., 1., 1., 0., 0.])
    """
    grid = RegionGrid(
        boxes,
        batch,
        grid_size,
        grid_sizes=grid_sizes,
        num_images=num_images,
        output_size=updates.size(-1) if isinstance(updates, Tensor) and updates.dim() else 7,
        spatial_scale=spatial_scale,
        mode=mode,
        aligned=aligned,
    )
    return Paste(grid.paste(updates), grid.coverage.to(updates.dtype))
