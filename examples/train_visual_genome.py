"""Train and evaluate a row of the paper's Table 1 on Visual Genome, with the paper's settings.

    python examples/train_visual_genome.py --root VG --model baseline --output-dir runs/vg
    python examples/train_visual_genome.py --root VG --model final --output-dir runs/vg-final

``--root`` (``VG`` above) holds ``objects.json`` and ``image_data.json`` (v1.2 or v1.4),
optionally ``relationships.json``, and the images (``VG_100K/``, ``VG_100K_2/``). The
classes are the object synsets with at least ``--min-count`` objects; their class graph (WordNet
and the 10 most frequent relationships) is built offline, once, and kept in the run directory.
Splits: 70/10/20 % of ``image_data.json`` in its order (``--split-file`` to give your own).
ResNet-50 from ImageNet weights, one image a step; the paper's VG schedule is not known, so the
default is its ADE one (320 K steps, lr 5e-4 dropped tenfold at 280 K; ``--steps`` to change,
the drop following in proportion). Resumes when started again; runs under ``torchrun``. Ends
with the evaluation on the test split (``metrics.json``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from iterative_reasoning.data import VisualGenome, vg_class_graph
from iterative_reasoning.engine import (
    RegionModel,
    TrainConfig,
    init_distributed,
    train_and_evaluate,
)
from knowledge_graphs import ClassGraph


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--model", default="final", help="baseline, local, global, final, ...")
    parser.add_argument("--output-dir", type=Path, required=True)
    parser.add_argument("--min-count", type=int, default=5)
    parser.add_argument("--split-file", type=Path)
    parser.add_argument("--steps", type=int, default=320_000)
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--min-size", type=int, default=600, help="short side after resizing")
    parser.add_argument("--weights", default="IMAGENET1K_V1", help="ResNet-50 weights, or none")
    args = parser.parse_args(argv)

    device = init_distributed()
    graph_file = args.output_dir / "class_graph.json.gz"
    if graph_file.exists():
        graph = ClassGraph.load(graph_file)
    else:  # WordNet's relations between the synsets (offline), the 10 most frequent
        # relationships of relationships.json between them, as the paper's VG graph, and the
        # statistics of the training split's boxes and attributes
        graph = vg_class_graph(
            args.root,
            args.min_count,
            progress=True,
            cache_dir=args.output_dir / "cache",
            split_file=args.split_file,
        )
        args.output_dir.mkdir(parents=True, exist_ok=True)
        graph.save(graph_file)
    classes = ["__background__", *graph.classes]
    cache = args.output_dir / "cache"
    size = {"min_size": args.min_size, "max_size": max(1000, args.min_size)}
    common = {"classes": classes, "split_file": args.split_file, "cache_dir": cache, **size}
    train_set = VisualGenome(args.root, "train", hflip_prob=0.5, **common)
    test_set = VisualGenome(args.root, "test", **common)

    weights = None if args.weights.lower() == "none" else args.weights
    relations = graph.to_class_relations(background=True)
    model = RegionModel.paper(args.model, len(classes), relations, weights=weights)

    config = TrainConfig(
        steps=args.steps,
        batch_size=args.batch_size,
        lr_steps=(round(args.steps * 280 / 320),),
        checkpoint_every=min(10_000, args.steps),
    )
    return train_and_evaluate(model, train_set, test_set, config, args.output_dir, device)


if __name__ == "__main__":
    main()
