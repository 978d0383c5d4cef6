"""plural_of: regular rules and irregular forms."""

from knowledge_graphs.builders.plural import plural_forms, plural_of


def test_plural_rules_and_irregular_forms(lexicon):
    assert plural_forms("box") == {"boxs", "boxes"}
    assert plural_forms("city") == {"citys", "cities"}
    assert plural_forms("street_lamp") == {"street_lamps"}
    names = ["foot", "feet", "city", "cities", "street lamp", "street_lamps", "leaf", "leaves"]
    assert plural_of(names) == [(3, 2, 1.0), (5, 4, 1.0), (7, 6, 1.0)]
    assert plural_of(names, lexicon) == [(1, 0, 1.0), (3, 2, 1.0), (5, 4, 1.0), (7, 6, 1.0)]
