"""attribute_similar_to: the JSD against a naive loop, a hand-computed fixture, the streamed
reader of attributes.json (v1.0 and v1.2 layouts)."""

import json
import math
import os
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from knowledge_graphs.builders.attributes import (
    attribute_similar_to,
    jensen_shannon,
    vg_attribute_counts,
)


def _naive_jsd(p, q):
    m = [(a + b) / 2 for a, b in zip(p, q, strict=True)]
    kl = lambda x: sum(a * math.log2(a / b) for a, b in zip(x, m, strict=True) if a > 0)  # noqa: E731
    return (kl(p) + kl(q)) / 2


def test_jensen_shannon_against_a_naive_loop():
    rng = np.random.default_rng(0)
    p = rng.random(6)
    p[2] = 0
    p /= p.sum()
    q = rng.random((5, 6))
    q[:, 4] = 0
    q[3] = p
    q /= q.sum(1, keepdims=True)
    got = jensen_shannon(p, q)
    assert got == pytest.approx([_naive_jsd(p, row) for row in q], abs=1e-12)
    assert got[3] == pytest.approx(0, abs=1e-12)
    # disjoint supports are 1 bit apart, the maximum
    assert jensen_shannon(np.array([1.0, 0]), np.array([[0, 1.0]]))[0] == pytest.approx(1)


def test_similarity_by_hand():
    counts = {
        0: Counter(red=2, round=2),  # h = (1/2, 1/2, 0)
        1: Counter(red=4),  # h = (1, 0, 0)
        2: Counter(tall=6),  # h = (0, 0, 1)
        3: Counter(red=1),  # too few mentions
    }
    # m = (3/4, 1/4, 0): KL(h0 || m) = 1 - log2(3) / 2, KL(h1 || m) = 2 - log2(3), so
    # JSD = 3/2 - (3/4) log2(3) and the similarity is about 0.689; h2 is disjoint from both
    s01 = 1 - (1.5 - 0.75 * math.log2(3))
    assert s01 == pytest.approx(1 - _naive_jsd([0.5, 0.5, 0], [1, 0, 0]))
    edges = attribute_similar_to(counts, 4, threshold=0.3, min_objects=2)
    assert edges == [(0, 1, pytest.approx(s01)), (1, 0, pytest.approx(s01))]
    assert attribute_similar_to(counts, 4, threshold=0.7, min_objects=2) == []
    # over the top attribute alone ("red", 7 mentions), 0, 1 and 3 are alike and 2 has none
    alike = attribute_similar_to(counts, 4, top_attributes=1, min_objects=1)
    assert alike == [(a, b, 1.0) for a in (0, 1, 3) for b in (0, 1, 3) if a != b]
    with pytest.raises(ValueError, match=r"outside 0..3"):
        attribute_similar_to({9: Counter(red=1)}, 4)
    with pytest.raises(ValueError, match="threshold must be in"):
        attribute_similar_to(counts, 4, threshold=-1)


def test_reader_both_layouts(tmp_path):
    v12 = [
        {
            "image_id": 1,
            "attributes": [
                {"synsets": ["car.n.01"], "names": ["car"], "attributes": ["Red ", "parked"]},
                {"synsets": ["car.n.01"], "names": ["car"], "attributes": ["red", "red"]},
                {"synsets": ["man.n.01"], "names": ["man"]},
            ],
        }
    ]
    path = tmp_path / "attributes.json"
    path.write_text(json.dumps(v12))
    assert vg_attribute_counts(path, ["man.n.01", "car.n.01"]) == {
        1: Counter(red=2, parked=1)  # once per object
    }
    v10 = [{"attributes": [{"object_names": ["Bike"], "attributes": ["parked"]}]}]
    path.write_text(json.dumps(v10))
    assert vg_attribute_counts(path, ["bike"]) == {0: Counter(parked=1)}


def test_real_samples():
    root = os.environ.get("ITER_REASONING_REAL_SAMPLES")
    if not root:
        pytest.skip("ITER_REASONING_REAL_SAMPLES is not set")
    dummy = Path(root) / "visual_genome" / "hf_datasets_dummy"
    names = ["car.n.01", "man.n.01", "shirt.n.01", "building.n.01", "tree.n.01"]
    counts = vg_attribute_counts(dummy / "v1.2.0" / "attributes" / "attributes.json", names)
    assert counts and all(0 <= c < len(names) for c in counts)
    by_name = vg_attribute_counts(
        dummy / "v1.0.0" / "attributes" / "attributes.json", ["car", "man", "shirt", "clock"]
    )
    assert by_name[3]["green"] >= 1  # the clock of image 1 is green
