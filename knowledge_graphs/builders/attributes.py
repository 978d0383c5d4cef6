"""``attribute_similar_to``: classes whose objects are described alike, from Visual Genome's
``attributes.json`` (1 minus the Jensen-Shannon divergence of their attribute histograms)."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import numpy as np

from knowledge_graphs.builders.annotations import object_keys, vg_class_index
from knowledge_graphs.builders.statistics import keyword_defaults
from knowledge_graphs.builders.vg_relationships import iter_vg_images


def vg_attribute_counts(
    attributes: str | os.PathLike[str],
    classes: Sequence[str],
    aliases: Mapping[str, str] | None = None,
    progress: bool = False,
    image_ids: Collection[int] | None = None,
) -> dict[int, Counter[str]]:
    """Per class, how often each attribute describes one of its objects in
    ``attributes.json`` (v1.0, v1.2 or v1.4), streamed. Objects map to classes as in
    :func:`~knowledge_graphs.builders.annotations.vg_images`; attributes are stripped and
    lower-cased, and counted once per object. With ``image_ids`` (a training split's), only
    those images count."""
    by_synset, index = vg_class_index(classes)
    aliases = dict(aliases or {})
    counts: dict[int, Counter[str]] = {}
    for image in iter_vg_images(attributes, "VG attributes", progress, image_ids):
        for obj in image.get("attributes", ()) or ():
            described = {str(a).strip().lower() for a in obj.get("attributes", ()) or ()}
            described.discard("")
            if not described:
                continue
            for key in object_keys(obj, by_synset, aliases):
                if key in index:
                    counts.setdefault(index[key], Counter()).update(described)
    return counts


def jensen_shannon(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """The Jensen-Shannon divergence, base 2 (in ``[0, 1]``), of distribution ``p`` ``[A]`` and
    each row of ``q`` ``[..., A]``."""
    m = (p + q) / 2
    return (_kl(p, m) + _kl(q, m)) / 2


def _kl(p: np.ndarray, m: np.ndarray) -> np.ndarray:
    p = np.broadcast_to(p, m.shape)
    ratio = np.divide(p, m, out=np.ones_like(m), where=p > 0)
    return np.sum(np.where(p > 0, p * np.log2(ratio), 0.0), axis=-1)


def attribute_similar_to(
    counts: Mapping[int, Counter[str]],
    num_classes: int,
    top_attributes: int = 100,
    top_k: int = 5,
    threshold: float = 0.5,
    min_objects: int = 5,
) -> list[tuple[int, int, float]]:
    """Edges ``(j, i, s)`` into each class ``i`` from its ``top_k`` most similar classes, with
    ``s = 1 - JSD(h_i, h_j)`` over the ``top_attributes`` most frequent attributes of all
    classes, ``h`` a class's normalised histogram over them; kept where ``s >= threshold``
    (ties to the lower index). Classes with fewer than ``min_objects`` attribute mentions
    among those attributes have no edges. Symmetric: its inverse is itself.

    Example:
        >>> from collections import Counter
        >>> counts = {0: Counter(red=4, round=4), 1: Counter(red=3, round=3), 2: Counter(tall=9)}
        >>> attribute_similar_to(counts, 3, min_objects=1)
        [(0, 1, 1.0), (1, 0, 1.0)]
    """
    if top_attributes < 1 or top_k < 1 or min_objects < 1:
        raise ValueError(
            "top_attributes, top_k and min_objects must be positive, got "
            f"{top_attributes}, {top_k}, {min_objects}"
        )
    if not 0 <= threshold <= 1:
        raise ValueError(f"threshold must be in [0, 1], got {threshold}")
    bad = [c for c in counts if not 0 <= c < num_classes]
    if bad:
        raise ValueError(f"counts has classes {bad[:5]} outside 0..{num_classes - 1}")
    total: Counter[str] = Counter()
    for histogram in counts.values():
        total.update(histogram)
    vocabulary = [a for a, _ in sorted(total.items(), key=lambda x: (-x[1], x[0]))]
    vocabulary = vocabulary[:top_attributes]
    column = {a: k for k, a in enumerate(vocabulary)}
    classes = sorted(counts)
    matrix = np.zeros((len(classes), len(vocabulary)))
    for row, c in enumerate(classes):
        for a, n in counts[c].items():
            if a in column:
                matrix[row, column[a]] = n
    mass = matrix.sum(axis=1)
    kept = np.flatnonzero(mass >= min_objects)
    if len(kept) < 2:
        return []
    h = matrix[kept] / mass[kept, None]
    edges: list[tuple[int, int, float]] = []
    for row in range(len(kept)):
        similarity = 1.0 - jensen_shannon(h[row], h)
        similarity[row] = -np.inf
        order = np.lexsort((np.arange(len(kept)), -similarity))[:top_k]
        i = classes[kept[row]]
        edges.extend(
            (classes[kept[j]], i, float(similarity[j]))
            for j in order
            if similarity[j] >= threshold and similarity[j] > 0
        )
    return sorted(edges)


#: The defaults of :func:`attribute_similar_to` (the command line's too).
ATTRIBUTE_DEFAULTS: dict[str, Any] = keyword_defaults(attribute_similar_to)
