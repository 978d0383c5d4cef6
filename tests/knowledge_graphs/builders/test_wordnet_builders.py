"""is_kind_of, is_part_of, plural_of, left_right_of on the tiny lexicon and on WordNet."""

from knowledge_graphs.builders.kind import is_kind_of
from knowledge_graphs.builders.left_right import left_right_of
from knowledge_graphs.builders.part import is_part_of
from knowledge_graphs.builders.plural import plural_forms, plural_of


def test_kind_of_stops_at_the_nearest_vocabulary_ancestors(lexicon):
    synsets = ["car.n.01", "vehicle.n.01", "artifact.n.01", "car.n.01", "bicycle.n.01", None]
    edges = is_kind_of(synsets, lexicon)
    # car -> vehicle (not artifact: vehicle is nearer); vehicle -> artifact; classes 0 and 3
    # share a synset and are not kinds of each other; unresolved class 5 has no edges
    assert edges == [(0, 1, 1.0), (1, 2, 1.0), (3, 1, 1.0), (4, 1, 1.0)]


def test_part_of_is_inherited_through_is_a(lexicon):
    synsets = ["car.n.01", "wheel.n.01", "bicycle.n.01", "door.n.01", "car_door.n.01"]
    # wheel is listed on wheeled_vehicle; car and bicycle are wheeled vehicles.
    # car_door is listed on car itself; the general "door" is not a listed part.
    assert is_part_of(synsets, lexicon) == [(1, 0, 1.0), (1, 2, 1.0), (4, 0, 1.0)]


def test_plural_rules_and_irregular_forms(lexicon):
    assert plural_forms("box") == {"boxs", "boxes"}
    assert plural_forms("city") == {"citys", "cities"}
    assert plural_forms("street_lamp") == {"street_lamps"}
    names = ["foot", "feet", "city", "cities", "street lamp", "street_lamps", "leaf", "leaves"]
    assert plural_of(names) == [(3, 2, 1.0), (5, 4, 1.0), (7, 6, 1.0)]
    assert plural_of(names, lexicon) == [(1, 0, 1.0), (3, 2, 1.0), (5, 4, 1.0), (7, 6, 1.0)]


def test_left_right_pairs():
    names = ["left_arm", "right arm", "left_leg", "right_foot", "left_foot"]
    assert left_right_of(names) == [(0, 1, 1.0), (1, 0, 1.0), (3, 4, 1.0), (4, 3, 1.0)]


def test_on_wordnet(wordnet):
    names = ["car", "wheel", "vehicle", "tree", "trunk", "person", "arm", "hand", "truck"]
    synsets = [wordnet.synsets(n)[0] for n in names]
    synsets[4] = "trunk.n.01"  # the tree trunk
    kinds = {(names[a], names[b]) for a, b, _ in is_kind_of(synsets, wordnet)}
    assert {("car", "vehicle"), ("truck", "vehicle")} <= kinds
    parts = {(names[a], names[b]) for a, b, _ in is_part_of(synsets, wordnet)}
    assert {("wheel", "car"), ("wheel", "truck"), ("trunk", "tree"), ("hand", "arm")} <= parts
    assert ("car", "wheel") not in parts
