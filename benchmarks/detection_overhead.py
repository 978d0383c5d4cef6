"""Inference time of a torchvision detector with the reasoning head over the same detector
without it, at several numbers of reasoned boxes.

The detector is ``fasterrcnn_resnet50_fpn`` (random weights, 1,000 proposals per image at
inference, torchvision's number for a trained detector; see ``--rpn-nms-thresh``) for COCO's
80 categories and background; the head is the paper's "final" model (local and global modules,
T = 3, the paper's widths) on the shipped COCO-80 class graph, attached with
:func:`~iterative_reasoning.detectors.attach_reasoning_head`.
Both run on the same 800-pixel input, in one process, without gradients; the head reasons over
the top ``k`` proposals of the image (``--reasoned-boxes``; ``all``: the 1,000). For each ``k``
the plain detector and the one with the head are timed in turn (plain, with the head, plain,
...), so that the machine's drift weighs on both; the printed ratios, not the absolute times,
are the result.

    python benchmarks/detection_overhead.py                          # k = 100 and all
    python benchmarks/detection_overhead.py --reasoned-boxes 30 100 300 all --json out.json
    python benchmarks/detection_overhead.py --head-size light --reasoned-boxes 1 100 300
    python benchmarks/detection_overhead.py --reasoned-boxes 1 100 --clear-initial-context
    python benchmarks/detection_overhead.py --reasoned-boxes 1 100 300 --scripted

The head keeps the context convolutions of its initial memory per image grid size at
inference, so after the warm-up every timed run reads them from that cache, as a detector fed
images of one size does; ``--clear-initial-context`` times the other end, every image of a new
size. ``--scripted`` times both detectors compiled by ``torch.jit.script`` (the one with the
head through :func:`~iterative_reasoning.detectors.scriptable`, whose program keeps no cache).
"""

from __future__ import annotations

import argparse
import copy
import functools
import statistics
import sys
import warnings
from typing import Any

import torch

warnings.filterwarnings("ignore", message=".*torch.jit.script.*")

from _measure import (  # noqa: E402
    add_run_arguments,
    parse_run_arguments,
    time_alternating,
    write_json,
)

from iterative_reasoning.detectors import (  # noqa: E402
    attach_reasoning_head,
    reasoning_head_for,
    scriptable,
)
from iterative_reasoning.graph import ClassRelations  # noqa: E402
from iterative_reasoning.nn.reasoning_head import HEAD_SIZES  # noqa: E402
from knowledge_graphs.ready_made import load_ready_made  # noqa: E402


def make_detectors(args: dict[str, Any]) -> tuple[torch.nn.Module, dict[str, torch.nn.Module]]:
    """The plain detector, and a copy with the head for each number of reasoned boxes."""
    from torchvision.models.detection import fasterrcnn_resnet50_fpn

    torch.manual_seed(args["seed"])
    relations = ClassRelations.from_class_graph(load_ready_made("coco"))
    plain = fasterrcnn_resnet50_fpn(
        weights=None,
        weights_backbone=None,
        num_classes=relations.num_classes,
        min_size=args["size"],
        max_size=round(args["size"] * 4 / 3),
        box_score_thresh=0.0,  # random weights score low: post-process every box
        rpn_nms_thresh=args["rpn_nms_thresh"],
    ).eval()
    widths = {"fc_channels": args["fc_channels"], "size": args.get("head_size", "paper")}
    for name in ("memory_channels", "hidden_channels", "num_iterations", "context_layers"):
        if args.get(name) is not None:
            widths[name] = args[name]
    head = reasoning_head_for(plain, "final", class_relations=relations, **widths).eval()
    with_head = {}
    for k in args["reasoned_boxes"]:
        detector = copy.deepcopy(plain)
        boxes = None if k == "all" else int(k)
        with_head[str(k)] = attach_reasoning_head(detector, head, reasoned_boxes=boxes).eval()
    return plain, with_head


def input_image(args: dict[str, Any]) -> torch.Tensor:
    """The benchmark's input: a random ``size x 4/3 size`` image on the device, seeded."""
    gen = torch.Generator().manual_seed(args["seed"])
    height, width = args["size"], round(args["size"] * 4 / 3)
    return torch.rand(3, height, width, generator=gen).to(args["device"])


