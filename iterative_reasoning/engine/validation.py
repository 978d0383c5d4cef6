"""A held-out validation split carved from the training images, and its loss during training
(:class:`ValidationHook`), so that a run shows when its model starts to overfit."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

import torch
from torch.utils.data import Dataset, Subset

from iterative_reasoning.engine.hooks import Hook, LogHook
from iterative_reasoning.engine.loader import evaluation_batches
from iterative_reasoning.engine.state import (
    put_back,
    seed_everything,
    set_random_state,
    snapshot,
)

if TYPE_CHECKING:
    from iterative_reasoning.engine.train import TrainingRun


def validation_split(
    dataset: Dataset[Any], fraction: float, seed: int = 0
) -> tuple[Subset[Any], Subset[Any]]:
    """Split ``dataset`` into the images to train on and a held-out validation split of
    ``round(fraction * len(dataset))`` images (at least one of each), drawn by ``seed``. The
    validation split reads its images without random flips (a copy of ``dataset`` with
    ``hflip_prob = 0`` where the dataset has one).

    Example:
        >>> train, held_out = validation_split(list(range(10)), 0.2, seed=0)
        >>> len(train), len(held_out), sorted(train.indices + held_out.indices) == list(range(10))
        (8, 2, True)
    """
    check_fraction("the validation fraction", fraction)
    size = len(dataset)  # type: ignore[arg-type]
    if size < 2:
        raise ValueError(f"a validation split needs at least 2 training images, got {size}")
    held_out = min(max(1, round(fraction * size)), size - 1)
    order = torch.randperm(size, generator=torch.Generator().manual_seed(seed)).tolist()
    unflipped = dataset
    if getattr(dataset, "hflip_prob", 0) > 0:
        unflipped = copy.copy(dataset)
        unflipped.hflip_prob = 0.0  # type: ignore[attr-defined]
    return Subset(dataset, sorted(order[held_out:])), Subset(unflipped, sorted(order[:held_out]))


def check_fraction(name: str, fraction: object) -> float:
    """Raise unless ``fraction`` is a number strictly between 0 and 1 (a share of the training
    images to hold out); errors name it ``name``."""
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)):
        raise TypeError(f"{name} must be a number, got {fraction!r}")
    if not 0 < fraction < 1:  # NaN fails this too
        raise ValueError(
            f"{name} must be strictly between 0 and 1 (a share of the training images), "
            f"got {fraction}"
        )
    return float(fraction)


class ValidationHook(Hook):
    """The model's loss terms on a held-out ``dataset``, every ``every`` steps and at the last
    step, as a line of ``log.jsonl`` (the terms prefixed ``val_``) and TensorBoard scalars
    under ``validation/``.

    The loss is the training loss (:func:`validation_loss`), without gradients, the model in
    training mode as a step runs it (a frozen detector stays in evaluation mode), under a
    random state of its own (``seed``), so that every validation sees the same sampled
    proposals; the training's random state and buffers are put back, so that its data and
    result are the same as without validation.

    Args:
        dataset: the held-out images (:func:`validation_split`).
        every: steps between two validations.
        batch_size: images per forward pass.
        seed: the random state of every validation.
    """

    def __init__(self, dataset: Dataset[Any], every: int, batch_size: int = 4, seed: int = 0):
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(f"every must be a positive integer (steps), got {every!r}")
        if len(dataset) == 0:  # type: ignore[arg-type]
            raise ValueError("the validation dataset is empty")
        self.dataset, self.every, self.batch_size, self.seed = dataset, every, batch_size, seed

    def after_step(self, run: TrainingRun, terms: dict[str, float]) -> None:
        step = run.state.step
        if step % self.every and step != run.config.steps:
            return
        values = validation_loss(
            run.state.model, self.dataset, run.device, self.batch_size, self.seed
        )
        if run.rank != 0:
            return
        for hook in run.hooks:
            if isinstance(hook, LogHook) and hook.log is not None:
                hook.log.write(step, {f"val_{k}": v for k, v in values.items()})


@torch.no_grad()
def validation_loss(
    model: Any,
    dataset: Dataset[Any],
    device: str | torch.device = "cpu",
    batch_size: int = 4,
    seed: int = 0,
) -> dict[str, float]:
    """The mean over the images of ``dataset`` of ``model``'s loss terms (``model.loss``, as
    :func:`~iterative_reasoning.engine.train` computes them), without gradients, under the
    random state that ``seed`` gives; the random state and the buffers (batch-norm statistics)
    are put back as they were."""
    totals: dict[str, float] = {}
    count = 0
    taken = snapshot(model)
    try:
        seed_everything(seed)
        for batch in evaluation_batches(dataset, model.collate, batch_size, 0):
            _, terms = model.loss(batch.to(device))
            size = len(batch[0])
            for name, value in terms.items():
                totals[name] = totals.get(name, 0.0) + value * size
            count += size
    finally:
        put_back(model, taken)
        set_random_state(taken.rng)
    return {name: value / count for name, value in totals.items()}
