"""Timing and peak-memory helpers shared by the benchmarks."""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import statistics
import time
from collections.abc import Callable
from typing import Any

import torch


def time_call(step: Callable[[], object], repeats: int, device: str) -> float:
    """Median seconds of ``step()`` over ``repeats`` runs, after one warm-up run."""
    times = []
    for i in range(repeats + 1):
        sync(device)
        start = time.perf_counter()
        step()
        sync(device)
        if i:
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def time_alternating(
    first: Callable[[], object], second: Callable[[], object], repeats: int, device: str
) -> tuple[float, float]:
    """Median seconds of ``first()`` and of ``second()``, timed in turn (first, second, first,
    ...) ``repeats`` times each after one warm-up run of each, so that a drift of the machine
    (frequency, other load, caches) weighs on both alike."""
    times: tuple[list[float], list[float]] = ([], [])
    for i in range(repeats + 1):
        for j, step in enumerate((first, second)):
            sync(device)
            start = time.perf_counter()
            step()
            sync(device)
            if i:
                times[j].append(time.perf_counter() - start)
    return statistics.median(times[0]), statistics.median(times[1])


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def peak_memory_mib(
    build: Callable[..., Callable[[], object]], args: dict[str, Any], *extra: Any
) -> float:
    """Peak memory of one ``build(args, *extra)()`` above what ``build`` left allocated, in a
    fresh child process: peak resident set size on the CPU, ``max_memory_allocated`` on a GPU.
    ``build`` must be a module-level function (the child imports it)."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(build, args, extra, queue))
    proc.start()
    proc.join()
    if proc.exitcode != 0:
        return float("nan")
    return float(queue.get())


def _child(
    build: Callable[..., Callable[[], object]], args: dict[str, Any], extra: tuple, queue: Any
) -> None:
    torch.set_num_threads(args["threads"])
    step = build(args, *extra)
    if args["device"].startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        step()
        queue.put((torch.cuda.max_memory_allocated() - base) / 2**20)
    else:
        base = rss_mib()
        reset_peak_rss()
        step()
        queue.put(peak_rss_mib() - base)


def reset_peak_rss() -> None:
    """Reset this process's peak resident set size (``VmHWM``) to its current size. Needed
    because ``getrusage``'s ``ru_maxrss`` survives ``exec`` and so carries the parent's peak
    into a spawned child."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def peak_rss_mib() -> float:
    """Peak resident set size of this process since the last :func:`reset_peak_rss`, MiB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("/proc/self/status has no VmHWM line")


def rss_mib() -> float:
    """Current resident set size of this process, MiB."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def add_run_arguments(parser: argparse.ArgumentParser, repeats: int) -> None:
    """The options every benchmark takes: repeats, device, threads, seed and the JSON output."""
    parser.add_argument("--repeats", type=int, default=repeats)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", metavar="PATH", help="write the figures as JSON")


def parse_run_arguments(parser: argparse.ArgumentParser, argv: list[str] | None) -> Any:
    """Parse, and use the asked number of threads in this process."""
    opts = parser.parse_args(argv)
    torch.set_num_threads(opts.threads)
    return opts


def write_json(opts: argparse.Namespace, **figures: Any) -> None:
    """Write the figures with the device, threads and torch version, if ``--json`` was given."""
    if opts.json:
        with open(opts.json, "w") as f:
            info = {"device": opts.device, "threads": opts.threads, "torch": torch.__version__}
            json.dump({**info, **figures}, f, indent=2)
