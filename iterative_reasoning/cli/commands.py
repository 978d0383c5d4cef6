"""The commands of ``iterative-reasoning``: argument parsing done, each builds its run through
:mod:`iterative_reasoning.recipes` and runs it."""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from iterative_reasoning import recipes
from iterative_reasoning.cli.parser import (
    RUN_RECORD,
    lexicon,
    positive_int,
    recorded_run,
    run_record,
    run_spec,
)
from iterative_reasoning.demos.classification import DemoConfig, run_demo
from iterative_reasoning.demos.detection import (
    DetectionDemoConfig,
    format_head_loss,
    run_detection_demo,
    run_detection_seeds,
)
from iterative_reasoning.demos.hard import HardBenchmarkConfig, run_hard_benchmark
from iterative_reasoning.engine import (
    close_distributed,
    evaluate_detection,
    init_distributed,
    load_checkpoint,
    process_group,
)
from iterative_reasoning.engine import evaluate as evaluate_model
from iterative_reasoning.engine import train as train_model
from iterative_reasoning.engine.checkpoint import load_model_state
from iterative_reasoning.engine.config import TrainConfig
from iterative_reasoning.engine.hooks import Hook
from iterative_reasoning.engine.lock import RunDirectoryLock
from iterative_reasoning.engine.state import seed_everything
from iterative_reasoning.engine.validation import ValidationHook, check_fraction, validation_split
from iterative_reasoning.metrics.diagnosis import diagnose_run, format_diagnosis
from knowledge_graphs.files import write_atomic


def demo(args: argparse.Namespace) -> int:
    """``demo``: the paper's Table 1 on the synthetic benchmark (its hard tier over seeds), or
    a detector with and without the head."""
    start = time.perf_counter()
    if not math.isfinite(args.scale) or args.scale <= 0:
        raise ValueError(f"--scale must be a positive number, got {args.scale}")
    options: dict[str, Any] = {"progress": not args.quiet, "figures": not args.no_figures}
    options["lexicon"] = lexicon(args)
    if args.task == "detection":
        if args.models is not None:
            raise ValueError("--models goes with --task classification (detection: one head)")
        return _detection_demo(args, options, start)
    for flag, value in (
        ("--reasoned-boxes", args.reasoned_boxes),
        ("--fusion", args.fusion),
        ("--gate-fit", args.gate_fit),
        ("--validation-fraction", args.validation_fraction),
    ):
        if value is not None:
            raise ValueError(f"{flag} goes with --task detection")
    if args.detector != "faster_rcnn":
        raise ValueError("--detector goes with --task detection")
    if args.benchmark == "hard":
        return _hard_demo(args, options, start)
    if args.benchmark == "long_tail":
        raise ValueError("--benchmark long_tail is a detection benchmark: give --task detection")
    if args.seeds is not None:
        raise ValueError("--seeds goes with --benchmark hard or --task detection")

    config = DemoConfig(head_size=args.head_size)
    if args.models is not None:
        config = replace(config, models=tuple(args.models))
    config = config.scaled(args.scale) if args.scale != 1.0 else config
    result = run_demo(
        args.output_dir or _sized(Path("runs/demo"), args.head_size), config, **options
    )
    return _report(result.table, result.figures, result.seconds, start)


def _detection_demo(args: argparse.Namespace, options: dict[str, Any], start: float) -> int:

    if args.benchmark == "hard":
        raise ValueError("--benchmark hard goes with --task classification")
    seeds = 1 if args.seeds is None else args.seeds
    if seeds < 1:
        raise ValueError(f"--seeds must be positive, got {seeds}")
    config = DetectionDemoConfig.for_family(args.detector, args.benchmark)
    config = replace(config, head_size=args.head_size)
    if args.fusion is not None:
        config = replace(config, fusion=args.fusion)
    if args.gate_fit is not None:
        config = replace(config, gate_fit=args.gate_fit)
    if args.validation_fraction is not None:
        config = replace(config, validation_fraction=_fraction(args.validation_fraction))
    config = config.scaled(args.scale) if args.scale != 1.0 else config
    if args.reasoned_boxes:
        sweep = [None if k == "all" else positive_int(k) for k in args.reasoned_boxes]
        config = replace(config, sweep=tuple(sweep))
    tier = "detection" if args.benchmark == "easy" else args.benchmark
    default = f"runs/demo-{tier}" + ("" if args.detector == "faster_rcnn" else f"-{args.detector}")
    output_dir = args.output_dir or _sized(Path(default), args.head_size)
    if seeds > 1:
        seeded = run_detection_seeds(output_dir, config, seeds, **options)
        for seed, run in seeded.runs.items():
            print(f"seed {seed}\n{run.table}\n")
        print(seeded.table)
        print(f"total {time.perf_counter() - start:.0f} s")
        return 0
    result = run_detection_demo(output_dir, config, **options)
    return _report(result.table, result.figures, result.seconds, start)


