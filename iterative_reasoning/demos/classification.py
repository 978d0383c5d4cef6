"""The demo: the paper's Table 1 on the synthetic benchmark, on two CPU cores in minutes.

It writes the benchmark in the ADE20K 2016 format and reads it back through
:class:`~iterative_reasoning.data.ADE20K`, builds the class graph from WordNet and from the
part annotations of the written data, trains the plain ConvNet
(:class:`~iterative_reasoning.models.SmallConvNetClassifier`), then the local, global and
final heads on that ConvNet (frozen: the head never trains the ConvNet, so this is the ConvNet a
joint run would learn), evaluates the four models, prints the table with the AP of each
look-alike class, and draws each region's prediction at each iteration with the attention, and
the training curves. Every step resumes: a second run reuses what the first finished.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any, Protocol

import torch

from iterative_reasoning.data.synthetic import AMBIGUOUS_PAIRS
from iterative_reasoning.data.synthetic.hard import GROUPS
from iterative_reasoning.demos.plot import plot_iterations, plot_training_curves
from iterative_reasoning.engine.config import TrainConfig
from iterative_reasoning.engine.evaluate import evaluate
from iterative_reasoning.engine.region_cache import RegionCache
from iterative_reasoning.graph import ClassRelations
from iterative_reasoning.models.region import RegionModel
from iterative_reasoning.nn.reasoning_head import IterativeReasoningHead, head_size
from iterative_reasoning.recipes import RunSpec, synthetic
from iterative_reasoning.recipes.graph import run_class_graph
from iterative_reasoning.recipes.resume import train_or_resume
from knowledge_graphs.files import write_atomic

#: The rows of the demo's table, in order.
ROWS = ("baseline", "local", "global", "final")


@dataclass
class DemoConfig:
    """What the demo trains and on how much data.

    Attributes:
        train_images: images of the training split (seen with random flips).
        test_images: images of the test split (``mtest``).
        seed: the benchmark's seed.
        baseline: the ConvNet's schedule (SGD from scratch).
        head: each head's schedule, on the frozen ConvNet.
        models: the heads to train (:data:`~iterative_reasoning.nn.reasoning_head.MODELS`).
        width: the ConvNet's first width.
        benchmark: the benchmark's tier, ``"easy"`` or ``"hard"``
            (:data:`~iterative_reasoning.data.synthetic.scenes.BENCHMARKS`).
        head_size: the heads' widths: ``"paper"`` (the benchmark's) or ``"light"``
            (:data:`~iterative_reasoning.nn.reasoning_head.HEAD_SIZES`).
    """

    train_images: int = 800
    test_images: int = 200
    seed: int = 0
    baseline: TrainConfig = field(default_factory=synthetic.baseline_schedule)
    head: TrainConfig = field(default_factory=synthetic.head_schedule)
    models: tuple[str, ...] = ("local", "global", "final")
    width: int = 16
    benchmark: str = "easy"
    head_size: str = "paper"

    def __post_init__(self) -> None:
        head_size(self.head_size, "head_size")

    def scaled(self, factor: float) -> DemoConfig:
        """The same demo with ``factor`` times the steps (and schedule) and images."""
        return replace(
            self,
            train_images=max(2, round(self.train_images * factor)),
            test_images=max(2, round(self.test_images * factor)),
            baseline=self.baseline.scaled(factor),
            head=self.head.scaled(factor),
        )

    def run(self, output_dir: Path, lexicon: Any = None) -> RunSpec:
        """A head's run of the demo, as the command line names it: ``iterative-reasoning train
        --dataset synthetic --root OUT/data --model final --init-convnet OUT/baseline
        --freeze-convnet`` (with ``--head-size``) builds the same data, graph and model."""
        return RunSpec(
            dataset="synthetic",
            model="final",
            output_dir=output_dir,
            root=output_dir / "data",
            lexicon=lexicon,
            num_images=self.train_images,
            num_test_images=self.test_images,
            benchmark=self.benchmark,
            seed=self.seed,
            head_size=self.head_size,
        )


class HeadFactory(Protocol):
    """What builds a head for the demo: ``(num_classes, class_relations, width)`` -> an
    :class:`~iterative_reasoning.nn.IterativeReasoningHead` (with local and global modules of
    one's own, or a subclass) for the ConvNet of
    :func:`~iterative_reasoning.recipes.synthetic.convnet` of that ``width`` (features of
    ``4 * width`` channels at stride 16, region features of ``8 * width``)."""

    def __call__(
        self, num_classes: int, class_relations: ClassRelations, width: int
    ) -> IterativeReasoningHead: ...


@dataclass
class DemoResult:
    """What :func:`run_demo` measured.

    Attributes:
        metrics: model -> ``metrics.json`` (percent; ``class_ap_of`` per class).
        seconds: model -> training seconds in this call (0 when resumed finished);
            ``results.json`` keeps those of the call that trained each model.
        table: the printed table.
        figures: the pictures written.
    """

    metrics: dict[str, dict[str, Any]]
    seconds: dict[str, float]
    table: str
    figures: list[Path]


def run_demo(
    output_dir: str | os.PathLike[str],
    config: DemoConfig | None = None,
    *,
    progress: bool = True,
    figures: bool = True,
    lexicon: Any = None,
    heads: Mapping[str, HeadFactory] | None = None,
) -> DemoResult:
    """Run the demo into ``output_dir`` (data, class graph, one folder per model with its
    checkpoint, logs and ``metrics.json``, ``table.txt``, ``results.json`` and the pictures).

    ``heads`` adds models of your own: name -> a function of ``(num_classes, class_relations,
    width)`` that returns a head for the demo's ConvNet (see :class:`HeadFactory`); each is
    trained and scored like the paper's heads, on the same frozen ConvNet, under its name."""
    config = config or DemoConfig()
    heads = dict(heads or {})
    clash = set(heads) & {"baseline", *config.models}
    if clash:
        raise ValueError(f"heads must not reuse the names of the demo's models: {sorted(clash)}")
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    spec = config.run(out, lexicon)
    data = synthetic.written_benchmark(
        spec.data_root, config.train_images, config.test_images, config.seed, config.benchmark
    )
    names = list(data["test"].classes)
    relations = ClassRelations.from_class_graph(run_class_graph(spec, "train", names))
    num_classes = len(names)

    models: dict[str, RegionModel] = {}
    seconds: dict[str, float] = {}
    torch.manual_seed(config.baseline.seed)
    baseline = RegionModel(synthetic.convnet(num_classes, config.width))
    seconds["baseline"] = train_or_resume(
        baseline, data["train"], config.baseline, out / "baseline", progress
    )
    models["baseline"] = baseline
    factories: dict[str, HeadFactory] = {
        kind: partial(synthetic.head, kind, size=config.head_size) for kind in config.models
    }
    factories.update(heads)
    # the heads read the same batches at the same steps: the frozen ConvNet runs once for all
    cache = RegionCache()
    for kind, factory in factories.items():
        torch.manual_seed(config.head.seed)
        convnet = synthetic.convnet(num_classes, config.width)
        convnet.load_state_dict(baseline.convnet.state_dict())
        head = factory(num_classes, relations, config.width)
        model = RegionModel(convnet, head, freeze_convnet=True, region_cache=cache)
        seconds[kind] = train_or_resume(model, data["train"], config.head, out / kind, progress)
        models[kind] = model

    metrics = {}
    for kind, model in models.items():
        done = out / kind / "metrics.json"
        stale = (
            not done.exists()
            or done.stat().st_mtime < (out / "data" / "written.json").stat().st_mtime
        )
        if seconds[kind] > 0 or stale:
            evaluate(model, data["test"], batch_size=8, output_dir=out / kind)
        metrics[kind] = json.loads(done.read_text())
    table = format_table(metrics) if config.benchmark == "easy" else format_group_table(metrics)
    write_atomic(out / "table.txt", table + "\n")
    # each model's training seconds as measured by the call that trained it
    results = out / "results.json"
    before = json.loads(results.read_text()).get("train_seconds", {}) if results.exists() else {}
    trained = {kind: s if s > 0 else before.get(kind, s) for kind, s in seconds.items()}
    write_atomic(
        results, json.dumps({"metrics": metrics, "train_seconds": trained}, indent=2) + "\n"
    )
    written: list[Path] = []
    if figures:
        written.append(plot_training_curves(out, list(models), out / "training_curves.png"))
        if "final" in models:
            sample = data["test"][0]
            written.append(plot_iterations(models["final"], sample, names, out / "iterations.png"))
    return DemoResult(metrics, seconds, table, written)


def format_table(metrics: dict[str, dict[str, Any]]) -> str:
    """The Table-1-style comparison: the four metrics of each model, then the per-class AP of
    each look-alike class; a line under it gives each model's gain in per-class AP."""
    pairs = [name for a, b, _ in AMBIGUOUS_PAIRS for name in (a, b)]
    header = ["model", "inst AP", "inst AC", "cls AP", "cls AC", *pairs]
    rows = [header]
    for kind, m in metrics.items():
        rows.append(
            [
                kind,
                *(f"{m[k]:.1f}" for k in ("instance_ap", "instance_ac", "class_ap", "class_ac")),
                *(f"{m['class_ap_of'].get(name, float('nan')):.1f}" for name in pairs),
            ]
        )
    lines = aligned(rows)
    if "baseline" in metrics:
        base = metrics["baseline"]["class_ap"]
        gains = ", ".join(
            f"{k} {m['class_ap'] - base:+.1f}" for k, m in metrics.items() if k != "baseline"
        )
        lines.append(f"per-class AP over the plain ConvNet: {gains}")
    return "\n".join(lines)


def format_group_table(metrics: dict[str, dict[str, Any]]) -> str:
    """The hard tier's table: the four metrics of each model, then the mean per-class AP of
    each look-alike group (:data:`~iterative_reasoning.data.synthetic.hard.GROUPS`)."""

    header = ["model", "inst AP", "inst AC", "cls AP", "cls AC"]
    header += [f"{g.name} ({g.context})" for g in GROUPS]
    rows = [header]
    for kind, m in metrics.items():
        groups = [group_ap(m, g.members) for g in GROUPS]
        rows.append(
            [
                kind,
                *(f"{m[k]:.1f}" for k in ("instance_ap", "instance_ac", "class_ap", "class_ac")),
                *(f"{v:.1f}" for v in groups),
            ]
        )
    return "\n".join(aligned(rows))


def group_ap(metrics: dict[str, Any], members: tuple[str, ...] | list[str]) -> float:
    """The mean per-class AP of ``members`` (percent) in a ``metrics.json``, over those with
    test regions (NaN when none has)."""
    values = [metrics["class_ap_of"][name] for name in members if name in metrics["class_ap_of"]]
    return sum(values) / len(values) if values else float("nan")


def aligned(rows: list[list[str]]) -> list[str]:
    """Table rows as lines: the first column left-aligned, the others right-aligned, a rule
    under the header."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(
            c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in rows
    ]
    lines.insert(1, "-" * len(lines[0]))
    return lines
