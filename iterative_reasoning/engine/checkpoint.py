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

import errno
import os
import pickle
import shutil
import warnings
import zipfile
from collections import Counter
from pathlib import Path
from typing import Any

import torch

from knowledge_graphs.files import atomic_open

CHECKPOINT = "checkpoint.pt"
PREVIOUS = "checkpoint.previous.pt"
#: What checkpoints hold beyond tensors and plain values: the milestones of torch's
#: ``MultiStepLR`` are a ``Counter``.
SAFE_GLOBALS: list[Any] = [Counter]


def save_checkpoint(directory: str | os.PathLike[str], state: dict[str, Any]) -> Path:
    """Write ``state`` to ``directory/checkpoint.pt`` atomically, keeping the checkpoint it
    replaces as ``checkpoint.previous.pt``; return the path.

    Raises:
        OSError: the checkpoint could not be written (a full disk, no permission); the
            message names the file and says that the checkpoints before it are intact.
    """
    directory = Path(directory)
    path = directory / CHECKPOINT
    try:
        with atomic_open(path, binary=True, previous=directory / PREVIOUS) as f:
            torch.save(state, f)
    except (OSError, RuntimeError) as error:  # torch reports a short write as a RuntimeError
        raise _write_error(path, error) from error
    return path


def _write_error(path: Path, error: BaseException) -> OSError:
    """A short error for a checkpoint that could not be written (torch's own message of a
    full disk is an internal assertion)."""
    code = getattr(error, "errno", None)
    reason = getattr(error, "strerror", None) or str(error).strip().splitlines()[0]
    try:
        free = shutil.disk_usage(path.parent).free
    except OSError:
        free = None
    if code == errno.ENOSPC or (free is not None and free < 64 * 2**20):
        code, reason = errno.ENOSPC, f"no space left on the device ({free or 0:,} bytes free)"
    return OSError(
        code or errno.EIO,
        f"could not write the checkpoint ({reason}); the checkpoints before it are intact",
        str(path),
    )


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
    check_same_model(model, state, directory)
    model.load_state_dict(state["model"])


def check_same_model(model: torch.nn.Module, state: dict[str, Any], directory: Any) -> None:
    """Raise ``ValueError`` unless the checkpoint ``state`` holds the weights of a model like
    ``model`` (the same names and shapes); nothing is loaded."""
    own, saved = model.state_dict(), state["model"]
    missing = sorted(own.keys() - saved.keys())
    unexpected = sorted(saved.keys() - own.keys())
    reshaped = [
        f"{k}: {list(saved[k].shape)} there, {list(own[k].shape)} here"
        for k in own.keys() & saved.keys()
        if tuple(own[k].shape) != tuple(saved[k].shape)
    ]
    details = [
        *([f"missing {', '.join(missing[:3])}"] if missing else []),
        *([f"not in this model {', '.join(unexpected[:3])}"] if unexpected else []),
        *sorted(reshaped)[:3],
    ]
    if details:
        raise ValueError(
            f"the checkpoint in {directory} holds another model than this one "
            f"({'; '.join(details)[:300]}); use the settings it was trained with (its "
            "run.json) or another output directory"
        )


def _read(path: Path) -> dict[str, Any]:
    if path.is_symlink():
        raise ValueError(f"{path}: a link, not a checkpoint file; checkpoints are never links")
    if path.is_dir():
        raise ValueError(f"{path}: a directory, not a checkpoint file")
    try:
        with torch.serialization.safe_globals(SAFE_GLOBALS):
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # truncated, foreign, or holding code to run
        raise ValueError(f"{path}: {_why_unreadable(path, error)}") from error
    if not isinstance(state, dict) or "model" not in state:
        raise ValueError(f"{path}: not a checkpoint of this package (no 'model' in it)")
    return state


def _why_unreadable(path: Path, error: Exception) -> str:
    """Why ``torch.load`` could not read ``path``, without torch's advice to load it with
    ``weights_only=False`` (which would run whatever code the file holds)."""
    if not zipfile.is_zipfile(path):
        return (
            "not a readable checkpoint (not the zip archive torch.save writes: truncated, "
            "damaged or another kind of file)"
        )
    if isinstance(error, pickle.UnpicklingError):
        return (
            "not a checkpoint of this package: it holds Python objects other than tensors and "
            "plain values, and such a file is never unpickled (it could run code)"
        )
    first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return f"not a readable checkpoint ({first[:200]})"
