"""The class graph of a run: WordNet's relations and what the training annotations give, for
COCO-format files, ADE20K (both releases) and Visual Genome."""

import json
import math

import pytest
from ade_fixtures import write_2016, write_2021

from iterative_reasoning.data.graphs import (
    ade20k_class_graph,
    coco_class_graph,
    dataset_class_graph,
)
from iterative_reasoning.data.synthetic_formats import write_coco

WORDNET = {"is_kind_of", "is_part_of", "plural_of", "left_right_of", "similar_to"}
STATISTICS = {"co_occurs_with", "box_above", "box_left_of", "box_inside"}


def test_coco_graph_from_wordnet_and_the_training_boxes(tmp_path, wordnet):
    root = write_coco(tmp_path, {"train": 20}, seed=0)
    annotations = root / "annotations" / "instances_train.json"
    both = coco_class_graph(annotations, "both", lexicon=wordnet)
    assert WORDNET | STATISTICS <= set(both.relations)
    assert both.provenance["mined"]["statistics"]["images"] == 20
    assert both.provenance["mined"]["statistics"]["source"] == "COCO-format instances_train.json"
    # a car door's box lies inside a car's in the benchmark's scenes
    assert ("car", 1.0) in both.neighbours("car_door")["box_inside"]
    assert ("car", 1.0) in both.neighbours("car_door")["is_part_of"]
    wordnet_only = coco_class_graph(annotations, "wordnet", lexicon=wordnet)
    assert not STATISTICS & set(wordnet_only.relations) and "mined" not in wordnet_only.provenance
    mined = coco_class_graph(annotations, "mined")
    assert not WORDNET & set(mined.relations) and mined.synsets == [None] * len(mined.classes)
    assert mined.relations["co_occurs_with"].pairs() == both.relations["co_occurs_with"].pairs()
    with pytest.raises(ValueError, match="relations must be one of"):
        dataset_class_graph(["a"], None, "x", "all")  # type: ignore[arg-type]


@pytest.mark.filterwarnings("ignore:12 class")  # ADE's names WordNet lacks
@pytest.mark.parametrize("release", ["2016", "2021"])
def test_ade20k_graph_has_the_annotated_part_of(tmp_path, wordnet, release):
    (write_2016 if release == "2016" else write_2021)(tmp_path)
    graph = ade20k_class_graph(tmp_path, "both", lexicon=wordnet, cache_dir=tmp_path / "cache")
    assert len(graph.classes) == 1484  # the paper's vocabulary
    car, wheel = graph.index("car"), graph.index("wheel")
    assert (wheel, car, 1.0) in graph.relations["annotated_part_of"].pairs()
    assert (wheel, car, 1.0) in graph.relations["is_part_of"].pairs()
    mined = graph.provenance["mined"]
    assert mined["statistics"]["images"] == 1 and mined["annotated_part_of"]["edges"] == 1
    # one image: below the default thresholds (2 images together, 10 box pairs), no edge
    assert graph.num_edges("co_occurs_with") == {"co_occurs_with": 0}
    shipped_like = ade20k_class_graph(tmp_path, "wordnet", lexicon=wordnet, cache_dir=tmp_path)
    from knowledge_graphs.ready_made import load_ready_made

    shipped = load_ready_made("ade20k")
    assert {r: e.pairs() for r, e in shipped_like.relations.items()} == {
        r: e.pairs() for r, e in shipped.relations.items()
    }


def test_visual_genome_graph_with_predicates_and_attributes(tmp_path, wordnet):
    from iterative_reasoning.data.visual_genome import vg_class_graph

    objects = []
    attributes = []
    relationships = []
    for image_id in range(1, 21):
        man = {"x": 0, "y": 0, "w": 4, "h": 9, "synsets": ["man.n.01"], "names": ["man"]}
        shirt = {"x": 1, "y": 2, "w": 2, "h": 3, "synsets": ["shirt.n.01"], "names": ["shirt"]}
        tree = {"x": 10, "y": 0, "w": 5, "h": 9, "synsets": ["tree.n.01"], "names": ["tree"]}
        objects.append({"image_id": image_id, "objects": [man, shirt, tree]})
        attributes.append(
            {
                "image_id": image_id,
                "attributes": [
                    {**shirt, "attributes": ["red", "striped"]},
                    {**man, "attributes": ["tall"]},
                    {**tree, "attributes": ["tall", "green"]},
                ],
            }
        )
        relationships.append(
            {
                "image_id": image_id,
                "relationships": [{"predicate": "wearing", "subject": man, "object": shirt}],
            }
        )
    images = [
        {"image_id": i, "width": 20, "height": 10, "url": f"https://x/VG_100K/{i}.jpg"}
        for i in range(1, 21)
    ]
    for name, data in [
        ("objects", objects),
        ("attributes", attributes),
        ("relationships", relationships),
        ("image_data", images),
    ]:
        (tmp_path / f"{name}.json").write_text(json.dumps(data))
    graph = vg_class_graph(tmp_path, min_count=5, lexicon=wordnet, cache_dir=tmp_path / "c")
    assert graph.classes == ["man.n.01", "shirt.n.01", "tree.n.01"]
    # 14 of the 20 images are the training split (the first 70 %)
    assert graph.provenance["mined"]["statistics"]["images"] == 14
    assert ("man.n.01", 1.0) in graph.neighbours("shirt.n.01")["box_inside"]
    assert ("tree.n.01", 1.0) in graph.neighbours("man.n.01")["box_left_of"]
    # the predicate counted on the 14 training images alone
    assert graph.neighbours("man.n.01")["wearing"] == [("shirt.n.01", 14.0)]
    # a man is "tall", a tree "tall" and "green": 1 - JSD = 1 - (3/2 - (3/4) log2 3); the
    # shirt shares nothing with them
    similar = 1 - (1.5 - 0.75 * math.log2(3))
    assert graph.neighbours("man.n.01")["attribute_similar_to"] == [
        ("tree.n.01", pytest.approx(similar))
    ]
    assert "attribute_similar_to" not in graph.neighbours("shirt.n.01")
