"""Training with the paper's settings: SGD with momentum, weight decay on weights only, a step
schedule; the data read by worker processes in a deterministic order; atomic checkpoints and a
resume that loses nothing; a JSONL log and TensorBoard; mixed precision; several processes
through ``torchrun`` (PyTorch DDP)."""

from __future__ import annotations

import contextlib
import logging
import math
import os
import traceback
from collections.abc import Generator, Iterable, Iterator, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import Dataset

from iterative_reasoning.data.records import RegionSample
from iterative_reasoning.engine.checkpoint import (
    check_same_model,
    load_checkpoint,
    save_checkpoint,
)
from iterative_reasoning.engine.config import TrainConfig, schedule_changes
from iterative_reasoning.engine.distributed import (
    any_process,
    close_distributed,
    data_parallel,
    mean_over_processes,
    process_group,
)
from iterative_reasoning.engine.evaluate import evaluate
from iterative_reasoning.engine.hooks import (
    CheckpointHook,
    Hook,
    LogHook,
    ProgressHook,
    StopOnSignal,
)
from iterative_reasoning.engine.loader import training_loader
from iterative_reasoning.engine.lock import RunDirectoryLock
from iterative_reasoning.engine.state import (
    Snapshot,
    TrainState,
    put_back,
    random_state,
    seed_everything,
    set_random_state,
    snapshot,
)
from iterative_reasoning.engine.stopping import (
    TrainingDiverged,
    TrainingInterrupted,
    TrainingTerminated,
)
from iterative_reasoning.models.region import RegionModel

if TYPE_CHECKING:
    from iterative_reasoning.models.detection import DetectionModel

logger = logging.getLogger(__name__)


def train(
    model: RegionModel | DetectionModel,
    dataset: Dataset[Any],
    config: TrainConfig,
    output_dir: str | os.PathLike[str],
    *,
    resume: bool = True,
    device: str | torch.device = "cpu",
    progress: bool = True,
    tensorboard: bool = True,
    adopt_schedule: bool = False,
    hooks: Sequence[Hook] = (),
) -> list[dict[str, float]]:
    """Train ``model`` (a region classifier, or a detector as a
    :class:`~iterative_reasoning.engine.DetectionModel`) on ``dataset`` for ``config.steps``
    steps, checkpointing to ``output_dir``. With ``resume``, an existing checkpoint there is
    continued: the weights, buffers, optimiser, schedule, random state, data position and the
    loss terms not yet logged are restored, so a run that is stopped and resumed ends with the
    same weights and the same log as one that was not.

    The images are read by ``config.num_workers`` worker processes
    (:mod:`~iterative_reasoning.engine.loader`); which images a step reads, and how each is
    augmented, depends on the seed and the step alone.

    Every ``config.log_every`` steps the mean of the loss terms goes to
    ``output_dir/log.jsonl`` and, with ``tensorboard``, to ``output_dir/tensorboard``; a resumed
    run drops what was logged after its checkpoint, so the log reads as one run.

    Under ``torchrun`` (after :func:`~iterative_reasoning.engine.init_distributed`) each of the
    ``W`` processes takes ``batch_size / W`` images of every step and the gradients are
    averaged (DDP); process 0 writes the checkpoints and logs, with the random state of every
    process.

    Stopping: SIGINT (Ctrl-C) and SIGTERM stop the run after the step under way, checkpoint it,
    print where, and raise :class:`~iterative_reasoning.engine.stopping.TrainingInterrupted`
    (a ``KeyboardInterrupt``) or :class:`~iterative_reasoning.engine.stopping.
    TrainingTerminated` (a ``SystemExit`` with status 143). Any other exception (a corrupted
    image, running out of memory, a second Ctrl-C) checkpoints the last finished step, with the
    buffers and random state as they were then, before it goes on. A loss that is not finite
    raises ``FloatingPointError`` before the step changes anything (the last good step is the
    checkpoint), or, with ``config.skip_nonfinite``, skips the step.

    A resumed run refuses a schedule other than its checkpoint's (any of
    :data:`~iterative_reasoning.engine.config.SCHEDULE_FIELDS`; ``steps``,
    ``checkpoint_every``, ``log_every`` and ``num_workers`` may change) unless
    ``adopt_schedule``, which continues from the checkpoint's weights and optimiser state with
    the new settings, as if they had held from the first step.

    Messages (a stop, an error's checkpoint) go to the ``iterative_reasoning`` logger; the
    command line prints them.

    Args:
        hooks: what else the run does around its steps, as
            :class:`~iterative_reasoning.engine.hooks.Hook` s (the one way to extend it: a
            function after each step is a :class:`~iterative_reasoning.engine.hooks.
            CallbackHook`, something once the run is set up and its checkpoint accepted is a
            hook's :meth:`~iterative_reasoning.engine.hooks.Hook.start`); they run after the
            log and the progress bar, before the checkpoint (which holds their
            :meth:`~iterative_reasoning.engine.hooks.Hook.checkpoint_state` of the step) and
            the stop on a signal.

    Returns:
        the loss terms of each step run in this call (averaged over the processes).
    """
    if len(dataset) == 0:  # type: ignore[arg-type]
        raise ValueError("the training dataset is empty")
    lock = RunDirectoryLock(output_dir) if process_group()[0] == 0 else contextlib.nullcontext()
    with lock:
        run = TrainingRun(model, config, Path(output_dir), device, resume, adopt_schedule)
        every: list[Hook] = [LogHook(tensorboard), *([ProgressHook()] if progress else []), *hooks]
        every += [CheckpointHook(), StopOnSignal()]  # last: the checkpoint has every hook's state
        run.hooks = every
        return _run(run, dataset, every)


