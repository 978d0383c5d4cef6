"""``iterative-reasoning``: train and evaluate region classifiers with and without the reasoning
head, and run the demo.

iterative-reasoning demo [--task detection] [--output-dir runs/demo]
iterative-reasoning train --dataset ade20k --root ADE --model final --output-dir runs/ade-final
iterative-reasoning evaluate --dataset ade20k --root ADE --model final --output-dir runs/ade-final
iterative-reasoning train --task detection --detector fasterrcnn_resnet50_fpn --dataset coco \
    --root IMAGES --annotations instances_train.json --model final --output-dir runs/det-final
torchrun --nproc_per_node 4 -m iterative_reasoning.cli train ...  (DDP; --batch-size over all)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.error import URLError

import torch

from iterative_reasoning.detectors.torchvision import DEFAULT_REASONED_BOXES
from iterative_reasoning.nn.reasoning_head import MODELS

DATASETS = ("synthetic", "ade20k", "visual_genome", "coco")
#: ``--model``: the plain ConvNet, or a head of the paper's tables.
MODEL_CHOICES = ("baseline", *MODELS)
#: the split evaluated by default.
TEST_SPLIT = {"synthetic": "test", "ade20k": "mtest", "visual_genome": "test", "coco": "test"}


def main(argv: list[str] | None = None) -> int:
    """The ``iterative-reasoning`` command; returns its exit status. Deprecation notices of
    the libraries it drives (FutureWarning) are silenced while it runs, and only then: the
    process's warning filters are as they were when it returns."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return _main(argv)


