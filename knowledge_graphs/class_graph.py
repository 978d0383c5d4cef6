"""ClassGraph: class names, typed relations with weighted edges, provenance; a versioned file
format; conversion to networkx and to the global module's edge dictionaries."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from knowledge_graphs.files import atomic_open, write_atomic
from knowledge_graphs.relations import inverse_of

#: The name of the background class (label 0 of every classifier the class graphs serve);
#: no class of a label set may take it.
BACKGROUND = "__background__"

if TYPE_CHECKING:
    pass

#: The file format: a JSON object (gzip-compressed when the name ends in ``.gz``).
FORMAT = "iterative-reasoning/class-graph"
#: The version of the file format this code writes and reads.
FORMAT_VERSION = 1


class GraphFileError(ValueError):
    """A class-graph file that is not one, is of another version, or is corrupted."""


@dataclass
class RelationEdges:
    """The edges of one relation: ``source[k] -REL-> target[k]`` with ``weight[k]``."""

    source: list[int] = field(default_factory=list)
    target: list[int] = field(default_factory=list)
    weight: list[float] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.source)

    def pairs(self) -> list[tuple[int, int, float]]:
        return list(zip(self.source, self.target, self.weight, strict=True))


class ClassGraph:
    """A graph over class names with typed, weighted, directed relations.

    An edge ``(s, t, w)`` of relation ``r`` reads "class ``s`` ``r`` class ``t``" (``wheel
    is_part_of car``). In the reasoning head, messages flow along edges, from ``s`` to ``t``.

    Args:
        classes: the class names, in classifier order (without background).
        synsets: the synset of each class, or ``None`` where unresolved.
        provenance: where the graph came from (source, lexicon version, parameters, counts).

    Example:
        >>> g = ClassGraph(["car", "wheel", "cars"])
        >>> g.add_relation("is_part_of", [(1, 0, 1.0)])  # its inverse has_part is added too
        >>> g.add_relation("plural_of", [(2, 0, 1.0)])
        >>> g.num_edges()
        {'is_part_of': 1, 'has_part': 1, 'plural_of': 1, 'singular_of': 1}
        >>> g.neighbours("car")
        {'has_part': [('wheel', 1.0)], 'singular_of': [('cars', 1.0)]}
        >>> g.edge_lists(background=True)[0]  # index 0 is background
        4
    """

    def __init__(
        self,
        classes: Sequence[str],
        synsets: Sequence[str | None] | None = None,
        provenance: Mapping[str, Any] | None = None,
    ) -> None:
        classes = check_class_names("classes", classes)
        if not classes:
            raise ValueError("classes is empty: a class graph needs at least one class")
        seen: set[str] = set()
        duplicated = [c for c in classes if c in seen or seen.add(c)]  # type: ignore[func-returns-value]
        if duplicated:
            raise ValueError(f"class names must be unique; duplicated: {duplicated[:10]}")
        if synsets is not None and len(synsets) != len(classes):
            raise ValueError(
                f"synsets has {len(synsets)} entries for {len(classes)} classes; give one each"
            )
        self.classes = classes
        self.synsets: list[str | None] = (
            list(synsets) if synsets is not None else [None] * len(classes)
        )
        self.provenance: dict[str, Any] = dict(provenance or {})
        self.relations: dict[str, RelationEdges] = {}
        self._index = {c: i for i, c in enumerate(classes)}

    # -- building --------------------------------------------------------------------------

    def add_relation(
        self,
        name: str,
        edges: Iterable[tuple[int, int, float]],
        inverse: str | None | bool = True,
    ) -> None:
        """Add edges ``(source, target, weight)`` to relation ``name`` (created if new).

        Repeated edges keep the larger weight; self-loops are dropped. With ``inverse=True``
        the declared inverse (:func:`~knowledge_graphs.relations.inverse_of`) gets the reversed
        edges too; give a name to use another inverse, or ``False`` for none.
        """
        if not name or not isinstance(name, str):
            raise ValueError(f"a relation name must be a non-empty string, got {name!r}")
        merged = {(s, t): w for s, t, w in self.relations.get(name, RelationEdges()).pairs()}
        n = len(self.classes)
        for s, t, w in edges:
            s, t, w = int(s), int(t), float(w)
            if not (0 <= s < n and 0 <= t < n):
                raise ValueError(f"relation {name!r}: edge ({s}, {t}) is outside 0..{n - 1}")
            if not w > 0:
                raise ValueError(f"relation {name!r}: edge ({s}, {t}) has weight {w}; must be > 0")
            if s != t:
                merged[(s, t)] = max(w, merged.get((s, t), 0.0))
        ordered = sorted(merged.items())
        self.relations[name] = RelationEdges(
            [s for (s, _), _ in ordered], [t for (_, t), _ in ordered], [w for _, w in ordered]
        )
        inv = inverse_of(name) if inverse is True else (inverse or None)
        if inv is not None and inv != name:
            reversed_edges = [(t, s, w) for (s, t), w in ordered]
            self.add_relation(inv, reversed_edges, inverse=False)

    # -- queries ---------------------------------------------------------------------------

    def index(self, name: str) -> int:
        """Index of a class name."""
        try:
            return self._index[name]
        except KeyError:
            raise KeyError(
                f"unknown class {name!r}; the graph has {len(self.classes)} classes"
            ) from None

    def num_edges(self, relation: str | None = None) -> dict[str, int]:
        """Edges per relation (or of one relation)."""
        names = [relation] if relation is not None else list(self.relations)
        return {r: len(self.relations[r]) for r in names}

    def neighbours(
        self, name: str, relation: str | None = None
    ) -> dict[str, list[tuple[str, float]]]:
        """The classes ``t`` with an edge ``name -REL-> t``, per relation, by weight."""
        i = self.index(name)
        out: dict[str, list[tuple[str, float]]] = {}
        for rel, edges in self.relations.items():
            if relation is not None and rel != relation:
                continue
            found = [(self.classes[t], w) for s, t, w in edges.pairs() if s == i]
            if found:
                out[rel] = sorted(found, key=lambda x: (-x[1], x[0]))
        return out

    def summary(self) -> str:
        """Classes, resolved synsets, edges per relation and provenance, as text."""
        resolved = sum(s is not None for s in self.synsets)
        total = sum(len(e) for e in self.relations.values())
        lines = [
            f"ClassGraph: {len(self.classes)} classes, {resolved} with a synset, "
            f"{total} edges in {len(self.relations)} relations"
        ]
        for rel, edges in self.relations.items():
            sources = len(set(edges.source))
            lines.append(f"  {rel:<16} {len(edges):7d} edges from {sources} classes")
        for key, value in self.provenance.items():
            if not isinstance(value, (dict, list)):
                lines.append(f"  {key}: {value}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (
            f"ClassGraph(classes={len(self.classes)}, relations={list(self.relations)}, "
            f"edges={sum(len(e) for e in self.relations.values())})"
        )

    # -- conversions -----------------------------------------------------------------------

    def edge_lists(
        self,
        background: bool = True,
        relations: Sequence[str] | None = None,
        outputs: Sequence[str] | None = None,
    ) -> tuple[int, dict[str, tuple[list[list[int]], list[float]]]]:
        """The graph as a classifier reads it: the number of outputs and, per relation, the
        edges ``[sources, targets]`` in output indices and their weights (what
        :meth:`ClassRelations.from_class_graph
        <iterative_reasoning.graph.ClassRelations.from_class_graph>` turns into tensors).

        Args:
            background: the classifier has a background column 0 before the classes, so
                class ``i`` of the graph is classifier output ``i + 1``.
            relations: the relations to include, in order (all by default).
            outputs: instead, the name of each classifier output, in order: each class of the
                graph becomes the output of its name, and outputs that are not in the graph
                (background, unused slots) have no edge. For example torchvision's COCO
                detectors, whose 91 outputs are COCO's category ids:
                ``outputs=FasterRCNN_ResNet50_FPN_Weights.DEFAULT.meta["categories"]``.
        """
        offset = 1 if background else 0
        position = [i + offset for i in range(len(self.classes))]
        size = len(self.classes) + offset
        if outputs is not None:
            index_of = {name: i for i, name in enumerate(outputs)}
            absent = [c for c in self.classes if c not in index_of]
            if absent:
                raise ValueError(
                    f"the graph's classes {absent[:5]} are not among the {len(outputs)} outputs"
                )
            position, size = [index_of[c] for c in self.classes], len(outputs)
        names = list(relations) if relations is not None else list(self.relations)
        missing = [r for r in names if r not in self.relations]
        if missing:
            raise KeyError(f"the graph has no relation(s) {missing}; it has {list(self.relations)}")
        edges = {}
        for rel in names:
            e = self.relations[rel]
            index = [[position[s] for s in e.source], [position[t] for t in e.target]]
            edges[rel] = (index, list(e.weight))
        return size, edges

    def to_networkx(self) -> Any:
        """A :class:`networkx.MultiDiGraph`: nodes are class names (attribute ``synset``),
        edges keyed by relation with attribute ``weight``; provenance in ``graph.graph``."""
        import networkx as nx

        g = nx.MultiDiGraph(**self.provenance)
        for name, synset in zip(self.classes, self.synsets, strict=True):
            g.add_node(name, synset=synset)
        for rel, edges in self.relations.items():
            for s, t, w in edges.pairs():
                g.add_edge(self.classes[s], self.classes[t], key=rel, weight=w)
        return g

    @classmethod
    def from_networkx(cls, g: Any) -> ClassGraph:
        """The inverse of :meth:`to_networkx` (a MultiDiGraph keyed by relation)."""
        classes = list(g.nodes)
        graph = cls(classes, [g.nodes[c].get("synset") for c in classes], dict(g.graph))
        by_relation: dict[str, list[tuple[int, int, float]]] = {}
        for s, t, key, data in g.edges(keys=True, data=True):
            by_relation.setdefault(str(key), []).append(
                (graph.index(s), graph.index(t), float(data.get("weight", 1.0)))
            )
        for rel, edges in by_relation.items():
            graph.add_relation(rel, edges, inverse=False)
        return graph

    # -- files -----------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        body = {
            "classes": self.classes,
            "synsets": self.synsets,
            "relations": {
                r: {"source": e.source, "target": e.target, "weight": e.weight}
                for r, e in self.relations.items()
            },
            "provenance": self.provenance,
        }
        return {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "sha256": _digest(body),
            "graph": body,
        }

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the versioned file (gzip when the name ends in ``.gz``), atomically; the same
        graph always gives the same bytes."""
        path = Path(path)
        text = json.dumps(self.to_dict(), separators=(",", ":"))
        if path.suffix == ".gz":  # no time or name in the header: same graph, same bytes
            with (
                atomic_open(path, binary=True) as raw,
                gzip.GzipFile("", "wb", fileobj=raw, mtime=0) as f,
            ):
                f.write(text.encode("utf-8"))
        else:
            write_atomic(path, text)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> ClassGraph:
        """Read a file written by :meth:`save`; raises :class:`GraphFileError` on a file of
        another format or version, or one whose content does not match its checksum."""
        path = Path(path)
        try:
            if path.suffix == ".gz":
                with gzip.open(path, "rt", encoding="utf-8") as f:
                    data = json.load(f)
            else:
                data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, EOFError, json.JSONDecodeError, UnicodeDecodeError) as error:
            raise GraphFileError(f"{path}: not a readable class-graph file ({error})") from error
        except RecursionError:  # JSON nested deeper than Python's parser goes
            raise GraphFileError(
                f"{path}: not a class-graph file (its JSON is nested too deeply to read)"
            ) from None
        try:
            return cls.from_dict(data, source=str(path))
        except RecursionError:
            raise GraphFileError(f"{path}: not a class-graph file (nested too deeply)") from None

    @classmethod
    def from_dict(cls, data: Any, source: str = "<dict>") -> ClassGraph:
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise GraphFileError(f"{source}: not a class-graph file (format is not {FORMAT!r})")
        if data.get("version") != FORMAT_VERSION:
            raise GraphFileError(
                f"{source}: class-graph format version {data.get('version')!r}; this version "
                f"of the package reads version {FORMAT_VERSION}"
            )
        body = data.get("graph")
        if not isinstance(body, dict) or _digest(body) != data.get("sha256"):
            raise GraphFileError(f"{source}: corrupted (its content does not match its checksum)")
        try:
            graph = cls(body["classes"], body["synsets"], body["provenance"])
            for rel, e in body["relations"].items():
                graph.add_relation(
                    rel, zip(e["source"], e["target"], e["weight"], strict=True), inverse=False
                )
        except (KeyError, TypeError, ValueError) as error:
            raise GraphFileError(f"{source}: corrupted ({error})") from error
        return graph


def check_class_names(name: str, value: object) -> list[str]:
    """``value`` as a list of class names: a sequence of strings, not one string (which would
    be taken letter by letter).

    Example:
        >>> check_class_names("classes", ("dog", "cat"))
        ['dog', 'cat']
        >>> check_class_names("classes", "dog")
        Traceback (most recent call last):
        ...
        TypeError: classes must be a sequence of class names, got the string 'dog' ...
    """
    if isinstance(value, (str, bytes)):
        raise TypeError(
            f"{name} must be a sequence of class names, got the string {value!r} (give "
            f"[{value!r}] for one class)"
        )
    if not isinstance(value, Iterable):
        raise TypeError(f"{name} must be a sequence of class names, got {type(value).__name__}")
    names = list(value)
    odd = [n for n in names if not isinstance(n, str)]
    if odd:
        raise TypeError(f"{name} must hold strings, got {odd[0]!r} ({type(odd[0]).__name__})")
    return names


def _digest(body: Mapping[str, Any]) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def warn_unresolved(names: Sequence[str], what: str) -> None:
    if names:
        shown = ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
        warnings.warn(
            f"{len(names)} class(es) have no synset, so no {what} edges: {shown}", stacklevel=3
        )
