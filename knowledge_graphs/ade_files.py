"""ADE20K's annotation files, read once for everything that reads them: the region dataset
(:class:`iterative_reasoning.data.ADE20K`), the box statistics of
:mod:`knowledge_graphs.builders.statistics` and the part-of pairs of
:mod:`knowledge_graphs.builders.ade_parts`. Nothing here needs the images or torch.

Two releases:

- **2016_07_26** (the paper's): per image ``X_atr.txt`` (one line per instance: number, part
  level, crop flag, WordNet name, raw name, attributes), ``X_seg.png`` (objects) and
  ``X_parts_L.png`` (parts at level ``L``); the instance of a pixel is the rank of its blue
  value among the non-zero ones. The paper's splits are the iter-reason files ``train.txt``,
  ``val.txt``, ``mval.txt`` and ``mtest.txt`` in the root.
- **2021_17_01**: per image ``X.json`` (``annotation.object``: ``raw_name``, ``instance_mask``,
  ``parts.ispartof``) and one PNG per instance; the release ships its images in the folders
  ``images/ADE/training`` and ``images/ADE/validation``, not split lists.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np

Release = Literal["auto", "2016", "2021"]
#: The iter-reason split files of the paper's 2016 release.
SPLITS_2016: tuple[str, ...] = ("train", "val", "mval", "mtest")
#: The release's own folders, by split name: ``training`` / ``validation`` (their names), and
#: ``train`` / ``val`` for the 2021 release (which has no split files), ``all`` for both.
FOLDER_SPLITS: dict[str, tuple[str, ...]] = {
    "training": ("training",),
    "validation": ("validation",),
    "all": ("training", "validation"),
}
_SHORT = {"train": "training", "val": "validation"}


def split_images(root: str | os.PathLike[str], split: str, release: Release = "auto") -> list[Path]:
    """The image paths of an ADE20K split (the ``.jpg`` need not exist; its annotation does).

    - a split file: ``split`` is a path to a ``.txt``, or ``root/<split>.txt`` exists (the
      iter-reason files of 2016; a user's own list): one image path per line, relative to
      ``root``;
    - a release folder: ``training``, ``validation`` or ``all`` (both), and for the 2021 release
      (or ``auto`` without a split file) ``train`` and ``val`` too: every annotated image under
      ``images/ADE/<folder>`` (2021) or ``images/<folder>`` (2016). ``root`` may be the release
      folder, its ``images`` or ``images/ADE``; ``all`` takes the folders there are.

    Without its split file, the 2016 ``train`` / ``val`` is an error: the paper's splits are the
    iter-reason files, not the release's folders (``training`` takes the folder).

    Raises:
        FileNotFoundError: no split file and no release folder, or a listed image without
            annotation (file and line named).
        ValueError: a split that lists no image.
    """
    root = Path(root)
    split_file = Path(split) if Path(split).suffix == ".txt" else root / f"{split}.txt"
    if split_file.is_file():
        images = _listed(root, split_file)
    elif split in FOLDER_SPLITS or (release != "2016" and split in _SHORT):
        folders = FOLDER_SPLITS.get(split) or (_SHORT[split],)
        if split == "all":  # the folders the release has (a sample may hold one)
            present = [f for f in folders if _folder(root, f) is not None]
            folders = tuple(present) or folders
        found = {p: r for name in folders for p, r in _folder_images(root, name, release).items()}
        images = list(found)
        if release == "auto" and split in _SHORT and "2016" in found.values():
            raise FileNotFoundError(
                f"split {split!r}: no split file {split_file}; this is the 2016 release, whose "
                f"splits are the iter-reason files {', '.join(s + '.txt' for s in SPLITS_2016)}"
                f" in the root (or take the release's folder: split {_SHORT[split]!r})"
            )
    else:
        raise FileNotFoundError(
            f"split {split!r}: no split file {split_file}; expected a split file (2016: the "
            f"iter-reason files {', '.join(s + '.txt' for s in SPLITS_2016)} in the root) or "
            f"one of the release's folders: {', '.join(FOLDER_SPLITS)} (and train, val for 2021)"
        )
    if not images:
        raise ValueError(f"split {split!r} lists no image")
    return images


def _listed(root: Path, split_file: Path) -> list[Path]:
    images = []
    lines = split_file.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        path = root / line.strip()
        if not atr_file(path).exists() and not path.with_suffix(".json").exists():
            raise FileNotFoundError(
                f"{split_file}, line {number}: {line.strip()!r} has no annotation "
                f"({path.stem}_atr.txt or {path.stem}.json) under {root}"
            )
        images.append(path)
    return images


def _folder_images(root: Path, folder: str, release: Release) -> dict[Path, str]:
    """Every annotated image under the release's ``folder``, sorted by path, with the release
    of its annotation (2016 where it has both, as :func:`image_release` reads it)."""
    where = _folder(root, folder)
    if where is None:
        raise FileNotFoundError(
            f"no ADE20K folder {folder!r} under {root} (looked for "
            f"{', '.join(str(c / folder) for c in _bases(root))})"
        )
    found: dict[Path, str] = {}
    if release in ("auto", "2021"):
        found.update((p.with_suffix(".jpg"), "2021") for p in where.rglob("ADE_*.json"))
    if release in ("auto", "2016"):
        found.update(
            (p.with_name(p.name[: -len("_atr.txt")] + ".jpg"), "2016")
            for p in where.rglob("ADE_*_atr.txt")
        )
    if not found:
        raise FileNotFoundError(
            f"no ADE20K annotations (ADE_*.json for 2021, ADE_*_atr.txt for 2016) under {where}"
        )
    return dict(sorted(found.items()))


def _bases(root: Path) -> list[Path]:
    """Where a release's split folders may be: under the release folder's ``images/ADE``
    (2021), its ``images`` (2016), ``root`` itself, or ``root/ADE`` (``root`` is ``images``)."""
    return [root / "images" / "ADE", root / "images", root, root / "ADE"]


def _folder(root: Path, folder: str) -> Path | None:
    return next((b / folder for b in _bases(root) if (b / folder).is_dir()), None)


def atr_file(image: Path) -> Path:
    """The 2016 ``X_atr.txt`` of image ``X.jpg``."""
    stem = image.with_suffix("")
    return stem.with_name(stem.name + "_atr.txt")


def _release_of(image: Path) -> Literal["2016", "2021"] | None:
    if atr_file(image).exists():
        return "2016"
    if image.with_suffix(".json").exists():
        return "2021"
    return None


def image_release(image: Path) -> Literal["2016", "2021"]:
    """The release of an image's annotation: ``2016`` (an ``_atr.txt``) or ``2021`` (a
    ``.json``).

    Raises:
        FileNotFoundError: neither file exists.
    """
    found = _release_of(image)
    if found is None:
        raise FileNotFoundError(
            f"{image}: neither an _atr.txt (2016) nor a .json (2021) annotation"
        )
    return found


def read_atr(atr: Path) -> dict[tuple[int, int], str]:
    """The instances of an ADE20K 2016 ``X_atr.txt``: ``(instance number, part level)`` -> raw
    name (column 5, stripped). A malformed line raises with the file and line number."""
    names = {}
    text = atr.read_text(encoding="utf-8", errors="replace")
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        fields = [f.strip() for f in line.split("#")]
        if len(fields) < 5 or not fields[0].isdigit() or not fields[1].isdigit():
            raise ValueError(
                f"{atr}, line {number}: not an atr line (expected 'NNN # level # crop # "
                f"wordnet name # raw name # attributes'): {line!r}"
            )
        names[(int(fields[0]), int(fields[1]))] = fields[4]
    return names


def read_2021(annotation: Path) -> tuple[list[dict[str, Any]], tuple[int, int] | None]:
    """The objects of an ADE20K 2021 ``X.json`` and its ``(height, width)`` (``None`` when it
    has no ``imsize``).

    Raises:
        ValueError: not a 2021 annotation (the file named).
    """
    try:
        data = json.loads(annotation.read_text(encoding="utf-8"))["annotation"]
        objects = data["object"]
        if not isinstance(objects, list) or not all(isinstance(o, dict) for o in objects):
            raise TypeError("'object' is not a list of JSON objects")
        size = data.get("imsize")
        return objects, None if size is None else (int(size[0]), int(size[1]))
    except (OSError, ValueError, KeyError, TypeError, IndexError) as error:
        raise ValueError(f"{annotation}: not an ADE20K 2021 annotation ({error})") from error


def instance_ranks(png: Path) -> tuple[np.ndarray, int]:
    """The instance number of each pixel of an ADE20K mask (``_seg.png``, ``_parts_L.png``):
    the 1-based rank of its B value among the non-zero B values (0 where B is 0), and the
    number of instances."""
    blue = _read_png(png, "RGB")[:, :, 2]
    values, inverse = np.unique(blue, return_inverse=True)
    offset = 0 if values[0] == 0 else 1
    ranks = (np.arange(len(values)) + offset)[inverse.reshape(blue.shape)]
    return ranks, len(values) - (1 - offset)


def inclusive_boxes_of(ranks: np.ndarray, count: int) -> np.ndarray:
    """``[count, 4]`` boxes ``[x1, y1, x2 + 1, y2 + 1]`` of the pixels of each instance rank
    ``1..count`` in a rank map (rows of ``-1`` for ranks with no pixel)."""
    rows, cols = np.indices(ranks.shape)
    flat, r, c = ranks.ravel(), rows.ravel(), cols.ravel()
    keep = flat > 0
    flat, r, c = flat[keep] - 1, r[keep], c[keep]
    big = np.iinfo(np.int64).max
    x1 = np.full(count, big)
    y1 = np.full(count, big)
    x2 = np.full(count, -1)
    y2 = np.full(count, -1)
    np.minimum.at(x1, flat, c)
    np.minimum.at(y1, flat, r)
    np.maximum.at(x2, flat, c)
    np.maximum.at(y2, flat, r)
    boxes = np.stack([x1, y1, x2 + 1, y2 + 1], axis=1).astype(np.float32)
    boxes[x2 < 0] = -1
    return boxes


def image_regions(
    image: Path, class_index: Mapping[str, int]
) -> tuple[np.ndarray, np.ndarray, tuple[int, int]] | None:
    """The regions of one ADE20K image (either release) whose raw names (spaces as ``_``) are
    keys of ``class_index``: their labels (the index's values), ``[n, 4]`` boxes
    ``[x1, y1, x2 + 1, y2 + 1]`` of their visible pixels, and the image's ``(height, width)``;
    ``None`` when none is a class.

    - 2016: every instance of ``X_atr.txt``, objects and parts at every level, its box the
      extent of its pixels in ``X_seg.png`` (level 0) or ``X_parts_L.png``;
    - 2021: every object of ``X.json``, its box the visible pixels (255) of its
      ``instance_mask`` (a fully occluded object has none and is left out).

    Raises:
        FileNotFoundError: no annotation, or a mask it names is missing.
        ValueError: a malformed annotation, or masks that disagree with it (the file named).
    """
    if image_release(image) == "2016":
        return _regions_2016(image, class_index)
    return _regions_2021(image, class_index)


def _regions_2016(
    image: Path, class_index: Mapping[str, int]
) -> tuple[np.ndarray, np.ndarray, tuple[int, int]] | None:
    stem = image.with_suffix("")
    atr = atr_file(image)
    wanted: dict[int, list[tuple[int, int]]] = {}
    for (instance, level), raw_name in read_atr(atr).items():
        label = class_index.get(raw_name.replace(" ", "_"))
        if label is not None:
            wanted.setdefault(level, []).append((instance, label))
    boxes, labels, size = [], [], (0, 0)
    for level, instances in sorted(wanted.items()):
        png = stem.with_name(stem.name + ("_seg.png" if level == 0 else f"_parts_{level}.png"))
        ranks, count = instance_ranks(png)
        size = (int(ranks.shape[0]), int(ranks.shape[1]))
        extent = inclusive_boxes_of(ranks, count)
        for instance, label in instances:
            if not 1 <= instance <= count or extent[instance - 1, 0] < 0:
                raise ValueError(
                    f"{atr}: instance {instance:03d} at level {level} is not in {png.name} "
                    f"({count} instances)"
                )
            boxes.append(extent[instance - 1])
            labels.append(label)
    if not boxes:
        return None
    return np.asarray(labels, np.int64), np.stack(boxes), size


def _regions_2021(
    image: Path, class_index: Mapping[str, int]
) -> tuple[np.ndarray, np.ndarray, tuple[int, int]] | None:
    annotation = image.with_suffix(".json")
    objects, size = read_2021(annotation)
    if size is None:
        raise ValueError(f"{annotation}: not an ADE20K 2021 annotation (no 'imsize')")
    boxes, labels = [], []
    for obj in objects:
        label = class_index.get(str(obj.get("raw_name", "")).strip().replace(" ", "_"))
        if label is None:
            continue
        if "instance_mask" not in obj:
            raise ValueError(f"{annotation}: object {obj.get('id')!r} has no instance_mask")
        visible = (_read_png(annotation.parent / str(obj["instance_mask"]), "L") == 255).astype(
            np.int64
        )
        box = inclusive_boxes_of(visible, 1)[0]
        if box[0] < 0:
            continue  # fully occluded: no visible pixel, no box
        boxes.append(box)
        labels.append(label)
    if not boxes:
        return None
    return np.asarray(labels, np.int64), np.stack(boxes), size


def _read_png(png: Path, mode: str) -> np.ndarray:
    from PIL import Image

    try:
        with Image.open(png) as im:
            return np.asarray(im.convert(mode))
    except FileNotFoundError:
        raise FileNotFoundError(f"{png} is missing") from None
    except OSError as error:
        raise ValueError(f"{png}: not a readable PNG ({error})") from error
