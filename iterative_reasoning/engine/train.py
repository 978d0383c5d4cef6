"""Training with the paper's settings: SGD with momentum, weight decay on weights only, a step
schedule; deterministic data order; atomic checkpoints and a resume that loses nothing; a JSONL
log and TensorBoard; several processes through ``torchrun`` (PyTorch DDP)."""

from __future__ import annotations

import json
import math
import os
import random
import sys
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import Dataset

from iterative_reasoning.data.records import RegionSample
from iterative_reasoning.engine.checkpoint import (
    load_checkpoint,
    load_model_state,
    save_checkpoint,
)
from iterative_reasoning.engine.model import RegionModel
from iterative_reasoning.engine.stopping import StopSignals, TrainingInterrupted, TrainingTerminated

if TYPE_CHECKING:
    from iterative_reasoning.engine.detection import DetectionModel

LOG = "log.jsonl"


#: The optimisers :class:`TrainConfig` offers.
OPTIMIZERS = ("sgd", "adamw")


@dataclass
class TrainConfig:
    """The optimisation settings; defaults are the paper's ADE schedule (320 K images, one per
    step, lr 5e-4 dropped tenfold at 280 K, momentum 0.9, weight decay 1e-4, seed 3).

    Attributes:
        steps: optimisation steps.
        batch_size: images per step, over all processes.
        lr: learning rate.
        momentum: SGD momentum.
        weight_decay: L2 on weights (not on biases, norms or the initial memory).
        lr_steps: steps at which the learning rate is multiplied by ``gamma``.
        gamma: the factor.
        warmup_steps: steps over which the learning rate rises linearly from
            ``lr / warmup_steps`` to ``lr`` (0: none, the paper's setting).
        seed: seeds the model's randomness and the data order.
        checkpoint_every: steps between checkpoints (one is also written at the end and when
            training is interrupted).
        log_every: steps averaged into one line of ``log.jsonl`` and one TensorBoard point.
        skip_nonfinite: skip a step whose loss is not finite (logged as ``"skipped"``) instead
            of stopping with an error.
        optimizer: ``"sgd"`` (SGD with ``momentum``, the paper's) or ``"adamw"`` (AdamW with
            decoupled ``weight_decay``, as the DETR family trains).
        clip_grad_norm: the largest norm of the gradients of all parameters together (0: no
            clipping; the DETR family clips at 0.1).
    """

    steps: int = 320_000
    batch_size: int = 1
    lr: float = 5e-4
    momentum: float = 0.9
    weight_decay: float = 1e-4
    lr_steps: tuple[int, ...] = (280_000,)
    gamma: float = 0.1
    warmup_steps: int = 0
    seed: int = 3
    checkpoint_every: int = 10_000
    log_every: int = 20
    skip_nonfinite: bool = False
    optimizer: str = "sgd"
    clip_grad_norm: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "checkpoint_every", "log_every"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        for name in ("lr", "gamma"):
            value = float(getattr(self, name))
            if not math.isfinite(value) or value <= 0:
                raise ValueError(f"{name} must be finite and positive, got {value}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        for name in ("momentum", "weight_decay", "clip_grad_norm"):
            value = float(getattr(self, name))
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be finite and non-negative, got {value}")
        if int(self.warmup_steps) < 0:
            raise ValueError(f"warmup_steps must be non-negative, got {self.warmup_steps}")
        self.lr_steps = tuple(int(s) for s in self.lr_steps)


def close_distributed() -> None:
    """Leave the process group :func:`init_distributed` joined (a process that exits without it
    may abort in gloo's teardown); nothing when there is none."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def process_group() -> tuple[int, int]:
    """``(rank, world_size)`` of this process: ``(0, 1)`` unless ``torch.distributed`` is
    initialised (as :func:`init_distributed` does under ``torchrun``)."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def init_distributed() -> torch.device:
    """Under ``torchrun`` (``WORLD_SIZE`` > 1): join the process group (NCCL on GPUs, gloo on
    CPUs) and return this process's device; otherwise the first GPU or the CPU."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    cuda = torch.cuda.is_available()
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if cuda else "gloo")
    if cuda:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
        return device
    return torch.device("cpu")


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


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """The optimiser of ``config`` over the trainable parameters of ``model`` (weight decay
    on weights only, :func:`parameter_groups`)."""
    groups = parameter_groups(model, config.weight_decay)
    if config.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=config.lr)
    return torch.optim.SGD(groups, lr=config.lr, momentum=config.momentum)


#: The settings a resumed run must share with its checkpoint (unless it adopts new ones).
SCHEDULE_FIELDS = (
    "batch_size",
    "lr",
    "momentum",
    "weight_decay",
    "lr_steps",
    "gamma",
    "warmup_steps",
    "seed",
    "optimizer",
    "clip_grad_norm",
)


def schedule_changes(saved: dict[str, Any], config: TrainConfig) -> dict[str, tuple[Any, Any]]:
    """The :data:`SCHEDULE_FIELDS` whose value in ``config`` differs from the checkpoint's
    ``saved`` config: name -> (saved, now). Fields the checkpoint lacks are not compared."""
    now = asdict(config)
    changed = {}
    for name in SCHEDULE_FIELDS:
        if name not in saved:
            continue
        old, new = saved[name], now[name]
        if isinstance(old, (list, tuple)) or isinstance(new, (list, tuple)):
            old, new = list(old), list(new)
        if old != new:
            changed[name] = (saved[name], now[name])
    return changed


def lr_schedule(
    optimizer: torch.optim.Optimizer, config: TrainConfig
) -> torch.optim.lr_scheduler.LRScheduler:
    """The step schedule of ``config`` (``lr_steps``, ``gamma``), after a linear warmup of
    ``warmup_steps`` when there is one."""
    if config.warmup_steps == 0:
        return torch.optim.lr_scheduler.MultiStepLR(optimizer, list(config.lr_steps), config.gamma)
    warmup, steps, gamma = config.warmup_steps, config.lr_steps, config.gamma

    def factor(step: int) -> float:
        drops = sum(step >= s for s in steps)
        return min(1.0, (step + 1) / warmup) * gamma**drops

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


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
    model: RegionModel | DetectionModel,
    dataset: Dataset[Any],
    config: TrainConfig,
    output_dir: str | os.PathLike[str],
    *,
    resume: bool = True,
    device: str | torch.device = "cpu",
    progress: bool = True,
    callback: Callable[[int, dict[str, float]], None] | None = None,
    tensorboard: bool = True,
    adopt_schedule: bool = False,
    on_start: Callable[[int], None] | None = None,
) -> list[dict[str, float]]:
    """Train ``model`` (a region classifier, or a detector as a
    :class:`~iterative_reasoning.engine.DetectionModel`) on ``dataset`` for ``config.steps``
    steps, checkpointing to ``output_dir``. With ``resume``, an existing checkpoint there is
    continued: the weights, buffers, optimiser, schedule, random state, data position and the
    loss terms not yet logged are restored, so a run that is stopped and resumed ends with the
    same weights and the same log as one that was not.

    Every ``config.log_every`` steps the mean of the loss terms goes to
    ``output_dir/log.jsonl`` and, with ``tensorboard``, to ``output_dir/tensorboard``; a resumed
    run drops what was logged after its checkpoint, so the log reads as one run.

    Under ``torchrun`` (after :func:`init_distributed`) each of the ``W`` processes takes
    ``batch_size / W`` images of every step and the gradients are averaged (DDP); process 0
    writes the checkpoints and logs, with the random state of every process.

    Stopping: SIGINT (Ctrl-C) and SIGTERM stop the run after the step under way, checkpoint it,
    print where, and raise :class:`~iterative_reasoning.engine.stopping.TrainingInterrupted`
    (a ``KeyboardInterrupt``) or :class:`~iterative_reasoning.engine.stopping.
    TrainingTerminated` (a ``SystemExit`` with status 143). Any other exception (a corrupted
    image, running out of memory, a second Ctrl-C) checkpoints the last finished step, with the
    buffers and random state as they were then, before it goes on. A loss that is not finite
    raises ``FloatingPointError`` before the step changes anything (the last good step is the
    checkpoint), or, with ``config.skip_nonfinite``, skips the step.

    A resumed run refuses a schedule other than its checkpoint's (any of
    :data:`SCHEDULE_FIELDS`; ``steps``, ``checkpoint_every`` and ``log_every`` may change)
    unless ``adopt_schedule``, which continues from the checkpoint's weights and optimiser
    state with the new settings, as if they had held from the first step.

    Args:
        callback: called after each step with the step and its loss terms.
        on_start: called once the run is set up and its checkpoint (if any) accepted, with the
            step it starts from (e.g. to record what runs).

    Returns:
        the loss terms of each step run in this call (averaged over the processes).
    """
    run = _Run(
        model, dataset, config, Path(output_dir), device, resume, tensorboard, adopt_schedule
    )
    if on_start is not None:
        on_start(run.step)
    history: list[dict[str, float]] = []
    bar = None
    if progress and run.rank == 0:
        from tqdm import tqdm

        bar = tqdm(total=config.steps, initial=run.step, desc="training", unit="step")
    snapshot = None  # the state at the start of the step under way
    try:
        with StopSignals(announce=run.rank == 0) as signals:
            while run.step < config.steps:
                snapshot = run.snapshot()
                terms = run.one_step(snapshot)
                snapshot = None
                history.append(terms)
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(loss=f"{terms['loss']:.3f}")
                if run.step % config.checkpoint_every == 0 or run.step == config.steps:
                    run.checkpoint()
                if callback is not None:
                    callback(run.step, terms)
                if run.agree(signals.received is not None):
                    run.checkpoint()
                    stop = signals.stop(run.step, str(run.output_dir))
                    if run.rank == 0:
                        print(str(stop), file=sys.stderr, flush=True)
                    raise stop
    except (TrainingInterrupted, TrainingTerminated):
        raise
    except BaseException:
        # a bad image, out of memory, a second Ctrl-C...: keep everything up to the last
        # finished step, as it was at its end, so that a resume loses nothing
        run.checkpoint(restore=snapshot, gather=False)
        if run.rank == 0:
            print(
                f"training stopped by an error after step {run.step}; checkpoint in "
                f"{run.output_dir}",
                file=sys.stderr,
                flush=True,
            )
        raise
    finally:
        if bar is not None:
            bar.close()
        if run.log is not None:
            run.log.close()
    return history


class _Snapshot(NamedTuple):
    """What a step may change before it finishes: the random state and the buffers (batch-norm
    statistics and counts); the parameters change only in the optimiser's step, at its end."""

    rng: dict[str, Any]
    buffers: dict[str, Tensor]


