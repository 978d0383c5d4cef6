import pytest

from iterative_reasoning.recipes.graph import GRAPH_FILE, run_class_graph
from iterative_reasoning.recipes.spec import RunSpec


def _spec(tmp_path, wordnet, **options):
    settings = {"num_images": 2, "num_test_images": 1, "lexicon": wordnet, "progress": False}
    return RunSpec("synthetic", "final", tmp_path / "run", **{**settings, **options})


def test_the_run_s_graph_is_built_once_and_kept(tmp_path, wordnet):
    spec = _spec(tmp_path, wordnet, graph_relations="wordnet")
    graph = run_class_graph(spec, "train")
    cached = tmp_path / "run" / GRAPH_FILE
    assert cached.exists()
    assert graph.provenance["run"] == {"graph_relations": "wordnet", "shipped_graph": False}
    written_at = cached.stat().st_mtime_ns
    again = run_class_graph(spec, "test")
    assert again.classes == graph.classes and cached.stat().st_mtime_ns == written_at
    assert again.num_edges() == graph.num_edges()


def test_a_run_directory_refuses_a_graph_of_other_options(tmp_path, wordnet):
    run_class_graph(_spec(tmp_path, wordnet, graph_relations="wordnet"), "train")
    with pytest.raises(ValueError, match=r"was built with --graph-relations wordnet, not "
                       r"--graph-relations both: give the same options"):  # fmt: skip
        run_class_graph(_spec(tmp_path, wordnet), "train")
    with pytest.raises(ValueError, match="not --graph-relations wordnet --benchmark hard"):
        run_class_graph(_spec(tmp_path, wordnet, graph_relations="wordnet", benchmark="hard"), "t")


def test_a_given_graph_file_and_the_classes_it_must_have(tmp_path, wordnet):
    spec = _spec(tmp_path, wordnet, graph_relations="wordnet")
    graph = run_class_graph(spec, "train")
    other = tmp_path / "mine.json.gz"
    graph.save(other)
    given = _spec(tmp_path / "elsewhere", wordnet, graph=other)
    assert (
        run_class_graph(given, "train", ["__background__", *graph.classes]).classes == graph.classes
    )
    assert not (tmp_path / "elsewhere" / "run" / GRAPH_FILE).exists()
    with pytest.raises(ValueError, match=r"the class graph's \d+ classes are not the dataset's 2"):
        run_class_graph(given, "train", ["__background__", "a", "b"])


def test_no_graph_is_shipped_for_the_synthetic_vocabulary(tmp_path, wordnet):
    with pytest.raises(ValueError, match="--shipped-graph: no graph is shipped for a synthetic"):
        run_class_graph(_spec(tmp_path, wordnet, shipped_graph=True), "train")


def test_a_coco_run_s_graph_needs_its_annotations_and_its_training_split(tmp_path, wordnet):
    spec = RunSpec("coco", "final", tmp_path / "coco", root=tmp_path, lexicon=wordnet)
    with pytest.raises(ValueError, match=r"--annotations \(the COCO annotation file"):
        run_class_graph(spec, "train")
    spec = RunSpec(
        "coco", "final", tmp_path / "coco", root=tmp_path, annotations=tmp_path / "a.json"
    )
    with pytest.raises(ValueError, match="mined from the training annotations"):
        run_class_graph(spec, "test")
