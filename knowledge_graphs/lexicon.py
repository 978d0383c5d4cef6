"""The lexicon interface the builders use, and a small in-memory lexicon.

A lexicon answers a few questions about noun synsets: which synsets a lemma has, the base form
of a word, a synset's hypernyms, part meronyms and lemmas. :class:`~knowledge_graphs.wordnet.
WordNetLexicon` answers them from WordNet 3.0; :class:`MemoryLexicon` from a dictionary, for
tests and for users with a taxonomy of their own. Synsets are named as in WordNet
(``"tree.n.01"``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable


@runtime_checkable
class Lexicon(Protocol):
    """What the class-graph builders need of a lexicon (nouns only)."""

    @property
    def version(self) -> str:
        """A name and version recorded in a graph's provenance (``"WordNet 3.0"``)."""
        ...

    def synsets(self, lemma: str) -> list[str]:
        """Noun synsets of an exact lemma (words joined by ``_``), most frequent sense first."""
        ...

    def has_synset(self, name: str) -> bool:
        """Whether ``name`` (``"tree.n.01"``) is a noun synset of the lexicon."""
        ...

    def morphy(self, word: str) -> str | None:
        """The base form of a noun (``"trees"`` -> ``"tree"``), or ``None``."""
        ...

    def hypernyms(self, synset: str) -> list[str]:
        """Direct hypernyms, instance hypernyms included."""
        ...

    def part_meronyms(self, synset: str) -> list[str]:
        """Synsets listed as parts of ``synset``."""
        ...

    def lemma_names(self, synset: str) -> list[str]:
        """The lemmas of ``synset``."""
        ...


@dataclass
class MemoryLexicon:
    """A lexicon held in memory.

    Args:
        entries: synset name -> ``{"lemmas": [...], "hypernyms": [...], "parts": [...]}``
            (and optionally ``"wnid": "n02084071"``); the first lemma of an entry names it in
            :meth:`synsets` order of insertion.
        exceptions: irregular plurals, plural -> singular (``{"feet": "foot"}``).
        name: the version string recorded in provenance.

    Example:
        >>> lex = MemoryLexicon({
        ...     "entity.n.01": {"lemmas": ["entity"]},
        ...     "vehicle.n.01": {"lemmas": ["vehicle"], "hypernyms": ["entity.n.01"],
        ...                      "parts": ["wheel.n.01"]},
        ...     "car.n.01": {"lemmas": ["car", "auto"], "hypernyms": ["vehicle.n.01"]},
        ...     "wheel.n.01": {"lemmas": ["wheel"], "hypernyms": ["entity.n.01"]},
        ... })
        >>> lex.synsets("auto"), lex.morphy("wheels"), lex.hypernyms("car.n.01")
        (['car.n.01'], 'wheel', ['vehicle.n.01'])
    """

    entries: Mapping[str, Mapping[str, Sequence[str]]]
    exceptions: Mapping[str, str] = field(default_factory=dict)
    name: str = "memory lexicon"

    def __post_init__(self) -> None:
        self._by_lemma: dict[str, list[str]] = {}
        for synset, entry in self.entries.items():
            for lemma in entry.get("lemmas", ()):
                self._by_lemma.setdefault(lemma.lower(), []).append(synset)
            for key in ("hypernyms", "parts"):
                missing = [s for s in entry.get(key, ()) if s not in self.entries]
                if missing:
                    raise ValueError(f"entry {synset!r} names unknown {key} {missing}")

    @property
    def version(self) -> str:
        return self.name

    def synsets(self, lemma: str) -> list[str]:
        return list(self._by_lemma.get(lemma.lower(), ()))

    def has_synset(self, name: str) -> bool:
        return name in self.entries

    def morphy(self, word: str) -> str | None:
        word = word.lower()
        if word in self._by_lemma:
            return word
        if word in self.exceptions:
            return self.exceptions[word]
        for suffix, replacement in (("ies", "y"), ("ves", "f"), ("es", ""), ("s", "")):
            if word.endswith(suffix):
                base = word[: len(word) - len(suffix)] + replacement
                if base in self._by_lemma:
                    return base
        return None

    def synset_of_wnid(self, wnid: str) -> str | None:
        """The synset whose entry has this ``"wnid"``, or ``None``."""
        for synset, entry in self.entries.items():
            if entry.get("wnid") == wnid:
                return synset
        return None

    def hypernyms(self, synset: str) -> list[str]:
        return list(self.entries[synset].get("hypernyms", ()))

    def part_meronyms(self, synset: str) -> list[str]:
        return list(self.entries[synset].get("parts", ()))

    def lemma_names(self, synset: str) -> list[str]:
        return list(self.entries[synset].get("lemmas", ()))


def ancestors(lexicon: Lexicon, synset: str) -> set[str]:
    """All hypernyms of ``synset``, transitively (``synset`` itself excluded)."""
    seen: set[str] = set()
    stack = list(lexicon.hypernyms(synset))
    while stack:
        s = stack.pop()
        if s not in seen:
            seen.add(s)
            stack.extend(lexicon.hypernyms(s))
    return seen


class Depths:
    """Depth of each synset in the hypernym hierarchy: 1 at a root, else one more than its
    deepest hypernym (memoised)."""

    def __init__(self, lexicon: Lexicon) -> None:
        self.lexicon = lexicon
        self._depth: dict[str, int] = {}
        self._visiting: set[str] = set()

    def __call__(self, synset: str) -> int:
        depth = self._depth.get(synset)
        if depth is None:
            if synset in self._visiting:
                raise ValueError(f"the hypernym hierarchy has a cycle through {synset!r}")
            self._visiting.add(synset)
            hypernyms = self.lexicon.hypernyms(synset)
            depth = 1 + max((self(h) for h in hypernyms), default=0)
            self._visiting.discard(synset)
            self._depth[synset] = depth
        return depth


def group_by_synset(synsets: Iterable[str | None]) -> dict[str, list[int]]:
    """Class indices of each synset (several classes may share one)."""
    groups: dict[str, list[int]] = {}
    for i, s in enumerate(synsets):
        if s is not None:
            groups.setdefault(s, []).append(i)
    return groups
