"""The settings of a training run: :class:`TrainConfig`, and which of them a resumed run must
share with its checkpoint."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
import torch

from iterative_reasoning.engine.loader import workers_for

#: The optimisers :class:`TrainConfig` offers.
OPTIMIZERS = ("sgd", "adamw")
#: The precisions :class:`TrainConfig` offers: float32, or mixed precision with
#: :func:`torch.autocast` in bfloat16 (CPU or CUDA) or float16 (CUDA, with a gradient scaler).
PRECISIONS = ("float32", "bfloat16", "float16")


@dataclass
class TrainConfig:
    """The optimisation settings; defaults are the paper's ADE schedule (320 K images, one per
    step, lr 5e-4 dropped tenfold at 280 K, momentum 0.9, weight decay 1e-4, seed 3).

    Attributes:
        steps: optimisation steps.
        batch_size: images per step, over all processes.
        lr: learning rate.
        momentum: SGD momentum.
        weight_decay: L2 on weights (not on biases, norms or the initial memory).
        lr_steps: steps at which the learning rate is multiplied by ``gamma``.
        gamma: the factor.
        warmup_steps: steps over which the learning rate rises linearly from
            ``lr / warmup_steps`` to ``lr`` (0: none, the paper's setting).
        seed: seeds the model's randomness, the data order and each image's augmentation.
        checkpoint_every: steps between checkpoints (one is also written at the end and when
            training is interrupted).
        log_every: steps averaged into one line of ``log.jsonl`` and one TensorBoard point.
        skip_nonfinite: skip a step whose loss is not finite (logged as ``"skipped"``) instead
            of stopping with an error.
        max_loss_growth: the run stops with
            :class:`~iterative_reasoning.engine.stopping.TrainingDiverged` when a step's loss
            exceeds this many times that of its first step (taken as at least 1), before the
            step changes anything: a learning rate too high makes the loss grow by orders of
            magnitude long before it overflows (0: no such check).
        optimizer: ``"sgd"`` (SGD with ``momentum``, the paper's) or ``"adamw"`` (AdamW with
            decoupled ``weight_decay``, as the DETR family trains).
        clip_grad_norm: the largest norm of the gradients of all parameters together (0: no
            clipping; the DETR family clips at 0.1).
        precision: ``"float32"``, or mixed precision: ``"bfloat16"`` (on the CPU or a GPU) or
            ``"float16"`` (a GPU; the loss is scaled so that small gradients survive).
        num_workers: processes that read and decode the images while the model trains (a
            :class:`~torch.utils.data.DataLoader`'s workers; 0: the training process itself).
            The data and every augmentation depend on the seed and the step alone, so they
            are the same with any number of workers, and a resumed run continues exactly.
            ``None`` (the default): :data:`~iterative_reasoning.engine.loader.GPU_WORKERS` when
            training on a GPU, 0 on the CPU,
            where the model's own threads use every core (on 2 cores, 2 workers made the
            synthetic benchmark's steps 22 % slower; on 1 thread, one worker made them 10 %
            faster).
    """

    steps: int = 320_000
    batch_size: int = 1
    lr: float = 5e-4
    momentum: float = 0.9
    weight_decay: float = 1e-4
    lr_steps: tuple[int, ...] = (280_000,)
    gamma: float = 0.1
    warmup_steps: int = 0
    seed: int = 3
    checkpoint_every: int = 10_000
    log_every: int = 20
    skip_nonfinite: bool = False
    max_loss_growth: float = 1e4
    optimizer: str = "sgd"
    clip_grad_norm: float = 0.0
    precision: str = "float32"
    num_workers: int | None = None

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "checkpoint_every", "log_every"):
            if _integer(name, getattr(self, name)) < 1:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        _integer("seed", self.seed)
        for step in self.lr_steps:
            if _integer("lr_steps", step) < 1:
                raise ValueError(f"lr_steps must be positive steps, got {list(self.lr_steps)}")
        for name in ("lr", "gamma"):
            value = float(getattr(self, name))
            if not math.isfinite(value) or value <= 0:
                raise ValueError(f"{name} must be finite and positive, got {value}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")
        for name in ("momentum", "weight_decay", "clip_grad_norm", "max_loss_growth"):
            value = float(getattr(self, name))
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be finite and non-negative, got {value}")
        if _integer("warmup_steps", self.warmup_steps) < 0:
            raise ValueError(f"warmup_steps must be non-negative, got {self.warmup_steps}")
        if self.num_workers is not None and _integer("num_workers", self.num_workers) < 0:
            raise ValueError(f"num_workers must be non-negative or None, got {self.num_workers}")
        self.lr_steps = tuple(int(s) for s in self.lr_steps)

    def workers_on(self, device: str | torch.device) -> int:
        """The data workers of a run on ``device`` (:func:`~iterative_reasoning.engine.
        loader.workers_for`)."""
        return workers_for(self.num_workers, device)

    def scaled(self, factor: float) -> TrainConfig:
        """The same schedule with ``factor`` times the steps, its lr steps, warmup, checkpoints
        and log lines scaled with them.

        Example:
            >>> TrainConfig(steps=400, lr_steps=(320,), log_every=10).scaled(0.5).lr_steps
            (160,)
        """
        return replace(
            self,
            steps=max(1, round(self.steps * factor)),
            lr_steps=tuple(max(1, round(s * factor)) for s in self.lr_steps),
            warmup_steps=round(self.warmup_steps * factor),
            checkpoint_every=max(1, round(self.checkpoint_every * factor)),
            log_every=max(1, round(self.log_every * factor)),
        )


def _integer(name: str, value: object) -> int:
    """``value`` if it is an integer (a NumPy one too), else a ``TypeError`` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    return int(value)


#: The settings a resumed run must share with its checkpoint (unless it adopts new ones).
SCHEDULE_FIELDS = (
    "batch_size",
    "lr",
    "momentum",
    "weight_decay",
    "lr_steps",
    "gamma",
    "warmup_steps",
    "seed",
    "optimizer",
    "clip_grad_norm",
    "precision",
)


def schedule_changes(saved: dict[str, Any], config: TrainConfig) -> dict[str, tuple[Any, Any]]:
    """The :data:`SCHEDULE_FIELDS` whose value in ``config`` differs from the checkpoint's
    ``saved`` config: name -> (saved, now). Fields the checkpoint lacks are not compared."""
    now = asdict(config)
    changed = {}
    for name in SCHEDULE_FIELDS:
        if name not in saved:
            continue
        old, new = saved[name], now[name]
        if isinstance(old, (list, tuple)) or isinstance(new, (list, tuple)):
            old, new = list(old), list(new)
        if old != new:
            changed[name] = (saved[name], now[name])
    return changed
