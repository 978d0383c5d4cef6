"""``left_right_of``: the ``left_*`` / ``right_*`` class pairs (horizontal symmetry)."""

from __future__ import annotations

from collections.abc import Sequence

from knowledge_graphs.resolution import normalize


def left_right_of(names: Sequence[str]) -> list[tuple[int, int, float]]:
    """Edges in both directions between ``left_X`` and ``right_X`` when both are classes
    (ADE has five pairs: arm, foot, hand, leg, shoulder).

    Example:
        >>> left_right_of(["left_arm", "right_arm", "left_leg", "arm"])
        [(0, 1, 1.0), (1, 0, 1.0)]
    """
    index = {normalize(n): i for i, n in enumerate(names)}
    edges = set()
    for name, i in index.items():
        if name.startswith("left_"):
            j = index.get("right_" + name[len("left_") :])
            if j is not None:
                edges.update({(i, j, 1.0), (j, i, 1.0)})
    return sorted(edges)
