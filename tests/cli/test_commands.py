import json
import re
from urllib.error import URLError

import pytest
import torch
from lexicons import require_wordnet

from iterative_reasoning.cli import main
from iterative_reasoning.data.synthetic import class_names
from iterative_reasoning.demos.classification import DemoConfig
from iterative_reasoning.engine import load_checkpoint, read_log


def test_cli_train_on_the_synthetic_benchmark_gives_the_demo_s_rows(tiny_demo, tmp_path):
    """``train --dataset synthetic`` builds the demo's run (the written ADE-format copy, its
    graph with the mined part-of, the ConvNet and heads), so the ConvNet, then the final head
    on it frozen, trained with the demo's schedules, score the demo's rows."""
    out, demo = tiny_demo
    config = DemoConfig().scaled(0.02)
    data = ["--dataset", "synthetic", "--root", str(out / "data"), "--quiet"]
    data += ["--num-images", str(config.train_images), "--num-test-images", str(config.test_images)]
    data += ["--wordnet", require_wordnet()]

    def schedule(c):
        return [
            *("--steps", str(c.steps), "--lr", str(c.lr), "--lr-steps", *map(str, c.lr_steps)),
            *("--checkpoint-every", str(c.checkpoint_every), "--log-every", str(c.log_every)),
        ]

    base, final = tmp_path / "baseline", tmp_path / "final"
    baseline = ["--model", "baseline", "--output-dir", str(base), *schedule(config.baseline)]
    assert main(["train", *data, *baseline]) == 0
    head = ["--model", "final", "--output-dir", str(final), "--init-convnet", str(base)]
    assert main(["train", *data, *head, "--freeze-convnet", *schedule(config.head)]) == 0
    for model, run in (("baseline", base), ("final", final)):
        assert main(["evaluate", *data, "--model", model, "--output-dir", str(run)]) == 0
        scored = json.loads((run / "metrics.json").read_text())
        for metric in ("instance_ap", "instance_ac", "class_ap", "class_ac"):
            assert scored[metric] == pytest.approx(demo.metrics[model][metric], abs=1e-6)


def test_cli_train_then_evaluate_on_the_synthetic_benchmark(tmp_path, wordnet, capsys):
    run = tmp_path / "run"
    argv = ["--dataset", "synthetic", "--model", "final", "--output-dir", str(run)]
    wn = ["--wordnet", require_wordnet()]
    assert (
        main(
            [
                "train",
                *argv,
                *wn,
                "--steps",
                "2",
                "--batch-size",
                "2",
                "--num-images",
                "4",
                "--quiet",
            ]
        )
        == 0
    )
    assert load_checkpoint(run)["step"] == 2
    assert json.loads((run / "run.json").read_text())["config"]["steps"] == 2
    assert main(["evaluate", *argv, *wn]) == 0
    assert "class_ap" in json.loads((run / "metrics.json").read_text())
    head_only = tmp_path / "head"
    argv2 = ["--dataset", "synthetic", "--model", "local", "--output-dir", str(head_only)]
    assert (
        main(
            [
                "train",
                *argv2,
                "--steps",
                "1",
                "--batch-size",
                "1",
                "--num-images",
                "2",
                "--init-convnet",
                str(run),
                "--freeze-convnet",
                "--quiet",
            ]
        )
        == 0
    )
    convnet = {k: v for k, v in load_checkpoint(run)["model"].items() if k.startswith("convnet")}
    after = load_checkpoint(head_only)["model"]
    assert all(torch.equal(after[k], v) for k, v in convnet.items())


def test_cli_leaves_the_warning_filters_as_they_were(tmp_path):
    import warnings

    before = list(warnings.filters)
    main(["train", "--dataset", "ade20k", "--model", "final", "--output-dir", str(tmp_path)])
    assert warnings.filters == before


