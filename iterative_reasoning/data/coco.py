"""Region classification on any dataset in COCO format (``instances_*.json``), read with
``pycocotools``."""

from __future__ import annotations

import contextlib
import io
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from iterative_reasoning.data.ade20k import BACKGROUND
from iterative_reasoning.data.records import ImageRecord, RecordDataset, RegionSample, load_sample
from iterative_reasoning.data.transforms import flip_permutation


def coco_categories(annotations: str | os.PathLike[str]) -> list[str]:
    """The category names of a COCO annotation file in the order of their ids (the
    contiguous labels ``1..K`` of :class:`COCODataset`)."""
    data = _read(Path(annotations))
    return [c["name"] for c in sorted(data["categories"], key=lambda c: c["id"])]


class COCODataset(RecordDataset):
    """The annotated boxes of a COCO-format annotation file as regions to classify.

    Categories map to contiguous labels ``1..K`` in the order of their ids (0 is background),
    or to the given ``classes`` by name. ``bbox`` (``x, y, w, h``) becomes ``xyxy``; crowd
    annotations (``iscrowd``) are not regions; boxes of zero or negative size, or outside the
    image, are dropped and counted in :attr:`dropped`; images with no region left are skipped
    and counted in :attr:`skipped`.

    Args:
        root: the image folder (``file_name`` is relative to it).
        annotations: the annotation file.
        classes: class names, background first; by default the file's categories.
        min_size: short side after resizing (600).
        max_size: longest long side after resizing (1000).
        hflip_prob: probability of a horizontal flip (``left_*``/``right_*`` names swap).
        masks: also give each region's instance mask (``segmentation``: polygons, or RLE
            compressed or not, decoded with ``pycocotools.mask``) as the covered fraction of
            each of the ``mask_size x mask_size`` bins of its box (``RegionSample.masks``), for
            a memory that writes through masks.
        mask_size: ``P``, the crop size of the head that uses the masks (7).

    Raises:
        FileNotFoundError: a missing root or annotation file.
        ValueError: a file that is not COCO, an annotation of an unknown category (named by its
            id), classes that miss one of the file's categories.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        annotations: str | os.PathLike[str],
        classes: Sequence[str] | None = None,
        min_size: int = 600,
        max_size: int = 1000,
        hflip_prob: float = 0.0,
        masks: bool = False,
        mask_size: int = 7,
    ) -> None:
        self.root = Path(root)
        self.masks, self.mask_size = masks, mask_size
        if not self.root.is_dir():
            raise FileNotFoundError(f"COCO image root {str(self.root)!r} is not a directory")
        self.annotation_file = Path(annotations)
        data = _read(self.annotation_file)
        categories = sorted(data["categories"], key=lambda c: c["id"])
        names = [c["name"] for c in categories]
        self.classes = list(classes) if classes is not None else [BACKGROUND, *names]
        if not self.classes or self.classes[0] != BACKGROUND:
            raise ValueError(f"classes must start with {BACKGROUND!r}")
        index = {c: i for i, c in enumerate(self.classes)}
        missing = [n for n in names if n not in index]
        if missing:
            raise ValueError(
                f"{self.annotation_file}: categories {missing[:10]} are not among the classes"
            )
        label_of = {c["id"]: index[c["name"]] for c in categories}
        self.category_ids = [c["id"] for c in categories]
        self.min_size, self.max_size, self.hflip_prob = min_size, max_size, hflip_prob
        self.flip = flip_permutation(self.classes)

        for ann in data["annotations"]:
            if ann.get("category_id") not in label_of:
                raise ValueError(
                    f"{self.annotation_file}: annotation {ann.get('id')} has category_id "
                    f"{ann.get('category_id')}, which is not in categories"
                )
        if masks:
            bare = [a.get("id") for a in data["annotations"] if not a.get("segmentation")]
            if bare:
                raise ValueError(
                    f"{self.annotation_file}: masks=True but annotations {bare[:10]} have no "
                    "segmentation"
                )
        self.coco = _index(data)
        self.dropped = 0
        self._segmentations: dict[str, list[Any]] = {}
        parsed = [
            self._record(image, self.coco.imgToAnns.get(image["id"], []), label_of)
            for image in data["images"]
        ]
        self._keep(parsed, f"COCO {self.annotation_file.name}", "no image has a region")

    def _record(
        self, image: dict[str, Any], anns: list[dict[str, Any]], label_of: dict[int, int]
    ) -> ImageRecord | None:
        height, width = int(image["height"]), int(image["width"])
        boxes, labels, segmentations = [], [], []
        for ann in anns:
            if ann.get("iscrowd", 0):
                continue
            x, y, w, h = (float(v) for v in ann["bbox"])
            x1, y1 = max(x, 0.0), max(y, 0.0)
            x2, y2 = min(x + w, float(width)), min(y + h, float(height))
            if x2 - x1 < 1 or y2 - y1 < 1:
                self.dropped += 1
                continue
            boxes.append([x1, y1, x2, y2])
            labels.append(label_of[ann["category_id"]])
            segmentations.append(ann.get("segmentation"))
        if not boxes:
            return None
        self._segmentations[str(image["id"])] = segmentations
        return ImageRecord(
            str(image["id"]),
            str(self.root / image["file_name"]),
            height,
            width,
            np.asarray(boxes, np.float32),
            np.asarray(labels, np.int64),
        )

    def __getitem__(self, index: int) -> RegionSample:
        record = self.records[index]
        masks = self.region_masks(index) if self.masks else None
        return load_sample(
            record, self.flip, self.hflip_prob, self.min_size, self.max_size, masks=masks
        )

    def region_masks(self, index: int) -> torch.Tensor:
        """``[n, P, P]``: the fraction of each bin of each region's box that its instance mask
        covers, in the record's (unflipped) orientation."""
        from pycocotools import mask as coco_mask

        from iterative_reasoning.ops import box_masks

        record = self.records[index]
        full = np.stack(
            [
                coco_mask.decode(_rle(segmentation, record.height, record.width))
                for segmentation in self._segmentations[record.image_id]
            ]
        )
        return box_masks(
            torch.from_numpy(full), torch.from_numpy(record.boxes.copy()), self.mask_size
        )


def _rle(segmentation: Any, height: int, width: int) -> Any:
    """A COCO ``segmentation`` (polygons, uncompressed RLE, or compressed RLE) as one
    compressed RLE."""
    from pycocotools import mask as coco_mask

    if isinstance(segmentation, list):  # polygons
        return coco_mask.merge(coco_mask.frPyObjects(segmentation, height, width))
    if isinstance(segmentation.get("counts"), list):  # uncompressed RLE
        return coco_mask.frPyObjects(segmentation, height, width)
    counts = segmentation["counts"]
    return {
        "size": segmentation["size"],
        "counts": counts.encode() if isinstance(counts, str) else counts,
    }


def _index(data: dict[str, Any]) -> Any:
    """``pycocotools.coco.COCO`` over already read annotations (without its printing)."""
    from pycocotools.coco import COCO

    coco = COCO()
    coco.dataset = data
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco


def _read(path: Path) -> dict[str, Any]:
    """A COCO annotation file, checked for the three lists region classification needs."""
    if not path.is_file():
        raise FileNotFoundError(f"COCO annotation file {path} is missing")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{path}: not JSON ({error})") from error
    if not isinstance(data, dict) or not all(
        isinstance(data.get(k), list) for k in ("images", "annotations", "categories")
    ):
        raise ValueError(
            f"{path}: not a COCO annotation file (needs lists 'images', 'annotations' and "
            "'categories')"
        )
    return data
