"""Relations mined from Visual Genome's ``relationships.json``: the most frequent predicates,
each a relation between the subject's and the object's classes."""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Collection, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from knowledge_graphs.resolution import normalize

PredicateCounts = dict[str, Counter[tuple[int, int]]]


def load_aliases(path: str | os.PathLike[str]) -> dict[str, str]:
    """An alias file (``object_alias.txt``, ``relationship_alias.txt``): one group a line,
    comma-separated, the first token canonical. Tokens are stripped and lower-cased, and chains
    (a canonical name that is another line's alias) are followed to their end.

    Example:
        >>> import tempfile, pathlib
        >>> f = pathlib.Path(tempfile.mkdtemp()) / "alias.txt"
        >>> _ = f.write_text("near,next to\\nnext to,next to a\\n")
        >>> load_aliases(f)["next to a"]
        'near'
    """
    mapping: dict[str, str] = {}
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        tokens = [t.strip().lower() for t in line.split(",") if t.strip()]
        if not tokens:
            continue
        head = tokens[0]
        for alias in tokens[1:]:
            if alias != head:
                mapping.setdefault(alias, head)
    closed = {}
    for alias in mapping:
        seen, target = {alias}, mapping[alias]
        while target in mapping and target not in seen:
            seen.add(target)
            target = mapping[target]
        closed[alias] = target
    return closed


def iter_json_array(path: str | os.PathLike[str], chunk_size: int = 1 << 22) -> Iterator[Any]:
    """The elements of a file holding one JSON array, read in chunks (VG's files are several
    GB; they are never loaded whole)."""
    decoder = json.JSONDecoder()
    with open(path, encoding="utf-8") as f:
        buffer, position = f.read(chunk_size), 0
        position = _skip(buffer, position)
        if position >= len(buffer) or buffer[position] != "[":
            raise ValueError(f"{path}: expected a JSON array")
        position += 1
        while True:
            position = _skip(buffer, position)
            while position >= len(buffer):
                more = f.read(chunk_size)
                if not more:
                    raise ValueError(f"{path}: the JSON array is not closed")
                buffer, position = buffer[position:] + more, 0
                position = _skip(buffer, position)
            if buffer[position] == "]":
                return
            if buffer[position] == ",":
                position += 1
                continue
            while True:
                try:
                    item, end = decoder.raw_decode(buffer, position)
                    break
                except json.JSONDecodeError as error:
                    more = f.read(chunk_size)
                    if not more:
                        raise ValueError(f"{path}: corrupted JSON ({error})") from error
                    buffer, position = buffer[position:] + more, 0
            yield item
            buffer, position = buffer[end:], 0


def iter_vg_images(
    path: str | os.PathLike[str],
    description: str,
    progress: bool = False,
    image_ids: Collection[int] | None = None,
) -> Iterator[Any]:
    """The images of one of Visual Genome's per-image files (``relationships.json``,
    ``attributes.json``, ...), streamed: those of ``image_ids`` only when given (v1.0 names the
    id ``id``, later versions ``image_id``), with a progress bar of ``description``."""
    images: Iterator[Any] = iter_json_array(path)
    if progress:
        from tqdm import tqdm

        images = tqdm(images, desc=description, unit="image")
    wanted = set(image_ids) if image_ids is not None else None
    for image in images:
        if wanted is None or image.get("image_id", image.get("id")) in wanted:
            yield image


def _skip(buffer: str, position: int) -> int:
    while position < len(buffer) and buffer[position] in " \t\r\n":
        position += 1
    return position


def vg_predicate_counts(
    relationships: str | os.PathLike[str],
    classes: Sequence[str],
    object_aliases: Mapping[str, str] | None = None,
    predicate_aliases: Mapping[str, str] | None = None,
    progress: bool = False,
    image_ids: Collection[int] | None = None,
) -> PredicateCounts:
    """Count ``(subject class, object class)`` pairs per predicate in ``relationships.json``
    (v1.0, v1.2 or v1.4), streamed.

    A subject or object maps to a class by its first synset when ``classes`` are synsets
    (``tree.n.01``), otherwise by its name (``name`` or ``names[0]``), stripped, lower-cased
    and aliased. Predicates are stripped, lower-cased and aliased. Pairs with an end outside the
    vocabulary are not counted. With ``image_ids`` (a training split's), only those images
    count.
    """
    index = {c.strip().lower(): i for i, c in enumerate(classes)}
    objects = dict(object_aliases or {})
    predicates = dict(predicate_aliases or {})
    counts: PredicateCounts = {}
    for image in iter_vg_images(relationships, "VG relationships", progress, image_ids):
        for rel in image.get("relationships", ()):
            s = _class_of(rel.get("subject", {}), index, objects)
            o = _class_of(rel.get("object", {}), index, objects)
            if s is None or o is None:
                continue
            predicate = str(rel.get("predicate", "")).strip().lower()
            predicate = predicates.get(predicate, predicate)
            if predicate:
                counts.setdefault(predicate, Counter())[(s, o)] += 1
    return counts


def _class_of(
    end: Mapping[str, Any], index: Mapping[str, int], aliases: Mapping[str, str]
) -> int | None:
    for synset in end.get("synsets", ()) or ():
        if synset in index:
            return index[synset]
    name = end.get("name")
    if name is None and end.get("names"):
        name = end["names"][0]
    if not isinstance(name, str):
        return None
    name = name.strip().lower()
    return index.get(aliases.get(name, name))


def vg_relations(counts: PredicateCounts, top: int = 10) -> dict[str, list[tuple[int, int, float]]]:
    """The ``top`` most frequent predicates as relations named in lemma form (``next_to``),
    each with edges ``(subject, object, count)``.

    Example:
        >>> from collections import Counter
        >>> vg_relations({"on": Counter({(0, 1): 5}), "has": Counter({(1, 2): 2})}, top=1)
        {'on': [(0, 1, 5.0)]}
    """
    totals = sorted(counts, key=lambda p: (-sum(counts[p].values()), p))[:top]
    return {
        normalize(p): sorted((s, o, float(n)) for (s, o), n in counts[p].items() if s != o)
        for p in totals
    }
