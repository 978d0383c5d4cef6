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

The run is the one ``iterative-reasoning train --dataset coco`` builds
(:mod:`iterative_reasoning.recipes`).
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import replace
from pathlib import Path

from iterative_reasoning import recipes
from iterative_reasoning.engine import init_distributed


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=Path, required=True)
    parser.add_argument("--train", type=Path, required=True, help="training annotation file")
    parser.add_argument("--test", type=Path, required=True, help="test annotation file")
    parser.add_argument("--write-masks", action="store_true")
    recipes.add_run_arguments(parser, steps=80_000)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")  # the metrics, a stop

    device = init_distributed()
    spec = recipes.run_spec_of(
        args,
        "coco",
        root=args.images,
        annotations=args.train,
        write_masks=args.write_masks,
    )
    config = recipes.paper_schedule(args.steps, args.batch_size)  # shortened in proportion
    test = replace(spec, annotations=args.test)
    return recipes.train_and_test(spec, config, device, test_spec=test)


if __name__ == "__main__":
    main()