def _sized(output_dir: Path, head_size: str) -> Path:
    """The demo's default folder for heads of ``head_size`` (the paper's: as it is)."""
    return (
        output_dir
        if head_size == "paper"
        else output_dir.with_name(f"{output_dir.name}-{head_size}")
    )


def _fraction(value: float) -> float:

    return check_fraction("--validation-fraction", value)


def _hard_demo(args: argparse.Namespace, options: dict[str, Any], start: float) -> int:

    seeds = 3 if args.seeds is None else args.seeds
    if seeds < 1:
        raise ValueError(f"--seeds must be positive, got {seeds}")
    config = HardBenchmarkConfig(seeds=seeds)
    config = replace(config, demo=replace(config.demo, head_size=args.head_size))
    if args.models is not None:
        config = replace(config, demo=replace(config.demo, models=tuple(args.models)))
    if args.scale != 1.0:
        config = replace(config, demo=config.demo.scaled(args.scale))
    output_dir = args.output_dir or _sized(Path("runs/demo-hard"), args.head_size)
    result = run_hard_benchmark(output_dir, config, **options)
    print("\n\n".join(result.tables))
    for figure in result.figures:
        print(f"wrote {figure}")
    timed = ", ".join(f"seed {k} {v:.0f} s" for k, v in result.wall_seconds.items())
    print(f"{timed}; total {time.perf_counter() - start:.0f} s")
    return 0


def _report(table: str, figures: list[Path], seconds: dict[str, float], start: float) -> int:
    print(table)
    for figure in figures:
        print(f"wrote {figure}")
    timed = ", ".join(f"{k} {v:.0f} s" for k, v in seconds.items())
    print(f"seconds: {timed}; total {time.perf_counter() - start:.0f} s")
    return 0


def train(args: argparse.Namespace) -> int:
    """``train``: the run of the options (its schedule the dataset's unless given), resumed
    when its directory holds a checkpoint."""
    device = init_distributed()
    rank, _ = process_group()
    spec = run_spec(args)
    if args.freeze_convnet and args.init_convnet is None and args.detector_weights is None:
        raise ValueError(
            "--freeze-convnet needs --init-convnet (a trained ConvNet), or for a detector "
            "--detector-weights (its own trained weights)"
        )
    if args.validation_fraction is not None:
        _fraction(args.validation_fraction)
    overrides = {
        name: getattr(args, name)
        for name in TrainConfig.__dataclass_fields__
        if getattr(args, name, None) is not None
    }
    config = replace(recipes.default_schedule(spec, frozen=args.freeze_convnet), **overrides)
    if not args.no_resume:
        _check_same_run(args)
    # the run directory is this process's from the data it writes to the last checkpoint
    lock = RunDirectoryLock(args.output_dir) if rank == 0 else contextlib.nullcontext()
    with lock:
        history = _train(args, spec, config, rank, device)
    if rank == 0:
        if history:
            print(
                f"trained {len(history)} steps, to step {config.steps}; checkpoint in "
                f"{args.output_dir}"
            )
        else:
            print(
                f"nothing to train: the checkpoint in {args.output_dir} is at step "
                f"{config.steps} or beyond (give a larger --steps to train on)"
            )
    close_distributed()
    return 0


#: The options that say what a run trains: a run directory holds one such run.
RUN_IDENTITY = (
    "task",
    "dataset",
    "model",
    "detector",
    "detector_weights",
    "benchmark",
    "train_on",
    "head_size",
)


def _check_same_run(args: argparse.Namespace) -> None:
    """Raise when the run directory's ``run.json`` records another run than ``args`` (another
    ``--model``, dataset, detector...), which its checkpoint cannot continue."""
    try:
        recorded = run_record(args.output_dir)
    except (FileNotFoundError, ValueError):
        return  # no record, or not ours to judge: the checkpoint's own check follows
    given = vars(args)
    changed = [
        f"--{name.replace('_', '-')} {recorded[name]} there, {given[name]} now"
        for name in RUN_IDENTITY
        if name in recorded and name in given and str(recorded[name]) != str(given[name])
    ]
    if changed:
        raise ValueError(
            f"{args.output_dir} holds another run ({'; '.join(changed)}; see its run.json): "
            "give another --output-dir, or --no-resume to start afresh there"
        )


def _train(
    args: argparse.Namespace, spec: Any, config: Any, rank: int, device: Any
) -> list[dict[str, float]]:
    """The run of ``train`` once the run directory is held: data, model, training."""
    seed_everything(config.seed)  # model construction too: --seed makes the whole run repeat
    run = recipes.setup(spec, "train")
    model = run.model
    if args.init_convnet is not None:
        recipes.load_convnet(model, args.init_convnet)
    if args.freeze_convnet:
        model = recipes.frozen(model)

    dataset, hooks = _held_out(args, spec, run.dataset, config)
    return train_model(
        model,
        dataset,
        config,
        args.output_dir,
        resume=not args.no_resume,
        device=device,
        progress=not args.quiet,
        adopt_schedule=args.adopt_schedule,
        hooks=[_RecordRun(args, config, rank), *hooks],
    )