class _Run:
    """The state of a training run: model (and its DDP wrapper), optimiser, schedule, step,
    log; one step, a checkpoint and the agreement of the processes."""

    def __init__(
        self,
        model: RegionModel | DetectionModel,
        dataset: Dataset[Any],
        config: TrainConfig,
        output_dir: Path,
        device: str | torch.device,
        resume: bool,
        tensorboard: bool,
        adopt_schedule: bool = False,
    ) -> None:
        self.model, self.dataset, self.config = model, dataset, config
        self.output_dir, self.device = output_dir, device
        self.rank, self.world = process_group()
        self.num_items = len(dataset)  # type: ignore[arg-type]
        if self.num_items == 0:
            raise ValueError("the training dataset is empty")
        if config.batch_size % self.world:
            raise ValueError(
                f"batch_size ({config.batch_size}) must be a multiple of the number of "
                f"processes ({self.world})"
            )
        seed_everything(config.seed + self.rank)
        model.to(device).train()
        self.net: nn.Module = model
        if self.world > 1:
            cuda = torch.device(device).type == "cuda"
            # sparse buffers (the class graph) are built identically in every process, and DDP
            # cannot broadcast them
            sparse = [n for n, b in model.named_buffers() if b.layout != torch.strided]
            DistributedDataParallel._set_params_and_buffers_to_ignore_for_model(model, sparse)
            self.net = DistributedDataParallel(
                model, device_ids=[torch.device(device)] if cuda else None
            )
        self.optimizer = make_optimizer(model, config)
        self.schedule = lr_schedule(self.optimizer, config)
        self.step, pending = 0, []
        state = load_checkpoint(output_dir) if resume else None
        if state is not None:
            changed = schedule_changes(state.get("config", {}), config)
            if "optimizer" in changed:
                old, new = changed["optimizer"]
                raise ValueError(
                    f"the checkpoint in {output_dir} was trained with optimizer {old!r}, not "
                    f"{new!r}; an optimiser's state does not carry over to another: resume "
                    "with the same optimiser or start afresh"
                )
            if changed and not adopt_schedule:
                shown = "; ".join(
                    f"{k}: {old} then, {new} now" for k, (old, new) in changed.items()
                )
                raise ValueError(
                    f"the checkpoint in {output_dir} was trained with another schedule ({shown}); "
                    "resume with the same settings, start afresh (--no-resume, or another "
                    "output directory), or adopt the new schedule (--adopt-schedule)"
                )
            self._restore(state)
            if changed:
                self._adopt_schedule()
            pending = list(state.get("log_pending", []))
        self.log = _Log(output_dir, self.step, tensorboard, pending) if self.rank == 0 else None

    def _restore(self, state: dict[str, Any]) -> None:
        load_model_state(self.model, state, self.output_dir)
        self.optimizer.load_state_dict(state["optimizer"])
        self.schedule.load_state_dict(state["schedule"])
        self.step = int(state["step"])
        rng = state["rng"]
        if self.rank < len(rng) and rng[self.rank] is not None:
            _set_random_state(rng[self.rank])
        else:
            seed_everything(self.config.seed + self.rank + 1_000_003 * self.step)

    def _adopt_schedule(self) -> None:
        """The settings of ``self.config`` from now on, the optimiser's momentum kept, the
        learning rate where the new schedule has it at this step."""
        config = self.config
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

    def snapshot(self) -> _Snapshot:
        buffers = {
            name: b.detach().clone()
            for name, b in self.model.named_buffers()
            if b.layout == torch.strided  # the sparse class graph does not change
        }
        return _Snapshot(_random_state(), buffers)

    def one_step(self, snapshot: _Snapshot) -> dict[str, float]:
        """Run step ``self.step + 1`` and return its loss terms (and ``"lr"``); ``snapshot``
        (taken as the step began) puts the buffers back when the step is skipped."""
        config = self.config
        indices = data_order(self.num_items, self.step, config.batch_size, config.seed)
        samples = [self.dataset[i] for i in indices[self.rank :: self.world]]
        batch: Any = self.model.collate(samples).to(self.device)
        loss, terms = self.model.loss_of(batch, self.net(batch))
        self.optimizer.zero_grad(set_to_none=True)
        skip = self.agree(not math.isfinite(terms["loss"]))
        if skip and not config.skip_nonfinite:
            raise FloatingPointError(
                f"the loss is not finite at step {self.step + 1} ({terms}): training stops "
                f"with the checkpoint of step {self.step}; lower the learning rate (or set "
                "skip_nonfinite to skip such steps)"
            )
        loss.backward()  # also when skipped: DDP's processes must all reduce their gradients
        if skip:
            self.optimizer.zero_grad(set_to_none=True)
            self._put_back(snapshot)  # the batch norms saw the diverging batch
        else:
            if config.clip_grad_norm > 0:
                nn.utils.clip_grad_norm_(self.model.parameters(), config.clip_grad_norm)
            self.optimizer.step()
        terms["skipped"] = float(skip)
        self.schedule.step()
        self.step += 1
        if self.world > 1:
            terms = _mean_over_processes(terms, self.device)
        terms["lr"] = self.optimizer.param_groups[0]["lr"]
        if self.log is not None:
            save = self.step % config.checkpoint_every == 0 or self.step == config.steps
            self.log.add(self.step, terms, flush=save or self.step % config.log_every == 0)
        return terms

    def agree(self, flag: bool) -> bool:
        """``flag`` in any process (all processes call this at the same point)."""
        if self.world == 1:
            return flag
        value = torch.tensor([float(flag)], device=self.device)
        dist.all_reduce(value, op=dist.ReduceOp.MAX)
        return bool(value.item() > 0)

    def _put_back(self, snapshot: _Snapshot) -> None:
        with torch.no_grad():
            for name, buffer in self.model.named_buffers():
                if name in snapshot.buffers:
                    buffer.copy_(snapshot.buffers[name])

    def checkpoint(self, restore: _Snapshot | None = None, gather: bool = True) -> None:
        """Write the checkpoint of ``self.step`` (after putting back the buffers and random
        state of ``restore``, taken when the unfinished step began): process 0 writes it, with
        the random state of every process when they all take part (``gather``)."""
        if restore is not None:
            self._put_back(restore)
        own = restore.rng if restore is not None else _random_state()
        rng: list[Any] = [own]
        if self.world > 1:
            rng = [None] * self.world
            if gather:
                dist.all_gather_object(rng, own)
            else:
                rng[self.rank] = own
        if self.rank != 0:
            return
        save_checkpoint(
            self.output_dir,
            {
                "model": self.model.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "schedule": self.schedule.state_dict(),
                "step": self.step,
                "rng": rng,
                "config": asdict(self.config),
                "log_pending": self.log.pending if self.log is not None else [],
            },
        )


