"""Where the reasoning head's time goes inside a ResNet-50 FPN detector: per step of the head
and per operator (``torch.profiler``), at several numbers of reasoned boxes, and in a
training step at a number of sampled proposals per image.

The detector and head are those of ``detection_overhead.py`` (``fasterrcnn_resnet50_fpn``,
random weights, 1,000 proposals at inference, the paper's "final" head on the shipped COCO-80
graph). The head's steps are labelled for the profiler by wrapping its methods in this script
(the package has no profiling code): ``grid`` (the boxes' crop grids and the crops),
``memory`` (the initial memory), ``graph`` (the reasoning graph), ``local.write`` /
``local.read`` (the spatial memory's update and read, each iteration), ``global`` (graph
reasoning, each iteration), ``fusion`` (attention and the trace), and the detector's own
``box_head`` for scale. Times are CPU totals of one run after a warm-up, so shares, not
seconds, are the result. At inference the script also counts each detector's multiply-adds
(``torch.utils.flop_counter``: dense convolutions and matrix products), the work that no exact
rewrite of the head can remove.

    python benchmarks/head_profile.py                                   # k = 1 100 300 1000
    python benchmarks/head_profile.py --reasoned-boxes 100 --train-samples 128 512
    python benchmarks/head_profile.py --head-size light
"""

from __future__ import annotations

import argparse
import functools
import sys
import warnings
from collections.abc import Callable
from typing import Any

import torch
from torch.profiler import ProfilerActivity, profile, record_function
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry

warnings.filterwarnings("ignore", message=".*torch.jit.script.*")

from _measure import add_run_arguments, parse_run_arguments, write_json  # noqa: E402
from detection_overhead import make_detectors  # noqa: E402

from iterative_reasoning.nn.reasoning_head import HEAD_SIZES  # noqa: E402

#: The head's steps, as (owner attribute path, method name, label).
STEPS = (
    ("", "_grid", "grid"),
    ("local.memory", "initial", "memory"),
    ("global_", "graph", "graph"),
    ("local", "write", "local.write"),
    ("local", "read", "local.read"),
    ("", "_reason_globally", "global"),
    ("fusion", "forward", "fusion"),
)


def label_steps(detector: Any) -> None:
    """Wrap the head's steps (and the detector's box head) in ``record_function`` labels."""
    box_head = detector.roi_heads.box_head
    box_head.forward = _labelled(box_head.forward, "detector.box_head")
    head = detector.roi_heads.head
    if getattr(head, "labelled_for_profiling", False):  # one head, several detectors
        return
    head.labelled_for_profiling = True
    for path, method, label in STEPS:
        owner = head
        for part in filter(None, path.split(".")):
            owner = getattr(owner, part, None)
        if owner is None:
            continue
        setattr(owner, method, _labelled(getattr(owner, method), f"head.{label}"))


def _labelled(call: Callable[..., Any], label: str) -> Callable[..., Any]:
    @functools.wraps(call)
    def run(*args: Any, **kwargs: Any) -> Any:
        with record_function(label):
            return call(*args, **kwargs)

    return run


def profiled(step: Callable[[], object], top: int) -> dict[str, Any]:
    """One warm-up, then one profiled run of ``step``: the labelled steps' CPU totals and the
    ``top`` operators by their own CPU time."""
    step()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        with record_function("total"):
            step()
    events = prof.key_averages()
    total = next(e.cpu_time_total for e in events if e.key == "total") / 1e6
    labelled = {
        e.key: e.cpu_time_total / 1e6 for e in events if e.key.startswith(("head.", "detector."))
    }
    operators = sorted(
        (e for e in events if e.key.startswith("aten::")),
        key=lambda e: e.self_cpu_time_total,
        reverse=True,
    )[:top]
    return {
        "total_s": total,
        "steps_s": dict(sorted(labelled.items(), key=lambda kv: -kv[1])),
        "operators": [
            {"name": e.key, "self_s": e.self_cpu_time_total / 1e6, "calls": e.count}
            for e in operators
        ],
    }


def multiply_adds(step: Callable[[], object]) -> float:
    """The multiply-adds of one run of ``step``, in billions, as ``torch.utils.flop_counter``
    counts them (dense convolutions and matrix products; the head's sparse crop and paste
    products are not counted)."""
    with torch.inference_mode(False), torch.no_grad(), _FlopCounter() as counter:
        step()  # dispatch modes see nothing under inference mode
    return counter.flops / 2e9


class _FlopCounter(TorchDispatchMode):
    """``torch.utils.flop_counter``'s counts of every operator run, without the module
    tracking of its ``FlopCounterMode`` (which needs autograd graphs, absent at inference)."""

    def __init__(self) -> None:
        super().__init__()
        self.flops = 0

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        count = flop_registry.get(func._overloadpacket)
        if count is not None:
            self.flops += count(*args, **kwargs, out_val=out)
        return out


