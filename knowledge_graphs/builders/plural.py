"""``plural_of``: class names that are the plural of another class name (``trees``, ``tree``)."""

from __future__ import annotations

from collections.abc import Sequence

from knowledge_graphs.lexicon import Lexicon
from knowledge_graphs.resolution import normalize

_VOWELS = set("aeiou")


def plural_forms(word: str) -> set[str]:
    """Regular English plurals of a noun (``box`` -> ``boxes``, ``city`` -> ``cities``,
    ``leaf`` -> ``leaves``); of a multi-word name, its last word is pluralised."""
    head, sep, last = word.rpartition("_")
    prefix = head + sep
    forms = {last + "s"}
    if last.endswith(("s", "x", "z", "ch", "sh", "o")):
        forms.add(last + "es")
    if len(last) > 1 and last.endswith("y") and last[-2] not in _VOWELS:
        forms.add(last[:-1] + "ies")
    if last.endswith("f"):
        forms.add(last[:-1] + "ves")
    if last.endswith("fe"):
        forms.add(last[:-2] + "ves")
    return {prefix + f for f in forms}


def plural_of(names: Sequence[str], lexicon: Lexicon | None = None) -> list[tuple[int, int, float]]:
    """Edges ``(p, s, 1)``: class ``p``'s name is a plural of class ``s``'s, by the regular rules
    or, with a lexicon, its irregular forms (``feet`` -> ``foot``). Names compare in lemma form
    (lower case, words joined by ``_``).

    Example:
        >>> plural_of(["tree", "trees", "box", "boxes", "bus"])
        [(1, 0, 1.0), (3, 2, 1.0)]
    """
    index: dict[str, int] = {}
    for i, name in enumerate(names):
        index.setdefault(normalize(name), i)
    edges = set()
    for s, name in enumerate(names):
        for form in plural_forms(normalize(name)):
            p = index.get(form)
            if p is not None and p != s:
                edges.add((p, s, 1.0))
    if lexicon is not None:
        for p, name in enumerate(names):
            lemma = normalize(name)
            head, sep, last = lemma.rpartition("_")
            base = lexicon.morphy(last)
            if base and base != last:
                singular = index.get(head + sep + base)
                if singular is not None and singular != p:
                    edges.add((p, singular, 1.0))
    return sorted(edges)
