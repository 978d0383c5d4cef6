"""``is_kind_of``: each class to its nearest in-vocabulary ancestors in the hypernym hierarchy."""

from __future__ import annotations

from collections.abc import Sequence

from knowledge_graphs.lexicon import Lexicon, group_by_synset


def is_kind_of(
    synsets: Sequence[str | None], lexicon: Lexicon, kinds: Sequence[bool] | None = None
) -> list[tuple[int, int, float]]:
    """Edges ``(c, d, 1)``: class ``d``'s synset is a nearest in-vocabulary ancestor of class
    ``c``'s, over the hypernym closure (instance hypernyms included). The search stops at the
    first in-vocabulary synset on each path, so ``car`` is a kind of ``vehicle`` and not also of
    ``entity`` when both are classes. Classes sharing a synset are not kinds of each other.

    Args:
        synsets: the synset of each class, or ``None``.
        lexicon: the lexicon.
        kinds: whether each class is only a kind of its synset (resolved by its head word,
            :attr:`~knowledge_graphs.resolution.Resolution.kinds`): such a class is a kind of
            the classes that are its synset (``desk_lamp`` of ``lamp``), and no class is a
            kind of it through its synset.

    Example:
        >>> from knowledge_graphs.lexicon import MemoryLexicon
        >>> lex = MemoryLexicon({"entity.n.01": {"lemmas": ["entity"]},
        ...     "vehicle.n.01": {"lemmas": ["vehicle"], "hypernyms": ["entity.n.01"]},
        ...     "car.n.01": {"lemmas": ["car"], "hypernyms": ["vehicle.n.01"]}})
        >>> is_kind_of(["car.n.01", "vehicle.n.01", "entity.n.01"], lex)
        [(0, 1, 1.0), (1, 2, 1.0)]
    """
    if kinds is not None and len(kinds) != len(synsets):
        raise ValueError(f"kinds has {len(kinds)} entries for {len(synsets)} classes")
    is_kind = list(kinds) if kinds is not None else [False] * len(synsets)
    classes_of = group_by_synset(
        s if not k else None for s, k in zip(synsets, is_kind, strict=True)
    )
    edges: list[tuple[int, int, float]] = []
    for c, synset in enumerate(synsets):
        if synset is None:
            continue
        seen = set() if is_kind[c] else {synset}
        frontier = [synset] if is_kind[c] else list(lexicon.hypernyms(synset))
        while frontier:
            nxt = []
            for s in frontier:
                if s in seen:
                    continue
                seen.add(s)
                if s in classes_of:
                    edges.extend((c, d, 1.0) for d in classes_of[s])
                else:
                    nxt.extend(lexicon.hypernyms(s))
            frontier = nxt
    return sorted(set(edges))
