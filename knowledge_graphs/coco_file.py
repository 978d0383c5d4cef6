"""A COCO annotation file, read and checked once for everything that reads one: the region and
detection datasets of :mod:`iterative_reasoning.data` and the box statistics of
:mod:`knowledge_graphs.builders.statistics`.

What is checked is what would otherwise give wrong numbers without a word: two images under
one id (the second would get the first one's boxes), two annotations under one id, a category
named as the background, a box that is not four finite numbers.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from knowledge_graphs.class_graph import BACKGROUND
from knowledge_graphs.files import read_json


def read_coco_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The annotation file at ``path``: a JSON object with the lists ``images``,
    ``annotations`` and ``categories``, every image with an ``id``, image and annotation ids
    unique.

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: a directory, not JSON, not COCO, repeated ids (the file is named).
    """
    path = Path(path)
    if path.is_dir():
        raise ValueError(
            f"COCO annotation file {path} is a directory; give the file itself, e.g. "
            f"{path / 'instances_train2017.json'}"
        )
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such COCO annotation file")
    data = read_json(path)
    if not isinstance(data, dict) or not all(
        isinstance(data.get(k), list) for k in ("images", "annotations", "categories")
    ):
        raise ValueError(
            f"{path}: not a COCO annotation file (needs lists 'images', 'annotations' and "
            "'categories')"
        )
    for key, items in (("image", data["images"]), ("annotation", data["annotations"])):
        ids = [item.get("id") for item in items if isinstance(item, dict)]
        if key == "image" and (len(ids) < len(items) or None in ids):
            raise ValueError(f"{path}: every image needs an 'id'")
        counts = Counter(str(i) for i in ids if i is not None)
        repeated = sorted(i for i, n in counts.items() if n > 1)
        if repeated:
            raise ValueError(
                f"{path}: {key} ids must be unique, but {repeated[:5]} appear more than once "
                f"(the {key}s would be mixed up)"
            )
    return data


def coco_category_list(data: dict[str, Any], path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The categories of a file read by :func:`read_coco_file`, in the order of their ids,
    checked: each has an ``id`` and a ``name``, neither repeats, and none is named
    ``__background__`` (label 0 of every classifier here)."""
    for category in data["categories"]:
        if not isinstance(category, dict) or "id" not in category or "name" not in category:
            raise ValueError(f"{path}: category {category!r} needs an 'id' and a 'name'")
        if category["name"] == BACKGROUND:
            raise ValueError(
                f"{path}: category {category['id']} is named {BACKGROUND!r}, the name this "
                "package keeps for the background class (label 0); rename it"
            )
    categories = sorted(data["categories"], key=lambda c: c["id"])
    for key in ("id", "name"):
        values = [c[key] for c in categories]
        repeated = sorted({str(v) for v in values if values.count(v) > 1})
        if repeated:
            raise ValueError(
                f"{path}: category {key}s must be unique, but {repeated[:5]} appear more than once"
            )
    return categories


def coco_category_names(path: str | os.PathLike[str]) -> list[str]:
    """The category names of the COCO annotation file at ``path``, in the order of their ids
    (read and checked by :func:`read_coco_file` and :func:`coco_category_list`)."""
    return [str(c["name"]) for c in coco_category_list(read_coco_file(path), path)]


def coco_bbox(
    ann: dict[str, Any], path: str | os.PathLike[str]
) -> tuple[float, float, float, float]:
    """An annotation's ``bbox`` ``[x, y, w, h]``: four finite numbers (not strings)."""
    bbox = ann.get("bbox")
    if not isinstance(bbox, list) or len(bbox) != 4 or not all(_is_number(v) for v in bbox):
        raise ValueError(
            f"{path}: annotation {ann.get('id')} needs a 'bbox' of four numbers [x, y, w, h], "
            f"got {bbox!r}"
        )
    x, y, w, h = (float(v) for v in bbox)
    if not all(np.isfinite([x, y, w, h])):
        raise ValueError(f"{path}: annotation {ann.get('id')} has a non-finite bbox {bbox!r}")
    return x, y, w, h


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
