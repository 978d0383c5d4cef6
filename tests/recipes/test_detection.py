import pytest
import torch

from iterative_reasoning.recipes.detection import (
    DEFAULT_DETECTOR,
    detection_annotations,
    detection_dataset,
    detection_model,
    detector_name,
)
from iterative_reasoning.recipes.spec import RunSpec


def _spec(tmp_path, model="baseline", **options):
    return RunSpec(
        "synthetic",
        model,
        tmp_path / "run",
        task="detection",
        num_images=2,
        num_test_images=1,
        **options,
    )


def test_the_detector_of_a_run():
    assert (
        detector_name(RunSpec("coco", "final", "x", task="detection")) == DEFAULT_DETECTOR["coco"]
    )
    assert detector_name(RunSpec("synthetic", "final", "x", task="detection")) == "small"
    named = RunSpec("coco", "final", "x", task="detection", detector="maskrcnn_resnet50_fpn")
    assert detector_name(named) == "maskrcnn_resnet50_fpn"


def test_the_synthetic_benchmark_in_coco_format_and_a_baseline_detector(tmp_path):
    spec = _spec(tmp_path)
    train, test = detection_dataset(spec, "train"), detection_dataset(spec, "test")
    assert (len(train), len(test)) == (2, 1)
    assert detection_annotations(spec, "test").name == "instances_test.json"
    assert detection_annotations(spec, "train").name == "instances_train.json"
    model = detection_model(spec, train, "train")
    predictor = model.detector.roi_heads.box_predictor
    assert predictor.cls_score.out_features == len(train.classes)
    assert not hasattr(model.detector.roi_heads, "head")  # the baseline: no reasoning head


def test_a_head_is_attached_for_a_reasoning_model(tmp_path, wordnet):
    spec = _spec(tmp_path, "final", lexicon=wordnet, graph_relations="wordnet", reasoned_boxes=7)
    train = detection_dataset(spec, "train")
    torch.manual_seed(0)
    roi_heads = detection_model(spec, train, "train").detector.roi_heads
    assert roi_heads.head.num_classes == len(train.classes)
    assert roi_heads.reasoned_boxes == 7


def test_errors(tmp_path):
    with pytest.raises(ValueError, match="takes --dataset coco or synthetic, not ade20k"):
        detection_dataset(RunSpec("ade20k", "final", "x", task="detection"), "train")
    with pytest.raises(ValueError, match="--write-masks goes with --task classification"):
        detection_dataset(_spec(tmp_path, write_masks=True), "train")
    with pytest.raises(ValueError, match="needs --root and --annotations"):
        detection_dataset(RunSpec("coco", "final", "x", task="detection", root="y"), "train")
