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
    are several processes, else ``model`` itself. The buffers a module does not save (the
    class graph) are built identically in every process and never change, so DDP does not
    broadcast them at every step."""
    if process_group()[1] == 1:
        return model
    constant = sorted(set(dict(model.named_buffers())) - set(persistent_buffers(model)))
    DistributedDataParallel._set_params_and_buffers_to_ignore_for_model(model, constant)
    cuda = torch.device(device).type == "cuda"
    return DistributedDataParallel(model, device_ids=[torch.device(device)] if cuda else None)


def persistent_buffers(model: nn.Module) -> list[str]:
    """The names of the buffers ``model.state_dict()`` holds (batch-norm statistics, ...): the
    state a step may change; non-persistent buffers are constants built from the model's
    arguments."""
    names = []
    for prefix, module in model.named_modules():
        skipped = module._non_persistent_buffers_set
        for name, buffer in module.named_buffers(recurse=False):
            if buffer is not None and name not in skipped:
                names.append(f"{prefix}.{name}" if prefix else name)
    return names


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
