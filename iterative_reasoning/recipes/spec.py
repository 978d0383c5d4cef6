"""What a run is made of, as one value: :class:`RunSpec`, what the command line, the demo and
the examples fill in and the recipes assemble."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from iterative_reasoning.data.graphs import GRAPH_RELATIONS
from iterative_reasoning.data.synthetic import BENCHMARKS
from iterative_reasoning.detectors.torchvision.roi_heads import DEFAULT_REASONED_BOXES
from iterative_reasoning.nn.reasoning_head import HEAD_SIZES, MODELS

#: The datasets a run can take.
DATASETS = ("synthetic", "ade20k", "visual_genome", "coco")
#: The tasks: the paper's classification of given boxes, or detection with a detector.
TASKS = ("classification", "detection")
#: The split a run evaluates by default.
TEST_SPLIT = {"synthetic": "test", "ade20k": "mtest", "visual_genome": "test", "coco": "test"}


@dataclass
class RunSpec:
    """A training or evaluation run: its data, class graph, model and where it lives.

    Attributes:
        dataset: ``"synthetic"`` (the built-in benchmark, written in the ADE20K 2016 format,
            COCO's for detection), ``"ade20k"``, ``"visual_genome"`` or ``"coco"`` (any
            COCO-format data).
        model: ``"baseline"`` (the ConvNet alone) or a head of
            :data:`~iterative_reasoning.nn.reasoning_head.MODELS`.
        output_dir: the run directory (checkpoints, logs, the class graph, caches).
        task: ``"classification"`` (the paper's) or ``"detection"``.
        root: the dataset directory (COCO: the image folder); for ``"synthetic"``, where the
            benchmark is written (default ``output_dir/data``).
        annotations: COCO: the annotation file of the split.
        graph: a class graph file to use instead of the run's own.
        graph_relations: the run's graph: ``"wordnet"``, ``"mined"`` or ``"both"``
            (:data:`~iterative_reasoning.data.graphs.GRAPH_RELATIONS`).
        shipped_graph: ADE20K and COCO's 80 categories: the shipped WordNet-only graph.
        lexicon: the WordNet to build graphs from (default: found offline).
        write_masks: COCO classification: the memory writes through the instance masks.
        num_images: synthetic: training images.
        num_test_images: synthetic: test images.
        benchmark: synthetic: the tier, ``"easy"`` or ``"hard"``.
        seed: synthetic: the seed of the training split (the test split is drawn from
            ``seed + 1``).
        min_count: Visual Genome: the least objects of a class.
        split_file: Visual Genome: a split file of one's own.
        min_size: the short side after resizing (ADE20K, Visual Genome, COCO; 600 in the paper).
        weights: ResNet-50 weights through torchvision's weights API, or ``None`` (random;
            ``"none"`` is read as ``None``).
        detector: detection: a torchvision detector of
            :data:`~iterative_reasoning.detectors.torchvision.DETECTORS` (default:
            ``fasterrcnn_resnet50_fpn``; ``small`` for synthetic).
        reasoned_boxes: detection: proposals per image the head reasons over at inference, or
            ``None`` for all.
        detector_weights: detection: the torchvision detector's own weights (a name of its
            weights enum, e.g. ``"DEFAULT"``: trained on COCO, its outputs COCO's 91 category
            ids); the dataset's categories are matched to those outputs by name.
        train_on: detection: the head trains on the sampled ``"proposals"`` or on the
            ``"ground_truth"`` boxes.
        head_size: the head's size, ``"paper"`` or ``"light"``
            (:data:`~iterative_reasoning.nn.reasoning_head.HEAD_SIZES`).
        progress: progress bars while reading and counting.
    """

    dataset: str
    model: str
    output_dir: Path
    task: str = "classification"
    root: Path | None = None
    annotations: Path | None = None
    graph: Path | None = None
    graph_relations: str = "both"
    shipped_graph: bool = False
    lexicon: Any = None
    write_masks: bool = False
    num_images: int = 800
    num_test_images: int = 200
    benchmark: str = "easy"
    seed: int = 0
    min_count: int = 5
    split_file: Path | None = None
    min_size: int = 600
    weights: str | None = "IMAGENET1K_V1"
    detector: str | None = None
    detector_weights: str | None = None
    reasoned_boxes: int | None = DEFAULT_REASONED_BOXES
    train_on: str = "proposals"
    head_size: str = "paper"
    progress: bool = True

    def __post_init__(self) -> None:

        self.output_dir = Path(self.output_dir)
        for name in ("root", "annotations", "graph", "split_file"):
            value = getattr(self, name)
            if value is not None:
                setattr(self, name, Path(value))
        choices = {
            "dataset": DATASETS,
            "task": TASKS,
            "model": ("baseline", *MODELS),
            "graph_relations": GRAPH_RELATIONS,
            "benchmark": BENCHMARKS,
            "train_on": ("proposals", "ground_truth"),
            "head_size": tuple(HEAD_SIZES),
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")
        if isinstance(self.weights, str) and self.weights.lower() == "none":
            self.weights = None
        for name in ("num_images", "num_test_images", "min_count", "min_size"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.reasoned_boxes is not None and self.reasoned_boxes < 1:
            raise ValueError(f"reasoned_boxes must be positive or None, got {self.reasoned_boxes}")

    @property
    def data_root(self) -> Path:
        """Where the data is: ``root``, or for the synthetic benchmark ``output_dir/data``."""
        if self.root is not None:
            return self.root
        if self.dataset == "synthetic":
            return self.output_dir / "data"
        raise ValueError(f"--root is needed for --dataset {self.dataset} (the dataset directory)")

    @property
    def test_split(self) -> str:
        """The split evaluated by default (``mtest``: ADE20K's test-1k)."""
        return TEST_SPLIT[self.dataset]
