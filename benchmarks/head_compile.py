"""The reasoning head under ``torch.compile``: the same outputs as in eager mode, and the time
of each, on the head's real inputs inside a ResNet-50 FPN detector.

The detector and head are those of ``detection_overhead.py`` (``fasterrcnn_resnet50_fpn``,
random weights, the paper's "final" head on the shipped COCO-80 graph, the top ``k`` proposals
reasoned). One detector call records what the head is given; the head's ``reason`` then runs
on it in eager mode and compiled (``torch.compile``, default mode; the host reads of the head
split the graph, so ``fullgraph`` is not asked), and the script prints the largest difference
of the fused logits and the two times as a ratio, with the compile time apart. The ratio, not
the seconds, is the result; on a GPU the timing synchronises the device.

    python benchmarks/head_compile.py --device cuda --reasoned-boxes 100 300
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from typing import Any

import torch

warnings.filterwarnings("ignore", message=".*torch.jit.script.*")

from _measure import add_run_arguments, parse_run_arguments, sync, time_call, write_json  # noqa: E402
from detection_overhead import input_image, make_detectors  # noqa: E402


def recorded_inputs(
    detector: Any, image: torch.Tensor, owner: Any, method: str
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """The arguments of ``owner.method`` in its first call within one call of ``detector``."""
    seen: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
    original = getattr(owner, method)

    def record(*args: Any, **kwargs: Any) -> Any:
        seen.append((args, kwargs))
        return original(*args, **kwargs)

    setattr(owner, method, record)
    try:
        detector([image])
    finally:
        delattr(owner, method)
    return seen[0]


def compared(
    fn: Any,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    device: str,
    repeats: int,
    **options: Any,
) -> dict[str, Any]:
    """``fn`` eager and compiled on the same inputs: the largest difference of the logits
    (``.logits`` of the output), the times and the first call's; the error if it fails."""
    eager = fn(*args, **kwargs).logits
    torch._dynamo.reset()  # nothing compiled for another call is reused
    compiled = torch.compile(fn, **options)
    sync(device)
    start = time.perf_counter()
    try:
        got = compiled(*args, **kwargs).logits
    except Exception as error:  # noqa: BLE001 - reported, not hidden
        return {"error": f"{type(error).__name__}: {str(error).splitlines()[0][:200]}"}
    sync(device)
    compile_s = time.perf_counter() - start
    eager_s = time_call(lambda: fn(*args, **kwargs), repeats, device)
    compiled_s = time_call(lambda: compiled(*args, **kwargs), repeats, device)
    return {
        "max_abs_difference": float((got - eager).abs().max()),
        "eager_s": eager_s,
        "compiled_s": compiled_s,
        "speedup": eager_s / compiled_s,
        "compile_s": compile_s,
    }


def run(args: dict[str, Any]) -> dict[str, Any]:
    _, with_head = make_detectors(args)
    device = args["device"]
    image = input_image(args)
    height, width = image.shape[1:]
    rows = []
    with torch.inference_mode():
        for k, detector in with_head.items():
            detector = detector.to(device)
            head = detector.roi_heads.head
            args_, kwargs = recorded_inputs(detector, image, head, "reason")
            row: dict[str, Any] = {"reasoned_boxes": k, "regions": int(args_[1].size(0))}
            row["head"] = compared(head.reason, args_, kwargs, device, args["repeats"])
            # the global module on the graph's dictionaries, max_regions given: one graph
            g_args, g_kwargs = recorded_inputs(detector, image, head.global_, "reason_on")
            row["global_fullgraph"] = compared(
                head.global_.reason_on, g_args, g_kwargs, device, args["repeats"], fullgraph=True
            )
            rows.append(row)
            detector.cpu()
    return {"size": [height, width], "rows": rows}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=800, help="the input's short side")
    parser.add_argument("--reasoned-boxes", nargs="+", default=["100", "300"], help="k values")
    parser.add_argument("--fc-channels", type=int, default=4096, help="the local module's FCs")
    parser.add_argument("--rpn-nms-thresh", type=float, default=0.9)
    add_run_arguments(parser, repeats=5)
    opts = parse_run_arguments(parser, argv)
    result = run(vars(opts))
    height, width = result["size"]
    print(f"the head alone, eager and torch.compile, {height}x{width}, device={opts.device}")
    for row in result["rows"]:
        for part in ("head", "global_fullgraph"):
            r = row[part]
            title = f"k = {row['reasoned_boxes']:>5} ({row['regions']} regions), {part:<16}"
            if "error" in r:
                print(f"{title} compile failed: {r['error']}")
                continue
            print(
                f"{title} eager {r['eager_s'] * 1e3:8.2f} ms, compiled "
                f"{r['compiled_s'] * 1e3:8.2f} ms ({r['speedup']:.2f}x); first call "
                f"{r['compile_s']:.1f} s; largest difference of the logits "
                f"{r['max_abs_difference']:.2e}"
            )
    write_json(opts, result=result)
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
