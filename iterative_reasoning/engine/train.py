"""Training with the paper's settings: SGD with momentum, weight decay on weights only, a step
schedule; deterministic data order; atomic checkpoints and a resume that loses nothing; a JSONL
log and TensorBoard; several processes through ``torchrun`` (PyTorch DDP)."""

from __future__ import annotations

import json
import os
import random
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import Dataset

from iterative_reasoning.data.records import RegionSample
from iterative_reasoning.engine.checkpoint import load_checkpoint, save_checkpoint
from iterative_reasoning.engine.model import RegionModel

if TYPE_CHECKING:
    from iterative_reasoning.engine.detection import DetectionModel

LOG = "log.jsonl"


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
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "checkpoint_every", "log_every"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.lr <= 0:
            raise ValueError(f"lr must be positive, got {self.lr}")
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
) -> list[dict[str, float]]:
    """Train ``model`` (a region classifier, or a detector as a
    :class:`~iterative_reasoning.engine.DetectionModel`) on ``dataset`` for ``config.steps``
    steps, checkpointing to ``output_dir``. With ``resume``, an existing checkpoint there is
    continued: the weights, optimiser, schedule, random state and data position are restored,
    so a run that is killed and resumed ends with the same weights as one that was not.

    Every ``config.log_every`` steps the mean of the loss terms goes to
    ``output_dir/log.jsonl`` and, with ``tensorboard``, to ``output_dir/tensorboard``; a resumed
    run drops what was logged after its checkpoint, so the log reads as one run.

    Under ``torchrun`` (after :func:`init_distributed`) each of the ``W`` processes takes
    ``batch_size / W`` images of every step and the gradients are averaged (DDP); process 0
    writes the checkpoints and logs. The random state of every process is checkpointed, except
    on an interrupt, when the other processes resume from seeds.

    A run stopped by an exception (Ctrl-C, a corrupted image, running out of memory) writes a
    checkpoint of its last finished step before the exception goes on.

    Returns:
        the loss terms of each step run in this call (averaged over the processes).
    """
    output_dir = Path(output_dir)
    rank, world = process_group()
    num_items = len(dataset)  # type: ignore[arg-type]
    if num_items == 0:
        raise ValueError("the training dataset is empty")
    if config.batch_size % world:
        raise ValueError(
            f"batch_size ({config.batch_size}) must be a multiple of the number of processes "
            f"({world})"
        )
    seed_everything(config.seed + rank)
    model.to(device).train()
    net: nn.Module = model
    if world > 1:
        device_ids = [torch.device(device)] if torch.device(device).type == "cuda" else None
        # sparse buffers (the class graph) are built identically in every process, and DDP
        # cannot broadcast them
        sparse = [n for n, b in model.named_buffers() if b.layout != torch.strided]
        DistributedDataParallel._set_params_and_buffers_to_ignore_for_model(model, sparse)
        net = DistributedDataParallel(model, device_ids=device_ids)
    optimizer = torch.optim.SGD(
        parameter_groups(model, config.weight_decay), lr=config.lr, momentum=config.momentum
    )
    schedule = lr_schedule(optimizer, config)
    step = 0
    state = load_checkpoint(output_dir) if resume else None
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        schedule.load_state_dict(state["schedule"])
        step = int(state["step"])
        rng = state["rng"]
        if rank < len(rng) and rng[rank] is not None:
            torch.set_rng_state(rng[rank]["torch"])
            random.setstate(rng[rank]["python"])
        else:
            seed_everything(config.seed + rank + 1_000_003 * step)

    def random_state() -> dict[str, Any]:
        return {"torch": torch.get_rng_state(), "python": random.getstate()}

    def checkpoint(gather: bool = True, own: dict[str, Any] | None = None) -> None:
        own = own or random_state()
        rng: list[Any] = [own]
        if world > 1:
            rng = [None] * world
            if gather:
                dist.all_gather_object(rng, own)
            else:
                rng[rank] = own
        if rank == 0:
            save_checkpoint(
                output_dir,
                {
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "schedule": schedule.state_dict(),
                    "step": step,
                    "rng": rng,
                    "config": asdict(config),
                },
            )

    log = _Log(output_dir, step, tensorboard) if rank == 0 else None
    history: list[dict[str, float]] = []
    bar = None
    if progress and rank == 0:
        from tqdm import tqdm

        bar = tqdm(total=config.steps, initial=step, desc="training", unit="step")
    at_step_start: dict[str, Any] | None = None  # the random state while a step is under way
    try:
        while step < config.steps:
            at_step_start = random_state()
            indices = data_order(num_items, step, config.batch_size, config.seed)[rank::world]
            batch: Any = model.collate([dataset[i] for i in indices]).to(device)
            loss, terms = model.loss_of(batch, net(batch))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            step += 1
            at_step_start = None
            if world > 1:
                terms = _mean_over_processes(terms, device)
            terms["lr"] = optimizer.param_groups[0]["lr"]
            history.append(terms)
            save = step % config.checkpoint_every == 0 or step == config.steps
            if log is not None:
                log.add(step, terms, flush=save or step % config.log_every == 0)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{terms['loss']:.3f}")
            if save:
                checkpoint()
            if callback is not None:
                callback(step, terms)
    except BaseException:
        # interrupted (Ctrl-C, a bad image, out of memory...): keep everything up to the last
        # finished step, with the random state it ended with, so a resume loses nothing
        if log is not None:
            log.flush(step)
        checkpoint(gather=False, own=at_step_start)
        raise
    finally:
        if bar is not None:
            bar.close()
        if log is not None:
            log.close()
    return history


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
    """``log.jsonl`` (a line every ``log_every`` steps and at each checkpoint: the step and the
    mean of each term since the last line) and TensorBoard scalars under ``tensorboard/``; on
    resume, what came after ``step`` is dropped from both."""

    def __init__(self, output_dir: Path, step: int, tensorboard: bool) -> None:
        output_dir.mkdir(parents=True, exist_ok=True)
        self.path = output_dir / LOG
        kept = [line for line in read_log(output_dir) if line["step"] <= step]
        tmp = self.path.with_suffix(".jsonl.partial")
        tmp.write_text("".join(json.dumps(line) + "\n" for line in kept))
        tmp.replace(self.path)
        self.file = open(self.path, "a")  # noqa: SIM115 (closed by close())
        self.pending: list[dict[str, float]] = []
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
    for number, text in enumerate(path.read_text().splitlines(), 1):
        if not text.strip():
            continue
        try:
            lines.append(json.loads(text))
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}, line {number}: not JSON ({error})") from error
    return lines
