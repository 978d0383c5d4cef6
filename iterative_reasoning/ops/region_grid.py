"""Sparse crop and paste operators of a fixed set of boxes on a feature grid."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from iterative_reasoning._validation import (
    ValueChecks,
    check_batch,
    check_boxes,
    check_positive,
    check_tensor,
)
from iterative_reasoning.ops.interpolation import CROP_MODES, CropMode, crop_kernel, paste_kernel
from iterative_reasoning.ops.masks import check_masks
from iterative_reasoning.ops.sparse import SparseMatrix, compute_dtype


def grid_sizes_of(image_sizes: Tensor, spatial_scale: float = 1 / 16) -> Tensor:
    """Cells ``[B, 2]`` (rows, columns) of each image's own feature grid:
    ``ceil(size * spatial_scale)``, as a ResNet's stride-16 stage gives for a ``size`` input."""
    scaled = image_sizes.to(torch.float64) * spatial_scale
    return torch.ceil(scaled - 1e-9).long().clamp(min=1)


class RegionGrid:
    r"""Crop (boxes -> ``P x P`` cells) and paste (``P x P`` updates -> grid) of a fixed set of
    boxes on an ``H x W`` feature grid, as two sparse linear operators.

    Both are separable interpolations (see :mod:`~iterative_reasoning.ops.interpolation`), so
    the crop operator has at most ``(S + 1)^2`` non-zeros per crop cell (``S`` the sampling
    ratio) and the paste operator at most four per covered grid cell and box. Applying them is
    one sparse product each; no ``[R, H, W, D]`` tensor is ever formed. Build the grid once per
    image batch and reuse it across iterations: the boxes do not change.

    Each region reads and writes only its own image's grid (``grid_sizes``), never the padding
    of a batch, so results do not depend on which other images share the batch. No gradient
    flows to the boxes.

    Args:
        boxes: ``xyxy`` boxes in input pixels.
        batch: image index of each box.
        grid_size: ``(H, W)`` of the (padded) feature grid.
        grid_sizes: cells of each image's own grid (see :func:`grid_sizes_of`); defaults to the
            whole grid for every image.
        num_images: ``B``; defaults to the rows of ``grid_sizes``, else ``max(batch) + 1``.
        output_size: ``P``, crop cells per side (7 in the paper).
        spatial_scale: grid cells per input pixel.
        mode: ``"roi_align"`` (torchvision's convention) or ``"crop_and_resize"`` (the
            original's align-corners convention).
        sampling_ratio: samples per bin and axis for ``"roi_align"``.
        aligned: the half-pixel offset of ``"roi_align"``.
        masks: the visible extent of each region within its box, the fraction of each of its
            ``P x P`` bins that the region covers (see :func:`box_masks`); the paste then writes
            through the masks, and :attr:`coverage` counts them fractionally. ``None`` (the
            paper's way): whole boxes.

    Shapes:
        - **boxes:** ``[R, 4]``; **batch:** ``[R]``; **grid_sizes:** ``[B, 2]``;
          **masks:** ``[R, P, P]``
        - :meth:`crop`: ``[B, D, H, W]`` -> ``[R, D, P, P]``
        - :meth:`paste`: ``[R, D, P, P]`` -> ``[B, D, H, W]``

    Example:
        >>> import torch
        >>> boxes = torch.tensor([[0.0, 0.0, 64.0, 64.0], [32.0, 32.0, 96.0, 96.0]])
        >>> grid = RegionGrid(boxes, torch.tensor([0, 0]), (8, 8))
        >>> grid.crop(torch.randn(1, 3, 8, 8)).shape
        torch.Size([2, 3, 7, 7])
        >>> grid.coverage[0, 0, 3]  # boxes covering each cell of row 3
        tensor([1., 1., 2., 2., 1., 1., 0., 0.])
    """

    def __init__(
        self,
        boxes: Tensor,
        batch: Tensor,
        grid_size: tuple[int, int],
        *,
        grid_sizes: Tensor | None = None,
        num_images: int | None = None,
        output_size: int = 7,
        spatial_scale: float = 1 / 16,
        mode: CropMode = "roi_align",
        sampling_ratio: int = 2,
        aligned: bool = True,
        masks: Tensor | None = None,
    ) -> None:
        checks = ValueChecks()
        boxes = check_boxes("boxes", boxes, checks)
        check_crop_settings(output_size, spatial_scale, mode, sampling_ratio)
        height, width = _check_grid_size(grid_size)
        if grid_sizes is not None:
            grid_sizes = check_grid_sizes(grid_sizes, height, width, checks)
            num_images = grid_sizes.size(0)
        elif num_images is None:
            num_images = int(batch.max()) + 1 if isinstance(batch, Tensor) and batch.numel() else 0
        batch = check_batch(batch, boxes.size(0), num_images, checks)
        masks = check_masks(masks, boxes.size(0), output_size, checks)
        checks.run()
        self._setup(
            boxes,
            batch,
            (height, width),
            grid_sizes,
            num_images,
            output_size,
            spatial_scale,
            mode,
            sampling_ratio,
            aligned,
            masks,
        )

    @classmethod
    def unchecked(
        cls,
        boxes: Tensor,
        batch: Tensor,
        grid_size: tuple[int, int],
        *,
        grid_sizes: Tensor,
        output_size: int = 7,
        spatial_scale: float = 1 / 16,
        mode: CropMode = "roi_align",
        sampling_ratio: int = 2,
        aligned: bool = True,
        masks: Tensor | None = None,
    ) -> RegionGrid:
        """A grid of inputs already checked (as the head checks its own once): the same as
        the constructor, without its checks and their host reads."""
        grid = cls.__new__(cls)
        grid._setup(
            boxes,
            batch,
            (int(grid_size[0]), int(grid_size[1])),
            grid_sizes,
            grid_sizes.size(0),
            output_size,
            spatial_scale,
            mode,
            sampling_ratio,
            aligned,
            masks if masks is None else masks.detach(),
        )
        return grid

    def _setup(
        self,
        boxes: Tensor,
        batch: Tensor,
        grid_size: tuple[int, int],
        grid_sizes: Tensor | None,
        num_images: int,
        output_size: int,
        spatial_scale: float,
        mode: CropMode,
        sampling_ratio: int,
        aligned: bool,
        masks: Tensor | None,
    ) -> None:
        """Keep the boxes and settings; the operators are built on first use."""
        height, width = grid_size
        if grid_sizes is None:
            grid_sizes = torch.tensor([[height, width]] * num_images, dtype=torch.long)
        self.grid_size = grid_size
        self.grid_sizes = grid_sizes.to(boxes.device)
        self.num_images = num_images
        self.output_size = output_size
        self.batch = batch
        self.masks = masks
        self._boxes = boxes.detach().to(torch.float64)
        self._kernel_options: dict[str, Any] = {
            "output_size": output_size,
            "spatial_scale": spatial_scale,
            "mode": mode,
            "aligned": aligned,
        }
        self._sampling_ratio = sampling_ratio
        self._built: dict[str, SparseMatrix] = {}
        self._cache: dict[tuple[str, torch.dtype], SparseMatrix] = {}
        self._coverage: Tensor | None = None
        self._image_grids: list[tuple[int, int]] | None = None
        self._read_window: tuple[int, int, int, int] | None = None

    # -- operators -------------------------------------------------------------------------

    def crop(self, features: Tensor) -> Tensor:
        """Crop every box out of ``features`` ``[B, D, H, W]``, giving ``[R, D, P, P]``."""
        features = self._check_features("features", features)
        num, channels, height, width = features.shape
        flat = features.permute(0, 2, 3, 1).reshape(num * height * width, channels)
        out = self._operator("crop", compute_dtype(features.dtype)).mm(flat)
        p = self.output_size
        return out.reshape(-1, p, p, channels).permute(0, 3, 1, 2)

    def paste(self, updates: Tensor) -> Tensor:
        """Paste ``[R, D, P, P]`` updates over their boxes and sum them: ``[B, D, H, W]``."""
        updates = check_tensor("updates", updates)
        r, p = self.batch.numel(), self.output_size
        if updates.dim() != 4 or updates.size(0) != r or updates.shape[2:] != (p, p):
            raise ValueError(
                f"updates must have shape [R, D, P, P] = [{r}, D, {p}, {p}], "
                f"got {list(updates.shape)}"
            )
        channels = updates.size(1)
        if self.masks is not None:
            updates = updates * self.masks.to(updates.dtype)[:, None]
        flat = updates.permute(0, 2, 3, 1).reshape(r * p * p, channels)
        out = self._operator("paste", compute_dtype(updates.dtype)).mm(flat)
        height, width = self.grid_size
        return out.reshape(self.num_images, height, width, channels).permute(0, 3, 1, 2)

    @property
    def coverage(self) -> Tensor:
        """Number of boxes whose paste covers each cell, ``[B, 1, H, W]`` (float); with masks,
        the pasted masks' sum (a fractional count)."""
        if self._coverage is None:
            op = self._base("paste")
            height, width = self.grid_size
            if self.masks is None:
                ones = op.values.new_ones(op.cols, 1)
                count = op.mm(ones).round()
            else:
                count = op.mm(self.masks.to(op.values.dtype).reshape(-1, 1))
            self._coverage = count.reshape(self.num_images, 1, height, width).float()
        return self._coverage

    @property
    def image_grids(self) -> list[tuple[int, int]]:
        """Each image's own grid ``(rows, columns)`` as numbers (read from :attr:`grid_sizes`
        once: on a GPU, a host read)."""
        if self._image_grids is None:
            self._image_grids = [(int(h), int(w)) for h, w in self.grid_sizes.tolist()]
        return self._image_grids

    @property
    def read_window(self) -> tuple[int, int, int, int]:
        """``(top, bottom, left, right)``: the smallest block of grid cells, rows
        ``top:bottom`` and columns ``left:right`` on every image of the batch, that holds every
        cell the crop reads (with a non-zero weight); ``(0, 0, 0, 0)`` with no regions. Read
        from the crop operator once (on a GPU, a host read)."""
        if self._read_window is None:
            self._read_window = read_window_of(self._base("crop").indices[1], *self.grid_size)
        return self._read_window

    def build(self) -> RegionGrid:
        """Build the crop and paste operators, the coverage, :attr:`image_grids` and
        :attr:`read_window` now (they are otherwise built when first used): a module compiled with
        ``torch.compile(fullgraph=True)`` then reads them without tracing their construction,
        whose sizes depend on the boxes."""
        self._base("crop")
        self.coverage  # noqa: B018 (builds the paste too)
        self.image_grids  # noqa: B018
        self.read_window  # noqa: B018
        return self

    @property
    def valid_mask(self) -> Tensor:
        """``[B, 1, H, W]``: 1 on cells of each image's own grid, 0 on the batch padding."""
        return valid_mask_of(self.grid_sizes, *self.grid_size)

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}(regions={self.batch.numel()}, images={self.num_images}, "
            f"grid_size={self.grid_size}, output_size={self.output_size})"
        )

    # -- construction ----------------------------------------------------------------------

    def _separable(self, kernel_y: Tensor, kernel_x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        return separable_entries(kernel_y, kernel_x, self.batch, *self.grid_size)

    def _sparse(
        self, cells: Tensor, grid: Tensor, values: Tensor, num_regions: int, transpose: bool
    ) -> SparseMatrix:
        height, width = self.grid_size
        size = (num_regions * self.output_size**2, self.num_images * height * width)
        index = torch.stack([cells, grid])
        if transpose:
            index, size = index.flip(0), (size[1], size[0])
        coo = torch.sparse_coo_tensor(index, values, size, check_invariants=False)
        return SparseMatrix.from_sparse(coo)

    def _operator(self, name: str, dtype: torch.dtype) -> SparseMatrix:
        key = (name, dtype)
        if key not in self._cache:
            base = self._base(name)
            self._cache[key] = base if base.values.dtype == dtype else base.to(dtype)
        return self._cache[key]

    def _base(self, name: str) -> SparseMatrix:
        """The ``"crop"`` or ``"paste"`` operator (float64), built the first time it is asked
        for: a head without a local module never builds the paste."""
        if name not in self._built:
            box = self._boxes
            rows, cols = self.grid_sizes[self.batch, 0], self.grid_sizes[self.batch, 1]
            height, width = self.grid_size
            options = dict(self._kernel_options)
            if name == "crop":
                options["sampling_ratio"] = self._sampling_ratio
            kernel: Callable[..., Tensor] = crop_kernel if name == "crop" else paste_kernel
            kernel_y = kernel(box[:, 1], box[:, 3], rows, height, **options)
            kernel_x = kernel(box[:, 0], box[:, 2], cols, width, **options)
            cells, grid, values = self._separable(kernel_y, kernel_x)
            self._built[name] = self._sparse(
                cells, grid, values, box.size(0), transpose=name == "paste"
            )
        return self._built[name]

    def _check_features(self, name: str, features: object) -> Tensor:
        features = check_tensor(name, features)
        expected = (self.num_images, *self.grid_size)
        if features.dim() != 4 or (features.size(0), *features.shape[2:]) != expected:
            raise ValueError(
                f"{name} must have shape [B, D, H, W] = [{expected[0]}, D, {expected[1]}, "
                f"{expected[2]}] (the grid the boxes were placed on), got {list(features.shape)}"
            )
        return features


def separable_entries(
    kernel_y: Tensor, kernel_x: Tensor, batch: Tensor, height: int, width: int
) -> tuple[Tensor, Tensor, Tensor]:
    """Non-zeros of ``K_y[r, a, i] K_x[r, c, j]``: (crop cell, grid cell, weight) triplets,
    as a ragged per-region cartesian product of the per-axis non-zeros; crop cell
    ``(r * P + a) * P + c``, grid cell ``(batch[r] * H + i) * W + j``. A TorchScript function
    (as the kernels): the scripted head builds its operators with it.

    Shapes:
        kernel_y: ``[R, P, H]``; kernel_x: ``[R, P, W]``; batch: ``[R]``
    """
    num, p = kernel_y.size(0), kernel_y.size(1)
    ny, nx = kernel_y.nonzero(), kernel_x.nonzero()  # [N, 3] (region, crop cell, grid cell)
    count_y = torch.bincount(ny[:, 0], minlength=num)
    count_x = torch.bincount(nx[:, 0], minlength=num)
    pairs = count_y * count_x
    region = torch.repeat_interleave(torch.arange(num, device=pairs.device), pairs)
    k = torch.arange(region.numel(), device=pairs.device) - (pairs.cumsum(0) - pairs)[region]
    iy = (count_y.cumsum(0) - count_y)[region] + torch.div(
        k, count_x[region], rounding_mode="floor"
    )
    ix = (count_x.cumsum(0) - count_x)[region] + k % count_x[region]
    a, i = ny[iy, 1], ny[iy, 2]
    c, j = nx[ix, 1], nx[ix, 2]
    values = kernel_y[region, a, i] * kernel_x[region, c, j]
    cells = (region * p + a) * p + c
    grid = (batch[region] * height + i) * width + j
    return cells, grid, values


def valid_mask_of(grid_sizes: Tensor, height: int, width: int) -> Tensor:
    """``[B, 1, H, W]``: 1 on the cells of each image's own grid (``grid_sizes`` ``[B, 2]``),
    0 on the padding of the ``height x width`` batch (:attr:`RegionGrid.valid_mask`; a
    TorchScript function, as :func:`separable_entries`)."""
    rows = torch.arange(height, device=grid_sizes.device) < grid_sizes[:, :1]  # [B, H]
    cols = torch.arange(width, device=grid_sizes.device) < grid_sizes[:, 1:]  # [B, W]
    return (rows[:, None, :, None] & cols[:, None, None, :]).float()


def read_window_of(columns: Tensor, height: int, width: int) -> tuple[int, int, int, int]:
    """``(top, bottom, left, right)``, the smallest block of an ``height x width`` grid that
    holds the flat grid cells ``columns`` (of every image), ``(0, 0, 0, 0)`` for none: what
    :attr:`RegionGrid.read_window` reads from its crop operator's columns (a host read)."""
    if columns.numel() == 0:
        return 0, 0, 0, 0
    rows = torch.div(columns, width, rounding_mode="floor") % height
    cols = columns % width
    window: list[int] = torch.stack([rows.min(), rows.max(), cols.min(), cols.max()]).tolist()
    return window[0], window[1] + 1, window[2], window[3] + 1


def check_crop_settings(
    output_size: int, spatial_scale: float, mode: str, sampling_ratio: int
) -> None:
    """The crop settings of :class:`RegionGrid` and :class:`~iterative_reasoning.ops.RegionCrop`
    (errors name the argument)."""
    if not isinstance(output_size, int) or output_size < 1:
        raise ValueError(f"output_size must be a positive int, got {output_size!r}")
    check_positive("spatial_scale", spatial_scale)
    if mode not in CROP_MODES:
        raise ValueError(f"mode must be one of {CROP_MODES}, got {mode!r}")
    if sampling_ratio < 1:
        raise ValueError(
            f"sampling_ratio must be a positive number of samples per bin, got {sampling_ratio} "
            "(torchvision's adaptive ratio, <= 0, is not supported)"
        )


def _check_grid_size(grid_size: tuple[int, int]) -> tuple[int, int]:
    if len(grid_size) != 2 or min(int(s) for s in grid_size) < 1:
        raise ValueError(f"grid_size must be (H, W) with H, W >= 1, got {tuple(grid_size)}")
    return int(grid_size[0]), int(grid_size[1])


def check_grid_sizes(grid_sizes: object, height: int, width: int, checks: ValueChecks) -> Tensor:
    """Each image's grid ``[B, 2]``: positive, and within the ``height x width`` map."""
    grid_sizes = check_tensor("grid_sizes", grid_sizes)
    if grid_sizes.dim() != 2 or grid_sizes.size(1) != 2:
        raise ValueError(f"grid_sizes must have shape [B, 2], got {list(grid_sizes.shape)}")
    grid_sizes = grid_sizes.long()
    if not grid_sizes.numel():
        return grid_sizes

    def too_large() -> None:
        raise ValueError(
            f"an image's grid ({grid_sizes.max(0).values.tolist()} cells) is larger than the "
            f"feature map ({[height, width]}); is spatial_scale right for these features?"
        )

    def not_positive() -> None:
        raise ValueError(f"grid_sizes must be positive, got {grid_sizes.tolist()}")

    checks.add((grid_sizes[:, 0].max() > height) | (grid_sizes[:, 1].max() > width), too_large)
    checks.add(grid_sizes.min() < 1, not_positive)
    return grid_sizes