def _run(run: TrainingRun, dataset: Dataset[Any], every: list[Hook]) -> list[dict[str, float]]:
    """The steps of :func:`train`, its hooks around them, and what an error leaves."""
    history: list[dict[str, float]] = []
    taken = None  # the state at the start of the step under way
    # the data workers start first, before any hook starts a thread (TensorBoard's writer):
    # a process forked while another thread holds a lock can deadlock on it
    batches = run.batches(dataset)
    try:
        for hook in every:
            hook.start(run)
        for batch in batches:
            taken = run.snapshot()
            terms = run.step(batch, taken)
            taken = None
            history.append(terms)
            for hook in every:
                hook.after_step(run, terms)
    except (TrainingInterrupted, TrainingTerminated):
        raise
    except TrainingDiverged as diverged:
        # the weights that diverged are not kept: the last checkpoint stays the last one
        raise TrainingDiverged(f"{diverged}; {run.last_checkpoint_text()}") from None
    except BaseException:
        # a bad image, out of memory, a second Ctrl-C...: keep everything up to the last
        # finished step, as it was at its end, so that a resume loses nothing
        run.checkpoint(restore=taken, gather=False)
        if run.rank == 0:
            logger.error(
                "training stopped by an error after step %d; checkpoint in %s",
                run.state.step,
                run.output_dir,
            )
        raise
    finally:
        for hook in every:
            hook.close()
        batches.close()
    return history


def train_step(
    state: TrainState, net: nn.Module, batch: Any, device: str | torch.device
) -> dict[str, float]:
    """One optimisation step of ``state`` on ``batch``: the forward pass and the loss (under
    autocast with mixed precision), the backward pass, clipping, the optimiser and the
    schedule. ``net`` is the model or its DDP wrapper. Returns the step's loss terms (averaged
    over the processes), ``"skipped"`` (1 when a non-finite loss was skipped, with
    ``skip_nonfinite``) and ``"lr"``.

    Raises:
        FloatingPointError: the loss of some process is not finite (without
            ``skip_nonfinite``), before anything has changed.
        TrainingDiverged: the loss of some process grew past ``config.max_loss_growth``
            times the first step's, before anything has changed.
    """
    model, config, optimizer, scaler = state.model, state.config, state.optimizer, state.scaler
    with autocast(device, config.precision):
        loss, terms = model.loss_of(batch, net(batch))  # type: ignore[operator]
    optimizer.zero_grad(set_to_none=True)
    skip = any_process(not math.isfinite(terms["loss"]), device)
    if skip and not config.skip_nonfinite:
        raise FloatingPointError(
            f"the loss is not finite at step {state.step + 1} ({terms}): training stops "
            f"with the checkpoint of step {state.step}; lower the learning rate (or set "
            "skip_nonfinite to skip such steps)"
        )
    if any_process(not skip and state.diverged(terms["loss"]), device):
        raise TrainingDiverged(
            f"the loss diverged at step {state.step + 1}: {terms['loss']:.4g}, more than "
            f"{config.max_loss_growth:g} times the first step's ({state.first_loss:.4g}); "
            "training stops before this step changes anything: lower the learning rate"
        )
    # also when skipped: DDP's processes must all reduce their gradients
    (scaler.scale(loss) if scaler is not None else loss).backward()
    if skip:
        optimizer.zero_grad(set_to_none=True)
    else:
        if scaler is not None:
            scaler.unscale_(optimizer)
        if config.clip_grad_norm > 0:
            nn.utils.clip_grad_norm_(model.parameters(), config.clip_grad_norm)
        if scaler is not None:
            scaler.step(optimizer)
            scaler.update()
        else:
            optimizer.step()
    terms["skipped"] = float(skip)
    state.schedule.step()
    state.step += 1
    terms = mean_over_processes(terms, device)
    if state.first_loss is None and not skip:
        state.first_loss = terms["loss"]
    terms["lr"] = state.lr
    return terms


