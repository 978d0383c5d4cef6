import pytest
import torch
from torchvision.models.detection.roi_heads import RoIHeads
from torchvision_detectors import RELATIONS, SMALL, C, attached, build, data, own_backbone

from iterative_reasoning.detectors import (
    attach_reasoning_head,
    detach_reasoning_head,
    reasoning_head_for,
)
from iterative_reasoning.nn import IterativeReasoningHead


def test_detach_gives_back_the_plain_detector():
    plain, detector, head = attached("maskrcnn_resnet50_fpn")
    assert detach_reasoning_head(detector) is head
    assert type(detector.roi_heads) is RoIHeads
    images, _ = data()
    with torch.no_grad():
        for want, got in zip(plain.eval()(images), detector.eval()(images), strict=True):
            for key, value in want.items():
                assert torch.equal(got[key], value), key
    with pytest.raises(ValueError, match="has no reasoning head"):
        detach_reasoning_head(detector)


def test_errors():
    detector = own_backbone()
    head = reasoning_head_for(detector, "final", class_relations=RELATIONS, **SMALL)
    with pytest.raises(TypeError, match="two-stage detector"):
        attach_reasoning_head(torch.nn.Linear(1, 1), head)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="IterativeReasoningHead"):
        attach_reasoning_head(detector, torch.nn.Linear(1, 1))  # type: ignore[arg-type]
    other = IterativeReasoningHead.paper("local", num_classes=5, feature_channels=32, **SMALL)
    with pytest.raises(ValueError, match="num_classes = 5 but the detector has 3 classes: .* 4"):
        attach_reasoning_head(detector, other)
    wide = IterativeReasoningHead.paper("local", num_classes=C, feature_channels=256, **SMALL)
    with pytest.raises(ValueError, match="256 channels but the detector's stride-16 map has 32"):
        attach_reasoning_head(detector, wide)
    features = reasoning_head_for(detector, "global", class_relations=RELATIONS, **SMALL)
    features.region_channels = 1024
    with pytest.raises(ValueError, match="region features of 1024 channels .* gives 64"):
        attach_reasoning_head(detector, features)
    mobile = build("fasterrcnn_mobilenet_v3_large_fpn")
    stride16 = IterativeReasoningHead.paper("local", num_classes=C, feature_channels=256, **SMALL)
    with pytest.raises(
        ValueError, match=r"no feature map at the head's stride 16; its strides: \[32, 64\]"
    ):
        attach_reasoning_head(mobile, stride16)
    with pytest.raises(ValueError, match="feature_level 'p4' is not among"):
        attach_reasoning_head(detector, head, feature_level="p4")
    with pytest.raises(ValueError, match="reasoned_boxes must be positive"):
        attach_reasoning_head(detector, head, reasoned_boxes=0)
    with pytest.raises(ValueError, match="train_on must be one of"):
        attach_reasoning_head(detector, head, train_on="boxes")  # type: ignore[arg-type]
    attach_reasoning_head(detector, head)
    with pytest.raises(ValueError, match="already has a reasoning head"):
        attach_reasoning_head(detector, head)
