"""Checkpoints written atomically: a kill while writing leaves the previous one intact."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

CHECKPOINT = "checkpoint.pt"


def save_checkpoint(directory: str | os.PathLike[str], state: dict[str, Any]) -> Path:
    """Write ``state`` to ``directory/checkpoint.pt`` through a temporary file and an atomic
    rename; return the path."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / CHECKPOINT
    tmp = directory / (CHECKPOINT + ".partial")
    with open(tmp, "wb") as f:
        torch.save(state, f)
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)
    return path


def load_checkpoint(directory: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The checkpoint in ``directory``, or ``None`` when there is none."""
    path = Path(directory) / CHECKPOINT
    if not path.exists():
        return None
    try:
        state: dict[str, Any] = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as error:  # a truncated or foreign file
        raise ValueError(f"{path}: not a readable checkpoint ({error})") from error
    return state