def autocast(device: str | torch.device, precision: str) -> contextlib.AbstractContextManager[Any]:
    """Mixed precision for the forward pass and the loss (nothing for ``"float32"``)."""
    if precision == "float32":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if precision == "bfloat16" else torch.float16
    return torch.autocast(device_type=torch.device(device).type, dtype=dtype)


class Batches:
    """The batches of a :class:`~torch.utils.data.DataLoader` on ``device``; its workers start
    when this is made and stop at :meth:`close` (whatever ended the run: workers that ignore
    SIGTERM would otherwise outlive it)."""

    def __init__(self, loader: Iterable[Any], device: str | torch.device) -> None:
        self._iterator: Iterator[Any] | None = iter(loader)
        self.device = device
        self._moved: Generator[Any, None, None] = self._batches()

    def _batches(self) -> Generator[Any, None, None]:
        while self._iterator is not None:
            try:
                batch = next(self._iterator)
            except StopIteration:
                return
            except BaseException as error:
                # the loader's frames in the error's traceback hold its iterator, and with it
                # the workers, for as long as the error lives: let go of them
                traceback.clear_frames(error.__traceback__)
                raise
            yield batch.to(self.device)

    def __iter__(self) -> Iterator[Any]:
        if self._iterator is None:
            raise RuntimeError("the batches are closed")
        return self._moved

    def close(self) -> None:
        """Stop the workers (and drop what they read ahead): the loader's iterator stops them
        when it is released, and nothing else holds it once its generator is closed (not even
        the traceback of an error it raised)."""
        self._moved.close()
        self._iterator = None


