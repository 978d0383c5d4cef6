import json
import warnings

import pytest

from iterative_reasoning.graph import ClassRelations
from knowledge_graphs.ready_made import (
    READY_MADE,
    build_ready_made,
    load_ready_made,
    vocabulary,
)

SIZES = [
    ("ade20k", 1484),
    ("visual_genome", 150),
    ("coco", 80),
    ("imagenet1k", 1000),
    ("imagenet12k", 11821),
    ("imagenet21k", 21843),
]


@pytest.mark.parametrize("name, size", SIZES)
def test_shipped_graphs_load_without_wordnet(name, size):
    g = load_ready_made(name)
    names, counts = vocabulary(name)
    assert g.classes == names and len(names) == size
    shipped_without_counts = name == "coco" or name.startswith("imagenet")
    assert counts is None if shipped_without_counts else len(counts) == size
    assert g.provenance["lexicon"] == "WordNet 3.0"
    assert g.provenance["source"] == READY_MADE[name][2]
    rel = ClassRelations.from_class_graph(g)
    assert rel.num_classes == size + 1


def test_the_papers_ade_vocabulary():
    names, counts = vocabulary("ade20k")
    assert min(counts) >= 5 and names[:2] == ["acropolis", "advertisement"]
    assert {"left_arm", "right_arm", "tree", "trees", "street_light"} <= set(names)
    g = load_ready_made("ade20k")
    assert g.num_edges("left_right_of") == {"left_right_of": 10}  # the five left/right pairs
    assert ("tree", 1.0) in g.neighbours("trees")["plural_of"]
    assert ("car", 1.0) in g.neighbours("wheel")["is_part_of"]


@pytest.mark.parametrize(
    "name",
    [
        *(n for n in READY_MADE if n not in ("imagenet12k", "imagenet21k")),
        pytest.param("imagenet12k", marks=pytest.mark.slow),
        pytest.param("imagenet21k", marks=pytest.mark.slow),  # 30 s and 330 MB on 2 cores
    ],
)
def test_building_from_scratch_reproduces_the_shipped_graph(name, wordnet):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ADE's 12 unresolved names, listed in the docs
        built = build_ready_made(name, wordnet)
    shipped = load_ready_made(name)
    assert built.to_dict()["graph"]["relations"] == shipped.to_dict()["graph"]["relations"]
    assert built.synsets == shipped.synsets
    # the whole file but for the version of the package that wrote it
    mine, theirs = dict(built.provenance), dict(shipped.provenance)
    assert mine.pop("builder").startswith("iterative-reasoning")
    theirs.pop("builder")
    assert json.loads(json.dumps(mine)) == theirs


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


def test_imagenet_vocabularies_are_timms_lists():
    import hashlib

    from knowledge_graphs.ready_made import _data

    # the sha256 of timm's imagenet_synsets.txt, imagenet12k_synsets.txt and
    # imagenet21k_goog_synsets.txt (timm 1.0.31, timm/data/_info), as shipped (gzipped)
    digests = {
        "imagenet1k": "70002b0ff5de60a3a17a82dbfcff291931f96225ddf941ad2e182fc39e183d15",
        "imagenet12k": "f6483e79f18a9b670d43d915ddba40bbcaf82cfc4e92a07bd44057b9d44935f3",
        "imagenet21k": "66362bdedf36d933382edca5493fc562dcc17128ce36403c9e730a75f48cb2f2",
    }
    import gzip

    for name, digest in digests.items():
        text = gzip.decompress(_data(READY_MADE[name][0]).read_bytes())
        assert hashlib.sha256(text).hexdigest() == digest
    names = vocabulary("imagenet1k")[0]
    assert names[:2] == ["n01440764", "n01443537"] and len(set(names)) == 1000


def test_imagenet_graph_resolves_by_offset():
    g = load_ready_made("imagenet21k")
    assert g.provenance["resolution"]["synset"] == 21843  # every id, exactly
    dog = g.index("n02084071")
    assert g.synsets[dog] == "dog.n.01"
    kinds = g.neighbours("n02085620")["is_kind_of"]  # Chihuahua
    assert [g.synsets[g.index(k)] for k, _ in kinds] == ["toy_dog.n.01"]
    assert g.num_edges("similar_to") == {"similar_to": 109215}
    # ImageNet-1k's classes are leaves: none is a kind of another
    assert load_ready_made("imagenet1k").num_edges("is_kind_of") == {"is_kind_of": 0}
