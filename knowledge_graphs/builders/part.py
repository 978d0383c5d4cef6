"""``is_part_of``: WordNet part meronyms, inherited through the is-a hierarchy."""

from __future__ import annotations

from collections.abc import Sequence

from knowledge_graphs.lexicon import Lexicon, ancestors, group_by_synset


def is_part_of(synsets: Sequence[str | None], lexicon: Lexicon) -> list[tuple[int, int, float]]:
    """Edges ``(a, b, 1)``: class ``a``'s synset is a part meronym of class ``b``'s synset or of
    one of its hypernyms. WordNet lists a wheel as a part of a wheeled vehicle, not of a car; a
    car is a wheeled vehicle, so ``wheel`` is part of ``car``.

    Example:
        >>> from knowledge_graphs.lexicon import MemoryLexicon
        >>> lex = MemoryLexicon({"wheel.n.01": {"lemmas": ["wheel"]},
        ...     "wheeled_vehicle.n.01": {"lemmas": ["wheeled_vehicle"], "parts": ["wheel.n.01"]},
        ...     "car.n.01": {"lemmas": ["car"], "hypernyms": ["wheeled_vehicle.n.01"]}})
        >>> is_part_of(["car.n.01", "wheel.n.01"], lex)
        [(1, 0, 1.0)]
    """
    classes_of = group_by_synset(synsets)
    edges: set[tuple[int, int, float]] = set()
    for b, synset in enumerate(synsets):
        if synset is None:
            continue
        parts = set()
        for whole in {synset} | ancestors(lexicon, synset):
            parts.update(lexicon.part_meronyms(whole))
        for p in parts:
            edges.update((a, b, 1.0) for a in classes_of.get(p, ()) if a != b)
    return sorted(edges)
