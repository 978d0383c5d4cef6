"""Relations mined from box annotations, as HKRM and Reasoning-RCNN build their graphs: which
classes occur in the same image (``co_occurs_with``), and where one class's boxes sit relative
to another's (``box_above``, ``box_left_of``, ``box_inside`` and their inverses).

The counts come from any source of annotated images (``annotations.py`` reads COCO files,
ADE20K and Visual Genome); each image is a pair ``(labels, boxes)``: class indices ``0..C-1``
and ``xyxy`` boxes. Counting is vectorised per image and accumulated in chunks, so a stream of
100,000 Visual Genome images is counted without holding its annotations.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from knowledge_graphs.relations import (
    BOX_ABOVE,
    BOX_INSIDE,
    BOX_LEFT_OF,
    CO_OCCURS_WITH,
    inverse_of,
)

#: The place of one box relative to another, per ordered pair of boxes in an image: the first
#: box lies inside the second, contains it, or (neither) its centre is above, below, left or
#: right of the second's (by the larger of the vertical and horizontal offsets). Coincident
#: boxes and boxes with the same centre count towards the pair but in no place.
PLACES: tuple[str, ...] = ("inside", "contains", "above", "below", "left_of", "right_of")
_NONE = len(PLACES)
_CHUNK = 1 << 22
#: Codes counted in a dense array up to this many (256 MiB of counts): the relative places of
#: up to 2,190 classes, their co-occurrences up to 5,792.
_DENSE_LIMIT = 1 << 25

Image = tuple[Any, Any]  # (labels [n] ints in 0..C-1, boxes [n, 4] xyxy)


class _CodeCounter:
    """Counts (or sums of weights) of integer codes in ``0..size-1``: a dense array where it fits
    in :data:`_DENSE_LIMIT` entries, else sorted runs of (code, count) merged as they grow (each
    code is sorted about log times, never once per chunk)."""

    def __init__(self, size: int, weighted: bool = False) -> None:
        self.dtype = np.float64 if weighted else np.int64
        self.dense = np.zeros(size, self.dtype) if size <= _DENSE_LIMIT else None
        self.codes = np.zeros(0, np.int64)
        self.counts = np.zeros(0, self.dtype)
        self._runs: list[tuple[np.ndarray, np.ndarray]] = []
        self._in_runs = 0
        self._pending: list[tuple[np.ndarray, np.ndarray | None]] = []
        self._size = 0

    def add(self, codes: np.ndarray, weights: np.ndarray | None = None) -> None:
        """Count each of ``codes`` once, or by its weight."""
        if codes.size:
            self._pending.append((codes.astype(np.int64, copy=False), weights))
            self._size += codes.size
            if self._size >= _CHUNK:
                self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        chunk = np.concatenate([c for c, _ in self._pending])
        weights = None
        if self.dtype == np.float64:
            weights = np.concatenate(
                [np.ones(len(c)) if w is None else w for c, w in self._pending]
            )
        self._pending, self._size = [], 0
        if self.dense is not None:
            self.dense += np.bincount(chunk, weights, minlength=len(self.dense)).astype(self.dtype)
            return
        codes, inverse = np.unique(chunk, return_inverse=True)
        self._runs.append((codes, np.bincount(inverse, weights).astype(self.dtype)))
        self._in_runs += len(codes)
        if self._in_runs > max(len(self.codes), _CHUNK):
            self._merge()

    def _merge(self) -> None:
        codes = np.concatenate([self.codes, *(c for c, _ in self._runs)])
        counts = np.concatenate([self.counts, *(n for _, n in self._runs)])
        self.codes, inverse = np.unique(codes, return_inverse=True)
        self.counts = np.bincount(inverse, weights=counts, minlength=len(self.codes)).astype(
            self.dtype
        )
        self._runs, self._in_runs = [], 0

    def items(self) -> tuple[np.ndarray, np.ndarray]:
        """The codes seen (ascending) and their counts."""
        self._flush()
        if self.dense is not None:
            codes = np.flatnonzero(self.dense)
            return codes, self.dense[codes]
        self._merge()
        return self.codes, self.counts


@dataclass
class BoxStatistics:
    """Per-class and per-pair counts over a set of annotated images.

    Attributes:
        num_classes: ``C``.
        images: images counted.
        image_counts: ``[C]``: images in which each class occurs (``r_ii``).
        cooccurrence: ``(i, j) -> r_ij`` for ``i < j``: images in which both occur (the image
            support of every relation between them).
        pair_counts: ``(i, j) -> n``: ordered pairs of boxes of classes ``i != j`` in the same
            image.
        place_counts: ``place -> {(i, j) -> n}`` for each of :data:`PLACES`: box pairs in it.
        place_shares: ``place -> {(i, j) -> s}``: the sum over images of each image's share of
            its ``(i, j)`` box pairs in the place (each image weighs 1, however many boxes it
            has).
    """

    num_classes: int
    images: int = 0
    image_counts: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    cooccurrence: dict[tuple[int, int], int] = field(default_factory=dict)
    pair_counts: dict[tuple[int, int], int] = field(default_factory=dict)
    place_counts: dict[str, dict[tuple[int, int], int]] = field(default_factory=dict)
    place_shares: dict[str, dict[tuple[int, int], float]] = field(default_factory=dict)

    def images_together(self, i: int, j: int) -> int:
        """``r_ij``: the images holding both classes (either order)."""
        return self.cooccurrence.get((min(i, j), max(i, j)), 0)


def count_boxes(
    images: Iterable[Image], num_classes: int, progress: str | None = None
) -> BoxStatistics:
    """Count co-occurrences and relative places over ``images`` (see :class:`BoxStatistics`).

    Args:
        images: ``(labels, boxes)`` per image; labels in ``0..num_classes-1``; an image with no
            box counts as an image.
        num_classes: ``C``.
        progress: a progress-bar description, or ``None`` for none.

    Raises:
        ValueError: a label outside ``0..C-1``, boxes not ``[n, 4]`` beside ``n`` labels, or a
            box that is not finite ``xyxy``.
    """
    if num_classes < 1:
        raise ValueError(f"num_classes must be positive, got {num_classes}")
    c = num_classes
    occurrence = np.zeros(c, np.int64)
    together, places = _CodeCounter(c * c), _CodeCounter(c * c * (_NONE + 1))
    shares = _CodeCounter(c * c * (_NONE + 1), weighted=True)
    if progress is not None:
        from tqdm import tqdm

        images = tqdm(images, desc=progress, unit="image")
    total = 0
    for number, (labels, boxes) in enumerate(images):
        labels = np.asarray(labels, np.int64).reshape(-1)
        boxes = np.asarray(boxes, np.float64).reshape(-1, 4) if len(labels) else np.zeros((0, 4))
        if boxes.shape != (len(labels), 4):
            raise ValueError(
                f"image {number}: {len(labels)} labels but boxes of shape {tuple(boxes.shape)}; "
                "expected [n, 4] xyxy"
            )
        if labels.size and (labels.min() < 0 or labels.max() >= c):
            raise ValueError(
                f"image {number}: label {int(labels.min() if labels.min() < 0 else labels.max())}"
                f" is outside 0..{c - 1}"
            )
        bad = ~np.isfinite(boxes).all(1) | (boxes[:, 2] < boxes[:, 0]) | (boxes[:, 3] < boxes[:, 1])
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"image {number}: boxes must be finite xyxy with x2 >= x1 and y2 >= y1, got box "
                f"{k} = {boxes[k].tolist()}"
            )
        total += 1
        present = np.unique(labels)
        occurrence[present] += 1
        i, j = np.triu_indices(len(present), k=1)
        together.add(present[i] * c + present[j])
        codes = _place_codes(labels, boxes, c)
        places.add(codes)
        shares.add(*_image_shares(codes))
    stats = BoxStatistics(c, total, occurrence)
    codes, counts = together.items()
    stats.cooccurrence = {
        divmod(k, c): n for k, n in zip(codes.tolist(), counts.tolist(), strict=True)
    }
    codes, counts = places.items()
    stats.place_counts = {place: {} for place in PLACES}
    for k, n in zip(codes.tolist(), counts.tolist(), strict=True):
        pair, place = divmod(k, _NONE + 1)
        key = divmod(pair, c)
        stats.pair_counts[key] = stats.pair_counts.get(key, 0) + n
        if place < _NONE:
            stats.place_counts[PLACES[place]][key] = n
    codes, sums = shares.items()
    stats.place_shares = {place: {} for place in PLACES}
    for k, share in zip(codes.tolist(), sums.tolist(), strict=True):
        pair, place = divmod(k, _NONE + 1)
        if place < _NONE:
            stats.place_shares[PLACES[place]][divmod(pair, c)] = share
    return stats


def _image_shares(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct place codes of one image and the share of their class pair's box pairs
    that each holds (the shares of a class pair sum to 1)."""
    found, counts = np.unique(codes, return_counts=True)
    pair, inverse = np.unique(found // (_NONE + 1), return_inverse=True)
    totals = np.bincount(inverse, counts, minlength=len(pair))
    return found, counts / totals[inverse]


def _place_codes(labels: np.ndarray, boxes: np.ndarray, c: int) -> np.ndarray:
    """``(label_a * C + label_b) * 7 + place`` for every ordered pair of boxes of different
    classes (place :data:`_NONE` where none applies)."""
    n = len(labels)
    if n < 2:
        return np.zeros(0, np.int64)
    a, b = np.nonzero(~np.eye(n, dtype=bool))
    keep = labels[a] != labels[b]
    a, b = a[keep], b[keep]
    p, q = boxes[a], boxes[b]
    inside = (
        (p[:, 0] >= q[:, 0]) & (p[:, 1] >= q[:, 1]) & (p[:, 2] <= q[:, 2]) & (p[:, 3] <= q[:, 3])
    )
    contains = (
        (q[:, 0] >= p[:, 0]) & (q[:, 1] >= p[:, 1]) & (q[:, 2] <= p[:, 2]) & (q[:, 3] <= p[:, 3])
    )
    dx = (p[:, 0] + p[:, 2] - q[:, 0] - q[:, 2]) / 2
    dy = (p[:, 1] + p[:, 3] - q[:, 1] - q[:, 3]) / 2
    place = np.full(len(a), _NONE, np.int64)
    vertical = (np.abs(dy) >= np.abs(dx)) & (dy != 0)
    horizontal = np.abs(dx) > np.abs(dy)
    place[vertical & (dy < 0)] = PLACES.index("above")
    place[vertical & (dy > 0)] = PLACES.index("below")
    place[horizontal & (dx < 0)] = PLACES.index("left_of")
    place[horizontal & (dx > 0)] = PLACES.index("right_of")
    place[inside & ~contains] = PLACES.index("inside")
    place[contains & ~inside] = PLACES.index("contains")
    place[inside & contains] = _NONE
    return (labels[a] * c + labels[b]) * (_NONE + 1) + place


def co_occurs_with(
    stats: BoxStatistics, threshold: float = 0.1, top_k: int = 10, min_images: int = 2
) -> list[tuple[int, int, float]]:
    r"""Symmetric edges between classes that share images, weighted as HKRM normalises its
    co-occurrence counts, :math:`w_{ij} = r_{ij} / \sqrt{r_{ii}\, r_{jj}}` (1 when two classes
    always occur together), for pairs with ``w >= threshold`` and ``r_ij >= min_images``.

    Each class keeps its ``top_k`` strongest partners (ties to the lower index), and a pair is
    an edge in both directions, with the same weight, when either of its classes keeps it: so
    ``skis`` keeps ``person`` even if ``person`` has ten stronger partners, and a class may
    have more than ``top_k`` edges (those its partners keep). The relation is its own inverse.

    Example:
        >>> stats = count_boxes([([0, 1], [[0, 0, 1, 1], [2, 2, 3, 3]]), ([0], [[0, 0, 1, 1]])], 3)
        >>> co_occurs_with(stats, min_images=1)
        [(0, 1, 0.7071067811865475), (1, 0, 0.7071067811865475)]
    """
    if not 0 <= threshold <= 1:
        raise ValueError(f"threshold must be in [0, 1], got {threshold}")
    if top_k < 1 or min_images < 1:
        raise ValueError(f"top_k and min_images must be positive, got {top_k}, {min_images}")
    r = stats.image_counts.astype(np.float64)
    partners: dict[int, list[tuple[float, int]]] = {}
    weight: dict[tuple[int, int], float] = {}
    for (i, j), n in stats.cooccurrence.items():
        if n < min_images:
            continue
        w = n / float(np.sqrt(r[i] * r[j]))
        if w >= threshold:
            partners.setdefault(i, []).append((w, j))
            partners.setdefault(j, []).append((w, i))
            weight[(i, j)] = w
    kept = set()
    for i, found in partners.items():
        for _, j in sorted(found, key=lambda x: (-x[0], x[1]))[:top_k]:
            kept.add((min(i, j), max(i, j)))
    edges = [e for i, j in kept for e in ((i, j, weight[(i, j)]), (j, i, weight[(i, j)]))]
    return sorted(edges)


def box_places(
    stats: BoxStatistics, min_frequency: float = 0.5, min_pairs: int = 10, min_images: int = 5
) -> dict[str, list[tuple[int, int, float]]]:
    """The frequent relative places: an edge ``(i, j, f)`` of ``box_above``, ``box_left_of``
    or ``box_inside`` where a box of ``i`` is above, left of or inside one of ``j`` in a share
    ``f >= min_frequency`` of their box pairs, **each image weighing one** (``f`` is the mean,
    over the images holding both classes, of each image's share of its pairs in that place), for
    class pairs that share at least ``min_images`` images and ``min_pairs`` box pairs. One
    crowded image (forty people beside three bottles) is one vote, however many pairs it holds,
    and fewer than ``min_images`` images make no edge.

    Their inverses (``box_below``, ``box_right_of``, ``box_contains``) hold the same edges
    reversed, which are the shares of the reverse places (a box above another makes the other
    below it).

    Example:
        >>> stats = count_boxes([([0, 1], [[0, 0, 2, 2], [0, 5, 2, 7]])], 2)
        >>> box_places(stats, min_pairs=1, min_images=1)["box_above"]
        [(0, 1, 1.0)]
    """
    if not 0 < min_frequency <= 1:
        raise ValueError(f"min_frequency must be in (0, 1], got {min_frequency}")
    if min_pairs < 1 or min_images < 1:
        raise ValueError(
            f"min_pairs and min_images must be positive, got {min_pairs}, {min_images}"
        )
    out: dict[str, list[tuple[int, int, float]]] = {}
    for relation, place in ((BOX_ABOVE, "above"), (BOX_LEFT_OF, "left_of"), (BOX_INSIDE, "inside")):
        edges = []
        for (i, j), share in stats.place_shares[place].items():
            images = stats.images_together(i, j)
            if images < min_images or stats.pair_counts[(i, j)] < min_pairs:
                continue
            if share / images >= min_frequency:
                edges.append((i, j, share / images))
        out[relation] = sorted(edges)
    return out


def edge_support(stats: BoxStatistics, edges: Sequence[tuple[int, int, float]]) -> list[list[int]]:
    """``[i, j, images, pairs]`` per edge: the images holding both classes and their box pairs
    (ordered, boxes of ``i`` with boxes of ``j``), what a mined edge rests on."""
    return [
        [i, j, stats.images_together(i, j), stats.pair_counts.get((i, j), 0)] for i, j, _ in edges
    ]


def keyword_defaults(function: Any) -> dict[str, Any]:
    """The parameters of ``function`` that have defaults, with their defaults."""
    import inspect

    parameters = inspect.signature(function).parameters.values()
    return {p.name: p.default for p in parameters if p.default is not inspect.Parameter.empty}


#: The defaults of :func:`co_occurs_with` and :func:`box_places` (the command line's too).
COOCCURRENCE_DEFAULTS: dict[str, Any] = keyword_defaults(co_occurs_with)
PLACE_DEFAULTS: dict[str, Any] = keyword_defaults(box_places)


def statistics_relations(
    stats: BoxStatistics,
    source: str,
    cooccurrence: dict[str, Any] | None = None,
    places: dict[str, Any] | None = None,
) -> tuple[dict[str, list[tuple[int, int, float]]], dict[str, Any]]:
    """``co_occurs_with`` and the ``box_*`` relations of ``stats`` (keyword arguments of
    :func:`co_occurs_with` and :func:`box_places`), and their provenance: the source, the
    images counted, the thresholds, the edges kept per relation and what each edge rests on
    (``support``: :func:`edge_support` per relation, read by :func:`mined_support`)."""
    cooccurrence = {**COOCCURRENCE_DEFAULTS, **(cooccurrence or {})}
    places = {**PLACE_DEFAULTS, **(places or {})}
    relations = {CO_OCCURS_WITH: co_occurs_with(stats, **cooccurrence)}
    relations.update(box_places(stats, **places))
    provenance: dict[str, Any] = {
        "source": source,
        "images": stats.images,
        "classes_seen": int((stats.image_counts > 0).sum()),
        "class_pairs_together": len(stats.cooccurrence),
        "box_pairs": int(sum(stats.pair_counts.values())),
        "parameters": {CO_OCCURS_WITH: cooccurrence, "box_places": places},
        "edges": {name: len(edges) for name, edges in relations.items()},
        "support": {name: edge_support(stats, edges) for name, edges in relations.items()},
    }
    return relations, provenance


def mine_statistics(
    images: Iterable[Image],
    num_classes: int,
    source: str,
    cooccurrence: dict[str, Any] | None = None,
    places: dict[str, Any] | None = None,
    progress: str | None = None,
) -> tuple[dict[str, list[tuple[int, int, float]]], dict[str, Any]]:
    """:func:`count_boxes` then :func:`statistics_relations`: the relations and their
    provenance, ready for :func:`~knowledge_graphs.build.build_class_graph`'s
    ``dataset_relations`` and ``dataset_provenance``."""
    stats = count_boxes(images, num_classes, progress)
    return statistics_relations(stats, source, cooccurrence, places)


def mined_support(provenance: Mapping[str, Any]) -> dict[str, dict[tuple[int, int], list[int]]]:
    """What each mined statistics edge of a graph rests on, from its provenance
    (:class:`~knowledge_graphs.class_graph.ClassGraph`'s ``provenance``): relation ->
    ``(source, target) -> [images, pairs]``, the inverse relations included (an edge of
    ``box_below`` rests on the reversed edge of ``box_above``); empty for a graph without
    statistics."""
    found = provenance.get("mined", {}).get("statistics", {}).get("support", {})
    table: dict[str, dict[tuple[int, int], list[int]]] = {}
    for relation, rows in found.items():
        table[relation] = {(i, j): [images, pairs] for i, j, images, pairs in rows}
        inverse = inverse_of(relation)
        if inverse is not None and inverse != relation:
            table[inverse] = {(j, i): [images, pairs] for i, j, images, pairs in rows}
    return table
