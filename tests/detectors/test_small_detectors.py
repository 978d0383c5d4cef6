import os
import sys
import tempfile

import pytest
import torch

os.environ.setdefault("YOLO_CONFIG_DIR", tempfile.mkdtemp())  # not the user's settings
from iterative_reasoning.models.small_detectors import small_rt_detr, small_yolo  # noqa: E402


def test_small_rt_detr_is_a_real_rt_detr_of_the_given_size():
    pytest.importorskip("transformers")
    from iterative_reasoning.detectors.transformers import TransformersDetector

    torch.manual_seed(0)
    detector = small_rt_detr(3, size=64, width=8, num_queries=7)
    assert isinstance(detector, TransformersDetector)
    config = detector.model.config
    assert type(detector.model).__name__ == "RTDetrForObjectDetection"
    assert (config.num_labels, config.num_queries, config.d_model) == (3, 7, 16)
    assert config.backbone_config.hidden_sizes == [8, 16, 32, 64]
    assert detector.processor.size == {"height": 64, "width": 64}
    (out,) = detector.eval()([torch.rand(3, 50, 70)])
    assert set(out) >= {"boxes", "labels", "scores"}
    with pytest.raises(ValueError, match="size must be a multiple of 32, got 100"):
        small_rt_detr(3, size=100)


def test_a_missing_transformers_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "transformers", None)
    with pytest.raises(ImportError, match=r"iterative-reasoning\[transformers\]"):
        small_rt_detr(3)


def test_small_yolo_is_a_yolov8n_with_random_weights_and_the_given_classes():
    from iterative_reasoning.detectors.ultralytics import YOLODetector

    try:
        detector = small_yolo(4, imgsz=160)
    except ImportError:
        pytest.skip("ultralytics is not installed")
    assert isinstance(detector, YOLODetector)
    assert detector.num_classes == 4 and detector.model.yaml["nc"] == 4
    (out,) = detector.eval()([torch.rand(3, 160, 160)])
    assert set(out) >= {"boxes", "labels", "scores"}


@pytest.mark.parametrize("count", [0, -1, 2.0, True])
def test_a_class_count_that_is_not_a_positive_integer_is_refused(count):
    """0 once built a 0-class RT-DETR and an 80-class YOLO (ultralytics' default)."""
    from iterative_reasoning.models.small_detectors import small_faster_rcnn

    error = TypeError if isinstance(count, (float, bool)) else ValueError
    for build in (small_rt_detr, small_yolo):
        with pytest.raises(error, match="num_classes must be"):
            build(count)
    with pytest.raises(error, match="num_classes must be"):
        small_faster_rcnn(count if count != -1 else 1)  # C counts the background: 1 is too few
