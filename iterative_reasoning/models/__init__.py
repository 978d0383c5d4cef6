"""What the engine trains and evaluates: a region classifier with or without the head
(:class:`~iterative_reasoning.models.region.RegionModel`), a detector with or without it
(:class:`~iterative_reasoning.models.detection.DetectionModel`), and the region classifiers'
backbones: the paper's ResNet-50 (:mod:`~iterative_reasoning.models.resnet`) and the synthetic
benchmark's small ConvNet (:mod:`~iterative_reasoning.models.small_convnet`) on their common
shape (:mod:`~iterative_reasoning.models.region_classifier`); the small detectors that train on
a CPU (:mod:`~iterative_reasoning.models.small_detectors`) and torchvision's detectors by name
(:mod:`~iterative_reasoning.models.builders`)."""

from iterative_reasoning.models.builders import DETECTORS, build_detector
from iterative_reasoning.models.detection import DetectionBatch, DetectionModel, collate_detections
from iterative_reasoning.models.region import Batch, RegionModel, collate_regions
from iterative_reasoning.models.region_classifier import CropRegionClassifier
from iterative_reasoning.models.resnet import ResNetRegionClassifier
from iterative_reasoning.models.small_convnet import SmallConvNetClassifier
from iterative_reasoning.models.small_detectors import small_faster_rcnn, small_rt_detr, small_yolo

__all__ = [
    "DETECTORS",
    "Batch",
    "CropRegionClassifier",
    "DetectionBatch",
    "DetectionModel",
    "RegionModel",
    "ResNetRegionClassifier",
    "SmallConvNetClassifier",
    "collate_detections",
    "build_detector",
    "collate_regions",
    "small_faster_rcnn",
    "small_rt_detr",
    "small_yolo",
]
