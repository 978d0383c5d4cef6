"""Build a class graph for a list of class names: WordNet relations, string relations and
dataset-mined relations, with provenance."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from knowledge_graphs.builders.kind import is_kind_of
from knowledge_graphs.builders.left_right import left_right_of
from knowledge_graphs.builders.part import part_senses
from knowledge_graphs.builders.plural import plural_of
from knowledge_graphs.builders.similarity import similar_to
from knowledge_graphs.class_graph import ClassGraph, check_class_names, warn_unresolved
from knowledge_graphs.lexicon import Lexicon
from knowledge_graphs.relations import (
    IS_KIND_OF,
    IS_PART_OF,
    LEFT_RIGHT_OF,
    PLURAL_OF,
    SIMILAR_TO,
)
from knowledge_graphs.resolution import Resolution, resolve_classes
from knowledge_graphs.wordnet import load_wordnet

#: The relations :func:`build_class_graph` knows how to build (each adds its inverse).
BUILDABLE: tuple[str, ...] = (IS_KIND_OF, IS_PART_OF, PLURAL_OF, LEFT_RIGHT_OF, SIMILAR_TO)
_NEEDS_LEXICON = {IS_KIND_OF, IS_PART_OF, SIMILAR_TO}


def build_class_graph(
    names: Sequence[str],
    relations: Sequence[str] = BUILDABLE,
    lexicon: Lexicon | None = None,
    *,
    overrides: Mapping[str, str | None] | None = None,
    senses: Mapping[str, str] | None = None,
    counts: Sequence[float] | None = None,
    similar_k: int = 5,
    similarity: str | None = None,
    dataset_relations: Mapping[str, Sequence[tuple[int, int, float]]] | None = None,
    source: str = "class names",
    dataset_provenance: Mapping[str, Any] | None = None,
) -> ClassGraph:
    """A :class:`~knowledge_graphs.class_graph.ClassGraph` for ``names``.

    Args:
        names: the class names (no background), in classifier order.
        relations: which of :data:`BUILDABLE` to build; each adds its inverse
            (``is_kind_of`` + ``has_kind``, ...).
        lexicon: WordNet by default (:func:`~knowledge_graphs.wordnet.load_wordnet`, offline).
        overrides: class name -> synset (or ``None``) for names the automatic resolution gets
            wrong.
        senses: lemma -> synset, a sense table (see
            :func:`~knowledge_graphs.resolution.resolve_classes`).
        counts: instances of each class in a dataset; with them ``similar_to`` uses Lin's
            similarity with information content from these counts.
        similar_k: neighbours per class of ``similar_to``.
        similarity: ``"wup"`` or ``"lin"``; defaults to ``"lin"`` with counts, else ``"wup"``.
        dataset_relations: further relations, name -> edges ``(source, target, weight)``
            (for example from :func:`~knowledge_graphs.builders.ade_parts.ade_part_of` or
            :func:`~knowledge_graphs.builders.vg_relationships.vg_relations`).
        source: a description of where the names came from, for the provenance.
        dataset_provenance: where the dataset relations came from (files, counts, thresholds),
            kept under the provenance's ``"mined"`` key.

    Raises:
        ValueError: empty or duplicated names, an unknown relation, bad counts.
    """
    names = check_class_names("names", names)
    unknown = [r for r in relations if r not in BUILDABLE]
    if unknown:
        raise ValueError(f"unknown relation(s) {unknown}; buildable: {list(BUILDABLE)}")
    if counts is not None and len(counts) != len(names):
        raise ValueError(f"counts has {len(counts)} entries for {len(names)} class names")
    if counts is not None and not all(math.isfinite(c) and c >= 0 for c in counts):
        bad = next(c for c in counts if not (math.isfinite(c) and c >= 0))
        raise ValueError(f"counts must be finite and non-negative instance counts, got {bad}")
    if lexicon is None and _NEEDS_LEXICON & set(relations):
        lexicon = load_wordnet()
    measure = similarity or ("lin" if counts is not None else "wup")
    resolution = (
        resolve_classes(names, lexicon, overrides, senses=senses) if lexicon is not None else None
    )
    synsets = resolution.synsets if resolution is not None else [None] * len(names)
    provenance: dict[str, Any] = {
        "source": source,
        "lexicon": lexicon.version if lexicon is not None else None,
        "builder": f"iterative-reasoning {_package_version()}",
        "parameters": {
            "relations": list(relations),
            "similar_k": similar_k,
            "similarity": measure,
            "counts": counts is not None,
            "overrides": dict(overrides or {}),
            "senses": len(senses or {}),
        },
    }
    if dataset_provenance:
        provenance["mined"] = dict(dataset_provenance)
    if resolution is not None:
        provenance["resolution"] = resolution.counts()
        provenance["unresolved"] = resolution.unresolved
        if _NEEDS_LEXICON & set(relations):
            warn_unresolved(resolution.unresolved, "WordNet")
    graph = ClassGraph(names, synsets, provenance)
    for relation in relations:
        graph.add_relation(
            relation,
            _edges(
                relation, names, resolution, lexicon, counts, similar_k, measure, graph.provenance
            ),
        )
    for name, edges in (dataset_relations or {}).items():
        graph.add_relation(name, edges)
    return graph


def _edges(
    relation: str,
    names: Sequence[str],
    resolution: Resolution | None,
    lexicon: Lexicon | None,
    counts: Sequence[float] | None,
    k: int,
    measure: str,
    provenance: dict[str, Any],
) -> list[tuple[int, int, float]]:
    if relation == PLURAL_OF:
        return plural_of(names, lexicon)
    if relation == LEFT_RIGHT_OF:
        return left_right_of(names)
    assert lexicon is not None and resolution is not None
    synsets = resolution.synsets
    if relation == IS_KIND_OF:
        return is_kind_of(synsets, lexicon, resolution.kinds)
    if relation == IS_PART_OF:
        found = part_senses(synsets, lexicon, resolution.senses, resolution.kinds)
        # the senses beyond a class's synset that part-of used, for the provenance
        extra: dict[str, set[str]] = {}
        for (a, _), (part, _) in found.items():
            if part != synsets[a]:
                extra.setdefault(names[a], set()).add(part)
        provenance["part_of_senses"] = {n: sorted(s) for n, s in sorted(extra.items())}
        return sorted((a, b, 1.0) for a, b in found)
    return similar_to(synsets, lexicon, k, measure, counts if measure == "lin" else None)


def _package_version() -> str:
    try:
        from importlib.metadata import version

        return version("iterative-reasoning")
    except Exception:  # not installed (a source checkout on sys.path)
        return "unknown"
