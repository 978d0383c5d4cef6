import gzip
import json

import networkx as nx
import pytest
import torch

from iterative_reasoning.graph import ClassRelations
from knowledge_graphs.class_graph import FORMAT_VERSION, ClassGraph, GraphFileError


def _graph():
    g = ClassGraph(
        ["car", "wheel", "cars", "door"],
        ["car.n.01", "wheel.n.01", "car.n.01", None],
        {"source": "test", "parameters": {"k": 5}},
    )
    g.add_relation("is_part_of", [(1, 0, 1.0), (3, 0, 2.0), (3, 0, 0.5), (1, 1, 1.0)])
    g.add_relation("plural_of", [(2, 0, 1.0)])
    g.add_relation("wears", [(0, 3, 3.0)])  # a dataset predicate: no declared inverse
    return g


def test_relations_inverses_and_queries():
    g = _graph()
    assert g.num_edges() == {
        "is_part_of": 2,
        "has_part": 2,
        "plural_of": 1,
        "singular_of": 1,
        "wears": 1,
    }
    assert g.relations["is_part_of"].pairs() == [(1, 0, 1.0), (3, 0, 2.0)]  # max kept, no loop
    assert g.neighbours("car") == {
        "has_part": [("door", 2.0), ("wheel", 1.0)],
        "singular_of": [("cars", 1.0)],
        "wears": [("door", 3.0)],
    }
    assert g.neighbours("car", "wears") == {"wears": [("door", 3.0)]}
    assert "4 classes, 3 with a synset, 7 edges in 5 relations" in g.summary()
    with pytest.raises(KeyError, match="unknown class 'boat'"):
        g.index("boat")


@pytest.mark.parametrize("suffix", [".json", ".json.gz"])
def test_save_load_round_trip(tmp_path, suffix):
    g = _graph()
    path = tmp_path / f"graph{suffix}"
    g.save(path)
    loaded = ClassGraph.load(path)
    assert loaded.to_dict() == g.to_dict()
    assert loaded.provenance == {"source": "test", "parameters": {"k": 5}}


@pytest.mark.parametrize("suffix", [".json", ".json.gz"])
def test_saving_follows_no_link_planted_at_the_file_or_its_partial_name(tmp_path, suffix):
    import os

    outside = tmp_path / "outside.txt"
    outside.write_text("keep me")
    path = tmp_path / f"graph{suffix}"
    for name in (path.name, path.name + ".partial", f".{path.name}.partial"):
        os.symlink(outside, tmp_path / name)
    _graph().save(path)
    assert outside.read_text() == "keep me"
    assert not path.is_symlink() and ClassGraph.load(path).to_dict() == _graph().to_dict()


def test_other_versions_and_corruption_are_refused(tmp_path):
    g = _graph()
    data = g.to_dict()
    path = tmp_path / "g.json"
    path.write_text(json.dumps({**data, "version": FORMAT_VERSION + 1}))
    with pytest.raises(GraphFileError, match="format version 2"):
        ClassGraph.load(path)
    tampered = json.loads(json.dumps(data))
    tampered["graph"]["relations"]["is_part_of"]["target"][0] = 2
    path.write_text(json.dumps(tampered))
    with pytest.raises(GraphFileError, match="corrupted"):
        ClassGraph.load(path)
    path.write_text('{"format": "something else"}')
    with pytest.raises(GraphFileError, match="not a class-graph file"):
        ClassGraph.load(path)
    path.write_text(json.dumps(data)[:-40])
    with pytest.raises(GraphFileError, match="not a readable class-graph file"):
        ClassGraph.load(path)
    gz = tmp_path / "g.json.gz"
    gz.write_bytes(gzip.compress(json.dumps(data).encode())[:-10])
    with pytest.raises(GraphFileError, match="not a readable"):
        ClassGraph.load(gz)


def test_networkx_round_trip():
    g = _graph()
    nxg = g.to_networkx()
    assert isinstance(nxg, nx.MultiDiGraph)
    assert nxg["wheel"]["car"]["is_part_of"]["weight"] == 1.0
    assert nxg.nodes["car"]["synset"] == "car.n.01"
    back = ClassGraph.from_networkx(nxg)
    assert back.to_dict()["graph"]["relations"] == g.to_dict()["graph"]["relations"]


