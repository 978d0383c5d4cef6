"""is_kind_of: nearest in-vocabulary ancestors, kinds by the head word, on WordNet."""

from knowledge_graphs.builders.kind import is_kind_of


def test_kind_of_stops_at_the_nearest_vocabulary_ancestors(lexicon):
    synsets = ["car.n.01", "vehicle.n.01", "artifact.n.01", "car.n.01", "bicycle.n.01", None]
    edges = is_kind_of(synsets, lexicon)
    # car -> vehicle (not artifact: vehicle is nearer); vehicle -> artifact; classes 0 and 3
    # share a synset and are not kinds of each other; unresolved class 5 has no edges
    assert edges == [(0, 1, 1.0), (1, 2, 1.0), (3, 1, 1.0), (4, 1, 1.0)]
