from pathlib import Path

import pytest

from iterative_reasoning.cli.parser import parser, positive_int, run_spec
from iterative_reasoning.recipes import RunSpec


def _parse(*argv):
    return parser("test").parse_args(list(argv))


def test_a_train_command_describes_its_run():
    args = _parse(
        "train", "--dataset", "coco", "--model", "final", "--output-dir", "runs/x",
        "--task", "detection", "--root", "images", "--annotations", "train.json",
        "--reasoned-boxes", "all", "--weights", "none", "--graph-relations", "mined",
        "--quiet", "--head-size", "light",
    )  # fmt: skip
    spec = run_spec(args)
    assert spec.head_size == "light"
    assert isinstance(spec, RunSpec)
    assert (spec.dataset, spec.model, spec.task) == ("coco", "final", "detection")
    assert spec.output_dir == Path("runs/x") and spec.root == Path("images")
    assert spec.annotations == Path("train.json") and spec.graph is None
    assert spec.reasoned_boxes is None and spec.graph_relations == "mined"
    assert spec.progress is False and spec.lexicon is None
    assert _parse("evaluate", "--dataset", "synthetic", "--model", "local",
                  "--output-dir", "y", "--graph", "g.json").graph == "g.json"  # fmt: skip


def test_the_defaults_and_the_schedule_left_to_the_dataset():
    args = _parse("train", "--dataset", "synthetic", "--model", "baseline", "--output-dir", "z")
    spec = run_spec(args)
    assert spec.reasoned_boxes is not None and spec.reasoned_boxes > 0
    assert (spec.num_images, spec.num_test_images, spec.benchmark) == (800, 200, "easy")
    assert spec.progress is True and spec.train_on == "proposals" and spec.head_size == "paper"
    # the schedule options stay unset, so that the dataset's own schedule applies
    assert args.steps is args.lr is args.precision is args.num_workers is None
    assert not args.no_resume and not args.freeze_convnet
    demo = _parse("demo", "--benchmark", "hard", "--seeds", "2", "--scale", "0.5")
    assert (demo.benchmark, demo.seeds, demo.scale, demo.task) == ("hard", 2, 0.5, "classification")
    assert demo.head_size == "paper" and _parse("demo", "--head-size", "light").head_size == "light"
    assert demo.models is None and _parse("demo", "--models", "final", "local").models == [
        "final",
        "local",
    ]


def test_reasoned_boxes_must_be_positive():
    assert positive_int("7") == 7
    for text in ("0", "-3", "many"):
        with pytest.raises(ValueError, match=f"--reasoned-boxes must be .* got '{text}'"):
            positive_int(text)


@pytest.mark.parametrize(
    "argv",
    [
        ["train", "--dataset", "pascal", "--model", "final", "--output-dir", "x"],
        ["train", "--dataset", "ade20k", "--model", "resnet", "--output-dir", "x"],
        ["train", "--dataset", "ade20k", "--model", "final"],
        ["evaluate", "--dataset", "ade20k", "--model", "final", "--output-dir", "x", "--lr", "1"],
    ],
)
def test_unknown_choices_and_missing_options_are_usage_errors(argv, capsys):
    with pytest.raises(SystemExit) as stop:
        _parse(*argv)
    assert stop.value.code == 2 and "usage: iterative-reasoning" in capsys.readouterr().err
