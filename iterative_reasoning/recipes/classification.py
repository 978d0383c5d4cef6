"""Region classification runs (the paper's task: classify given boxes): the dataset of a split
and the model, for ADE20K, Visual Genome, any COCO-format data and the synthetic benchmark."""

from __future__ import annotations

from typing import Any

from torch.utils.data import Dataset

from iterative_reasoning.data import ADE20K, COCODataset, VisualGenome, coco_categories
from iterative_reasoning.data.synthetic import tier
from iterative_reasoning.graph import ClassRelations
from iterative_reasoning.models.region import RegionModel
from iterative_reasoning.recipes import synthetic
from iterative_reasoning.recipes.graph import run_class_graph
from iterative_reasoning.recipes.spec import RunSpec
from knowledge_graphs.class_graph import BACKGROUND


def region_classes(spec: RunSpec, split: str) -> tuple[list[str], Any]:
    """The run's classes (background first) and its class graph (``None`` for the synthetic
    benchmark's baseline, which needs none): the synthetic tier's classes, a COCO file's
    categories, or for ADE20K and Visual Genome the graph's classes."""
    if spec.dataset == "synthetic":
        classes = [BACKGROUND, *tier(spec.benchmark)[1]]
        if spec.model == "baseline":
            return classes, None
        return classes, run_class_graph(spec, split, classes)
    if spec.dataset == "coco":
        if spec.annotations is None:
            raise ValueError("--annotations (the COCO annotation file of the split) is needed")
        classes = [BACKGROUND, *coco_categories(spec.annotations)]
        return classes, run_class_graph(spec, split, classes)
    graph = run_class_graph(spec, split)
    return [BACKGROUND, *graph.classes], graph


def region_dataset(spec: RunSpec, split: str, classes: list[str]) -> Dataset[Any]:
    """The images and boxes of ``split`` (random flips in training), resized as the paper."""
    train = split == "train"
    if spec.dataset == "synthetic":
        written = synthetic.written_benchmark(
            spec.data_root, spec.num_images, spec.num_test_images, spec.seed, spec.benchmark
        )
        return written["train" if train else "test"]
    size: dict[str, Any] = {"min_size": spec.min_size, "max_size": max(1000, spec.min_size)}
    flip = 0.5 if train else 0.0
    if spec.dataset == "coco":
        if spec.write_masks and spec.model == "baseline":
            raise ValueError("--write-masks needs a model with a head, not the baseline")
        assert spec.annotations is not None
        return COCODataset(
            spec.data_root,
            spec.annotations,
            classes=classes,
            hflip_prob=flip,
            masks=spec.write_masks,
            **size,
        )
    cache: dict[str, Any] = {"cache_dir": spec.output_dir / "cache", "progress": spec.progress}
    if spec.dataset == "ade20k":
        return ADE20K(spec.data_root, split, classes=classes, hflip_prob=flip, **size, **cache)

    return VisualGenome(
        spec.data_root,
        split,
        classes=classes,
        hflip_prob=flip,
        split_file=spec.split_file,
        **size,
        **cache,
    )


def region_model(spec: RunSpec, num_classes: int, graph: Any) -> RegionModel:
    """The ConvNet with, but for the baseline, the head of ``spec.model``: the synthetic
    benchmark's small ConvNet and heads, else the paper's ResNet-50 (``spec.weights``) and
    heads."""
    relations = ClassRelations.from_class_graph(graph) if graph is not None else None
    if spec.dataset == "synthetic":
        convnet = synthetic.convnet(num_classes)  # first: a seed gives the demo's weights
        head = None
        if spec.model != "baseline":
            assert relations is not None
            head = synthetic.head(spec.model, num_classes, relations, size=spec.head_size)
        return RegionModel(convnet, head)
    return RegionModel.paper(
        spec.model,
        num_classes,
        relations,
        weights=spec.weights,
        write_masks=spec.write_masks,
        head_size=spec.head_size,
    )
