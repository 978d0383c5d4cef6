"""Which class graph serves the reasoning head on the synthetic benchmark: WordNet's relations,
the statistics mined from the benchmark's training annotations in COCO format (co-occurrence and
relative places of the boxes), or both.

The demo's run (:func:`iterative_reasoning.demos.classification.run_demo`: its data, ConvNet and
schedules); only the heads' class graph changes. The statistics are mined from
``instances_train.json`` as a user would mine their own
(:func:`~knowledge_graphs.builders.annotations.coco_images`); the training images are the demo's
(same generator, seed and split). The global and the final model are trained with each graph on the
same frozen ConvNet and evaluated on the demo's test split; the table gives the per-class AP and the
APs of the look-alike classes. Resumes what it finished.

    python benchmarks/class_graph_sources.py [--output-dir runs/class-graph-sources] [--scale 1]
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

warnings.filterwarnings("ignore", message=".*torch.jit.script.*")

from iterative_reasoning.data.synthetic import CLASSES, class_names  # noqa: E402
from iterative_reasoning.data.synthetic_formats import write_coco  # noqa: E402
from iterative_reasoning.demos.classification import DemoConfig, HeadFactory, run_demo  # noqa: E402
from iterative_reasoning.graph import ClassRelations  # noqa: E402
from iterative_reasoning.recipes import synthetic  # noqa: E402
from knowledge_graphs.build import build_class_graph  # noqa: E402
from knowledge_graphs.builders.annotations import coco_images, remap_images  # noqa: E402
from knowledge_graphs.builders.statistics import mine_statistics  # noqa: E402
from knowledge_graphs.class_graph import ClassGraph  # noqa: E402

GRAPHS = ("wordnet", "statistics", "both")


def graphs(out: Path, names: list[str], config: DemoConfig) -> dict[str, ClassGraph]:
    """The three graphs, built once into ``out``."""
    found = {}
    for kind in GRAPHS:
        path = out / f"graph_{kind}.json.gz"
        if path.exists():
            found[kind] = ClassGraph.load(path)
    if len(found) == len(GRAPHS):
        return found
    coco = write_coco(out / "coco", {"train": config.train_images}, seed=config.seed)
    annotations = coco / "annotations" / "instances_train.json"
    categories, images = coco_images(annotations)
    mined, provenance = mine_statistics(
        remap_images(images, categories, names), len(names), str(annotations.name)
    )
    wordnet = {
        "overrides": {name: synset for name, (synset, _) in CLASSES.items()},
        "similar_k": 3,
    }
    built = {
        "wordnet": build_class_graph(names, source="synthetic benchmark", **wordnet),
        "statistics": build_class_graph(
            names,
            relations=(),
            dataset_relations=mined,
            dataset_provenance={"statistics": provenance},
            source="synthetic benchmark",
        ),
        "both": build_class_graph(
            names,
            dataset_relations=mined,
            dataset_provenance={"statistics": provenance},
            source="synthetic benchmark",
            **wordnet,
        ),
    }
    for kind, graph in built.items():
        graph.save(out / f"graph_{kind}.json.gz")
    return built


def main(argv: list[str] | None = None) -> dict[str, dict[str, dict[str, float]]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output-dir", type=Path, default=Path("runs/class-graph-sources"))
    parser.add_argument("--scale", type=float, default=1.0, help="the demo's --scale")
    parser.add_argument("--models", nargs="+", default=["global", "final"])
    args = parser.parse_args(argv)
    config = DemoConfig(models=())  # the baseline, then the heads below only
    config = config if args.scale == 1.0 else config.scaled(args.scale)
    out = args.output_dir
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    names = class_names()[1:]
    built = graphs(out, names, config)
    for kind, graph in built.items():
        edges = {r: n for r, n in graph.num_edges().items() if n}
        print(f"{kind}: {edges}")
    heads: dict[str, HeadFactory] = {}
    for kind, graph in built.items():
        for model_name in args.models:
            heads[f"{model_name}-{kind}"] = _head(model_name, graph)
    result = run_demo(out, config, progress=False, figures=False, heads=heads)
    print(result.table)
    print(f"total {time.perf_counter() - start:.0f} s")
    return result.metrics


def _head(model: str, graph: ClassGraph) -> HeadFactory:
    """A head of the demo's design on ``graph`` (instead of the demo's own graph)."""
    relations = ClassRelations.from_class_graph(graph)
    return lambda num_classes, _, width: synthetic.head(model, num_classes, relations, width)


if __name__ == "__main__":
    main()