def test_cli_errors(tmp_path, capsys):
    assert (
        main(["train", "--dataset", "ade20k", "--model", "final", "--output-dir", str(tmp_path)])
        == 2
    )
    assert "--root is needed" in capsys.readouterr().err
    assert (
        main(
            [
                "evaluate",
                "--dataset",
                "synthetic",
                "--model",
                "baseline",
                "--output-dir",
                str(tmp_path / "none"),
            ]
        )
        == 2
    )
    assert "no checkpoint" in capsys.readouterr().err
    argv = [
        "train",
        "--dataset",
        "synthetic",
        "--model",
        "baseline",
        "--output-dir",
        str(tmp_path / "x"),
        "--freeze-convnet",
    ]
    assert main(argv) == 2
    assert "--freeze-convnet needs --init-convnet" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["train", "--dataset", "pascal", "--model", "final", "--output-dir", "x"])


def test_cli_trains_and_evaluates_a_coco_format_dataset(tmp_path, wordnet, capsys):
    from iterative_reasoning.data.synthetic_formats import write_coco

    root = write_coco(tmp_path / "coco", {"train": 2, "test": 1}, seed=0)
    run = tmp_path / "run"
    common = ["--dataset", "coco", "--root", str(root / "images"), "--model", "local"]
    common += ["--output-dir", str(run), "--weights", "none", "--wordnet", require_wordnet()]
    train_file = str(root / "annotations" / "instances_train.json")
    test_file = str(root / "annotations" / "instances_test.json")
    argv = ["train", *common, "--annotations", train_file, "--steps", "1", "--quiet"]
    argv += ["--write-masks"]
    assert main(argv) == 0
    assert main(["evaluate", *common, "--annotations", test_file, "--write-masks"]) == 0
    written = json.loads((run / "metrics.json").read_text())
    assert written["images"] == 1 and written["regions"] == 8
    # the head on the frozen ConvNet of that run keeps writing through the masks
    from iterative_reasoning.cli import commands

    trained = []
    real_train = commands.train_model
    commands.train_model = lambda model, *a, **k: (
        trained.append(model) or real_train(model, *a, **k)
    )
    try:
        frozen = ["--output-dir", str(tmp_path / "frozen"), "--init-convnet", str(run)]
        assert main([*argv, *frozen, "--freeze-convnet"]) == 0
    finally:
        commands.train_model = real_train
    assert trained[0].write_masks and trained[0].freeze_convnet
    from knowledge_graphs import ClassGraph

    graph = ClassGraph.load(run / "class_graph.json.gz")  # built from the categories
    assert graph.classes[:3] == ["keyboard", "monitor", "computer_mouse"]
    # with WordNet's relations and the statistics of the training file's boxes
    assert {"is_kind_of", "co_occurs_with"} <= set(graph.relations)
    assert graph.provenance["mined"]["statistics"]["source"] == "COCO-format instances_train.json"
    assert main(["train", *common, "--steps", "1"]) == 2
    assert "--annotations" in capsys.readouterr().err
    # a graph mined from annotations is never built from a test file
    fresh = ["--output-dir", str(tmp_path / "fresh"), "--annotations", test_file]
    assert main(["evaluate", *common, *fresh]) == 2
    assert "mined from the training annotations" in capsys.readouterr().err
    # the run's graph is built once, with the options it was built with
    again = ["train", *common, "--annotations", train_file, "--steps", "1"]
    assert main([*again, "--graph-relations", "wordnet"]) == 2
    assert "was built with --graph-relations both, not --graph-relations wordnet" in (
        capsys.readouterr().err
    )
    # the shipped graph is COCO-80's
    fresh = ["--output-dir", str(tmp_path / "fresh"), "--annotations", train_file]
    assert main(["train", *common, *fresh, "--steps", "1", "--shipped-graph"]) == 2
    assert "the shipped COCO graph is for COCO's 80 categories" in capsys.readouterr().err


