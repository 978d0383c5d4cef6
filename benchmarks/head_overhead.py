"""Inference time of the full model (ConvNet + reasoning head, T = 3) over the plain ConvNet.

The plain ConvNet is the paper's region classifier (ResNet-50 to conv4, crops, conv5, FC); the
full model adds :class:`~iterative_reasoning.nn.IterativeReasoningHead` ("final": local and
global modules, cross-feed, attention) with the paper's sizes. Both run on the same
``600 x 800`` input with the same 100 boxes, in one process, without gradients. The printed
ratio, not the absolute times, is the result.

    python benchmarks/head_overhead.py                    # 600x800, 100 regions, C=1485
    python benchmarks/head_overhead.py --json out.json    # also write the figures
"""

from __future__ import annotations

import argparse
import sys
import warnings
from typing import Any

import torch

warnings.filterwarnings("ignore", message=".*torch.jit.script.*")

from _measure import add_run_arguments, parse_run_arguments, time_call, write_json  # noqa: E402

from iterative_reasoning.graph import ClassRelations  # noqa: E402
from iterative_reasoning.models import ResNetRegionClassifier  # noqa: E402
from iterative_reasoning.nn import IterativeReasoningHead  # noqa: E402


def make_models(args: dict[str, Any]) -> tuple[ResNetRegionClassifier, IterativeReasoningHead]:
    torch.manual_seed(args["seed"])
    classes = args["classes"]
    gen = torch.Generator().manual_seed(args["seed"])
    edges = classes * args["edges_per_class"]
    relations = {}
    for k in range(args["relations"]):
        source = torch.randint(0, classes, (edges,), generator=gen)
        target = (source + torch.randint(1, classes, (edges,), generator=gen)) % classes
        relations[f"relation_{k}"] = torch.stack([source, target])  # no self-loops
    convnet = ResNetRegionClassifier(classes, weights=None).eval()
    head = IterativeReasoningHead.paper(
        "final",
        num_classes=classes,
        class_relations=ClassRelations(classes, relations),
        fc_channels=args["fc_channels"],
        num_iterations=args["iterations"],
    ).eval()
    return convnet, head


def make_inputs(args: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(args["seed"])
    height, width = args["size"]
    image = torch.rand(1, 3, height, width, generator=gen)
    xy = torch.rand(args["regions"], 2, generator=gen) * torch.tensor([width, height]) * 0.8
    wh = 16 + torch.rand(args["regions"], 2, generator=gen) * torch.tensor([width, height]) * 0.3
    limit = torch.tensor([width, height], dtype=torch.float)
    boxes = torch.cat([xy, torch.minimum(xy + wh, limit)], dim=1)
    return image, boxes, torch.tensor([[height, width]])


def run(args: dict[str, Any]) -> dict[str, Any]:
    convnet, head = make_models(args)
    device = args["device"]
    convnet, head = convnet.to(device), head.to(device)
    image, boxes, sizes = (x.to(device) for x in make_inputs(args))

    def plain() -> object:
        return convnet(image, [boxes], sizes)

    def full() -> object:
        return head(*convnet(image, [boxes], sizes))

    with torch.inference_mode():
        regions = convnet(image, [boxes], sizes)
        plain_s = time_call(plain, args["repeats"], device)
        full_s = time_call(full, args["repeats"], device)
        head_s = time_call(lambda: head(*regions), args["repeats"], device)
    params = {
        "convnet_mparams": sum(p.numel() for p in convnet.parameters()) / 1e6,
        "head_mparams": sum(p.numel() for p in head.parameters()) / 1e6,
    }
    result = {k: args[k] for k in ("regions", "classes", "iterations", "fc_channels")}
    result.update(size=list(args["size"]), plain_s=plain_s, full_s=full_s, head_s=head_s)
    result.update(overhead=full_s / plain_s, **params)
    return result


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, nargs=2, default=[600, 800], metavar=("H", "W"))
    parser.add_argument("--regions", type=int, default=100)
    parser.add_argument("--classes", type=int, default=1485, help="ADE: 1,484 + background")
    parser.add_argument("--relations", type=int, default=9, help="ADE's 9 relation types")
    parser.add_argument("--edges-per-class", type=int, default=3)
    parser.add_argument("--fc-channels", type=int, default=4096)
    parser.add_argument("--iterations", type=int, default=3)
    add_run_arguments(parser, repeats=3)
    opts = parse_run_arguments(parser, argv)
    result = run(vars(opts))
    print(
        f"inference, {opts.size[0]}x{opts.size[1]} input, R={opts.regions}, C={opts.classes}, "
        f"T={opts.iterations}, device={opts.device}, threads={opts.threads}"
    )
    plain_s, full_s, head_s = result["plain_s"], result["full_s"], result["head_s"]
    print(f"plain ConvNet          {plain_s:8.3f} s  ({result['convnet_mparams']:.1f} M params)")
    print(f"ConvNet + head (final) {full_s:8.3f} s  (+{result['head_mparams']:.1f} M params)")
    print(f"head alone             {head_s:8.3f} s")
    print(f"full / plain: {result['overhead']:.2f}x")
    write_json(opts, result=result)
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
