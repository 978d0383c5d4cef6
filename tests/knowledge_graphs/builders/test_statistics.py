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
    # lower index
    assert co_occurs_with(stats, threshold=0, top_k=1, min_images=1) == [
        (0, 1, 0.5),
        (0, 2, 1.0),
        (2, 0, 1.0),
    ]
    assert co_occurs_with(stats, threshold=0.6, top_k=5, min_images=1) == [(0, 2, 1.0), (2, 0, 1.0)]
    assert co_occurs_with(stats, threshold=0, min_images=2) == [(0, 2, 1.0), (2, 0, 1.0)]
    places = box_places(stats, min_frequency=0.5, min_pairs=1)
    assert places == {
        "box_above": [(0, 2, 0.5)],
        "box_left_of": [(0, 2, 0.5), (1, 2, 1.0)],
        "box_inside": [(1, 0, 1.0)],
    }
    assert box_places(stats, min_frequency=0.5, min_pairs=2) == {
        "box_above": [(0, 2, 0.5)],
        "box_left_of": [(0, 2, 0.5)],
        "box_inside": [],
    }
    # in a graph, each inverse holds the reverse place's frequency: 2 is below 0 in 1 of 2
    graph = ClassGraph(["table", "cup", "chair"])
    relations, provenance = statistics_relations(
        stats, "fixture", {"min_images": 1}, {"min_pairs": 1}
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


def _naive(images, c):
    """Counts by a double loop over the boxes of each image, with the rules written out."""
    occurrence, together = Counter(), Counter()
    pairs, places = Counter(), {p: Counter() for p in ("inside", "contains", "above", "below")}
    places.update({"left_of": Counter(), "right_of": Counter()})
    for labels, boxes in images:
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
    return occurrence, together, pairs, places


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
    occurrence, together, pairs, places = _naive(images, c)
    assert stats.image_counts.tolist() == [occurrence[k] for k in range(c)]
    assert stats.cooccurrence == dict(together)
    assert stats.pair_counts == dict(pairs)
    assert stats.place_counts == {k: dict(v) for k, v in places.items()}
    assert sum(map(len, stats.place_counts.values())) > 50  # every place occurs
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