def test_cli_trains_and_evaluates_a_detector_with_and_without_the_head(tmp_path, wordnet):
    wn = ["--wordnet", require_wordnet()]
    data = ["--dataset", "synthetic", "--task", "detection", "--num-images", "4"]
    data += ["--num-test-images", "2", *wn]
    schedule = ["--steps", "2", "--batch-size", "2", "--quiet"]
    plain = tmp_path / "plain"
    assert main(["train", *data, "--model", "baseline", "--output-dir", str(plain), *schedule]) == 0
    assert main(["evaluate", *data, "--model", "baseline", "--output-dir", str(plain)]) == 0
    metrics = json.loads((plain / "metrics.json").read_text())
    assert set(metrics["bbox"]["ap_of"]) <= set(class_names()[1:]) and metrics["images"] == 2
    # the head on the frozen detector of the first run
    head = tmp_path / "head"
    argv = ["--model", "final", "--output-dir", str(head), "--reasoned-boxes", "10"]
    frozen = ["--init-detector", str(plain), "--freeze-detector"]
    assert main(["train", *data, *argv, *frozen, *schedule]) == 0
    state = load_checkpoint(head)["model"]
    before = load_checkpoint(plain)["model"]
    for name, value in before.items():
        assert torch.equal(state[name], value), name
    assert any(".roi_heads.head." in name for name in state)
    held_out = [line for line in read_log(head) if "val_loss" in line]
    assert [line["step"] for line in held_out] == [2]  # 10 % of the images held out
    assert "val_loss_reasoning" in held_out[0]
    assert main(["evaluate", *data, *argv]) == 0
    assert json.loads((head / "metrics.json").read_text())["detections"] >= 0
    assert not [line for line in read_log(plain) if "val_loss" in line]  # none by default


def test_cli_detection_errors(tmp_path, capsys):
    base = ["train", "--task", "detection", "--model", "baseline", "--output-dir", str(tmp_path)]
    assert main([*base, "--dataset", "ade20k", "--root", str(tmp_path)]) == 2
    assert "takes --dataset coco or synthetic" in capsys.readouterr().err
    assert main([*base, "--dataset", "coco"]) == 2
    assert "needs --root and --annotations" in capsys.readouterr().err
    data = ["--dataset", "synthetic", "--num-images", "2", "--num-test-images", "2"]
    final = [*base[:4], "final", *base[5:], *data, "--reasoned-boxes", "0"]
    assert main(final) == 2
    assert "--reasoned-boxes must be a positive integer or 'all'" in capsys.readouterr().err
    assert main(["demo", "--detector", "yolo", "--output-dir", str(tmp_path)]) == 2
    assert "--detector goes with --task detection" in capsys.readouterr().err
    for flag in (["--fusion", "paper"], ["--validation-fraction", "0.2"], ["--gate-fit", "ap"]):
        assert main(["demo", *flag, "--output-dir", str(tmp_path)]) == 2
        assert f"{flag[0]} goes with --task detection" in capsys.readouterr().err
    # once taken, and the whole classification demo ran as if it had not been given
    assert main(["demo", "--seeds", "0", "--output-dir", str(tmp_path)]) == 2
    assert "--seeds goes with --benchmark hard or --task detection" in capsys.readouterr().err
    demo = ["demo", "--task", "detection", "--output-dir", str(tmp_path / "d")]
    for fraction in ("0", "1"):
        assert main([*demo, "--validation-fraction", fraction]) == 2
        err = capsys.readouterr().err
        assert "--validation-fraction must be strictly between 0 and 1" in err
    assert main([*demo, "--seeds", "0"]) == 2
    assert "--seeds must be positive" in capsys.readouterr().err
    assert main([*demo, "--models", "final"]) == 2
    assert "--models goes with --task classification" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([*demo, "--fusion", "gated"])
    assert "invalid choice: 'gated'" in capsys.readouterr().err
    train = ["train", "--dataset", "synthetic", "--model", "baseline", "--num-images", "2"]
    train += ["--output-dir", str(tmp_path / "t"), "--validation-fraction", "1"]
    assert main(train) == 2
    assert "--validation-fraction must be strictly between 0 and 1" in capsys.readouterr().err
    for scale in ("0", "-1", "nan"):
        assert main(["demo", "--scale", scale, "--output-dir", str(tmp_path / "s")]) == 2
        assert "--scale must be a positive number" in capsys.readouterr().err
    assert main(["diagnose", str(tmp_path / "nothing")]) == 2
    assert "give the output directory of a finished" in capsys.readouterr().err


