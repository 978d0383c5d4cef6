"""Map class names to synsets: raw dataset names, multi-word names, plurals, names that are
already synsets, with a user override table, and a report of how each resolved."""

from __future__ import annotations

import re
import warnings
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from knowledge_graphs.lexicon import Lexicon, ancestors

#: How a name resolved, in the order they are tried.
ROUTES: tuple[str, ...] = (
    "override",
    "synset",
    "exact",
    "lemma",
    "compound",
    "head",
    "unresolved",
)
_SYNSET_NAME = re.compile(r"^[^\s.]+(?:\.[^\s.]+)*\.n\.\d{2}$")
_WNID = re.compile(r"^n\d{8}$")


@dataclass(frozen=True)
class Resolved:
    """One class name and its synset.

    Attributes:
        name: the class name as given.
        synset: the synset, or ``None``.
        route: ``"override"`` (the user's table), ``"synset"`` (the name is a synset, or a
            WordNet id as ImageNet names its classes: ``n02084071``),
            ``"exact"`` (the name is a lemma), ``"lemma"`` (its base form is, e.g. a plural),
            ``"compound"`` (a possessive or closed form of a multi-word name is:
            ``potters_wheel`` -> ``potter's_wheel``, ``paint_brush`` -> ``paintbrush``),
            ``"head"`` (the last word of a multi-word name is: the class is a *kind of* that
            synset, not the synset itself), or ``"unresolved"``.
        lemma: the lemma looked up.
        senses: every sense the name may carry, :attr:`synset` first: for a name resolved
            through a lemma, the lemma's senses under the preferred synset (``leg``: the body
            part, and the support of a piece of furniture), which part-of may use to connect
            the class to the rest of its vocabulary; else just :attr:`synset`.
        is_kind: the class is a kind of its synset, not the synset itself (resolved by its
            head word: ``desk_lamp`` is a kind of ``lamp.n.02``).
    """

    name: str
    synset: str | None
    route: str
    lemma: str | None = None
    senses: tuple[str, ...] = ()
    is_kind: bool = False


@dataclass(frozen=True)
class Resolution:
    """The synsets of a list of class names (:func:`resolve_classes`)."""

    items: tuple[Resolved, ...]
    lexicon_version: str

    @property
    def names(self) -> list[str]:
        return [r.name for r in self.items]

    @property
    def synsets(self) -> list[str | None]:
        return [r.synset for r in self.items]

    @property
    def senses(self) -> list[tuple[str, ...]]:
        """Every sense each name may carry (:attr:`Resolved.senses`)."""
        return [r.senses for r in self.items]

    @property
    def kinds(self) -> list[bool]:
        """Whether each class is a kind of its synset (:attr:`Resolved.is_kind`)."""
        return [r.is_kind for r in self.items]

    @property
    def unresolved(self) -> list[str]:
        return [r.name for r in self.items if r.synset is None]

    def counts(self) -> dict[str, int]:
        """Names per route, every route listed."""
        counter = Counter(r.route for r in self.items)
        return {route: counter.get(route, 0) for route in ROUTES}

    def report(self, limit: int = 20) -> str:
        """A human-readable summary: names per route and the first unresolved names."""
        total = len(self.items)
        lines = [f"{total} class names resolved against {self.lexicon_version}:"]
        for route, n in self.counts().items():
            lines.append(f"  {route:<10} {n:6d}  ({100 * n / max(total, 1):5.1f}%)")
        if self.unresolved:
            shown = ", ".join(self.unresolved[:limit])
            more = (
                f" and {len(self.unresolved) - limit} more" if len(self.unresolved) > limit else ""
            )
            lines.append(f"  unresolved: {shown}{more}")
        return "\n".join(lines)


def normalize(name: str) -> str:
    """Lower case, words joined by ``_`` (WordNet's lemma form)."""
    return re.sub(r"[\s_]+", "_", name.strip().lower()).strip("_")


def resolve_classes(
    names: Sequence[str],
    lexicon: Lexicon,
    overrides: Mapping[str, str | None] | None = None,
    skip: Sequence[str] = ("__background__", "background", "-"),
    prefer: str | None = "physical_entity.n.01",
    senses: Mapping[str, str] | None = None,
) -> Resolution:
    """Resolve class names to noun synsets.

    Each name is tried, in order: the ``overrides`` table (a synset, or ``None`` to leave the
    name unresolved); the name as a synset (``"tree.n.01"``, as in Visual Genome) or a WordNet
    id (``"n02084071"``, as in ImageNet); the name as a lemma (spaces and underscores alike,
    most frequent sense); its base form (plurals: ``"trees"``); the possessive and closed forms
    of a multi-word name (``"potters wheel"`` -> ``potter's_wheel``, ``"paint brush"`` ->
    ``paintbrush``); the last word of a multi-word name (``"street lamp"`` -> ``lamp``) as a
    lemma or base form, which makes the class a kind of the head word's synset. Names in
    ``skip`` (background) are left unresolved without a warning.

    Among a lemma's senses (most frequent first), the first one under ``prefer`` is taken: by
    default a physical entity, since dataset classes are things one can draw a box around
    (``table`` is the furniture, not the array of data; ``van`` the truck, not the
    avant-garde). ``None`` takes the most frequent sense.

    Args:
        names: the class names, in classifier order.
        lexicon: WordNet (:func:`~knowledge_graphs.wordnet.load_wordnet`) or another lexicon.
        overrides: name -> synset (or ``None``) to force.
        skip: names that are not classes of the world.
        prefer: a synset whose hyponyms are preferred among a lemma's senses, or ``None``.
        senses: lemma -> synset, a sense table applied to a name's lemma, its base form and
            its head word (``{"plant": "plant.n.02"}`` resolves ``plants`` and
            ``potted_plant`` too); such names count as ``"override"``.

    Raises:
        ValueError: an empty list, duplicated names, an override naming an unknown synset, or a
            WordNet id (``n02084071``) that the lexicon does not have.
    """
    if len(names) == 0:
        raise ValueError("names is empty: give at least one class name")
    counts = Counter(names)
    duplicated = sorted(n for n, c in counts.items() if c > 1)
    if duplicated:
        raise ValueError(
            f"class names must be unique; duplicated: {duplicated[:10]}"
            + (f" and {len(duplicated) - 10} more" if len(duplicated) > 10 else "")
        )
    overrides = dict(overrides or {})
    senses = dict(senses or {})
    bad = {
        k: v
        for k, v in {**overrides, **senses}.items()
        if v is not None and not lexicon.has_synset(v)
    }
    if bad:
        raise ValueError(f"overrides or senses name synsets the lexicon does not have: {bad}")
    unknown = sorted(set(overrides) - set(names))
    if unknown:
        warnings.warn(f"overrides for names not in the list: {unknown[:10]}", stacklevel=2)
    if prefer is not None and not lexicon.has_synset(prefer):
        raise ValueError(f"prefer names a synset the lexicon does not have: {prefer!r}")
    chooser = _Chooser(lexicon, prefer, senses)
    items = tuple(_resolve(n, lexicon, overrides, set(skip), chooser) for n in names)
    return Resolution(items, lexicon.version)


