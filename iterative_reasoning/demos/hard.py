"""The hard tier's tables: the paper's Table 1 and its ablations on
:mod:`~iterative_reasoning.data.synthetic.hard`, each model trained and scored on several seeds,
as the mean and standard deviation, beside the ceiling the generator computes.

Each seed is one run of :func:`~iterative_reasoning.demos.classification.run_demo` into
``seed-<k>/``: the tier's splits drawn from seed ``k`` and written in the ADE20K 2016 format, its
class graph (WordNet and the box statistics of its training split), the plain ConvNet, then every
head on that ConvNet (frozen), with training seeded by ``k`` too. Every step resumes: run again, it
reuses the seeds, models and scores it finished.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from iterative_reasoning.data.synthetic.hard import GROUPS, ceiling
from iterative_reasoning.demos.classification import (
    DemoConfig,
    HeadFactory,
    aligned,
    group_ap,
    run_demo,
)
from iterative_reasoning.demos.plot import plot_class_ap_by_model
from iterative_reasoning.recipes import synthetic
from knowledge_graphs.files import write_atomic

logger = logging.getLogger(__name__)

#: The paper's models, then its ablations of the final model.
MAIN_ROWS: tuple[str, ...] = ("baseline", "local", "global", "final")
ABLATION_ROWS: tuple[str, ...] = (
    "final",
    "no_spatial",
    "no_semantic",
    "no_cross_feed",
    "no_attention",
)
#: The metrics of each row, as named in ``metrics.json``.
METRICS: tuple[str, ...] = ("instance_ap", "instance_ac", "class_ap", "class_ac")


def _hard_demo() -> DemoConfig:
    return DemoConfig(
        train_images=800,
        test_images=300,
        head=synthetic.head_schedule("hard"),
        models=(*MAIN_ROWS[1:], *ABLATION_ROWS[1:]),
        benchmark="hard",
    )


@dataclass
class HardBenchmarkConfig:
    """What the hard tier's tables train, and on how many seeds.

    Attributes:
        seeds: how many seeds (``0 .. seeds - 1``); each draws its own data and trains its own
            models.
        demo: one seed's run; its ``seed`` and its schedules' seeds are replaced by the seed's.
    """

    seeds: int = 3
    demo: DemoConfig = field(default_factory=_hard_demo)

    def for_seed(self, seed: int) -> DemoConfig:
        """The run of one seed: its data drawn from ``2 * seed`` (training) and ``2 * seed + 1``
        (test), so that no two seeds share an image, and its training seeded by ``seed``."""
        return replace(
            self.demo,
            seed=2 * seed,
            baseline=replace(self.demo.baseline, seed=seed),
            head=replace(self.demo.head, seed=seed),
        )


@dataclass
class HardBenchmarkResult:
    """What :func:`run_hard_benchmark` measured.

    Attributes:
        summary: row -> metric or group -> ``(mean, std)`` over the seeds (percent).
        ceiling: the generator's ceiling of the test splits: ``instance_ac`` and per group,
            mean over the seeds.
        tables: the main table and the ablation table, as printed.
        seconds: training seconds of each seed in this call.
        wall_seconds: seconds of each seed in this call, everything included.
        figures: the pictures written.
    """

    summary: dict[str, dict[str, tuple[float, float]]]
    ceiling: dict[str, Any]
    tables: tuple[str, str]
    seconds: dict[int, float]
    wall_seconds: dict[int, float]
    figures: list[Path]


def run_hard_benchmark(
    output_dir: str | os.PathLike[str],
    config: HardBenchmarkConfig | None = None,
    *,
    progress: bool = True,
    figures: bool = True,
    lexicon: Any = None,
    heads: Mapping[str, HeadFactory] | None = None,
) -> HardBenchmarkResult:
    """Run every seed into ``output_dir/seed-<k>`` and write ``tables.txt``, ``summary.json``
    and ``class_ap_by_model.png`` into ``output_dir``. ``heads`` adds models of your own
    (as :func:`~iterative_reasoning.demos.classification.run_demo`); they are rows of the main
    table."""

    config = config or HardBenchmarkConfig()
    if config.seeds < 1:
        raise ValueError(f"seeds must be positive, got {config.seeds}")
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    runs: dict[int, dict[str, dict[str, Any]]] = {}
    seconds: dict[int, float] = {}
    wall: dict[int, float] = {}
    ceilings = []
    for seed in range(config.seeds):
        demo = config.for_seed(seed)
        start = time.perf_counter()
        result = run_demo(
            out / f"seed-{seed}",
            demo,
            progress=progress,
            figures=False,
            lexicon=lexicon,
            heads=heads,
        )
        seconds[seed] = sum(result.seconds.values())
        wall[seed] = time.perf_counter() - start
        runs[seed] = result.metrics
        logger.info("seed %d: %.0f s", seed, wall[seed])
        # the test split is the second one written, drawn from its seed + 1 (write_ade2016)
        ceilings.append(ceiling(demo.seed + 1, demo.test_images))
    summary = summarize(list(runs.values()))
    ceiling_mean = {
        "instance_ac": _mean([c["instance_ac"] for c in ceilings]),
        "groups": {g: _mean([c["groups"][g] for c in ceilings]) for g in ceilings[0]["groups"]},
    }
    tables = format_tables(summary, ceiling_mean, config.seeds, tuple(heads or ()))
    write_atomic(out / "tables.txt", "\n\n".join(tables) + "\n")
    payload = {
        "seeds": config.seeds,
        "summary": {row: {k: list(v) for k, v in m.items()} for row, m in summary.items()},
        "ceiling": ceiling_mean,
        "per_seed": {str(k): v for k, v in runs.items()},
        # as measured when each model was trained (a resumed call trains nothing)
        "train_seconds": {k: _recorded_seconds(out / f"seed-{k}") for k in runs},
        "wall_seconds_of_this_call": wall,
    }
    write_atomic(out / "summary.json", json.dumps(payload, indent=2) + "\n")
    written: list[Path] = []
    if figures:
        per_class = {}
        for row in summary:  # the classes with test regions in every seed
            aps = [r[row]["class_ap_of"] for r in runs.values()]
            names = [n for n in aps[0] if all(n in a for a in aps)]
            per_class[row] = {n: _mean_std([a[n] for a in aps]) for n in names}
        written.append(plot_class_ap_by_model(per_class, out / "class_ap_by_model.png"))
    return HardBenchmarkResult(summary, ceiling_mean, tables, seconds, wall, written)


def summarize(runs: list[dict[str, dict[str, Any]]]) -> dict[str, dict[str, tuple[float, float]]]:
    """Mean and standard deviation (``n - 1``) over the seeds' ``metrics.json`` of each row's
    metrics and of each look-alike group's per-class AP."""

    rows = [row for row in runs[0] if all(row in r for r in runs)]
    summary: dict[str, dict[str, tuple[float, float]]] = {}
    for row in rows:
        values = {k: _mean_std([r[row][k] for r in runs]) for k in METRICS}
        for g in GROUPS:
            values[g.name] = _mean_std([group_ap(r[row], g.members) for r in runs])
        summary[row] = values
    return summary


