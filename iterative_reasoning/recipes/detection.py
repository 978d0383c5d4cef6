"""Detection runs: a detector with the reasoning head or without, on COCO-format data or the
synthetic benchmark written in COCO format."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from iterative_reasoning.data.coco import COCODetection
from iterative_reasoning.detectors.contract import contract_of, reasoning_head_for
from iterative_reasoning.graph import ClassRelations
from iterative_reasoning.models.builders import build_detector
from iterative_reasoning.models.detection import DetectionModel
from iterative_reasoning.recipes import synthetic
from iterative_reasoning.recipes.graph import run_class_graph
from iterative_reasoning.recipes.spec import RunSpec
from knowledge_graphs.class_graph import BACKGROUND
from knowledge_graphs.coco_file import coco_category_list

#: The detector of a run that names none.
DEFAULT_DETECTOR = {"coco": "fasterrcnn_resnet50_fpn", "synthetic": "small"}


def detection_dataset(spec: RunSpec, split: str) -> COCODetection:
    """The images and boxes of ``split`` (random flips in training); the synthetic benchmark
    is written once in COCO format at ``spec.data_root``."""
    _check(spec)
    if spec.dataset == "synthetic":
        written = synthetic.written_coco(
            spec.data_root, spec.num_images, spec.num_test_images, spec.seed, spec.benchmark
        )
        return written["train" if split == "train" else "test"]
    if spec.root is None or spec.annotations is None:
        raise ValueError("--task detection --dataset coco needs --root and --annotations")
    masks = detector_name(spec).startswith("maskrcnn")
    flip = 0.5 if split == "train" else 0.0
    outputs = detector_outputs(spec)  # the labels are then the detector's outputs
    return COCODetection(spec.root, spec.annotations, classes=outputs, hflip_prob=flip, masks=masks)


def detector_weights(spec: RunSpec) -> Any:
    """The torchvision weights of ``spec.detector_weights`` (an entry of the detector's
    weights enum), or ``None``."""
    if spec.detector_weights is None:
        return None
    from torchvision.models import get_model_weights

    name = detector_name(spec)
    if name == "small":
        raise ValueError("--detector-weights: the 'small' detector has no pretrained weights")
    family = get_model_weights(name)
    try:
        return family.verify(spec.detector_weights)
    except (KeyError, ValueError, TypeError):
        names = ", ".join(["DEFAULT", *(w.name for w in family)])
        raise ValueError(
            f"--detector-weights {spec.detector_weights} is not a weight name of {name}; "
            f"give one of {names}"
        ) from None


def detector_outputs(spec: RunSpec) -> list[str] | None:
    """The name of each output of a detector with its own weights (``"__background__"``
    first; unused slots ``"N/A"``), or ``None`` when the detector is built for the data."""
    weights = detector_weights(spec)
    return None if weights is None else list(weights.meta["categories"])


def detector_name(spec: RunSpec) -> str:
    """``spec.detector``, or the dataset's default (``small`` for the synthetic benchmark)."""
    return spec.detector or DEFAULT_DETECTOR[spec.dataset]


def detection_model(spec: RunSpec, dataset: COCODetection, split: str) -> DetectionModel:
    """The detector of ``spec`` for the dataset's categories (and background) with, but for
    the baseline, the head of ``spec.model`` attached."""

    name = detector_name(spec)
    weights = detector_weights(spec)
    if weights is not None:  # the detector's own weights: its outputs are the classes
        detector = _pretrained_detector(name, weights)
    else:
        backbone = None if name == "small" else spec.weights
        detector = build_detector(name, len(dataset.classes), weights_backbone=backbone)
    if spec.model != "baseline":
        graph = run_class_graph(spec, split, graph_classes(spec, dataset))
        widths = synthetic.head_widths() if name == "small" else {}
        # onto the classifier's outputs: the dataset's classes, or the weights' by name
        relations = ClassRelations.from_class_graph(graph, outputs=detector_outputs(spec))
        attach_head(
            detector,
            spec.model,
            relations,
            widths=widths,
            reasoned_boxes=spec.reasoned_boxes,
            train_on=spec.train_on,
            size=spec.head_size,
        )
    return DetectionModel(detector)


def graph_classes(spec: RunSpec, dataset: COCODetection) -> list[str]:
    """The classes of the run's class graph (background first): the dataset's, or with the
    detector's own weights the annotation file's categories (in category-id order), which the
    graph maps onto the detector's outputs by name."""
    if spec.detector_weights is None:
        return list(dataset.classes)
    categories = coco_category_list(dataset.coco.dataset, dataset.annotation_file)
    return [BACKGROUND, *(c["name"] for c in categories)]


def _pretrained_detector(name: str, weights: Any) -> Any:
    """torchvision's detector ``name`` with its ``weights`` (downloaded once into torch's
    cache; without a network, an error that says which file to put where)."""
    from urllib.error import URLError

    import torch

    try:
        return build_detector(name, len(weights.meta["categories"]), weights=weights)
    except URLError as error:
        folder = Path(torch.hub.get_dir()) / "checkpoints"
        raise FileNotFoundError(
            f"--detector-weights: cannot download {weights.url} ({error.reason}); on a "
            f"machine with a network, download it and put it in {folder} (keep its name "
            f"{Path(weights.url).name})"
        ) from None


def attach_head(
    detector: Any,
    model: str,
    class_relations: Any,
    *,
    widths: dict[str, int] | None = None,
    reasoned_boxes: int | None = None,
    train_on: str = "proposals",
    fusion: str = "paper",
    size: str = "paper",
) -> None:
    """Size the head of ``model`` for ``detector`` (with the ``fusion`` of
    :class:`~iterative_reasoning.nn.IterativeReasoningHead`, of ``size``: ``"paper"`` or
    ``"light"``) and attach it, through the
    detector's :func:`~iterative_reasoning.detectors.contract.contract_of`: a torchvision
    two-stage detector takes it as its RoI heads (with ``reasoned_boxes`` and ``train_on``); a
    ``TransformersDetector`` or ``YOLODetector`` as its re-classifier."""
    options: dict[str, Any] = {**(widths or {}), "fusion": fusion, "size": size}
    head = reasoning_head_for(detector, model, class_relations=class_relations, **options)
    contract_of(detector).attach(head, reasoned_boxes=reasoned_boxes, train_on=train_on)


def detection_annotations(spec: RunSpec, split: str) -> Path:
    """The annotation file a split of the run is scored against."""
    if spec.dataset == "synthetic":
        return synthetic.coco_annotations(spec.data_root, "train" if split == "train" else "test")
    assert spec.annotations is not None
    return spec.annotations


def _check(spec: RunSpec) -> None:
    if spec.dataset not in DEFAULT_DETECTOR:
        raise ValueError(f"--task detection takes --dataset coco or synthetic, not {spec.dataset}")
    if spec.write_masks:
        raise ValueError("--write-masks goes with --task classification (COCO)")
