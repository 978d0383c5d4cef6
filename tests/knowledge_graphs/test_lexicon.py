"""MemoryLexicon and the hierarchy helpers: ancestors, depths, classes per synset."""

import pytest

from knowledge_graphs.lexicon import Depths, Lexicon, MemoryLexicon, ancestors, group_by_synset


def test_memory_lexicon_answers_like_wordnet(lexicon):
    assert isinstance(lexicon, Lexicon)
    assert lexicon.synsets("table") == ["table.n.01", "table.n.02"]  # in order of insertion
    assert lexicon.synsets("Auto") == ["car.n.01"] and lexicon.synsets("zeppelin") == []
    assert lexicon.morphy("feet") == "foot" and lexicon.morphy("wheels") == "wheel"
    assert lexicon.morphy("cars") == "car" and lexicon.morphy("zeppelins") is None
    assert lexicon.hypernyms("car.n.01") == ["wheeled_vehicle.n.01"]
    assert lexicon.part_meronyms("wheeled_vehicle.n.01") == ["wheel.n.01"]
    assert lexicon.lemma_names("car.n.01") == ["car", "auto"]
    assert lexicon.has_synset("car.n.01") and not lexicon.has_synset("car.n.09")
    with pytest.raises(ValueError, match="entry 'a.n.01' names unknown hypernyms"):
        MemoryLexicon({"a.n.01": {"lemmas": ["a"], "hypernyms": ["b.n.01"]}})


def test_ancestors_depths_and_groups(lexicon):
    assert ancestors(lexicon, "car.n.01") == {
        "wheeled_vehicle.n.01",
        "vehicle.n.01",
        "artifact.n.01",
        "physical_entity.n.01",
        "entity.n.01",
    }
    depth = Depths(lexicon)
    assert depth("entity.n.01") == 1 and depth("car.n.01") == 6
    assert group_by_synset(["a.n.01", None, "a.n.01", "b.n.01"]) == {
        "a.n.01": [0, 2],
        "b.n.01": [3],
    }
    cyclic = MemoryLexicon(
        {"a.n.01": {"hypernyms": ["b.n.01"]}, "b.n.01": {"hypernyms": ["a.n.01"]}}
    )
    with pytest.raises(ValueError, match="cycle through"):
        Depths(cyclic)("a.n.01")
