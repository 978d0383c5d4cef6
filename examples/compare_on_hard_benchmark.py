"""Compare a reasoning head of your own with the paper's on the hard tier of the synthetic
benchmark: the same data, ConvNet, class graph, schedule and seeds, scored beside the ceiling.

Here the head of your own is the paper's final model whose global module also reads the IoU
``overlaps`` relation between regions; replace ``my_head`` with any function that builds an
``IterativeReasoningHead`` (from local and global modules of your own, or a subclass).

    python examples/compare_on_hard_benchmark.py                     # 3 seeds, the full tables
    python examples/compare_on_hard_benchmark.py --scale 0.05 --seeds 2 --models final
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from iterative_reasoning.demos.hard import HardBenchmarkConfig, run_hard_benchmark
from iterative_reasoning.graph import ClassRelations
from iterative_reasoning.nn import IterativeReasoningHead
from iterative_reasoning.recipes import synthetic


def my_head(
    num_classes: int, class_relations: ClassRelations, width: int
) -> IterativeReasoningHead:
    """The final model with the ``overlaps`` relation, sized for the benchmark's ConvNet
    (features of ``4 * width`` channels at stride 16, region features of ``8 * width``)."""
    return synthetic.head("final", num_classes, class_relations, width, overlaps=True)


def main(argv: list[str] | None = None) -> dict[str, tuple[float, float]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output-dir", type=Path, default=Path("runs/compare-hard"))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--scale", type=float, default=1.0, help="steps and images (e.g. 0.05)")
    parser.add_argument(
        "--models",
        nargs="*",
        help="the paper's heads to train beside yours (default: all, ablations included)",
    )
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)

    config = HardBenchmarkConfig(seeds=args.seeds)
    demo = config.demo.scaled(args.scale) if args.scale != 1.0 else config.demo
    if args.models is not None:
        demo = replace(demo, models=tuple(args.models))
    config = replace(config, demo=demo)
    result = run_hard_benchmark(
        args.output_dir, config, progress=not args.quiet, heads={"final_overlaps": my_head}
    )
    print("\n\n".join(result.tables))
    return result.summary["final_overlaps"]


if __name__ == "__main__":
    main()
