"""The one contract every detector family meets for the engine and the recipes: where its
head is, its classes, how it is frozen, which input it leaves unchecked, the sizes a head
for it takes, and how a head is checked and attached. The engine
(:class:`~iterative_reasoning.models.DetectionModel`) and the recipes read a detector through
:func:`contract_of` and never branch on its library.

Two families meet it:

- torchvision's two-stage detectors (:class:`TorchvisionContract`): the head is a part of the
  detector's RoI heads (:func:`~iterative_reasoning.detectors.torchvision.attach_reasoning_head`);
- the adapters of other libraries' detectors (:class:`AdapterContract`): a
  :class:`~iterative_reasoning.detectors.transformers.TransformersDetector` or
  :class:`~iterative_reasoning.detectors.ultralytics.YOLODetector` holds the head itself.
"""

from __future__ import annotations

from typing import Any

from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm
from torchvision.models.detection.generalized_rcnn import GeneralizedRCNN

from iterative_reasoning._detection_validation import check_detector_input
from iterative_reasoning.detectors._common import HeadAdapter
from iterative_reasoning.detectors.detr_family import FAMILIES
from iterative_reasoning.detectors.torchvision.attach import attach_reasoning_head, head_sizes
from iterative_reasoning.detectors.torchvision.roi_heads import ReasoningRoIHeads
from iterative_reasoning.detectors.transformers import head_sizes as detr_head_sizes
from iterative_reasoning.detectors.ultralytics import head_sizes as yolo_head_sizes
from iterative_reasoning.graph import ClassRelations
from iterative_reasoning.nn.reasoning_head import IterativeReasoningHead


class DetectorContract:
    """What the engine and the recipes need of a detector, whatever its library.

    Attributes:
        detector: the detector (a module with torchvision's detector interface).
        head_prefix: where the head's parameters are among ``detector.named_parameters()``.
    """

    head_prefix: str

    def __init__(self, detector: nn.Module) -> None:
        self.detector: Any = detector

    @property
    def head(self) -> IterativeReasoningHead | None:
        """The reasoning head, or ``None`` for the plain detector."""
        raise NotImplementedError

    @property
    def num_classes(self) -> int:
        """``K``, the detector's object classes (background not counted)."""
        raise NotImplementedError

    def head_sizes(self) -> dict[str, Any]:
        """The sizes of a head for the detector, as
        :meth:`~iterative_reasoning.nn.IterativeReasoningHead.paper` takes them:
        ``num_classes`` (``K + 1``), ``feature_channels``, ``region_channels`` and
        ``spatial_scale``."""
        raise NotImplementedError

    def attach(
        self,
        head: IterativeReasoningHead,
        reasoned_boxes: int | None = None,
        train_on: str = "proposals",
    ) -> None:
        """Give the detector ``head``, checked to fit. ``reasoned_boxes`` and ``train_on``
        are the options of a two-stage detector's RoI heads (an adapter reasons over every
        box it keeps and trains on them)."""
        options: dict[str, Any] = {"train_on": train_on}
        if reasoned_boxes is not None:
            options["reasoned_boxes"] = reasoned_boxes
        self._attach(head, options)

    def _attach(self, head: IterativeReasoningHead, options: dict[str, Any]) -> None:
        raise NotImplementedError

    def freeze(self) -> None:
        """Put the frozen detector's modules in evaluation mode (the head's own are left as
        they are), after ``train()``."""
        raise NotImplementedError

    def check_input(self, images: object, targets: object, training: bool) -> None:
        """Check the input the detector does not check itself (nothing, for one that does)."""


class TorchvisionContract(DetectorContract):
    """A torchvision two-stage detector: the head lives in its RoI heads. Frozen, its
    backbone, RPN and batch norms run in evaluation mode while its RoI heads keep sampling
    foreground and background proposals for the head; its input is checked here (on its
    device, of its dtype), since torchvision's kernels do not check values."""

    head_prefix = "roi_heads.head."

    @property
    def head(self) -> IterativeReasoningHead | None:
        roi_heads = self.detector.roi_heads
        return roi_heads.head if isinstance(roi_heads, ReasoningRoIHeads) else None

    @property
    def num_classes(self) -> int:
        return int(self.detector.roi_heads.box_predictor.cls_score.out_features) - 1

    def head_sizes(self) -> dict[str, Any]:
        return head_sizes(self.detector)

    def _attach(self, head: IterativeReasoningHead, options: dict[str, Any]) -> None:
        attach_reasoning_head(self.detector, head, **options)

    def freeze(self) -> None:
        self.detector.backbone.eval()
        self.detector.rpn.eval()
        head = self.head
        inside_head = {id(m) for m in head.modules()} if head is not None else set()
        for module in self.detector.modules():
            if isinstance(module, _BatchNorm) and id(module) not in inside_head:
                module.eval()

    def check_input(self, images: object, targets: object, training: bool) -> None:
        check_detector_input(images, targets, self.num_classes, training, self.detector)


