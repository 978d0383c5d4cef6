"""The annotation of one image, as the datasets hand it over, and a resumable cache of them."""

from __future__ import annotations

import bisect
import hashlib
import json
import os
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from iterative_reasoning.data.transforms import hflip, resize
from knowledge_graphs.files import open_append


@dataclass(frozen=True)
class ImageRecord:
    """One image and its regions, in the original image's pixels.

    Attributes:
        image_id: a name unique within the dataset (``ADE_train_00000970``).
        path: the image file.
        height: original height, pixels.
        width: original width, pixels.
        boxes: ``[n, 4]`` float ``xyxy`` in continuous pixel coordinates: a region whose pixels
            span columns ``x1..x2`` inclusive has the box ``[x1, y1, x2 + 1, y2 + 1]``.
        labels: ``[n]`` class indices (1-based: 0 is background, never a region's label).
    """

    image_id: str
    path: str
    height: int
    width: int
    boxes: np.ndarray
    labels: np.ndarray

    def to_json(self) -> dict[str, object]:
        return {
            "image_id": self.image_id,
            "path": self.path,
            "height": self.height,
            "width": self.width,
            "boxes": self.boxes.tolist(),
            "labels": self.labels.tolist(),
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> ImageRecord:
        return cls(
            str(data["image_id"]),
            str(data["path"]),
            int(data["height"]),  # type: ignore[call-overload]
            int(data["width"]),  # type: ignore[call-overload]
            np.asarray(data["boxes"], dtype=np.float32).reshape(-1, 4),
            np.asarray(data["labels"], dtype=np.int64).reshape(-1),
        )


class RecordCache:
    """Parsed records appended to a JSON-lines file as they are made, so that an interrupted
    parse resumes where it stopped; a torn last line (a kill mid-write) is ignored."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def load(self) -> dict[str, ImageRecord | None]:
        """Key -> record (``None`` for an image that was skipped) of what is cached."""
        done: dict[str, ImageRecord | None] = {}
        if not self.path.exists():
            return done
        with open(self.path, encoding="utf-8") as f:
            for line in f:
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line torn by an interruption: parsed again
                record = entry.get("record")
                done[entry["key"]] = ImageRecord.from_json(record) if record else None
        return done

    def fill(
        self,
        keys: Iterable[str],
        parse: Callable[[str], ImageRecord | None],
        progress: Callable[[Iterable[str]], Iterator[str]] | None = None,
    ) -> dict[str, ImageRecord | None]:
        """Parse the keys not cached yet, appending each result; return all of them."""
        done = self.load()
        todo = [k for k in keys if k not in done]
        if todo:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            torn = self._torn()
            with open_append(self.path) as f:
                if torn:  # end the torn line, so that the next one is whole
                    f.write("\n")
                for key in progress(todo) if progress else todo:
                    record = parse(key)
                    line = {"key": key, "record": record.to_json() if record else None}
                    f.write(json.dumps(line) + "\n")
                    f.flush()
                    done[key] = record
        return done

    def _torn(self) -> bool:
        """The file's last line was cut short (it does not end with a newline)."""
        if not self.path.exists() or self.path.stat().st_size == 0:
            return False
        with open(self.path, "rb") as f:
            f.seek(-1, os.SEEK_END)
            return f.read(1) != b"\n"


class RegionSample(NamedTuple):
    """One image of a region-classification dataset, ready for the model.

    Attributes:
        image: RGB floats in ``[0, 1]``, ``[3, H, W]`` (resized).
        boxes: ``xyxy`` in pixels of the resized image, ``[n, 4]``.
        labels: class indices, ``[n]``.
        image_id: the dataset's name of the image.
        scale: resized / original size.
        masks: the visible extent of each region, the fraction of each of the ``P x P`` bins
            of its box that its instance mask covers, ``[n, P, P]``; ``None`` where the
            dataset has no masks (see :func:`~iterative_reasoning.ops.box_masks`).
    """

    image: Tensor
    boxes: Tensor
    labels: Tensor
    image_id: str
    scale: float
    masks: Tensor | None = None


def load_sample(
    record: ImageRecord,
    flip: Tensor,
    hflip_prob: float = 0.0,
    min_size: int = 600,
    max_size: int = 1000,
    check_size: bool = True,
    masks: Tensor | None = None,
) -> RegionSample:
    """Read a record's image and apply the flip (with probability ``hflip_prob``, ``flip`` the
    label permutation of :func:`~iterative_reasoning.data.transforms.flip_permutation`) and the
    paper's resize; box-relative ``masks`` ``[n, P, P]`` flip with the image."""

    image = read_image(record.path)
    if check_size and image.shape[1:] != (record.height, record.width):
        raise ValueError(
            f"{record.path}: the image is {tuple(image.shape[1:])} but its annotation "
            f"{(record.height, record.width)}"
        )
    boxes = torch.from_numpy(record.boxes.copy())
    labels = torch.from_numpy(record.labels.copy())
    if hflip_prob > 0 and float(torch.rand(())) < hflip_prob:
        image, boxes, labels = hflip(image, boxes, labels, flip)
        masks = masks.flip(-1) if masks is not None else None
    image, boxes, scale = resize(image, boxes, min_size, max_size)
    return RegionSample(image, boxes, labels, record.image_id, scale, masks)


def read_image(path: str) -> Tensor:
    """An image file as RGB floats in ``[0, 1]``, ``[3, H, W]``; a missing or unreadable
    file raises with its path."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            array = np.asarray(im.convert("RGB"))
    except FileNotFoundError:
        raise FileNotFoundError(f"image {path} is missing") from None
    except OSError as error:
        raise ValueError(f"{path}: not a readable image ({error})") from error
    return torch.from_numpy(array.copy()).permute(2, 0, 1).float() / 255


class RecordDataset(Dataset[RegionSample]):
    """A dataset of parsed :class:`ImageRecord`: the paper's resize and the flip that swaps
    ``left_*``/``right_*`` labels on reading. Subclasses parse, then call :meth:`_keep`.

    Attributes:
        records: the images with at least one region of the classes.
        skipped: images without one.
    """

    classes: list[str]
    flip: Tensor
    hflip_prob: float
    min_size: int
    max_size: int
    check_size: bool = True
    records: list[ImageRecord]
    skipped: int

    def _keep(self, parsed: Sequence[ImageRecord | None], name: str, empty: str) -> None:
        """Keep the records that have regions; raise ``empty`` when none has, and warn with the
        count of the skipped images otherwise."""
        self.records = [r for r in parsed if r is not None]
        self.skipped = len(parsed) - len(self.records)
        if not self.records:
            raise ValueError(f"{name}: {empty}")
        if self.skipped:
            warnings.warn(
                f"{name}: skipped {self.skipped} of {len(parsed)} image(s) with no region of "
                "the vocabulary",
                stacklevel=3,
            )

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> RegionSample:
        return load_sample(
            self.records[index],
            self.flip,
            self.hflip_prob,
            self.min_size,
            self.max_size,
            check_size=self.check_size,
        )


def default_cache_dir(root: str | os.PathLike[str]) -> Path:
    """Where parsed annotations of the dataset at ``root`` are kept when no ``cache_dir`` is
    given: a folder of the user's, never the dataset's own (often shared and read-only):
    ``$ITER_REASONING_CACHE``, else ``$XDG_CACHE_HOME/iterative-reasoning``, else
    ``~/.cache/iterative-reasoning``; one subfolder per dataset, named by its folder and a hash
    of its absolute path."""
    base = os.environ.get("ITER_REASONING_CACHE")
    if not base:
        xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        base = str(Path(xdg) / "iterative-reasoning")
    where = Path(root).resolve()
    digest = hashlib.sha256(str(where).encode()).hexdigest()[:12]
    return Path(base) / f"{where.name or 'root'}-{digest}"


def file_fingerprint(*paths: str | os.PathLike[str]) -> str:
    """A short digest of the size and modification time of each file: it changes when any of
    them is edited or replaced, so a cache keyed by it is never stale."""
    parts = []
    for path in paths:
        info = os.stat(path)
        parts.append(f"{os.fspath(path)}:{info.st_size}:{info.st_mtime_ns}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def sibling_fingerprints(images: Sequence[str | os.PathLike[str]]) -> dict[str, str]:
    """For each image path, a digest of the size and modification time of every file beside
    it that belongs to it (``<stem>``, ``<stem>.*``, ``<stem>_*``: its annotations, masks and
    part maps), one directory listing per folder."""
    by_folder: dict[Path, list[Path]] = {}
    for image in images:
        path = Path(image)
        by_folder.setdefault(path.parent, []).append(path)
    result = {}
    for folder, paths in by_folder.items():
        with os.scandir(folder) as listing:
            entries = sorted((e.name, e.stat().st_size, e.stat().st_mtime_ns) for e in listing)
        names = [e[0] for e in entries]
        for path in paths:
            stem = path.stem
            start = bisect.bisect_left(names, stem)
            mine = []
            for name, size, mtime in entries[start:]:
                if not name.startswith(stem):
                    break
                if name == stem or name[len(stem)] in "._":
                    mine.append(f"{name}:{size}:{mtime}")
            result[str(path)] = hashlib.sha256("\n".join(mine).encode()).hexdigest()[:16]
    return result
