"""Training with the paper's settings: SGD with momentum, weight decay on weights only, a step
schedule; deterministic data order; atomic checkpoints and a resume that loses nothing."""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset

from iterative_reasoning.data.records import RegionSample
from iterative_reasoning.engine.checkpoint import load_checkpoint, save_checkpoint
from iterative_reasoning.engine.model import RegionModel, collate_regions


@dataclass
class TrainConfig:
    """The optimisation settings; defaults are the paper's ADE schedule (320 K images, one per
    step, lr 5e-4 dropped tenfold at 280 K, momentum 0.9, weight decay 1e-4, seed 3).

    Attributes:
        steps: optimisation steps.
        batch_size: images per step.
        lr: learning rate.
        momentum: SGD momentum.
        weight_decay: L2 on weights (not on biases, norms or the initial memory).
        lr_steps: steps at which the learning rate is multiplied by ``gamma``.
        gamma: the factor.
        seed: seeds the model's randomness and the data order.
        checkpoint_every: steps between checkpoints (one is also written at the end and when
            training is interrupted).
    """

    steps: int = 320_000
    batch_size: int = 1
    lr: float = 5e-4
    momentum: float = 0.9
    weight_decay: float = 1e-4
    lr_steps: tuple[int, ...] = (280_000,)
    gamma: float = 0.1
    seed: int = 3
    checkpoint_every: int = 10_000
    extra: dict[str, Any] = field(default_factory=dict)


def seed_everything(seed: int) -> None:
    """Seed Python's and PyTorch's generators (the package's own randomness: data order,
    flips, initialisation)."""
    random.seed(seed)
    torch.manual_seed(seed)


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


def data_order(num_items: int, step: int, batch_size: int, seed: int) -> list[int]:
    """The dataset indices of a step: epoch-wise permutations seeded by ``(seed, epoch)``, so
    the order depends on nothing but the step."""
    start = step * batch_size
    indices = []
    for position in range(start, start + batch_size):
        epoch, offset = divmod(position, num_items)
        generator = torch.Generator().manual_seed(seed * 100_003 + epoch)
        indices.append(int(torch.randperm(num_items, generator=generator)[offset]))
    return indices


def train(
    model: RegionModel,
    dataset: Dataset[RegionSample],
    config: TrainConfig,
    output_dir: str | os.PathLike[str],
    *,
    resume: bool = True,
    device: str | torch.device = "cpu",
    progress: bool = True,
    callback: Callable[[int, dict[str, float]], None] | None = None,
) -> list[dict[str, float]]:
    """Train ``model`` on ``dataset`` for ``config.steps`` steps, checkpointing to
    ``output_dir``. With ``resume``, an existing checkpoint there is continued: the weights,
    optimiser, schedule, random state and data position are restored, so a run that is killed
    and resumed ends with the same weights as one that was not.

    Returns:
        the logged terms of each step run in this call.
    """
    output_dir = Path(output_dir)
    num_items = len(dataset)  # type: ignore[arg-type]
    if num_items == 0:
        raise ValueError("the training dataset is empty")
    seed_everything(config.seed)
    model.to(device).train()
    optimizer = torch.optim.SGD(
        parameter_groups(model, config.weight_decay), lr=config.lr, momentum=config.momentum
    )
    schedule = torch.optim.lr_scheduler.MultiStepLR(optimizer, list(config.lr_steps), config.gamma)
    step = 0
    state = load_checkpoint(output_dir) if resume else None
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        schedule.load_state_dict(state["schedule"])
        torch.set_rng_state(state["rng"]["torch"])
        random.setstate(state["rng"]["python"])
        step = int(state["step"])

    def checkpoint() -> None:
        save_checkpoint(
            output_dir,
            {
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "schedule": schedule.state_dict(),
                "step": step,
                "rng": {
                    "torch": torch.get_rng_state(),
                    "python": random.getstate(),
                },
                "config": asdict(config),
            },
        )

    history: list[dict[str, float]] = []
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=config.steps, initial=step, desc="training", unit="step")
    try:
        while step < config.steps:
            indices = data_order(num_items, step, config.batch_size, config.seed)
            batch = collate_regions([dataset[i] for i in indices]).to(device)
            loss, terms = model.loss(batch)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            step += 1
            terms["lr"] = optimizer.param_groups[0]["lr"]
            history.append(terms)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{terms['loss']:.3f}")
            if step % config.checkpoint_every == 0 or step == config.steps:
                checkpoint()
            if callback is not None:
                callback(step, terms)
    except KeyboardInterrupt:
        checkpoint()  # an interrupted run keeps everything up to its last finished step
        raise
    finally:
        if bar is not None:
            bar.close()
    return history
