"""Datasets and transforms for region classification with ground-truth boxes."""

from iterative_reasoning.data.ade20k import ADE20K, ade_vocabulary
from iterative_reasoning.data.coco import COCODataset, coco_categories
from iterative_reasoning.data.records import (
    ImageRecord,
    RecordCache,
    RecordDataset,
    RegionSample,
    load_sample,
)
from iterative_reasoning.data.synthetic import SyntheticScenes, write_ade2016, write_coco
from iterative_reasoning.data.transforms import flip_permutation, hflip, resize
from iterative_reasoning.data.visual_genome import VisualGenome, vg_class_graph, vg_vocabulary

__all__ = [
    "ADE20K",
    "COCODataset",
    "ImageRecord",
    "RecordCache",
    "RecordDataset",
    "RegionSample",
    "SyntheticScenes",
    "VisualGenome",
    "ade_vocabulary",
    "coco_categories",
    "flip_permutation",
    "hflip",
    "load_sample",
    "resize",
    "vg_class_graph",
    "vg_vocabulary",
    "write_ade2016",
    "write_coco",
]
