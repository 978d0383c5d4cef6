"""ADE20K as the paper used it (the 2016_07_26 release, raw-name classes with count >= 5, parts
at every level as regions, the iter-reason split files), and the 2021_17_01 release."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

from iterative_reasoning.data.records import (
    ImageRecord,
    RecordCache,
    RecordDataset,
    default_cache_dir,
    sibling_fingerprints,
)
from iterative_reasoning.data.transforms import flip_permutation
from knowledge_graphs.ade_files import Release, image_regions, image_release, split_images
from knowledge_graphs.class_graph import BACKGROUND, check_class_names
from knowledge_graphs.ready_made import vocabulary


def dataset_classes(classes: object, default: Callable[[], list[str]]) -> list[str]:
    """A dataset's ``classes`` argument checked (names, background first), or ``default()``
    when it is ``None``."""
    if classes is None:
        return default()
    names = check_class_names("classes", classes)
    if not names or names[0] != BACKGROUND:
        raise ValueError(
            f"classes must start with {BACKGROUND!r} (label 0), got "
            f"{names[:3] if names else 'none'}"
        )
    return names


def ade_vocabulary(root: str | os.PathLike[str] | None = None, min_count: int = 5) -> list[str]:
    """The paper's classes: ``__background__``, then the raw names (spaces as ``_``) of
    ``objectnames.txt`` whose ``objectcounts.txt`` count is at least ``min_count`` (1,484 at 5).
    Without the files in ``root``, the vocabulary shipped with the package (count >= 5)."""
    if root is not None and (Path(root) / "objectnames.txt").is_file():
        names_file, counts_file = Path(root) / "objectnames.txt", Path(root) / "objectcounts.txt"
        if not counts_file.is_file():
            raise FileNotFoundError(f"{names_file} has no {counts_file.name} beside it")
        names = names_file.read_text(encoding="utf-8").splitlines()
        counts = counts_file.read_text(encoding="utf-8").splitlines()
        if len(names) != len(counts):
            raise ValueError(f"{names_file} has {len(names)} lines but {counts_file} {len(counts)}")
        kept = []
        for number, (name, count) in enumerate(zip(names, counts, strict=True)):
            if number == 0:
                continue  # the "-" placeholder
            try:
                n = int(count)
            except ValueError:
                raise ValueError(
                    f"{counts_file}, line {number + 1}: not a count: {count!r}"
                ) from None
            if n >= min_count:
                kept.append(name.strip().replace(" ", "_"))
        return [BACKGROUND, *kept]
    if min_count < 5:
        raise FileNotFoundError(
            f"min_count={min_count} needs objectnames.txt and objectcounts.txt in the root"
        )

    shipped, shipped_counts = vocabulary("ade20k")
    assert shipped_counts is not None  # the ADE vocabulary ships its counts
    return [
        BACKGROUND,
        *(n for n, c in zip(shipped, shipped_counts, strict=True) if c >= min_count),
    ]


class ADE20K(RecordDataset):
    """ADE20K region classification with ground-truth boxes.

    - **2016_07_26** (the paper's): ``root`` holds ``images/`` and the iter-reason split files
      (``train.txt``, ``val.txt``, ``mval.txt``, ``mtest.txt``: image paths relative to ``root``)
      and ``objectnames.txt`` / ``objectcounts.txt``. A region is every instance of
      ``X_atr.txt`` whose raw name (column 5) is a class, objects and parts at every level; its
      instance is the rank of its B value among the non-zero B values of ``X_seg.png`` (level
      0) or ``X_parts_L.png``, and its box the extent of those pixels.
    - **2021_17_01**: ``root`` holds ``images/ADE/{training,validation}/...`` with one ``X.json``
      per image (splits ``train`` and ``val``: the two folders, as the release ships no split
      files); a region is every object whose ``raw_name`` is a class, its box the visible
      pixels (255) of its ``instance_mask``.

    The files are read by :mod:`knowledge_graphs.ade_files` (the class-graph statistics read
    the same regions).

    Images are resized to 600 on the short side, at most 1000 on the long side; a horizontal
    flip (``hflip_prob``) swaps ``left_*`` and ``right_*`` labels. Parsed annotations are cached
    (``cache_dir``) as they are parsed, so an interrupted first pass resumes. Images with no
    region of the vocabulary are skipped and counted in :attr:`skipped`.

    Args:
        root: the dataset directory.
        split: ``train``, ``val``, ``mval``, ``mtest`` (2016's split files) or ``train``,
            ``val`` (2021's folders); ``training``, ``validation`` or ``all`` (the release's
            folders, either release); or a path to a split file
            (:func:`~knowledge_graphs.ade_files.split_images`).
        release: ``"2016"``, ``"2021"``, or ``"auto"`` (by the annotation files present).
        classes: the class names, background first; by default :func:`ade_vocabulary`.
        min_size: short side after resizing (600).
        max_size: longest long side after resizing (1000).
        hflip_prob: probability of a horizontal flip.
        cache_dir: where parsed annotations are kept (by default a folder of the user's,
            :func:`~iterative_reasoning.data.records.default_cache_dir`, never the dataset's).
        progress: show a progress bar while parsing.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        split: str = "train",
        release: Release = "auto",
        classes: Sequence[str] | None = None,
        min_size: int = 600,
        max_size: int = 1000,
        hflip_prob: float = 0.0,
        cache_dir: str | os.PathLike[str] | None = None,
        progress: bool = False,
    ) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(f"ADE20K root {str(self.root)!r} is not a directory")
        self.classes = dataset_classes(classes, lambda: ade_vocabulary(self.root))
        self.class_index = {c: i for i, c in enumerate(self.classes)}
        self.min_size, self.max_size, self.hflip_prob = min_size, max_size, hflip_prob
        self.flip = flip_permutation(self.classes)
        images = split_images(self.root, split, release)
        self.release = release if release != "auto" else image_release(images[0])
        digest = hashlib.sha256("\n".join(self.classes).encode()).hexdigest()[:12]
        name = f"ade20k_{self.release}_{Path(split).stem}_{digest}.jsonl"
        cache = RecordCache(Path(cache_dir or default_cache_dir(self.root)) / name)
        bar = _progress(f"ADE20K {split}") if progress else None
        # each record is keyed by its image and the size and time of its annotation files, so
        # an edited annotation is parsed again
        fingerprints = sibling_fingerprints(images)
        keys = [f"{p}#{fingerprints[str(p)]}" for p in images]
        parsed = cache.fill(keys, lambda key: self._parse(Path(key.rsplit("#", 1)[0])), bar)
        self._keep(
            [parsed[key] for key in keys],
            f"ADE20K {split}",
            f"none of the {len(images)} image(s) has a region of the {len(self.classes) - 1} "
            "classes; are the classes those of this dataset?",
        )

    def _parse(self, image: Path) -> ImageRecord | None:
        found = image_regions(image, self.class_index)
        if found is None:
            return None
        labels, boxes, (height, width) = found
        return ImageRecord(image.stem, str(image), height, width, boxes, labels)


def _progress(description: str) -> Callable[[Iterable[str]], Iterator[str]]:
    from tqdm import tqdm

    return lambda items: iter(tqdm(items, desc=description, unit="image"))
