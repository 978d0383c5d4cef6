import warnings

import pytest

from knowledge_graphs.ready_made import (
    READY_MADE,
    build_ready_made,
    load_ready_made,
    vocabulary,
)


@pytest.mark.parametrize("name, size", [("ade20k", 1484), ("visual_genome", 150), ("coco", 80)])
def test_shipped_graphs_load_without_wordnet(name, size):
    g = load_ready_made(name)
    names, counts = vocabulary(name)
    assert g.classes == names and len(names) == size
    assert counts is None if name == "coco" else len(counts) == size
    assert g.provenance["lexicon"] == "WordNet 3.0"
    assert g.provenance["source"] == READY_MADE[name][2]
    rel = g.to_class_relations(background=True)
    assert rel.num_classes == size + 1


def test_the_papers_ade_vocabulary():
    names, counts = vocabulary("ade20k")
    assert min(counts) >= 5 and names[:2] == ["acropolis", "advertisement"]
    assert {"left_arm", "right_arm", "tree", "trees", "street_light"} <= set(names)
    g = load_ready_made("ade20k")
    assert g.num_edges("left_right_of") == {"left_right_of": 10}  # the five left/right pairs
    assert ("tree", 1.0) in g.neighbours("trees")["plural_of"]
    assert ("car", 1.0) in g.neighbours("wheel")["is_part_of"]


@pytest.mark.parametrize("name", list(READY_MADE))
def test_building_from_scratch_reproduces_the_shipped_graph(name, wordnet):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ADE's 12 unresolved names, listed in the docs
        built = build_ready_made(name, wordnet)
    shipped = load_ready_made(name)
    assert built.to_dict()["graph"]["relations"] == shipped.to_dict()["graph"]["relations"]
    assert built.synsets == shipped.synsets


def test_coco_senses_are_the_objects_in_the_boxes():
    g = load_ready_made("coco")
    senses = dict(zip(g.classes, g.synsets, strict=True))
    assert senses["mouse"] == "mouse.n.04"  # the computer mouse, not the rodent
    assert senses["tv"] == "television_receiver.n.01"
    assert senses["cell phone"] == "cellular_telephone.n.01"
    assert senses["microwave"] == "microwave.n.02" and senses["cake"] == "cake.n.03"
    assert None not in g.synsets


def test_unknown_name():
    with pytest.raises(ValueError, match="unknown ready-made graph 'pascal'"):
        load_ready_made("pascal")
