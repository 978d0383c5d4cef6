"""Train and evaluate a row of the paper's Table 1 on ADE20K, with the paper's settings.

    python examples/train_ade20k.py --root ADE --model baseline --output-dir runs/ade-baseline
    python examples/train_ade20k.py --root ADE --model final --output-dir runs/ade-final

``--root`` (``ADE`` above) holds the 2016_07_26 release (``images/``) with the paper's split files
(``train.txt``, ``mval.txt``, ``mtest.txt``) and ``objectnames.txt`` / ``objectcounts.txt``.
The classes are the paper's 1,484 raw names (and background). Their class graph is built once
into the run directory from WordNet (the shipped graph's relations) and from the training
split's annotations: the part-of pairs its part masks annotate, as the original code mined
them, and the statistics of its boxes (co-occurrence and relative places); ``--shipped-graph``
takes the shipped WordNet-only graph instead. The ConvNet is ResNet-50 from ImageNet weights
(downloaded by torchvision on first use), one image a step, 320 K steps with lr 5e-4 dropped
tenfold at 280 K (``--steps`` to shorten). The run resumes where it stopped when started again
with the same ``--output-dir``; under ``torchrun --nproc_per_node N`` it trains on N processes
(``--batch-size`` a multiple of N).
It ends by evaluating on ``mtest`` (test-1k) and writing ``metrics.json``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from iterative_reasoning.data import ADE20K
from iterative_reasoning.data.ade20k import BACKGROUND
from iterative_reasoning.data.graphs import ade20k_class_graph
from iterative_reasoning.engine import (
    RegionModel,
    TrainConfig,
    init_distributed,
    train_and_evaluate,
)
from knowledge_graphs import ClassGraph, load_ready_made


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--model", default="final", help="baseline, local, global, final, ...")
    parser.add_argument("--output-dir", type=Path, required=True)
    parser.add_argument("--steps", type=int, default=320_000)
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--min-size", type=int, default=600, help="short side after resizing")
    parser.add_argument("--weights", default="IMAGENET1K_V1", help="ResNet-50 weights, or none")
    parser.add_argument("--shipped-graph", action="store_true", help="the WordNet-only graph")
    args = parser.parse_args(argv)

    device = init_distributed()
    cache = args.output_dir / "cache"
    graph_file = args.output_dir / "class_graph.json.gz"
    if args.shipped_graph:
        graph = load_ready_made("ade20k")  # the paper's 1,484 classes, WordNet relations only
    elif graph_file.exists():
        graph = ClassGraph.load(graph_file)
    else:
        graph = ade20k_class_graph(args.root, cache_dir=cache, progress=True)
        args.output_dir.mkdir(parents=True, exist_ok=True)
        graph.save(graph_file)
    classes = [BACKGROUND, *graph.classes]
    size = {"min_size": args.min_size, "max_size": max(1000, args.min_size)}
    train_set = ADE20K(args.root, "train", classes=classes, hflip_prob=0.5, cache_dir=cache, **size)
    test_set = ADE20K(args.root, "mtest", classes=classes, cache_dir=cache, **size)

    weights = None if args.weights.lower() == "none" else args.weights
    relations = graph.to_class_relations(background=True)
    model = RegionModel.paper(args.model, len(classes), relations, weights=weights)

    config = TrainConfig(  # the paper's schedule, shortened in proportion by --steps
        steps=args.steps,
        batch_size=args.batch_size,
        lr_steps=(round(args.steps * 280 / 320),),
        checkpoint_every=min(10_000, args.steps),
    )
    return train_and_evaluate(model, train_set, test_set, config, args.output_dir, device)


if __name__ == "__main__":
    main()
