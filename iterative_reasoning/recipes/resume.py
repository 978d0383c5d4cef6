"""A run trained once: trained into its directory, or loaded when it has finished there. The
demos, the benchmarks and the examples train each of their models through it, so a run started
again reuses what it finished."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from iterative_reasoning.engine.checkpoint import load_checkpoint, load_model_state
from iterative_reasoning.engine.config import TrainConfig
from iterative_reasoning.engine.hooks import Hook
from iterative_reasoning.engine.train import train


def train_or_resume(
    model: Any,
    dataset: Any,
    config: TrainConfig,
    directory: Path,
    progress: bool,
    hooks: Sequence[Hook] = (),
) -> float:
    """Train ``model`` into ``directory`` (with the further ``hooks``), or, when its
    checkpoint there has finished, load it; the seconds spent training in this call."""
    state = load_checkpoint(directory)
    if state is not None and int(state["step"]) >= config.steps:
        load_model_state(model, state, directory)
        return 0.0
    start = time.perf_counter()
    train(model, dataset, config, directory, progress=progress, hooks=hooks)
    return time.perf_counter() - start