def test_class_relations_feed_the_global_module():
    from iterative_reasoning.graph import build_reasoning_graph
    from iterative_reasoning.nn import GlobalModule

    g = _graph()
    rel = ClassRelations.from_class_graph(g)
    assert rel.num_classes == 5 and set(rel.names) == set(g.relations)
    index, weight = rel.edges["is_part_of"]
    assert index.tolist() == [[2, 4], [1, 1]] and weight.tolist() == [1.0, 2.0]
    module = GlobalModule(8 + 5, 5, rel, hidden_channels=8)
    boxes = torch.tensor([[0.0, 0, 20, 20], [30, 0, 60, 30]])
    graph = build_reasoning_graph(
        boxes, torch.tensor([0, 0]), torch.tensor([[64.0, 64]]), torch.full((2, 5), 0.2), rel
    )
    assert module(torch.randn(2, 13), graph).logits.shape == (2, 5)
    assert (
        ClassRelations.from_class_graph(g, background=False, relations=["wears"]).num_classes == 4
    )


def test_class_relations_onto_a_classifier_s_own_outputs():
    """Graph classes map onto named outputs (torchvision's COCO detectors have 91 outputs,
    category ids, with unused slots); outputs outside the graph have no edge."""
    g = _graph()
    outputs = ["__background__", "N/A", *reversed(g.classes), "N/A"]
    rel = ClassRelations.from_class_graph(g, outputs=outputs)
    assert rel.num_classes == len(outputs)
    plain = ClassRelations.from_class_graph(g)
    where = {i + 1: outputs.index(name) for i, name in enumerate(g.classes)}
    for name, (index, weight) in rel.edges.items():
        expected, expected_weight = plain.edges[name]
        assert index.tolist() == [[where[i] for i in row] for row in expected.tolist()]
        assert torch.equal(weight, expected_weight)
    with pytest.raises(ValueError, match="are not among the 2 outputs"):
        ClassRelations.from_class_graph(g, outputs=["__background__", g.classes[0]])


def test_coco_graph_onto_torchvisions_91_outputs():
    from torchvision.models.detection import FasterRCNN_ResNet50_FPN_Weights

    from knowledge_graphs.ready_made import load_ready_made

    categories = FasterRCNN_ResNet50_FPN_Weights.DEFAULT.meta["categories"]
    rel = ClassRelations.from_class_graph(load_ready_made("coco"), outputs=categories)
    assert rel.num_classes == 91
    used = torch.cat([index.flatten() for index, _ in rel.edges.values()]).unique().tolist()
    assert not {i for i, name in enumerate(categories) if name in ("N/A", "__background__")} & set(
        used
    )


def test_errors():
    with pytest.raises(ValueError, match="classes is empty"):
        ClassGraph([])
    with pytest.raises(ValueError, match=r"duplicated: \['a'\]"):
        ClassGraph(["a", "b", "a"])
    with pytest.raises(ValueError, match="synsets has 1 entries for 2 classes"):
        ClassGraph(["a", "b"], ["a.n.01"])
    g = ClassGraph(["a", "b"])
    with pytest.raises(ValueError, match=r"edge \(0, 2\) is outside 0..1"):
        g.add_relation("is_kind_of", [(0, 2, 1.0)])
    with pytest.raises(ValueError, match="weight 0.0"):
        g.add_relation("is_kind_of", [(0, 1, 0.0)])
    with pytest.raises(KeyError, match="no relation"):
        ClassRelations.from_class_graph(g, relations=["is_kind_of"])


def test_the_same_graph_gives_the_same_bytes(tmp_path):
    import time

    g = ClassGraph(["car", "wheel"])
    g.add_relation("is_part_of", [(1, 0, 1.0)])
    g.save(tmp_path / "a.json.gz")
    time.sleep(1.1)  # a gzip header would carry the time of writing
    g.save(tmp_path / "b.json.gz")
    assert (tmp_path / "a.json.gz").read_bytes() == (tmp_path / "b.json.gz").read_bytes()


def test_classes_given_as_one_string_are_refused_not_split_into_letters():
    from knowledge_graphs import ClassGraph
    from knowledge_graphs.build import build_class_graph

    with pytest.raises(TypeError, match=r"got the string 'dog' \(give \['dog'\] for one class\)"):
        ClassGraph("dog")
    with pytest.raises(TypeError, match="names must be a sequence of class names"):
        build_class_graph("dog", relations=())
    with pytest.raises(TypeError, match=r"classes must hold strings, got 3 \(int\)"):
        ClassGraph(["dog", 3])
