from pathlib import Path

import pytest

from iterative_reasoning.recipes.spec import DATASETS, TEST_SPLIT, RunSpec


def test_paths_and_weights_are_normalised():
    spec = RunSpec("ade20k", "final", "runs/a", root="data/ade", graph="g.json.gz", weights="NONE")
    assert spec.output_dir == Path("runs/a") and spec.root == Path("data/ade")
    assert spec.graph == Path("g.json.gz") and spec.weights is None
    assert spec.data_root == Path("data/ade") and spec.test_split == "mtest"


def test_where_the_data_is():
    assert RunSpec("synthetic", "baseline", "runs/s").data_root == Path("runs/s/data")
    with pytest.raises(ValueError, match="--root is needed for --dataset coco"):
        RunSpec("coco", "final", "runs/c").data_root  # noqa: B018
    assert {d: RunSpec(d, "final", "x").test_split for d in DATASETS} == TEST_SPLIT


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"dataset": "imagenet"}, "dataset must be one of"),
        ({"model": "both"}, "model must be one of"),
        ({"task": "segmentation"}, "task must be one of"),
        ({"graph_relations": "all"}, "graph_relations must be one of"),
        ({"benchmark": "medium"}, "benchmark must be one of"),
        ({"train_on": "everything"}, "train_on must be one of"),
        ({"num_images": 0}, "num_images must be positive, got 0"),
        ({"min_size": -1}, "min_size must be positive"),
        ({"reasoned_boxes": 0}, "reasoned_boxes must be positive or None, got 0"),
    ],
)
def test_bad_settings_are_refused_by_name(options, match):
    settings = {"dataset": "synthetic", "model": "final", "output_dir": "runs/x", **options}
    with pytest.raises(ValueError, match=match):
        RunSpec(**settings)


def test_the_options_of_a_training_script_give_its_run_spec():
    import argparse

    from iterative_reasoning import recipes

    parser = argparse.ArgumentParser()
    recipes.add_run_arguments(parser, steps=1000)
    args = parser.parse_args(["--output-dir", "runs/x", "--weights", "none", "--min-size", "300"])
    assert (args.model, args.steps, args.batch_size) == ("final", 1000, 1)
    spec = recipes.run_spec_of(args, "visual_genome", root="vg", min_count=3)
    assert spec == RunSpec(
        "visual_genome", "final", "runs/x", root="vg", min_count=3, min_size=300, weights=None
    )
    with pytest.raises(SystemExit):
        parser.parse_args([])  # the output directory is required
