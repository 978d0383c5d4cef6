"""The options of ``iterative-reasoning``, and the :class:`~iterative_reasoning.recipes.RunSpec`
they describe."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from iterative_reasoning.data.graphs import GRAPH_RELATIONS
from iterative_reasoning.data.synthetic import BENCHMARKS
from iterative_reasoning.detectors.torchvision import DEFAULT_REASONED_BOXES
from iterative_reasoning.engine.config import PRECISIONS
from iterative_reasoning.engine.fallback import GATE_FITS
from iterative_reasoning.models.builders import DETECTORS
from iterative_reasoning.nn.fallback import FUSIONS
from iterative_reasoning.nn.reasoning_head import HEAD_SIZES, MODELS
from iterative_reasoning.recipes import DATASETS, TASKS, RunSpec
from iterative_reasoning.recipes.synthetic import FAMILIES
from knowledge_graphs.wordnet import load_wordnet

#: ``--model``: the plain ConvNet, or a head of the paper's tables.
MODEL_CHOICES = ("baseline", *MODELS)


def parser(description: str) -> argparse.ArgumentParser:
    """``iterative-reasoning demo|train|evaluate``."""
    main = argparse.ArgumentParser(prog="iterative-reasoning", description=description)
    commands = main.add_subparsers(dest="command", required=True)
    _demo(
        commands.add_parser(
            "demo",
            help="train the plain ConvNet and the local, global and final models on the "
            "synthetic benchmark; print the table; draw the iterations and the training curves",
        )
    )
    for name in ("train", "evaluate"):
        _run(commands.add_parser(name, help=f"{name} one model on a dataset"))
    _schedule(commands.choices["train"])
    commands.choices["evaluate"].add_argument(
        "--split", help="the split to evaluate (default: mtest, test)"
    )
    _export(
        commands.add_parser(
            "export",
            help="write a trained run's head as a shareable artifact (model.safetensors and "
            "config.json; IterativeReasoningHead.from_pretrained reads it)",
        )
    )
    _diagnose(
        commands.add_parser(
            "diagnose",
            help="where the head moves a detector's COCO AP: a detection demo's detections "
            "before and after the head compared detection by detection",
        )
    )
    return main


def _export(export: argparse.ArgumentParser) -> None:
    export.add_argument(
        "--output-dir",
        type=Path,
        required=True,
        help="the run directory (iterative-reasoning train)",
    )
    export.add_argument("--to", type=Path, required=True, help="the artifact's directory")


#: Where ``iterative-reasoning train`` records what it runs, in the run directory.
RUN_RECORD = "run.json"


def run_record(output_dir: Path) -> dict[str, Any]:
    """The options ``iterative-reasoning train`` recorded in ``output_dir/run.json``.

    Raises:
        FileNotFoundError: no record there.
        ValueError: a file that is not such a record.
    """
    path = output_dir / RUN_RECORD
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing: give the output directory of an 'iterative-reasoning train' run"
        )
    try:
        recorded = json.loads(path.read_text(encoding="utf-8"))["args"]
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(f"{path}: not the record of a run ({error})") from None
    if not isinstance(recorded, dict) or not {"dataset", "model"} <= recorded.keys():
        raise ValueError(f"{path}: not the record of a run (no dataset and model)")
    return recorded


def recorded_run(output_dir: Path) -> argparse.Namespace:
    """The options of the run in ``output_dir`` (:func:`run_record`), over the defaults of
    today's options (a run recorded before an option existed gets its default)."""
    recorded = run_record(output_dir)
    args = _train_options().parse_args(
        ["--dataset", recorded["dataset"], "--model", recorded["model"], "--output-dir", "."]
    )
    for name, value in recorded.items():
        if hasattr(args, name):
            setattr(args, name, value)
    for name in ("output_dir", "root", "annotations", "split_file", "init_convnet"):
        value = getattr(args, name)
        setattr(args, name, Path(value) if value is not None else None)
    args.output_dir = output_dir
    return args


def _train_options() -> argparse.ArgumentParser:
    """A parser of ``train``'s options alone (and so of their defaults)."""
    command = argparse.ArgumentParser()
    _run(command)
    _schedule(command)
    return command


def _diagnose(diagnose: argparse.ArgumentParser) -> None:
    diagnose.add_argument(
        "run", type=Path, help="a detection demo's output directory (or one seed's of it)"
    )
    diagnose.add_argument(
        "--after",
        default="with_head",
        help="the folder of the detections after the head: with_head (default) or paper_fusion",
    )
    diagnose.add_argument("--json", type=Path, help="also write the report here")


