"""The class graph of a dataset's run: WordNet's relations for its classes, and what its
training annotations give (the statistics of its boxes, ADE20K's annotated part-of, Visual
Genome's predicates and attributes). The CLI and the examples build a run's graph with these and
keep it in the run directory."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from iterative_reasoning.data.ade20k import ADE20K
from knowledge_graphs.build import BUILDABLE, build_class_graph
from knowledge_graphs.builders.ade_parts import ade_part_counts, ade_part_of
from knowledge_graphs.builders.annotations import coco_images, record_images
from knowledge_graphs.builders.statistics import mine_statistics
from knowledge_graphs.class_graph import BACKGROUND
from knowledge_graphs.ready_made import overrides, senses, vocabulary

#: Which relations a built graph has: WordNet's and the names' (``wordnet``), those mined from
#: the training annotations (``mined``), or both.
GraphRelations = Literal["wordnet", "mined", "both"]
GRAPH_RELATIONS: tuple[str, ...] = ("wordnet", "mined", "both")


def dataset_class_graph(
    names: Sequence[str],
    train_images: Callable[[], Any] | None,
    source: str,
    relations: GraphRelations = "both",
    *,
    lexicon: Any = None,
    overrides: Mapping[str, str | None] | None = None,
    senses: Mapping[str, str] | None = None,
    counts: Sequence[float] | None = None,
    mined: Callable[[], tuple[dict[str, Any], dict[str, Any]]] | None = None,
    progress: bool = False,
) -> Any:
    """A :class:`~knowledge_graphs.class_graph.ClassGraph` for ``names``.

    Args:
        names: the classes, in classifier order, without background.
        train_images: a function giving the training split's ``(labels 0..C-1, boxes)`` per
            image (:mod:`knowledge_graphs.builders.annotations`), for the box statistics; or
            ``None`` for none.
        source: where the names and annotations come from, for the provenance.
        relations: ``"wordnet"``, ``"mined"`` or ``"both"`` (:data:`GRAPH_RELATIONS`).
        lexicon, overrides, senses, counts: as for
            :func:`~knowledge_graphs.build.build_class_graph`.
        mined: a function giving further mined relations and their provenance (annotated
            part-of, predicates, attributes).
        progress: progress bars while counting.
    """

    if relations not in GRAPH_RELATIONS:
        raise ValueError(f"relations must be one of {GRAPH_RELATIONS}, got {relations!r}")
    dataset: dict[str, Any] = {}
    provenance: dict[str, Any] = {}
    if relations in ("mined", "both"):
        if train_images is not None:
            found, about = mine_statistics(
                train_images(),
                len(names),
                source,
                progress="box statistics" if progress else None,
            )
            dataset.update(found)
            provenance["statistics"] = about
        if mined is not None:
            found, about = mined()
            dataset.update(found)
            provenance.update(about)
    return build_class_graph(
        names,
        BUILDABLE if relations in ("wordnet", "both") else (),
        lexicon,
        overrides=overrides,
        senses=senses,
        counts=counts,
        dataset_relations=dataset,
        source=f"{source}; relations: {relations}",
        dataset_provenance=provenance,
    )


def ade20k_class_graph(
    root: str | os.PathLike[str],
    relations: GraphRelations = "both",
    split: str = "train",
    *,
    lexicon: Any = None,
    cache_dir: str | os.PathLike[str] | None = None,
    progress: bool = False,
) -> Any:
    """The graph of an ADE20K run over the paper's 1,484 classes: the shipped graph's WordNet
    relations (same vocabulary, sense table, overrides and counts), and from the annotations of
    ``split``, the box statistics and the annotated part-of (``annotated_part_of``, as the
    original code mined them)."""

    names, counts = vocabulary("ade20k")
    records: list[Any] = []

    def training_records() -> list[Any]:
        if not records:
            dataset = ADE20K(
                root,
                split,
                classes=[BACKGROUND, *names],
                cache_dir=cache_dir,
                progress=progress,
            )
            records.extend(dataset.records)
        return records

    def part_of() -> tuple[dict[str, Any], dict[str, Any]]:
        images = [r.path for r in training_records()]
        edges = ade_part_of(names, ade_part_counts(images, progress=progress))
        about = {"source": f"{root} ({split}) part annotations", "images": len(images)}
        return {"annotated_part_of": edges}, {"annotated_part_of": {**about, "edges": len(edges)}}

    return dataset_class_graph(
        names,
        lambda: record_images(training_records()),
        f"ADE20K at {Path(root).name}, {split} split",
        relations,
        lexicon=lexicon,
        overrides=overrides(names),
        senses=senses(),
        counts=counts,
        mined=part_of,
        progress=progress,
    )


def coco_class_graph(
    annotations: str | os.PathLike[str],
    relations: GraphRelations = "both",
    *,
    lexicon: Any = None,
    synsets: Mapping[str, str | None] | None = None,
) -> Any:
    """The graph of a COCO-format run: its categories (in category-id order) with WordNet's
    relations and the box statistics of ``annotations`` (the training file). The COCO-80
    categories get the shipped graph's sense overrides; ``synsets`` (name -> synset) are
    overrides of one's own instead."""

    names, images = coco_images(annotations)  # the file is read once, for both
    return dataset_class_graph(
        names,
        lambda: images,
        f"COCO-format {Path(annotations).name}",
        relations,
        lexicon=lexicon,
        overrides=overrides(names) if synsets is None else synsets,
        senses=senses(),
    )
