"""How many images a mined box-place relation (``box_above``, ``box_left_of``, ``box_inside``)
should rest on: the edges each rule keeps and how often they hold on images they were not mined
from.

Each source's images are split in two halves at random (``--splits`` times); the relations are
mined from one half and each edge is checked on the other: it *holds* there when its place is
more frequent than the opposite place (``i`` above ``j`` more often than below it; inside more
often than containing), image-weighted over the other half's images holding both classes (a
share near the 0.5 bar falls on either side of it by chance, so the bar is not the check). An
edge whose classes never meet in the other half cannot be checked and is counted apart. The
rules compared are the box pairs counted as they come (the rule before image support: a share of
pairs, at least ``min_pairs``) and the image-weighted share with ``min_images`` = 1, 2, 3, 5, 8,
12.

Sources: the 80 real COCO train2017 images of the shared samples (when
``ITER_REASONING_REAL_SAMPLES`` is set or ``--coco`` is given) and the synthetic hard tier's
layouts (``--hard-images`` images of split seed 0, boxes of the drawn regions). Nothing is
trained; it takes seconds.

    python benchmarks/place_support.py [--coco FILE] [--splits 20] [--hard-images 800]
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from iterative_reasoning.data.synthetic.hard import class_names, plan
from knowledge_graphs.builders.annotations import coco_images
from knowledge_graphs.builders.statistics import (
    PLACE_DEFAULTS,
    BoxStatistics,
    box_places,
    count_boxes,
)
from knowledge_graphs.relations import BOX_ABOVE, BOX_INSIDE, BOX_LEFT_OF

PLACES = {BOX_ABOVE: "above", BOX_LEFT_OF: "left_of", BOX_INSIDE: "inside"}
OPPOSITE = {"above": "below", "left_of": "right_of", "inside": "contains"}
MIN_IMAGES = (1, 2, 3, 5, 8, 12)
Image = tuple[np.ndarray, np.ndarray]


def pair_rule(stats: BoxStatistics) -> dict[str, list[tuple[int, int, float]]]:
    """The rule before image support: a share of box pairs, over at least ``min_pairs``."""
    out = {}
    for relation, place in PLACES.items():
        out[relation] = [
            (i, j, n / stats.pair_counts[(i, j)])
            for (i, j), n in stats.place_counts[place].items()
            if stats.pair_counts[(i, j)] >= PLACE_DEFAULTS["min_pairs"]
            and n / stats.pair_counts[(i, j)] >= PLACE_DEFAULTS["min_frequency"]
        ]
    return out


def check(
    edges: dict[str, list[tuple[int, int, float]]], other: BoxStatistics
) -> tuple[int, int, int]:
    """Edges mined, those checkable on ``other``, and those that hold there."""
    mined = checkable = held = 0
    for relation, found in edges.items():
        place = PLACES[relation]
        shares, opposite = other.place_shares[place], other.place_shares[OPPOSITE[place]]
        for i, j, _ in found:
            mined += 1
            if other.images_together(i, j):
                checkable += 1
                held += shares.get((i, j), 0.0) > opposite.get((i, j), 0.0)
    return mined, checkable, held


def measure(images: Sequence[Image], num_classes: int, splits: int) -> dict[str, list[float]]:
    rules = {"box pairs (before)": pair_rule}
    for m in MIN_IMAGES:
        rules[f"images, min_images={m}"] = lambda s, m=m: box_places(s, min_images=m)
    found: dict[str, list[float]] = {name: [] for name in rules}
    rng = np.random.default_rng(0)
    for _ in range(splits):
        order = rng.permutation(len(images))
        halves = order[: len(order) // 2], order[len(order) // 2 :]
        stats = [count_boxes([images[k] for k in half], num_classes) for half in halves]
        for name, rule in rules.items():
            totals = np.zeros(3)
            for a, b in ((0, 1), (1, 0)):
                totals += check(rule(stats[a]), stats[b])
            found[name].append(totals)
    full = count_boxes(images, num_classes)
    rows = {}
    for name, rule in rules.items():
        table = np.asarray(found[name])
        share = table[:, 2] / np.maximum(table[:, 1], 1)
        edges = sum(len(e) for e in rule(full).values())
        rows[name] = [edges, table[:, 0].mean() / 2, share.mean(), share.std()]
    return rows


def coco_source(path: Path) -> tuple[list[Image], int]:
    names, images = coco_images(path)
    return list(images), len(names)


def hard_source(count: int) -> tuple[list[Image], int]:
    names = class_names()
    index = {name: i for i, name in enumerate(names)}
    images = []
    for k in range(count):
        regions = plan(0, k).regions
        labels = np.asarray([index[r.name] for r in regions], np.int64)
        # (y1, x1, y2, x2) inclusive -> xyxy
        boxes = np.asarray(
            [(b[1], b[0], b[3] + 1, b[2] + 1) for b in (r.box for r in regions)], np.float64
        ).reshape(-1, 4)
        images.append((labels, boxes))
    return images, len(names)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    samples = os.environ.get("ITER_REASONING_REAL_SAMPLES")
    default = Path(samples) / "coco_mini" / "instances_train2017.json" if samples else None
    parser.add_argument("--coco", type=Path, default=default, help="a COCO annotation file")
    parser.add_argument("--splits", type=int, default=20, help="random half splits")
    parser.add_argument("--hard-images", type=int, default=800, help="hard-tier layouts")
    args = parser.parse_args(argv)
    sources = {}
    if args.coco is not None:
        sources[f"COCO {args.coco.name}"] = coco_source(args.coco)
    if args.hard_images:
        sources[f"hard tier, {args.hard_images} layouts"] = hard_source(args.hard_images)
    for title, (images, num_classes) in sources.items():
        print(f"\n{title}: {len(images)} images, {num_classes} classes, {args.splits} splits")
        print(f"  {'rule':<24} {'edges (all)':>11} {'per half':>9} {'hold on the other half':>24}")
        for name, (edges, half, mean, std) in measure(images, num_classes, args.splits).items():
            print(f"  {name:<24} {edges:>11d} {half:>9.1f} {mean:>17.1%} ± {std:.1%}")


if __name__ == "__main__":
    main()
