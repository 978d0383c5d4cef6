import pytest

from knowledge_graphs.build import build_class_graph


def test_builds_every_relation_with_inverses_and_provenance(lexicon):
    names = ["car", "cars", "wheel", "vehicle", "left_arm", "right_arm", "person", "flux capacitor"]
    with pytest.warns(UserWarning, match="1 class.* no synset.*flux capacitor"):
        g = build_class_graph(names, lexicon=lexicon, similar_k=2, source="a test list")
    assert g.num_edges() == {
        "is_kind_of": 2,
        "has_kind": 2,
        "is_part_of": 2,
        "has_part": 2,
        "plural_of": 1,
        "singular_of": 1,
        "left_right_of": 2,
        "similar_to": 14,
    }
    assert g.neighbours("wheel")["is_part_of"] == [("car", 1.0), ("cars", 1.0)]
    assert g.provenance["source"] == "a test list"
    assert g.provenance["lexicon"] == "tiny test lexicon"
    assert g.provenance["unresolved"] == ["flux capacitor"]
    assert g.provenance["parameters"]["similarity"] == "wup"


def test_counts_switch_similarity_to_lin_and_dataset_relations_are_added(lexicon):
    g = build_class_graph(
        ["car", "wheel", "person"],
        ["similar_to"],
        lexicon,
        counts=[10, 5, 1],
        dataset_relations={"annotated_part_of": [(1, 0, 7.0)], "wears": [(2, 0, 1.0)]},
    )
    assert g.provenance["parameters"]["similarity"] == "lin"
    assert g.num_edges("annotated_has_part") == {"annotated_has_part": 1}
    assert "wears" in g.relations


def test_string_relations_need_no_lexicon():
    g = build_class_graph(
        ["tree", "trees", "left_leg", "right_leg"], ["plural_of", "left_right_of"]
    )
    assert g.provenance["lexicon"] is None and g.num_edges()["plural_of"] == 1


def test_errors(lexicon):
    with pytest.raises(ValueError, match="unknown relation"):
        build_class_graph(["car"], ["is_friend_of"], lexicon)
    with pytest.raises(ValueError, match="counts has 1 entries for 2"):
        build_class_graph(["car", "wheel"], lexicon=lexicon, counts=[3])
    with pytest.raises(ValueError, match="duplicated"):
        build_class_graph(["car", "car"], lexicon=lexicon)


def test_counts_must_be_finite_and_non_negative():
    from knowledge_graphs.build import build_class_graph

    for bad in (float("nan"), -1.0, float("inf")):
        with pytest.raises(ValueError, match="counts must be finite and non-negative"):
            build_class_graph(["dog", "cat"], relations=(), counts=[bad, 1.0])
