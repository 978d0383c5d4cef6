"""``is_part_of``: WordNet part meronyms, inherited through the whole's is-a hierarchy, with the
senses that connect a class to the rest of its vocabulary."""

from __future__ import annotations

from collections.abc import Sequence

from knowledge_graphs.lexicon import Lexicon, ancestors

#: A part-of edge and what gave it: (part class, whole class) -> (part sense, whole synset).
PartSenses = dict[tuple[int, int], tuple[str, str]]


def is_part_of(
    synsets: Sequence[str | None],
    lexicon: Lexicon,
    senses: Sequence[Sequence[str]] | None = None,
    kinds: Sequence[bool] | None = None,
    reach: int = 1,
) -> list[tuple[int, int, float]]:
    """Edges ``(a, b, 1)``: class ``a`` is a part meronym of class ``b``'s synset or of one of
    its hypernyms. WordNet lists a wheel as a part of a wheeled vehicle, not of a car; a car is
    a wheeled vehicle, so ``wheel`` is part of ``car``. Part-of is never inherited down to a
    part's hyponyms (a potter's wheel is a wheel, not a part of a car).

    Args:
        synsets: the synset of each class, or ``None``.
        lexicon: the lexicon.
        senses: every sense each class name may carry, its synset first
            (:attr:`~knowledge_graphs.resolution.Resolution.senses`). The whole names the sense
            of an ambiguous part: a part may be of a class through another of its senses, when
            that sense is listed as a part of the whole's synset or of a hypernym at most
            ``reach`` steps above it. ``leg`` (a body part first) is part of ``chair`` through
            ``leg.n.03``, which WordNet lists as a part of ``chair.n.01``; ``base`` is not part
            of every structure through ``foundation.n.03``, listed on ``structure.n.01`` far
            above. By default each class has its synset only.
        kinds: whether each class is only a kind of its synset
            (:attr:`~knowledge_graphs.resolution.Resolution.kinds`): such a class has the
            synset's parts, but is part of nothing through it.
        reach: how far above a whole's synset a part's other senses are looked for.

    Example:
        >>> from knowledge_graphs.lexicon import MemoryLexicon
        >>> lex = MemoryLexicon({"wheel.n.01": {"lemmas": ["wheel"]},
        ...     "wheeled_vehicle.n.01": {"lemmas": ["wheeled_vehicle"], "parts": ["wheel.n.01"]},
        ...     "car.n.01": {"lemmas": ["car"], "hypernyms": ["wheeled_vehicle.n.01"]}})
        >>> is_part_of(["car.n.01", "wheel.n.01"], lex)
        [(1, 0, 1.0)]
    """
    found = part_senses(synsets, lexicon, senses, kinds, reach)
    return sorted((a, b, 1.0) for a, b in found)


def part_senses(
    synsets: Sequence[str | None],
    lexicon: Lexicon,
    senses: Sequence[Sequence[str]] | None = None,
    kinds: Sequence[bool] | None = None,
    reach: int = 1,
) -> PartSenses:
    """The edges of :func:`is_part_of`, each with the part's sense that gave it (its synset
    where it can) and the whole's synset."""
    n = len(synsets)
    if senses is not None and len(senses) != n:
        raise ValueError(f"senses has {len(senses)} entries for {n} classes")
    if kinds is not None and len(kinds) != n:
        raise ValueError(f"kinds has {len(kinds)} entries for {n} classes")
    if reach < 0:
        raise ValueError(f"reach must be >= 0, got {reach}")
    # part sense -> the classes that may be that part, and whether it is their own synset
    as_part: dict[str, list[tuple[int, bool]]] = {}
    for a, synset in enumerate(synsets):
        if synset is None or (kinds is not None and kinds[a]):
            continue
        as_part.setdefault(synset, []).append((a, True))
        for other in senses[a] if senses is not None else ():
            if other != synset:
                as_part.setdefault(other, []).append((a, False))
    found: PartSenses = {}
    for b, whole in enumerate(synsets):
        if whole is None:
            continue
        near = _within(lexicon, whole, reach)
        for holder in sorted({whole} | ancestors(lexicon, whole), key=lambda h: h not in near):
            for part in lexicon.part_meronyms(holder):
                for a, own in as_part.get(part, ()):
                    if a != b and (own or holder in near):
                        if (a, b) not in found or (own and found[(a, b)][0] != synsets[a]):
                            found[(a, b)] = (part, whole)
    return found


def _within(lexicon: Lexicon, synset: str, steps: int) -> set[str]:
    """``synset`` and its hypernyms at most ``steps`` steps above it."""
    near, frontier = {synset}, [synset]
    for _ in range(steps):
        frontier = [h for s in frontier for h in lexicon.hypernyms(s)]
        near.update(frontier)
    return near
