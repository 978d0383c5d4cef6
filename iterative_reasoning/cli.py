"""``iterative-reasoning``: train and evaluate region classifiers with and without the reasoning
head, and run the demo.

iterative-reasoning demo [--output-dir runs/demo]
iterative-reasoning train --dataset ade20k --root ADE --model final --output-dir runs/ade-final
iterative-reasoning evaluate --dataset ade20k --root ADE --model final --output-dir runs/ade-final
torchrun --nproc_per_node 4 -m iterative_reasoning.cli train ...  (DDP; --batch-size over all)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import torch

from iterative_reasoning.nn.reasoning_head import MODELS

DATASETS = ("synthetic", "ade20k", "visual_genome", "coco")
#: ``--model``: the plain ConvNet, or a head of the paper's tables.
MODEL_CHOICES = ("baseline", *MODELS)
#: the split evaluated by default.
TEST_SPLIT = {"synthetic": "test", "ade20k": "mtest", "visual_genome": "test", "coco": "test"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="iterative-reasoning", description=__doc__.splitlines()[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser(
        "demo",
        help="train the plain ConvNet and the local, global and final models on the synthetic "
        "benchmark; print the table; draw the iterations and the training curves",
    )
    demo.add_argument("--output-dir", type=Path, default=Path("runs/demo"))
    demo.add_argument(
        "--scale", type=float, default=1.0, help="multiply the steps and images (e.g. 0.1)"
    )
    demo.add_argument("--no-figures", action="store_true")
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
        "--init-convnet", type=Path, help="a run directory whose ConvNet starts this one"
    )
    train_parser.add_argument(
        "--freeze-convnet",
        action="store_true",
        help="train the head alone on the ConvNet as it is (with --init-convnet)",
    )
    train_parser.add_argument("--quiet", action="store_true", help="no progress bar")
    commands.choices["evaluate"].add_argument(
        "--split", help="the split to evaluate (default: mtest, test)"
    )

    args = parser.parse_args(argv)
    warnings.simplefilter("ignore", FutureWarning)
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


def _dataset_arguments(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--dataset", required=True, choices=DATASETS)
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
    sub.add_argument("--wordnet", help="a WordNet 3.0 dictionary directory")
    sub.add_argument(
        "--write-masks",
        action="store_true",
        help="COCO: the memory writes through the instance masks instead of the boxes",
    )
    sub.add_argument("--num-images", type=int, default=800, help="synthetic: training images")
    sub.add_argument("--min-count", type=int, default=5, help="Visual Genome: least objects")
    sub.add_argument(
        "--weights",
        default="IMAGENET1K_V1",
        help="ResNet-50 weights through torchvision's weights API, or 'none'",
    )


# -- commands ------------------------------------------------------------------------------


def _demo(args: argparse.Namespace) -> int:
    from iterative_reasoning.demo import DemoConfig, run_demo

    start = time.perf_counter()
    config = DemoConfig()
    if args.scale != 1.0:
        config = config.scaled(args.scale)
    result = run_demo(
        args.output_dir,
        config,
        progress=not args.quiet,
        figures=not args.no_figures,
        lexicon=_lexicon(args),
    )
    print(result.table)
    for figure in result.figures:
        print(f"wrote {figure}")
    trained = ", ".join(f"{k} {v:.0f} s" for k, v in result.seconds.items())
    print(f"training: {trained}; total {time.perf_counter() - start:.0f} s")
    return 0


def _train(args: argparse.Namespace) -> int:
    from iterative_reasoning.engine import (
        TrainConfig,
        close_distributed,
        init_distributed,
        process_group,
        train,
    )

    device = init_distributed()
    rank, _ = process_group()
    config = _schedule(args)
    overrides = {
        field: getattr(args, field)
        for field in TrainConfig.__dataclass_fields__
        if getattr(args, field, None) is not None
    }
    config = TrainConfig(**{**config.__dict__, **overrides})
    dataset, model = _setup(args, split="train")
    if args.init_convnet is not None:
        _load_convnet(model, args.init_convnet)
    if args.freeze_convnet:
        from iterative_reasoning.engine import RegionModel

        if args.init_convnet is None:
            raise ValueError("--freeze-convnet needs --init-convnet (a trained ConvNet)")
        model = RegionModel(model.convnet, model.head, freeze_convnet=True)
    if rank == 0:
        args.output_dir.mkdir(parents=True, exist_ok=True)
        record = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
        (args.output_dir / "run.json").write_text(
            json.dumps({"args": record, "config": config.__dict__}, indent=2, default=str) + "\n"
        )
    train(
        model,
        dataset,
        config,
        args.output_dir,
        resume=not args.no_resume,
        device=device,
        progress=not args.quiet,
    )
    if rank == 0:
        print(f"trained {config.steps} steps; checkpoint in {args.output_dir}")
    close_distributed()
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from iterative_reasoning.engine import evaluate, load_checkpoint

    split = args.split or TEST_SPLIT[args.dataset]
    dataset, model = _setup(args, split=split)
    state = load_checkpoint(args.output_dir)
    if state is None:
        raise FileNotFoundError(f"no checkpoint in {args.output_dir} (train first)")
    model.load_state_dict(state["model"])
    device = "cuda" if torch.cuda.is_available() else "cpu"
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
    VG uses it too), or the demo's for the synthetic benchmark."""
    from iterative_reasoning.demo import DemoConfig
    from iterative_reasoning.engine import TrainConfig

    if args.dataset == "synthetic":
        demo = DemoConfig()
        return demo.baseline if args.model == "baseline" else demo.head
    return TrainConfig()


