"""Random images and targets in torchvision's detector format: inputs that check, with no data
at hand, that a detector with the head trains and detects (the detector examples use them)."""

from __future__ import annotations

import torch
from torch import Tensor


def random_detection_batch(
    num_images: int,
    num_classes: int,
    size: tuple[int, int] = (240, 320),
    boxes_per_image: int = 4,
    generator: torch.Generator | None = None,
) -> tuple[list[Tensor], list[dict[str, Tensor]]]:
    """``num_images`` random ``[3, H, W]`` images in ``[0, 1]`` of ``size`` ``(H, W)``, each
    with ``boxes_per_image`` random ``xyxy`` boxes (40 to 120 pixels a side, inside the image
    when it is larger than that) labelled ``1..num_classes`` (torchvision's targets:
    background is 0).

    Example:
        >>> images, targets = random_detection_batch(2, num_classes=80)
        >>> images[0].shape, targets[0]["boxes"].shape, targets[0]["labels"].dtype
        (torch.Size([3, 240, 320]), torch.Size([4, 4]), torch.int64)
    """
    if num_images < 1 or num_classes < 1 or boxes_per_image < 0:
        raise ValueError(
            "num_images and num_classes must be positive and boxes_per_image non-negative, "
            f"got {num_images}, {num_classes} and {boxes_per_image}"
        )
    height, width = size
    images, targets = [], []
    for _ in range(num_images):
        images.append(torch.rand(3, height, width, generator=generator))
        room = torch.tensor([max(width - 120.0, 0.0), max(height - 120.0, 0.0)])
        xy = torch.rand(boxes_per_image, 2, generator=generator) * room
        wh = 40 + torch.rand(boxes_per_image, 2, generator=generator) * 80
        boxes = torch.cat([xy, xy + wh], dim=1)
        labels = torch.randint(1, num_classes + 1, (boxes_per_image,), generator=generator)
        targets.append({"boxes": boxes, "labels": labels})
    return images, targets