def _random_state() -> dict[str, Any]:
    return {"torch": torch.get_rng_state(), "python": random.getstate()}


def _set_random_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])


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
    from iterative_reasoning.engine.evaluate import evaluate

    train(model, train_set, config, output_dir, device=device)
    rank = process_group()[0]
    close_distributed()
    if rank != 0:
        return {}
    metrics = evaluate(model, test_set, output_dir=output_dir, device=device, progress=True)
    print({k: round(v, 1) for k, v in metrics.as_percent().items()})
    return metrics.as_percent()


def _mean_over_processes(terms: dict[str, float], device: str | torch.device) -> dict[str, float]:
    values = torch.tensor(list(terms.values()), dtype=torch.float64, device=device)
    dist.all_reduce(values)
    return dict(zip(terms, (values / dist.get_world_size()).tolist(), strict=True))


class _Log:
    """``log.jsonl`` (a line every ``log_every`` steps and at each periodic checkpoint: the step
    and the mean of each term since the last line) and TensorBoard scalars under
    ``tensorboard/``; on resume, what came after ``step`` is dropped from both, and the terms
    not yet logged come back from the checkpoint."""

    def __init__(
        self,
        output_dir: Path,
        step: int,
        tensorboard: bool,
        pending: list[dict[str, float]] | None = None,
    ) -> None:
        output_dir.mkdir(parents=True, exist_ok=True)
        self.path = output_dir / LOG
        kept = [line for line in read_log(output_dir) if line["step"] <= step]
        tmp = self.path.with_suffix(".jsonl.partial")
        tmp.write_text("".join(json.dumps(line) + "\n" for line in kept))
        tmp.replace(self.path)
        self.file = open(self.path, "a")  # noqa: SIM115 (closed by close())
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

    def _scalars(self, step: int, terms: dict[str, float]) -> None:
        if self.writer is None:
            return
        for name, value in terms.items():
            if name != "step":
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
