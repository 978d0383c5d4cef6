from torchvision_detectors import RELATIONS, SMALL, build, own_backbone

from iterative_reasoning.detectors import (
    feature_strides,
    reasoning_head_for,
)


def test_feature_strides_and_heads_sized_for_the_detector():
    assert feature_strides(build("fasterrcnn_mobilenet_v3_large_fpn").backbone) == {
        "0": 32,
        "1": 32,
        "pool": 64,
    }
    assert feature_strides(own_backbone().backbone) == {"0": 16}
    head = reasoning_head_for(build("fasterrcnn_resnet50_fpn"), "global", class_relations=RELATIONS)
    assert head.spatial_scale == 1 / 16 and head.region_channels == 1024
    mobile = reasoning_head_for(build("fasterrcnn_mobilenet_v3_large_fpn"), "local", **SMALL)
    assert mobile.spatial_scale == 1 / 32 and mobile.local.in_channels == 256
