import sys

import pytest
import torch
from transformers_detectors import K, small_detr

transformers = pytest.importorskip("transformers")
pytest.importorskip("scipy")

from iterative_reasoning.detectors.detr_family import (  # noqa: E402
    FAMILIES,
    box_frames,
    coco_annotation,
    family_of,
    feature_levels,
    hungarian_matcher,
    model_backbone,
    require_transformers,
)
from iterative_reasoning.models.small_detectors import small_rt_detr  # noqa: E402


def _detr():
    """A DETR reading the backbone's stages at strides 8, 16 and 32 (32, 64, 128 channels)."""
    return small_detr(out_features=("stage2", "stage3", "stage4")).model


def test_families_and_their_logit_forms():
    rt_detr = small_rt_detr(K, size=64, width=8, num_queries=5).model
    assert family_of(rt_detr) == FAMILIES["RTDetrForObjectDetection"]
    assert family_of(rt_detr).sigmoid and family_of(rt_detr).encoder_levels
    detr = family_of(_detr())
    assert not detr.sigmoid and detr.matcher == "detr" and not detr.encoder_levels
    with pytest.raises(TypeError, match="model must be a transformers DETR-family detector"):
        family_of(torch.nn.Linear(2, 2))
    with pytest.raises(TypeError, match="got RTDetrModel"):
        family_of(rt_detr.model)  # the bare model has no detection head


def test_feature_levels_of_the_encoder_or_the_backbone():
    rt_detr = small_rt_detr(K, size=64, width=8, num_queries=5).model
    assert feature_levels(rt_detr, family_of(rt_detr)) == ([8, 16, 32], [16, 16, 16])
    detr = _detr()
    detr.train()
    strides, channels = feature_levels(detr, family_of(detr))
    assert (strides, channels) == ([8, 16, 32], [32, 64, 128])
    assert model_backbone(detr).training  # read in evaluation mode, then put back
    with pytest.raises(TypeError, match="has no model.backbone"):
        model_backbone(torch.nn.Linear(2, 2))


def test_each_family_gets_its_loss_s_matcher_with_its_costs():
    from transformers.loss.loss_for_object_detection import HungarianMatcher
    from transformers.loss.loss_rt_detr import RTDetrHungarianMatcher

    rt_detr = small_rt_detr(K, size=64, width=8, num_queries=5).model
    assert isinstance(hungarian_matcher(rt_detr, family_of(rt_detr)), RTDetrHungarianMatcher)
    detr = _detr()
    matcher = hungarian_matcher(detr, family_of(detr))
    assert isinstance(matcher, HungarianMatcher)
    config = detr.config
    assert (matcher.class_cost, matcher.bbox_cost, matcher.giou_cost) == (
        config.class_cost,
        config.bbox_cost,
        config.giou_cost,
    )


def test_coco_annotation_is_xywh_with_zero_based_categories():
    target = {"boxes": torch.tensor([[10.0, 20.0, 40.0, 80.0]]), "labels": torch.tensor([2])}
    assert coco_annotation(7, target) == {
        "image_id": 7,
        "annotations": [
            {"bbox": [10.0, 20.0, 30.0, 60.0], "category_id": 1, "area": 1800.0, "iscrowd": 0}
        ],
    }
    with pytest.raises(ValueError, match=r"targets\[0\] needs 'boxes' and 'labels'"):
        coco_annotation(0, {"boxes": target["boxes"]})
    with pytest.raises(ValueError, match=r"must be 1..K \(0 is background\), got \[0\]"):
        coco_annotation(0, {**target, "labels": torch.tensor([0])})


def test_box_frames_scale_the_padded_input_back_to_each_image():
    inputs = {
        "pixel_values": torch.zeros(2, 3, 100, 160),
        "input_sizes": torch.tensor([[100, 160], [80, 120]]),  # the second is padded
    }
    frames = box_frames(inputs, [(50, 80), (40, 60)])
    assert frames.tolist() == [[50.0, 80.0], [50.0, 80.0]]


def test_a_missing_transformers_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "transformers", None)
    with pytest.raises(ImportError, match=r"iterative-reasoning\[transformers\]"):
        require_transformers()
