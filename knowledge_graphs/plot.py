"""A picture of a class's neighbourhood in a class graph (matplotlib)."""

from __future__ import annotations

import math
import os

from knowledge_graphs.class_graph import ClassGraph
from knowledge_graphs.files import save_figure


def plot_neighbourhood(
    graph: ClassGraph,
    name: str,
    path: str | os.PathLike[str],
    relation: str | None = None,
    limit: int = 12,
) -> None:
    """Draw ``name`` in the centre and its neighbours around it, one colour per relation, edge
    labels with the weights; at most ``limit`` neighbours per relation. Saved to ``path``."""
    from matplotlib import colormaps
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    neighbours = graph.neighbours(name, relation)
    items = [(rel, n, w) for rel, ns in neighbours.items() for n, w in ns[:limit]]
    fig = Figure(figsize=(9, 9))  # not pyplot: the user's backend is left as it is
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    ax.set_axis_off()
    ax.set_title(f"{name} ({graph.synsets[graph.index(name)]}): {len(items)} neighbours")
    colours = colormaps["tab10"]
    relations = list(neighbours)
    ax.text(
        0,
        0,
        name,
        ha="center",
        va="center",
        fontsize=12,
        weight="bold",
        bbox={"boxstyle": "round", "facecolor": "lightyellow"},
    )
    for k, (rel, neighbour, weight) in enumerate(items):
        angle = 2 * math.pi * k / max(len(items), 1)
        x, y = math.cos(angle), math.sin(angle)
        colour = colours(relations.index(rel) % 10)
        ax.annotate(
            "",
            xy=(0.85 * x, 0.85 * y),
            xytext=(0.12 * x, 0.12 * y),
            arrowprops={"arrowstyle": "->", "color": colour},
        )
        ax.text(
            x,
            y,
            neighbour,
            ha="center",
            va="center",
            fontsize=9,
            bbox={"boxstyle": "round", "facecolor": "white", "edgecolor": colour},
        )
        ax.text(0.5 * x, 0.5 * y, f"{weight:.2g}", fontsize=7, color=colour)
    handles = [Line2D([], [], color=colours(i % 10), label=r) for i, r in enumerate(relations)]
    if handles:
        ax.legend(handles=handles, loc="lower left", fontsize=8)
    ax.set_xlim(-1.3, 1.3)
    ax.set_ylim(-1.3, 1.3)
    save_figure(fig, path, dpi=100, bbox_inches="tight")
