"""Several processes with PyTorch DDP (``torchrun``): joining and leaving the process group,
this process's rank, and what the processes must agree on during a run."""

from __future__ import annotations

import os

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel


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


def data_parallel(model: nn.Module, device: torch.device | str) -> nn.Module:
    """``model`` wrapped in :class:`~torch.nn.parallel.DistributedDataParallel` when there
    are several processes, else ``model`` itself. Sparse buffers (the class graph) are built
    identically in every process, and DDP cannot broadcast them, so it leaves them alone."""
    if process_group()[1] == 1:
        return model
    sparse = [n for n, b in model.named_buffers() if b.layout != torch.strided]
    DistributedDataParallel._set_params_and_buffers_to_ignore_for_model(model, sparse)
    cuda = torch.device(device).type == "cuda"
    return DistributedDataParallel(model, device_ids=[torch.device(device)] if cuda else None)


def any_process(flag: bool, device: torch.device | str) -> bool:
    """``flag`` in any process (all processes call this at the same point)."""
    if process_group()[1] == 1:
        return flag
    value = torch.tensor([float(flag)], device=device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item() > 0)


def mean_over_processes(terms: dict[str, float], device: torch.device | str) -> dict[str, float]:
    """The mean of each term over the processes (itself in one process)."""
    if process_group()[1] == 1:
        return terms
    values = torch.tensor(list(terms.values()), dtype=torch.float64, device=device)
    dist.all_reduce(values)
    return dict(zip(terms, (values / dist.get_world_size()).tolist(), strict=True))
