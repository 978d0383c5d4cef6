"""Datasets and transforms: region classification with ground-truth boxes, and detection in
COCO format."""

from iterative_reasoning.data.ade20k import ADE20K, ade_vocabulary
from iterative_reasoning.data.coco import (
    COCODataset,
    COCODetection,
    DetectionSample,
    coco_categories,
)
from iterative_reasoning.data.random_inputs import random_detection_batch
from iterative_reasoning.data.records import (
    ImageRecord,
    RecordCache,
    RecordDataset,
    RegionSample,
    load_sample,
)
from iterative_reasoning.data.synthetic import SyntheticScenes
from iterative_reasoning.data.synthetic_formats import write_ade2016, write_coco
from iterative_reasoning.data.transforms import flip_permutation, hflip, resize
from iterative_reasoning.data.visual_genome import VisualGenome, vg_class_graph, vg_vocabulary

__all__ = [
    "ADE20K",
    "COCODataset",
    "COCODetection",
    "DetectionSample",
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
    "random_detection_batch",
    "resize",
    "vg_class_graph",
    "vg_vocabulary",
    "write_ade2016",
    "write_coco",
]
