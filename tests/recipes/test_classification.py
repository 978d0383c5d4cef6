import pytest
import torch
from helpers import assert_same_state

from iterative_reasoning.data.synthetic import tier
from iterative_reasoning.models import SmallConvNetClassifier
from iterative_reasoning.recipes.classification import (
    region_classes,
    region_dataset,
    region_model,
)
from iterative_reasoning.recipes.spec import RunSpec


def _spec(tmp_path, wordnet, model="final"):
    return RunSpec(
        "synthetic",
        model,
        tmp_path / "run",
        num_images=2,
        num_test_images=1,
        lexicon=wordnet,
        graph_relations="wordnet",
        progress=False,
    )


def test_the_synthetic_baseline_needs_no_graph(tmp_path):
    spec = RunSpec("synthetic", "baseline", tmp_path / "run", num_images=2, num_test_images=1)
    classes, graph = region_classes(spec, "train")
    assert classes == ["__background__", *tier("easy")[1]] and graph is None
    model = region_model(spec, len(classes), graph)
    assert isinstance(model.convnet, SmallConvNetClassifier) and model.head is None
    train, test = region_dataset(spec, "train", classes), region_dataset(spec, "test", classes)
    assert (len(train), len(test)) == (2, 1)
    assert (train.hflip_prob, test.hflip_prob) == (0.5, 0.0)


def test_a_synthetic_head_takes_the_run_s_graph(tmp_path, wordnet):
    spec = _spec(tmp_path, wordnet)
    classes, graph = region_classes(spec, "train")
    assert list(graph.classes) == classes[1:]
    torch.manual_seed(0)
    model = region_model(spec, len(classes), graph)
    assert model.head.num_classes == len(classes) and model.head.local.in_channels == 64
    torch.manual_seed(0)
    again = region_model(spec, len(classes), graph)  # a seed gives the same weights
    assert_same_state(model, again)


def test_coco_runs_need_their_annotations_and_a_head_to_write_masks(tmp_path):
    spec = RunSpec("coco", "final", tmp_path / "run", root=tmp_path)
    with pytest.raises(ValueError, match=r"--annotations \(the COCO annotation file"):
        region_classes(spec, "train")
    baseline = RunSpec(
        "coco", "baseline", tmp_path / "run", root=tmp_path, annotations=tmp_path / "a.json",
        write_masks=True,
    )  # fmt: skip
    with pytest.raises(ValueError, match="--write-masks needs a model with a head"):
        region_dataset(baseline, "train", ["__background__", "a"])
