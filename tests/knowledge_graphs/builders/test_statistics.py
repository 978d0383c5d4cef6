"""Co-occurrence and relative-place statistics: a hand-computed fixture, a naive double loop on
random annotations, the readers, and bad input."""

import math
from collections import Counter

import numpy as np
import pytest

from knowledge_graphs.builders.statistics import (
    BoxStatistics,
    box_places,
    co_occurs_with,
    count_boxes,
    mined_support,
    statistics_relations,
)
from knowledge_graphs.class_graph import ClassGraph

# 0 holds 1 and has 2 to its right (image A); 2 is below 0 (image B); 1 alone (C); no box (D)
FIXTURE = [
    ([0, 1, 2], [[0, 0, 10, 10], [2, 2, 4, 4], [20, 0, 30, 10]]),
    ([0, 2], [[0, 0, 10, 10], [0, 20, 10, 30]]),
    ([1], [[5, 5, 6, 6]]),
    ([], []),
]


def test_counts_by_hand():
    stats = count_boxes(FIXTURE, 3)
    assert stats.images == 4
    assert stats.image_counts.tolist() == [2, 2, 2]
    assert stats.cooccurrence == {(0, 1): 1, (0, 2): 2, (1, 2): 1}
    assert stats.pair_counts == {(0, 1): 1, (1, 0): 1, (0, 2): 2, (2, 0): 2, (1, 2): 1, (2, 1): 1}
    assert stats.place_counts == {
        "inside": {(1, 0): 1},
        "contains": {(0, 1): 1},
        "above": {(0, 2): 1},  # image B: 0's centre (5, 5) over 2's (5, 25)
        "below": {(2, 0): 1},
        "left_of": {(0, 2): 1, (1, 2): 1},  # image A: dx = -20 (dy 0), dx = -22 (dy -2)
        "right_of": {(2, 0): 1, (2, 1): 1},
    }


def test_relations_by_hand():
    stats = count_boxes(FIXTURE, 3)
    # w01 = 1 / sqrt(2 * 2) = 0.5, w02 = 2 / 2 = 1, w12 = 0.5; one partner each, ties to the
    # lower index: 0 keeps 2, 1 keeps 0, 2 keeps 0; a pair kept by either class is an edge both
    # ways, so 0 -> 1 exists although 0 kept 2 only
    assert co_occurs_with(stats, threshold=0, top_k=1, min_images=1) == [
        (0, 1, 0.5),
        (0, 2, 1.0),
        (1, 0, 0.5),
        (2, 0, 1.0),
    ]
    assert co_occurs_with(stats, threshold=0.6, top_k=5, min_images=1) == [(0, 2, 1.0), (2, 0, 1.0)]
    assert co_occurs_with(stats, threshold=0, min_images=2) == [(0, 2, 1.0), (2, 0, 1.0)]
    # one box pair per image here, so the image-weighted shares are the pairs' shares
    places = box_places(stats, min_frequency=0.5, min_pairs=1, min_images=1)
    assert places == {
        "box_above": [(0, 2, 0.5)],
        "box_left_of": [(0, 2, 0.5), (1, 2, 1.0)],
        "box_inside": [(1, 0, 1.0)],
    }
    assert box_places(stats, min_frequency=0.5, min_pairs=2, min_images=1) == {
        "box_above": [(0, 2, 0.5)],
        "box_left_of": [(0, 2, 0.5)],
        "box_inside": [],
    }
    assert box_places(stats, min_frequency=0.5, min_pairs=1, min_images=2) == {
        "box_above": [(0, 2, 0.5)],  # 0 and 2 share images A and B; 1 meets them in A alone
        "box_left_of": [(0, 2, 0.5)],
        "box_inside": [],
    }
    # in a graph, each inverse holds the reverse place's frequency: 2 is below 0 in 1 of 2
    graph = ClassGraph(["table", "cup", "chair"])
    relations, provenance = statistics_relations(
        stats, "fixture", {"min_images": 1}, {"min_pairs": 1, "min_images": 1}
    )
    for name, edges in relations.items():
        graph.add_relation(name, edges)
    assert graph.neighbours("chair")["box_below"] == [("table", 0.5)]
    assert graph.neighbours("table")["box_contains"] == [("cup", 1.0)]
    assert graph.neighbours("cup")["co_occurs_with"] == [("chair", 0.5), ("table", 0.5)]
    assert provenance["images"] == 4 and provenance["box_pairs"] == 8
    assert provenance["parameters"]["co_occurs_with"] == {
        "threshold": 0.1,
        "top_k": 10,
        "min_images": 1,
    }
    assert provenance["edges"] == {
        "co_occurs_with": 6,
        "box_above": 1,
        "box_left_of": 2,
        "box_inside": 1,
    }
    # what each edge rests on: [i, j, images holding both, box pairs of i with j]
    assert provenance["support"]["box_left_of"] == [[0, 2, 2, 2], [1, 2, 1, 1]]
    assert provenance["support"]["box_inside"] == [[1, 0, 1, 1]]
    graph_provenance = {"mined": {"statistics": provenance}}
    support = mined_support(graph_provenance)
    assert support["box_right_of"][(2, 1)] == [1, 1]  # the inverse rests on the same images
    assert support["co_occurs_with"][(1, 0)] == [1, 1]
    assert mined_support({}) == {}


