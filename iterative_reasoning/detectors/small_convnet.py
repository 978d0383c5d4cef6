"""A small stride-16 ConvNet, for CPU runs of the synthetic benchmark and for tests: a region
classifier with the interface of :class:`~iterative_reasoning.detectors.ResNetRegionClassifier`,
and a torchvision Faster R-CNN on the same trunk."""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn
from torchvision.models.detection import FasterRCNN

from iterative_reasoning._validation import check_count
from iterative_reasoning.detectors.base import CropRegionClassifier
from iterative_reasoning.ops import CropMode, RegionCrop


def _block(channels_in: int, channels_out: int, stride: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(channels_in, channels_out, 3, stride, 1, bias=False),
        nn.BatchNorm2d(channels_out),
        nn.ReLU(inplace=True),
    )


class SmallConvNetClassifier(CropRegionClassifier):
    """Four stride-2 stages (stride 16) as the mid-level map, ``P x P`` crops, one more
    convolution on the crops, a spatial mean and an FC layer.

    Args:
        num_classes: ``C``, background included.
        width: channels of the first stage (doubling to ``4 * width`` at stride 16).
        region_channels: width of the pooled region feature.
        crop_mode: ``"roi_align"`` or ``"crop_and_resize"``.

    Shapes:
        - **images:** ``[B, 3, H, W]``, RGB in ``[0, 1]``
        - **output:** :class:`~iterative_reasoning.detectors.RegionBatch` with features
          ``[B, 4 * width, H / 16, W / 16]``

    Example:
        >>> import torch
        >>> model = SmallConvNetClassifier(num_classes=5)
        >>> out = model(torch.rand(1, 3, 64, 64), [torch.tensor([[0.0, 0.0, 40.0, 40.0]])],
        ...             [(64, 64)])
        >>> out.features.shape, out.base_logits.shape
        (torch.Size([1, 64, 4, 4]), torch.Size([1, 5]))
    """

    spatial_scale = 1 / 16

    def __init__(
        self,
        num_classes: int,
        width: int = 16,
        region_channels: int = 128,
        crop_mode: CropMode = "roi_align",
    ) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.feature_channels = 4 * width
        self.region_channels = region_channels
        self.trunk = SmallBackbone(width)
        self.crop = RegionCrop(7, self.spatial_scale, crop_mode)
        self.region = nn.Sequential(_block(4 * width, region_channels, 1), nn.AdaptiveAvgPool2d(1))
        self.classifier = nn.Linear(region_channels, num_classes)
        nn.init.normal_(self.classifier.weight, std=0.01)
        nn.init.zeros_(self.classifier.bias)

    def features(self, images: Tensor) -> Tensor:
        """The stride-16 map ``[B, 4 * width, H / 16, W / 16]``."""
        return self.trunk(images)

    def region_features(self, crops: Tensor) -> Tensor:
        """One convolution on the crops, spatially averaged: ``[R, region_channels]``."""
        return self.region(crops).flatten(1)


class SmallBackbone(nn.Sequential):
    """The four stride-2 stages of :class:`SmallConvNetClassifier` as a detector backbone: one
    feature map at stride 16 with ``out_channels = 4 * width`` channels."""

    def __init__(self, width: int = 16) -> None:
        super().__init__(
            _block(3, width, 2),
            _block(width, 2 * width, 2),
            _block(2 * width, 4 * width, 2),
            _block(4 * width, 4 * width, 2),
        )
        self.out_channels = 4 * width


def small_faster_rcnn(
    num_classes: int,
    width: int = 16,
    representation_size: int = 256,
    min_size: int = 384,
    max_size: int = 384,
    **kwargs: Any,
) -> FasterRCNN:
    """A torchvision :class:`~torchvision.models.detection.FasterRCNN` on :class:`SmallBackbone`,
    small enough to train from scratch on a CPU: one feature map at stride 16 (named ``"0"``),
    anchors of 16 to 128 pixels at three aspect ratios, ``7 x 7`` RoIAlign and a two-layer box
    head of ``representation_size``. Its box classifier sees what a
    :class:`SmallConvNetClassifier` crop sees (about 31 pixels around a box), which is what the
    synthetic benchmark's context cues are placed beyond.

    Args:
        num_classes: ``C``, background included.
        width: the backbone's first width.
        representation_size: the box head's width (``D_r`` of the region features).
        min_size, max_size: the detector's resize (the benchmark's images are 384 pixels).
        kwargs: further arguments of :class:`~torchvision.models.detection.FasterRCNN`.

    Example:
        >>> import torch
        >>> detector = small_faster_rcnn(num_classes=5).eval()
        >>> sorted(detector([torch.rand(3, 384, 384)])[0])
        ['boxes', 'labels', 'scores']
    """
    from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
    from torchvision.models.detection.rpn import AnchorGenerator

    check_count("num_classes", num_classes, 2, " (C: background and at least one class)")
    from torchvision.ops import MultiScaleRoIAlign

    backbone = SmallBackbone(width)
    anchors = AnchorGenerator(sizes=((16, 32, 64, 128),), aspect_ratios=((0.5, 1.0, 2.0),))
    pool = MultiScaleRoIAlign(["0"], output_size=7, sampling_ratio=2)
    box_head = TwoMLPHead(backbone.out_channels * 7 * 7, representation_size)
    options: dict[str, Any] = {
        "image_mean": [0.0, 0.0, 0.0],  # the benchmark's ConvNet reads [0, 1] pixels as they are
        "image_std": [1.0, 1.0, 1.0],
        **kwargs,
    }
    return FasterRCNN(
        backbone,
        min_size=min_size,
        max_size=max_size,
        rpn_anchor_generator=anchors,
        box_roi_pool=pool,
        box_head=box_head,
        box_predictor=FastRCNNPredictor(representation_size, num_classes),
        **options,
    )
