"""Naive float64 references of the region ops, one sample at a time, from the published
algorithms (TensorFlow's crop_and_resize kernel, torchvision's roi_align kernel)."""

from __future__ import annotations

import math

import torch
from torch import Tensor


def tf_crop_and_resize(image: Tensor, box: list[float], size: tuple[int, int]) -> Tensor:
    """``tf.image.crop_and_resize`` of one ``[D, H, W]`` image with a normalised box
    ``[y1, x1, y2, x2]``, bilinear, extrapolation value 0."""
    depth, height, width = image.shape
    y1, x1, y2, x2 = box
    out = torch.zeros(depth, *size, dtype=torch.float64)
    for y in range(size[0]):
        in_y = (
            y1 * (height - 1) + y * (y2 - y1) * (height - 1) / (size[0] - 1)
            if size[0] > 1
            else 0.5 * (y1 + y2) * (height - 1)
        )
        if in_y < 0 or in_y > height - 1:
            continue
        top, bottom = math.floor(in_y), math.ceil(in_y)
        y_lerp = in_y - top
        for x in range(size[1]):
            in_x = (
                x1 * (width - 1) + x * (x2 - x1) * (width - 1) / (size[1] - 1)
                if size[1] > 1
                else 0.5 * (x1 + x2) * (width - 1)
            )
            if in_x < 0 or in_x > width - 1:
                continue
            left, right = math.floor(in_x), math.ceil(in_x)
            x_lerp = in_x - left
            t = image[:, top, left] + (image[:, top, right] - image[:, top, left]) * x_lerp
            b = image[:, bottom, left] + (image[:, bottom, right] - image[:, bottom, left]) * x_lerp
            out[:, y, x] = t + (b - t) * y_lerp
    return out


def original_crop(features: Tensor, box: Tensor, grid: tuple[int, int], size: int) -> Tensor:
    """The original's region crop: box in pixels / 16, normalised by the grid's (h-1, w-1)."""
    h, w = grid
    x1, y1, x2, y2 = (box / 16).tolist()
    norm = [y1 / (h - 1), x1 / (w - 1), y2 / (h - 1), x2 / (w - 1)]
    return tf_crop_and_resize(features[:, :h, :w], norm, (size, size))


def original_paste(update: Tensor, box: Tensor, grid: tuple[int, int]) -> Tensor:
    """The original's inverse crop: crop_and_resize of the update with the inverse box."""
    h, w = grid
    x1, y1, x2, y2 = (box / 16).tolist()
    dy, dx = max(y2 - y1, 1e-14), max(x2 - x1, 1e-14)
    inv = [-y1 / dy, -x1 / dx, (h - 1 - y1) / dy, (w - 1 - x1) / dx]
    return tf_crop_and_resize(update, inv, (h, w))


def roi_align_paste(update: Tensor, box: Tensor, grid: tuple[int, int]) -> Tensor:
    """The documented inverse of aligned roi_align: cell i inside the box reads the update at
    (i - start) / bin - 0.5 in crop units, clamped to the outermost crop cells."""
    depth, p, _ = update.shape
    h, w = grid
    x1, y1, x2, y2 = (box / 16 - 0.5).tolist()
    out = torch.zeros(depth, h, w, dtype=torch.float64)
    for i in range(h):
        if not y1 <= i <= y2:
            continue
        sy = min(max((i - y1) / max((y2 - y1) / p, 1e-14) - 0.5, 0), p - 1)
        for j in range(w):
            if not x1 <= j <= x2:
                continue
            sx = min(max((j - x1) / max((x2 - x1) / p, 1e-14) - 0.5, 0), p - 1)
            out[:, i, j] = _bilinear_at(update, sy, sx)
    return out


def _bilinear_at(image: Tensor, y: float, x: float) -> Tensor:
    _, height, width = image.shape
    y0, x0 = math.floor(y), math.floor(x)
    y1, x1 = min(y0 + 1, height - 1), min(x0 + 1, width - 1)
    ly, lx = y - y0, x - x0
    return (
        image[:, y0, x0] * (1 - ly) * (1 - lx)
        + image[:, y0, x1] * (1 - ly) * lx
        + image[:, y1, x0] * ly * (1 - lx)
        + image[:, y1, x1] * ly * lx
    )
