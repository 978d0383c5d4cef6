"""Stopping a training run between two steps: SIGINT (Ctrl-C) and SIGTERM (``kill``,
``timeout``, container stops, cluster schedulers) are taken as a request to stop after the step
under way, so that the checkpoint holds a finished step with every buffer as it was then."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType, TracebackType
from typing import Any

logger = logging.getLogger(__name__)


class TrainingInterrupted(KeyboardInterrupt):
    """Training stopped by SIGINT (Ctrl-C) after a finished step, checkpointed.

    Attributes:
        step: the last finished step, the one checkpointed.
        exit_status: 130, the shell's status for SIGINT.
    """

    exit_status = 130

    def __init__(self, message: str, step: int) -> None:
        super().__init__(message)
        self.step = step


class TrainingDiverged(FloatingPointError):
    """Training stopped because the loss diverged (grew past
    :attr:`~iterative_reasoning.engine.TrainConfig.max_loss_growth` times the first step's):
    the diverging step changed nothing and no checkpoint is written after it, so the last
    checkpoint (named in the message) holds the weights from before."""


class TrainingTerminated(SystemExit):
    """Training stopped by SIGTERM after a finished step, checkpointed; uncaught, the process
    exits with status 143, the shell's status for SIGTERM.

    Attributes:
        step: the last finished step, the one checkpointed.
        exit_status: 143.
    """

    exit_status = 143

    def __init__(self, message: str, step: int) -> None:
        super().__init__(self.exit_status)
        self.message, self.step = message, step

    def __str__(self) -> str:
        return self.message


class StopSignals:
    """Within ``with StopSignals() as signals:``, SIGINT and SIGTERM set
    ``signals.received`` instead of stopping the process; a second SIGINT stops at once
    (``KeyboardInterrupt``). Outside the main thread, where Python cannot handle signals, it
    changes nothing. The previous handlers come back on exit."""

    NAMES = {signal.SIGINT: "SIGINT", signal.SIGTERM: "SIGTERM"}

    def __init__(self, announce: bool = True) -> None:
        self.received: int | None = None
        self.announce = announce
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for number in self.NAMES:
                self._previous[number] = signal.signal(number, self._handle)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        for number, handler in self._previous.items():
            signal.signal(number, handler)

    def _handle(self, number: int, frame: FrameType | None) -> None:
        if self.received == signal.SIGINT and number == signal.SIGINT:
            raise KeyboardInterrupt  # the second Ctrl-C: now
        self.received = number
        if self.announce:
            logger.warning(
                "%s received: stopping after the step under way (Ctrl-C again to stop at once)",
                self.NAMES[signal.Signals(number)],
            )

    def stop(self, step: int, checkpoint: str) -> BaseException:
        """The exception that ends a run stopped by the received signal at ``step``."""
        name = self.NAMES[signal.Signals(self.received or signal.SIGINT)]
        message = (
            f"training stopped by {name} after step {step}; checkpoint in {checkpoint}: run the "
            "same command again to resume"
        )
        if self.received == signal.SIGTERM:
            return TrainingTerminated(message, step)
        return TrainingInterrupted(message, step)
