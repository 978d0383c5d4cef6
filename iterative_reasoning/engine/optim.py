"""The optimiser and learning-rate schedule of a :class:`~iterative_reasoning.engine.TrainConfig`:
weight decay on weights only, a step schedule after an optional linear warmup."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from iterative_reasoning.engine.config import TrainConfig


def parameter_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Weights decay; biases, normalisation parameters and the learned initial memory do not
    (as the original)."""
    decay: list[nn.Parameter] = []
    no_decay: list[nn.Parameter] = []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        (no_decay if p.dim() <= 1 or name.endswith("memory.init") else decay).append(p)
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """The optimiser of ``config`` over the trainable parameters of ``model`` (weight decay
    on weights only, :func:`parameter_groups`)."""
    groups = parameter_groups(model, config.weight_decay)
    if config.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=config.lr)
    return torch.optim.SGD(groups, lr=config.lr, momentum=config.momentum)


def lr_schedule(
    optimizer: torch.optim.Optimizer, config: TrainConfig
) -> torch.optim.lr_scheduler.LRScheduler:
    """The step schedule of ``config`` (``lr_steps``, ``gamma``), after a linear warmup of
    ``warmup_steps`` when there is one."""
    if config.warmup_steps == 0:
        return torch.optim.lr_scheduler.MultiStepLR(optimizer, list(config.lr_steps), config.gamma)
    warmup, steps, gamma = config.warmup_steps, config.lr_steps, config.gamma

    def factor(step: int) -> float:
        drops = sum(step >= s for s in steps)
        return min(1.0, (step + 1) / warmup) * gamma**drops

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
