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


#: The (part, whole) pairs annotated on the three real ADE20K 2021 samples
#: (ITER_REASONING_REAL_SAMPLES/ade20k/CSAILVision_ADE20K, checked by the test below).
ANNOTATED_ADE_PAIRS = {
    ("balcony", "building"), ("bumper", "car"), ("door", "building"), ("door", "car"),
    ("double_door", "building"), ("handle", "door"), ("headlight", "car"),
    ("housing", "traffic_light"), ("license_plate", "car"), ("license_plate", "van"),
    ("metal_shutters", "building"), ("mirror", "door"), ("rim", "wheel"),
    ("shop_window", "building"), ("taillight", "car"), ("wheel", "car"), ("window", "building"),
    ("window", "car"), ("window", "door"), ("window", "van"), ("windshield", "car"),
    ("windshield", "van"),
}  # fmt: skip


def test_the_shipped_ade_graph_holds_the_part_of_wordnet_gives():
    g = load_ready_made("ade20k")
    parts = {(g.classes[s], g.classes[t]) for s, t, _ in g.relations["is_part_of"].pairs()}
    # WordNet 3.0 holds these 7 under some sense (the part's other senses within one step of
    # the whole: rim.n.03 of wheel.n.01, bumper.n.02 of car.n.01, window.n.02 of car.n.01);
    # no sense of the other 15 is a part of a sense of their whole or its hypernyms
    assert parts & ANNOTATED_ADE_PAIRS == {
        ("bumper", "car"), ("rim", "wheel"), ("wheel", "car"), ("window", "building"),
        ("window", "car"), ("windshield", "car"), ("windshield", "van"),
    }  # fmt: skip
    # a name's other senses connect it to its vocabulary: a chair has legs and a back
    assert {("leg", "chair"), ("back", "chair"), ("leg", "table")} <= parts
    # a compound is its own synset, not its head word's: a potter's wheel is no part of a car
    assert ("potters_wheel", "car") not in parts
    assert g.synsets[g.index("potters_wheel")] == "potter's_wheel.n.01"
    assert "leg.n.03" in g.provenance["part_of_senses"]["leg"]
    # a class resolved by its head word is a kind of the class of that word
    kinds = {(g.classes[s], g.classes[t]) for s, t, _ in g.relations["is_kind_of"].pairs()}
    assert ("desk_lamp", "lamp") in kinds


def test_the_annotated_pairs_are_those_of_the_real_samples():
    import os
    from pathlib import Path

    from knowledge_graphs.builders.ade_parts import ade_part_counts

    root = os.environ.get("ITER_REASONING_REAL_SAMPLES")
    if not root:
        pytest.skip("ITER_REASONING_REAL_SAMPLES is not set")
    samples = sorted((Path(root) / "ade20k" / "CSAILVision_ADE20K").rglob("ADE_train_*.json"))
    assert set(ade_part_counts(samples)) == ANNOTATED_ADE_PAIRS
