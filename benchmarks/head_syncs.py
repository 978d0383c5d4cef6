"""Count the device-to-host reads of one forward of the reasoning head.

On a GPU each read of a tensor's value on the host (``.item()``, ``.tolist()``, ``bool()``,
``int()``, ``float()`` of a tensor, ``.cpu()``/``.numpy()``, and ``nonzero``/``unique``-style
calls whose output size depends on the data) waits for the device, and each one breaks a
``torch.compile`` graph. On the CPU they cost little, but they can be counted the same way: this
script wraps those methods, runs one forward of the paper's final head (T = 3) on ``--regions``
boxes over ``--images`` images, and prints the count per kind and per line of the package.

    python benchmarks/head_syncs.py [--regions 100] [--images 2] [--json out.json]
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import traceback
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

warnings.filterwarnings("ignore", message=".*torch.jit.script.*")

from iterative_reasoning.graph import ClassRelations  # noqa: E402
from iterative_reasoning.nn import IterativeReasoningHead  # noqa: E402

#: Tensor methods that read a value on the host, and data-dependent-size operations.
READS = ("item", "tolist", "__bool__", "__int__", "__float__", "cpu", "numpy")
SIZED = ("nonzero", "unique", "unique_consecutive", "repeat_interleave", "masked_select")
PACKAGE = str(Path(__file__).resolve().parents[1] / "iterative_reasoning")


@contextmanager
def counting() -> Iterator[collections.Counter[tuple[str, str]]]:
    """Count the calls above, by (kind, package line that made them)."""
    counts: collections.Counter[tuple[str, str]] = collections.Counter()
    originals: dict[tuple[Any, str], Callable[..., Any]] = {}

    def wrap(owner: Any, name: str) -> None:
        original = getattr(owner, name)
        originals[(owner, name)] = original

        def counted(*args: Any, **kwargs: Any) -> Any:
            if name != "cpu" or (args and getattr(args[0], "is_cuda", True)):
                counts[(name, _caller())] += 1
            return original(*args, **kwargs)

        setattr(owner, name, counted)

    for name in READS:
        wrap(torch.Tensor, name)
    for name in SIZED:
        wrap(torch.Tensor, name)
        if hasattr(torch, name):
            wrap(torch, name)
    try:
        yield counts
    finally:
        for (owner, name), original in originals.items():
            setattr(owner, name, original)


def _caller() -> str:
    for frame in reversed(traceback.extract_stack()[:-2]):
        if frame.filename.startswith(PACKAGE):
            return f"{Path(frame.filename).relative_to(Path(PACKAGE).parent)}:{frame.lineno}"
    return "(outside the package)"


def problem(regions: int, images: int, seed: int = 0) -> tuple[IterativeReasoningHead, tuple]:
    """A final head of the paper's design (small widths) and its inputs."""
    gen = torch.Generator().manual_seed(seed)
    classes = 81
    edges = torch.randint(0, classes, (2, 400), generator=gen)
    edges = edges[:, edges[0] != edges[1]]
    relations = ClassRelations(classes, {"is_kind_of": edges, "similar_to": edges.flip(0)})
    torch.manual_seed(seed)
    head = IterativeReasoningHead.paper(
        "final",
        num_classes=classes,
        class_relations=relations,
        feature_channels=64,
        region_channels=128,
        memory_channels=32,
        fc_channels=128,
        hidden_channels=64,
    ).eval()
    size = torch.tensor([[600.0, 800.0]] * images)
    xy = torch.rand(regions, 2, generator=gen) * torch.tensor([700.0, 500.0])
    boxes = torch.cat([xy, xy + torch.rand(regions, 2, generator=gen) * 90 + 10], 1)
    batch = torch.arange(regions) * images // regions  # sorted: image 0 first
    inputs = (
        torch.randn(images, 64, 38, 50, generator=gen),
        boxes,
        batch,
        size,
        torch.randn(regions, classes, generator=gen),
        torch.randn(regions, 128, generator=gen),
    )
    return head, inputs


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--regions", type=int, default=100)
    parser.add_argument("--images", type=int, default=2)
    parser.add_argument("--json", type=Path, help="also write the counts here")
    args = parser.parse_args(argv)
    head, inputs = problem(args.regions, args.images)
    with torch.no_grad():
        head(*inputs)  # warm-up: caches built on the first call are not counted
        with counting() as counts:
            head(*inputs)
    by_kind: collections.Counter[str] = collections.Counter()
    by_line: collections.Counter[str] = collections.Counter()
    for (kind, line), n in counts.items():
        by_kind[kind] += n
        by_line[line] += n
    total = sum(by_kind.values())
    print(
        f"host reads in one forward of the final head (T=3), R={args.regions}, "
        f"{args.images} images: {total}"
    )
    for kind, n in by_kind.most_common():
        print(f"  {kind:<20} {n:4d}")
    print("by line:")
    for line, n in by_line.most_common():
        print(f"  {n:4d}  {line}")
    result = {"total": total, "by_kind": dict(by_kind), "by_line": dict(by_line)}
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
