"""Adapters for torchvision: the paper's ResNet-50 region classifier, and Faster R-CNN with the
reasoning head re-classifying its boxes."""

from __future__ import annotations

from collections import OrderedDict

import torch
import torchvision
from torch import Tensor, nn
from torchvision.models import ResNet50_Weights
from torchvision.models.detection import FasterRCNN
from torchvision.ops import FrozenBatchNorm2d, batched_nms

from iterative_reasoning.detectors.base import CropRegionClassifier, RegionBatch, region_batch
from iterative_reasoning.losses import reasoning_loss
from iterative_reasoning.nn.reasoning_head import IterativeReasoningHead, ReasoningOutput
from iterative_reasoning.ops import CropMode, RegionCrop

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class ResNetRegionClassifier(CropRegionClassifier):
    """The paper's plain ConvNet for region classification with given boxes.

    ResNet-50 up to conv4 (``layer3``, stride 16, 1024 channels) is the mid-level feature map;
    each box is cropped to ``P x P`` from it, conv5 (``layer4`` with stride 1) runs on the
    crops, a spatial mean gives the 2048-d region feature, and an FC layer the logits ``f_0``.
    Batch norm is frozen everywhere and the stem and ``layer1`` are frozen, as in the original.

    Args:
        num_classes: ``C``, background included.
        weights: ImageNet weights through torchvision's weights API
            (``ResNet50_Weights.IMAGENET1K_V1``, ``"DEFAULT"``, ...), downloaded and cached by
            torchvision on first use; ``None`` for random weights.
        crop_mode: ``"roi_align"`` or the original's ``"crop_and_resize"``.
        crop_size: ``P`` (7).
        sampling_ratio: samples per bin and axis for ``"roi_align"``.
        frozen_stages: 0 (nothing frozen), 1 (stem), 2 (stem and ``layer1``, the paper), ...

    Inputs: images are RGB floats in ``[0, 1]``, padded into one batch (see
    :func:`~iterative_reasoning.detectors.pad_images`); they are normalised with ImageNet's
    mean and std here.

    Shapes:
        - **images:** ``[B, 3, H_in, W_in]``; **boxes:** ``B`` x ``[R_i, 4]`` (or ``[R, 4]``
          with ``batch``); **image_sizes:** ``[B, 2]``
        - **output:** :class:`~iterative_reasoning.detectors.RegionBatch` with features
          ``[B, 1024, H, W]``, base logits ``[R, C]`` and region features ``[R, 2048]``

    Example:
        >>> import torch
        >>> model = ResNetRegionClassifier(num_classes=5, weights=None).eval()
        >>> regions = model(torch.rand(1, 3, 96, 128), [torch.tensor([[8.0, 8.0, 60.0, 90.0]])],
        ...                 [(96, 128)])
        >>> regions.features.shape, regions.base_logits.shape, regions.region_features.shape
        (torch.Size([1, 1024, 6, 8]), torch.Size([1, 5]), torch.Size([1, 2048]))
    """

    feature_channels = 1024
    region_channels = 2048
    spatial_scale = 1 / 16
    mean: Tensor
    std: Tensor

    def __init__(
        self,
        num_classes: int,
        weights: ResNet50_Weights | str | None = None,
        crop_mode: CropMode = "roi_align",
        crop_size: int = 7,
        sampling_ratio: int = 2,
        frozen_stages: int = 2,
    ) -> None:
        super().__init__()
        if num_classes < 1:
            raise ValueError(f"num_classes must be positive, got {num_classes}")
        if not 0 <= frozen_stages <= 5:
            raise ValueError(f"frozen_stages must be in 0..5, got {frozen_stages}")
        resnet = torchvision.models.resnet50(weights=weights, norm_layer=FrozenBatchNorm2d)
        self.num_classes = num_classes
        self.trunk = nn.Sequential(
            OrderedDict(
                stem=nn.Sequential(resnet.conv1, resnet.bn1, resnet.relu, resnet.maxpool),
                layer1=resnet.layer1,
                layer2=resnet.layer2,
                layer3=resnet.layer3,
            )
        )
        head = resnet.layer4  # conv5 at stride 1 on the crops
        head[0].conv2.stride = (1, 1)
        head[0].downsample[0].stride = (1, 1)
        self.conv5 = head
        self.crop = RegionCrop(crop_size, self.spatial_scale, crop_mode, sampling_ratio)
        self.classifier = nn.Linear(self.region_channels, num_classes)
        stages = [*self.trunk.children(), self.conv5][:frozen_stages]
        for stage in stages:
            stage.requires_grad_(False)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.normal_(self.classifier.weight, std=0.01)
        nn.init.zeros_(self.classifier.bias)

    def features(self, images: Tensor) -> Tensor:
        """The conv4 map ``[B, 1024, ceil(H_in / 16), ceil(W_in / 16)]``."""
        if images.dim() != 4 or images.size(1) != 3:
            raise ValueError(f"images must have shape [B, 3, H, W], got {list(images.shape)}")
        return self.trunk((images - self.mean) / self.std)

    def region_features(self, crops: Tensor) -> Tensor:
        """conv5 (stride 1) on the crops, spatially averaged: ``[R, 2048]``."""
        return self.conv5(crops).mean(dim=(2, 3))


