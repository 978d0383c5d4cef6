"""The benchmark's tiers (:data:`BENCHMARKS`: :mod:`~iterative_reasoning.data.synthetic.easy`,
:mod:`~iterative_reasoning.data.synthetic.hard` and
:mod:`~iterative_reasoning.data.synthetic.long_tail`) and the benchmark as a dataset rendered
on the fly (:class:`SyntheticScenes`)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import numpy as np
import torch
from torch.utils.data import Dataset

from iterative_reasoning.data.records import ImageRecord, RegionSample
from iterative_reasoning.data.synthetic import hard, long_tail
from iterative_reasoning.data.synthetic.easy import (
    CLASSES,
    IMAGE_SIZE,
    Instance,
    record_of,
    render,
)
from knowledge_graphs.class_graph import BACKGROUND

#: The tiers of the benchmark: ``easy`` (:mod:`~iterative_reasoning.data.synthetic.easy`:
#: three pairs, perfect context), ``hard`` (:mod:`~iterative_reasoning.data.synthetic.hard`:
#: groups of three and four, imperfect context, a known ceiling) and ``long_tail``
#: (:mod:`~iterative_reasoning.data.synthetic.long_tail`: 68 classes with Zipf frequencies, rare
#: look-alikes told apart by context that an annotation-only corpus states).
BENCHMARKS: tuple[str, ...] = ("easy", "hard", "long_tail")


def tier(
    benchmark: str, balanced: bool = False
) -> tuple[Callable[[int, int], tuple[np.ndarray, list[Instance]]], dict[str, str]]:
    """The renderer of a tier and its classes (name -> WordNet synset, in label order);
    ``balanced``: the long-tail tier's test distribution (its look-alike members drawn
    uniformly; the other tiers have one distribution)."""
    if benchmark == "easy":
        return render, {name: synset for name, (synset, _) in CLASSES.items()}
    if benchmark == "hard":
        return hard.render, dict(hard.CLASSES)
    if benchmark == "long_tail":
        return partial(long_tail.render, balanced=balanced), dict(long_tail.CLASSES)
    raise ValueError(f"benchmark must be one of {BENCHMARKS}, got {benchmark!r}")


class SyntheticScenes(Dataset[RegionSample]):
    """The benchmark as a dataset, rendered on the fly: ``num_images`` images of ``seed``.

    Args:
        num_images: images in the split.
        seed: the split's seed (use different seeds for training and testing).
        hflip_prob: probability of a horizontal flip (no class is left/right here).
        benchmark: the tier, ``"easy"`` or ``"hard"`` (:data:`BENCHMARKS`).
    """

    def __init__(
        self, num_images: int, seed: int = 0, hflip_prob: float = 0.0, benchmark: str = "easy"
    ) -> None:
        if num_images < 1:
            raise ValueError(f"num_images must be positive, got {num_images}")
        self.num_images, self.seed, self.hflip_prob = num_images, seed, hflip_prob
        self._render, synsets = tier(benchmark)
        self.classes = [BACKGROUND, *synsets]

    def __len__(self) -> int:
        return self.num_images

    def record(self, index: int) -> ImageRecord:
        _, instances = self._render(self.seed, index)
        return record_of(f"synthetic_{self.seed}_{index:06d}", "", instances, self.classes)

    def __getitem__(self, index: int) -> RegionSample:
        if not 0 <= index < self.num_images:
            raise IndexError(f"index {index} out of range for {self.num_images} images")
        pixels, instances = self._render(self.seed, index)
        record = record_of(f"synthetic_{self.seed}_{index:06d}", "", instances, self.classes)
        image = torch.from_numpy(pixels).permute(2, 0, 1).float() / 255
        boxes = torch.from_numpy(record.boxes.copy())
        if self.hflip_prob > 0 and float(torch.rand(())) < self.hflip_prob:
            image = image.flip(-1)
            boxes = torch.stack(
                [IMAGE_SIZE - boxes[:, 2], boxes[:, 1], IMAGE_SIZE - boxes[:, 0], boxes[:, 3]], 1
            )
        return RegionSample(
            image, boxes, torch.from_numpy(record.labels.copy()), record.image_id, 1.0
        )
