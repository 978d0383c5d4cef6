"""Ready-made class graphs shipped with the package: the paper's ADE20K vocabulary (1,484 raw
names with at least 5 instances), the 150-class Visual Genome vocabulary (VG150), the 80 COCO
categories, and ImageNet-1k, ImageNet-12k and ImageNet-21k (classes named by their WordNet ids,
in the order of timm's class lists). Users without WordNet can load them; with WordNet,
:func:`build_ready_made` rebuilds them."""

from __future__ import annotations

import gzip
import json
from importlib import resources
from typing import Any

from knowledge_graphs.build import build_class_graph
from knowledge_graphs.class_graph import ClassGraph
from knowledge_graphs.lexicon import Lexicon
from knowledge_graphs.relations import IS_KIND_OF, IS_PART_OF, SIMILAR_TO

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
    "imagenet1k": (
        "imagenet1k_wnids.txt.gz",
        "imagenet1k.json.gz",
        "ImageNet-1k (ILSVRC-2012) classes by WordNet id, in timm's imagenet_synsets.txt order",
    ),
    "imagenet12k": (
        "imagenet12k_wnids.txt.gz",
        "imagenet12k.json.gz",
        "ImageNet-12k (timm's 11,821-class subset of ImageNet-22k) by WordNet id, in timm's "
        "imagenet12k_synsets.txt order",
    ),
    "imagenet21k": (
        "imagenet21k_wnids.txt.gz",
        "imagenet21k.json.gz",
        "ImageNet-21k (fall 2011, 21,843 classes) by WordNet id, in timm's "
        "imagenet21k_goog_synsets.txt order",
    ),
}
#: The ImageNet vocabularies: their classes are WordNet ids, resolved exactly through their
#: offsets; their graphs have the WordNet relations (kind-of, part-of, Wu-Palmer similarity).
IMAGENET: tuple[str, ...] = ("imagenet1k", "imagenet12k", "imagenet21k")
IMAGENET_RELATIONS: tuple[str, ...] = (IS_KIND_OF, IS_PART_OF, SIMILAR_TO)


def _data(name: str) -> Any:
    return resources.files("knowledge_graphs").joinpath("data", name)


def _check(name: str) -> tuple[str, str, str]:
    if name not in READY_MADE:
        raise ValueError(f"unknown ready-made graph {name!r}; available: {list(READY_MADE)}")
    return READY_MADE[name]


def vocabulary(name: str) -> tuple[list[str], list[int] | None]:
    """Class names (classifier order, no background) and their dataset counts (``None`` for a
    vocabulary shipped without counts). ImageNet's classes are WordNet ids (``n01440764``)."""
    source = _data(_check(name)[0])
    if source.name.endswith(".gz"):
        table = gzip.decompress(source.read_bytes()).decode("utf-8")
    else:
        table = source.read_text(encoding="utf-8")
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
    """A shipped graph (:data:`READY_MADE`: ``"ade20k"``, ``"visual_genome"``, ``"coco"``,
    ``"imagenet1k"``, ``"imagenet12k"``, ``"imagenet21k"``); no WordNet needed.

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
    Lin's similarity with information content from the dataset counts (Wu-Palmer's without
    them). ImageNet's WordNet ids resolve exactly; their graphs have kind-of, part-of and
    similarity."""
    names, counts = vocabulary(name)
    if name in IMAGENET:
        return build_class_graph(names, IMAGENET_RELATIONS, lexicon=lexicon, source=_check(name)[2])
    return build_class_graph(
        names,
        lexicon=lexicon,
        overrides=overrides(names),
        senses=senses(),
        counts=counts,
        source=_check(name)[2],
    )
