import pytest

from knowledge_graphs.resolution import ROUTES, normalize, resolve_classes


def test_each_route(lexicon):
    names = ["car.n.01", "bike", "cars", "feet", "street lamp", "Table", "flux capacitor", "auto"]
    r = resolve_classes(names, lexicon, overrides={"auto": "bicycle.n.01"})
    got = {x.name: (x.synset, x.route) for x in r.items}
    assert got == {
        "car.n.01": ("car.n.01", "synset"),
        "bike": ("bicycle.n.01", "exact"),
        "cars": ("car.n.01", "lemma"),
        "feet": ("foot.n.01", "lemma"),  # an irregular plural through the exceptions
        "street lamp": ("lamp.n.01", "head"),
        "Table": ("table.n.02", "exact"),  # the physical sense is preferred over the data table
        "flux capacitor": (None, "unresolved"),
        "auto": ("bicycle.n.01", "override"),
    }
    assert r.counts() == {
        "override": 1,
        "synset": 1,
        "exact": 2,
        "lemma": 2,
        "compound": 0,
        "head": 1,
        "unresolved": 1,
    }
    assert list(r.counts()) == list(ROUTES)
    assert "unresolved: flux capacitor" in r.report()


def test_senses_compounds_and_kinds():
    from knowledge_graphs.lexicon import MemoryLexicon

    lex = MemoryLexicon(
        {
            "entity.n.01": {"lemmas": ["entity"]},
            "physical_entity.n.01": {"lemmas": ["physical_entity"], "hypernyms": ["entity.n.01"]},
            "abstraction.n.06": {"lemmas": ["abstraction"], "hypernyms": ["entity.n.01"]},
            "leg.n.01": {"lemmas": ["leg"], "hypernyms": ["physical_entity.n.01"]},
            "leg.n.02": {"lemmas": ["leg"], "hypernyms": ["abstraction.n.06"]},
            "leg.n.03": {"lemmas": ["leg"], "hypernyms": ["physical_entity.n.01"]},
            "wheel.n.01": {"lemmas": ["wheel"], "hypernyms": ["physical_entity.n.01"]},
            "potter's_wheel.n.01": {
                "lemmas": ["potter's_wheel"],
                "hypernyms": ["wheel.n.01"],
            },
            "paintbrush.n.01": {"lemmas": ["paintbrush"], "hypernyms": ["physical_entity.n.01"]},
            "brush.n.01": {"lemmas": ["brush"], "hypernyms": ["physical_entity.n.01"]},
        }
    )
    names = ["legs", "potters_wheel", "paint_brush", "toilet_brush", "leg"]
    r = resolve_classes(names, lex)
    got = {x.name: (x.synset, x.route, x.senses, x.is_kind) for x in r.items}
    assert got == {
        # every physical sense, the most frequent first; the abstract one is left out
        "legs": ("leg.n.01", "lemma", ("leg.n.01", "leg.n.03"), False),
        "potters_wheel": ("potter's_wheel.n.01", "compound", ("potter's_wheel.n.01",), False),
        "paint_brush": ("paintbrush.n.01", "compound", ("paintbrush.n.01",), False),
        # by its head word: a kind of brush, with that one sense
        "toilet_brush": ("brush.n.01", "head", ("brush.n.01",), True),
        "leg": ("leg.n.01", "exact", ("leg.n.01", "leg.n.03"), False),
    }
    assert r.kinds == [False, False, False, True, False]
    assert r.counts()["compound"] == 2


def test_most_frequent_sense_without_preference_and_the_sense_table(lexicon):
    r = resolve_classes(["table", "tables", "side_table"], lexicon, prefer=None)
    assert r.synsets == ["table.n.01"] * 3
    r = resolve_classes(["table", "tables", "side_table"], lexicon, senses={"table": "table.n.01"})
    assert r.synsets == ["table.n.01"] * 3 and {x.route for x in r.items} == {"override"}


def test_background_names_are_skipped(lexicon):
    r = resolve_classes(["__background__", "car"], lexicon)
    assert r.synsets == [None, "car.n.01"]


def test_errors(lexicon):
    with pytest.raises(ValueError, match="names is empty"):
        resolve_classes([], lexicon)
    with pytest.raises(ValueError, match=r"duplicated: \['car'\]"):
        resolve_classes(["car", "bike", "car"], lexicon)
    with pytest.raises(ValueError, match="does not have"):
        resolve_classes(["car"], lexicon, overrides={"car": "car.n.07"})
    with pytest.warns(UserWarning, match="overrides for names not in the list"):
        resolve_classes(["car"], lexicon, overrides={"boat": "car.n.01"})


def test_normalize():
    assert normalize("  Street  Lamp ") == "street_lamp"
    assert normalize("left_arm") == "left_arm"


def test_real_vocabularies_resolve(wordnet):
    from knowledge_graphs.ready_made import senses, vocabulary

    names, _ = vocabulary("ade20k")
    r = resolve_classes(names, wordnet, senses=senses())
    assert len(names) == 1484 and sum(r.counts().values()) == 1484
    assert len(r.unresolved) <= 15  # measured: 12 (e.g. muntin, tassle, check-in-desk)
    by_name = dict(zip(r.names, r.synsets, strict=True))
    assert by_name["table"] == "table.n.02" and by_name["plants"] == "plant.n.02"
    assert by_name["left_arm"] == "arm.n.01"
    # possessive and closed compounds before the head word
    assert by_name["potters_wheel"] == "potter's_wheel.n.01"
    assert by_name["paint_brush"] == "paintbrush.n.01"
    assert by_name["van"] == "van.n.05"  # the truck, not the British railway wagon
    kinds = dict(zip(r.names, r.kinds, strict=True))
    assert kinds["desk_lamp"] and not kinds["lamp"]
    assert "leg.n.03" in dict(zip(r.names, r.senses, strict=True))["leg"]
    names, _ = vocabulary("visual_genome")
    r = resolve_classes(names, wordnet, senses=senses())
    assert (
        r.unresolved == [] and dict(zip(r.names, r.synsets, strict=True))["pant"] == "trouser.n.01"
    )


def test_wordnet_ids():
    from knowledge_graphs.lexicon import MemoryLexicon

    lex = MemoryLexicon(
        {
            "entity.n.01": {"lemmas": ["entity"], "wnid": "n00001740"},
            "dog.n.01": {"lemmas": ["dog"], "hypernyms": ["entity.n.01"], "wnid": "n02084071"},
        }
    )
    r = resolve_classes(["n02084071", "n00001740"], lex, prefer=None)
    assert r.synsets == ["dog.n.01", "entity.n.01"] and r.counts()["synset"] == 2
    with pytest.raises(ValueError, match="'n09999999' looks like a WordNet id, but"):
        resolve_classes(["n02084071", "n09999999"], lex, prefer=None)
    with pytest.raises(ValueError, match=r"duplicated: \['n02084071'\]"):
        resolve_classes(["n02084071", "n02084071"], lex, prefer=None)


def test_wordnet_ids_on_wordnet(wordnet):
    r = resolve_classes(["n01440764", "n02084071"], wordnet)
    assert r.synsets == ["tench.n.01", "dog.n.01"]
    with pytest.raises(ValueError, match="'n00000001' looks like a WordNet id"):
        resolve_classes(["n00000001"], wordnet)
