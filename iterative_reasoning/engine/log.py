"""The training log: ``log.jsonl`` (one line every ``log_every`` steps, the mean of each loss
term since the line before, and the lines of a held-out validation, whose terms start with
``val_``) and TensorBoard scalars, which a resumed run continues as one."""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

from knowledge_graphs.files import open_append, write_atomic

LOG = "log.jsonl"


class RunLog:
    """``log.jsonl`` and TensorBoard scalars under ``tensorboard/``; on resume, what came after
    ``step`` is dropped from both, and the terms not yet logged come back from the checkpoint
    (``pending``)."""

    def __init__(
        self,
        output_dir: Path,
        step: int,
        tensorboard: bool,
        pending: list[dict[str, float]] | None = None,
    ) -> None:
        output_dir.mkdir(parents=True, exist_ok=True)
        self.path = output_dir / LOG
        # a fresh run keeps nothing of an old log (which it need not be able to read)
        kept = [line for line in read_log(output_dir) if line["step"] <= step] if step else []
        write_atomic(self.path, "".join(json.dumps(line) + "\n" for line in kept))
        self.file = open_append(self.path)
        # the terms of the steps since the last line, carried over a stop in the checkpoint
        self.pending: list[dict[str, float]] = [dict(t) for t in pending or []]
        self.writer = None
        if tensorboard:
            # TensorBoard orders event files by name (creation second, then pid), so a resumed
            # run's purge of the steps after its checkpoint can land in the wrong place; the
            # events are rewritten from the kept log instead, which makes the two agree
            from torch.utils.tensorboard import SummaryWriter

            folder = output_dir / "tensorboard"
            for old in folder.glob("events.out.tfevents.*"):
                old.unlink()
            self.writer = SummaryWriter(str(folder))
            for line in kept:
                self._scalars(int(line["step"]), line)

    def add(self, step: int, terms: dict[str, float], flush: bool) -> None:
        self.pending.append(terms)
        if flush:
            self.flush(step)

    def flush(self, step: int) -> None:
        if not self.pending:
            return
        mean = {k: sum(t[k] for t in self.pending) / len(self.pending) for k in self.pending[0]}
        self.pending = []
        self.file.write(json.dumps({"step": step, **mean}) + "\n")
        self.file.flush()
        self._scalars(step, mean)

    def write(self, step: int, values: dict[str, float]) -> None:
        """A line of its own for ``values`` measured at ``step`` (a validation's, whose names
        start with ``val_``), after the line of the training terms."""
        self.file.write(json.dumps({"step": step, **values}) + "\n")
        self.file.flush()
        self._scalars(step, values)

    def _scalars(self, step: int, terms: dict[str, float]) -> None:
        if self.writer is None:
            return
        for name, value in terms.items():
            if name.startswith("val_"):
                self.writer.add_scalar(f"validation/{name[4:]}", value, step)
            elif name != "step":
                self.writer.add_scalar(f"train/{name}", value, step)
        self.writer.flush()

    def close(self) -> None:
        self.file.close()
        if self.writer is not None:
            self.writer.close()


def read_log(output_dir: str | os.PathLike[str]) -> list[dict[str, float]]:
    """The lines of ``output_dir/log.jsonl`` written by :func:`train` (empty if none)."""
    path = Path(output_dir) / LOG
    if not path.exists():
        return []
    lines = []
    texts = path.read_text().splitlines()
    for number, text in enumerate(texts, 1):
        if not text.strip():
            continue
        try:
            lines.append(json.loads(text))
        except json.JSONDecodeError as error:
            if number == len(texts):  # torn by a stop while writing: the run writes it again
                warnings.warn(f"{path}: ignoring its torn last line {number}", stacklevel=2)
                break
            raise ValueError(f"{path}, line {number}: not JSON ({error})") from error
    return lines
