import json
from pathlib import Path

import pytest

from knowledge_graphs.builders.statistics import mined_support
from knowledge_graphs.class_graph import ClassGraph
from knowledge_graphs.cli import main


def test_build_and_show_with_wordnet(tmp_path, capsys, wordnet, monkeypatch):
    monkeypatch.setattr("knowledge_graphs.cli.load_wordnet", lambda path=None: wordnet)
    classes = tmp_path / "classes.txt"
    classes.write_text("# my label set\ncar\t10\nwheel\t4\ncars\t2\nleft arm\t1\nright arm\t1\n")
    out = tmp_path / "graph.json.gz"
    assert main(["build", "--classes", str(classes), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "5 class names resolved against WordNet 3.0" in printed and "wrote" in printed
    g = ClassGraph.load(out)
    assert g.classes == ["car", "wheel", "cars", "left arm", "right arm"]
    assert g.provenance["parameters"]["similarity"] == "lin"  # counts were given
    assert main(["show", str(out), "--class", "wheel", "--plot", str(tmp_path / "w.png")]) == 0
    printed = capsys.readouterr().out
    assert "is_part_of" in printed and "car (1)" in printed
    assert (tmp_path / "w.png").read_bytes()[:4] == b"\x89PNG"


def test_build_with_chosen_relations_and_overrides(tmp_path, capsys, wordnet, monkeypatch):
    monkeypatch.setattr("knowledge_graphs.cli.load_wordnet", lambda path=None: wordnet)
    overrides = tmp_path / "overrides.json"
    overrides.write_text(json.dumps({"bank": "bank.n.09"}))
    classes = tmp_path / "c.txt"
    classes.write_text("bank\nbuilding\n")
    out = tmp_path / "g.json"
    code = main(
        [
            "build",
            "--classes",
            str(classes),
            "--out",
            str(out),
            "--relations",
            "is_kind_of",
            "--overrides",
            str(overrides),
        ]
    )
    assert code == 0
    g = ClassGraph.load(out)
    assert g.synsets[0] == "bank.n.09" and list(g.relations) == ["is_kind_of", "has_kind"]


def test_show_a_shipped_graph(capsys):
    assert main(["show", "visual_genome"]) == 0
    assert "150 classes" in capsys.readouterr().out
    assert main(["show", "ade20k", "--class", "left_arm", "--relation", "left_right_of"]) == 0
    assert "right_arm" in capsys.readouterr().out


def test_errors_exit_2_with_a_message(tmp_path, capsys):
    assert main(["show", str(tmp_path / "missing.json")]) == 2
    assert "not a readable class-graph file" in capsys.readouterr().err
    assert main(["show", "ade20k", "--class", "unicorn"]) == 2
    assert "unknown class 'unicorn'" in capsys.readouterr().err
    bad = tmp_path / "bad.txt"
    bad.write_text("car\t3\nwheel\tmany\n")
    assert main(["build", "--classes", str(bad), "--out", str(tmp_path / "x.json")]) == 2
    assert "line 2: the count 'many' is not an integer" in capsys.readouterr().err
    names = tmp_path / "names.txt"
    names.write_text("car\n")
    assert main(["build", "--classes", str(names), "--out", str(tmp_path)]) == 2
    assert "is a directory; give a file" in capsys.readouterr().err
    nested = tmp_path / "nested.json"
    nested.write_text("[" * 100_000 + "]" * 100_000)
    assert main(["show", str(nested)]) == 2
    err = capsys.readouterr().err
    assert "nested too deeply" in err and "Traceback" not in err


def test_build_from_a_coco_annotation_file(tmp_path, capsys, wordnet, monkeypatch):
    monkeypatch.setattr("knowledge_graphs.cli.load_wordnet", lambda path=None: wordnet)
    categories = [{"id": 5, "name": "wheel"}, {"id": 2, "name": "car"}, {"id": 9, "name": "mouse"}]
    (tmp_path / "instances.json").write_text(
        json.dumps({"images": [], "annotations": [], "categories": categories})
    )
    out = tmp_path / "g.json.gz"
    assert (
        main(["build", "--classes-from-coco", str(tmp_path / "instances.json"), "--out", str(out)])
        == 0
    )
    graph = ClassGraph.load(out)
    assert graph.classes == ["car", "wheel", "mouse"]  # category-id order
    assert ("car", 1.0) in graph.neighbours("wheel")["is_part_of"]
    assert graph.synsets[2] == "mouse.n.04"  # the shipped sense table: a computer mouse
    (tmp_path / "bad.json").write_text(json.dumps({"images": []}))
    assert (
        main(["build", "--classes-from-coco", str(tmp_path / "bad.json"), "--out", str(out)]) == 2
    )
    assert "not a COCO annotation file" in capsys.readouterr().err


def test_build_with_statistics_from_annotations(tmp_path, capsys, wordnet, monkeypatch):
    from ade_fixtures import write_2016

    from iterative_reasoning.data.synthetic_formats import write_coco

    monkeypatch.setattr("knowledge_graphs.cli.load_wordnet", lambda path=None: wordnet)
    coco = write_coco(tmp_path / "coco", {"train": 12}, seed=0) / "annotations"
    train = str(coco / "instances_train.json")
    out = tmp_path / "g.json.gz"
    argv = ["build", "--classes-from-coco", train, "--cooccurrence-from-coco", train]
    assert main([*argv, "--out", str(out), "--place-min-pairs", "3"]) == 0
    g = ClassGraph.load(out)
    assert {"is_kind_of", "co_occurs_with", "box_inside", "box_contains"} <= set(g.relations)
    statistics = g.provenance["mined"]["statistics"]
    assert statistics["images"] == 12 and statistics["source"] == train
    assert statistics["parameters"]["box_places"] == {
        "min_frequency": 0.5,
        "min_pairs": 3,
        "min_images": 5,
    }
    # the statistics alone (no WordNet relation, no WordNet needed)
    assert main([*argv, "--relations", "--out", str(out)]) == 0
    assert not {"is_kind_of", "similar_to"} & set(ClassGraph.load(out).relations)
    # from an ADE20K root: its regions' boxes
    ade = tmp_path / "ade"
    write_2016(ade)
    classes = tmp_path / "classes.txt"
    classes.write_text("sky\ncar\nwheel\nbuilding\n")
    argv = ["build", "--classes", str(classes), "--statistics-from-ade", str(ade)]
    assert main([*argv, "--out", str(out)]) == 0
    assert ClassGraph.load(out).provenance["mined"]["statistics"]["images"] == 1
    # bad input names the file
    assert main(["build", "--classes", str(classes), "--cooccurrence-from-coco", "no.json"]
                + ["--out", str(out)]) == 2  # fmt: skip
    assert "no.json: no such COCO annotation file" in capsys.readouterr().err
    assert main(["build", "--classes", str(classes), "--vg-attributes", "no.json"]
                + ["--out", str(out), "--relations"]) == 2  # fmt: skip
    assert "--vg-attributes: no.json is missing" in capsys.readouterr().err


def test_an_option_with_nothing_to_apply_to_is_refused(tmp_path, capsys):
    """These were once taken without a word and had no effect."""
    classes = tmp_path / "classes.txt"
    classes.write_text("car\nwheel\n")
    base = ["build", "--classes", str(classes), "--out", str(tmp_path / "g.json")]
    for extra, message in (
        (["--relations", "--similar-k", "3"], "--similar-k applies to --relations with similar_to"),
        (["--relations", "--vg-top", "3"], "--vg-top applies to --vg-relationships only"),
        (["--relations", "--ade-split", "val"], "--ade-split applies to --cooccurrence-from-ade"),
        (["--relations", "--place-min-pairs", "3"], "applies to a --cooccurrence-from-* source"),
        (["--relations", "--attribute-top-k", "2"], "--attribute-top-k applies to --vg-attributes"),
        (["--relations", "--no-senses"], "--no-senses applies to a WordNet relation"),
    ):
        assert main([*base, *extra]) == 2
        assert message in capsys.readouterr().err
    assert not (tmp_path / "g.json").exists()


def test_statistics_of_real_coco_photos_are_what_a_person_would_accept(tmp_path, coco_mini):
    _, annotations = coco_mini
    out = tmp_path / "g.json"
    argv = ["build", "--classes-from-coco", str(annotations)]
    argv += ["--cooccurrence-from-coco", str(annotations), "--relations", "--out", str(out)]
    assert main(argv) == 0
    graph = ClassGraph.load(out)
    assert graph.provenance["mined"]["statistics"]["images"] == 80
    together = {
        (graph.classes[s], graph.classes[t])
        for s, t, _ in graph.relations["co_occurs_with"].pairs()
    }
    # among the strongest pairs of these 80 photos (weights 0.59 to 0.82)
    for pair in (
        ("mouse", "laptop"),
        ("mouse", "keyboard"),
        ("truck", "car"),
        ("sports ball", "baseball glove"),
        ("cup", "dining table"),
        ("bowl", "dining table"),
    ):
        assert pair in together and pair[::-1] in together, pair
    partners = dict(graph.neighbours("dining table")["co_occurs_with"])
    assert {"cup", "bowl", "chair", "fork"} <= set(partners)
    assert "giraffe" not in partners and "surfboard" not in partners
    # symmetric by construction: every skis photo holds a person, and person keeps skis too
    assert {("skis", "person"), ("person", "skis")} <= together
    assert all(pair[::-1] in together for pair in together)
    # the box places: each rests on at least five images (one crowded photo once made an
    # edge of weight 1 alone); what is left is what a person would accept
    support = mined_support(graph.provenance)
    places = {}
    for relation in ("box_above", "box_left_of", "box_inside"):
        for s, t, w in graph.relations[relation].pairs():
            images, _ = support[relation][(s, t)]
            assert images >= 5, (relation, graph.classes[s], graph.classes[t], images)
            places[(relation, graph.classes[s], graph.classes[t])] = w
    assert ("box_inside", "bowl", "dining table") in places
    assert ("box_above", "person", "dining table") in places
    assert ("box_above", "book", "person") not in places  # weight 1.0 on one photo before


def test_statistics_of_the_real_ade_2021_release_without_split_files(tmp_path):
    """The 2021 release ships its images in folders, not split lists: its root builds (once
    "no split file .../training.txt"), with the folders' names as splits."""
    import os

    samples = os.environ.get("ITER_REASONING_REAL_SAMPLES")
    if not samples:
        pytest.skip("ITER_REASONING_REAL_SAMPLES is not set")
    root = Path(samples) / "ade20k" / "CSAILVision_ADE20K" / "ADE20K_2021_17_01"
    classes = tmp_path / "classes.txt"
    classes.write_text("building\nsky\ntree\nroad\ncar\nperson\nwheel\nwindowpane\n")
    out = tmp_path / "g.json"
    for split in ("train", "training", "all"):
        argv = ["build", "--classes", str(classes), "--cooccurrence-from-ade", str(root)]
        argv += ["--ade-split", split, "--relations", "--out", str(out)]
        assert main([*argv, "--cooccurrence-min-images", "3"]) == 0
        graph = ClassGraph.load(out)
        assert graph.provenance["mined"]["statistics"]["images"] == 3
        together = {
            (graph.classes[s], graph.classes[t])
            for s, t, _ in graph.relations["co_occurs_with"].pairs()
        }
        # three street scenes: what all three hold
        assert {
            ("car", "road"),
            ("road", "car"),
            ("building", "tree"),
            ("tree", "road"),
        } <= together
        # three images are fewer than a box place needs
        assert all(len(graph.relations[r]) == 0 for r in ("box_above", "box_left_of"))
