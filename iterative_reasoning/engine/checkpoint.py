"""Checkpoints: written atomically without following links, the previous one kept, and read
without running code.

A checkpoint holds tensors and plain Python values only, and is read with
``torch.load(..., weights_only=True)``: a crafted ``checkpoint.pt`` cannot run code when a run
is resumed or evaluated. It is written to a new temporary file in the run directory (created
exclusively, so a link planted there is never followed), flushed to disk, and renamed over
``checkpoint.pt`` after the one before is renamed to ``checkpoint.previous.pt``; a checkpoint
that cannot be read (truncated by a full disk, say) falls back to the previous one, with a
warning.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

import torch

CHECKPOINT = "checkpoint.pt"
PREVIOUS = "checkpoint.previous.pt"
#: What checkpoints hold beyond tensors and plain values: the milestones of torch's
#: ``MultiStepLR`` are a ``Counter``.
SAFE_GLOBALS: list[Any] = [Counter]


def save_checkpoint(directory: str | os.PathLike[str], state: dict[str, Any]) -> Path:
    """Write ``state`` to ``directory/checkpoint.pt`` atomically, keeping the checkpoint it
    replaces as ``checkpoint.previous.pt``; return the path."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / CHECKPOINT
    descriptor, name = tempfile.mkstemp(prefix=".checkpoint-", suffix=".partial", dir=directory)
    try:
        with os.fdopen(descriptor, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        if path.is_file() and not path.is_symlink():
            os.replace(path, directory / PREVIOUS)
        os.replace(name, path)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return path


def load_checkpoint(directory: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The checkpoint in ``directory`` (the previous one, with a warning, when the latest
    cannot be read), or ``None`` when there is none.

    Raises:
        ValueError: no checkpoint there can be read (each file and its error named).
    """
    directory = Path(directory)
    candidates = [directory / CHECKPOINT, directory / PREVIOUS]
    problems = []
    for path in candidates:
        if not path.exists():
            continue
        try:
            state = _read(path)
        except ValueError as error:
            problems.append(str(error))
            continue
        if problems:
            warnings.warn(
                f"{problems[0]}; resuming from the previous checkpoint {path} instead",
                stacklevel=2,
            )
        return state
    if problems:
        raise ValueError("; ".join(problems))
    return None


def load_model_state(model: torch.nn.Module, state: dict[str, Any], directory: Any) -> None:
    """Put a checkpoint's weights into ``model``; a checkpoint of another model (another
    ``--model``, other classes or widths) is a ``ValueError`` that says so."""
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as error:
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        detail = lines[1] if len(lines) > 1 else lines[0] if lines else ""
        raise ValueError(
            f"the checkpoint in {directory} holds another model than this one ({detail[:300]}); "
            "use the settings it was trained with (its run.json) or another output directory"
        ) from None


def _read(path: Path) -> dict[str, Any]:
    if path.is_symlink():
        raise ValueError(f"{path}: a link, not a checkpoint file; checkpoints are never links")
    try:
        with torch.serialization.safe_globals(SAFE_GLOBALS):
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # truncated, foreign, or holding code to run
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ValueError(f"{path}: not a readable checkpoint ({first})") from error
    if not isinstance(state, dict) or "model" not in state:
        raise ValueError(f"{path}: not a checkpoint of this package (no 'model' in it)")
    return state
