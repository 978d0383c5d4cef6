"""One-dimensional interpolation kernels of the region crop and of its inverse, the paste.

A 2-D crop or paste of a box is separable: its weight between crop cell ``(a, c)`` and grid cell
``(i, j)`` is ``K_y[a, i] * K_x[c, j]``. These functions give the per-axis kernels of every
region at once, as small dense ``[R, P, L]`` tensors (``P`` crop cells, ``L`` grid cells along
the axis); :class:`~iterative_reasoning.ops.RegionGrid` turns them into sparse operators.

Two conventions are supported:

- ``"roi_align"``: torchvision's :func:`~torchvision.ops.roi_align` (``aligned=True`` by
  default: a grid cell ``i`` covers input pixels ``[i / s, (i + 1) / s)`` for
  ``spatial_scale`` ``s``), with ``sampling_ratio`` points per bin and axis, averaged.
- ``"crop_and_resize"``: TensorFlow's ``tf.image.crop_and_resize`` as the original code used it,
  align-corners: crop cell ``a`` samples grid coordinate ``y1 s + a (y2 - y1) s / (P - 1)``, with
  grid cell ``i`` at coordinate ``i``; samples outside ``[0, L - 1]`` are zero.

The paste puts a ``P x P`` update back over its box. Grid cell ``i`` inside the box reads the
update bilinearly at the position of ``i`` in crop-cell units: for ``"crop_and_resize"`` this is
exactly the original's inverse crop (``crop_and_resize`` of the update with the inverse box,
extrapolation 0); for ``"roi_align"`` it places crop cell ``a`` at the centre of bin ``a`` and
holds the outermost value up to the box edge. Cells outside the box receive nothing, and the
kernel of a cell inside it sums to one, so pasting ones gives the count of covering boxes.

The kernels are TorchScript functions too (``mode`` a ``str``): the scripted head of
:mod:`~iterative_reasoning.nn.scripted_head` builds its operators with them.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

CropMode = Literal["roi_align", "crop_and_resize"]
CROP_MODES: tuple[str, ...] = ("roi_align", "crop_and_resize")


def _bilinear(positions: Tensor, valid: Tensor, length: int) -> Tensor:
    """Linear-interpolation weights ``[..., length]`` of fractional ``positions`` onto integer
    cells, zero where not ``valid``. ``positions`` must lie in ``[0, length - 1]`` where valid."""
    positions = torch.where(valid, positions, torch.zeros_like(positions))
    low = positions.floor().clamp(0, length - 1)
    high = (low + 1).clamp(max=length - 1)
    frac = positions - low
    weights = positions.new_zeros(list(positions.shape) + [length])
    keep = valid.to(positions.dtype)
    weights.scatter_add_(-1, low.long().unsqueeze(-1), ((1 - frac) * keep).unsqueeze(-1))
    weights.scatter_add_(-1, high.long().unsqueeze(-1), (frac * keep).unsqueeze(-1))
    return weights


def _roi_align_span(
    low: Tensor, high: Tensor, spatial_scale: float, aligned: bool
) -> tuple[Tensor, Tensor]:
    """Where a box starts along the axis, in grid coordinates, and its extent, as
    :func:`~torchvision.ops.roi_align` computes them: the half-pixel offset when ``aligned``,
    else an extent of at least one cell."""
    offset = 0.5 if aligned else 0.0
    start = low * spatial_scale - offset
    extent = high * spatial_scale - offset - start
    if not aligned:
        extent = extent.clamp(min=1.0)
    return start, extent


def crop_kernel(
    low: Tensor,
    high: Tensor,
    lengths: Tensor,
    grid_length: int,
    output_size: int,
    spatial_scale: float,
    mode: str = "roi_align",
    sampling_ratio: int = 2,
    aligned: bool = True,
) -> Tensor:
    """Per-axis crop kernel ``K[r, a, i]``: the weight of grid cell ``i`` in crop cell ``a``.

    Args:
        low: box start along the axis (``x1`` or ``y1``) in input pixels, ``[R]``.
        high: box end along the axis, ``[R]``.
        lengths: cells along the axis of each region's own image grid, ``[R]``; cells beyond
            it (padding of a batch) are never read.
        grid_length: ``L``, cells along the axis of the (padded) grid.
        output_size: ``P``, crop cells along the axis.
        spatial_scale: grid cells per input pixel (``1/16`` at stride 16).
        mode: ``"roi_align"`` or ``"crop_and_resize"`` (see the module docstring).
        sampling_ratio: samples per bin and axis for ``"roi_align"``.
        aligned: the half-pixel offset of ``"roi_align"``.

    Returns:
        ``[R, P, L]``
    """
    lengths = lengths.to(low.dtype).unsqueeze(-1)
    cells = torch.arange(output_size, dtype=low.dtype, device=low.device)
    if mode == "crop_and_resize":
        start, end = low * spatial_scale, high * spatial_scale
        if output_size > 1:
            step = (end - start) / (output_size - 1)
            pos = start.unsqueeze(-1) + cells * step.unsqueeze(-1)
        else:
            pos = (0.5 * (start + end)).unsqueeze(-1)
        valid = (pos >= 0) & (pos <= lengths - 1)
        return _bilinear(pos, valid, grid_length)
    # torchvision roi_align: samples at bin fractions (k + 0.5) / sampling_ratio, averaged.
    start, extent = _roi_align_span(low, high, spatial_scale, aligned)
    bin_size = (extent / output_size).unsqueeze(-1)
    sub = (torch.arange(sampling_ratio, dtype=low.dtype, device=low.device) + 0.5) / sampling_ratio
    frac = cells.unsqueeze(-1) + sub  # [P, S]
    pos = start[:, None, None] + frac * bin_size.unsqueeze(-1)  # [R, P, S]
    valid = (pos >= -1.0) & (pos <= lengths.unsqueeze(-1))
    pos = torch.minimum(pos.clamp(min=0.0), lengths.unsqueeze(-1) - 1)
    return _bilinear(pos, valid, grid_length).sum(dim=2) / sampling_ratio


def paste_kernel(
    low: Tensor,
    high: Tensor,
    lengths: Tensor,
    grid_length: int,
    output_size: int,
    spatial_scale: float,
    mode: str = "roi_align",
    aligned: bool = True,
    eps: float = 1e-14,
) -> Tensor:
    """Per-axis paste kernel ``K[r, a, i]``: the weight of crop cell ``a`` in grid cell ``i``.

    Arguments as in :func:`crop_kernel`; ``eps`` floors box sizes in the divisions.

    Returns:
        ``[R, P, L]``; each grid column ``i`` inside the box (and inside the region's image)
        sums to one over ``a``, every other column is zero.
    """
    grid = torch.arange(grid_length, dtype=low.dtype, device=low.device)
    inside_image = grid < lengths.to(low.dtype).unsqueeze(-1)  # [R, L]
    if mode == "crop_and_resize":
        start, end = (low * spatial_scale).unsqueeze(-1), (high * spatial_scale).unsqueeze(-1)
        pos = (output_size - 1) * (grid - start) / (end - start).clamp(min=eps)
        valid = (pos >= 0) & (pos <= output_size - 1) & inside_image
    else:
        start, extent = _roi_align_span(low, high, spatial_scale, aligned)
        start, extent = start.unsqueeze(-1), extent.unsqueeze(-1)
        bin_size = (extent / output_size).clamp(min=eps)
        pos = ((grid - start) / bin_size - 0.5).clamp(0, output_size - 1)
        valid = (grid >= start) & (grid <= start + extent) & inside_image
    return _bilinear(pos, valid, output_size).transpose(1, 2)
