"""The synthetic benchmark's runs: the benchmark written once in the ADE20K 2016 format (COCO's
for detection) and read back through the real loaders, its class graph (WordNet and what its
written annotations give), the small ConvNet, the heads with widths for it, and the schedules.
The demo, the hard tier's tables and ``iterative-reasoning train --dataset synthetic`` all build
their runs here, so a run of the command line gives the demo's rows."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from iterative_reasoning.data.ade20k import ADE20K
from iterative_reasoning.data.coco import COCODetection
from iterative_reasoning.data.graphs import GraphRelations, coco_class_graph, dataset_class_graph
from iterative_reasoning.data.synthetic import CLASSES, IMAGE_SIZE, long_tail, tier
from iterative_reasoning.data.synthetic_formats import write_ade2016, write_coco
from iterative_reasoning.engine.config import TrainConfig
from iterative_reasoning.graph import ClassRelations
from iterative_reasoning.models.small_convnet import SmallConvNetClassifier
from iterative_reasoning.nn.reasoning_head import IterativeReasoningHead
from knowledge_graphs.build import BUILDABLE, build_class_graph
from knowledge_graphs.builders.ade_parts import ade_part_counts, ade_part_of
from knowledge_graphs.builders.annotations import record_images
from knowledge_graphs.class_graph import BACKGROUND
from knowledge_graphs.files import write_atomic

#: The ADE20K splits the benchmark is written as: training and test (``mtest``, test-1k's name).
SPLITS = ("train", "mtest")


def baseline_schedule() -> TrainConfig:
    """The ConvNet's schedule: SGD from scratch, 400 steps of 4 images."""
    return TrainConfig(
        steps=400, batch_size=4, lr=0.02, lr_steps=(320,), checkpoint_every=100, log_every=10
    )


def head_schedule(benchmark: str = "easy") -> TrainConfig:
    """Each head's schedule, on the frozen ConvNet: 400 steps of 4 images; on the hard tier
    twice as long, as the local module learns its near cues late there (seed 0: panel AP 70
    after 800 steps on 800 images, 36 after 600 steps on 600), and twice the rate (0.01)
    diverged at step 500 on seed 0."""
    steps = 800 if benchmark == "hard" else 400
    return TrainConfig(
        steps=steps,
        batch_size=4,
        lr=0.005,
        lr_steps=(round(steps * 0.8),),
        checkpoint_every=100,
        log_every=10,
    )


def written_benchmark(
    root: str | os.PathLike[str],
    train_images: int,
    test_images: int,
    seed: int = 0,
    benchmark: str = "easy",
) -> dict[str, ADE20K]:
    """The benchmark in the ADE20K 2016 layout at ``root`` (written once: a ``written.json``
    stamp records what, and a change rewrites it), through the ADE20K loader: ``"train"``
    (random flips) and ``"test"``. The training split is drawn from ``seed``, the test split
    from ``seed + 1``."""
    root = Path(root)
    splits = {"train": train_images, "mtest": test_images}
    stamp = root / "written.json"
    wanted: dict[str, Any] = {"splits": splits, "seed": seed, "image_size": IMAGE_SIZE}
    if benchmark != "easy":
        wanted["benchmark"] = benchmark
    if not stamp.exists() or json.loads(stamp.read_text()) != wanted:
        write_ade2016(root, splits, seed=seed, benchmark=benchmark)
        write_atomic(stamp, json.dumps(wanted) + "\n")
    options: dict[str, Any] = {"min_size": IMAGE_SIZE, "max_size": IMAGE_SIZE}
    options.update(classes=[BACKGROUND, *tier(benchmark)[1]], cache_dir=root.parent / "cache")
    return {
        "train": ADE20K(root, "train", hflip_prob=0.5, **options),
        "test": ADE20K(root, "mtest", **options),
    }


def written_coco(
    root: str | os.PathLike[str],
    train_images: int,
    test_images: int,
    seed: int = 0,
    benchmark: str = "easy",
) -> dict[str, COCODetection]:
    """The benchmark (its tier ``benchmark``) in COCO format at ``root`` (written once, as
    :func:`written_benchmark`), through the COCO detection loader: ``"train"`` (random flips)
    and ``"test"``."""
    root = Path(root)
    splits = {"train": train_images, "test": test_images}
    stamp = root / "written.json"
    wanted: dict[str, Any] = {"splits": splits, "seed": seed}
    if benchmark != "easy":
        wanted["benchmark"] = benchmark
    if not stamp.exists() or json.loads(stamp.read_text()) != wanted:
        write_coco(root, splits, seed=seed, benchmark=benchmark)
        write_atomic(stamp, json.dumps(wanted) + "\n")
    return {
        split: COCODetection(
            root / "images",
            coco_annotations(root, split),
            hflip_prob=0.5 if split == "train" else 0.0,
        )
        for split in splits
    }


def coco_annotations(root: str | os.PathLike[str], split: str) -> Path:
    """The annotation file of ``split`` in the COCO copy at ``root``."""
    return Path(root) / "annotations" / f"instances_{split}.json"


def written_corpus(root: str | os.PathLike[str], scenes: int, seed: int) -> Path:
    """The long-tail tier's annotation-only corpus of ``scenes`` scenes drawn from ``seed``,
    ``root/annotations/corpus.json`` (written once; a stamp records what), and beside it
    ``synsets.json``, each class's synset, for ``knowledge-graphs build --overrides``."""
    path = Path(root) / "annotations" / "corpus.json"
    stamp = path.with_name("corpus.written.json")
    wanted = {"scenes": scenes, "seed": seed}
    if not path.exists() or not stamp.exists() or json.loads(stamp.read_text()) != wanted:
        long_tail.write_corpus(path, seed, scenes)
        write_atomic(path.with_name("synsets.json"), json.dumps(long_tail.CLASSES, indent=2))
        write_atomic(stamp, json.dumps(wanted) + "\n")
    return path


