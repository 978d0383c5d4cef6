"""What a training run does around its steps, as hooks: the log, the progress bar, periodic
checkpoints, a callback, and stopping on SIGINT / SIGTERM after the step under way.

A hook's :meth:`~Hook.start` runs once the run is set up (and its checkpoint, if any, restored),
:meth:`~Hook.after_step` after every step with the step's loss terms, :meth:`~Hook.close` at the
end however the run ended; :meth:`~Hook.checkpoint_state` adds to every checkpoint what the hook
needs to continue a resumed run as one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from iterative_reasoning.engine.distributed import any_process
from iterative_reasoning.engine.log import RunLog
from iterative_reasoning.engine.stopping import StopSignals

if TYPE_CHECKING:
    from iterative_reasoning.engine.train import TrainingRun

logger = logging.getLogger(__name__)


class Hook:
    """A hook does nothing unless it overrides a method."""

    def start(self, run: TrainingRun) -> None:
        """The run is set up, at ``run.state.step``."""

    def after_step(self, run: TrainingRun, terms: dict[str, float]) -> None:
        """Step ``run.state.step`` has finished with the loss terms ``terms``."""

    def close(self) -> None:
        """The run has ended (finished, stopped or failed)."""

    def checkpoint_state(self) -> dict[str, Any]:
        """Entries of every checkpoint (plain values and tensors)."""
        return {}


class LogHook(Hook):
    """``log.jsonl`` and TensorBoard (process 0): a line every ``log_every`` steps and at
    every periodic checkpoint; the terms not yet logged are kept in the checkpoint."""

    def __init__(self, tensorboard: bool = True) -> None:
        self.tensorboard = tensorboard
        self.log: RunLog | None = None

    def start(self, run: TrainingRun) -> None:
        if run.rank == 0:
            pending = (run.resumed or {}).get("log_pending", [])
            self.log = RunLog(run.output_dir, run.state.step, self.tensorboard, pending)

    def after_step(self, run: TrainingRun, terms: dict[str, float]) -> None:
        if self.log is not None:
            step, config = run.state.step, run.config
            flush = step % config.log_every == 0 or run.checkpoint_due()
            self.log.add(step, terms, flush=flush)

    def close(self) -> None:
        if self.log is not None:
            self.log.close()

    def checkpoint_state(self) -> dict[str, Any]:
        return {"log_pending": self.log.pending if self.log is not None else []}


class ProgressHook(Hook):
    """A progress bar with the loss (process 0)."""

    def __init__(self) -> None:
        self.bar: Any = None

    def start(self, run: TrainingRun) -> None:
        if run.rank == 0:
            from tqdm import tqdm

            self.bar = tqdm(
                total=run.config.steps, initial=run.state.step, desc="training", unit="step"
            )

    def after_step(self, run: TrainingRun, terms: dict[str, float]) -> None:
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(loss=f"{terms['loss']:.3f}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class CheckpointHook(Hook):
    """A checkpoint every ``checkpoint_every`` steps and at the last step."""

    def after_step(self, run: TrainingRun, terms: dict[str, float]) -> None:
        if run.checkpoint_due():
            run.checkpoint()


class CallbackHook(Hook):
    """``callback(step, terms)`` after every step: ``train(..., hooks=[CallbackHook(f)])``."""

    def __init__(self, callback: Callable[[int, dict[str, float]], None]) -> None:
        self.callback = callback

    def after_step(self, run: TrainingRun, terms: dict[str, float]) -> None:
        self.callback(run.state.step, terms)


class StopOnSignal(Hook):
    """SIGINT (Ctrl-C) and SIGTERM stop the run after the step under way: every process
    agrees, the step is checkpointed, and :class:`~iterative_reasoning.engine.stopping.
    TrainingInterrupted` or :class:`~iterative_reasoning.engine.stopping.TrainingTerminated`
    is raised; a second Ctrl-C stops at once."""

    def __init__(self) -> None:
        self.signals: StopSignals | None = None

    def start(self, run: TrainingRun) -> None:
        self.signals = StopSignals(announce=run.rank == 0).__enter__()

    def after_step(self, run: TrainingRun, terms: dict[str, float]) -> None:
        assert self.signals is not None
        if any_process(self.signals.received is not None, run.device):
            run.checkpoint()
            stop = self.signals.stop(run.state.step, str(run.output_dir))
            if run.rank == 0:
                logger.warning("%s", stop)
            raise stop

    def close(self) -> None:
        if self.signals is not None:
            self.signals.__exit__(None, None, None)
