"""Datasets and transforms for region classification with ground-truth boxes."""

from iterative_reasoning.data.ade20k import ADE20K, RegionSample, ade_vocabulary
from iterative_reasoning.data.records import ImageRecord, RecordCache
from iterative_reasoning.data.transforms import flip_permutation, hflip, resize

__all__ = [
    "ADE20K",
    "ImageRecord",
    "RecordCache",
    "RegionSample",
    "ade_vocabulary",
    "flip_permutation",
    "hflip",
    "resize",
]
