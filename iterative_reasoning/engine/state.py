"""The state of a training run, :class:`TrainState`: what every step changes and every
checkpoint holds."""

from __future__ import annotations

import random
import warnings
from pathlib import Path
from typing import Any, NamedTuple

import torch
from torch import Tensor, nn

from iterative_reasoning.engine.checkpoint import load_model_state
from iterative_reasoning.engine.config import TrainConfig
from iterative_reasoning.engine.distributed import persistent_buffers
from iterative_reasoning.engine.optim import lr_schedule, make_optimizer


class TrainState:
    """The model, its optimiser and learning-rate schedule, the gradient scaler of float16
    training, and the step; :meth:`state_dict` and :meth:`load_state_dict` as a module has.

    Args:
        model: the model being trained (its trainable parameters are optimised).
        config: the optimiser and schedule settings.
        device: where the model runs (the gradient scaler's device).
    """

    def __init__(self, model: nn.Module, config: TrainConfig, device: torch.device | str) -> None:
        self.model = model
        self.config = config
        self.device_type = torch.device(device).type
        self.optimizer = make_optimizer(model, config)
        self.schedule = lr_schedule(self.optimizer, config)
        self.scaler = self._scaler(config)
        self.step = 0
        #: the loss of the run's first step, against which divergence is judged
        self.first_loss: float | None = None

    def _scaler(self, config: TrainConfig) -> torch.amp.GradScaler | None:
        """float16 scales the loss so that small gradients do not underflow."""
        return torch.amp.GradScaler(self.device_type) if config.precision == "float16" else None

    def state_dict(self) -> dict[str, Any]:
        """Tensors and plain values only (checkpoints are read with ``weights_only=True``)."""
        state = {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "schedule": self.schedule.state_dict(),
            "step": self.step,
        }
        if self.first_loss is not None:
            state["first_loss"] = self.first_loss
        if self.scaler is not None:
            state["scaler"] = self.scaler.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any], source: Path | None = None) -> None:
        """Restore what :meth:`state_dict` gave; ``source`` (the run directory) names where it
        came from in errors."""
        load_model_state(self.model, state, source)
        self.optimizer.load_state_dict(state["optimizer"])
        self.schedule.load_state_dict(state["schedule"])
        if self.scaler is not None and "scaler" in state:
            self.scaler.load_state_dict(state["scaler"])
        self.step = int(state["step"])
        self.first_loss = state.get("first_loss")

    def adopt(self, config: TrainConfig) -> None:
        """Continue with the settings of ``config``: the optimiser's momentum kept, the learning
        rate where the new schedule has it at this step, as if it had held from the start."""
        self.config = config
        for group in self.optimizer.param_groups:
            group["lr"] = group["initial_lr"] = config.lr
            if "momentum" in group:
                group["momentum"] = config.momentum
        self.optimizer.param_groups[0]["weight_decay"] = config.weight_decay  # the decayed group
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "step() before optimizer.step()"
            self.schedule = lr_schedule(self.optimizer, config)
            for _ in range(self.step):
                self.schedule.step()
        if (self.scaler is None) != (config.precision != "float16"):
            self.scaler = self._scaler(config)

    def diverged(self, loss: float) -> bool:
        """Whether ``loss`` (finite) exceeds ``config.max_loss_growth`` times the first step's
        (taken as at least 1, so that a run that starts near a loss of 0 is not held to it)."""
        growth = self.config.max_loss_growth
        if not growth or self.first_loss is None:
            return False
        return loss > growth * max(self.first_loss, 1.0)

    @property
    def lr(self) -> float:
        """The learning rate of the step to come."""
        return float(self.optimizer.param_groups[0]["lr"])


class Snapshot(NamedTuple):
    """What a step may change before it finishes: the random state and the buffers (batch-norm
    statistics and counts); the parameters change only in the optimiser's step, at its end."""

    rng: dict[str, Any]
    buffers: dict[str, Tensor]


def snapshot(model: nn.Module) -> Snapshot:
    """The random state and the persistent buffers of ``model`` now (the others, the class
    graph, do not change)."""
    everything = dict(model.named_buffers())
    buffers = {name: everything[name].detach().clone() for name in persistent_buffers(model)}
    return Snapshot(random_state(), buffers)


def put_back(model: nn.Module, taken: Snapshot) -> None:
    """The buffers of ``model`` as they were when ``taken``."""
    with torch.no_grad():
        for name, buffer in model.named_buffers():
            if name in taken.buffers:
                buffer.copy_(taken.buffers[name])


def seed_everything(seed: int) -> None:
    """Seed Python's and PyTorch's generators (the package's own randomness: initialisation,
    the detectors' proposal sampling)."""
    random.seed(seed)
    torch.manual_seed(seed)


def random_state() -> dict[str, Any]:
    """This process's random state (PyTorch's and Python's)."""
    return {"torch": torch.get_rng_state(), "python": random.getstate()}


def set_random_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
