import math

import numpy as np
import pytest

from knowledge_graphs.builders.similarity import similar_to, similarity_matrix
from knowledge_graphs.lexicon import Depths, ancestors


def _naive(synsets, lexicon, measure, counts=None):
    """Pairwise, from the definitions: the common ancestor-or-self with the best score."""
    closure = [{s} | ancestors(lexicon, s) for s in synsets]
    if measure == "wup":
        depth = Depths(lexicon)
        score = {a: depth(a) for c in closure for a in c}
    else:
        total = sum(counts.get(s, 0) + 1 for s in synsets)
        score = {}
        for c in closure:
            for a in c:
                under = sum(
                    counts.get(s, 0) + 1 for s, cc in zip(synsets, closure, strict=True) if a in cc
                )
                score[a] = -math.log(under / total)
    out = np.zeros((len(synsets), len(synsets)))
    for i, a in enumerate(synsets):
        for j, b in enumerate(synsets):
            lcs = max(score[x] for x in closure[i] & closure[j])
            den = score[a] + score[b]
            out[i, j] = 1.0 if i == j else (2 * lcs / den if den > 0 else 0.0)
    return out


SYNSETS = ["car.n.01", "bicycle.n.01", "wheel.n.01", "person.n.01", "table.n.02", "arm.n.01"]


def test_wup_equals_its_definition(lexicon):
    np.testing.assert_allclose(similarity_matrix(SYNSETS, lexicon), _naive(SYNSETS, lexicon, "wup"))
    # car and bicycle share wheeled_vehicle (depth 5) and have depth 6: 2 * 5 / 12
    assert similarity_matrix(SYNSETS, lexicon)[0, 1] == pytest.approx(10 / 12)


def test_lin_equals_its_definition(lexicon):
    counts = {"car.n.01": 50, "bicycle.n.01": 5, "wheel.n.01": 20, "person.n.01": 100}
    np.testing.assert_allclose(
        similarity_matrix(SYNSETS, lexicon, "lin", counts), _naive(SYNSETS, lexicon, "lin", counts)
    )


def test_top_k_edges(lexicon):
    synsets = ["car.n.01", "bicycle.n.01", "wheel.n.01", "person.n.01", None, "car.n.01"]
    edges = similar_to(synsets, lexicon, k=2)
    into = {i: sorted((j, round(w, 3)) for j, t, w in edges if t == i) for i in range(6)}
    assert into[0] == [(1, 0.833), (5, 1.0)]  # its twin, then the other wheeled vehicle
    assert into[4] == [] and all(j != 4 for j, _, _ in edges)  # unresolved: no edges
    assert all(len(v) <= 2 for v in into.values())
    counted = similar_to(synsets, lexicon, k=1, measure="lin", counts=[5, 5, 5, 5, 0, 5])
    # person shares only physical_entity, which holds every count: information content 0
    assert sorted(t for _, t, _ in counted) == [0, 1, 2, 5]


def test_errors(lexicon):
    with pytest.raises(ValueError, match="needs counts"):
        similarity_matrix(SYNSETS, lexicon, "lin")
    with pytest.raises(ValueError, match="measure must be one of"):
        similarity_matrix(SYNSETS, lexicon, "path")
    with pytest.raises(ValueError, match="k must be positive"):
        similar_to(SYNSETS, lexicon, k=0)
    with pytest.raises(ValueError, match="counts has 2 entries for 6 classes"):
        similar_to(SYNSETS, lexicon, measure="lin", counts=[1, 2])