class TrainingRun:
    """One run of :func:`train`: the state (restored from the checkpoint when resuming), the
    model's DDP wrapper, this process's rank, the data, one step, and checkpoints.

    Attributes:
        state: the :class:`~iterative_reasoning.engine.state.TrainState`.
        resumed: the checkpoint the run continues, or ``None``.
        hooks: the hooks whose :meth:`~iterative_reasoning.engine.hooks.Hook.checkpoint_state`
            goes into every checkpoint.
    """

    def __init__(
        self,
        model: nn.Module,
        config: TrainConfig,
        output_dir: Path,
        device: str | torch.device,
        resume: bool,
        adopt_schedule: bool = False,
    ) -> None:
        self.config, self.output_dir, self.device = config, output_dir, device
        self.rank, self.world = process_group()
        if config.batch_size % self.world:
            raise ValueError(
                f"batch_size ({config.batch_size}) must be a multiple of the number of "
                f"processes ({self.world})"
            )
        if config.precision == "float16" and torch.device(device).type == "cpu":
            raise ValueError(
                "precision 'float16' needs a GPU (PyTorch's CPU autocast runs in bfloat16): "
                "give precision 'bfloat16' on the CPU"
            )
        seed_everything(config.seed + self.rank)
        model.to(device).train()
        self.net = data_parallel(model, device)
        self.state = TrainState(model, config, device)
        self.hooks: list[Hook] = []
        self.resumed = load_checkpoint(output_dir) if resume else None
        if self.resumed is not None:
            self._restore(self.resumed, adopt_schedule)
        #: the step of the last checkpoint this run wrote or resumed from
        self.checkpointed: int | None = self.state.step if self.resumed is not None else None

    def _restore(self, saved: dict[str, Any], adopt_schedule: bool) -> None:
        check_same_model(self.state.model, saved, self.output_dir)
        changed = schedule_changes(saved.get("config", {}), self.config)
        if "optimizer" in changed:
            old, new = changed["optimizer"]
            raise ValueError(
                f"the checkpoint in {self.output_dir} was trained with optimizer {old!r}, not "
                f"{new!r}; an optimiser's state does not carry over to another: resume "
                "with the same optimiser or start afresh"
            )
        if changed and not adopt_schedule:
            shown = "; ".join(f"{k}: {old} then, {new} now" for k, (old, new) in changed.items())
            raise ValueError(
                f"the checkpoint in {self.output_dir} was trained with another schedule "
                f"({shown}); resume with the same settings, start afresh (--no-resume, or "
                "another output directory), or adopt the new schedule (--adopt-schedule)"
            )
        self.state.load_state_dict(saved, self.output_dir)
        rng = saved["rng"]
        if self.rank < len(rng) and rng[self.rank] is not None:
            set_random_state(rng[self.rank])
        else:
            seed_everything(self.config.seed + self.rank + 1_000_003 * self.state.step)
        if changed:
            self.state.adopt(self.config)

    def batches(self, dataset: Dataset[Any]) -> Batches:
        """The batches of the steps still to run, on the run's device; the data workers
        start now."""
        model = self.state.model
        loader = training_loader(
            dataset,
            model.collate,  # type: ignore[arg-type]
            batch_size=self.config.batch_size,
            seed=self.config.seed,
            start=self.state.step,
            stop=self.config.steps,
            num_workers=self.config.workers_on(self.device),
            rank=self.rank,
            world=self.world,
            pin_memory=torch.device(self.device).type == "cuda",
        )
        return Batches(loader, self.device)

    def step(self, batch: Any, taken: Snapshot) -> dict[str, float]:
        """:func:`train_step`; a skipped step's buffers are put back as ``taken`` before it."""
        terms = train_step(self.state, self.net, batch, self.device)
        if terms["skipped"]:
            put_back(self.state.model, taken)  # the batch norms saw the diverging batch
        return terms

    def snapshot(self) -> Snapshot:
        return snapshot(self.state.model)

    def checkpoint_due(self) -> bool:
        """Whether the step just finished is one to checkpoint (periodic, or the last)."""
        step = self.state.step
        return step % self.config.checkpoint_every == 0 or step == self.config.steps

    def checkpoint(self, restore: Snapshot | None = None, gather: bool = True) -> None:
        """Write the checkpoint of ``state.step`` (after putting back the buffers and random
        state of ``restore``, taken when the unfinished step began): process 0 writes it, with
        the random state of every process when they all take part (``gather``)."""
        if restore is not None:
            put_back(self.state.model, restore)
        own = restore.rng if restore is not None else random_state()
        rng: list[Any] = [own]
        if self.world > 1:
            rng = [None] * self.world
            if gather:
                dist.all_gather_object(rng, own)
            else:
                rng[self.rank] = own
        if self.rank != 0:
            return
        state = self.state.state_dict()
        state.update(rng=rng, config=asdict(self.config))
        for hook in self.hooks:
            state.update(hook.checkpoint_state())
        save_checkpoint(self.output_dir, state)
        self.checkpointed = self.state.step

    def last_checkpoint_text(self) -> str:
        """Where the last checkpoint is, in words (for an error message)."""
        if self.checkpointed is None:
            return "no checkpoint was written (the next run starts afresh)"
        return (
            f"the last checkpoint, of step {self.checkpointed}, is in {self.output_dir} "
            "(resume from it with a lower learning rate and --adopt-schedule)"
        )


def train_and_evaluate(
    model: RegionModel,
    train_set: Dataset[RegionSample],
    test_set: Dataset[RegionSample],
    config: TrainConfig,
    output_dir: str | os.PathLike[str],
    device: str | torch.device = "cpu",
) -> dict[str, float]:
    """:func:`train` (resuming what ``output_dir`` holds), leave the process group, then, in
    process 0, :func:`~iterative_reasoning.engine.evaluate` on ``test_set`` (``metrics.json``)
    and print the metrics; returns them in percent (empty in the other processes)."""

    train(model, train_set, config, output_dir, device=device)
    rank = process_group()[0]
    close_distributed()
    if rank != 0:
        return {}
    metrics = evaluate(model, test_set, output_dir=output_dir, device=device, progress=True)
    logger.info("%s", {k: round(v, 1) for k, v in metrics.as_percent().items()})
    return metrics.as_percent()
