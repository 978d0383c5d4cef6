import json

import pytest
import torch

from iterative_reasoning.data.synthetic import tier
from iterative_reasoning.graph import ClassRelations
from iterative_reasoning.recipes import synthetic


def test_the_benchmark_is_written_once_and_again_when_asked_for_another(tmp_path):
    root = tmp_path / "data"
    data = synthetic.written_benchmark(root, 2, 1, seed=3)
    assert (len(data["train"]), len(data["test"])) == (2, 1)
    assert data["train"].hflip_prob == 0.5 and data["test"].hflip_prob == 0.0
    assert data["test"].classes[1:] == list(tier("easy")[1])
    stamp = json.loads((root / "written.json").read_text())
    assert stamp == {"splits": {"train": 2, "mtest": 1}, "seed": 3, "image_size": 384}
    image = root / "images/training/s/synthetic_scene/ADE_train_00000001.jpg"
    written_at = image.stat().st_mtime_ns
    synthetic.written_benchmark(root, 2, 1, seed=3)
    assert image.stat().st_mtime_ns == written_at  # reused
    hard = synthetic.written_benchmark(root, 2, 1, seed=3, benchmark="hard")
    assert json.loads((root / "written.json").read_text())["benchmark"] == "hard"
    assert hard["test"].classes[1:] == list(tier("hard")[1])


def test_the_coco_copy_is_written_once(tmp_path):
    data = synthetic.written_coco(tmp_path / "coco", 2, 1, seed=1)
    assert (len(data["train"]), len(data["test"])) == (2, 1)
    annotations = synthetic.coco_annotations(tmp_path / "coco", "test")
    assert annotations == tmp_path / "coco" / "annotations" / "instances_test.json"
    written_at = annotations.stat().st_mtime_ns
    synthetic.written_coco(tmp_path / "coco", 2, 1, seed=1)
    assert annotations.stat().st_mtime_ns == written_at


def test_schedules():
    easy, hard = synthetic.head_schedule(), synthetic.head_schedule("hard")
    assert (easy.steps, easy.lr_steps, hard.steps, hard.lr_steps) == (400, (320,), 800, (640,))
    assert easy.lr == hard.lr == 0.005
    base = synthetic.baseline_schedule()
    assert (base.steps, base.lr, base.lr_steps) == (400, 0.02, (320,))
    rt_detr, yolo = synthetic.detector_schedule("rt_detr"), synthetic.detector_schedule("yolo")
    assert (rt_detr.optimizer, rt_detr.clip_grad_norm, yolo.clip_grad_norm) == ("adamw", 0.1, 10.0)
    assert synthetic.detector_schedule().optimizer == "sgd"
    with pytest.raises(ValueError, match="family must be one of"):
        synthetic.detector_schedule("detr")


def test_the_convnet_and_heads_have_matching_widths():
    convnet = synthetic.convnet(5, width=8)
    assert (convnet.feature_channels, convnet.region_channels) == (32, 64)
    relations = ClassRelations(5, {"similar_to": torch.tensor([[1, 2], [2, 1]])})
    head = synthetic.head("final", 5, relations, width=8, overlaps=True)
    assert head.local.in_channels == 32 and head.region_channels == 64
    assert head.overlaps
    assert synthetic.head_widths(8) == {
        "memory_channels": 32,
        "fc_channels": 128,
        "hidden_channels": 64,
    }


def test_the_class_graph_of_each_tier(tmp_path, wordnet):
    easy = synthetic.class_graph(None, wordnet)  # WordNet alone, without the written data
    assert list(easy.classes) == list(tier("easy")[1])
    assert "annotated_part_of" not in easy.relations and "similar_to" in easy.relations
    root = tmp_path / "data"
    synthetic.written_benchmark(root, 3, 1, seed=0)
    mined = synthetic.class_graph(root, wordnet)
    assert "annotated_part_of" in mined.relations  # the written part masks
    only = synthetic.class_graph(root, wordnet, relations="mined")
    assert "annotated_part_of" in only.relations and "similar_to" not in only.relations
