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

The run is the one ``iterative-reasoning train --dataset ade20k`` builds
(:mod:`iterative_reasoning.recipes`).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from iterative_reasoning import recipes
from iterative_reasoning.engine import init_distributed


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--shipped-graph", action="store_true", help="the WordNet-only graph")
    recipes.add_run_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")  # the metrics, a stop

    device = init_distributed()
    spec = recipes.run_spec_of(
        args,
        "ade20k",
        root=args.root,
        shipped_graph=args.shipped_graph,
    )
    config = recipes.paper_schedule(args.steps, args.batch_size)  # shortened in proportion
    return recipes.train_and_test(spec, config, device)


if __name__ == "__main__":
    main()