def test_one_crowded_image_cannot_make_a_box_relation():
    """Forty box pairs of one image once outvoted four images: counted as pairs, person is
    above bottle in 40 of 44 pairs. Each image weighs one: bottle is above person in four of
    five images, and the crowded image alone, however many pairs, makes no edge."""
    person, bottle = 0, 1
    crowd = (
        [person] * 20 + [bottle] * 2,
        [[x, 0, x + 1, 1] for x in range(20)] + [[0, 50, 1, 51]] * 2,
    )
    usual = ([person, bottle], [[0, 50, 1, 51], [0, 0, 1, 1]])  # the bottle on a shelf above
    stats = count_boxes([crowd] + [usual] * 4, 2)
    assert stats.place_counts["above"][(person, bottle)] == 40
    assert stats.place_shares["above"][(person, bottle)] == 1.0  # the crowd: one vote
    assert box_places(stats, min_pairs=1, min_images=1)["box_above"] == [(bottle, person, 0.8)]
    alone = count_boxes([crowd], 2)
    assert box_places(alone, min_pairs=1, min_images=2)["box_above"] == []
    assert box_places(alone, min_pairs=1, min_images=1)["box_above"] == [(person, bottle, 1.0)]
    assert box_places(count_boxes([crowd] * 5, 2))["box_above"] == [(person, bottle, 1.0)]


def test_co_occurrence_is_symmetric_by_construction():
    """A class whose partners all prefer others still keeps its own strongest partner, both
    ways: skis appear only with person, and person has ten partners it shares more with."""
    rng = np.random.default_rng(1)
    person, skis = 0, 11
    images = [([person, k], [[0, 0, 1, 1], [2, 2, 3, 3]]) for k in range(1, 11) for _ in range(9)]
    images += [([person, skis], [[0, 0, 1, 1], [2, 2, 3, 3]])] * 2
    images += [([person], [[0, 0, 1, 1]])] * 50
    stats = count_boxes(images, 12)
    edges = co_occurs_with(stats, top_k=10)
    assert (skis, person) in {(s, t) for s, t, _ in edges}
    assert (person, skis) in {(s, t) for s, t, _ in edges}
    # on random annotations: every edge has its reverse, with the same weight
    c = 9
    random_images = []
    for _ in range(200):
        labels = rng.integers(0, c, int(rng.integers(1, 6))).tolist()
        random_images.append((labels, [[0, 0, 1, 1]] * len(labels)))
    found = co_occurs_with(count_boxes(random_images, c), threshold=0, top_k=2, min_images=1)
    weights = {(s, t): w for s, t, w in found}
    assert weights and all(weights[(t, s)] == w for (s, t), w in weights.items())
    assert max(sum(s == k for s, _ in weights) for k in range(c)) > 2  # more than top_k


def _naive(images, c):
    """Counts by a double loop over the boxes of each image, with the rules written out."""
    occurrence, together = Counter(), Counter()
    pairs, places = Counter(), {p: Counter() for p in ("inside", "contains", "above", "below")}
    places.update({"left_of": Counter(), "right_of": Counter()})
    shares = {p: Counter() for p in places}
    for labels, boxes in images:
        here_pairs, here = Counter(), {p: Counter() for p in places}
        for k in set(labels):
            occurrence[k] += 1
        for i in set(labels):
            for j in set(labels):
                if i < j:
                    together[(i, j)] += 1
        for a in range(len(labels)):
            for b in range(len(labels)):
                if labels[a] == labels[b]:
                    continue
                p, q = boxes[a], boxes[b]
                pairs[(labels[a], labels[b])] += 1
                here_pairs[(labels[a], labels[b])] += 1
                a_in_b = p[0] >= q[0] and p[1] >= q[1] and p[2] <= q[2] and p[3] <= q[3]
                b_in_a = q[0] >= p[0] and q[1] >= p[1] and q[2] <= p[2] and q[3] <= p[3]
                dx = (p[0] + p[2]) / 2 - (q[0] + q[2]) / 2
                dy = (p[1] + p[3]) / 2 - (q[1] + q[3]) / 2
                if a_in_b and b_in_a:
                    place = None
                elif a_in_b:
                    place = "inside"
                elif b_in_a:
                    place = "contains"
                elif abs(dy) >= abs(dx) and dy != 0:
                    place = "above" if dy < 0 else "below"
                elif abs(dx) > abs(dy):
                    place = "left_of" if dx < 0 else "right_of"
                else:
                    place = None
                if place is not None:
                    places[place][(labels[a], labels[b])] += 1
                    here[place][(labels[a], labels[b])] += 1
        for place, counted in here.items():
            for key, n in counted.items():
                shares[place][key] += n / here_pairs[key]
    return occurrence, together, pairs, places, shares