def inference(args: dict[str, Any]) -> dict[str, Any]:
    plain, with_head = make_detectors(args)
    gen = torch.Generator().manual_seed(args["seed"])
    image = torch.rand(3, args["size"], round(args["size"] * 4 / 3), generator=gen)
    rows = {}
    with torch.inference_mode():
        rows["plain"] = profiled(lambda: plain([image]), args["top"])
        rows["plain"]["gmacs"] = multiply_adds(lambda: plain([image]))
        for k, detector in with_head.items():
            label_steps(detector)
            rows[k] = profiled(lambda d=detector: d([image]), args["top"])
            rows[k]["gmacs"] = multiply_adds(lambda d=detector: d([image]))
    return rows


def training(args: dict[str, Any]) -> dict[str, Any]:
    """A training step of the detector with the head, the detector frozen (only the head's
    parameters get gradients), at each number of sampled proposals per image."""
    plain, with_head = make_detectors({**args, "reasoned_boxes": ["all"]})
    detector = with_head["all"]
    label_steps(detector)
    gen = torch.Generator().manual_seed(args["seed"])
    height, width = args["size"], round(args["size"] * 4 / 3)
    images = [torch.rand(3, height, width, generator=gen) for _ in range(2)]
    targets = []
    for _ in images:
        corner = torch.rand(8, 2, generator=gen) * torch.tensor([width * 0.7, height * 0.7])
        side = 40 + torch.rand(8, 2, generator=gen) * 150
        far = torch.minimum(corner + side, torch.tensor([width - 1.0, height - 1.0]))
        boxes = torch.cat([corner, far], dim=1)
        targets.append({"boxes": boxes, "labels": torch.randint(1, 81, (8,), generator=gen)})
    head = detector.roi_heads.head
    for name, parameter in detector.named_parameters():
        parameter.requires_grad_(name.startswith("roi_heads.head."))
    detector.train()
    detector.backbone.eval()
    rows = {}
    for samples in args["train_samples"]:
        detector.roi_heads.fg_bg_sampler.batch_size_per_image = samples

        def step() -> None:
            loss = detector(images, targets)["loss_reasoning"]
            loss.backward()
            for p in head.parameters():
                p.grad = None

        rows[str(samples)] = profiled(step, args["top"])
    return rows


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=800, help="the input's short side")
    parser.add_argument(
        "--reasoned-boxes", nargs="*", default=["1", "100", "300", "all"], help="k, or 'all'"
    )
    parser.add_argument(
        "--train-samples", nargs="*", type=int, default=[128, 512], help="proposals per image"
    )
    parser.add_argument("--fc-channels", type=int, default=4096, help="the local module's FCs")
    parser.add_argument("--head-size", choices=tuple(HEAD_SIZES), default="paper")
    parser.add_argument("--rpn-nms-thresh", type=float, default=0.9)
    parser.add_argument("--top", type=int, default=8, help="operators listed")
    add_run_arguments(parser, repeats=1)
    opts = parse_run_arguments(parser, argv)
    args = vars(opts)
    result: dict[str, Any] = {}
    if opts.reasoned_boxes:
        result["inference"] = inference(args)
        plain = result["inference"]["plain"]["total_s"]
        print(
            f"inference, fasterrcnn_resnet50_fpn at {opts.size} px, head of size "
            f"{opts.head_size}, threads={opts.threads}"
        )
        for k, row in result["inference"].items():
            _print(f"k = {k}" if k != "plain" else "plain detector", row, plain)
        print("multiply-adds of one image (dense convolutions and matrix products)")
        plain_gmacs = result["inference"]["plain"]["gmacs"]
        for k, row in result["inference"].items():
            title = f"k = {k}" if k != "plain" else "plain detector"
            print(f"  {title}: {row['gmacs']:.1f} G ({row['gmacs'] / plain_gmacs:.2f}x)")
    if opts.train_samples:
        result["training"] = training(args)
        first = next(iter(result["training"].values()))["total_s"]
        print("training step, 2 images, frozen detector, the head's loss and backward")
        for samples, row in result["training"].items():
            _print(f"{samples} sampled / image", row, first)
    write_json(opts, result=result)
    return result


def _print(title: str, row: dict[str, Any], reference: float) -> None:
    total = row["total_s"]
    print(f"  {title}: {total / reference:.2f}x the first row")
    for label, seconds in row["steps_s"].items():
        print(f"    {label:<22} {100 * seconds / total:5.1f} %")
    for op in row["operators"]:
        share = 100 * op["self_s"] / total
        print(f"    {op['name']:<34} {share:5.1f} %  ({op['calls']} calls)")


if __name__ == "__main__":
    main(sys.argv[1:])
