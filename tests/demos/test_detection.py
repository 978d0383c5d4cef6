import json
from dataclasses import replace

import pytest

from iterative_reasoning.demos.detection import (
    LOOK_ALIKE,
    OTHERS,
    DetectionDemoConfig,
    format_detection_table,
    format_seeds_table,
    run_detection_demo,
    run_detection_seeds,
)
from iterative_reasoning.engine import load_checkpoint, read_log


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, wordnet):
    out = tmp_path_factory.mktemp("demo-detection")
    config = replace(DetectionDemoConfig().scaled(0.01), width=4, reasoned_boxes=20)
    return out, config, run_detection_demo(out, config, progress=False, lexicon=wordnet)


def test_the_benchmark_writes_both_models_their_metrics_and_the_picture(tiny):
    out, config, result = tiny
    assert list(result.metrics) == ["detector", "paper fusion", "with head"]
    for folder in ("detector", "paper_fusion", "with_head"):
        assert read_log(out / folder) or folder == "paper_fusion"  # evaluated, not trained
        written = json.loads((out / folder / "metrics.json").read_text())
        assert written["images"] == config.test_images
        assert (out / folder / "detections.json").exists()
    assert load_checkpoint(out / "with_head")["step"] == config.head.steps
    selection = json.loads((out / "gate" / "selection.json").read_text())
    assert selection["gate"] == list(result.gate.values())
    assert set(result.gate.values()) <= {0.0, 0.25, 0.5, 0.75, 1.0}
    assert selection["chosen"]["detector"] == selection["grid"]["0.0"]["ap"]
    assert (out / "table.txt").read_text().startswith("model")
    assert "with the head: mAP" in result.table and "with the paper fusion: mAP" in result.table
    assert set(result.head_loss) == {"train", "held out", "test"}
    assert len(result.gate) == 14
    held_out = [line for line in read_log(out / "with_head") if "val_loss" in line]
    assert held_out and held_out[-1]["step"] == config.head.steps
    assert [p.name for p in result.figures] == ["detections.png"]
    assert result.figures[0].stat().st_size > 10_000
    assert (out / "data" / "annotations" / "instances_train.json").exists()


def test_the_benchmark_resumes_what_it_finished(tiny, wordnet):
    out, config, first = tiny
    again = run_detection_demo(out, config, progress=False, figures=False, lexicon=wordnet)
    assert again.seconds["detector"] == 0.0 and again.seconds["head"] == 0.0
    assert again.metrics == first.metrics and again.gate == first.gate


def test_the_table_compares_look_alike_and_other_categories():
    def metrics(look, other):
        ap_of = {**dict.fromkeys(LOOK_ALIKE, look), **dict.fromkeys(OTHERS, other)}
        return {"bbox": {"ap": (look + other) / 2, "ap50": 90.0, "ap_of": ap_of}}

    table = format_detection_table(
        {"detector": metrics(30.0, 80.0), "with head": metrics(55.0, 79.5)}
    )
    assert "look-alike categories +25.0, others -0.5" in table
    assert table.splitlines()[0].split()[:5] == ["model", "mAP", "AP50", "look-alike", "others"]


@pytest.mark.parametrize("family", ["rt_detr", "yolo"])
def test_the_benchmark_runs_other_libraries_detectors(family, tmp_path, wordnet):
    if family == "rt_detr":
        pytest.importorskip("transformers")
    else:  # through the adapter: importing ultralytics directly changes process-wide settings
        from iterative_reasoning.detectors.ultralytics import import_ultralytics

        try:
            import_ultralytics()
        except ImportError:
            pytest.skip("ultralytics is not installed")
    config = replace(DetectionDemoConfig.for_family(family).scaled(0.005), width=4)
    assert config.detector.optimizer == "adamw"  # the family's own recipe, scaled
    result = run_detection_demo(tmp_path, config, progress=False, figures=False, lexicon=wordnet)
    assert list(result.metrics) == ["detector", "paper fusion", "with head"]
    assert load_checkpoint(tmp_path / "with_head")["step"] == config.head.steps
    assert "with the head: mAP" in result.table
    with pytest.raises(ValueError, match="sweep over reasoned boxes"):
        run_detection_demo(
            tmp_path, replace(config, sweep=(10,)), progress=False, figures=False, lexicon=wordnet
        )


def test_the_paper_fusion_gives_two_rows_and_no_gate(tmp_path, wordnet):
    config = replace(DetectionDemoConfig().scaled(0.005), width=4, reasoned_boxes=10)
    result = run_detection_demo(
        tmp_path, replace(config, fusion="paper"), progress=False, figures=False, lexicon=wordnet
    )
    assert list(result.metrics) == ["detector", "with head"] and result.gate == {}
    assert not (tmp_path / "fallback").exists()


def test_the_gate_fitted_by_its_loss_on_the_held_out_images(tmp_path, wordnet):
    config = replace(DetectionDemoConfig().scaled(0.005), width=4, reasoned_boxes=10)
    result = run_detection_demo(
        tmp_path, replace(config, gate_fit="loss"), progress=False, figures=False, lexicon=wordnet
    )
    assert load_checkpoint(tmp_path / "fallback")["step"] == config.fallback.steps
    assert any(value != 0 for value in result.gate.values())  # trained away from closed
    assert not (tmp_path / "gate").exists()


def test_seeds_run_apart_and_are_summed_up(tmp_path, wordnet):
    config = replace(DetectionDemoConfig().scaled(0.005), width=4, reasoned_boxes=10)
    result = run_detection_seeds(
        tmp_path, config, seeds=2, progress=False, figures=False, lexicon=wordnet
    )
    assert sorted(result.runs) == [0, 1]
    assert result.runs[1].metrics != result.runs[0].metrics  # other scenes, other weights
    assert config.seeded(1).detector.seed == config.detector.seed + 1
    assert config.seeded(0) == config
    assert (tmp_path / "summary.txt").read_text().startswith("mean ± std over 2 seed(s)")
    assert "with head - detector: seed 0: mAP" in result.table
    with pytest.raises(ValueError, match="seeds must be a positive integer"):
        run_detection_seeds(tmp_path, config, seeds=0)


def test_the_seeds_table_gives_mean_and_spread():
    def metrics(ap):
        ap_of = dict.fromkeys((*LOOK_ALIKE, *OTHERS), ap)
        return {"bbox": {"ap": ap, "ap50": ap + 10, "ap75": ap - 10, "ap_of": ap_of}}

    table = format_seeds_table(
        {
            0: {"detector": metrics(50.0), "with head": metrics(52.0)},
            1: {"detector": metrics(60.0), "with head": metrics(59.0)},
        }  # fmt: skip
    )
    assert "55.0 ± 7.1" in table
    assert "seed 0: mAP +2.0" in table and "seed 1: mAP -1.0" in table


def test_unknown_family():
    with pytest.raises(ValueError, match="family must be one of"):
        DetectionDemoConfig(family="ssd")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"fusion": "gated"}, "fusion must be one of"),
        ({"validation_fraction": 0.0}, "validation_fraction must be strictly between 0 and 1"),
        ({"validation_fraction": 1.0}, "validation_fraction must be strictly between 0 and 1"),
        ({"validate_every": 0}, "validate_every must be positive"),
        ({"gate_fit": "calibration"}, "gate_fit must be one of"),
        ({"gate_margin": -1.0}, "gate_margin must be finite and non-negative"),
        ({"head_size": "tiny"}, r"head_size must be one of \('paper', 'light'\)"),
    ],
)
def test_bad_settings(options, message):
    with pytest.raises(ValueError, match=message):
        DetectionDemoConfig(**options)
