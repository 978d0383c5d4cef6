"""is_part_of: inherited through the whole's is-a, a part's other senses within reach, kinds by
the head word, on WordNet."""

import pytest

from knowledge_graphs.builders.kind import is_kind_of
from knowledge_graphs.builders.part import is_part_of, part_senses
from knowledge_graphs.lexicon import MemoryLexicon


def test_part_of_is_inherited_through_is_a(lexicon):
    synsets = ["car.n.01", "wheel.n.01", "bicycle.n.01", "door.n.01", "car_door.n.01"]
    # wheel is listed on wheeled_vehicle; car and bicycle are wheeled vehicles.
    # car_door is listed on car itself; the general "door" is not a listed part.
    assert is_part_of(synsets, lexicon) == [(1, 0, 1.0), (1, 2, 1.0), (4, 0, 1.0)]


def test_a_kind_by_its_head_word_has_the_parts_but_is_no_part(lexicon):
    # "car wheel" resolved by its head word is a kind of wheel: not part of car through it;
    # "sports car" is a kind of car and has its parts; it is a kind of the class "car"
    synsets = ["car.n.01", "wheel.n.01", "wheel.n.01", "car.n.01", "lamp.n.01", "lamp.n.01"]
    kinds = [False, False, True, True, True, True]
    assert is_part_of(synsets, lexicon, kinds=kinds) == [(1, 0, 1.0), (1, 3, 1.0)]
    # car wheel -> wheel and sports car -> car; the two lamps are kinds of nothing in the list
    assert is_kind_of(synsets, lexicon, kinds=kinds) == [(2, 1, 1.0), (3, 0, 1.0)]
    with pytest.raises(ValueError, match="kinds has 1 entries for 6 classes"):
        is_kind_of(synsets, lexicon, kinds=[True])


def test_other_senses_of_a_part_within_reach_of_the_whole():
    lex = MemoryLexicon(
        {
            "entity.n.01": {"lemmas": ["entity"], "parts": ["base.n.02"]},
            "object.n.01": {"lemmas": ["object"], "hypernyms": ["entity.n.01"]},
            "furniture.n.01": {"lemmas": ["furniture"], "hypernyms": ["object.n.01"]},
            "seat.n.01": {
                "lemmas": ["seat"],
                "hypernyms": ["furniture.n.01"],
                "parts": ["leg.n.03"],
            },
            "chair.n.01": {"lemmas": ["chair"], "hypernyms": ["seat.n.01"]},
            "stool.n.01": {"lemmas": ["stool"], "hypernyms": ["chair.n.01"]},
            "person.n.01": {
                "lemmas": ["person"],
                "hypernyms": ["object.n.01"],
                "parts": ["leg.n.01"],
            },
            "leg.n.01": {"lemmas": ["leg"], "hypernyms": ["object.n.01"]},
            "leg.n.03": {"lemmas": ["leg"], "hypernyms": ["object.n.01"]},
            "base.n.01": {"lemmas": ["base"], "hypernyms": ["object.n.01"]},
            "base.n.02": {"lemmas": ["base"], "hypernyms": ["object.n.01"]},
        }
    )
    synsets = ["leg.n.01", "chair.n.01", "person.n.01", "stool.n.01", "base.n.01"]
    senses = [("leg.n.01", "leg.n.03"), (), (), (), ("base.n.01", "base.n.02")]
    # the body-part leg is part of person by its own sense, and of chair (one step below
    # seat, which lists leg.n.03) by its other sense; stool is two steps below: out of reach
    # with reach=1; base.n.02 is listed on the root, two steps above leg and person
    assert is_part_of(synsets, lex, senses) == [(0, 1, 1.0), (0, 2, 1.0)]
    two = [(0, 1, 1.0), (0, 2, 1.0), (0, 3, 1.0), (4, 0, 1.0), (4, 2, 1.0)]
    assert is_part_of(synsets, lex, senses, reach=2) == two
    assert is_part_of(synsets, lex) == [(0, 2, 1.0)]  # without the other senses
    found = part_senses(synsets, lex, senses)
    assert found == {(0, 1): ("leg.n.03", "chair.n.01"), (0, 2): ("leg.n.01", "person.n.01")}
    with pytest.raises(ValueError, match="reach must be >= 0"):
        is_part_of(synsets, lex, senses, reach=-1)


def test_on_wordnet(wordnet):
    names = ["car", "wheel", "vehicle", "tree", "trunk", "person", "arm", "hand", "truck"]
    synsets = [wordnet.synsets(n)[0] for n in names]
    synsets[4] = "trunk.n.01"  # the tree trunk
    kinds = {(names[a], names[b]) for a, b, _ in is_kind_of(synsets, wordnet)}
    assert {("car", "vehicle"), ("truck", "vehicle")} <= kinds
    parts = {(names[a], names[b]) for a, b, _ in is_part_of(synsets, wordnet)}
    assert {("wheel", "car"), ("wheel", "truck"), ("trunk", "tree"), ("hand", "arm")} <= parts
    assert ("car", "wheel") not in parts
