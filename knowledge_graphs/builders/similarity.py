"""``similar_to``: each class's ``k`` most similar classes by a WordNet similarity."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from knowledge_graphs.lexicon import Depths, Lexicon, ancestors

MEASURES: tuple[str, ...] = ("wup", "lin")


def similarity_matrix(
    synsets: Sequence[str],
    lexicon: Lexicon,
    measure: str = "wup",
    counts: Mapping[str, float] | None = None,
) -> np.ndarray:
    r"""Pairwise similarity ``[S, S]`` of distinct synsets through their least common subsumer
    (the common ancestor-or-self with the largest score):

    - ``"wup"`` (Wu-Palmer): :math:`2 d(\mathrm{lcs}) / (d(a) + d(b))`, with :math:`d` the depth
      (1 at a root, one more than the deepest hypernym);
    - ``"lin"`` (Lin): :math:`2\,IC(\mathrm{lcs}) / (IC(a) + IC(b))`, with
      :math:`IC(s) = -\log P(s)` and :math:`P(s)` the share of ``counts`` (instances per synset,
      from a dataset) under ``s``, add-one smoothed.

    Computed through an inverted index from ancestors to synsets, so the cost grows with the
    ancestors of each synset, not with the square of the vocabulary times the hierarchy. Each
    row on its own is :meth:`SimilarityIndex.row`, which large vocabularies use instead of the
    whole matrix (ImageNet-21k's would take 3.8 GB).
    """
    index = SimilarityIndex(synsets, lexicon, measure, counts)
    return np.stack([index.row(i) for i in range(len(synsets))]) if synsets else np.zeros((0, 0))


class SimilarityIndex:
    """The rows of :func:`similarity_matrix`, one at a time."""

    def __init__(
        self,
        synsets: Sequence[str],
        lexicon: Lexicon,
        measure: str = "wup",
        counts: Mapping[str, float] | None = None,
    ) -> None:
        if measure not in MEASURES:
            raise ValueError(f"measure must be one of {MEASURES}, got {measure!r}")
        if measure == "lin" and counts is None:
            raise ValueError(
                "measure 'lin' needs counts (instances per synset) for its information content"
            )
        closure = [{s} | ancestors(lexicon, s) for s in synsets]
        if measure == "wup":
            depth = Depths(lexicon)
            score = {a: float(depth(a)) for c in closure for a in c}
        else:
            assert counts is not None
            under: dict[str, float] = {}
            for s, c in zip(synsets, closure, strict=True):
                for a in c:
                    under[a] = under.get(a, 0.0) + float(counts.get(s, 0.0)) + 1.0
            total = sum(float(counts.get(s, 0.0)) + 1.0 for s in synsets)
            score = {a: -math.log(min(n / total, 1.0)) for a, n in under.items()}
        holders: dict[str, list[int]] = {}
        for i, c in enumerate(closure):
            for a in c:
                holders.setdefault(a, []).append(i)
        self._inverted = {a: np.asarray(v) for a, v in holders.items()}
        # each synset's ancestors-or-self, ascending by score, so the largest is written last
        self._closure = [sorted(c, key=lambda a: (score[a], a)) for c in closure]
        self._score = score
        self._own = np.array([score[s] for s in synsets])

    def row(self, i: int) -> np.ndarray:
        """The similarity of synset ``i`` to every synset ``[S]`` (1 to itself)."""
        best = np.zeros(len(self._own))
        for a in self._closure[i]:
            best[self._inverted[a]] = self._score[a]
        denominator = self._own[i] + self._own
        out = np.divide(2 * best, denominator, out=np.zeros_like(best), where=denominator > 0)
        out[i] = 1.0
        return out


def similar_to(
    synsets: Sequence[str | None],
    lexicon: Lexicon,
    k: int = 5,
    measure: str = "wup",
    counts: Sequence[float] | None = None,
) -> list[tuple[int, int, float]]:
    """Edges ``(j, i, sim)`` for the ``k`` classes ``j`` most similar to each class ``i`` (ties
    to the lower index); the weight is the similarity. Classes sharing a synset have
    similarity 1. Unresolved classes have no edges.

    Args:
        synsets: the synset of each class, or ``None``.
        lexicon: the lexicon.
        k: neighbours per class.
        measure: ``"wup"`` or ``"lin"`` (needs ``counts``).
        counts: instances of each class in a dataset, for ``"lin"``.

    Example:
        >>> from knowledge_graphs.lexicon import MemoryLexicon
        >>> lex = MemoryLexicon({"a.n.01": {"lemmas": ["a"]},
        ...     "b.n.01": {"lemmas": ["b"], "hypernyms": ["a.n.01"]},
        ...     "c.n.01": {"lemmas": ["c"], "hypernyms": ["b.n.01"]},
        ...     "d.n.01": {"lemmas": ["d"], "hypernyms": ["b.n.01"]}})
        >>> similar_to(["c.n.01", "d.n.01", "a.n.01"], lex, k=1)
        [(0, 1, 0.6666666666666666), (0, 2, 0.5), (1, 0, 0.6666666666666666)]
    """
    if k < 1:
        raise ValueError(f"k must be positive, got {k}")
    resolved = [i for i, s in enumerate(synsets) if s is not None]
    distinct = sorted({s for s in synsets if s is not None})
    if not resolved:
        return []
    position = {s: i for i, s in enumerate(distinct)}
    per_synset: dict[str, float] | None = None
    if counts is not None:
        if len(counts) != len(synsets):
            raise ValueError(f"counts has {len(counts)} entries for {len(synsets)} classes")
        per_synset = {}
        for s, n in zip(synsets, counts, strict=True):
            if s is not None:
                per_synset[s] = per_synset.get(s, 0.0) + float(n)
    index = SimilarityIndex(distinct, lexicon, measure, per_synset)
    cols = np.array([position[synsets[i]] for i in resolved])  # type: ignore[index]
    edges: list[tuple[int, int, float]] = []
    for row, i in enumerate(resolved):
        sims = index.row(cols[row])[cols]
        sims[row] = -np.inf  # not itself
        order = np.lexsort((np.arange(len(resolved)), -sims))[:k]
        edges.extend((resolved[j], i, float(sims[j])) for j in order if sims[j] > 0)
    return sorted(edges)
