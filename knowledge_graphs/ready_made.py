"""Ready-made class graphs shipped with the package: the paper's ADE20K vocabulary (1,484 raw
names with at least 5 instances), the 150-class Visual Genome vocabulary (VG150) and the 80 COCO
categories. Users without WordNet can load them; with WordNet, :func:`build_ready_made` rebuilds
them."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from knowledge_graphs.build import build_class_graph
from knowledge_graphs.class_graph import ClassGraph
from knowledge_graphs.lexicon import Lexicon

#: The ready-made graphs: name -> (vocabulary file, graph file, description).
READY_MADE: dict[str, tuple[str, str, str]] = {
    "ade20k": (
        "ade20k_vocabulary.tsv",
        "ade20k.json.gz",
        "ADE20K 2016_07_26, the paper's 1,484 raw names with count >= 5 (iter-reason "
        "objectnames.txt / objectcounts.txt)",
    ),
    "visual_genome": (
        "visual_genome_vocabulary.tsv",
        "visual_genome.json.gz",
        "Visual Genome VG150 object classes (object_list.txt), counts from "
        "VG-SGG-dicts-with-attri.json",
    ),
    "coco": (
        "coco_vocabulary.tsv",
        "coco.json.gz",
        "COCO object categories (80, in category-id order)",
    ),
}


def _data(name: str) -> Any:
    return resources.files("knowledge_graphs").joinpath("data", name)


def _check(name: str) -> tuple[str, str, str]:
    if name not in READY_MADE:
        raise ValueError(f"unknown ready-made graph {name!r}; available: {list(READY_MADE)}")
    return READY_MADE[name]


def vocabulary(name: str) -> tuple[list[str], list[int] | None]:
    """Class names (classifier order, no background) and their dataset counts (``None`` for a
    vocabulary shipped without counts)."""
    table = _data(_check(name)[0]).read_text(encoding="utf-8")
    rows = [line.split("\t") for line in table.splitlines() if line and not line.startswith("#")]
    counts = [int(r[1]) for r in rows] if all(len(r) > 1 for r in rows) else None
    return [r[0] for r in rows], counts


def senses() -> dict[str, str]:
    """The shipped sense table for scene-object words (see :func:`~knowledge_graphs.
    resolution.resolve_classes`)."""
    table = json.loads(_data("senses.json").read_text(encoding="utf-8"))
    table.pop("_comment", None)
    return table


def overrides(names: list[str] | None = None) -> dict[str, str | None]:
    """The shipped per-name overrides (only those in ``names`` if given)."""
    table = json.loads(_data("overrides.json").read_text(encoding="utf-8"))
    table.pop("_comment", None)
    return {k: v for k, v in table.items() if names is None or k in names}


def load_ready_made(name: str) -> ClassGraph:
    """A shipped graph: ``"ade20k"``, ``"visual_genome"`` or ``"coco"``; no WordNet needed.

    Example:
        >>> g = load_ready_made("visual_genome")
        >>> len(g.classes), g.provenance["lexicon"]
        (150, 'WordNet 3.0')
    """
    with resources.as_file(_data(_check(name)[1])) as path:
        return ClassGraph.load(path)


def build_ready_made(name: str, lexicon: Lexicon | None = None) -> ClassGraph:
    """Build a ready-made graph from scratch (WordNet, offline): the shipped vocabulary, the
    shipped sense table and overrides, the WordNet and string relations, ``similar_to`` by
    Lin's similarity with information content from the dataset counts."""
    names, counts = vocabulary(name)
    return build_class_graph(
        names,
        lexicon=lexicon,
        overrides=overrides(names),
        senses=senses(),
        counts=counts,
        source=_check(name)[2],
    )
