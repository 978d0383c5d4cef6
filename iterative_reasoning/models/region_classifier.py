"""A ConvNet region classifier of the paper's shape, the base of the region classifiers of
:mod:`~iterative_reasoning.models.resnet` and :mod:`~iterative_reasoning.models.small_convnet`:
it gives the head its :class:`~iterative_reasoning.nn.RegionBatch`, crops included."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from iterative_reasoning.nn.region_batch import RegionBatch, region_batch
from iterative_reasoning.ops import RegionCrop, grid_sizes_of


class CropRegionClassifier(nn.Module):
    """A ConvNet region classifier of the paper's shape: a backbone gives the mid-level map,
    each box is cropped from it, a region head pools the crop into a feature, and a linear
    classifier gives the logits ``f_0``. Subclasses set :attr:`crop`, :attr:`classifier` and
    :attr:`spatial_scale` and define :meth:`features` and :meth:`region_features`."""

    crop: RegionCrop
    classifier: nn.Linear
    spatial_scale: float

    def features(self, images: Tensor) -> Tensor:
        """The mid-level map ``[B, D_f, H, W]`` of a padded batch of images."""
        raise NotImplementedError

    def region_features(self, crops: Tensor) -> Tensor:
        """Pooled region features ``[R, D_r]`` from crops ``[R, D_f, P, P]``."""
        raise NotImplementedError

    def classify(
        self, features: Tensor, boxes: Tensor, batch: Tensor, image_sizes: Tensor
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Base logits ``[R, C]``, region features ``[R, D_r]`` and the crops they were
        pooled from ``[R, D_f, P, P]`` (which the head reads too, when its crop is this one)."""
        crops = self.crop(features, boxes, batch, grid_sizes_of(image_sizes, self.spatial_scale))
        region = self.region_features(crops)
        return self.classifier(region), region, crops

    def forward(
        self,
        images: Tensor,
        boxes: Tensor | Sequence[Tensor],
        image_sizes: Tensor | Sequence[Sequence[int]],
        batch: Tensor | None = None,
    ) -> RegionBatch:
        return region_batch(
            self.features(images),
            boxes,
            image_sizes,
            batch=batch,
            classifier=self.classify,
            spatial_scale=self.spatial_scale,
            cropped_by=self.crop,
        )
