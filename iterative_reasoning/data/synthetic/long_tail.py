"""The long-tail tier of the synthetic benchmark: 68 classes with real WordNet names and
Zipf-like frequencies, look-alike groups whose rare members look exactly like frequent ones and
differ only by context that a class graph states, and an annotation-only corpus from the same
generator in which that context is plentiful.

Six look-alike groups of three members (frequent, medium and rare: priors 0.85 / 0.125 / 0.025
in the training images, :data:`~iterative_reasoning.data.synthetic.long_tail_classes.PRIOR`),
two of them per ``384 x 384`` image, each told apart by one rule
(:data:`~iterative_reasoning.data.synthetic.long_tail_classes.GROUPS`):

- **part-of** (WordNet's ``is_part_of``, ``box_inside`` in the boxes): a ``panel`` inside a
  building is a ``door``, inside a car a ``car_door``, inside a bus a ``window``; a ``blade``
  on an airplane is a ``wing``, on a fish a ``fin``, on a bird a ``beak``;
- **layout** (``box_above`` / ``box_below`` / ``box_left_of`` in the boxes): a ``band`` with a
  table below it is a ``ceiling``, above it a ``floor``, to its left a ``rug``; a ``cushion``
  and a bed: ``pillow``, ``slipper``, ``blanket``;
- **co-occurrence** (``co_occurs_with`` in the boxes): a ``small oval`` with a keyboard in the
  image is a ``computer_mouse``, with cheese a ``mouse``, with a nest an ``egg``; a ``rod`` with
  a notebook, a cake or a bowl is a ``pencil``, a ``candle`` or a ``chopstick``.

Each cue is absent with probability :data:`ABSENT` (0.10) and misleading (another member's) with
probability :data:`MISLEADING` (0.02); the cue objects and wholes also appear alone, in images
without their group, so that a detector sees them often. Five to nine plain objects of 36
classes with Zipf frequencies (``1 / k ** 1.1``) fill the rest. In 800 training images the
commonest plain class has more than a thousand boxes and each rare member six or seven;
:func:`box_counts` counts them. A test split draws the members uniformly (``balanced``), so
that each rare class has test boxes; its guesses stay under the training prior.

The **annotation-only corpus** (:func:`write_corpus`) is the training distribution at a larger
scale, boxes and labels without images: its 20,000 scenes hold each rare member with its cue
about 150 times, where the training images hold it six or seven times. Mining it
(``knowledge-graphs build --cooccurrence-from-coco``) states the rare members' context that the
training images cannot teach.

The **ceiling** (:func:`ceiling`): for each look-alike region the generator computes the most
probable member given the cue its image shows (the training prior times the cue's likelihood);
the share of regions whose label that is, overall, per group and per member tier, is the best
per-instance accuracy a model can reach. A rare member is decided when its own cue is shown.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from iterative_reasoning.data.synthetic.easy import IMAGE_SIZE, Instance
from iterative_reasoning.data.synthetic.hard import draw
from iterative_reasoning.data.synthetic.long_tail_classes import (
    ABSENT,
    APPEARANCES,
    BALANCED,
    CLASSES,
    GROUPS,
    MISLEADING,
    PRIOR,
    TIERS,
    class_names,
    tier_of,
)
from iterative_reasoning.data.synthetic.long_tail_layout import plan
from knowledge_graphs.files import write_atomic

__all__ = [
    "ABSENT",
    "BALANCED",
    "CLASSES",
    "GROUPS",
    "MISLEADING",
    "PRIOR",
    "box_counts",
    "ceiling",
    "class_names",
    "corpus_annotations",
    "render",
    "tier_of",
    "write_corpus",
]


def render(seed: int, index: int, balanced: bool = False) -> tuple[np.ndarray, list[Instance]]:
    """The ``index``-th image of split ``seed`` (members drawn uniformly when ``balanced``):
    RGB ``uint8 [384, 384, 3]`` and its regions' visible pixels, in the plan's region order."""
    scene = plan(seed, index, BALANCED if balanced else PRIOR)
    return draw(scene, APPEARANCES, np.random.default_rng([seed, index, 1]))


def ceiling(seed: int, count: int, balanced: bool = False) -> dict[str, Any]:
    """The ceiling of split ``seed`` of ``count`` images: the share of regions whose label is
    the most probable given the image (``instance_ac``, percent), the same per group and per
    member tier (``frequent``, ``medium``, ``rare``), and the regions counted."""
    regions = 0
    by_group = {g.name: [0, 0] for g in GROUPS}
    by_tier = {t: [0, 0] for t in TIERS}
    for index in range(count):
        scene = plan(seed, index, BALANCED if balanced else PRIOR)
        regions += len(scene.regions)
        for a in scene.ambiguous:
            for tally in (by_group[a.group], by_tier[tier_of(a.label)]):
                tally[0] += a.decided
                tally[1] += 1
    undecided = sum(total - hit for hit, total in by_group.values())
    return {
        "instance_ac": 100.0 * (regions - undecided) / max(regions, 1),
        "groups": {g: 100.0 * hit / max(total, 1) for g, (hit, total) in by_group.items()},
        "tiers": {t: 100.0 * hit / max(total, 1) for t, (hit, total) in by_tier.items()},
        "regions": regions,
    }


def box_counts(seed: int, count: int, balanced: bool = False) -> dict[str, int]:
    """The boxes of each class in split ``seed`` of ``count`` images, as drawn (every class,
    in label order)."""
    counts = dict.fromkeys(CLASSES, 0)
    for index in range(count):
        for region in plan(seed, index, BALANCED if balanced else PRIOR).regions:
            counts[str(region.name)] += 1
    return counts


def corpus_annotations(seed: int, count: int) -> dict[str, Any]:
    """The annotation-only corpus: ``count`` scenes of split ``seed`` under the training prior,
    as a COCO annotation file's content (categories in label order, ids from 1, as the images'
    files of :func:`~iterative_reasoning.data.synthetic_formats.write_coco`), each scene's boxes
    (``bbox`` from the plan, before occlusion) and labels, and no image files: its ``images``
    name files that do not exist."""
    ids = {name: k + 1 for k, name in enumerate(CLASSES)}
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    for index in range(count):
        images.append(
            {
                "id": index + 1,
                "file_name": f"corpus/{index:06d}.png",
                "height": IMAGE_SIZE,
                "width": IMAGE_SIZE,
            }
        )
        for region in plan(seed, index, PRIOR).regions:
            y1, x1, y2, x2 = region.box
            w, h = float(x2 - x1 + 1), float(y2 - y1 + 1)
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": index + 1,
                    "category_id": ids[str(region.name)],
                    "bbox": [float(x1), float(y1), w, h],
                    "area": w * h,
                    "iscrowd": 0,
                }
            )
    categories = [{"id": i, "name": n, "supercategory": tier_of(n)} for n, i in ids.items()]
    info = {
        "description": "the long-tail tier's annotation-only corpus: boxes and labels, no images",
        "seed": seed,
        "scenes": count,
    }
    return {"info": info, "images": images, "annotations": annotations, "categories": categories}


def write_corpus(path: str | os.PathLike[str], seed: int, count: int) -> Path:
    """Write :func:`corpus_annotations` to ``path`` (a COCO annotation file); returns it."""
    if count < 1:
        raise ValueError(f"the corpus needs at least one scene, got {count}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps(corpus_annotations(seed, count)))
    return path