def test_against_a_naive_double_loop():
    rng = np.random.default_rng(0)
    c, images = 7, []
    for _ in range(60):
        n = int(rng.integers(0, 9))
        labels = rng.integers(0, c, n).tolist()
        xy = rng.integers(0, 20, (n, 2))  # integer corners: nesting, equal centres and ties occur
        wh = rng.integers(1, 12, (n, 2))
        boxes = np.concatenate([xy, xy + wh], 1).astype(float).tolist()
        if n > 1 and rng.random() < 0.3:
            boxes[1] = list(boxes[0])  # coincident boxes
        images.append((labels, boxes))
    stats = count_boxes(images, c)
    occurrence, together, pairs, places, shares = _naive(images, c)
    assert stats.image_counts.tolist() == [occurrence[k] for k in range(c)]
    assert stats.cooccurrence == dict(together)
    assert stats.pair_counts == dict(pairs)
    assert stats.place_counts == {k: dict(v) for k, v in places.items()}
    assert sum(map(len, stats.place_counts.values())) > 50  # every place occurs
    assert stats.place_shares.keys() == shares.keys()
    for place, naive in shares.items():
        assert stats.place_shares[place].keys() == naive.keys()
        for key, share in naive.items():
            assert stats.place_shares[place][key] == pytest.approx(share, rel=1e-12)
    # the places' weights, by their formula: the mean over shared images of each one's share
    for relation, place in (("box_above", "above"), ("box_left_of", "left_of")):
        for i, j, f in box_places(stats, min_frequency=0.01, min_pairs=1, min_images=1)[relation]:
            assert f == pytest.approx(shares[place][(i, j)] / together[(min(i, j), max(i, j))])
    # the co-occurrence weights, by their formula
    for s, t, w in co_occurs_with(stats, threshold=0, top_k=c, min_images=1):
        i, j = min(s, t), max(s, t)
        assert w == pytest.approx(together[(i, j)] / math.sqrt(occurrence[i] * occurrence[j]))


def test_sparse_counting_equals_dense(monkeypatch):
    """Vocabularies too large for dense counts are counted in sorted runs, merged as they
    grow: forced here with tiny limits, the counts are the same."""
    import knowledge_graphs.builders.statistics as statistics

    rng = np.random.default_rng(3)
    images = []
    for _ in range(40):
        n = int(rng.integers(0, 12))
        xy = rng.integers(0, 30, (n, 2))
        boxes = np.concatenate([xy, xy + rng.integers(1, 9, (n, 2))], 1).astype(float)
        images.append((rng.integers(0, 9, n), boxes))
    dense = count_boxes(images, 9)
    monkeypatch.setattr(statistics, "_DENSE_LIMIT", 0)
    monkeypatch.setattr(statistics, "_CHUNK", 16)  # a run every few images, many merges
    sparse = count_boxes(images, 9)
    assert sparse.image_counts.tolist() == dense.image_counts.tolist()
    assert sparse.cooccurrence == dense.cooccurrence and sparse.pair_counts == dense.pair_counts
    assert sparse.place_counts == dense.place_counts and len(dense.place_counts["above"]) > 10
    for place, found in dense.place_shares.items():
        assert sparse.place_shares[place] == pytest.approx(found, rel=1e-12)


def test_bad_and_degenerate_input():
    with pytest.raises(ValueError, match="image 1: label 3 is outside 0..2"):
        count_boxes([([0], [[0, 0, 1, 1]]), ([3], [[0, 0, 1, 1]])], 3)
    with pytest.raises(ValueError, match=r"image 0: 2 labels but boxes of shape \(1, 4\)"):
        count_boxes([([0, 1], [[0, 0, 1, 1]])], 3)
    with pytest.raises(ValueError, match="num_classes must be positive"):
        count_boxes([], 0)
    # once counted without a word: a NaN or an inverted box took a place in the statistics
    for box in ([0, 0, float("nan"), 1], [2, 0, 1, 1], [0, 0, float("inf"), 1]):
        with pytest.raises(ValueError, match=r"image 1: boxes must be finite xyxy .* box 1"):
            count_boxes([([0], [[0, 0, 1, 1]]), ([0, 1], [[0, 0, 1, 1], box])], 3)
    # a vocabulary of one class, single-object images, classes that never co-occur: empty
    one = count_boxes([([0], [[0, 0, 1, 1]])] * 3, 1)
    assert co_occurs_with(one) == [] and box_places(one) == {
        "box_above": [],
        "box_left_of": [],
        "box_inside": [],
    }
    apart = count_boxes([([0], [[0, 0, 1, 1]]), ([1], [[0, 0, 1, 1]])], 2)
    assert co_occurs_with(apart, threshold=0, min_images=1) == []
    assert isinstance(count_boxes([], 2), BoxStatistics)
    with pytest.raises(ValueError, match="threshold must be in"):
        co_occurs_with(apart, threshold=2)
    with pytest.raises(ValueError, match="min_frequency must be in"):
        box_places(apart, min_frequency=0)
    with pytest.raises(ValueError, match="min_pairs and min_images must be positive, got 1, 0"):
        box_places(apart, min_pairs=1, min_images=0)