class FasterRCNNReasoning(nn.Module):
    """torchvision Faster R-CNN whose boxes are re-classified by an
    :class:`~iterative_reasoning.nn.IterativeReasoningHead`.

    The head reads the FPN level at stride 16 (``"2"`` for the ResNet-50 FPN, 256 channels) as
    its mid-level map, the detector's box-head representation (1024-d) as region features, and
    the detector's class logits as ``f_0``.

    - **Training** (``model.train()``, ``model(images, targets)``): the detector's usual losses
      plus ``"loss_reasoning"``, the paper's loss (:func:`~iterative_reasoning.losses.
      reasoning_loss`) of the head on the ground-truth boxes, as the paper trains it.
    - **Inference** (``model.eval()``, ``model(images)``): the detector's detections, each
      re-labelled and re-scored by the head's fused prediction (background excluded), then
      class-wise NMS again. Each detection also carries ``"reasoning_logits"`` and the
      detector's own ``"detector_labels"`` and ``"detector_scores"``. Boxes come back in
      original-image pixels, as from torchvision.

    Args:
        detector: a torchvision :class:`~torchvision.models.detection.FasterRCNN` with an FPN
            backbone (e.g. ``fasterrcnn_resnet50_fpn``).
        head: the reasoning head, built for the detector's classes, the FPN's channels and the
            box head's representation size.
        feature_level: the FPN level at stride ``1 / head.spatial_scale``.
        loss_weight: weight of ``"loss_reasoning"``.

    Example:
        >>> import torch
        >>> from torchvision.models.detection import fasterrcnn_resnet50_fpn
        >>> from iterative_reasoning.nn import IterativeReasoningHead
        >>> detector = fasterrcnn_resnet50_fpn(weights=None, weights_backbone=None,
        ...                                    num_classes=4, min_size=128, max_size=160)
        >>> head = IterativeReasoningHead.paper("local", num_classes=4, feature_channels=256,
        ...                                     region_channels=1024, fc_channels=64)
        >>> model = FasterRCNNReasoning(detector, head).eval()
        >>> detections = model([torch.rand(3, 120, 150)])
        >>> sorted(detections[0])[:3]
        ['boxes', 'detector_labels', 'detector_scores']
    """

    def __init__(
        self,
        detector: FasterRCNN,
        head: IterativeReasoningHead,
        feature_level: str = "2",
        loss_weight: float = 1.0,
    ) -> None:
        super().__init__()
        if not isinstance(detector, FasterRCNN):
            raise TypeError(
                f"detector must be a torchvision FasterRCNN, got {type(detector).__name__}"
            )
        num_classes = detector.roi_heads.box_predictor.cls_score.out_features
        if head.num_classes != num_classes:
            raise ValueError(
                f"the head has {head.num_classes} classes but the detector {num_classes}"
            )
        channels = getattr(detector.backbone, "out_channels", None)
        if head.local is not None and head.local.in_channels != channels:
            raise ValueError(
                f"the head's local module takes {head.local.in_channels} channels but the "
                f"detector's backbone gives {channels}"
            )
        self.detector = detector
        self.head = head
        self.feature_level = feature_level
        self.loss_weight = loss_weight

    def forward(
        self, images: list[Tensor], targets: list[dict[str, Tensor]] | None = None
    ) -> dict[str, Tensor] | list[dict[str, Tensor]]:
        if self.training and targets is None:
            raise ValueError("in training mode, targets (boxes and labels per image) are needed")
        original_sizes = [(int(i.shape[-2]), int(i.shape[-1])) for i in images]
        inputs, targets = self.detector.transform(images, targets)
        features = self.detector.backbone(inputs.tensors)
        if isinstance(features, Tensor):
            features = OrderedDict([("0", features)])
        if self.feature_level not in features:
            raise ValueError(
                f"feature_level {self.feature_level!r} is not among the backbone's levels "
                f"{list(features)}"
            )
        proposals, rpn_losses = self.detector.rpn(inputs, features, targets)
        detections, roi_losses = self.detector.roi_heads(
            features, proposals, inputs.image_sizes, targets
        )
        if self.training:
            assert targets is not None
            regions = self.regions(features, [t["boxes"] for t in targets], inputs.image_sizes)
            labels = torch.cat([t["labels"] for t in targets])
            loss = reasoning_loss(self.head(*regions), labels, regions.batch).total
            return {**rpn_losses, **roi_losses, "loss_reasoning": self.loss_weight * loss}
        regions = self.regions(features, [d["boxes"] for d in detections], inputs.image_sizes)
        output = self.head(*regions)
        detections = self._rescore(detections, output, regions.batch)
        return self.detector.transform.postprocess(detections, inputs.image_sizes, original_sizes)

    def regions(
        self,
        features: dict[str, Tensor],
        boxes: list[Tensor],
        image_sizes: list[tuple[int, int]],
    ) -> RegionBatch:
        """The head's inputs for ``boxes`` (network-input pixels): the detector's class logits
        and box-head representation, and the FPN map at stride 16."""
        heads = self.detector.roi_heads
        pooled = heads.box_roi_pool(features, boxes, image_sizes)
        representation = heads.box_head(pooled)
        logits, _ = heads.box_predictor(representation)
        return region_batch(
            features[self.feature_level],
            boxes,
            [list(s) for s in image_sizes],
            base_logits=logits,
            region_features=representation,
            spatial_scale=self.head.spatial_scale,
        )

    def _rescore(
        self, detections: list[dict[str, Tensor]], output: ReasoningOutput, batch: Tensor
    ) -> list[dict[str, Tensor]]:
        probs = torch.softmax(output.logits, dim=-1)
        scores, labels = probs[:, 1:].max(dim=-1)
        labels = labels + 1
        heads = self.detector.roi_heads
        rescored = []
        for i, det in enumerate(detections):
            k = batch == i
            keep = batched_nms(det["boxes"], scores[k], labels[k], heads.nms_thresh)
            keep = keep[: heads.detections_per_img]
            rescored.append(
                {
                    "boxes": det["boxes"][keep],
                    "labels": labels[k][keep],
                    "scores": scores[k][keep],
                    "reasoning_logits": output.logits[k][keep],
                    "detector_labels": det["labels"][keep],
                    "detector_scores": det["scores"][keep],
                }
            )
        return rescored
