"""Part-of relations mined from ADE20K's part annotations, as the original code did."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from knowledge_graphs.ade_files import instance_ranks, read_2021, read_atr
from knowledge_graphs.resolution import normalize

PartCounts = Counter[tuple[str, str]]


def ade_part_counts(images: Iterable[str | os.PathLike[str]], progress: bool = False) -> PartCounts:
    """Count ``(part, whole)`` class-name pairs over ADE20K images.

    Each entry of ``images`` is an image path (``.../ADE_train_00000970.jpg``, the ``.jpg``
    need not exist). The release is detected per image:

    - **2016_07_26** (``X_atr.txt``, ``X_seg.png``, ``X_parts_L.png``): the parent of a part
      instance at level ``L`` is the instance at level ``L - 1`` with the most pixels under it
      (instances are the ranks of the non-zero B-channel values of each mask, matching the
      atr instance numbers);
    - **2021_17_01** (``X.json``): the ``parts.ispartof`` pointer of each object.

    Names are the raw names (``raw_name``, atr column 5) in lemma form (``left_arm``).

    Raises:
        FileNotFoundError: an image with neither an ``_atr.txt`` nor a ``.json`` file.
        ValueError: a malformed atr line (file and line named) or masks that disagree with it.
    """
    counts: PartCounts = Counter()
    items = list(images)
    iterator: Iterable[str | os.PathLike[str]] = items
    if progress:
        from tqdm import tqdm

        iterator = tqdm(items, desc="ADE part annotations", unit="image")
    for image in iterator:
        base = Path(image)
        stem = base.with_suffix("") if base.suffix in (".jpg", ".png", ".json") else base
        atr = stem.with_name(stem.name + "_atr.txt")
        annotation = stem.with_suffix(".json")
        if atr.is_file():
            counts.update(_pairs_2016(stem, atr))
        elif annotation.is_file():
            counts.update(_pairs_2021(annotation))
        else:
            raise FileNotFoundError(
                f"{image}: neither {atr.name} (ADE20K 2016) nor {annotation.name} (2021) exists"
            )
    return counts


def ade_part_of(
    names: Sequence[str], counts: PartCounts, min_count: int = 1
) -> list[tuple[int, int, float]]:
    """Edges ``(part, whole, n)`` between classes of ``names`` seen ``n >= min_count`` times.

    Example:
        >>> from collections import Counter
        >>> seen = Counter({("wheel", "car"): 7, ("door", "car"): 1})
        >>> ade_part_of(["car", "wheel", "door"], seen, min_count=2)
        [(1, 0, 7.0)]
    """
    index = {normalize(n): i for i, n in enumerate(names)}
    edges = []
    for (part, whole), n in counts.items():
        i, j = index.get(normalize(part)), index.get(normalize(whole))
        if i is not None and j is not None and i != j and n >= min_count:
            edges.append((i, j, float(n)))
    return sorted(edges)


def _pairs_2016(stem: Path, atr: Path) -> PartCounts:
    names = {key: normalize(name) for key, name in read_atr(atr).items()}
    levels = sorted({level for _, level in names})
    maps = {}
    for level in range(0, max(levels, default=0) + 1):
        png = stem.with_name(stem.name + ("_seg.png" if level == 0 else f"_parts_{level}.png"))
        if level in levels or level + 1 in levels:
            if not png.is_file():
                raise FileNotFoundError(
                    f"{atr}: lists level-{level} instances but {png} is missing"
                )
            maps[level] = instance_ranks(png)[0]
    counts: PartCounts = Counter()
    for level in levels:
        if level == 0:
            continue
        child, parent = maps[level], maps[level - 1]
        if child.shape != parent.shape:
            raise ValueError(f"{stem}: the masks of levels {level - 1} and {level} differ in size")
        for c, p in _majority_parent(child, parent).items():
            part, whole = names.get((c, level)), names.get((p, level - 1))
            if part is None or whole is None:
                raise ValueError(
                    f"{atr}: instance {c} at level {level} or {p} at level {level - 1} is in the "
                    "masks but not in the atr file"
                )
            counts[(part, whole)] += 1
    return counts


def _majority_parent(child: np.ndarray, parent: np.ndarray) -> dict[int, int]:
    """For each child instance, the parent instance with the most pixels under it."""
    keep = (child > 0) & (parent > 0)
    c, p = child[keep].astype(np.int64), parent[keep].astype(np.int64)
    if c.size == 0:
        return {}
    code = c * (int(p.max()) + 1) + p
    pairs, n = np.unique(code, return_counts=True)
    best: dict[int, tuple[int, int]] = {}
    for value, count in zip(pairs.tolist(), n.tolist(), strict=True):
        ci, pi = divmod(value, int(p.max()) + 1)
        if ci not in best or count > best[ci][1]:
            best[ci] = (pi, count)
    return {ci: pi for ci, (pi, _) in best.items()}


def _pairs_2021(annotation: Path) -> PartCounts:
    objects = read_2021(annotation)[0]
    by_id = {o["id"]: normalize(str(o["raw_name"])) for o in objects}
    counts: PartCounts = Counter()
    for o in objects:
        parts = o.get("parts")
        parent = parts.get("ispartof") if isinstance(parts, dict) else None
        if isinstance(parent, int) and parent in by_id:
            counts[(normalize(str(o["raw_name"])), by_id[parent])] += 1
    return counts
