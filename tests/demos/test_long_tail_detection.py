"""The long-tail detection benchmark at 1/20 of its scale: the data, the corpus and both
graphs written, every head trained and scored, the tables by frequency tier, the ceiling, and
a second run that reuses what the first finished."""

import json
from dataclasses import replace

import pytest
from lexicons import require_wordnet

from iterative_reasoning.cli import main
from iterative_reasoning.demos.detection import (
    DetectionDemoConfig,
    category_sets,
    format_detection_table,
    run_detection_demo,
)
from iterative_reasoning.engine import load_checkpoint
from knowledge_graphs.class_graph import ClassGraph


@pytest.fixture(scope="module")
def smoke(tmp_path_factory, wordnet):
    out = tmp_path_factory.mktemp("demo-long-tail")
    config = DetectionDemoConfig.for_family("faster_rcnn", "long_tail").scaled(0.05)
    config = replace(config, variants=("train_graph",), width=4, reasoned_boxes=20)
    return out, config, run_detection_demo(out, config, progress=False, lexicon=wordnet)


def test_the_long_tail_benchmark_at_a_twentieth_of_its_scale(smoke):
    out, config, result = smoke
    assert (config.train_images, config.test_images, config.corpus_scenes) == (40, 10, 1000)
    rows = ["detector", "paper fusion", "with head", "with head (training-image graph)"]
    assert list(result.metrics) == rows
    for folder in ("with_head", "with_head-train_graph"):
        assert load_checkpoint(out / folder)["step"] == config.head.steps
        assert json.loads((out / folder / "metrics.json").read_text())["images"] == 10
    corpus = json.loads((out / "data" / "annotations" / "corpus.json").read_text())
    assert len(corpus["images"]) == 1000 and not (out / "data" / "images" / "corpus").exists()
    synsets = json.loads((out / "data" / "annotations" / "synsets.json").read_text())
    assert synsets["window"] == "window.n.02" and len(synsets) == 68
    # the corpus graph rests on 1,000 scenes, the other on the 40 training images
    graphs = {s: ClassGraph.load(out / f"class_graph-{s}.json.gz") for s in ("corpus", "train")}
    images = {s: g.provenance["mined"]["statistics"]["images"] for s, g in graphs.items()}
    assert images == {"corpus": 1000, "train": 40}
    assert "is_part_of" in graphs["corpus"].relations  # WordNet's, in both
    sets = result.category_sets
    assert list(sets) == ["rare", "medium", "frequent", "look-alike", "others"]
    assert len(sets["look-alike"]) == 18 and len(sets["look-alike"]) + len(sets["others"]) == 68
    lines = result.table.splitlines()
    assert lines[0].split()[:7] == [
        "model",
        "mAP",
        "AP50",
        "rare",
        "medium",
        "frequent",
        "look-alike",
    ]
    assert any(line.startswith("ceiling (the share of look-alike test regions") for line in lines)
    assert "with head (training-image graph): mAP" in result.table


def test_it_resumes_what_it_finished(smoke, wordnet):
    out, config, first = smoke
    again = run_detection_demo(out, config, progress=False, figures=False, lexicon=wordnet)
    assert again.seconds["detector"] == 0.0 and again.seconds["head"] == 0.0
    assert again.metrics == first.metrics


def test_category_tiers_follow_the_training_boxes():
    sets = category_sets(DetectionDemoConfig.for_family("faster_rcnn", "long_tail"))
    assert sorted(sets["rare"]) == ["beak", "blanket", "chopstick", "egg", "rug", "window"]
    assert {"door", "wing", "ball", "book"} <= set(sets["frequent"])
    assert {"car_door", "fin", "spoon"} <= set(sets["medium"])
    table = format_detection_table(
        {
            "detector": {
                "bbox": {"ap": 50.0, "ap50": 70.0, "ap_of": dict.fromkeys(sets["rare"], 10.0)}
            }
        },
        sets,
    )
    assert table.splitlines()[2].split()[:4] == ["detector", "50.0", "70.0", "10.0"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"corpus_scenes": 100}, r"corpus_scenes \(100\) must be at least train_images \(800\)"),
        ({"train_images": 0}, "train_images must be positive, got 0"),
        ({"variants": ("no_semantic", "no_semantic")}, "variants must be distinct ones of"),
        ({"variants": ("wordnet",)}, "variants must be distinct ones of"),
        ({"benchmark": "hard"}, r"benchmark must be one of \('easy', 'long_tail'\)"),
    ],
)
def test_bad_settings(options, message):
    config = DetectionDemoConfig.for_family("faster_rcnn", "long_tail")
    with pytest.raises(ValueError, match=message):
        replace(config, **options)
    with pytest.raises(ValueError, match="variants go with benchmark='long_tail'"):
        DetectionDemoConfig(variants=("no_semantic",))


def test_the_long_tail_tier_is_a_detection_benchmark(tmp_path, capsys):
    assert main(["demo", "--benchmark", "long_tail", "--output-dir", str(tmp_path)]) == 2
    assert "--benchmark long_tail is a detection benchmark" in capsys.readouterr().err


def test_the_corpus_graph_comes_back_from_the_command_line(smoke, tmp_path, wordnet):
    from knowledge_graphs.cli import main as knowledge_graphs

    out, _, _ = smoke
    folder = out / "data" / "annotations"
    corpus = str(folder / "corpus.json")
    argv = ["build", "--classes-from-coco", corpus, "--cooccurrence-from-coco", corpus]
    argv += ["--overrides", str(folder / "synsets.json"), "--wordnet", require_wordnet()]
    assert knowledge_graphs([*argv, "--out", str(tmp_path / "g.json.gz")]) == 0
    graph = ClassGraph.load(tmp_path / "g.json.gz")
    built = ClassGraph.load(out / "class_graph-corpus.json.gz")
    assert graph.synsets == built.synsets and graph.synsets[graph.classes.index("window")] == (
        "window.n.02"
    )
    for relation in ("co_occurs_with", "is_part_of", "box_inside"):
        edges = sorted(graph.relations[relation].pairs())
        assert edges and edges == sorted(built.relations[relation].pairs()), relation
