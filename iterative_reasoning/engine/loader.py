"""The training data as a :class:`~torch.utils.data.DataLoader`: images read and decoded by
worker processes while the model trains, in an order and with augmentations that depend on
the seed and the step alone.

Step ``s`` takes the images at positions ``s * batch_size ... (s + 1) * batch_size - 1`` of an
endless stream of epoch-wise permutations seeded by ``(seed, epoch)`` (:func:`data_order`);
under DDP each of the ``W`` processes takes every ``W``-th of them. Each image's random
augmentation (the flip) is drawn from a generator seeded by ``(seed, position)``, not from the
training process's random state, so the data of a step is the same with any number of
workers and processes, and a run resumed at step ``s`` reads exactly what the uninterrupted
run read.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterable, Iterator
from typing import Any, NamedTuple

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

#: Worker processes that read the data on a GPU when their number is not given.
GPU_WORKERS = 4


def workers_for(num_workers: int | None, device: str | torch.device) -> int:
    """``num_workers``, or when it is ``None`` :data:`GPU_WORKERS` on a GPU and 0 on the CPU,
    where the model's own threads use every core and workers compete with them."""
    if num_workers is not None:
        return int(num_workers)
    return GPU_WORKERS if torch.device(device).type != "cpu" else 0


def data_order(num_items: int, step: int, batch_size: int, seed: int) -> list[int]:
    """The dataset indices of a step: epoch-wise permutations seeded by ``(seed, epoch)``, so
    the order depends on nothing but the step."""
    order = _EpochOrder(num_items, seed)
    return [order[p] for p in range(step * batch_size, (step + 1) * batch_size)]


class SampleKey(NamedTuple):
    """What a step reads of a dataset: the index of an item and the seed of its augmentation."""

    item: int
    seed: int


def sample_seed(seed: int, position: int) -> int:
    """The seed of the augmentation of the image at ``position`` of the stream (32 bits: what
    ``torch.manual_seed`` uses), mixed from the run's seed and the position."""
    entropy = [seed % 2**32, position]
    return int(np.random.SeedSequence(entropy).generate_state(1, np.uint32)[0])


class StepBatchSampler(Sampler[list[SampleKey]]):
    """The batches of steps ``start .. stop - 1`` for process ``rank`` of ``world``: each a
    list of :class:`SampleKey` (``batch_size / world`` of them).

    Example:
        >>> sampler = StepBatchSampler(5, batch_size=2, seed=1, start=0, stop=3)
        >>> [[key.item for key in batch] for batch in sampler]  # the third spans two epochs
        [[1, 4], [0, 3], [2, 2]]
        >>> second = StepBatchSampler(5, batch_size=2, seed=1, start=0, stop=3, rank=1, world=2)
        >>> [[key.item for key in batch] for batch in second]  # process 1 of 2: its half
        [[4], [3], [2]]
    """

    def __init__(
        self,
        num_items: int,
        batch_size: int,
        seed: int,
        start: int,
        stop: int,
        rank: int = 0,
        world: int = 1,
    ) -> None:
        self.order = _EpochOrder(num_items, seed)
        self.batch_size, self.seed = batch_size, seed
        self.start, self.stop, self.rank, self.world = start, stop, rank, world

    def __len__(self) -> int:
        return max(0, self.stop - self.start)

    def __iter__(self) -> Iterator[list[SampleKey]]:
        for step in range(self.start, self.stop):
            first = step * self.batch_size
            positions = range(first + self.rank, first + self.batch_size, self.world)
            yield [SampleKey(self.order[p], sample_seed(self.seed, p)) for p in positions]


class _EpochOrder:
    """Position -> dataset index of the stream of permutations, one permutation per epoch
    (the last one kept)."""

    def __init__(self, num_items: int, seed: int) -> None:
        self.num_items, self.seed = num_items, seed
        self._epoch, self._permutation = -1, torch.zeros(0, dtype=torch.long)

    def __getitem__(self, position: int) -> int:
        epoch, offset = divmod(position, self.num_items)
        if epoch != self._epoch:
            generator = torch.Generator().manual_seed(self.seed * 100_003 + epoch)
            self._epoch, self._permutation = (
                epoch,
                torch.randperm(self.num_items, generator=generator),
            )
        return int(self._permutation[offset])


class SeededSamples(Dataset[Any]):
    """``dataset`` read by :class:`SampleKey`: item ``key.item`` with PyTorch's random state
    seeded by ``key.seed`` while it is read (the caller's random state is left as it was)."""

    def __init__(self, dataset: Dataset[Any]) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, key: SampleKey) -> Any:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(key.seed)
            return self.dataset[key.item]


def training_loader(
    dataset: Dataset[Any],
    collate: Callable[[list[Any]], Any],
    *,
    batch_size: int,
    seed: int,
    start: int,
    stop: int,
    num_workers: int,
    rank: int = 0,
    world: int = 1,
    pin_memory: bool = False,
) -> DataLoader[Any]:
    """The batches of steps ``start .. stop - 1`` (:class:`StepBatchSampler`: ``batch_size``
    images a step over all ``world`` processes, this process's share of each), collated by
    ``collate``, read by ``num_workers`` worker processes (0: in this one). The workers ignore
    SIGINT and SIGTERM: the training process takes them, finishes its step and checkpoints, and
    stops the workers when it ends."""
    sampler = StepBatchSampler(len(dataset), batch_size, seed, start, stop, rank, world)  # type: ignore[arg-type]
    return DataLoader(
        SeededSamples(dataset),
        batch_sampler=sampler,
        collate_fn=collate,
        num_workers=num_workers,
        worker_init_fn=_ignore_stop_signals if num_workers else None,
        pin_memory=pin_memory,
        prefetch_factor=2 if num_workers else None,
        # its own generator: a DataLoader draws its workers' base seed when it starts, which
        # would otherwise take a number from the training process's random state
        generator=torch.Generator().manual_seed(seed),
    )


def evaluation_batches(
    dataset: Dataset[Any],
    collate: Callable[[list[Any]], Any],
    batch_size: int,
    num_workers: int,
    progress: str | None = None,
) -> Iterable[Any]:
    """``dataset`` in order, ``batch_size`` items a batch, read by ``num_workers`` workers;
    with a progress bar named ``progress``."""
    loader = DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=False,
        collate_fn=collate,
        num_workers=num_workers,
        worker_init_fn=_ignore_ctrl_c if num_workers else None,
        generator=torch.Generator(),
    )
    if progress is None:
        return loader
    from tqdm import tqdm

    return tqdm(loader, desc=progress, unit="batch")


def _ignore_stop_signals(worker_id: int) -> None:
    """A training worker leaves SIGINT and SIGTERM (a terminal's Ctrl-C, a scheduler's stop,
    sent to every process of the job) to the training process, which stops after its step and
    then stops the workers itself (:class:`~iterative_reasoning.engine.train.Batches`)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def _ignore_ctrl_c(worker_id: int) -> None:
    """An evaluation worker leaves Ctrl-C to the evaluating process (and stops on SIGTERM)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