class AdapterContract(DetectorContract):
    """An adapter of another library's detector
    (:class:`~iterative_reasoning.detectors._common.HeadAdapter`): it holds the head and checks
    its own input; frozen, the host's whole network runs in evaluation mode (batch norms,
    dropout, a DETR's denoising queries, the proposals of inference)."""

    head_prefix = "head."

    @property
    def head(self) -> IterativeReasoningHead | None:
        head: IterativeReasoningHead | None = self.detector.head
        return head

    @property
    def num_classes(self) -> int:
        return int(self.detector.num_classes)

    def head_sizes(self) -> dict[str, Any]:
        adapter: HeadAdapter = self.detector
        return adapter.head_sizes()

    def _attach(self, head: IterativeReasoningHead, options: dict[str, Any]) -> None:
        self.detector.attach(head)

    def freeze(self) -> None:
        self.detector.model.eval()


def contract_of(detector: nn.Module) -> DetectorContract:
    """The contract ``detector`` meets: a torchvision two-stage detector's, or an adapter's.

    Raises:
        TypeError: a detector of neither family.
    """
    if isinstance(detector, GeneralizedRCNN):
        return TorchvisionContract(detector)
    if isinstance(detector, HeadAdapter):
        return AdapterContract(detector)
    raise TypeError(
        "detector must be a torchvision two-stage detector (FasterRCNN, MaskRCNN, "
        "KeypointRCNN), a TransformersDetector or a YOLODetector, got "
        f"{type(detector).__name__}"
    )


def reasoning_head_for(
    detector: nn.Module,
    model: str = "final",
    *,
    class_relations: ClassRelations | None = None,
    **kwargs: Any,
) -> IterativeReasoningHead:
    """A head of :meth:`IterativeReasoningHead.paper
    <iterative_reasoning.nn.IterativeReasoningHead.paper>` (``model``: ``"local"``,
    ``"global"``, ``"final"`` or an ablation) sized for ``detector`` (:func:`head_sizes_of`):
    the detector the engine takes, of any family (a torchvision two-stage detector, a
    :class:`~iterative_reasoning.detectors.transformers.TransformersDetector` or a
    :class:`~iterative_reasoning.detectors.ultralytics.YOLODetector`), or the host library's
    model before it is wrapped (a ``transformers`` DETR-family model, an ``ultralytics`` YOLO
    or its ``DetectionModel``): the same head either way (tested). ``kwargs`` go to ``paper``
    (widths, ``fusion``) and may override the sizes."""
    sizes = {**head_sizes_of(detector), **kwargs}
    return IterativeReasoningHead.paper(model, class_relations=class_relations, **sizes)


def head_sizes_of(detector: Any) -> dict[str, Any]:
    """The sizes of a head for ``detector`` (see :func:`reasoning_head_for`), as
    :meth:`IterativeReasoningHead.paper <iterative_reasoning.nn.IterativeReasoningHead.paper>`
    takes them: ``num_classes`` (``K + 1``), ``feature_channels``, ``region_channels`` and
    ``spatial_scale``. A wrapped detector is sized by its contract; a host's model by the
    same sizing of its family (:func:`~iterative_reasoning.detectors._common.adapter_head_sizes`).

    Raises:
        TypeError: a detector of no family.
    """
    if isinstance(detector, (GeneralizedRCNN, HeadAdapter)):
        return contract_of(detector).head_sizes()
    if type(detector).__name__ in FAMILIES:
        return detr_head_sizes(detector)
    if type(detector).__module__.split(".")[0] == "ultralytics":
        return yolo_head_sizes(detector)
    raise TypeError(
        "detector must be a torchvision two-stage detector, a TransformersDetector, a "
        "YOLODetector, a transformers DETR-family model or an ultralytics YOLO model, got "
        f"{type(detector).__name__}"
    )
