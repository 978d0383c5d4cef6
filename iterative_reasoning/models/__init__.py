"""What the engine trains and evaluates: a region classifier with or without the head
(:class:`~iterative_reasoning.models.region.RegionModel`), a detector with or without it
(:class:`~iterative_reasoning.models.detection.DetectionModel`), and the region classifiers'
backbones: the paper's ResNet-50 (:mod:`~iterative_reasoning.models.resnet`) and the synthetic
benchmark's small ConvNet (:mod:`~iterative_reasoning.models.small_convnet`)."""

from iterative_reasoning.models.detection import DetectionBatch, DetectionModel, collate_detections
from iterative_reasoning.models.region import Batch, RegionModel, collate_regions
from iterative_reasoning.models.resnet import ResNetRegionClassifier
from iterative_reasoning.models.small_convnet import SmallConvNetClassifier

__all__ = [
    "Batch",
    "DetectionBatch",
    "DetectionModel",
    "RegionModel",
    "ResNetRegionClassifier",
    "SmallConvNetClassifier",
    "collate_detections",
    "collate_regions",
]
