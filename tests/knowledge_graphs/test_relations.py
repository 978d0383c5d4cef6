from knowledge_graphs.relations import INVERSE_RELATIONS, RELATIONS, inverse_of


def test_inverses_are_involutions_and_cover_the_relations():
    for relation, inverse in INVERSE_RELATIONS.items():
        assert INVERSE_RELATIONS[inverse] == relation
    assert set(RELATIONS) <= set(INVERSE_RELATIONS)
    assert inverse_of("is_kind_of") == "has_kind"
    assert inverse_of("similar_to") == "similar_to"
    assert inverse_of("wears") is None  # a dataset predicate has no declared inverse
