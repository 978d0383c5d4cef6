"""What the adapters of other libraries' detectors share: the torchvision-style input checks."""

from __future__ import annotations

import torch
from torch import Tensor, nn


def check_images(images: object) -> None:
    """Raise unless ``images`` is a non-empty list of ``[3, H, W]`` float tensors (torchvision's
    detector input)."""
    if not isinstance(images, (list, tuple)) or not images:
        raise ValueError("images must be a non-empty list of [3, H, W] tensors")
    for i, image in enumerate(images):
        if not isinstance(image, Tensor) or image.dim() != 3 or image.size(0) != 3:
            shape = list(image.shape) if isinstance(image, Tensor) else type(image).__name__
            raise ValueError(f"images[{i}] must be a [3, H, W] tensor, got {shape}")
        if not image.is_floating_point():
            raise ValueError(f"images[{i}] must hold floats in [0, 1], got {image.dtype}")


def check_targets(targets: object, num_images: int) -> None:
    """Raise unless ``targets`` holds, for each image, ``"boxes"`` ``[n, 4]`` and ``"labels"``
    ``[n]`` in ``1..K`` (torchvision's detector targets, background 0)."""
    if not isinstance(targets, (list, tuple)) or len(targets) != num_images:
        raise ValueError(f"targets must be a list of {num_images} dicts, one per image")
    for i, target in enumerate(targets):
        if not isinstance(target, dict) or "boxes" not in target or "labels" not in target:
            raise ValueError(f"targets[{i}] must be a dict with 'boxes' and 'labels'")
        boxes, labels = target["boxes"], target["labels"]
        if boxes.dim() != 2 or boxes.size(-1) != 4 or len(labels) != len(boxes):
            raise ValueError(
                f"targets[{i}] must hold boxes [n, 4] and labels [n], got "
                f"{list(boxes.shape)} and {list(labels.shape)}"
            )
        if bool((labels < 1).any()):
            raise ValueError(
                f"targets[{i}]['labels'] must be 1..K (0 is background), got {labels.tolist()}"
            )


def device_of(model: nn.Module) -> torch.device:
    """The device of ``model``'s parameters (the CPU for a model without any)."""
    parameter = next(model.parameters(), None)
    return parameter.device if parameter is not None else torch.device("cpu")