class _Chooser:
    """The senses of a lemma under ``prefer``, else its most frequent sense."""

    def __init__(self, lexicon: Lexicon, prefer: str | None, senses: Mapping[str, str]) -> None:
        self.lexicon, self.prefer, self.senses = lexicon, prefer, senses

    def __call__(self, synsets: Sequence[str]) -> tuple[str, ...]:
        """The senses under ``prefer`` (frequency order), or the most frequent sense alone."""
        if self.prefer is not None:
            preferred = tuple(
                s for s in synsets if s == self.prefer or self.prefer in ancestors(self.lexicon, s)
            )
            if preferred:
                return preferred
        return (synsets[0],)


def _resolve(
    name: str,
    lexicon: Lexicon,
    overrides: Mapping[str, str | None],
    skip: set[str],
    choose: _Chooser,
) -> Resolved:
    if name in overrides:
        synset = overrides[name]
        if synset is None:
            return Resolved(name, None, "unresolved")
        return Resolved(name, synset, "override", senses=(synset,))
    if name in skip:
        return Resolved(name, None, "unresolved")
    stripped = name.strip()
    if _SYNSET_NAME.match(stripped) and lexicon.has_synset(stripped):
        return Resolved(name, stripped, "synset", stripped.split(".")[0], (stripped,))
    if _WNID.match(stripped):
        of_wnid = getattr(lexicon, "synset_of_wnid", None)
        synset = of_wnid(stripped) if of_wnid is not None else None
        if synset is None:
            raise ValueError(
                f"{name!r} looks like a WordNet id, but {lexicon.version} has no noun synset "
                "at that offset (ImageNet's ids are WordNet 3.0's)"
            )
        return Resolved(name, synset, "synset", synset.split(".")[0], (synset,))
    lemma = normalize(name)
    if not lemma:
        return Resolved(name, None, "unresolved")
    found = _lookup(lemma, lexicon, choose)
    if found is not None:
        senses, used = found
        if used in choose.senses:
            route = "override"
        elif used in (lemma, lemma.replace("-", "_"), lemma.replace("-", "")):
            route = "exact"
        else:
            route = "lemma"
        return Resolved(name, senses[0], route, used, senses)
    words = lemma.split("_")
    if len(words) > 1:
        for form in compound_forms(words):
            found = _lookup(form, lexicon, choose)
            if found is not None:
                senses, used = found
                route = "override" if used in choose.senses else "compound"
                return Resolved(name, senses[0], route, used, senses)
        found = _lookup(words[-1], lexicon, choose)
        if found is not None:
            senses, used = found
            # a kind of the head word's thing: only the head's most likely sense
            route = "override" if used in choose.senses else "head"
            return Resolved(name, senses[0], route, used, senses[:1], is_kind=True)
    return Resolved(name, None, "unresolved")


def compound_forms(words: Sequence[str]) -> list[str]:
    """Lemma forms of a multi-word name that WordNet may list whole: possessives of the words
    before the last (``potters wheel`` -> ``potter's_wheel``), and the last two words closed
    up (``paint brush`` -> ``paintbrush``).

    Example:
        >>> compound_forms(["potters", "wheel"])
        ["potter's_wheel", 'potterswheel']
    """
    forms = []
    for i, word in enumerate(words[:-1]):
        if len(word) > 2 and word.endswith("s") and not word.endswith("ss"):
            forms.append("_".join([*words[:i], word[:-1] + "'s", *words[i + 1 :]]))
    forms.append("_".join([*words[:-2], words[-2] + words[-1]]))
    return forms


def _lookup(lemma: str, lexicon: Lexicon, choose: _Chooser) -> tuple[tuple[str, ...], str] | None:
    """(senses, lemma used) for a lemma or its base form, trying hyphens as word breaks and
    as nothing (``"hobby-horse"`` -> ``hobby_horse``, ``hobbyhorse``). A lemma in the sense
    table has that one sense."""
    variants = [lemma]
    if "-" in lemma:
        variants += [lemma.replace("-", "_"), lemma.replace("-", "")]
    for variant in variants:
        if variant in choose.senses:
            return (choose.senses[variant],), variant
        base = lexicon.morphy(variant)
        if base is not None and base in choose.senses:
            return (choose.senses[base],), base
        if base is not None:
            synsets = lexicon.synsets(base)
            if synsets:
                return choose(synsets), base
    return None