def run_spec(args: argparse.Namespace) -> RunSpec:
    """The run of ``train`` or ``evaluate``."""
    reasoned = None if args.reasoned_boxes == "all" else positive_int(args.reasoned_boxes)
    return RunSpec(
        dataset=args.dataset,
        model=args.model,
        output_dir=args.output_dir,
        task=args.task,
        root=args.root,
        annotations=args.annotations,
        graph=Path(args.graph) if args.graph else None,
        graph_relations=args.graph_relations,
        shipped_graph=args.shipped_graph,
        lexicon=lexicon(args),
        write_masks=args.write_masks,
        num_images=args.num_images,
        num_test_images=args.num_test_images,
        benchmark=args.benchmark,
        min_count=args.min_count,
        split_file=args.split_file,
        min_size=args.min_size,
        weights=args.weights,
        detector=args.detector,
        detector_weights=args.detector_weights,
        reasoned_boxes=reasoned,
        train_on=args.train_on,
        head_size=args.head_size,
        progress=not getattr(args, "quiet", False),
    )


def _coco(args: argparse.Namespace) -> bool:
    return bool(args.dataset == "coco")


def _own_graph(args: argparse.Namespace) -> bool:
    return args.model != "baseline" and not args.graph


#: The options of ``train`` and ``evaluate`` that apply to some runs only: option -> (the runs
#: it applies to, in words; whether it applies to ``args``).
ONLY_FOR: dict[str, tuple[str, Any]] = {
    "detector": ("--task detection", lambda a: a.task == "detection"),
    "detector_weights": ("--task detection", lambda a: a.task == "detection"),
    "reasoned_boxes": ("--task detection", lambda a: a.task == "detection"),
    "train_on": ("--task detection", lambda a: a.task == "detection"),
    "annotations": ("--dataset coco", _coco),
    "write_masks": ("--dataset coco", _coco),
    "num_images": ("--dataset synthetic", lambda a: a.dataset == "synthetic"),
    "num_test_images": ("--dataset synthetic", lambda a: a.dataset == "synthetic"),
    "benchmark": ("--dataset synthetic", lambda a: a.dataset == "synthetic"),
    "min_count": ("--dataset visual_genome", lambda a: a.dataset == "visual_genome"),
    "split_file": ("--dataset visual_genome", lambda a: a.dataset == "visual_genome"),
    "graph": ("a model with a head (not --model baseline)", lambda a: a.model != "baseline"),
    "head_size": ("a model with a head (not --model baseline)", lambda a: a.model != "baseline"),
    "graph_relations": ("a head's own class graph (not --model baseline or --graph)", _own_graph),
    "shipped_graph": ("a head's own class graph (not --model baseline or --graph)", _own_graph),
    "adopt_schedule": ("a resumed run (not --no-resume)", lambda a: not a.no_resume),
}


def flags_without_effect(args: argparse.Namespace) -> str | None:
    """The first option of ``train`` or ``evaluate`` given (other than its default) to a run it
    does not apply to, in words; ``None`` when every option given applies."""
    command = _train_options()
    for name, (where, applies) in ONLY_FOR.items():
        if not hasattr(args, name) or getattr(args, name) == command.get_default(name):
            continue
        if not applies(args):
            return f"--{name.replace('_', '-')} applies to {where} only; this run has no use for it"
    return None


def lexicon(args: argparse.Namespace) -> Any:
    """The WordNet of ``--wordnet`` (``None``: found offline when a graph needs it)."""

    return load_wordnet(args.wordnet) if getattr(args, "wordnet", None) else None


