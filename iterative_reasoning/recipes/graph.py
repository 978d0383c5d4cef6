"""The class graph of a run: the file given, or the run's own ``class_graph.json.gz``, built
once from WordNet and the training annotations with the options it was asked for, and refused
when a later run of the same directory asks for others."""

from __future__ import annotations

from typing import Any

from iterative_reasoning.data import coco_categories
from iterative_reasoning.data.graphs import ade20k_class_graph, coco_class_graph
from iterative_reasoning.data.visual_genome import vg_class_graph
from iterative_reasoning.engine.distributed import process_group
from iterative_reasoning.recipes import synthetic
from iterative_reasoning.recipes.spec import RunSpec
from knowledge_graphs.class_graph import ClassGraph
from knowledge_graphs.ready_made import load_ready_made, vocabulary
from knowledge_graphs.wordnet import WordNetNotFoundError

GRAPH_FILE = "class_graph.json.gz"


def run_class_graph(spec: RunSpec, split: str, classes: list[str] | None = None) -> Any:
    """``spec.graph``, else ``spec.output_dir/class_graph.json.gz``, else the graph built for
    the run (saved there by process 0). With ``classes`` (background first), the graph's
    classes must be the rest of them, in order."""

    if spec.graph is not None:
        graph = ClassGraph.load(spec.graph)
    else:
        cached = spec.output_dir / GRAPH_FILE
        recipe = _recipe(spec)
        if cached.exists():
            graph = ClassGraph.load(cached)
            built = graph.provenance.get("run", recipe)
            if built != recipe:
                raise ValueError(
                    f"{cached} was built with {_options(built)}, not {_options(recipe)}: give "
                    "the same options, or another --output-dir"
                )
        else:
            graph = _build(spec, split)
            graph.provenance["run"] = recipe

            if process_group()[0] == 0:  # every process builds the same; the first keeps it
                cached.parent.mkdir(parents=True, exist_ok=True)
                graph.save(cached)
    if classes is not None and list(graph.classes) != list(classes[1:]):
        raise ValueError(
            f"the class graph's {len(graph.classes)} classes are not the dataset's "
            f"{len(classes) - 1} (in order)"
        )
    return graph


def _recipe(spec: RunSpec) -> dict[str, Any]:
    recipe: dict[str, Any] = {
        "graph_relations": spec.graph_relations,
        "shipped_graph": spec.shipped_graph,
    }
    if spec.dataset == "synthetic" and spec.benchmark != "easy":
        recipe["benchmark"] = spec.benchmark
    return recipe


def _options(recipe: dict[str, Any]) -> str:
    shipped = " --shipped-graph" if recipe.get("shipped_graph") else ""
    tier = f" --benchmark {recipe['benchmark']}" if "benchmark" in recipe else ""
    return f"--graph-relations {recipe.get('graph_relations')}{shipped}{tier}"


def _build(spec: RunSpec, split: str) -> Any:

    try:
        return _built(spec, split)
    except WordNetNotFoundError as error:
        raise WordNetNotFoundError(
            f"{error} Or build the run's graph without WordNet: --graph-relations mined "
            "(ADE20K and COCO's 80 categories also have --shipped-graph)."
        ) from error


def _built(spec: RunSpec, split: str) -> Any:

    relations: Any = spec.graph_relations
    cache = spec.output_dir / "cache"
    if spec.shipped_graph and spec.dataset not in ("ade20k", "coco"):
        raise ValueError(
            f"--shipped-graph: no graph is shipped for a {spec.dataset} run's vocabulary; use "
            "--graph-relations wordnet"
        )
    if spec.dataset == "synthetic":
        # the COCO copy of detection has no part annotations: WordNet's relations alone, and
        # for the long-tail tier its training boxes' statistics
        root = spec.data_root if spec.task == "classification" else None
        statistics = None
        if spec.task == "detection" and spec.benchmark == "long_tail":
            statistics = synthetic.coco_annotations(spec.data_root, "train")
        return synthetic.class_graph(root, spec.lexicon, spec.benchmark, relations, statistics)
    if spec.dataset == "ade20k":
        if spec.shipped_graph:
            return load_ready_made("ade20k")

        return ade20k_class_graph(
            spec.data_root, relations, lexicon=spec.lexicon, cache_dir=cache, progress=True
        )
    if spec.dataset == "visual_genome":
        return vg_class_graph(
            spec.data_root,
            spec.min_count,
            spec.lexicon,
            progress=spec.progress,
            relations=relations,
            cache_dir=cache,
            split_file=spec.split_file,
        )
    return _coco_graph(spec, split)


def _coco_graph(spec: RunSpec, split: str) -> Any:
    """A COCO-format run's graph: WordNet's relations and the training file's box statistics
    (:func:`~iterative_reasoning.data.graphs.coco_class_graph`), or the shipped COCO-80 graph."""

    annotations = _annotations(spec)
    if spec.shipped_graph:
        names = coco_categories(annotations)
        if names != vocabulary("coco")[0]:
            raise ValueError(
                "--shipped-graph: the shipped COCO graph is for COCO's 80 categories; "
                f"{annotations} has {len(names)} others"
            )
        return load_ready_made("coco")
    if split != "train" and spec.graph_relations != "wordnet":
        raise ValueError(
            f"the run's class graph is mined from the training annotations, and "
            f"{spec.output_dir / GRAPH_FILE} is not there: train first, or give --graph, or "
            "--graph-relations wordnet"
        )
    return coco_class_graph(annotations, spec.graph_relations, lexicon=spec.lexicon)  # type: ignore[arg-type]


def _annotations(spec: RunSpec) -> Any:
    if spec.annotations is None:
        raise ValueError("--annotations (the COCO annotation file of the split) is needed")
    return spec.annotations
