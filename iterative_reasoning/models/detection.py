"""A detector of any family (with or without the reasoning head) as a model that
:func:`~iterative_reasoning.engine.train` trains and
:func:`~iterative_reasoning.engine.evaluate_detection` scores, read through its
:mod:`~iterative_reasoning.detectors.contract`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import torch
from torch import Tensor, nn

from iterative_reasoning.data.coco import DetectionSample
from iterative_reasoning.detectors.contract import DetectorContract, contract_of
from iterative_reasoning.nn.reasoning_head import IterativeReasoningHead

#: What :class:`DetectionModel` trains besides a detector that is not frozen.
TRAINED_PARTS: tuple[str, ...] = ("head", "fallback")


class DetectionBatch(NamedTuple):
    """Images and targets in torchvision's detection format.

    Attributes:
        images: RGB floats in ``[0, 1]``, ``B`` x ``[3, H_i, W_i]``, at their original sizes.
        targets: ``B`` dicts of ``"boxes"`` ``[n_i, 4]`` (original-image pixels, ``xyxy``),
            ``"labels"`` ``[n_i]`` and, for Mask R-CNN, ``"masks"`` ``[n_i, H_i, W_i]``.
        image_ids: the images' ids in the annotation file.
    """

    images: list[Tensor]
    targets: list[dict[str, Tensor]]
    image_ids: list[Any]

    def to(self, device: torch.device | str) -> DetectionBatch:
        return DetectionBatch(
            [image.to(device) for image in self.images],
            [{k: v.to(device) for k, v in t.items()} for t in self.targets],
            self.image_ids,
        )


def collate_detections(samples: Sequence[DetectionSample]) -> DetectionBatch:
    """The samples as one :class:`DetectionBatch` (torchvision detectors take lists)."""
    return DetectionBatch(
        [s.image for s in samples], [s.target for s in samples], [s.image_id for s in samples]
    )


class DetectionModel(nn.Module):
    """A detector (with the reasoning head or without) in the form the engine trains and
    evaluates: a torchvision two-stage detector (the head attached by
    :func:`~iterative_reasoning.detectors.attach_reasoning_head`), or an adapter that gives
    another library's detector torchvision's interface
    (:class:`~iterative_reasoning.detectors.transformers.TransformersDetector`,
    :class:`~iterative_reasoning.detectors.ultralytics.YOLODetector`).

    The head never trains the detector (its inputs are stop-gradient and its loss leaves out
    the detector's own classification), so a head trained on a frozen, already trained detector
    sees the same detector as one trained with it: ``freeze_detector`` does that. The detector's
    parameters then stay as they are and it runs in evaluation mode (batch norms, dropout,
    a DETR's denoising queries, the proposals of inference), except a torchvision detector's
    RoI heads, which keep sampling foreground and background proposals for the head.

    A head with ``fusion="residual"`` has a fallback gate
    (:class:`~iterative_reasoning.nn.FallbackGate`) that is fitted apart from the rest of it,
    on images the head did not train on: ``trains="head"`` (the default) keeps the gate where
    it is (closed at first) while the head trains, ``trains="fallback"`` trains the gate alone
    (with the detector frozen).

    Args:
        detector: the detector.
        freeze_detector: train the head alone (the detector must have one).
        trains: ``"head"`` (the detector too, unless frozen; never the fallback gate) or
            ``"fallback"`` (the head's fallback gate alone; needs ``freeze_detector``).
    """

    detector: Any  # torchvision's GeneralizedRCNN or an adapter
    contract: DetectorContract  # how the engine reads it (contract_of)

    def __init__(
        self, detector: nn.Module, freeze_detector: bool = False, trains: str = "head"
    ) -> None:
        super().__init__()
        contract = contract_of(detector)
        if trains not in TRAINED_PARTS:
            raise ValueError(f"trains must be one of {TRAINED_PARTS}, got {trains!r}")
        self.detector = detector
        self.contract = contract
        self.freeze_detector = freeze_detector
        self.trains = trains
        head = self.head
        if freeze_detector and head is None:
            raise ValueError(
                "freeze_detector=True leaves nothing to train: attach a reasoning head first"
            )
        if trains == "fallback" and (head is None or head.fallback is None or not freeze_detector):
            raise ValueError(
                "trains='fallback' fits the fallback gate of a head with fusion='residual' on "
                "a frozen detector: attach such a head and give freeze_detector=True"
            )
        prefix = contract.head_prefix
        for name, parameter in detector.named_parameters():
            in_head, in_gate = name.startswith(prefix), name.startswith(prefix + "fallback.")
            if trains == "fallback":
                parameter.requires_grad_(in_gate)
            elif freeze_detector:
                parameter.requires_grad_(in_head and not in_gate)
            elif in_gate:
                parameter.requires_grad_(False)

    @property
    def head(self) -> IterativeReasoningHead | None:
        """The reasoning head, or ``None`` for the plain detector."""
        return self.contract.head

    @staticmethod
    def collate(samples: Sequence[DetectionSample]) -> DetectionBatch:
        return collate_detections(samples)

    def train(self, mode: bool = True) -> DetectionModel:
        super().train(mode)
        if mode and self.freeze_detector:
            self.contract.freeze()
        return self

    @property
    def num_classes(self) -> int:
        """``K``, the detector's object classes (background not counted)."""
        return self.contract.num_classes

    def _check_input(self, batch: DetectionBatch, training: bool) -> None:
        """The input the detector does not check itself, checked here so that a bad target
        cannot reach its kernels (:meth:`~iterative_reasoning.detectors.contract.
        DetectorContract.check_input`: a torchvision detector's; an adapter checks its own)."""
        self.contract.check_input(batch.images, batch.targets if training else None, training)

    def forward(self, batch: DetectionBatch) -> dict[str, Tensor]:
        """The detector's losses (and ``"loss_reasoning"``) in training mode; the images and
        targets are checked first (finite boxes of positive size, labels in ``1..K``, images
        in ``[0, 1]``), so that a bad target cannot reach the detector's kernels."""
        if not self.training:
            raise RuntimeError("DetectionModel.forward gives training losses; use predict()")
        self._check_input(batch, training=True)
        losses: dict[str, Tensor] = self.detector(batch.images, batch.targets)
        return losses

    def loss_of(
        self, batch: DetectionBatch, losses: dict[str, Tensor]
    ) -> tuple[Tensor, dict[str, float]]:
        """The loss to minimise (the sum of the losses; the head's alone with a frozen
        detector) and every term as a number."""
        if self.freeze_detector:
            total = losses["loss_reasoning"]
        else:
            total = torch.stack(list(losses.values())).sum()
        terms = {name: float(value.detach()) for name, value in losses.items()}
        return total, {"loss": float(total.detach()), **terms}

    def loss(self, batch: DetectionBatch) -> tuple[Tensor, dict[str, float]]:
        return self.loss_of(batch, self(batch))

    @torch.no_grad()
    def predict(self, batch: DetectionBatch) -> list[dict[str, Tensor]]:
        """The detections of each image (torchvision's format, original-image pixels)."""
        self._check_input(batch, training=False)
        was_training = self.training
        self.eval()
        try:
            detections: list[dict[str, Tensor]] = self.detector(batch.images)
        finally:
            self.train(was_training)
        return detections