def positive_int(text: str) -> int:
    """``--reasoned-boxes``: a positive number."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"--reasoned-boxes must be a positive integer or 'all', got {text!r}")
    return value


def _demo(demo: argparse.ArgumentParser) -> None:
    demo.add_argument(
        "--task",
        choices=TASKS,
        default="classification",
        help="the paper's Table 1 (default), or a detector with and without the head, "
        "scored with COCO's metrics",
    )
    demo.add_argument(
        "--detector",
        choices=FAMILIES,
        default="faster_rcnn",
        help="detection: a torchvision Faster R-CNN (default), a transformers RT-DETR (the "
        "[transformers] extra) or an ultralytics YOLOv8n (AGPL-3.0, installed by you)",
    )
    demo.add_argument(
        "--output-dir",
        type=Path,
        help="default: runs/demo (runs/demo-detection with detection, "
        "runs/demo-detection-DETECTOR with another --detector, runs/demo-hard; '-light' "
        "added with --head-size light)",
    )
    demo.add_argument(
        "--scale", type=float, default=1.0, help="multiply the steps and images (e.g. 0.1)"
    )
    demo.add_argument("--no-figures", action="store_true")
    demo.add_argument(
        "--reasoned-boxes",
        nargs="+",
        metavar="K",
        help="detection: also evaluate the head reasoning over K proposals per image (or "
        "'all'), for the accuracy / time trade-off",
    )
    demo.add_argument(
        "--benchmark",
        choices=BENCHMARKS,
        default="easy",
        help="classification: the synthetic benchmark's tier; 'hard' prints the main and "
        "ablation tables over --seeds seeds beside the ceiling (runs/demo-hard); detection: "
        "'long_tail', rare look-alikes told apart by a class graph mined from an "
        "annotation-only corpus (runs/demo-long_tail[-DETECTOR])",
    )
    demo.add_argument(
        "--seeds",
        type=int,
        help="seeds to average: with --benchmark hard (3 by default), or with --task "
        "detection (1 by default: seed 0 into the output directory; more: seed-K folders "
        "in it and the mean and spread)",
    )
    demo.add_argument(
        "--models",
        nargs="+",
        choices=MODELS,
        help="classification: the heads to train beside the plain ConvNet (default: the "
        "paper's rows, and with --benchmark hard its ablations too)",
    )
    demo.add_argument(
        "--fusion",
        choices=FUSIONS,
        help="detection: the head's output, the detector's prediction plus the head's change "
        "through a gate fitted on held-out images (residual, the default), or the paper's "
        "attention fusion (paper)",
    )
    demo.add_argument(
        "--gate-fit",
        choices=GATE_FITS,
        help="detection, residual fusion: fit the fallback gate by each class's COCO AP on the "
        "held-out images (ap, the default) or by its cross-entropy there (loss)",
    )
    demo.add_argument(
        "--validation-fraction",
        type=float,
        help="detection: the share of the training images held out from the head's training "
        "(its validation loss and the fallback gate's fit; 0.1)",
    )
    demo.add_argument(
        "--head-size",
        choices=tuple(HEAD_SIZES),
        default="paper",
        help="every head's widths: the paper's (default) or the light head's; a light run "
        "goes into its own folder (runs/demo-light, runs/demo-hard-light, "
        "runs/demo-detection-light...)",
    )
    demo.add_argument("--quiet", action="store_true", help="no progress bars")
    demo.add_argument("--wordnet", help="a WordNet 3.0 dictionary directory")


def _run(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--dataset", required=True, choices=DATASETS)
    sub.add_argument(
        "--task",
        choices=TASKS,
        default="classification",
        help="classify given boxes (the paper), or detect with a torchvision detector "
        "(--dataset coco or synthetic)",
    )
    detection = sub.add_argument_group("detection (--task detection)")
    detection.add_argument(
        "--detector",
        choices=DETECTORS,
        help="torchvision detector (default: fasterrcnn_resnet50_fpn; synthetic: small)",
    )
    detection.add_argument(
        "--detector-weights",
        metavar="NAME",
        help="the torchvision detector's own weights by their name in its weights enum (e.g. "
        "DEFAULT or COCO_V1: trained on COCO, 91 outputs), downloaded once by torchvision; "
        "the data's categories are matched to the outputs by name (with --freeze-detector "
        "the head trains alone on it)",
    )
    detection.add_argument(
        "--reasoned-boxes",
        default=str(DEFAULT_REASONED_BOXES),
        help="proposals per image the head reasons over at inference (top by the detector's "
        f"score), or 'all' (default {DEFAULT_REASONED_BOXES})",
    )
    detection.add_argument(
        "--train-on",
        choices=("proposals", "ground_truth"),
        default="proposals",
        help="train the head on the sampled proposals (default) or the ground-truth boxes",
    )
    sub.add_argument(
        "--root",
        type=Path,
        help="the dataset directory (COCO: the image folder; synthetic: where the benchmark "
        "is written, default OUTPUT_DIR/data)",
    )
    sub.add_argument(
        "--annotations",
        type=Path,
        help="COCO: the annotation file of the split (training file to train, test file to "
        "evaluate)",
    )
    sub.add_argument("--model", required=True, choices=MODEL_CHOICES)
    sub.add_argument(
        "--head-size",
        choices=tuple(HEAD_SIZES),
        default="paper",
        help="the head's widths: the paper's (default) or the light head's (half the memory "
        "and graph widths, a quarter of the FC width, T = 2)",
    )
    sub.add_argument("--output-dir", type=Path, required=True, help="checkpoints, logs, metrics")
    _graph(sub)
    sub.add_argument("--wordnet", help="a WordNet 3.0 dictionary directory")
    sub.add_argument(
        "--write-masks",
        action="store_true",
        help="COCO: the memory writes through the instance masks instead of the boxes",
    )
    sub.add_argument("--num-images", type=int, default=800, help="synthetic: training images")
    sub.add_argument("--num-test-images", type=int, default=200, help="synthetic: test images")
    sub.add_argument("--benchmark", choices=BENCHMARKS, default="easy", help="synthetic: the tier")
    sub.add_argument("--min-count", type=int, default=5, help="Visual Genome: least objects")
    sub.add_argument("--split-file", type=Path, help="Visual Genome: a split file of one's own")
    sub.add_argument(
        "--min-size", type=int, default=600, help="the short side after resizing (600)"
    )
    sub.add_argument(
        "--weights",
        default="IMAGENET1K_V1",
        help="ResNet-50 weights through torchvision's weights API, or 'none'",
    )
    sub.add_argument("--quiet", action="store_true", help="no progress bar")


def _graph(sub: argparse.ArgumentParser) -> None:
    sub.add_argument(
        "--graph",
        help="a class graph file (knowledge-graphs build); default: the run's own, built once "
        "into the run directory",
    )
    sub.add_argument(
        "--graph-relations",
        choices=GRAPH_RELATIONS,
        default="both",
        help="the relations of the run's class graph, built once into the run directory: "
        "WordNet's, those mined from the training annotations (box co-occurrence and places; "
        "ADE20K's annotated part-of; Visual Genome's predicates and attributes), or both "
        "(default)",
    )
    sub.add_argument(
        "--shipped-graph",
        action="store_true",
        help="ADE20K, COCO's 80 categories: the shipped WordNet-only graph instead",
    )


def _schedule(train: argparse.ArgumentParser) -> None:
    schedule = train.add_argument_group("schedule (defaults: the paper's, per dataset)")
    schedule.add_argument("--steps", type=int)
    schedule.add_argument("--batch-size", type=int, help="images per step, over all processes")
    schedule.add_argument("--lr", type=float)
    schedule.add_argument("--lr-steps", type=int, nargs="*")
    schedule.add_argument("--weight-decay", type=float)
    schedule.add_argument("--momentum", type=float)
    schedule.add_argument("--seed", type=int)
    schedule.add_argument("--checkpoint-every", type=int)
    schedule.add_argument("--log-every", type=int)
    schedule.add_argument(
        "--precision",
        choices=PRECISIONS,
        help="float32 (default), or mixed precision: bfloat16 (CPU or GPU), float16 (GPU)",
    )
    schedule.add_argument(
        "--num-workers",
        type=int,
        help="processes that read the images (default: 4 on a GPU, none on the CPU)",
    )
    train.add_argument(
        "--no-resume", action="store_true", help="start afresh even if a checkpoint exists"
    )
    train.add_argument(
        "--adopt-schedule",
        action="store_true",
        help="resume with the schedule given now (--lr, --lr-steps, ...) although the "
        "checkpoint's differs",
    )
    train.add_argument(
        "--init-convnet",
        "--init-detector",
        dest="init_convnet",
        type=Path,
        help="a run directory whose ConvNet (detection: detector) starts this one",
    )
    train.add_argument(
        "--freeze-convnet",
        "--freeze-detector",
        dest="freeze_convnet",
        action="store_true",
        help="train the head alone on the ConvNet (detector) as it is (with --init-convnet)",
    )
    train.add_argument(
        "--validation-fraction",
        type=float,
        help="hold this share of the training images out (seed 0) and log the loss on them "
        "(val_loss in log.jsonl and TensorBoard) every --checkpoint-every steps; 0.1 by "
        "default for a head on a frozen detector, none otherwise",
    )