class _RecordRun(Hook):
    """``run.json``: what this command runs, written once the run is known to start (its
    checkpoint, if any, accepted) and to train something."""

    def __init__(self, args: argparse.Namespace, config: Any, rank: int) -> None:
        self.args, self.config, self.rank = args, config, rank

    def start(self, run: Any) -> None:
        start = run.state.step
        if self.rank != 0 or start >= self.config.steps:
            return
        arguments = {k: str(v) if isinstance(v, Path) else v for k, v in vars(self.args).items()}
        payload = {"args": arguments, "config": self.config.__dict__, "start_step": start}
        write_atomic(self.args.output_dir / RUN_RECORD, json.dumps(payload, indent=2, default=str))


def _held_out(args: argparse.Namespace, spec: Any, dataset: Any, config: Any) -> tuple[Any, list]:
    """The images to train on and the validation hook: ``--validation-fraction`` of the
    training images held out (seed 0), 0.1 by default for a head on a frozen detector."""

    fraction = args.validation_fraction
    if fraction is None and spec.task == "detection" and args.freeze_convnet:
        fraction = 0.1
    if fraction is None:
        return dataset, []
    train_part, held_out = validation_split(dataset, _fraction(fraction), seed=0)
    every = min(config.checkpoint_every, config.steps)
    return train_part, [ValidationHook(held_out, every, config.batch_size)]


def evaluate(args: argparse.Namespace) -> int:
    """``evaluate``: the run's checkpoint on a split (``metrics.json``)."""
    spec = run_spec(args)
    split = args.split or spec.test_split
    run = recipes.setup(spec, split)
    state = load_checkpoint(args.output_dir)
    if state is None:
        raise FileNotFoundError(f"no checkpoint in {args.output_dir} (train first)")
    load_model_state(run.model, state, args.output_dir)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    if args.task == "detection":
        found = evaluate_detection(
            run.model,
            run.dataset,  # type: ignore[arg-type]
            output_dir=args.output_dir,
            device=device,
            progress=True,
        )
        for iou_type, numbers in found.items():
            shown = {k: round(v, 2) for k, v in numbers.as_percent().items() if k != "ap_of"}
            print(iou_type, json.dumps(shown))
    else:
        metrics = evaluate_model(
            run.model,
            run.dataset,
            output_dir=args.output_dir,
            device=device,
            progress=True,
        )
        print(json.dumps({k: round(v, 2) for k, v in metrics.as_percent().items()}))
    print(f"wrote {args.output_dir / 'metrics.json'}")
    return 0


def export(args: argparse.Namespace) -> int:
    """``export``: the head of a trained run as an artifact
    (:meth:`~iterative_reasoning.nn.IterativeReasoningHead.save_pretrained`), with the run's
    class names and class graph."""
    recorded = recorded_run(args.output_dir)
    recorded.quiet = True
    state = load_checkpoint(args.output_dir)
    if state is None:
        raise FileNotFoundError(f"no checkpoint in {args.output_dir} (train first)")
    run = recipes.setup(run_spec(recorded), "train")
    load_model_state(run.model, state, args.output_dir)
    head = run.model.head
    if head is None:
        raise ValueError(f"the run in {args.output_dir} has no head to export (--model baseline)")
    head.save_pretrained(args.to, classes=run.classes, class_graph=run.graph)
    print(
        f"wrote {args.to} (the {recorded.model} head of step {state['step']}: "
        f"{', '.join(sorted(p.name for p in args.to.iterdir()))})"
    )
    return 0


def diagnose(args: argparse.Namespace) -> int:
    """``diagnose``: a detection demo's detections before and after the head, compared
    detection by detection (:mod:`~iterative_reasoning.metrics.diagnosis`), with the head's
    loss on training, held-out and test images."""

    run: Path = args.run
    annotations = run / "data" / "annotations" / "instances_test.json"
    files = [annotations, run / "detector" / "detections.json"]
    files.append(run / args.after / "detections.json")
    for path in files:
        if not path.is_file():
            raise FileNotFoundError(
                f"{path} is missing: give the output directory of a finished "
                "'iterative-reasoning demo --task detection' run (or one of its seed-K folders)"
            )
    report = diagnose_run(*files)
    results = run / "results.json"
    if results.is_file():
        saved = json.loads(results.read_text())
        report["head_loss"] = saved.get("head_loss", {})
        report["gate"] = saved.get("gate", {})
    print(f"{run}: detector -> {args.after}")
    print(format_diagnosis(report))
    if report.get("head_loss"):
        print(format_head_loss(report["head_loss"]))
    if report.get("gate"):
        shown = ", ".join(f"{k} {v:+.2f}" for k, v in report["gate"].items())
        print(f"fallback gate: {shown}")
    if args.json is not None:
        write_atomic(args.json, json.dumps(report, indent=2) + "\n")
    return 0
