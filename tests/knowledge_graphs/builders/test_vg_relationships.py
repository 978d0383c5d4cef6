import json
import os
from pathlib import Path

import pytest

from knowledge_graphs.builders.vg_relationships import (
    iter_json_array,
    load_aliases,
    vg_predicate_counts,
    vg_relations,
)

IMAGES = [
    {  # v1.2: name, synsets
        "image_id": 1,
        "relationships": [
            {
                "predicate": "ON ",
                "synsets": ["along.r.01"],
                "subject": {"object_id": 1, "name": "Shade", "synsets": ["shade.n.01"]},
                "object": {"object_id": 2, "name": "sidewalk", "synsets": ["sidewalk.n.01"]},
            },
            {
                "predicate": "next to a",
                "subject": {"object_id": 3, "name": "man", "synsets": ["man.n.01"]},
                "object": {"object_id": 4, "name": "cars", "synsets": ["car.n.01"]},
            },
            {
                "predicate": "has",
                "subject": {"object_id": 3, "name": "man", "synsets": []},
                "object": {"object_id": 5, "name": "unicorn", "synsets": []},
            },
        ],
    },
    {  # v1.4: names + merged_object_ids
        "image_id": 2,
        "relationships": [
            {
                "predicate": "on",
                "subject": {"object_id": 7, "names": ["man"], "merged_object_ids": [8]},
                "object": {"object_id": 9, "names": ["sidewalk"], "merged_object_ids": []},
            },
        ],
    },
]


def _write(tmp_path: Path) -> tuple[Path, Path, Path]:
    rel = tmp_path / "relationships.json"
    rel.write_text(json.dumps(IMAGES, indent=1))
    objects = tmp_path / "object_alias.txt"
    objects.write_text("car,cars\nshade ,shades\n")
    predicates = tmp_path / "relationship_alias.txt"
    predicates.write_text("near,next to\nnext to,next to a\n")
    return rel, objects, predicates


def test_streaming_equals_loading_whole(tmp_path):
    rel, _, _ = _write(tmp_path)
    assert list(iter_json_array(rel, chunk_size=7)) == IMAGES
    bad = tmp_path / "bad.json"
    bad.write_text('[{"a": 1}, {"b": ')
    with pytest.raises(ValueError, match="corrupted JSON"):
        list(iter_json_array(bad, chunk_size=5))
    bad.write_text('{"a": 1}')
    with pytest.raises(ValueError, match="expected a JSON array"):
        list(iter_json_array(bad))


def test_aliases_follow_chains(tmp_path):
    _, objects, predicates = _write(tmp_path)
    assert load_aliases(predicates) == {"next to": "near", "next to a": "near"}
    assert load_aliases(objects) == {"cars": "car", "shades": "shade"}


def test_predicate_counts_by_name_and_by_synset(tmp_path):
    rel, objects, predicates = _write(tmp_path)
    names = ["man", "car", "sidewalk", "shade"]
    counts = vg_predicate_counts(rel, names, load_aliases(objects), load_aliases(predicates))
    assert {p: dict(c) for p, c in counts.items()} == {
        "on": {(3, 2): 1, (0, 2): 1},
        "near": {(0, 1): 1},
    }
    assert vg_relations(counts, top=1) == {"on": [(0, 2, 1.0), (3, 2, 1.0)]}
    synsets = ["man.n.01", "car.n.01", "sidewalk.n.01", "shade.n.01"]
    by_synset = vg_predicate_counts(rel, synsets)
    assert dict(by_synset["on"]) == {(3, 2): 1}  # v1.4's image 2 has no synsets


def test_real_samples():
    root = os.environ.get("ITER_REASONING_REAL_SAMPLES")
    if not root:
        pytest.skip("ITER_REASONING_REAL_SAMPLES is not set")
    vg = Path(root) / "visual_genome"
    lists = vg / "danfeiX_scene-graph-TF-release"
    names = (lists / "object_list.txt").read_text().split()
    counts = vg_predicate_counts(
        vg / "hf_datasets_dummy" / "v1.2.0" / "relationships" / "relationships.json",
        names,
        load_aliases(lists / "object_alias.txt"),
        load_aliases(lists / "predicate_alias.txt"),
    )
    assert sum(counts["has"].values()) == 13 and sum(counts["on"].values()) == 7
    assert len(load_aliases(lists / "predicate_alias.txt")) > 4000
