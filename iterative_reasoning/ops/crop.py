"""Crop a fixed-size grid of cells out of a feature map for every box."""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from iterative_reasoning.ops.interpolation import CropMode
from iterative_reasoning.ops.region_grid import RegionGrid, check_crop_settings


def crop_regions(
    features: Tensor,
    boxes: Tensor,
    batch: Tensor,
    *,
    grid_sizes: Tensor | None = None,
    output_size: int = 7,
    spatial_scale: float = 1 / 16,
    mode: CropMode = "roi_align",
    sampling_ratio: int = 2,
    aligned: bool = True,
) -> Tensor:
    """The ``P x P`` crop of each box from ``features`` (bilinear).

    With ``mode="roi_align"`` this equals :func:`torchvision.ops.roi_align` with the same
    ``spatial_scale``, ``sampling_ratio`` and ``aligned``; ``mode="crop_and_resize"`` is the
    original code's TensorFlow ``crop_and_resize`` (see
    :mod:`~iterative_reasoning.ops.interpolation`). To crop several maps with the same boxes,
    build a :class:`RegionGrid` once.

    Args:
        features: feature maps of a batch.
        boxes: ``xyxy`` boxes in input pixels.
        batch: image index of each box.
        grid_sizes: cells of each image's own grid inside a padded batch (samples beyond it
            read zero, as beyond the border of a single image); defaults to the whole map.
        output_size: ``P``.
        spatial_scale: feature cells per input pixel.
        mode: ``"roi_align"`` or ``"crop_and_resize"``.
        sampling_ratio: samples per bin and axis (``"roi_align"``).
        aligned: half-pixel offset (``"roi_align"``).

    Shapes:
        - **features:** ``[B, D, H, W]``; **boxes:** ``[R, 4]``; **batch:** ``[R]``
        - **output:** ``[R, D, P, P]``

    Example:
        >>> import torch
        >>> crops = crop_regions(torch.randn(2, 8, 10, 12),
        ...                      torch.tensor([[0.0, 0.0, 50.0, 40.0], [16.0, 16.0, 80.0, 90.0]]),
        ...                      torch.tensor([0, 1]))
        >>> crops.shape
        torch.Size([2, 8, 7, 7])
    """
    grid = RegionGrid(
        boxes,
        batch,
        (features.size(-2), features.size(-1)),
        grid_sizes=grid_sizes,
        num_images=features.size(0),
        output_size=output_size,
        spatial_scale=spatial_scale,
        mode=mode,
        sampling_ratio=sampling_ratio,
        aligned=aligned,
    )
    return grid.crop(features)


class RegionCrop(nn.Module):
    """Module form of :func:`crop_regions`, holding its settings (checked here, once): what a
    head crops its regions with, as torchvision's detectors take a ``box_roi_pool``.

    Args:
        output_size, spatial_scale, mode, sampling_ratio, aligned: as :func:`crop_regions`.

    Shapes:
        ``[B, D, H, W]``, ``[R, 4]``, ``[R]`` -> ``[R, D, P, P]``

    Example:
        >>> RegionCrop(7, spatial_scale=1 / 32)
        RegionCrop(output_size=7, spatial_scale=0.03125, mode='roi_align')
    """

    def __init__(
        self,
        output_size: int = 7,
        spatial_scale: float = 1 / 16,
        mode: CropMode = "roi_align",
        sampling_ratio: int = 2,
        aligned: bool = True,
    ) -> None:
        super().__init__()
        check_crop_settings(output_size, spatial_scale, mode, sampling_ratio)
        self.output_size = output_size
        self.spatial_scale = spatial_scale
        self.mode: CropMode = mode
        self.sampling_ratio = sampling_ratio
        self.aligned = aligned

    def forward(
        self, features: Tensor, boxes: Tensor, batch: Tensor, grid_sizes: Tensor | None = None
    ) -> Tensor:
        return crop_regions(features, boxes, batch, grid_sizes=grid_sizes, **self.options())

    def grid(
        self,
        boxes: Tensor,
        batch: Tensor,
        grid_size: tuple[int, int],
        grid_sizes: Tensor | None = None,
        num_images: int | None = None,
    ) -> RegionGrid:
        """A :class:`RegionGrid` with these settings, to crop (and paste) several maps."""
        return RegionGrid(
            boxes, batch, grid_size, grid_sizes=grid_sizes, num_images=num_images, **self.options()
        )

    def options(self) -> dict[str, Any]:
        """The settings, as keyword arguments of :class:`RegionGrid` and :func:`crop_regions`."""
        return {
            "output_size": self.output_size,
            "spatial_scale": self.spatial_scale,
            "mode": self.mode,
            "sampling_ratio": self.sampling_ratio,
            "aligned": self.aligned,
        }

    def extra_repr(self) -> str:
        return (
            f"output_size={self.output_size}, spatial_scale={self.spatial_scale}, "
            f"mode={self.mode!r}"
        )