def _setup(args: argparse.Namespace, split: str) -> tuple[Any, Any]:
    """The dataset of ``split`` and the model of ``--model`` for ``--dataset``."""
    from iterative_reasoning.engine import RegionModel

    graph = None
    if args.dataset == "synthetic":
        from iterative_reasoning.data.synthetic import SyntheticScenes
        from iterative_reasoning.demo import demo_class_graph, synthetic_convnet, synthetic_head

        dataset: Any = (
            SyntheticScenes(args.num_images, seed=0, hflip_prob=0.5)
            if split == "train"
            else SyntheticScenes(200, seed=1)
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
    from iterative_reasoning.data.visual_genome import vg_class_graph
    from knowledge_graphs.ready_made import load_ready_made

    if args.dataset == "coco":
        return _coco(args, split)
    if args.dataset == "ade20k":
        graph = _graph(args, None, lambda: load_ready_made("ade20k"))
        loader: Any = ADE20K
    else:
        graph = _graph(
            args, None, lambda: vg_class_graph(args.root, args.min_count, _lexicon(args))
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
    from knowledge_graphs.build import build_class_graph
    from knowledge_graphs.ready_made import load_ready_made, vocabulary

    if args.annotations is None:
        raise ValueError("--annotations (the COCO annotation file of the split) is needed")
    names = coco_categories(args.annotations)

    def build() -> Any:
        if names == vocabulary("coco")[0]:
            return load_ready_made("coco")
        return build_class_graph(names, lexicon=_lexicon(args), source="COCO categories")

    graph = _graph(args, [BACKGROUND, *names], build)
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


def _graph(args: argparse.Namespace, classes: Any, build: Any) -> Any:
    """``--graph``, else the run's ``class_graph.json.gz``, else ``build()`` (saved there)."""
    from knowledge_graphs.class_graph import ClassGraph

    if args.graph:
        graph = ClassGraph.load(args.graph)
    else:
        cached = args.output_dir / "class_graph.json.gz"
        if cached.exists():
            graph = ClassGraph.load(cached)
        else:
            from iterative_reasoning.engine import process_group

            graph = build()  # every process builds the same graph; the first one keeps it
            if process_group()[0] == 0:
                cached.parent.mkdir(parents=True, exist_ok=True)
                graph.save(cached)
    if classes is not None and list(graph.classes) != list(classes[1:]):
        raise ValueError(
            f"the class graph's {len(graph.classes)} classes are not the dataset's "
            f"{len(classes) - 1} (in order)"
        )
    return graph


def _load_convnet(model: Any, run_dir: Path) -> None:
    from iterative_reasoning.engine import load_checkpoint

    state = load_checkpoint(run_dir)
    if state is None:
        raise FileNotFoundError(f"--init-convnet: no checkpoint in {run_dir}")
    prefix = "convnet."
    weights = {k[len(prefix) :]: v for k, v in state["model"].items() if k.startswith(prefix)}
    model.convnet.load_state_dict(weights)


if __name__ == "__main__":
    sys.exit(main())
