"""A small stride-16 ConvNet, for CPU runs of the synthetic benchmark and for tests: a region
classifier with the interface of :class:`~iterative_reasoning.models.ResNetRegionClassifier`,
on the trunk of :func:`~iterative_reasoning.models.small_detectors.small_faster_rcnn`
(:class:`~iterative_reasoning.models.small_detectors.SmallBackbone`)."""

from __future__ import annotations

from torch import Tensor, nn

from iterative_reasoning.models.region_classifier import CropRegionClassifier
from iterative_reasoning.models.small_detectors import SmallBackbone, conv_block
from iterative_reasoning.ops import CropMode, RegionCrop


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
        - **output:** :class:`~iterative_reasoning.nn.RegionBatch` with features
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
        self.region = nn.Sequential(
            conv_block(4 * width, region_channels, 1), nn.AdaptiveAvgPool2d(1)
        )
        self.classifier = nn.Linear(region_channels, num_classes)
        nn.init.normal_(self.classifier.weight, std=0.01)
        nn.init.zeros_(self.classifier.bias)

    def features(self, images: Tensor) -> Tensor:
        """The stride-16 map ``[B, 4 * width, H / 16, W / 16]``."""
        return self.trunk(images)

    def region_features(self, crops: Tensor) -> Tensor:
        """One convolution on the crops, spatially averaged: ``[R, region_channels]``."""
        return self.region(crops).flatten(1)
