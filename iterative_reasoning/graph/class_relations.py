"""The class graph as the reasoning graph consumes it: typed class-class edges."""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from iterative_reasoning._validation import check_finite, check_tensor

if TYPE_CHECKING:
    from knowledge_graphs.class_graph import ClassGraph


@dataclass(frozen=True)
class ClassRelations:
    """Typed, weighted edges between the ``C`` classes of a classifier.

    An edge ``(s, t)`` of relation ``rel`` reads "class ``s`` *rel* class ``t``" (for example
    ``wheel is_part_of car``); messages flow from ``s`` to ``t``, so ``t`` aggregates over its
    sources (PyG's ``source_to_target`` convention). Class ``0`` may be a background class: it is
    a node like the others, usually without edges.

    :mod:`knowledge_graphs` builds these from WordNet and dataset annotations; any mapping from
    relation names to edge lists works too.

    Args:
        num_classes: ``C``, the number of classifier outputs, background included.
        edges: relation name -> ``(edge_index [2, E], edge_weight [E])``; the weight may be
            ``None`` for unit weights.

    Example:
        >>> import torch
        >>> rel = ClassRelations(3, {"is_part_of": (torch.tensor([[1], [2]]), None)})
        >>> rel.names
        ('is_part_of',)
        >>> rel.num_edges
        {'is_part_of': 1}
    """

    num_classes: int
    edges: Mapping[str, tuple[Tensor, Tensor | None]]

    def __post_init__(self) -> None:
        if not isinstance(self.num_classes, int) or self.num_classes < 1:
            raise ValueError(f"num_classes must be a positive int, got {self.num_classes!r}")
        if not isinstance(self.edges, Mapping):
            raise TypeError(
                "edges must be a mapping from relation name to (edge_index, edge_weight), "
                f"got {type(self.edges).__name__}"
            )
        checked: dict[str, tuple[Tensor, Tensor]] = {}
        for name, value in self.edges.items():
            checked[name] = _check_relation(name, value, self.num_classes)
        object.__setattr__(self, "edges", checked)

    @classmethod
    def from_class_graph(
        cls,
        graph: ClassGraph,
        background: bool = True,
        relations: Sequence[str] | None = None,
        outputs: Sequence[str] | None = None,
    ) -> ClassRelations:
        """The relations of a :class:`~knowledge_graphs.ClassGraph` as a classifier with
        ``background`` (a column 0 before the classes) or with named ``outputs`` reads them
        (:meth:`~knowledge_graphs.ClassGraph.edge_lists`); ``relations`` picks some, in order.

        Example:
            >>> from knowledge_graphs import ClassGraph
            >>> g = ClassGraph(["car", "wheel"])
            >>> g.add_relation("is_part_of", [(1, 0, 1.0)])
            >>> ClassRelations.from_class_graph(g).edges["is_part_of"][0].tolist()
            [[2], [1]]
        """
        size, lists = graph.edge_lists(background, relations, outputs)
        edges = {
            name: (
                torch.tensor(index, dtype=torch.long).reshape(2, -1),
                torch.tensor(weight, dtype=torch.float),
            )
            for name, (index, weight) in lists.items()
        }
        return cls(size, edges)

    @property
    def names(self) -> tuple[str, ...]:
        """Relation names, in the order the module stacks their weights."""
        return tuple(self.edges)

    @property
    def num_edges(self) -> dict[str, int]:
        return {name: int(index.size(1)) for name, (index, _) in self.edges.items()}

    def normalized(self) -> dict[str, tuple[Tensor, Tensor]]:
        """Edges with weights row-normalised per target class (``A / max(rowsum, eps)``).

        Computed once: the relations are immutable and the graph builder asks on every call.
        """
        return dict(self._normalized)

    @cached_property
    def _normalized(self) -> dict[str, tuple[Tensor, Tensor]]:
        out = {}
        for name, (index, weight) in self.edges.items():
            assert weight is not None  # filled in by __post_init__
            out[name] = (index, row_normalize(index[1], weight, self.num_classes))
        return out

    @cached_property
    def digest(self) -> str:
        """A digest of the classes, names, edges and weights: what a reasoning graph built from
        these relations carries, so that a module can tell relations of the same names apart."""
        digest = hashlib.sha1(usedforsecurity=False)
        digest.update(f"{self.num_classes}".encode())
        for name, (index, weight) in self.edges.items():
            assert weight is not None  # filled in by __post_init__
            digest.update(f"|{name}|{index.size(1)}".encode())
            digest.update(index.detach().cpu().contiguous().numpy().tobytes())
            digest.update(weight.detach().double().cpu().contiguous().numpy().tobytes())
        return digest.hexdigest()

    def __repr__(self) -> str:
        rels = ", ".join(f"{n}={e}" for n, e in self.num_edges.items())
        return f"ClassRelations(num_classes={self.num_classes}, {rels})"


def _check_relation(name: object, value: object, num_classes: int) -> tuple[Tensor, Tensor]:
    if not isinstance(name, str) or not name:
        raise ValueError(f"relation names must be non-empty strings, got {name!r}")
    if isinstance(value, Tensor):
        value = (value, None)
    if not isinstance(value, tuple) or len(value) != 2:
        raise TypeError(
            f"edges[{name!r}] must be (edge_index, edge_weight) or an edge_index tensor, "
            f"got {type(value).__name__}"
        )
    index = check_tensor(f"edges[{name!r}] edge_index", value[0])
    if index.dim() != 2 or index.size(0) != 2:
        raise ValueError(
            f"edges[{name!r}] edge_index must have shape [2, E], got {list(index.shape)}"
        )
    if index.dtype != torch.long:
        raise TypeError(f"edges[{name!r}] edge_index must be torch.long, got {index.dtype}")
    if index.numel() and (int(index.min()) < 0 or int(index.max()) >= num_classes):
        raise ValueError(
            f"edges[{name!r}] edge_index must lie in [0, {num_classes}), got values in "
            f"[{int(index.min())}, {int(index.max())}]"
        )
    weight = value[1]
    if weight is None:
        weight = torch.ones(index.size(1))
    weight = check_tensor(f"edges[{name!r}] edge_weight", weight)
    if weight.shape != (index.size(1),):
        raise ValueError(
            f"edges[{name!r}] edge_weight must have shape [E] = [{index.size(1)}], "
            f"got {list(weight.shape)}"
        )
    weight = weight.float() if not weight.is_floating_point() else weight
    check_finite(f"edges[{name!r}] edge_weight", weight)
    if weight.numel() and bool((weight < 0).any()):
        raise ValueError(f"edges[{name!r}] edge_weight must be non-negative")
    if index.numel() and bool((index[0] == index[1]).any()):
        warnings.warn(
            f"relation {name!r} has self-loops; a class relation usually links distinct classes",
            stacklevel=4,
        )
    return index, weight


def row_normalize(target: Tensor, weight: Tensor, num_targets: int, eps: float = 1e-14) -> Tensor:
    """Divide each edge weight by the sum of the weights into its target.

    This is the row normalisation ``A / max(rowsum(A), eps)`` of the adjacency ``A[t, s]``.
    """
    rowsum = weight.new_zeros(num_targets).index_add_(0, target, weight)
    return weight / rowsum.clamp_min(eps)[target]
