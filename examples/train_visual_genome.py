"""Train and evaluate a row of the paper's Table 1 on Visual Genome, with the paper's settings.

    python examples/train_visual_genome.py --root VG --model baseline --output-dir runs/vg
    python examples/train_visual_genome.py --root VG --model final --output-dir runs/vg-final

``--root`` (``VG`` above) holds ``objects.json`` and ``image_data.json`` (v1.2 or v1.4),
optionally ``relationships.json``, and the images (``VG_100K/``, ``VG_100K_2/``). The
classes are the object synsets with at least ``--min-count`` objects; their class graph (WordNet
and the 10 most frequent relationships, and the statistics of the training split's boxes and
attributes) is built offline, once, and kept in the run directory.
Splits: 70/10/20 % of ``image_data.json`` in its order (``--split-file`` to give your own).
ResNet-50 from ImageNet weights, one image a step; the paper's VG schedule is not known, so the
default is its ADE one (320 K steps, lr 5e-4 dropped tenfold at 280 K; ``--steps`` to change,
the drop following in proportion). Resumes when started again; runs under ``torchrun``. Ends
with the evaluation on the test split (``metrics.json``).

The run is the one ``iterative-reasoning train --dataset visual_genome`` builds
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
    parser.add_argument("--min-count", type=int, default=5)
    parser.add_argument("--split-file", type=Path)
    recipes.add_run_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")  # the metrics, a stop

    device = init_distributed()
    spec = recipes.run_spec_of(
        args,
        "visual_genome",
        root=args.root,
        min_count=args.min_count,
        split_file=args.split_file,
    )
    config = recipes.paper_schedule(args.steps, args.batch_size)  # shortened in proportion
    return recipes.train_and_test(spec, config, device)


if __name__ == "__main__":
    main()
