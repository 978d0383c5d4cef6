"""Speed and memory of the spatial memory's write against the original's naive paste.

The write pastes every region's ``7 x 7`` update back over its box and averages over covering
boxes. The original forms each region's paste on the whole grid, an ``[R, H, W, D]`` tensor,
then sums over regions; here the paste is one sparse product. Both are run forward and backward
in one process on the same inputs (forward outputs compared); peak memory is measured for each
in a fresh child process. The printed ratios, not the absolute times, are the result.

    python benchmarks/spatial_memory.py                    # R=200 on a 38x50 grid, D=512
    python benchmarks/spatial_memory.py --json out.json    # also write the figures
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

warnings.filterwarnings("ignore", message=".*torch.jit.script.*")

from _measure import add_run_arguments, parse_run_arguments, peak_memory_mib, time_call, write_json  # noqa: E402

from iterative_reasoning.ops import RegionGrid  # noqa: E402
from iterative_reasoning.ops.interpolation import paste_kernel  # noqa: E402


def make_problem(args: dict[str, Any]) -> tuple[Tensor, Tensor, Tensor]:
    """Memory ``[1, D, H, W]``, updates ``[R, D, 7, 7]`` (requiring grad) and boxes ``[R, 4]``."""
    gen = torch.Generator().manual_seed(args["seed"])
    height, width = args["grid"]
    size = torch.tensor([width * 16.0, height * 16.0])
    xy = torch.rand(args["regions"], 2, generator=gen) * size * 0.8
    wh = 16 + torch.rand(args["regions"], 2, generator=gen) * size * 0.3
    boxes = torch.cat([xy, torch.minimum(xy + wh, size)], dim=1)
    memory = torch.randn(1, args["channels"], height, width, generator=gen)
    updates = torch.randn(args["regions"], args["channels"], 7, 7, generator=gen)
    return memory, updates.requires_grad_(), boxes


def sparse_write(memory: Tensor, updates: Tensor, boxes: Tensor) -> Tensor:
    """The package's write: sparse paste operators built for the boxes, then one product."""
    grid = RegionGrid(boxes, torch.zeros(len(boxes), dtype=torch.long), tuple(memory.shape[2:]))
    return memory + grid.paste(updates) / grid.coverage.clamp(min=1)


def naive_write(memory: Tensor, updates: Tensor, boxes: Tensor) -> Tensor:
    """The original's write: every region pasted on the whole grid, ``[R, D, H, W]``, summed."""
    height, width = memory.shape[2:]
    b = boxes.double()
    lengths_y = torch.full((len(boxes),), height)
    lengths_x = torch.full((len(boxes),), width)
    ky = paste_kernel(b[:, 1], b[:, 3], lengths_y, height, 7, 1 / 16).to(updates.dtype)
    kx = paste_kernel(b[:, 0], b[:, 2], lengths_x, width, 7, 1 / 16).to(updates.dtype)
    per_region = torch.einsum("rai,rdaj->rdij", ky, torch.einsum("rdac,rcj->rdaj", updates, kx))
    count = torch.einsum("rai,rcj->ij", ky, kx).round()
    return memory + per_region.sum(0, keepdim=True) / count.clamp(min=1)


WRITES: dict[str, Callable[[Tensor, Tensor, Tensor], Tensor]] = {
    "sparse": sparse_write,
    "naive": naive_write,
}


def _child_step(args: dict[str, Any], which: str) -> Callable[[], object]:
    memory, updates, boxes = (x.to(args["device"]) for x in make_problem(args))
    return lambda: WRITES[which](memory, updates, boxes).sum().backward()


def run_case(args: dict[str, Any]) -> dict[str, Any]:
    device = args["device"]
    memory, updates, boxes = (x.to(device) for x in make_problem(args))
    result: dict[str, Any] = {
        "regions": args["regions"],
        "grid": list(args["grid"]),
        "channels": args["channels"],
    }
    with torch.no_grad():
        diff = (sparse_write(memory, updates, boxes) - naive_write(memory, updates, boxes)).abs()
    result["max_abs_difference"] = float(diff.max())
    result["naive_tensor_mib"] = 4 * updates.size(0) * memory[0].numel() / 2**20
    for which, write in WRITES.items():
        step = lambda w=write: w(memory, updates, boxes).sum().backward()  # noqa: E731
        result[f"{which}_s"] = time_call(step, args["repeats"], device)
        result[f"{which}_peak_mib"] = peak_memory_mib(_child_step, args, which)
    result["speedup"] = result["naive_s"] / result["sparse_s"]
    result["memory_ratio"] = result["naive_peak_mib"] / max(result["sparse_peak_mib"], 1e-9)
    return result


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--regions", type=int, default=200)
    parser.add_argument("--grid", type=int, nargs=2, default=[38, 50], metavar=("H", "W"))
    parser.add_argument("--channels", type=int, default=512)
    add_run_arguments(parser, repeats=5)
    opts = parse_run_arguments(parser, argv)
    result = run_case(vars(opts))
    print(
        f"memory write, forward + backward, R={opts.regions}, grid {opts.grid[0]}x{opts.grid[1]}, "
        f"D={opts.channels}, device={opts.device}, threads={opts.threads}"
    )
    print(f"{'':8} {'seconds':>9} {'peak MiB':>9}")
    for which in WRITES:
        print(f"{which:8} {result[which + '_s']:>9.3f} {result[which + '_peak_mib']:>9.0f}")
    print(
        f"speedup {result['speedup']:.1f}x, peak memory ratio {result['memory_ratio']:.1f}x "
        f"(the naive [R, D, H, W] tensor alone: {result['naive_tensor_mib']:.0f} MiB), "
        f"max |difference| {result['max_abs_difference']:.2e}"
    )
    write_json(opts, result=result)
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
