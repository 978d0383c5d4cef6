"""Train the reasoning head on a dataset of one's own in COCO format, and evaluate it.

    python examples/train_coco.py --images DIR --train instances_train.json \\
        --test instances_val.json --model final --output-dir runs/mine

``--images`` is the folder the annotations' ``file_name`` is relative to. The classes are the
annotation file's categories, in category-id order; their class graph is built from WordNet,
offline, and from the statistics of the training file's boxes (which classes share images, where
their boxes sit relative to each other), and kept in the run directory (the same as
``knowledge-graphs build --classes-from-coco FILE --cooccurrence-from-coco FILE``). Crowd
annotations are not regions; degenerate boxes are dropped and counted. With ``--write-masks``
the spatial memory writes through the instance masks (``segmentation``) instead of the boxes.
ResNet-50 from ImageNet weights and the paper's optimiser; ``--steps`` sets the schedule (the
lr drops tenfold at 7/8 of it). Resumes when started again; runs under ``torchrun``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from iterative_reasoning.data import COCODataset, coco_categories
from iterative_reasoning.data.ade20k import BACKGROUND
from iterative_reasoning.data.graphs import coco_class_graph
from iterative_reasoning.engine import (
    RegionModel,
    TrainConfig,
    init_distributed,
    train_and_evaluate,
)
from knowledge_graphs import ClassGraph


def class_graph(train: Path, output_dir: Path) -> ClassGraph:
    """WordNet's relations and the training boxes' statistics, built once into the run."""
    path = output_dir / "class_graph.json.gz"
    if path.exists():
        return ClassGraph.load(path)
    graph = coco_class_graph(train)
    output_dir.mkdir(parents=True, exist_ok=True)
    graph.save(path)
    return graph


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=Path, required=True)
    parser.add_argument("--train", type=Path, required=True, help="training annotation file")
    parser.add_argument("--test", type=Path, required=True, help="test annotation file")
    parser.add_argument("--model", default="final", help="baseline, local, global, final, ...")
    parser.add_argument("--output-dir", type=Path, required=True)
    parser.add_argument("--write-masks", action="store_true")
    parser.add_argument("--steps", type=int, default=80_000)
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--min-size", type=int, default=600, help="short side after resizing")
    parser.add_argument("--weights", default="IMAGENET1K_V1", help="ResNet-50 weights, or none")
    args = parser.parse_args(argv)

    device = init_distributed()
    graph = class_graph(args.train, args.output_dir)
    if graph.classes != coco_categories(args.train):
        raise ValueError(f"{args.output_dir} holds the class graph of other categories")
    classes = [BACKGROUND, *graph.classes]
    common = {
        "classes": classes,
        "masks": args.write_masks,
        "min_size": args.min_size,
        "max_size": max(1000, args.min_size),
    }
    train_set = COCODataset(args.images, args.train, hflip_prob=0.5, **common)
    test_set = COCODataset(args.images, args.test, **common)

    weights = None if args.weights.lower() == "none" else args.weights
    relations = graph.to_class_relations(background=True)
    model = RegionModel.paper(
        args.model, len(classes), relations, weights=weights, write_masks=args.write_masks
    )

    config = TrainConfig(
        steps=args.steps,
        batch_size=args.batch_size,
        lr_steps=(round(args.steps * 7 / 8),),
        checkpoint_every=min(10_000, args.steps),
    )
    return train_and_evaluate(model, train_set, test_set, config, args.output_dir, device)


if __name__ == "__main__":
    main()