def run(args: dict[str, Any]) -> dict[str, Any]:
    plain, with_head = make_detectors(args)
    device = args["device"]
    image = input_image(args)
    height, width = image.shape[1:]
    plain = plain.to(device)
    plain_run = _scripted(plain) if args.get("scripted") else plain
    results: dict[str, Any] = {"size": [height, width], "fc_channels": args["fc_channels"]}
    with torch.inference_mode():
        proposals = plain.rpn(*_rpn_inputs(plain, image))[0][0].shape[0]
        results.update(proposals=proposals, rows=[])
        plain_times = []
        for k, detector in with_head.items():
            detector = detector.to(device)
            if args.get("scripted"):
                detector = _scripted(scriptable(detector))
            plain_s, seconds = time_alternating(
                lambda: plain_run([image]),
                functools.partial(_detect, detector, image, args["clear_initial_context"]),
                args["repeats"],
                device,
            )
            plain_times.append(plain_s)
            results["rows"].append(
                {
                    "reasoned_boxes": k,
                    "seconds": seconds,
                    "plain_s": plain_s,
                    "overhead": seconds / plain_s,
                }
            )
        results["plain_s"] = statistics.median(plain_times)
    head = next(iter(with_head.values())).roi_heads.head
    results["head_mparams"] = sum(p.numel() for p in head.parameters()) / 1e6
    results["head_sizes"] = {
        "num_iterations": head.num_iterations,
        "fc_channels": head.local.fc[0].out_features,
        "memory_channels": head.local.memory_channels,
        "hidden_channels": head.global_.hidden_channels,
        "context_layers": len(head.local.context),
    }
    return results


def _detect(detector: Any, image: torch.Tensor, clear_initial_context: bool) -> Any:
    """The detector with the head on ``image``; with ``clear_initial_context``, as if every
    image had a grid size new to the local module's cache of its initial context."""
    if clear_initial_context:
        detector.roi_heads.head.local.initial_context.clear()
    return detector([image])


def _scripted(detector: torch.nn.Module) -> torch.nn.Module:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit.script is deprecated
        return torch.jit.script(detector)


def _rpn_inputs(detector: Any, image: torch.Tensor) -> tuple[Any, Any]:
    images, _ = detector.transform([image])
    return images, detector.backbone(images.tensors)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=800, help="the input's short side")
    parser.add_argument(
        "--reasoned-boxes", nargs="+", default=["100", "all"], help="k values, or 'all'"
    )
    parser.add_argument("--fc-channels", type=int, default=4096, help="the local module's FCs")
    parser.add_argument("--memory-channels", type=int, help="the memory's (default: 512)")
    parser.add_argument("--hidden-channels", type=int, help="the global module's (default: 512)")
    parser.add_argument("--num-iterations", type=int, help="T (default: the size's)")
    parser.add_argument(
        "--context-layers", type=int, help="the memory's context convolutions (the size's)"
    )
    parser.add_argument(
        "--head-size",
        choices=tuple(HEAD_SIZES),
        default="paper",
        help="the head's size; its fractions apply to the widths given",
    )
    parser.add_argument(
        "--rpn-nms-thresh",
        type=float,
        default=0.9,
        help="random weights give overlapping proposals that torchvision's NMS at 0.7 cuts "
        "below its 1,000; at 0.9 the RPN gives the 1,000 a trained one gives",
    )
    parser.add_argument(
        "--clear-initial-context",
        action="store_true",
        help="empty the local module's cache of its initial memory's context before every "
        "run with the head (the cost when every image has a new grid size)",
    )
    parser.add_argument(
        "--scripted",
        action="store_true",
        help="time both detectors compiled by torch.jit.script (the head's as scriptable())",
    )
    add_run_arguments(parser, repeats=2)
    opts = parse_run_arguments(parser, argv)
    if opts.scripted and opts.clear_initial_context:
        parser.error("--clear-initial-context: the scripted head keeps no cache to clear")
    result = run(vars(opts))
    height, width = result["size"]
    sizes = result["head_sizes"]
    print(
        f"inference, {height}x{width} input, fasterrcnn_resnet50_fpn with {result['proposals']} "
        f"proposals, head 'final' of size {opts.head_size} (T = {sizes['num_iterations']}, "
        f"fc {sizes['fc_channels']}, memory {sizes['memory_channels']}, hidden "
        f"{sizes['hidden_channels']}, {sizes['context_layers']} context layers, "
        f"{result['head_mparams']:.1f} M params), device={opts.device}, threads={opts.threads}"
        + (", initial context cleared before every run" if opts.clear_initial_context else "")
        + (", both scripted (torch.jit.script)" if opts.scripted else "")
    )
    print(f"plain detector                {result['plain_s']:8.3f} s")
    for row in result["rows"]:
        label = f"with the head, k = {row['reasoned_boxes']}"
        print(f"{label:<30}{row['seconds']:8.3f} s   {row['overhead']:.2f}x")
    write_json(opts, result=result)
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
