"""Region classification on any dataset in COCO format (``instances_*.json``), read with
``pycocotools``."""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import Tensor

from iterative_reasoning._validation import check_probability
from iterative_reasoning.data.ade20k import dataset_classes
from iterative_reasoning.data.records import (
    ImageRecord,
    RecordDataset,
    RegionSample,
    load_sample,
    read_image,
)
from iterative_reasoning.data.transforms import flip_permutation
from iterative_reasoning.ops import box_masks
from knowledge_graphs.class_graph import BACKGROUND
from knowledge_graphs.coco_file import (
    coco_bbox,
    coco_category_list,
    coco_category_names,
    read_coco_file,
)


def coco_categories(annotations: str | os.PathLike[str]) -> list[str]:
    """The category names of a COCO annotation file in the order of their ids (the
    contiguous labels ``1..K`` of :class:`COCODataset`)."""
    return coco_category_names(annotations)


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
        check_probability("hflip_prob", hflip_prob)
        self.root = Path(root)
        self.masks, self.mask_size = masks, mask_size
        if not self.root.is_dir():
            raise FileNotFoundError(f"COCO image root {str(self.root)!r} is not a directory")
        self.annotation_file = Path(annotations)
        data = read_coco_file(self.annotation_file)
        categories = coco_category_list(data, self.annotation_file)
        names = [c["name"] for c in categories]
        self.classes = dataset_classes(classes, lambda: [BACKGROUND, *names])
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
            if not isinstance(ann, dict) or "image_id" not in ann:
                name = ann.get("id") if isinstance(ann, dict) else ann
                raise ValueError(f"{self.annotation_file}: annotation {name!r} has no image_id")
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
        #: label -> the file's category id, to write detections in the file's own ids
        self.category_id_of = {label_of[c["id"]]: c["id"] for c in categories}
        self.dropped = 0
        self._segmentations: dict[str, list[tuple[Any, Any]]] = {}  # (annotation id, mask)
        self.all_records = [
            self._record(image, self.coco.imgToAnns.get(image["id"], []), label_of)
            for image in data["images"]
        ]
        self._image_ids = {str(image["id"]): image["id"] for image in data["images"]}
        self._keep_records()

    def _keep_records(self) -> None:
        parsed = [r if len(r.labels) else None for r in self.all_records]
        self._keep(parsed, f"COCO {self.annotation_file.name}", "no image has a region")

    def _record(
        self, image: dict[str, Any], anns: list[dict[str, Any]], label_of: dict[int, int]
    ) -> ImageRecord:
        """The image's regions (crowds left out, degenerate boxes dropped and counted); a
        record with no box when none is left."""
        height, width = _image_size(image, self.annotation_file)
        boxes, labels, segmentations = [], [], []
        for ann in anns:
            if ann.get("iscrowd", 0):
                continue
            x, y, w, h = coco_bbox(ann, self.annotation_file)
            x1, y1 = max(x, 0.0), max(y, 0.0)
            x2, y2 = min(x + w, float(width)), min(y + h, float(height))
            if x2 - x1 < 1 or y2 - y1 < 1:
                self.dropped += 1
                continue
            boxes.append([x1, y1, x2, y2])
            labels.append(label_of[ann["category_id"]])
            if self.masks:
                _check_segmentation(ann, self.annotation_file)
            segmentations.append((ann.get("id"), ann.get("segmentation")))
        self._segmentations[str(image["id"])] = segmentations
        return ImageRecord(
            str(image["id"]),
            str(self.root / image["file_name"]),
            height,
            width,
            np.asarray(boxes, np.float32).reshape(-1, 4),
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

        record = self.records[index]
        full = np.stack(
            [
                _decode(ann_id, segmentation, record.height, record.width, self.annotation_file)
                for ann_id, segmentation in self._segmentations[record.image_id]
            ]
        )
        return box_masks(
            torch.from_numpy(full), torch.from_numpy(record.boxes.copy()), self.mask_size
        )


class DetectionSample(NamedTuple):
    """One image of a detection dataset, in torchvision's detection format.

    Attributes:
        image: RGB floats in ``[0, 1]``, ``[3, H, W]``, at the original size (a torchvision
            detector resizes it itself).
        target: ``"boxes"`` ``[n, 4]`` float ``xyxy`` in original-image pixels, ``"labels"``
            ``[n]`` int64 (``1..K``; 0 is background), and with masks ``"masks"``
            ``[n, H, W]`` uint8.
        image_id: the image's id in the annotation file.
    """

    image: Tensor
    target: dict[str, Tensor]
    image_id: Any


class COCODetection(COCODataset):
    """The images of a COCO-format annotation file with detection targets, in torchvision's
    format (:class:`DetectionSample`), for training and evaluating detectors.

    Categories map to labels as in :class:`COCODataset` (:attr:`category_id_of` maps them
    back); crowd annotations are not targets (``COCOeval`` ignores detections on them), and
    boxes under one pixel are dropped and counted in :attr:`dropped`. Images are not resized.

    Args:
        root, annotations, classes: as :class:`COCODataset`.
        hflip_prob: probability of a horizontal flip (boxes, masks, and ``left_*``/``right_*``
            labels swap).
        masks: give each target's instance masks (``segmentation``), for Mask R-CNN.
        keep_empty: keep the images without a target (negatives); torchvision's detectors
            train on them. Evaluation always needs them: the evaluation split should keep them.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        annotations: str | os.PathLike[str],
        classes: Sequence[str] | None = None,
        hflip_prob: float = 0.0,
        masks: bool = False,
        keep_empty: bool = True,
    ) -> None:
        self.keep_empty = keep_empty
        super().__init__(root, annotations, classes, hflip_prob=hflip_prob, masks=masks)

    def _keep_records(self) -> None:
        if not self.keep_empty:
            super()._keep_records()
            return
        if not self.all_records:
            raise ValueError(f"COCO {self.annotation_file.name}: the file has no image")
        self.records = list(self.all_records)
        self.skipped = 0

    def __getitem__(self, index: int) -> DetectionSample:  # type: ignore[override]
        record = self.records[index]
        image = read_image(record.path)
        if image.shape[1:] != (record.height, record.width):
            raise ValueError(
                f"{record.path}: the image is {tuple(image.shape[1:])} but image "
                f"{record.image_id} of {self.annotation_file} says {(record.height, record.width)}"
            )
        boxes = torch.from_numpy(record.boxes.copy())
        labels = torch.from_numpy(record.labels.copy())
        target = {"boxes": boxes, "labels": labels}
        if self.masks:
            target["masks"] = self.instance_masks(index)
        if self.hflip_prob > 0 and float(torch.rand(())) < self.hflip_prob:
            width = float(record.width)
            image = image.flip(-1)
            target["boxes"] = torch.stack(
                [width - boxes[:, 2], boxes[:, 1], width - boxes[:, 0], boxes[:, 3]], 1
            )
            target["labels"] = self.flip[labels]
            if self.masks:
                target["masks"] = target["masks"].flip(-1)
        return DetectionSample(image, target, self._image_ids[record.image_id])

    def instance_masks(self, index: int) -> Tensor:
        """``[n, H, W]`` uint8: each target's instance mask at the image's size."""
        record = self.records[index]
        segmentations = self._segmentations[record.image_id]
        if not segmentations:
            return torch.zeros(0, record.height, record.width, dtype=torch.uint8)
        full = np.stack(
            [
                _decode(ann_id, s, record.height, record.width, self.annotation_file)
                for ann_id, s in segmentations
            ]
        )
        return torch.from_numpy(full)


def _check_segmentation(ann: dict[str, Any], path: Path) -> None:
    """A ``segmentation`` of polygons (lists of at least three x, y pairs) or an RLE (a dict
    with ``counts`` and ``size``); otherwise an error naming the annotation."""
    segmentation = ann.get("segmentation")
    if isinstance(segmentation, list):
        for polygon in segmentation:
            if (
                not isinstance(polygon, list)
                or len(polygon) < 6
                or len(polygon) % 2
                or not all(isinstance(v, (int, float)) and np.isfinite(v) for v in polygon)
            ):
                raise ValueError(
                    f"{path}: annotation {ann.get('id')} has a malformed polygon: each must be "
                    f"a list of at least three finite x, y pairs, got {str(polygon)[:60]}"
                )
        return
    if not isinstance(segmentation, dict) or not {"counts", "size"} <= set(segmentation):
        raise ValueError(
            f"{path}: annotation {ann.get('id')} has a segmentation that is neither polygons "
            f"nor an RLE with 'counts' and 'size': {str(segmentation)[:60]}"
        )


def _decode(ann_id: Any, segmentation: Any, height: int, width: int, path: Path) -> Any:
    """The annotation's mask ``[H, W]`` (uint8), or an error naming it."""
    from pycocotools import mask as coco_mask

    try:
        return coco_mask.decode(_rle(segmentation, height, width))
    except Exception as error:  # pycocotools' bare errors on a damaged RLE
        raise ValueError(
            f"{path}: annotation {ann_id}'s segmentation cannot be decoded ({error})"
        ) from error


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


def _image_size(image: dict[str, Any], path: Path) -> tuple[int, int]:
    try:
        height, width = int(image["height"]), int(image["width"])
    except (KeyError, TypeError, ValueError):
        raise ValueError(
            f"{path}: image {image.get('id')} needs integer 'height' and 'width', got "
            f"{image.get('height')!r} and {image.get('width')!r}"
        ) from None
    if height < 1 or width < 1:
        raise ValueError(f"{path}: image {image.get('id')} has size {height} x {width}")
    return height, width


def coco_ground_truth(path: str | os.PathLike[str]) -> Any:
    """A COCO annotation file as ``pycocotools.coco.COCO``, with what ``COCOeval`` reads of the
    ground truth (``iscrowd``, ``area``) filled in where the file leaves it out."""
    return _index(read_coco_file(path))


def _index(data: dict[str, Any]) -> Any:
    """``pycocotools.coco.COCO`` over already read annotations (without its printing)."""
    from pycocotools.coco import COCO

    for ann in data["annotations"]:  # what COCOeval reads of the ground truth
        ann.setdefault("iscrowd", 0)
        bbox = ann.get("bbox")
        if "area" not in ann and isinstance(bbox, list) and len(bbox) == 4:
            ann["area"] = float(bbox[2]) * float(bbox[3])
    coco = COCO()
    coco.dataset = data
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco
