import importlib.util
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def load(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_global_module_random_learns_from_context(capsys):
    result = load("global_module_random").main(["--images", "8", "--steps", "120"])
    assert result["difference"] < 1e-5  # fast and PyG reference paths agree
    # the label is the left neighbour's kind: chance is ~14%; context must lift it well above
    assert result["instance_ac"] > 50.0
    assert "held-out" in capsys.readouterr().out


def test_reasoning_head_random_beats_the_plain_classifier(capsys):
    result = load("reasoning_head_random").main(["--images", "8", "--steps", "80"])
    # the label is the left neighbour's kind: the region alone is at chance (~20%)
    assert result["plain_instance_ac"] < 40.0
    assert result["class_ap"] > result["plain_class_ap"] + 30.0
    assert "mean attention" in capsys.readouterr().out


def test_torchvision_faster_rcnn_trains_and_detects_with_the_head(capsys):
    result = load("torchvision_faster_rcnn").main(["--steps", "1", "--min-size", "128"])
    assert result["detections"] > 0
    assert result["loss_reasoning"] > 0
    assert "scored by the head after reasoning" in capsys.readouterr().out


def test_deploy_torchvision_shares_the_head_and_scripts_the_detector(tmp_path, capsys):
    result = load("deploy_torchvision").main(["--output-dir", str(tmp_path)])
    assert result["same"] and result["detections"] > 0
    assert (tmp_path / "head" / "model.safetensors").is_file()
    assert (tmp_path / "detector.pt").is_file()
    assert "the eager detector's bit for bit: True" in capsys.readouterr().out


def test_transformers_rt_detr_trains_and_detects_with_the_head(capsys):
    pytest.importorskip("transformers")
    argv = ["--steps", "1", "--size", "128", "--queries", "20"]
    result = load("transformers_rt_detr").main(argv)
    assert result["detections"] > 0
    assert result["loss_reasoning"] > 0
    assert "scored by the head after reasoning" in capsys.readouterr().out


@pytest.mark.parametrize("frozen", [False, True])
def test_ultralytics_yolo_trains_and_detects_with_the_head(frozen, capsys, tmp_path, monkeypatch):
    _import_ultralytics_or_skip()
    monkeypatch.setenv("YOLO_CONFIG_DIR", str(tmp_path))
    argv = ["--steps", "1", "--imgsz", "128"] + (["--frozen"] if frozen else [])
    result = load("ultralytics_yolo").main(argv)
    assert result["detections"] > 0
    assert result["loss_reasoning"] > 0
    out = capsys.readouterr().out
    assert "re-scored by the head" in out
    assert ("loss_detector" in out) != frozen


def _import_ultralytics_or_skip():
    """Through the adapter: importing ultralytics directly changes process-wide settings."""
    from iterative_reasoning.detectors.ultralytics import import_ultralytics

    try:
        import_ultralytics()
    except ImportError:
        pytest.skip("ultralytics is not installed")


def test_train_ade20k_runs_on_data_in_the_ade_2016_format(tmp_path, wordnet, capsys):
    from iterative_reasoning.data.synthetic_formats import write_ade2016

    root = write_ade2016(tmp_path / "ade", {"train": 2, "mtest": 2}, seed=0)
    argv = ["--root", str(root), "--model", "final", "--output-dir", str(tmp_path / "run")]
    argv += ["--steps", "2", "--weights", "none", "--min-size", "64"]
    metrics = load("train_ade20k").main(argv)
    assert set(metrics) == {"instance_ap", "instance_ac", "class_ap", "class_ac"}
    assert (tmp_path / "run" / "metrics.json").exists()
    assert (tmp_path / "run" / "checkpoint.pt").exists()
    from knowledge_graphs import ClassGraph

    # the run's graph: WordNet's and what the two training images give
    graph = ClassGraph.load(tmp_path / "run" / "class_graph.json.gz")
    assert {"is_part_of", "annotated_part_of", "co_occurs_with"} <= set(graph.relations)
    assert graph.provenance["mined"]["statistics"]["images"] == 2


def test_train_visual_genome_builds_its_graph_and_runs(tmp_path, wordnet, capsys):
    import json

    import numpy as np
    from PIL import Image

    root = tmp_path / "vg"
    (root / "VG_100K").mkdir(parents=True)
    images, objects = [], []
    for i in range(1, 4):
        images.append({"image_id": i, "width": 64, "height": 48, "url": f"x/VG_100K/{i}.jpg"})
        Image.fromarray(np.full((48, 64, 3), 40 * i, np.uint8)).save(root / "VG_100K" / f"{i}.jpg")
        objects.append(
            {
                "image_id": i,
                "objects": [
                    {
                        "object_id": 10 * i,
                        "x": 2,
                        "y": 2,
                        "w": 20,
                        "h": 30,
                        "names": ["man"],
                        "synsets": ["man.n.01"],
                    },
                    {
                        "object_id": 10 * i + 1,
                        "x": 30,
                        "y": 4,
                        "w": 30,
                        "h": 40,
                        "names": ["tree"],
                        "synsets": ["tree.n.01"],
                    },
                ],
            }
        )
    (root / "image_data.json").write_text(json.dumps(images))
    (root / "objects.json").write_text(json.dumps(objects))
    man = {"object_id": 10, "name": "man", "synsets": ["man.n.01"]}
    tree = {"object_id": 11, "name": "tree", "synsets": ["tree.n.01"]}
    relationship = {"relationship_id": 1, "predicate": "next to", "subject": man, "object": tree}
    (root / "relationships.json").write_text(
        json.dumps([{"image_id": 1, "relationships": [relationship]}])
    )
    split = tmp_path / "split.json"
    split.write_text(json.dumps({"train": [1, 2], "val": [], "test": [3]}))
    argv = ["--root", str(root), "--model", "global", "--output-dir", str(tmp_path / "run")]
    argv += ["--steps", "2", "--weights", "none", "--min-size", "64", "--min-count", "1"]
    argv += ["--split-file", str(split)]
    metrics = load("train_visual_genome").main(argv)
    assert metrics["instance_ac"] >= 0.0
    from knowledge_graphs import ClassGraph

    graph = ClassGraph.load(tmp_path / "run" / "class_graph.json.gz")
    assert list(graph.classes) == ["man.n.01", "tree.n.01"]
    assert graph.neighbours("man.n.01", "next_to") == {"next_to": [("tree.n.01", 1.0)]}


def test_train_coco_runs_on_a_coco_format_dataset_of_one_s_own(tmp_path, wordnet, capsys):
    from iterative_reasoning.data.synthetic_formats import write_coco

    root = write_coco(tmp_path / "coco", {"train": 2, "test": 1}, seed=0)
    argv = ["--images", str(root / "images"), "--model", "local", "--write-masks"]
    argv += ["--train", str(root / "annotations" / "instances_train.json")]
    argv += ["--test", str(root / "annotations" / "instances_test.json")]
    argv += ["--output-dir", str(tmp_path / "run"), "--steps", "1", "--weights", "none"]
    argv += ["--min-size", "64"]
    metrics = load("train_coco").main(argv)
    assert set(metrics) == {"instance_ap", "instance_ac", "class_ap", "class_ac"}
    from knowledge_graphs import ClassGraph

    graph = ClassGraph.load(tmp_path / "run" / "class_graph.json.gz")
    assert {"is_kind_of", "co_occurs_with"} <= set(graph.relations)


def test_compare_on_hard_benchmark_scores_one_s_own_head_beside_the_paper_s(
    tmp_path, wordnet, capsys
):
    argv = ["--seeds", "1", "--scale", "0.02", "--models", "final", "--quiet"]
    mine = load("compare_on_hard_benchmark").main([*argv, "--output-dir", str(tmp_path)])
    assert set(mine) >= {"class_ap", "instance_ac", "panel", "oval", "band"}
    out = capsys.readouterr().out
    assert "final_overlaps" in out and "ceiling" in out
    assert (tmp_path / "seed-0" / "final_overlaps" / "metrics.json").exists()