def class_graph(
    root: str | os.PathLike[str] | None,
    lexicon: Any = None,
    benchmark: str = "easy",
    relations: GraphRelations = "both",
    statistics: str | os.PathLike[str] | None = None,
) -> Any:
    """The benchmark's class graph: WordNet's relations for its synsets and, given the
    ADE-format copy at ``root``, what its training annotations give: for the easy tier the
    part-of pairs annotated there (``_parts_1.png``), for the others the box statistics
    (co-occurrence and places). ``statistics``: a COCO annotation file whose box statistics
    are mined instead (the long-tail tier's training file or its annotation-only corpus).
    ``relations`` keeps WordNet's, the mined, or both."""

    _, synsets = tier(benchmark)
    names = list(synsets)
    where = None if root is None else Path(root)
    if statistics is not None:
        graph = coco_class_graph(statistics, relations, lexicon=lexicon, synsets=synsets)
        if list(graph.classes) != names:
            raise ValueError(f"{statistics}: its categories are not the tier's classes, in order")
        return graph
    if benchmark == "easy":
        return _easy_graph(names, where, lexicon, relations)

    def train_images() -> Any:
        assert where is not None
        dataset = ADE20K(
            where,
            "train",
            classes=[BACKGROUND, *names],
            cache_dir=where.parent / "cache",
            progress=False,
        )
        return record_images(dataset.records)

    return dataset_class_graph(
        names,
        train_images if where is not None else None,
        f"the synthetic benchmark's {benchmark} tier",
        relations,
        lexicon=lexicon,
        overrides=synsets,
    )


def _easy_graph(
    names: list[str], root: Path | None, lexicon: Any, relations: GraphRelations
) -> Any:

    mined = None
    if root is not None and relations != "wordnet":
        images = sorted(str(p) for p in root.glob("images/training/*/*/*.jpg"))
        mined = {"annotated_part_of": ade_part_of(names, ade_part_counts(images))}
    return build_class_graph(
        names,
        BUILDABLE if relations != "mined" else (),
        lexicon=lexicon,
        overrides={name: synset for name, (synset, _) in CLASSES.items()},
        similar_k=3,
        dataset_relations=mined,
        source="the synthetic benchmark's classes",
    )


def convnet(num_classes: int, width: int = 16) -> SmallConvNetClassifier:
    """The benchmark's ConvNet: features of ``4 * width`` channels at stride 16, region
    features of ``8 * width``."""
    return SmallConvNetClassifier(num_classes, width=width, region_channels=8 * width)


def head_widths(width: int = 16) -> dict[str, Any]:
    """The widths of the benchmark's heads, scaled with the ConvNet's first ``width``."""
    return {
        "memory_channels": 4 * width,
        "fc_channels": 16 * width,
        "hidden_channels": 8 * width,
    }


def head(
    model: str,
    num_classes: int,
    class_relations: ClassRelations,
    width: int = 16,
    **options: Any,
) -> IterativeReasoningHead:
    """A head of the paper's design with widths for :func:`convnet`; ``options`` go to
    :meth:`~iterative_reasoning.nn.IterativeReasoningHead.paper` (e.g. ``overlaps=True``)."""
    return IterativeReasoningHead.paper(
        model,
        num_classes=num_classes,
        class_relations=class_relations,
        feature_channels=4 * width,
        region_channels=8 * width,
        **head_widths(width),
        **options,
    )


#: The detectors the detection benchmark compares with and without the head.
FAMILIES = ("faster_rcnn", "rt_detr", "yolo")


def detector_schedule(family: str = "faster_rcnn") -> TrainConfig:
    """The detection benchmark's detector schedule, from scratch: SGD with a warmup for the
    Faster R-CNN; RT-DETR's recipe (AdamW, gradients clipped at 0.1); and what ultralytics'
    trainer picks for a YOLO run this short (``optimizer="auto"``: AdamW at
    ``0.002 * 5 / (4 + K)``, gradients clipped at 10 as its trainer does)."""
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {FAMILIES}, got {family!r}")
    common: dict[str, Any] = {"batch_size": 4, "checkpoint_every": 100, "log_every": 10}
    if family == "faster_rcnn":
        return TrainConfig(steps=600, lr=0.02, lr_steps=(480,), warmup_steps=50, **common)
    adamw: dict[str, Any] = {"steps": 1500, "lr_steps": (1200,), "warmup_steps": 100}
    adamw.update(optimizer="adamw", **common)
    if family == "rt_detr":
        return TrainConfig(lr=4e-4, weight_decay=1e-4, clip_grad_norm=0.1, **adamw)
    return TrainConfig(lr=6e-4, weight_decay=5e-4, clip_grad_norm=10.0, **adamw)


def detection_head_schedule() -> TrainConfig:
    """The head's schedule on the frozen detector."""
    return TrainConfig(
        steps=300, batch_size=4, lr=0.01, lr_steps=(240,), checkpoint_every=100, log_every=10
    )


def fallback_schedule() -> TrainConfig:
    """The fit of the head's fallback gate (one number per class) on the held-out images:
    AdamW without weight decay, 100 steps of 4 images."""
    return TrainConfig(
        steps=100,
        batch_size=4,
        lr=0.05,
        weight_decay=0.0,
        lr_steps=(80,),
        optimizer="adamw",
        checkpoint_every=50,
        log_every=10,
    )
