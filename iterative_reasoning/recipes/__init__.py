"""One way to build a run: the dataset of a split, the class graph, the model and the schedule
of a :class:`RunSpec`. The command line, the demos and the examples all call these.

Example:
    >>> from pathlib import Path
    >>> spec = RunSpec(dataset="ade20k", model="final", output_dir=Path("runs/ade-final"))
    >>> default_schedule(spec).steps, default_schedule(spec).lr_steps
    (320000, (280000,))
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset

from iterative_reasoning.engine import load_checkpoint, train_and_evaluate
from iterative_reasoning.engine.config import TrainConfig
from iterative_reasoning.models import DetectionModel, RegionModel
from iterative_reasoning.recipes.classification import region_classes, region_dataset, region_model
from iterative_reasoning.recipes.detection import detection_dataset, detection_model, graph_classes
from iterative_reasoning.recipes.graph import run_class_graph
from iterative_reasoning.recipes.resume import train_or_resume
from iterative_reasoning.recipes.schedules import (
    PAPER_STEPS,
    default_schedule,
    detection_schedule,
    paper_schedule,
)
from iterative_reasoning.recipes.spec import DATASETS, TASKS, RunSpec


@dataclass
class RunSetup:
    """What :func:`setup` assembles.

    Attributes:
        dataset: the split's dataset.
        model: a :class:`~iterative_reasoning.engine.RegionModel` or
            :class:`~iterative_reasoning.engine.DetectionModel`.
        classes: the classifier's classes, background first.
        graph: the run's :class:`~knowledge_graphs.class_graph.ClassGraph`, or ``None`` when
            the model needs none.
    """

    dataset: Dataset[Any]
    model: Any  # RegionModel | DetectionModel
    classes: list[str]
    graph: Any


def setup(spec: RunSpec, split: str = "train") -> RunSetup:
    """The dataset of ``split`` and the model of ``spec`` (its class graph built or read once,
    in the run directory)."""
    if spec.task == "detection":
        detections = detection_dataset(spec, split)
        model = detection_model(spec, detections, split)
        head = getattr(model, "head", None)
        classes = graph_classes(spec, detections)
        graph = None if head is None else _cached_graph(spec, split, classes)
        return RunSetup(detections, model, list(detections.classes), graph)

    classes, graph = region_classes(spec, split)
    dataset = region_dataset(spec, split, classes)
    return RunSetup(dataset, region_model(spec, len(classes), graph), classes, graph)


def dataset(spec: RunSpec, split: str, classes: list[str] | None = None) -> Dataset[Any]:
    """The dataset of ``split`` alone (to evaluate a run); ``classes`` as :func:`setup` gave
    them (read from the run's graph when not given)."""
    if spec.task == "detection":
        return detection_dataset(spec, split)

    return region_dataset(spec, split, classes or region_classes(spec, split)[0])


def add_run_arguments(parser: argparse.ArgumentParser, steps: int = PAPER_STEPS) -> None:
    """The options of a script that trains a row of the paper's table (as the examples do):
    ``--model``, ``--output-dir``, ``--steps`` (default ``steps``), ``--batch-size``,
    ``--min-size`` and ``--weights``; :func:`paper_schedule` takes the steps and batch size,
    :class:`RunSpec` the rest."""
    parser.add_argument("--model", default="final", help="baseline, local, global, final, ...")
    parser.add_argument("--output-dir", type=Path, required=True)
    parser.add_argument("--steps", type=int, default=steps)
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--min-size", type=int, default=600, help="short side after resizing")
    parser.add_argument("--weights", default="IMAGENET1K_V1", help="ResNet-50 weights, or none")


def run_spec_of(args: argparse.Namespace, dataset: str, **options: Any) -> RunSpec:
    """The :class:`RunSpec` of ``dataset`` with the options :func:`add_run_arguments` parsed
    into ``args`` (model, output directory, resize, weights) and the further ``options``."""
    return RunSpec(
        dataset=dataset,
        model=args.model,
        output_dir=args.output_dir,
        min_size=args.min_size,
        weights=args.weights,
        **options,
    )


def train_and_test(
    spec: RunSpec,
    config: TrainConfig,
    device: str | torch.device = "cpu",
    test_spec: RunSpec | None = None,
) -> dict[str, float]:
    """Train the run of ``spec`` with ``config`` (resuming what ``spec.output_dir`` holds),
    then evaluate it on the test split of ``test_spec`` (by default ``spec``'s; e.g. the same
    run with another annotation file): the metrics in percent, from process 0
    (:func:`~iterative_reasoning.engine.train_and_evaluate`)."""

    run = setup(spec, "train")
    test = test_spec or spec
    test_set = dataset(test, test.test_split, run.classes)
    return train_and_evaluate(run.model, run.dataset, test_set, config, spec.output_dir, device)


def load_convnet(model: nn.Module, run_dir: Path) -> None:
    """Start ``model`` from the ConvNet (a detection model: the detector, without its head)
    of the checkpoint in ``run_dir``."""

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
    assert isinstance(model, RegionModel)
    model.convnet.load_state_dict(weights)


def frozen(model: nn.Module) -> Any:
    """``model`` with its ConvNet (detector) frozen: the head trains alone on it."""

    if isinstance(model, DetectionModel):
        return DetectionModel(model.detector, freeze_detector=True)
    assert isinstance(model, RegionModel)
    return RegionModel(
        model.convnet, model.head, freeze_convnet=True, write_masks=model.write_masks
    )


def _cached_graph(spec: RunSpec, split: str, classes: list[str]) -> Any:

    return run_class_graph(spec, split, classes)


__all__ = [
    "DATASETS",
    "PAPER_STEPS",
    "TASKS",
    "RunSetup",
    "RunSpec",
    "add_run_arguments",
    "dataset",
    "default_schedule",
    "detection_schedule",
    "frozen",
    "load_convnet",
    "paper_schedule",
    "run_spec_of",
    "setup",
    "train_and_test",
    "train_or_resume",
]
