"""What the adapters of other libraries' detectors share: the head that attaches and detaches,
the torchvision-style input checks (the same as the engine's), and the update of a sigmoid
detector's scores."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from iterative_reasoning._detection_validation import check_detector_input
from iterative_reasoning.nn.reasoning_head import IterativeReasoningHead


class HeadAdapter(nn.Module):
    """A host library's detector (``model``) with torchvision's detector interface and a
    reasoning head (``head``, or ``None``) that :meth:`attach` checks and adds and
    :meth:`detach` takes out. Subclasses define :meth:`check_head` and ``forward``."""

    model: Any  # the host's network (its attributes are the host library's, untyped)
    head: IterativeReasoningHead | None
    num_classes: int  # K, the object classes (the head has K + 1)
    strides: list[int]  # the strides of the maps the head's local module could read
    channels: list[int]  # and their channels
    region_channels: int  # the width of the region features the detector gives the head
    stride_hint: str = ""  # how to give the detector a map at another stride

    def check_head(self, head: IterativeReasoningHead) -> None:
        """Raise when ``head`` was built for other classes, widths or a stride than the
        detector gives (:func:`check_head_sizes`)."""
        stride = round(1 / head.spatial_scale)
        region = self.region_channels_at(stride) if stride in self.strides else None
        check_head_sizes(
            head, self.num_classes, self.strides, self.channels, region, self.stride_hint
        )

    def region_channels_at(self, stride: int) -> int:
        """The width of the region features the detector gives a head at ``stride``."""
        return self.region_channels

    def head_sizes(self) -> dict[str, Any]:
        """The sizes of a head for this detector (:func:`adapter_head_sizes`)."""
        return adapter_head_sizes(
            self.num_classes,
            self.strides,
            self.channels,
            self.region_channels_at(16) if 16 in self.strides else None,
        )

    def attach(self, head: IterativeReasoningHead) -> HeadAdapter:
        """Give the detector ``head`` (checked to fit); returns the detector itself."""
        if self.head is not None:
            raise ValueError("the detector already has a reasoning head (detach() first)")
        if not isinstance(head, IterativeReasoningHead):
            raise TypeError(f"head must be an IterativeReasoningHead, got {type(head).__name__}")
        self.check_head(head)
        self.head = head
        return self

    def detach(self) -> IterativeReasoningHead:
        """Take the head out (the detector then gives its own detections) and return it."""
        if self.head is None:
            raise ValueError("the detector has no reasoning head (attach() adds one)")
        head, self.head = self.head, None
        return head

    def check_input(self, images: object, targets: object) -> None:
        """torchvision's detector input, with values checked
        (:func:`~iterative_reasoning._detection_validation.check_detector_input`): images,
        and targets in training mode."""
        check_detector_input(images, targets, self.num_classes, self.training)


def adapter_head_sizes(
    num_classes: int, strides: Sequence[int], channels: Sequence[int], region_channels: int | None
) -> dict[str, Any]:
    """The one sizing of a head for an adapted detector, as :meth:`IterativeReasoningHead.paper
    <iterative_reasoning.nn.IterativeReasoningHead.paper>` takes it: ``K + 1`` classes, the
    channels of the stride-16 map (which it must have) and the region features' width there.
    The adapters and their modules' ``reasoning_head_for`` size heads through it alone."""
    if 16 not in strides:
        raise ValueError(f"the detector has no stride-16 feature map; its strides: {list(strides)}")
    assert region_channels is not None
    return {
        "num_classes": num_classes + 1,
        "feature_channels": channels[list(strides).index(16)],
        "region_channels": region_channels,
        "spatial_scale": 1 / 16,
    }


def check_head_sizes(
    head: IterativeReasoningHead,
    num_classes: int | None,
    strides: Sequence[int],
    channels: Sequence[int | None],
    region_channels: int | None,
    stride_hint: str = "",
) -> None:
    """The one check that ``head`` fits a detector, of any family: its classes (``K`` object
    classes, so ``K + 1`` for the head), a feature map at the head's stride (``strides``, with
    their ``channels``) as wide as the head's local module reads, and region features
    (``region_channels``, at the head's stride) as wide as its global module reads. ``None``
    is a size the detector does not tell, left unchecked.

    Raises:
        ValueError: the first size that differs, with the detector's.
    """
    if num_classes is not None and head.num_classes != num_classes + 1:
        raise ValueError(
            f"the head has num_classes = {head.num_classes} but the detector has "
            f"{num_classes} classes: the head needs {num_classes + 1} (background first)"
        )
    stride = round(1 / head.spatial_scale)
    if stride not in strides:
        raise ValueError(
            f"the detector has no feature map at the head's stride {stride}; its "
            f"strides: {sorted(set(strides))}. {stride_hint}".rstrip(". ")
        )
    width = channels[list(strides).index(stride)]
    if head.local is not None and width is not None and head.local.in_channels != width:
        raise ValueError(
            f"the head's local module takes feature maps of {head.local.in_channels} "
            f"channels but the detector's stride-{stride} map has {width}"
        )
    if region_channels is not None and head.region_channels not in (None, region_channels):
        raise ValueError(
            f"the head's global module takes region features of {head.region_channels} "
            f"channels but the detector gives {region_channels}"
        )


def clip_to_inputs(boxes: Tensor, batch: Tensor, image_sizes: Tensor) -> Tensor:
    """``xyxy`` boxes ``[R, 4]`` clipped to their network input (``image_sizes`` ``[B, 2]``,
    ``(height, width)``; ``batch`` ``[R]`` the image of each box)."""
    limits = image_sizes.flip(-1).repeat(1, 2)[batch]
    return torch.minimum(boxes.clamp(min=0), limits)


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
