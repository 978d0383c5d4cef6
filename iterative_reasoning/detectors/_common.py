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


def odds_update(detector_logits: Tensor, head_logits: Tensor, head_base: Tensor) -> Tensor:
    r"""The per-class logits of a detector with one sigmoid per class (:math:`l_k`, ``[..., K]``)
    moved by the head's change of belief: :math:`l'_k = l_k + \operatorname{logit} q_k -
    \operatorname{logit} q^0_k`, with :math:`q` the head's softmax probabilities
    (``head_logits``, ``[..., K + 1]``, background first) and :math:`q^0` those of its input
    ``head_base`` (the detector's logits as the head's :math:`f_0`). The detector's odds of each
    class are multiplied by the odds ratio the head gives it, so classes compete (a look-alike
    the head rules out loses its score), and a head that returns its input returns the
    detector's logits exactly.
    """
    return detector_logits + (_log_odds(head_logits) - _log_odds(head_base))


def _log_odds(logits: Tensor) -> Tensor:
    """:math:`\\log p_k - \\log(1 - p_k)` of the softmax of ``logits`` for every class but the
    first (background), computed in log space."""
    log_p = torch.log_softmax(logits, dim=-1)[..., 1:].clamp(max=-1e-6)
    log_not = torch.where(
        log_p > -0.6931, torch.log(-torch.expm1(log_p)), torch.log1p(-torch.exp(log_p))
    )
    return log_p - log_not