def format_tables(
    summary: dict[str, dict[str, tuple[float, float]]],
    ceiling: dict[str, Any],
    seeds: int,
    extra: tuple[str, ...] = (),
) -> tuple[str, str]:
    """The main table (baseline, local, global, final, the ``extra`` rows, and the ceiling)
    and the ablation table (the final model and each ablation), as ``mean ± std`` over
    ``seeds``."""

    header = ["model", "inst AP", "inst AC", "cls AP", "cls AC"]
    header += [f"{g.name} ({g.context})" for g in GROUPS]

    def table(rows: tuple[str, ...], title: str) -> str:
        lines = [header]
        for row in rows:
            if row not in summary:
                continue
            cells = [summary[row][k] for k in (*METRICS, *(g.name for g in GROUPS))]
            lines.append([row, *(f"{m:.1f} ± {s:.1f}" for m, s in cells)])
        text = [title, *aligned(lines)]
        return "\n".join(text)

    main = table((*MAIN_ROWS, *extra), f"hard tier, mean ± std over {seeds} seeds")
    groups = ", ".join(f"{g} {v:.1f}" for g, v in ceiling["groups"].items())
    main += (
        f"\nceiling (best possible inst AC from the context drawn): {ceiling['instance_ac']:.1f}"
        f"; per group, the share of decided regions: {groups}"
    )
    if "baseline" in summary and "final" in summary:
        base = summary["baseline"]["class_ap"][0]
        gains = ", ".join(
            f"{row} {summary[row]['class_ap'][0] - base:+.1f}"
            for row in (*MAIN_ROWS[1:], *extra)
            if row in summary
        )
        main += f"\nper-class AP over the plain ConvNet: {gains}"
        final = summary["final"]
        over = ", ".join(
            f"{row} {final['class_ap'][0] - summary[row]['class_ap'][0]:+.1f}"
            for row in ("local", "global")
            if row in summary
        )
        gap = ceiling["instance_ac"] - final["instance_ac"][0]
        if over:
            main += f"\nfinal over {over} (per-class AP)"
        main += f"\nthe final model's inst AC is {gap:.1f} below the ceiling"
    ablations = table(ABLATION_ROWS, f"ablations of the final model, mean ± std over {seeds} seeds")
    if "final" in summary:
        final_ap = summary["final"]["class_ap"][0]
        costs = ", ".join(
            f"{row} {summary[row]['class_ap'][0] - final_ap:+.1f}"
            for row in ABLATION_ROWS[1:]
            if row in summary
        )
        ablations += f"\nper-class AP against the final model: {costs or 'no ablation trained'}"
    return main, ablations


def _recorded_seconds(seed_dir: Path) -> float:
    """The training seconds of a seed's models, as the calls that trained them measured."""
    recorded = json.loads((seed_dir / "results.json").read_text())["train_seconds"]
    return float(sum(recorded.values()))


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def _mean_std(values: list[float]) -> tuple[float, float]:
    mean = _mean(values)
    if len(values) < 2:
        return mean, 0.0
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
