"""The synthetic benchmark written in real formats, so that the real loaders read it: the
ADE20K 2016 layout (:class:`~iterative_reasoning.data.ADE20K`) and COCO's
(:class:`~iterative_reasoning.data.COCODataset`, :class:`~iterative_reasoning.data.COCODetection`),
for either tier (:func:`~iterative_reasoning.data.synthetic.scenes.tier`)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from iterative_reasoning.data.synthetic import IMAGE_SIZE, tier
from knowledge_graphs.files import atomic_open, write_atomic


def write_ade2016(
    root: str | os.PathLike[str],
    splits: dict[str, int] | None = None,
    seed: int = 0,
    benchmark: str = "easy",
) -> Path:
    """Write the benchmark (its tier ``benchmark``) in the ADE20K 2016 layout:
    ``images/{training,validation}/s/synthetic_scene/ADE_{train,val}_NNNNNNNN{.jpg,_seg.png,
    _parts_1.png,_atr.txt}``, the split
    files (``train.txt``, ``mval.txt``, ``mtest.txt`` by default) and ``objectnames.txt`` /
    ``objectcounts.txt``; :class:`~iterative_reasoning.data.ADE20K` then loads it like real ADE.
    Each split uses its own seed (``seed`` + its position); every split but ``train`` is the
    tier's test distribution (as :func:`write_coco`). Returns ``root``."""

    _, synsets = tier(benchmark)
    root = Path(root)
    splits = splits or {"train": 800, "mval": 100, "mtest": 200}
    names = list(synsets)
    code = {n: i + 1 for i, n in enumerate(names)}  # ADE class codes, 1-based
    counts = dict.fromkeys(names, 0)
    val_number = 0
    for position, (split, count) in enumerate(splits.items()):
        folder_kind, prefix = ("training", "train") if split == "train" else ("validation", "val")
        folder = root / "images" / folder_kind / "s" / "synthetic_scene"
        folder.mkdir(parents=True, exist_ok=True)
        draw, _ = tier(benchmark, balanced=split != "train")
        lines = []
        for index in range(count):
            number = index + 1 if split == "train" else (val_number := val_number + 1)
            stem = folder / f"ADE_{prefix}_{number:08d}"
            pixels, instances = draw(seed + position, index)
            _save_image(pixels, stem.with_suffix(".jpg"), quality=95)
            atr = []
            for level in (0, 1):
                seg = np.zeros((*pixels.shape[:2], 3), np.uint8)
                ranked = [i for i in instances if i.level == level]
                for rank, instance in enumerate(ranked, 1):
                    seg[instance.mask] = (
                        code[instance.name] // 256 * 10,
                        code[instance.name] % 256,
                        min(255, 4 * rank),
                    )
                    atr.append(
                        f"{rank:03d} # {level} # 0 # {synsets[instance.name]} # "
                        f'{instance.name.replace("_", " ")} # ""'
                    )
                    counts[instance.name] += 1
                suffix = "_seg.png" if level == 0 else f"_parts_{level}.png"
                _save_image(seg, Path(f"{stem}{suffix}"))
            write_atomic(folder / f"{stem.name}_atr.txt", "\n".join(atr) + "\n", sync=False)
            lines.append(f"images/{folder_kind}/s/synthetic_scene/{stem.name}.jpg")
        write_atomic(root / f"{split}.txt", "\n".join(lines) + "\n")
    ordered = sorted(names, key=lambda n: n.replace("_", " "))
    write_atomic(
        root / "objectnames.txt", "- \n" + "".join(n.replace("_", " ") + " \n" for n in ordered)
    )
    write_atomic(root / "objectcounts.txt", "1\n" + "".join(f"{counts[n]}\n" for n in ordered))
    return root


def write_coco(
    root: str | os.PathLike[str],
    splits: dict[str, int] | None = None,
    seed: int = 0,
    benchmark: str = "easy",
) -> Path:
    """Write the benchmark (its tier ``benchmark``) in COCO format:
    ``images/<split>/<index>.png`` (lossless, so the pixels are those
    :class:`~iterative_reasoning.data.SyntheticScenes` renders) and
    ``annotations/instances_<split>.json`` with one category per class (ids in the tier's
    class order), each region's ``bbox`` and its visible pixels as an RLE ``segmentation``.
    Each split uses its own seed (``seed`` + its position), as :func:`write_ade2016`; every
    split but ``train`` is the tier's test distribution (``balanced``,
    :func:`~iterative_reasoning.data.synthetic.scenes.tier`). Returns ``root``."""
    from pycocotools import mask as coco_mask

    _, synsets = tier(benchmark)
    root = Path(root)
    splits = splits or {"train": 800, "test": 200}
    categories = [
        {"id": i + 1, "name": n, "supercategory": "synthetic"} for i, n in enumerate(synsets)
    ]
    ids = {c["name"]: c["id"] for c in categories}
    (root / "annotations").mkdir(parents=True, exist_ok=True)
    next_id = 1
    for position, (split, count) in enumerate(splits.items()):
        folder = root / "images" / split
        folder.mkdir(parents=True, exist_ok=True)
        draw, _ = tier(benchmark, balanced=split != "train")
        images, annotations = [], []
        for index in range(count):
            pixels, instances = draw(seed + position, index)
            name = f"{index:06d}.png"
            _save_image(pixels, folder / name)
            images.append(
                {
                    "id": index + 1,
                    "file_name": f"{split}/{name}",
                    "height": IMAGE_SIZE,
                    "width": IMAGE_SIZE,
                }
            )
            for instance in instances:
                rle = coco_mask.encode(np.asfortranarray(instance.mask.astype(np.uint8)))
                x, y, w, h = (float(v) for v in coco_mask.toBbox(rle))
                annotations.append(
                    {
                        "id": next_id,
                        "image_id": index + 1,
                        "category_id": ids[instance.name],
                        "bbox": [x, y, w, h],
                        "area": float(coco_mask.area(rle)),
                        "iscrowd": 0,
                        "segmentation": {"size": rle["size"], "counts": rle["counts"].decode()},
                    }
                )
                next_id += 1
        payload = {"images": images, "annotations": annotations, "categories": categories}
        write_atomic(root / "annotations" / f"instances_{split}.json", json.dumps(payload))
    return root


def _save_image(pixels: np.ndarray, path: Path, **options: Any) -> None:
    """Write an image file (its format from the name) with
    :func:`~knowledge_graphs.files.atomic_open`, without flushing it to the disk: the
    benchmark's stamp, written last, vouches for the whole."""
    kind = Image.registered_extensions()[path.suffix.lower()]
    with atomic_open(path, binary=True, sync=False) as f:
        Image.fromarray(pixels).save(f, format=kind, **options)
