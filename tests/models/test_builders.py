"""torchvision's detectors by name, for the command line and the benchmarks."""

import pytest
import torch
from torchvision.models.detection import FasterRCNN

from iterative_reasoning.models import DETECTORS, build_detector


def test_every_name_builds_a_two_stage_detector_for_the_classes():
    torch.manual_seed(0)
    for name in ("small", "fasterrcnn_mobilenet_v3_large_320_fpn"):
        detector = build_detector(name, 5, min_size=96, max_size=128)
        assert isinstance(detector, FasterRCNN), name
        assert detector.roi_heads.box_predictor.cls_score.out_features == 5, name
    assert "small" in DETECTORS and "fasterrcnn_resnet50_fpn" in DETECTORS


def test_names_and_weights_that_cannot_be_built_are_refused():
    with pytest.raises(ValueError, match="detector must be one of"):
        build_detector("retinanet_resnet50_fpn", 5)
    with pytest.raises(ValueError, match="'small' detector has no pretrained weights"):
        build_detector("small", 5, weights_backbone="IMAGENET1K_V1")
