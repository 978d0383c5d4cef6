"""The paper's plain ConvNet: ResNet-50 (torchvision) as a region classifier with given boxes."""

from __future__ import annotations

from collections import OrderedDict

import torch
import torchvision
from torch import Tensor, nn
from torchvision.models import ResNet50_Weights
from torchvision.ops import FrozenBatchNorm2d

from iterative_reasoning.models.region_classifier import CropRegionClassifier
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
        - **output:** :class:`~iterative_reasoning.nn.RegionBatch` with features
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
