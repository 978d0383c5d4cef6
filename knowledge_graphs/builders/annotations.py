"""Annotated images as ``(labels, boxes)`` pairs for :func:`~knowledge_graphs.builders.
statistics.count_boxes`: from a COCO-format file, from ADE20K (either release), from any dataset of
:class:`~iterative_reasoning.data.records.ImageRecord`, and from Visual Genome's
``objects.json`` (streamed)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from knowledge_graphs.ade_files import image_regions, split_images
from knowledge_graphs.builders.vg_relationships import iter_json_array
from knowledge_graphs.coco_file import coco_bbox, coco_category_list, read_coco_file
from knowledge_graphs.resolution import normalize

Images = Iterator[tuple[np.ndarray, np.ndarray]]


def coco_images(path: str | os.PathLike[str]) -> tuple[list[str], Images]:
    """The category names of a COCO-format file (in category-id order, the classes' order) and
    its images, in the order of their ids: the labels (index in that order) and ``xyxy`` boxes
    of each image's non-crowd annotations. The file is read and checked by
    :func:`~knowledge_graphs.coco_file.read_coco_file` (repeated image or annotation ids, a
    category named as the background and boxes that are not four finite numbers are errors).

    Raises:
        FileNotFoundError: no such file.
        ValueError: not a COCO annotation file, or one of the faults above (the file is named).
    """
    path = Path(path)
    data = read_coco_file(path)
    categories = coco_category_list(data, path)
    names = [str(c["name"]) for c in categories]
    if not names:
        raise ValueError(f"{path}: has no categories")
    index = {c["id"]: i for i, c in enumerate(categories)}
    by_image: dict[Any, list[dict[str, Any]]] = {}
    for ann in data["annotations"]:
        if not isinstance(ann, dict) or "image_id" not in ann:
            raise ValueError(f"{path}: annotation {ann!r} has no image_id")
        if not ann.get("iscrowd", 0):
            by_image.setdefault(ann["image_id"], []).append(ann)

    def images() -> Images:
        for image_id in sorted(image["id"] for image in data["images"]):
            labels, boxes = [], []
            for ann in by_image.get(image_id, []):
                if ann.get("category_id") not in index:
                    raise ValueError(
                        f"{path}: annotation {ann.get('id')!r} has category_id "
                        f"{ann.get('category_id')!r}, which is not in categories"
                    )
                x, y, w, h = coco_bbox(ann, path)
                labels.append(index[ann["category_id"]])
                boxes.append((x, y, x + w, y + h))
            yield np.asarray(labels, np.int64), np.asarray(boxes, np.float64).reshape(-1, 4)

    return names, images()


def record_images(records: Sequence[Any]) -> Images:
    """The images of a dataset's :class:`~iterative_reasoning.data.records.ImageRecord` (ADE20K,
    Visual Genome, COCO-format datasets of this package), with the background-first labels of
    the records shifted to ``0..C-1``."""
    for record in records:
        yield np.asarray(record.labels, np.int64) - 1, np.asarray(record.boxes, np.float64)


def ade_images(
    root: str | os.PathLike[str],
    names: Sequence[str],
    split: str = "train",
    progress: bool = False,
) -> Images:
    """The images of an ADE20K split (either release; ``split`` as
    :func:`~knowledge_graphs.ade_files.split_images` takes it: the 2016 split files, the 2021
    folders, ``training``, ``validation`` or ``all``) with the regions of the classes
    ``names``, read as :class:`iterative_reasoning.data.ADE20K` reads them (objects and parts,
    boxes from the masks); an image with none of them counts as an image with no box."""
    images: Iterable[Path] = split_images(root, split)
    if progress:
        from tqdm import tqdm

        images = tqdm(images, desc=f"ADE20K {split}", unit="image")
    index = {name: i for i, name in enumerate(names)}
    for image in images:
        found = image_regions(image, index)
        if found is None:
            yield np.zeros(0, np.int64), np.zeros((0, 4), np.float64)
        else:
            yield found[0], found[1].astype(np.float64)


def vg_images(
    objects: str | os.PathLike[str],
    classes: Sequence[str],
    aliases: Mapping[str, str] | None = None,
) -> Images:
    """The images of Visual Genome's ``objects.json`` (v1.0, v1.2 or v1.4), streamed: each
    object's box once per class it names. When ``classes`` are synsets (``tree.n.01``), an
    object names the classes of its synsets; otherwise the class of its first name (stripped,
    lower-cased, aliased)."""
    by_synset, index = vg_class_index(classes)
    aliases = dict(aliases or {})
    for image in iter_json_array(objects):
        labels, boxes = [], []
        for obj in image.get("objects", ()):
            for key in object_keys(obj, by_synset, aliases):
                if key in index:
                    x, y = float(obj.get("x", 0)), float(obj.get("y", 0))
                    w, h = float(obj.get("w", 0)), float(obj.get("h", 0))
                    labels.append(index[key])
                    boxes.append((x, y, x + w, y + h))
        yield np.asarray(labels, np.int64), np.asarray(boxes, np.float64).reshape(-1, 4)


def object_keys(obj: Mapping[str, Any], by_synset: bool, aliases: Mapping[str, str]) -> list[str]:
    """The class keys of a Visual Genome object: its synsets, or its first name aliased
    (``names``, ``object_names`` in v1.0's attributes, or ``name``)."""
    if by_synset:
        return list(dict.fromkeys(obj.get("synsets") or ()))
    names = obj.get("names") or obj.get("object_names") or ([obj["name"]] if "name" in obj else [])
    if not names:
        return []
    name = str(names[0]).strip().lower()
    return [aliases.get(name, name)]


def vg_class_index(classes: Sequence[str]) -> tuple[bool, dict[str, int]]:
    """Whether ``classes`` are synsets (``tree.n.01``, then objects name classes by their
    synsets; otherwise by their first name), and the class of each key of
    :func:`object_keys`."""
    by_synset = all(_is_synset(c) for c in classes)
    return by_synset, {
        c.strip() if by_synset else c.strip().lower(): i for i, c in enumerate(classes)
    }


def _is_synset(name: str) -> bool:
    parts = name.strip().rsplit(".", 2)
    return len(parts) == 3 and parts[1] == "n" and parts[2].isdigit()


def remap_images(images: Images, names: Sequence[str], classes: Sequence[str]) -> Images:
    """``images`` labelled by ``names`` (a COCO file's categories) relabelled by ``classes``
    (a graph's), matching names in lemma form (``Traffic light`` = ``traffic_light``); boxes of
    names that are not classes are left out.

    Raises:
        ValueError: no name is a class.
    """

    where = {normalize(c): i for i, c in enumerate(classes)}
    table = np.asarray([where.get(normalize(n), -1) for n in names], np.int64)
    if not (table >= 0).any():
        raise ValueError(
            f"none of the {len(names)} annotated class names ({', '.join(names[:5])}, ...) is "
            f"one of the {len(classes)} classes"
        )
    for labels, boxes in images:
        mapped = table[labels] if len(labels) else labels
        keep = mapped >= 0
        yield mapped[keep], boxes[keep]