def test_cli_detection_demo_over_seeds_then_its_diagnosis(tmp_path, capsys):
    out = tmp_path / "demo"
    demo = ["demo", "--task", "detection", "--scale", "0.005", "--seeds", "2", "--quiet"]
    lexicon = ["--wordnet", str(require_wordnet())]
    assert main([*demo, "--no-figures", "--output-dir", str(out), *lexicon]) == 0
    printed = capsys.readouterr().out
    assert "mean ± std over 2 seed(s)" in printed and "seed 1" in printed
    report = tmp_path / "report.json"
    assert main(["diagnose", str(out / "seed-1"), "--json", str(report)]) == 0
    printed = capsys.readouterr().out
    assert "AP50" in printed and "fallback gate" in printed and "the head's loss" in printed
    assert set(json.loads(report.read_text())) >= {"ap", "per_category", "scores", "ranking"}
    assert main(["diagnose", str(out / "seed-0"), "--after", "paper_fusion"]) == 0


def test_cli_light_detection_demo_goes_into_its_own_folder(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    demo = ["demo", "--task", "detection", "--scale", "0.005", "--head-size", "light"]
    demo += ["--quiet", "--no-figures", "--wordnet", str(require_wordnet())]
    assert main(demo) == 0
    assert "with head" in capsys.readouterr().out
    run = tmp_path / "runs" / "demo-detection-light"
    weights = load_checkpoint(run / "with_head")["model"]
    # the benchmark's FC width (256), a quarter of it
    fc = [v for k, v in weights.items() if k.endswith("local.fc.0.weight")]
    assert len(fc) == 1 and fc[0].shape[0] == 64
    assert not (tmp_path / "runs" / "demo-detection").exists()


def test_cli_runs_repeat_with_a_seed_and_refuse_a_changed_schedule(tmp_path, wordnet, capsys):
    wn = ["--wordnet", require_wordnet()]
    argv = ["train", "--dataset", "synthetic", "--model", "final", "--num-images", "4", *wn]
    argv += ["--steps", "2", "--batch-size", "2", "--seed", "7", "--quiet"]
    torch.manual_seed(123)  # whatever the process's random state, --seed decides
    assert main([*argv, "--output-dir", str(tmp_path / "a")]) == 0
    torch.manual_seed(456)
    assert main([*argv, "--output-dir", str(tmp_path / "b")]) == 0
    a, b = load_checkpoint(tmp_path / "a")["model"], load_checkpoint(tmp_path / "b")["model"]
    for name, value in a.items():
        assert torch.equal(b[name], value), name
    record = (tmp_path / "a" / "run.json").read_text()
    assert json.loads(record)["start_step"] == 0
    capsys.readouterr()
    assert main([*argv, "--output-dir", str(tmp_path / "a")]) == 0
    assert "nothing to train" in capsys.readouterr().out
    # a command that trains nothing leaves the record of what ran as it was
    assert (tmp_path / "a" / "run.json").read_text() == record
    changed = [*argv, "--steps", "3", "--lr", "0.5", "--output-dir", str(tmp_path / "a")]
    assert main(changed) == 2
    assert "another schedule (lr:" in capsys.readouterr().err
    assert (tmp_path / "a" / "run.json").read_text() == record  # not rewritten by a failure
    assert main([*changed, "--adopt-schedule"]) == 0
    assert json.loads((tmp_path / "a" / "run.json").read_text())["config"]["lr"] == 0.5


def test_user_errors_are_one_line_and_status_2(tmp_path, wordnet, capsys, monkeypatch):
    """Each of these once ended in a traceback."""
    afile = tmp_path / "afile"
    afile.write_text("x")
    base = ["--dataset", "synthetic", "--model", "baseline", "--num-images", "2"]
    for argv, message in [
        (["train", *base, "--output-dir", str(afile)], "--output-dir .* is a file"),
        (
            [
                "train",
                "--dataset",
                "visual_genome",
                "--root",
                str(afile),
                "--model",
                "baseline",
                "--output-dir",
                str(tmp_path / "vg"),
            ],
            "--root .* is a file",
        ),
        (
            [
                "train",
                "--dataset",
                "ade20k",
                "--root",
                str(tmp_path),
                "--model",
                "baseline",
                "--weights",
                "IMAGENET9K",
                "--output-dir",
                str(tmp_path / "w"),
            ],
            "--weights IMAGENET9K is not a weight name; give one of IMAGENET1K_V1",
        ),
    ]:
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert re.search(message, err) and "Traceback" not in err, err

    # no network for the default ImageNet weights
    from torchvision.models import ResNet50_Weights

    def offline(self, *args, **kwargs):
        raise URLError("[Errno -2] Name or service not known")

    monkeypatch.setattr(type(ResNet50_Weights.IMAGENET1K_V1), "get_state_dict", offline)
    from iterative_reasoning.recipes import RunSetup
    from iterative_reasoning.recipes.classification import region_model

    monkeypatch.setattr(  # no ADE20K here: the run of a model on two classes
        "iterative_reasoning.recipes.setup",
        lambda spec, split: RunSetup(None, region_model(spec, 2, _OneRelation()), ["a", "b"], None),
    )
    ade = ["train", "--dataset", "ade20k", "--root", str(tmp_path), "--model", "baseline"]
    assert main([*ade, "--output-dir", str(tmp_path / "net")]) == 2
    assert "--weights none" in capsys.readouterr().err


class _OneRelation:
    """A class graph of two classes with one edge, as ClassRelations.from_class_graph reads it."""

    def edge_lists(self, background=True, relations=None, outputs=None):
        return 2, {"similar_to": ([[0], [1]], [1.0])}


def test_evaluating_with_another_model_than_trained_says_so(tmp_path, wordnet, capsys):
    wn = ["--wordnet", require_wordnet()]
    base = ["--dataset", "synthetic", "--num-images", "2", "--num-test-images", "2", *wn]
    run = ["--output-dir", str(tmp_path)]
    steps = ["--steps", "1", "--batch-size", "1", "--lr", "0.01", "--quiet"]
    assert main(["train", *base, "--model", "baseline", *run, *steps]) == 0
    assert main(["evaluate", *base, "--model", "final", *run]) == 2
    err = capsys.readouterr().err
    assert "holds another model than this one" in err and "Traceback" not in err
    assert main(["train", *base, "--model", "local", *run, *steps, "--steps", "2"]) == 2
    err = capsys.readouterr().err
    assert "holds another run (--model baseline there, local now" in err
    assert "--adopt-schedule" not in err
    # without the run's record, the checkpoint itself tells: the schedule is not blamed
    (tmp_path / "run.json").unlink()
    assert main(["train", *base, "--model", "local", *run, *steps, "--steps", "2"]) == 2
    err = capsys.readouterr().err
    assert "holds another model" in err and "--adopt-schedule" not in err


def test_a_run_without_wordnet_builds_its_graph_from_the_annotations(tmp_path, capsys, monkeypatch):
    from iterative_reasoning.data.synthetic_formats import write_coco
    from knowledge_graphs import ClassGraph
    from knowledge_graphs.wordnet import WordNetNotFoundError

    def no_wordnet(*args, **kwargs):
        raise WordNetNotFoundError("No WordNet found.")

    monkeypatch.setattr("knowledge_graphs.build.load_wordnet", no_wordnet)
    root = write_coco(tmp_path / "coco", {"train": 2}, seed=0)
    argv = ["train", "--dataset", "coco", "--root", str(root / "images"), "--model", "local"]
    argv += ["--annotations", str(root / "annotations" / "instances_train.json")]
    argv += ["--weights", "none", "--steps", "1", "--quiet"]
    assert main([*argv, "--output-dir", str(tmp_path / "a")]) == 2
    assert "Or build the run's graph without WordNet: --graph-relations mined" in (
        capsys.readouterr().err
    )
    run = tmp_path / "b"
    assert main([*argv, "--output-dir", str(run), "--graph-relations", "mined"]) == 0
    graph = ClassGraph.load(run / "class_graph.json.gz")
    assert set(graph.relations) >= {"co_occurs_with"} and "is_kind_of" not in graph.relations


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--detector", "small"], "--detector applies to --task detection only"),
        (["--train-on", "ground_truth"], "--train-on applies to --task detection only"),
        (["--head-size", "light"], "--head-size applies to a model with a head"),
        (["--write-masks"], "--write-masks applies to --dataset coco only"),
        (["--min-count", "3"], "--min-count applies to --dataset visual_genome only"),
        (["--graph-relations", "mined"], r"--graph-relations applies to a head's own class graph"),
        (["--shipped-graph"], "--shipped-graph applies to a head's own class graph"),
        (["--no-resume", "--adopt-schedule"], "--adopt-schedule applies to a resumed run"),
    ],
)
def test_an_option_with_nothing_to_apply_to_is_refused(tmp_path, capsys, extra, message):
    """These were once taken without a word and had no effect."""
    argv = ["train", "--dataset", "synthetic", "--model", "baseline", "--output-dir"]
    assert main([*argv, str(tmp_path), *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not tmp_path.exists() or not any(tmp_path.iterdir())  # refused before any work


def test_export_writes_the_trained_head_as_an_artifact(tmp_path, wordnet, capsys):
    from iterative_reasoning.nn import IterativeReasoningHead

    wn = ["--wordnet", require_wordnet()]
    run = tmp_path / "run"
    data = ["--dataset", "synthetic", "--num-images", "4", "--num-test-images", "2", *wn]
    argv = ["train", *data, "--model", "final", "--output-dir", str(run), "--steps", "2"]
    assert main([*argv, "--quiet"]) == 0
    assert main(["export", "--output-dir", str(run), "--to", str(tmp_path / "head")]) == 0
    assert "the final head of step 2" in capsys.readouterr().out
    head = IterativeReasoningHead.from_pretrained(tmp_path / "head")
    trained = load_checkpoint(run)["model"]
    for name, value in head.state_dict().items():
        assert torch.equal(trained[f"head.{name}"], value), name
    assert head.classes == class_names()
    assert (
        head.class_graph_provenance["provenance"]["source"] == "the synthetic benchmark's classes"
    )
    # a run without a head, and a directory that holds no run
    baseline = ["train", *data, "--model", "baseline", "--output-dir", str(tmp_path / "b")]
    assert main([*baseline, "--steps", "1", "--quiet"]) == 0
    assert main(["export", "--output-dir", str(tmp_path / "b"), "--to", str(tmp_path / "x")]) == 2
    assert "has no head to export (--model baseline)" in capsys.readouterr().err
    assert main(["export", "--output-dir", str(tmp_path), "--to", str(tmp_path / "x")]) == 2
    assert "run.json is missing" in capsys.readouterr().err


def test_a_light_head_trains_evaluates_and_exports_at_its_size(tmp_path, wordnet, capsys):
    from iterative_reasoning.nn import IterativeReasoningHead

    run = tmp_path / "run"
    data = ["--dataset", "synthetic", "--num-images", "4", "--num-test-images", "2"]
    data += ["--wordnet", require_wordnet(), "--model", "final", "--output-dir", str(run)]
    light = ["--head-size", "light", "--quiet"]
    assert main(["train", *data, *light, "--steps", "1"]) == 0
    # the run holds a light head: resumed as the paper's, it is refused
    assert main(["train", *data, "--steps", "2", "--quiet"]) == 2
    assert "--head-size light there, paper now" in capsys.readouterr().err
    assert main(["evaluate", *data, *light]) == 0
    assert main(["export", "--output-dir", str(run), "--to", str(tmp_path / "head")]) == 0
    head = IterativeReasoningHead.from_pretrained(tmp_path / "head")
    assert head.paper_config["size"] == "light"
    # the benchmark's widths (memory 64, FC 256, graph 128): half, a quarter, half; T = 2
    assert head.local.memory_channels == 32 and head.local.fc[0].out_features == 64
    assert head.global_.hidden_channels == 64 and head.num_iterations == 2


def test_a_detector_with_the_head_trains_and_evaluates_on_real_coco_photos(tmp_path, coco_mini):
    images, annotations = coco_mini
    run = ["--output-dir", str(tmp_path), "--model", "final", "--shipped-graph"]
    data = ["--task", "detection", "--dataset", "coco", "--detector", "small"]
    data += ["--root", str(images), "--annotations", str(annotations)]
    steps = ["--steps", "2", "--batch-size", "2", "--quiet"]
    assert main(["train", *data, *run, *steps]) == 0
    assert load_checkpoint(tmp_path)["step"] == 2
    assert main(["evaluate", *data, *run]) == 0
    written = json.loads((tmp_path / "metrics.json").read_text())
    assert written["images"] == 80 and set(written["bbox"]) >= {"ap", "ap50", "ap_of"}
    assert len(written["bbox"]["ap_of"]) == 80  # every COCO category scored


def _offline_weights(monkeypatch, fail=False):
    """torchvision's weights API without the network: a detector's "COCO weights" are a fresh
    91-output detector's (or, with ``fail``, the download fails as without a network)."""
    from torchvision.models import _api, get_model_builder

    def get_state_dict(self, *args, **kwargs):
        if fail:
            raise URLError("no network")
        torch.manual_seed(0)
        name = {
            "FasterRCNN_MobileNet_V3_Large_320_FPN_Weights": "fasterrcnn_mobilenet_v3_large_320_fpn"
        }[type(self).__name__]
        return get_model_builder(name)(
            weights=None, weights_backbone=None, num_classes=91
        ).state_dict()

    monkeypatch.setattr(_api.WeightsEnum, "get_state_dict", get_state_dict)


def test_a_head_trains_on_a_detector_s_own_coco_weights(tmp_path, coco_mini, monkeypatch, capsys):
    from torchvision.models.detection import FasterRCNN_MobileNet_V3_Large_320_FPN_Weights

    images, annotations = coco_mini
    _offline_weights(monkeypatch)
    data = ["--task", "detection", "--dataset", "coco", "--root", str(images)]
    data += [
        "--annotations",
        str(annotations),
        "--detector",
        "fasterrcnn_mobilenet_v3_large_320_fpn",
    ]
    # the global head (the paper's local module on this detector is 100 M weights), on few boxes
    run = ["--output-dir", str(tmp_path), "--model", "global", "--shipped-graph"]
    run += ["--reasoned-boxes", "20"]
    own = ["--detector-weights", "DEFAULT"]
    steps = ["--steps", "2", "--batch-size", "2", "--quiet", "--freeze-detector"]
    assert main(["train", *data, *run, *own, *steps]) == 0
    state = load_checkpoint(tmp_path)["model"]
    assert state["detector.roi_heads.box_predictor.cls_score.weight"].shape[0] == 91
    categories = FasterRCNN_MobileNet_V3_Large_320_FPN_Weights.DEFAULT.meta["categories"]
    # the head's classes are the detector's 91 outputs, its graph on them by name
    assert main(["export", "--output-dir", str(tmp_path), "--to", str(tmp_path / "head")]) == 0
    from iterative_reasoning.nn import IterativeReasoningHead

    head = IterativeReasoningHead.from_pretrained(tmp_path / "head")
    assert head.num_classes == 91 and head.classes == categories
    relations = head.global_.class_relations
    index, _ = relations.edges["is_part_of"]
    named = {(categories[s], categories[t]) for s, t in index.t().tolist()}
    assert all("N/A" not in pair and "__background__" not in pair for pair in named)
    assert main(["evaluate", *data, *run, *own]) == 0
    written = json.loads((tmp_path / "metrics.json").read_text())
    assert written["images"] == 80 and len(written["bbox"]["ap_of"]) == 80
    capsys.readouterr()
    # a name the detector has no weights of, and no network
    fresh = ["--output-dir", str(tmp_path / "fresh"), "--model", "global", "--shipped-graph"]
    assert main(["train", *data, *fresh, "--detector-weights", "IMAGENET9K", *steps]) == 2
    assert "--detector-weights IMAGENET9K is not a weight name" in capsys.readouterr().err
    _offline_weights(monkeypatch, fail=True)
    assert main(["train", *data, *fresh, *own, *steps]) == 2
    err = capsys.readouterr().err
    assert "cannot download https://" in err and "hub/checkpoints" in err and "Traceback" not in err