def _main(argv: list[str] | None) -> int:
    parser = argparse.ArgumentParser(
        prog="iterative-reasoning", description=__doc__.splitlines()[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser(
        "demo",
        help="train the plain ConvNet and the local, global and final models on the synthetic "
        "benchmark; print the table; draw the iterations and the training curves",
    )
    demo.add_argument(
        "--task",
        choices=("classification", "detection"),
        default="classification",
        help="the paper's Table 1 (default), or a Faster R-CNN with and without the head, "
        "scored with COCO's metrics",
    )
    demo.add_argument(
        "--detector",
        choices=("faster_rcnn", "rt_detr", "yolo"),
        default="faster_rcnn",
        help="detection: a torchvision Faster R-CNN (default), a transformers RT-DETR (the "
        "[transformers] extra) or an ultralytics YOLOv8n (AGPL-3.0, installed by you)",
    )
    demo.add_argument(
        "--output-dir",
        type=Path,
        help="default: runs/demo (runs/demo-detection with detection, "
        "runs/demo-detection-DETECTOR with another --detector)",
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
        choices=("easy", "hard"),
        default="easy",
        help="classification: the synthetic benchmark's tier; 'hard' prints the main and "
        "ablation tables over --seeds seeds beside the ceiling (runs/demo-hard)",
    )
    demo.add_argument(
        "--seeds", type=int, default=3, help="with --benchmark hard: seeds to average (3)"
    )
    demo.add_argument("--quiet", action="store_true", help="no progress bars")
    demo.add_argument("--wordnet", help="a WordNet 3.0 dictionary directory")

    for name in ("train", "evaluate"):
        sub = commands.add_parser(name, help=f"{name} one model on a dataset")
        _dataset_arguments(sub)
    train_parser = commands.choices["train"]
    schedule = train_parser.add_argument_group("schedule (defaults: the paper's, per dataset)")
    schedule.add_argument("--steps", type=int)
    schedule.add_argument("--batch-size", type=int, help="images per step, over all processes")
    schedule.add_argument("--lr", type=float)
    schedule.add_argument("--lr-steps", type=int, nargs="*")
    schedule.add_argument("--weight-decay", type=float)
    schedule.add_argument("--momentum", type=float)
    schedule.add_argument("--seed", type=int)
    schedule.add_argument("--checkpoint-every", type=int)
    schedule.add_argument("--log-every", type=int)
    train_parser.add_argument(
        "--no-resume", action="store_true", help="start afresh even if a checkpoint exists"
    )
    train_parser.add_argument(
        "--adopt-schedule",
        action="store_true",
        help="resume with the schedule given now (--lr, --lr-steps, ...) although the "
        "checkpoint's differs",
    )
    train_parser.add_argument(
        "--init-convnet",
        "--init-detector",
        dest="init_convnet",
        type=Path,
        help="a run directory whose ConvNet (detection: detector) starts this one",
    )
    train_parser.add_argument(
        "--freeze-convnet",
        "--freeze-detector",
        dest="freeze_convnet",
        action="store_true",
        help="train the head alone on the ConvNet (detector) as it is (with --init-convnet)",
    )
    train_parser.add_argument("--quiet", action="store_true", help="no progress bar")
    commands.choices["evaluate"].add_argument(
        "--split", help="the split to evaluate (default: mtest, test)"
    )

    args = parser.parse_args(argv)
    problem = _path_problem(args)
    if problem:
        print(f"iterative-reasoning {args.command}: {problem}", file=sys.stderr)
        return 2
    from iterative_reasoning.engine.stopping import TrainingInterrupted, TrainingTerminated

    try:
        if args.command == "demo":
            return _demo(args)
        if args.command == "train":
            return _train(args)
        return _evaluate(args)
    except (FileNotFoundError, ValueError) as error:
        print(f"iterative-reasoning {args.command}: {error}", file=sys.stderr)
        return 2
    except ImportError as error:  # e.g. WordNet missing (WordNetNotFoundError)
        print(f"iterative-reasoning {args.command}: {error}", file=sys.stderr)
        return 2
    except URLError as error:  # pretrained weights, with no network
        print(
            f"iterative-reasoning {args.command}: cannot download the pretrained weights "
            f"({error.reason}); without a network, give --weights none, or put the file in "
            "torch's cache (TORCH_HOME/hub/checkpoints) on a machine that has one",
            file=sys.stderr,
        )
        return 2
    except OSError as error:  # a file where a directory is meant, no permission, a full disk
        where = f"{error.filename}: " if error.filename else ""
        print(
            f"iterative-reasoning {args.command}: {where}{error.strerror or error}",
            file=sys.stderr,
        )
        return 2
    except (TrainingInterrupted, TrainingTerminated) as stop:  # train printed where it saved
        return stop.exit_status
    except KeyboardInterrupt:  # a second Ctrl-C: train printed its checkpoint, if any
        print(f"iterative-reasoning {args.command}: interrupted", file=sys.stderr)
        return 130


def _path_problem(args: argparse.Namespace) -> str | None:
    """What is wrong with the paths given, before any work: a file where a directory is
    meant, a missing annotation file."""
    for name in ("output_dir", "root", "init_convnet"):
        path = getattr(args, name, None)
        if path is not None and path.exists() and not path.is_dir():
            return f"--{name.replace('_', '-')} {path} is a file, not a directory"
    annotations = getattr(args, "annotations", None)
    if annotations is not None and not annotations.is_file():
        return f"--annotations {annotations} is not a file"
    weights = getattr(args, "weights", None)
    if weights is not None and weights.lower() != "none":
        from torchvision.models import ResNet50_Weights

        try:
            ResNet50_Weights.verify(weights)
        except KeyError:
            names = ", ".join(w.name for w in ResNet50_Weights)
            return f"--weights {weights} is not a weight name; give one of {names}, or 'none'"
    return None


def _dataset_arguments(sub: argparse.ArgumentParser) -> None:
    from iterative_reasoning.detectors.torchvision import DETECTORS

    sub.add_argument("--dataset", required=True, choices=DATASETS)
    sub.add_argument(
        "--task",
        choices=("classification", "detection"),
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
        "--root", type=Path, help="the dataset directory (COCO: the image folder; not synthetic)"
    )
    sub.add_argument(
        "--annotations",
        type=Path,
        help="COCO: the annotation file of the split (training file to train, test file to "
        "evaluate)",
    )
    sub.add_argument("--model", required=True, choices=MODEL_CHOICES)
    sub.add_argument("--output-dir", type=Path, required=True, help="checkpoints, logs, metrics")
    sub.add_argument(
        "--graph",
        help="a class graph file (knowledge-graphs build); default: the shipped ADE20K graph, "
        "or one built from WordNet for the dataset's classes",
    )
    sub.add_argument(
        "--graph-relations",
        choices=("wordnet", "mined", "both"),
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
    sub.add_argument("--wordnet", help="a WordNet 3.0 dictionary directory")
    sub.add_argument(
        "--write-masks",
        action="store_true",
        help="COCO: the memory writes through the instance masks instead of the boxes",
    )
    sub.add_argument("--num-images", type=int, default=800, help="synthetic: training images")
    sub.add_argument("--num-test-images", type=int, default=200, help="synthetic: test images")
    sub.add_argument("--min-count", type=int, default=5, help="Visual Genome: least objects")
    sub.add_argument(
        "--weights",
        default="IMAGENET1K_V1",
        help="ResNet-50 weights through torchvision's weights API, or 'none'",
    )


# -- commands ------------------------------------------------------------------------------


def _hard_demo(args: argparse.Namespace, options: dict[str, Any], start: float) -> int:
    from iterative_reasoning.demo_hard import HardBenchmarkConfig, run_hard_benchmark

    if args.seeds < 1:
        raise ValueError(f"--seeds must be positive, got {args.seeds}")
    config = HardBenchmarkConfig(seeds=args.seeds)
    if args.scale != 1.0:
        config = replace(config, demo=config.demo.scaled(args.scale))
    result = run_hard_benchmark(args.output_dir or Path("runs/demo-hard"), config, **options)
    print("\n\n".join(result.tables))
    for figure in result.figures:
        print(f"wrote {figure}")
    timed = ", ".join(f"seed {k} {v:.0f} s" for k, v in result.wall_seconds.items())
    print(f"{timed}; total {time.perf_counter() - start:.0f} s")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from iterative_reasoning.demo import DemoConfig, run_demo
    from iterative_reasoning.demo_detection import DetectionDemoConfig, run_detection_demo

    start = time.perf_counter()
    options: dict[str, Any] = {"progress": not args.quiet, "figures": not args.no_figures}
    options["lexicon"] = _lexicon(args)
    result: Any
    if args.task == "detection":
        if args.benchmark != "easy":
            raise ValueError("--benchmark goes with --task classification")
        detection = DetectionDemoConfig.for_family(args.detector)
        detection = detection.scaled(args.scale) if args.scale != 1.0 else detection
        if args.reasoned_boxes:
            sweep = [None if k == "all" else _positive_int(k) for k in args.reasoned_boxes]
            detection = replace(detection, sweep=tuple(sweep))
        default = "runs/demo-detection"
        default += "" if args.detector == "faster_rcnn" else f"-{args.detector}"
        out = args.output_dir or Path(default)
        result = run_detection_demo(out, detection, **options)
    else:
        if args.reasoned_boxes:
            raise ValueError("--reasoned-boxes goes with --task detection")
        if args.detector != "faster_rcnn":
            raise ValueError("--detector goes with --task detection")
        if args.benchmark == "hard":
            return _hard_demo(args, options, start)
        config = DemoConfig() if args.scale == 1.0 else DemoConfig().scaled(args.scale)
        result = run_demo(args.output_dir or Path("runs/demo"), config, **options)
    print(result.table)
    for figure in result.figures:
        print(f"wrote {figure}")
    timed = ", ".join(f"{k} {v:.0f} s" for k, v in result.seconds.items())
    print(f"seconds: {timed}; total {time.perf_counter() - start:.0f} s")
    return 0


def _train(args: argparse.Namespace) -> int:
    from iterative_reasoning.engine import (
        TrainConfig,
        close_distributed,
        init_distributed,
        process_group,
        train,
    )
    from iterative_reasoning.engine.state import seed_everything

    device = init_distributed()
    rank, _ = process_group()
    config = _schedule(args)
    overrides = {
        field: getattr(args, field)
        for field in TrainConfig.__dataclass_fields__
        if getattr(args, field, None) is not None
    }
    config = TrainConfig(**{**config.__dict__, **overrides})
    seed_everything(config.seed)  # model construction too: --seed makes the whole run repeat
    dataset, model = _setup(args, split="train")
    if args.init_convnet is not None:
        _load_convnet(model, args.init_convnet)
    if args.freeze_convnet:
        from iterative_reasoning.engine import DetectionModel, RegionModel

        if args.init_convnet is None:
            raise ValueError("--freeze-convnet needs --init-convnet (a trained ConvNet)")
        if args.task == "detection":
            model = DetectionModel(model.detector, freeze_detector=True)
        else:
            model = RegionModel(
                model.convnet, model.head, freeze_convnet=True, write_masks=model.write_masks
            )

    def record(start: int) -> None:
        """``run.json``: what this command runs, written once the run is known to start."""
        if rank != 0:
            return
        arguments = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
        payload = {"args": arguments, "config": config.__dict__, "start_step": start}
        (args.output_dir / "run.json").write_text(json.dumps(payload, indent=2, default=str))

    history = train(
        model,
        dataset,
        config,
        args.output_dir,
        resume=not args.no_resume,
        device=device,
        progress=not args.quiet,
        adopt_schedule=args.adopt_schedule,
        on_start=record,
    )
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


def _evaluate(args: argparse.Namespace) -> int:
    from iterative_reasoning.engine import evaluate, evaluate_detection, load_checkpoint
    from iterative_reasoning.engine.checkpoint import load_model_state

    split = args.split or TEST_SPLIT[args.dataset]
    dataset, model = _setup(args, split=split)
    state = load_checkpoint(args.output_dir)
    if state is None:
        raise FileNotFoundError(f"no checkpoint in {args.output_dir} (train first)")
    load_model_state(model, state, args.output_dir)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    if args.task == "detection":
        found = evaluate_detection(
            model, dataset, output_dir=args.output_dir, device=device, progress=True
        )
        for iou_type, numbers in found.items():
            shown = {k: round(v, 2) for k, v in numbers.as_percent().items() if k != "ap_of"}
            print(iou_type, json.dumps(shown))
    else:
        metrics = evaluate(model, dataset, output_dir=args.output_dir, device=device, progress=True)
        print(json.dumps({k: round(v, 2) for k, v in metrics.as_percent().items()}))
    print(f"wrote {args.output_dir / 'metrics.json'}")
    return 0


# -- building blocks ----------------------------------------------------------------------


def _lexicon(args: argparse.Namespace) -> Any:
    from knowledge_graphs.wordnet import load_wordnet

    return load_wordnet(args.wordnet) if getattr(args, "wordnet", None) else None


def _schedule(args: argparse.Namespace) -> Any:
    """The paper's ADE schedule (320 K steps, lr step at 280 K; its VG schedule is not known, so
    VG uses it too), or the demo's for the synthetic benchmark; for detection, the detection
    benchmark's on synthetic data, else detectron2's 1x."""
    from iterative_reasoning.demo import DemoConfig
    from iterative_reasoning.engine import TrainConfig

    if args.task == "detection":
        from iterative_reasoning.demo_detection import DetectionDemoConfig

        if args.dataset == "synthetic":
            demo_detection = DetectionDemoConfig()
            return demo_detection.head if args.freeze_convnet else demo_detection.detector
        # detectron2's "1x" COCO schedule: 90 K steps of 16 images, lr 0.02, drops at 60 K and
        # 80 K, 1 K warmup steps
        return TrainConfig(
            steps=90_000, batch_size=16, lr=0.02, lr_steps=(60_000, 80_000), warmup_steps=1000
        )
    if args.dataset == "synthetic":
        demo = DemoConfig()
        return demo.baseline if args.model == "baseline" else demo.head
    return TrainConfig()


def _setup(args: argparse.Namespace, split: str) -> tuple[Any, Any]:
    """The dataset of ``split`` and the model of ``--model`` for ``--dataset``."""
    from iterative_reasoning.engine import RegionModel

    if args.task == "detection":
        return _detection_setup(args, split)

    graph = None
    if args.dataset == "synthetic":
        from iterative_reasoning.data.synthetic import SyntheticScenes
        from iterative_reasoning.demo import demo_class_graph, synthetic_convnet, synthetic_head

        dataset: Any = (
            SyntheticScenes(args.num_images, seed=0, hflip_prob=0.5)
            if split == "train"
            else SyntheticScenes(args.num_test_images, seed=1)
        )
        classes = dataset.classes
        convnet: Any = synthetic_convnet(len(classes))
        head = None
        if args.model != "baseline":
            graph = _graph(args, classes, lambda: demo_class_graph(None, _lexicon(args)))
            relations = graph.to_class_relations(background=True)
            head = synthetic_head(args.model, len(classes), relations)
        return dataset, RegionModel(convnet, head)

    if args.root is None:
        raise ValueError(f"--root is needed for --dataset {args.dataset}")
    from iterative_reasoning.data import ADE20K, VisualGenome
    from iterative_reasoning.data.ade20k import BACKGROUND
    from iterative_reasoning.data.graphs import ade20k_class_graph
    from iterative_reasoning.data.visual_genome import vg_class_graph
    from knowledge_graphs.ready_made import load_ready_made

    if args.dataset == "coco":
        return _coco(args, split)
    cache = args.output_dir / "cache"
    if args.dataset == "ade20k":
        build: Any = lambda: ade20k_class_graph(  # noqa: E731
            args.root, args.graph_relations, lexicon=_lexicon(args), cache_dir=cache, progress=True
        )
        if args.shipped_graph:
            build = lambda: load_ready_made("ade20k")  # noqa: E731
        graph = _graph(args, None, build)
        loader: Any = ADE20K
    else:
        if args.shipped_graph:
            raise ValueError(
                "--shipped-graph: no graph is shipped for a Visual Genome run's vocabulary "
                "(its synsets with --min-count objects); use --graph-relations wordnet"
            )
        graph = _graph(
            args,
            None,
            lambda: vg_class_graph(
                args.root,
                args.min_count,
                _lexicon(args),
                progress=True,
                relations=args.graph_relations,
                cache_dir=cache,
            ),
        )
        loader = VisualGenome
    classes = [BACKGROUND, *graph.classes]
    dataset = loader(
        args.root,
        split,
        classes=classes,
        hflip_prob=0.5 if split == "train" else 0.0,
        cache_dir=args.output_dir / "cache",
        progress=True,
    )
    return dataset, _paper_model(args, classes, graph)


def _paper_model(args: argparse.Namespace, classes: list[str], graph: Any) -> Any:
    """ResNet-50 (``--weights``) with, but for the baseline, the paper's head of ``--model``."""
    from iterative_reasoning.engine import RegionModel

    return RegionModel.paper(
        args.model,
        len(classes),
        graph.to_class_relations(background=True),
        weights=None if args.weights.lower() == "none" else args.weights,
        write_masks=getattr(args, "write_masks", False),
    )


def _coco(args: argparse.Namespace, split: str) -> tuple[Any, Any]:
    """A COCO-format dataset and its model: the classes are the annotation file's categories,
    with the shipped COCO graph when they are COCO's 80, else a graph built from WordNet."""
    from iterative_reasoning.data import COCODataset, coco_categories
    from iterative_reasoning.data.ade20k import BACKGROUND

    if args.annotations is None:
        raise ValueError("--annotations (the COCO annotation file of the split) is needed")
    names = coco_categories(args.annotations)

    graph = _graph(args, [BACKGROUND, *names], lambda: _coco_graph(args, names, split))
    classes = [BACKGROUND, *graph.classes]
    if args.write_masks and args.model == "baseline":
        raise ValueError("--write-masks needs a model with a head, not the baseline")
    dataset = COCODataset(
        args.root,
        args.annotations,
        classes=classes,
        hflip_prob=0.5 if split == "train" else 0.0,
        masks=args.write_masks,
    )
    return dataset, _paper_model(args, classes, graph)


def _detection_setup(args: argparse.Namespace, split: str) -> tuple[Any, Any]:
    """A detection dataset in COCO format (``--dataset coco``, or the synthetic benchmark
    written as COCO into the run directory) and the ``--detector`` with, but for the baseline,
    the head of ``--model`` attached."""
    from iterative_reasoning.data import COCODetection, coco_categories, write_coco
    from iterative_reasoning.data.ade20k import BACKGROUND
    from iterative_reasoning.detectors.torchvision import (
        attach_reasoning_head,
        build_detector,
        reasoning_head_for,
    )
    from iterative_reasoning.engine import DetectionModel

    if args.dataset not in ("coco", "synthetic"):
        raise ValueError(f"--task detection takes --dataset coco or synthetic, not {args.dataset}")
    if args.dataset == "synthetic":
        from iterative_reasoning.demo import demo_class_graph

        root = args.output_dir / "data"
        splits = {"train": args.num_images, "test": args.num_test_images}
        stamp = root / "written.json"
        if not stamp.exists() or json.loads(stamp.read_text()) != {"splits": splits, "seed": 0}:
            write_coco(root, splits, seed=0)
            stamp.write_text(json.dumps({"splits": splits, "seed": 0}) + "\n")
        args.root, args.annotations = (
            root / "images",
            root / "annotations" / f"instances_{split}.json",
        )
        detector_name = args.detector or "small"
        build_graph: Any = lambda: demo_class_graph(None, _lexicon(args))  # noqa: E731
    else:
        if args.root is None or args.annotations is None:
            raise ValueError("--task detection --dataset coco needs --root and --annotations")
        detector_name = args.detector or "fasterrcnn_resnet50_fpn"
        build_graph = None
    names = coco_categories(args.annotations)
    classes = [BACKGROUND, *names]
    dataset = COCODetection(
        args.root,
        args.annotations,
        hflip_prob=0.5 if split == "train" else 0.0,
        masks=detector_name.startswith("maskrcnn"),
    )
    weights = None if args.weights.lower() == "none" or detector_name == "small" else args.weights
    detector = build_detector(detector_name, len(classes), weights_backbone=weights)
    if args.model != "baseline":
        if build_graph is None:
            build_graph = lambda: _coco_graph(args, names, split)  # noqa: E731
        graph = _graph(args, classes, build_graph)
        sizes: dict[str, int] = {}
        if detector_name == "small":
            sizes = {"memory_channels": 64, "fc_channels": 256, "hidden_channels": 128}
        head = reasoning_head_for(
            detector,
            args.model,
            class_relations=graph.to_class_relations(background=True),
            **sizes,
        )
        boxes = None if args.reasoned_boxes == "all" else _positive_int(args.reasoned_boxes)
        attach_reasoning_head(detector, head, reasoned_boxes=boxes, train_on=args.train_on)
    return dataset, DetectionModel(detector)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"--reasoned-boxes must be a positive integer or 'all', got {text!r}")
    return value


def _coco_graph(args: argparse.Namespace, names: list[str], split: str) -> Any:
    """The graph of a COCO-format run, built from WordNet and the training file's boxes
    (:func:`~iterative_reasoning.data.graphs.coco_class_graph`), or with ``--shipped-graph`` the
    shipped COCO-80 graph."""
    from iterative_reasoning.data.graphs import coco_class_graph
    from knowledge_graphs.ready_made import load_ready_made, vocabulary

    if args.shipped_graph:
        if names != vocabulary("coco")[0]:
            raise ValueError(
                "--shipped-graph: the shipped COCO graph is for COCO's 80 categories; "
                f"{args.annotations} has {len(names)} others"
            )
        return load_ready_made("coco")
    if split != "train" and args.graph_relations != "wordnet":
        raise ValueError(
            f"the run's class graph is mined from the training annotations, and "
            f"{args.output_dir / 'class_graph.json.gz'} is not there: train first, or give "
            "--graph, or --graph-relations wordnet"
        )
    return coco_class_graph(args.annotations, args.graph_relations, lexicon=_lexicon(args))


def _graph(args: argparse.Namespace, classes: Any, build: Any) -> Any:
    """``--graph``, else the run's ``class_graph.json.gz``, else ``build()`` (saved there)."""
    from knowledge_graphs.class_graph import ClassGraph

    if args.graph:
        graph = ClassGraph.load(args.graph)
    else:
        cached = args.output_dir / "class_graph.json.gz"
        recipe = {
            "graph_relations": getattr(args, "graph_relations", "both"),
            "shipped_graph": getattr(args, "shipped_graph", False),
        }
        if cached.exists():
            graph = ClassGraph.load(cached)
            built = graph.provenance.get("run", recipe)
            if built != recipe:
                raise ValueError(
                    f"{cached} was built with {_recipe_options(built)}, not "
                    f"{_recipe_options(recipe)}: give the same options, or another --output-dir"
                )
        else:
            from iterative_reasoning.engine import process_group
            from knowledge_graphs.wordnet import WordNetNotFoundError

            try:
                graph = build()  # every process builds the same graph; the first one keeps it
            except WordNetNotFoundError as error:
                raise WordNetNotFoundError(
                    f"{error} Or build the run's graph without WordNet: --graph-relations mined "
                    "(ADE20K and COCO's 80 categories also have --shipped-graph)."
                ) from error
            graph.provenance["run"] = recipe
            if process_group()[0] == 0:
                cached.parent.mkdir(parents=True, exist_ok=True)
                graph.save(cached)
    if classes is not None and list(graph.classes) != list(classes[1:]):
        raise ValueError(
            f"the class graph's {len(graph.classes)} classes are not the dataset's "
            f"{len(classes) - 1} (in order)"
        )
    return graph


def _recipe_options(recipe: dict[str, Any]) -> str:
    shipped = " --shipped-graph" if recipe.get("shipped_graph") else ""
    return f"--graph-relations {recipe.get('graph_relations')}{shipped}"


def _load_convnet(model: Any, run_dir: Path) -> None:
    from iterative_reasoning.engine import DetectionModel, load_checkpoint

    state = load_checkpoint(run_dir)
    if state is None:
        raise FileNotFoundError(f"--init-convnet: no checkpoint in {run_dir}")
    if isinstance(model, DetectionModel):
        detector = {k: v for k, v in state["model"].items() if ".roi_heads.head." not in k}
        missing, unexpected = model.load_state_dict(detector, strict=False)
        if unexpected or any(".roi_heads.head." not in k for k in missing):
            raise ValueError(
                f"--init-detector: the checkpoint in {run_dir} is not of this detector "
                f"(missing {[k for k in missing if '.head.' not in k][:3]}, "
                f"unexpected {unexpected[:3]})"
            )
        return
    prefix = "convnet."
    weights = {k[len(prefix) :]: v for k, v in state["model"].items() if k.startswith(prefix)}
    model.convnet.load_state_dict(weights)


if __name__ == "__main__":
    sys.exit(main())
