"""The detection benchmark: a detector with and without the reasoning head on the synthetic
scenes, scored with COCO's metrics, on two CPU cores in minutes. The detector is a torchvision
Faster R-CNN (``family="faster_rcnn"``, the default), a ``transformers`` RT-DETR
(``family="rt_detr"``, :func:`~iterative_reasoning.models.small_detectors.small_rt_detr`) or an
``ultralytics`` YOLOv8n (``family="yolo"``,
:func:`~iterative_reasoning.models.small_detectors.small_yolo`).

It writes the synthetic benchmark in COCO format (:func:`~iterative_reasoning.data.write_coco`)
and reads it through :class:`~iterative_reasoning.data.COCODetection`, trains a Faster R-CNN
from scratch (:func:`~iterative_reasoning.models.small_detectors.small_faster_rcnn`: a real
torchvision ``FasterRCNN`` on a small stride-16 backbone whose box classifier cannot see the
scenes' context cues), then the reasoning head on that detector (frozen: the head never trains
the detector, so this is the detector a joint run would learn, bit for bit), on the training
images but a held-out validation split, whose loss it logs; with ``fusion="residual"`` it then
fits the head's fallback gate on the held-out split. It evaluates with ``COCOeval`` the plain
detector, the same detector with the head and, with the residual fusion, with the head's paper
fusion (the same head without its gate). It prints and writes the table (mAP, AP50, the mean
AP of the look-alike categories and of the others, and the AP of each look-alike category),
the head's loss on training, held-out and test images, and draws the detections of a test
image before and after reasoning. Every step resumes: a second run reuses what the first
finished. :func:`run_detection_seeds` runs it over several seeds and prints mean and spread.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Subset

from iterative_reasoning._validation import check_weight
from iterative_reasoning.data.synthetic import AMBIGUOUS_PAIRS, CLASSES, long_tail
from iterative_reasoning.demos.classification import aligned
from iterative_reasoning.demos.plot import plot_detections
from iterative_reasoning.detectors.torchvision import DEFAULT_REASONED_BOXES, detach_reasoning_head
from iterative_reasoning.engine.config import TrainConfig
from iterative_reasoning.engine.evaluate import evaluate_detection
from iterative_reasoning.engine.fallback import GATE_FITS, GATE_GRID, choose_gate, select_gate
from iterative_reasoning.engine.validation import (
    ValidationHook,
    check_fraction,
    validation_loss,
    validation_split,
)
from iterative_reasoning.graph import ClassRelations
from iterative_reasoning.models.detection import DetectionModel
from iterative_reasoning.models.small_detectors import (
    small_faster_rcnn,
    small_rt_detr,
    small_yolo,
)
from iterative_reasoning.nn.fallback import check_fusion
from iterative_reasoning.nn.reasoning_head import IterativeReasoningHead, head_size
from iterative_reasoning.recipes import RunSpec, synthetic
from iterative_reasoning.recipes.detection import attach_head
from iterative_reasoning.recipes.graph import run_class_graph
from iterative_reasoning.recipes.resume import train_or_resume
from iterative_reasoning.recipes.synthetic import FAMILIES
from knowledge_graphs.class_graph import ClassGraph
from knowledge_graphs.files import write_atomic

#: The benchmark's categories whose look depends on context, and the others.
LOOK_ALIKE = tuple(name for a, b, _ in AMBIGUOUS_PAIRS for name in (a, b))
OTHERS = tuple(name for name in CLASSES if name not in LOOK_ALIKE)
#: The tiers the detection benchmark runs on.
DETECTION_BENCHMARKS: tuple[str, ...] = ("easy", "long_tail")
#: The long-tail tier's further heads: the row each gives, and its folder's suffix.
VARIANT_ROWS = {
    "train_graph": "with head (training-image graph)",
    "no_semantic": "with head (no semantic)",
}
VARIANTS: tuple[str, ...] = tuple(VARIANT_ROWS)
#: A category's tier by its boxes in the training images: rare 1-10, medium 11-100, frequent
#: more (LVIS's thresholds, counted in boxes).
RARE, MEDIUM = 10, 100


@dataclass
class DetectionDemoConfig:
    """What the detection benchmark trains, and on how much data.

    Attributes:
        family: the detector, ``"faster_rcnn"``, ``"rt_detr"`` or ``"yolo"`` (a YOLOv8n of
            ultralytics, AGPL-3.0, installed by the user); :meth:`for_family` gives each its
            own schedule.
        train_images: images of the training split (seen with random flips).
        test_images: images of the test split.
        seed: the benchmark's seed.
        detector: the detector's schedule (SGD from scratch).
        head: the head's schedule, on the frozen detector.
        model: the head (``"final"``, ``"local"``, ``"global"`` or an ablation).
        head_size: the head's widths, ``"paper"`` (the benchmark's) or ``"light"``
            (:data:`~iterative_reasoning.nn.reasoning_head.HEAD_SIZES`).
        reasoned_boxes: proposals per image the head reasons over at inference (Faster R-CNN;
            RT-DETR's head reasons over all its queries, YOLO's over its detections).
        batch_size_per_image: proposals sampled per image for the box classifier (and the
            head) in training.
        width: the backbone's first width.
        sweep: further numbers of reasoned boxes (``None``: all) at which the trained head is
            evaluated, for the accuracy / time trade-off (none by default).
        fusion: the head's output: ``"residual"`` (the detector's prediction plus the head's
            change through a per-class gate fitted on the held-out images) or ``"paper"``
            (the paper's attention fusion).
        validation_fraction: the share of the training images held out from the head's
            training (its validation loss, and the fit of the fallback gate).
        validation_seed: the seed that draws them.
        validate_every: head steps between two validation losses.
        gate_fit: how the fallback gate is fitted on the held-out images: ``"ap"`` (each
            class's gate chosen by its held-out COCO AP,
            :func:`~iterative_reasoning.engine.fallback.select_gate`) or ``"loss"`` (trained
            by the cross-entropy of the gated prediction, with the ``fallback`` schedule).
        gate_margin: AP points a class must gain on the held-out images to move (``"ap"``).
        fallback: the schedule of the fallback gate's fit by its loss.
        benchmark: the scenes: ``"easy"`` (the synthetic benchmark's easy tier) or
            ``"long_tail"`` (:mod:`~iterative_reasoning.data.synthetic.long_tail`: the head's
            class graph from WordNet and the statistics of an annotation-only corpus).
        corpus_scenes: ``long_tail``: scenes of the annotation-only corpus.
        variants: ``long_tail``: further heads on the same detector, each beside the first:
            ``"train_graph"`` (its graph from WordNet and the training images' boxes alone)
            and ``"no_semantic"`` (the ``no_semantic`` model: no class relations).
    """

    family: str = "faster_rcnn"
    train_images: int = 800
    test_images: int = 200
    seed: int = 0
    detector: TrainConfig = field(default_factory=synthetic.detector_schedule)
    head: TrainConfig = field(default_factory=synthetic.detection_head_schedule)
    model: str = "final"
    head_size: str = "paper"
    reasoned_boxes: int | None = DEFAULT_REASONED_BOXES
    batch_size_per_image: int = 128
    width: int = 16
    sweep: tuple[int | None, ...] = ()
    fusion: str = "residual"
    validation_fraction: float = 0.1
    validation_seed: int = 0
    validate_every: int = 50
    gate_fit: str = "ap"
    gate_margin: float = 1.0
    fallback: TrainConfig = field(default_factory=synthetic.fallback_schedule)
    benchmark: str = "easy"
    corpus_scenes: int = 20_000
    variants: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"family must be one of {FAMILIES}, got {self.family!r}")
        check_fusion(self.fusion)
        head_size(self.head_size, "head_size")
        check_fraction("validation_fraction", self.validation_fraction)
        if self.validate_every < 1:
            raise ValueError(f"validate_every must be positive, got {self.validate_every}")
        if self.gate_fit not in GATE_FITS:
            raise ValueError(f"gate_fit must be one of {GATE_FITS}, got {self.gate_fit!r}")
        check_weight("gate_margin", self.gate_margin)
        if self.benchmark not in DETECTION_BENCHMARKS:
            raise ValueError(
                f"benchmark must be one of {DETECTION_BENCHMARKS}, got {self.benchmark!r}"
            )
        for name in ("train_images", "test_images"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        unknown = [v for v in self.variants if v not in VARIANTS]
        if unknown or len(set(self.variants)) != len(self.variants):
            raise ValueError(f"variants must be distinct ones of {VARIANTS}, got {self.variants}")
        if self.benchmark == "long_tail" and self.corpus_scenes < self.train_images:
            raise ValueError(
                f"corpus_scenes ({self.corpus_scenes}) must be at least train_images "
                f"({self.train_images}): the corpus is the larger annotation source"
            )
        if self.variants and self.benchmark != "long_tail":
            raise ValueError("variants go with benchmark='long_tail'")

    @classmethod
    def for_family(cls, family: str, benchmark: str = "easy") -> DetectionDemoConfig:
        """The benchmark's settings for ``family``, with its detector's own schedule; on the
        long-tail tier with both variant heads."""
        variants = VARIANTS if benchmark == "long_tail" else ()
        return cls(
            family=family,
            detector=synthetic.detector_schedule(family),
            benchmark=benchmark,
            variants=variants,
        )

    def scaled(self, factor: float) -> DetectionDemoConfig:
        """The same benchmark with ``factor`` times the steps (and schedule) and images."""
        return replace(
            self,
            train_images=max(2, round(self.train_images * factor)),
            test_images=max(2, round(self.test_images * factor)),
            detector=self.detector.scaled(factor),
            head=self.head.scaled(factor),
            fallback=self.fallback.scaled(factor),
            validate_every=max(1, round(self.validate_every * factor)),
            corpus_scenes=max(1, round(self.corpus_scenes * factor)),
        )

    def seeded(self, seed: int) -> DetectionDemoConfig:
        """The same benchmark drawn with ``seed``: its scenes, and each schedule's seed moved
        by ``seed`` (seed 0 is the benchmark as it is)."""
        return replace(
            self,
            seed=seed,
            detector=replace(self.detector, seed=self.detector.seed + seed),
            head=replace(self.head, seed=self.head.seed + seed),
            fallback=replace(self.fallback, seed=self.fallback.seed + seed),
        )


@dataclass
class DetectionDemoResult:
    """What :func:`run_detection_demo` measured.

    Attributes:
        metrics: ``"detector"``, ``"paper fusion"`` (with the residual fusion) and
            ``"with head"`` -> ``metrics.json`` (percent).
        seconds: what was timed in this run (training of each model, evaluation).
        table: the printed table (and, with a sweep, the trade-off table under it).
        figures: the pictures written.
        head_loss: the head's loss (its paper fusion, before the gate) on training, held-out
            and test images: ``{"train": ..., "held out": ..., "test": ...}``.
        gate: the fitted fallback gate of each class (empty with the paper's fusion).
        category_sets: the groups of categories the table averages over
            (:func:`category_sets`).
    """

    metrics: dict[str, dict[str, Any]]
    seconds: dict[str, float]
    table: str
    figures: list[Path]
    head_loss: dict[str, float] = field(default_factory=dict)
    gate: dict[str, float] = field(default_factory=dict)
    category_sets: dict[str, list[str]] = field(default_factory=dict)


def run_detection_demo(
    output_dir: str | os.PathLike[str],
    config: DetectionDemoConfig | None = None,
    *,
    progress: bool = True,
    figures: bool = True,
    lexicon: Any = None,
) -> DetectionDemoResult:
    """Run the detection benchmark into ``output_dir`` (data, class graph, ``detector/``,
    ``with_head/`` and, with the residual fusion, ``gate/`` (``selection.json``; or
    ``fallback/``, the gate's training by its loss) and ``paper_fusion/``, with
    their checkpoints, logs and ``metrics.json``, ``table.txt``, ``results.json`` and the
    picture)."""
    config = config or DetectionDemoConfig()
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    spec = RunSpec(
        dataset="synthetic",
        task="detection",
        model=config.model,
        output_dir=out,
        lexicon=lexicon,
        num_images=config.train_images,
        num_test_images=config.test_images,
        seed=config.seed,
        benchmark=config.benchmark,
    )
    data = synthetic.written_coco(
        spec.data_root, config.train_images, config.test_images, config.seed, config.benchmark
    )
    train_part, held_out = validation_split(
        data["train"], config.validation_fraction, config.validation_seed
    )
    num_classes = len(data["test"].classes)
    seconds: dict[str, float] = {}

    torch.manual_seed(config.detector.seed)
    detector: Any = _build_detector(config, num_classes)
    seconds["detector"] = train_or_resume(
        DetectionModel(detector), data["train"], config.detector, out / "detector", progress
    )
    if config.benchmark == "long_tail":
        graph = long_tail_graph(config, spec, "corpus")
    else:
        graph = run_class_graph(spec, "train")
    relations = ClassRelations.from_class_graph(graph)
    with_head, seconds["head"], fitted = _trained_head(
        config, detector, config.model, relations, "", data, train_part, held_out, out, progress
    )
    if fitted is not None:
        seconds["fallback"] = fitted
    head: IterativeReasoningHead = with_head.head  # type: ignore[assignment]
    with paper_fusion(head):
        head_loss = _head_losses(with_head, train_part, held_out, data["test"], config)

    start = time.perf_counter()
    evaluate_detection(with_head, data["test"], output_dir=out / "with_head", progress=progress)
    seconds["evaluate with head"] = time.perf_counter() - start
    rows = [("detector", "detector"), ("with head", "with_head")]
    if head.fallback is not None:
        with paper_fusion(head):
            evaluate_detection(
                with_head, data["test"], output_dir=out / "paper_fusion", progress=progress
            )
        rows.insert(1, ("paper fusion", "paper_fusion"))
    sweep = _sweep(config, detector, with_head, data["test"], out, progress)
    if figures:
        sample = data["test"][0]
        with_head_found = with_head.predict(with_head.collate([sample]))[0]
    _detach(config, detector)
    for variant in config.variants:
        start = time.perf_counter()
        _variant(config, variant, detector, spec, data, train_part, held_out, out, progress)
        seconds[VARIANT_ROWS[variant]] = time.perf_counter() - start
        rows.append((VARIANT_ROWS[variant], f"with_head-{variant}"))
    start = time.perf_counter()
    plain = DetectionModel(detector)
    evaluate_detection(plain, data["test"], output_dir=out / "detector", progress=progress)
    seconds["evaluate detector"] = time.perf_counter() - start

    metrics = {
        name: json.loads((out / folder / "metrics.json").read_text()) for name, folder in rows
    }
    gates = {}
    if head.fallback is not None:
        names = data["test"].classes
        gates = dict(zip(names, head.fallback.gate.detach().tolist(), strict=True))
    sets = category_sets(config)
    table = format_detection_table(metrics, sets)
    table += "\n" + format_head_loss(head_loss)
    if config.benchmark == "long_tail":
        table += "\n" + format_ceiling(long_tail.ceiling(config.seed + 1, config.test_images, True))
    if sweep:
        table += "\n\n" + format_sweep_table(sweep, seconds["evaluate detector"], sets)
    write_atomic(out / "table.txt", table + "\n")
    results = {
        "metrics": metrics,
        "seconds": seconds,
        "sweep": sweep,
        "head_loss": head_loss,
        "gate": gates,
        "category_sets": sets,
    }
    write_atomic(out / "results.json", json.dumps(results, indent=2) + "\n")
    written: list[Path] = []
    if figures:
        before = plain.predict(plain.collate([sample]))[0]
        written.append(
            plot_detections(
                sample.image,
                {"detector": before, f"with the head ({config.model})": with_head_found},
                data["test"].classes,
                out / "detections.png",
            )
        )
    return DetectionDemoResult(metrics, seconds, table, written, head_loss, gates, sets)


def _attach(
    config: DetectionDemoConfig, detector: Any, model: str, relations: ClassRelations
) -> None:
    attach_head(
        detector,
        model,
        relations,
        widths=synthetic.head_widths(config.width),
        reasoned_boxes=config.reasoned_boxes,
        fusion=config.fusion,
        size=config.head_size,
    )


def _detach(config: DetectionDemoConfig, detector: Any) -> None:
    if config.family == "faster_rcnn":
        detach_reasoning_head(detector)
    else:
        detector.detach()


def _variant(
    config: DetectionDemoConfig,
    variant: str,
    detector: Any,
    spec: RunSpec,
    data: dict[str, Any],
    train_part: Subset[Any],
    held_out: Subset[Any],
    out: Path,
    progress: bool,
) -> None:
    """A further head on the same frozen detector, trained, gated and evaluated as the first
    into ``out/with_head-<variant>`` (its gate's fit in ``gate-<variant>``), then detached."""
    source = "train" if variant == "train_graph" else "corpus"
    relations = ClassRelations.from_class_graph(long_tail_graph(config, spec, source))
    model = "no_semantic" if variant == "no_semantic" else config.model
    suffix = f"-{variant}"
    with_head, _, _ = _trained_head(
        config, detector, model, relations, suffix, data, train_part, held_out, out, progress
    )
    folder = out / f"with_head{suffix}"
    evaluate_detection(with_head, data["test"], output_dir=folder, progress=progress)
    _detach(config, detector)


def _trained_head(
    config: DetectionDemoConfig,
    detector: Any,
    model: str,
    relations: ClassRelations,
    suffix: str,
    data: dict[str, Any],
    train_part: Subset[Any],
    held_out: Subset[Any],
    out: Path,
    progress: bool,
) -> tuple[DetectionModel, float, float | None]:
    """The head of ``model`` attached to the frozen detector (seeded by the head's schedule),
    trained on ``train_part`` into ``out/with_head<suffix>`` with its held-out loss logged,
    and its fallback gate fitted into ``gate<suffix>`` (or ``fallback<suffix>``); the model,
    the training's seconds and the gate fit's (``None`` with the paper's fusion)."""
    torch.manual_seed(config.head.seed)
    _attach(config, detector, model, relations)
    with_head = DetectionModel(detector, freeze_detector=True)
    validation = ValidationHook(held_out, config.validate_every, config.head.batch_size)
    folder = out / f"with_head{suffix}"
    trained = train_or_resume(
        with_head, train_part, config.head, folder, progress, hooks=[validation]
    )
    head = with_head.head
    if head is None or head.fallback is None:
        return with_head, trained, None
    start = time.perf_counter()
    gate = out / (("fallback" if config.gate_fit == "loss" else "gate") + suffix)
    _fit_gate(config, detector, with_head, data["train"], held_out, gate, progress)
    return with_head, trained, time.perf_counter() - start


def long_tail_graph(config: DetectionDemoConfig, spec: RunSpec, source: str) -> Any:
    """The long-tail run's class graph: WordNet's relations and the box statistics of the
    annotation-only corpus (``source="corpus"``, written once into the data folder) or of the
    training images alone (``"train"``); built once into ``class_graph-<source>.json.gz``."""
    path = spec.output_dir / f"class_graph-{source}.json.gz"
    wanted = {"source": source, "corpus_scenes": config.corpus_scenes, "seed": config.seed}
    if path.exists():
        graph = ClassGraph.load(path)
        if graph.provenance.get("run") == wanted:
            return graph
    if source == "corpus":
        statistics = synthetic.written_corpus(spec.data_root, config.corpus_scenes, config.seed + 2)
    else:
        statistics = synthetic.coco_annotations(spec.data_root, "train")
    graph = synthetic.class_graph(None, spec.lexicon, "long_tail", "both", statistics)
    graph.provenance["run"] = wanted
    graph.save(path)
    return graph


def category_sets(config: DetectionDemoConfig) -> dict[str, list[str]]:
    """The groups of categories the tables average over: the easy tier's look-alike
    categories and the others; the long-tail tier's rare, medium and frequent categories by
    their boxes in the training images (:data:`RARE`, :data:`MEDIUM`; none: not scored),
    its look-alike members and the others."""
    if config.benchmark == "easy":
        return {"look-alike": list(LOOK_ALIKE), "others": list(OTHERS)}
    counts = long_tail.box_counts(config.seed, config.train_images)
    members = [m for g in long_tail.GROUPS for m in g.members]
    return {
        "rare": [n for n, c in counts.items() if 0 < c <= RARE],
        "medium": [n for n, c in counts.items() if RARE < c <= MEDIUM],
        "frequent": [n for n, c in counts.items() if c > MEDIUM],
        "look-alike": members,
        "others": [n for n in counts if n not in members],
    }


def format_ceiling(ceiling: dict[str, Any]) -> str:
    """The long-tail test split's ceiling: the share of look-alike regions whose label their
    image decides, per member tier and per group."""
    tiers = ", ".join(f"{t} {v:.1f}" for t, v in ceiling["tiers"].items())
    groups = ", ".join(f"{g} {v:.1f}" for g, v in ceiling["groups"].items())
    return (
        f"ceiling (the share of look-alike test regions whose label the image decides): "
        f"{tiers}; per group: {groups}"
    )


def _fit_gate(
    config: DetectionDemoConfig,
    detector: Any,
    with_head: DetectionModel,
    train_images: Any,
    held_out: Subset[Any],
    folder: Path,
    progress: bool,
) -> None:
    """Fit the head's fallback gate on the held-out images (``config.gate_fit``), or load
    the fit that ``folder`` holds."""
    if config.gate_fit == "loss":
        gate = DetectionModel(detector, freeze_detector=True, trains="fallback")
        train_or_resume(gate, held_out, config.fallback, folder, progress)
        return
    head = with_head.head
    assert head is not None and head.fallback is not None
    path = folder / "selection.json"
    wanted = {"grid": list(GATE_GRID), "margin": config.gate_margin}
    saved = json.loads(path.read_text()) if path.is_file() else {}
    if {k: saved.get(k) for k in wanted} == wanted:  # measured: the choice is made again
        measured = {k: v for k, v in saved["chosen"].items() if k.startswith("classes")}
        selection = choose_gate(
            head.fallback.gate, saved["grid"], train_images.classes, config.gate_margin, measured
        )
        if selection.as_json() == {k: saved[k] for k in ("gate", "grid", "chosen")}:
            return
    else:
        selection = select_gate(
            with_head, held_out, train_images.classes, GATE_GRID, config.gate_margin, progress
        )
    folder.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps({**wanted, **selection.as_json()}, indent=2) + "\n")


@contextmanager
def paper_fusion(head: IterativeReasoningHead) -> Iterator[IterativeReasoningHead]:
    """``head`` giving its paper fusion (its gate taken out) while the context lasts."""
    gate = head.fallback
    head.fallback = None
    try:
        yield head
    finally:
        head.fallback = gate


def _head_losses(
    model: DetectionModel,
    train_part: Subset[Any],
    held_out: Subset[Any],
    test: Any,
    config: DetectionDemoConfig,
) -> dict[str, float]:
    """The head's loss (``loss_reasoning``) on as many training images as the held-out split
    has, on the held-out split and on the test images: how far the head overfits."""
    seen = Subset(held_out.dataset, train_part.indices[: len(held_out)])
    model.train()
    return {
        name: validation_loss(model, dataset, batch_size=config.head.batch_size)["loss"]
        for name, dataset in (("train", seen), ("held out", held_out), ("test", test))
    }


def _sweep(
    config: DetectionDemoConfig,
    detector: Any,
    with_head: DetectionModel,
    test: Any,
    out: Path,
    progress: bool,
) -> dict[str, dict[str, Any]]:
    """The head evaluated at each number of reasoned boxes of ``config.sweep``."""
    sweep: dict[str, dict[str, Any]] = {}
    if config.sweep and config.family != "faster_rcnn":
        raise ValueError("the sweep over reasoned boxes is Faster R-CNN's")
    for boxes in config.sweep:
        detector.roi_heads.reasoned_boxes = boxes
        folder = out / "sweep" / f"reasoned_{boxes or 'all'}"
        start = time.perf_counter()
        evaluate_detection(with_head, test, output_dir=folder, progress=progress)
        sweep[str(boxes or "all")] = {
            "seconds": time.perf_counter() - start,
            **json.loads((folder / "metrics.json").read_text()),
        }
    if config.sweep:
        detector.roi_heads.reasoned_boxes = config.reasoned_boxes
    return sweep


@dataclass
class DetectionSeedsResult:
    """What :func:`run_detection_seeds` measured.

    Attributes:
        runs: each seed's :class:`DetectionDemoResult`.
        table: mean and spread over the seeds of each row, and each seed's differences.
    """

    runs: dict[int, DetectionDemoResult]
    table: str


def run_detection_seeds(
    output_dir: str | os.PathLike[str],
    config: DetectionDemoConfig | None = None,
    seeds: int = 2,
    **options: Any,
) -> DetectionSeedsResult:
    """:func:`run_detection_demo` for seeds ``0 .. seeds - 1`` (:meth:`DetectionDemoConfig.
    seeded`) into ``output_dir/seed-<k>``, and the table of mean ± standard deviation over
    them (``summary.txt``, ``summary.json``); every seed resumes as one run does."""
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        raise ValueError(f"seeds must be a positive integer, got {seeds!r}")
    config = config or DetectionDemoConfig()
    out = Path(output_dir)
    runs = {
        seed: run_detection_demo(out / f"seed-{seed}", config.seeded(seed), **options)
        for seed in range(seeds)
    }
    table = format_seeds_table(
        {seed: run.metrics for seed, run in runs.items()},
        {seed: run.category_sets for seed, run in runs.items()},
    )
    out.mkdir(parents=True, exist_ok=True)
    write_atomic(out / "summary.txt", table + "\n")
    summary = {
        str(seed): {"metrics": run.metrics, "head_loss": run.head_loss, "gate": run.gate}
        for seed, run in runs.items()
    }
    write_atomic(out / "summary.json", json.dumps(summary, indent=2) + "\n")
    return DetectionSeedsResult(runs, table)


def format_seeds_table(
    per_seed: dict[int, dict[str, dict[str, Any]]],
    sets: dict[int, dict[str, list[str]]] | None = None,
) -> str:
    """Mean ± standard deviation over the seeds of mAP, AP50, AP75 and the mean AP of each
    group of categories of each row (each seed's own :func:`category_sets`; by default the
    easy tier's look-alike and other categories), then each row's difference from the
    detector on every seed."""
    default = {"look-alike": list(LOOK_ALIKE), "others": list(OTHERS)}
    sets = sets or {}
    groups = tuple(next(iter(sets.values()), default))
    columns = ("mAP", "AP50", "AP75", *groups)
    values: dict[str, list[tuple[float, ...]]] = {}
    for seed, metrics in per_seed.items():
        for name, m in metrics.items():
            values.setdefault(name, []).append(_summary_values(m["bbox"], sets.get(seed, default)))
    rows = [["model", *columns]]
    for name, seen in values.items():
        rows.append([name, *(_spread([v[i] for v in seen]) for i in range(len(columns)))])
    lines = [f"mean ± std over {len(per_seed)} seed(s)", *aligned(rows)]
    for name in values:
        if name == "detector" or "detector" not in values:
            continue
        gains = []
        for seed, metrics in per_seed.items():
            chosen = sets.get(seed, default)
            now = _summary_values(metrics[name]["bbox"], chosen)
            then = _summary_values(metrics["detector"]["bbox"], chosen)
            parts = [f"mAP {now[0] - then[0]:+.1f}"]
            parts += [f"{g} {now[3 + k] - then[3 + k]:+.1f}" for k, g in enumerate(groups)]
            gains.append(f"seed {seed}: " + ", ".join(parts))
        lines.append(f"{name} - detector: " + "; ".join(gains))
    return "\n".join(lines)


def _summary_values(box: dict[str, Any], sets: dict[str, list[str]]) -> tuple[float, ...]:
    per = box["ap_of"]
    means = (_mean_ap(per, tuple(names)) for names in sets.values())
    return (box["ap"], box["ap50"], box["ap75"], *means)


def _spread(values: list[float]) -> str:
    if len(values) < 2:
        return f"{values[0]:.1f}"
    return f"{statistics.mean(values):.1f} ± {statistics.stdev(values):.1f}"


def _build_detector(config: DetectionDemoConfig, num_classes: int) -> torch.nn.Module:
    """The benchmark's detector, untrained: ``num_classes`` with background."""
    if config.family == "rt_detr":
        return small_rt_detr(num_classes - 1, width=2 * config.width)
    if config.family == "yolo":
        return small_yolo(num_classes - 1)
    return small_faster_rcnn(
        num_classes, config.width, box_batch_size_per_image=config.batch_size_per_image
    )


def format_detection_table(
    metrics: dict[str, dict[str, Any]], sets: dict[str, list[str]] | None = None
) -> str:
    """The comparison: mAP, AP50 and the mean AP of each group of categories of ``sets``
    (:func:`category_sets`; by default the easy tier's look-alike categories and the others,
    then the AP of each look-alike category), over those the test images hold, one row per
    model; a line under it gives the differences."""
    easy = sets is None or list(sets) == ["look-alike", "others"]
    sets = sets or {"look-alike": list(LOOK_ALIKE), "others": list(OTHERS)}
    each = LOOK_ALIKE if easy else ()
    rows = [["model", "mAP", "AP50", *sets, *each]]
    summary = {}
    for name, m in metrics.items():
        box = m["bbox"]
        per = box["ap_of"]
        means = [_mean_ap(per, tuple(names)) for names in sets.values()]
        summary[name] = (box["ap"], *means)
        cells = [f"{box['ap']:.1f}", f"{box['ap50']:.1f}", *(f"{v:.1f}" for v in means)]
        rows.append([name, *cells, *(f"{per.get(c, float('nan')):.1f}" for c in each)])
    lines = aligned(rows)
    labels = [f"{g} categories" if g == "look-alike" else g for g in sets]
    said = {"paper fusion": "with the paper fusion", "with head": "with the head"}
    for name in summary:
        if name == "detector" or "detector" not in summary:
            continue
        before, after = summary["detector"], summary[name]
        gains = ", ".join(
            f"{label} {after[1 + k] - before[1 + k]:+.1f}" for k, label in enumerate(labels)
        )
        lines.append(
            f"{said.get(name, name)}: mAP {after[0] - before[0]:+.1f}, {gains} "
            "(COCO AP, IoU 0.50:0.95, percent)"
        )
    return "\n".join(lines)


def format_head_loss(head_loss: dict[str, float]) -> str:
    """The head's loss on training, held-out and test images, in one line."""
    shown = ", ".join(f"{name} {value:.3f}" for name, value in head_loss.items())
    return f"the head's loss (paper fusion, before the gate): {shown}"


def format_sweep_table(
    sweep: dict[str, dict[str, Any]],
    detector_seconds: float,
    sets: dict[str, list[str]] | None = None,
) -> str:
    """The trade-off: for each number of reasoned boxes, mAP, the mean AP of the look-alike
    categories and of the others (of ``sets``, by default the easy tier's), and the
    evaluation time over the plain detector's."""
    sets = sets or {"look-alike": list(LOOK_ALIKE), "others": list(OTHERS)}
    lines = ["reasoned boxes   mAP  look-alike  others  time / detector's"]
    for boxes, m in sweep.items():
        per = m["bbox"]["ap_of"]
        look = _mean_ap(per, tuple(sets["look-alike"]))
        others = _mean_ap(per, tuple(sets["others"]))
        ratio = m["seconds"] / detector_seconds
        lines.append(
            f"{boxes:>14}  {m['bbox']['ap']:4.1f}  {look:10.1f}  {others:6.1f}  {ratio:17.2f}x"
        )
    return "\n".join(lines)


def _mean_ap(ap_of: dict[str, float], names: tuple[str, ...]) -> float:
    """The mean AP of the categories of ``names`` that the test images hold (NaN if none)."""
    present = [ap_of[name] for name in names if name in ap_of]
    return sum(present) / len(present) if present else float("nan")
