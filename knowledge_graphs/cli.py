"""``knowledge-graphs``: build a class graph from a list of class names, and inspect one.

knowledge-graphs build --classes classes.txt --out graph.json.gz
knowledge-graphs build --classes ade20k --relations is_kind_of is_part_of --out ade.json
knowledge-graphs build --classes-from-coco instances_train.json --out my_graph.json.gz
knowledge-graphs build --classes-from-coco train.json --cooccurrence-from-coco train.json --out g.gz
knowledge-graphs show graph.json.gz --class car [--plot car.png]
knowledge-graphs show visual_genome
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path
from typing import Any

from knowledge_graphs.build import BUILDABLE, build_class_graph
from knowledge_graphs.builders import annotations as read
from knowledge_graphs.builders.ade_parts import ade_part_counts, ade_part_of
from knowledge_graphs.builders.attributes import (
    ATTRIBUTE_DEFAULTS,
    attribute_similar_to,
    vg_attribute_counts,
)
from knowledge_graphs.builders.statistics import (
    COOCCURRENCE_DEFAULTS,
    PLACE_DEFAULTS,
    mine_statistics,
    mined_support,
)
from knowledge_graphs.builders.vg_relationships import (
    load_aliases,
    vg_predicate_counts,
    vg_relations,
)
from knowledge_graphs.class_graph import ClassGraph, GraphFileError
from knowledge_graphs.coco_file import coco_category_names
from knowledge_graphs.plot import plot_neighbourhood
from knowledge_graphs.ready_made import READY_MADE, load_ready_made, overrides, senses, vocabulary
from knowledge_graphs.relations import ATTRIBUTE_SIMILAR_TO
from knowledge_graphs.resolution import resolve_classes
from knowledge_graphs.wordnet import WordNetNotFoundError, load_wordnet


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="knowledge-graphs", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="build a class graph from class names")
    names = build.add_mutually_exclusive_group(required=True)
    names.add_argument(
        "--classes",
        help="a file with one class name a line (optionally a tab and its count; '#' comments), "
        f"or a shipped vocabulary: {', '.join(READY_MADE)}",
    )
    names.add_argument(
        "--classes-from-coco",
        type=Path,
        metavar="FILE",
        help="a COCO annotation file: its categories, in category-id order",
    )
    build.add_argument("--out", required=True, type=Path, help="the graph file (.json or .json.gz)")
    build.add_argument(
        "--relations",
        nargs="*",
        default=list(BUILDABLE),
        choices=BUILDABLE,
        help="the WordNet and name relations to build (none: give the option alone)",
    )
    build.add_argument("--wordnet", help="a WordNet 3.0 dictionary directory")
    build.add_argument("--overrides", type=Path, help="JSON: class name -> synset (or null)")
    build.add_argument("--no-senses", action="store_true", help="without the shipped sense table")
    build.add_argument("--similar-k", type=int, default=5)
    build.add_argument("--similarity", choices=("wup", "lin"))
    build.add_argument(
        "--ade-parts", type=Path, help="a file listing ADE20K image paths: mine part-of from them"
    )
    build.add_argument("--vg-relationships", type=Path, help="Visual Genome relationships.json")
    build.add_argument("--vg-object-aliases", type=Path, help="VG object_alias.txt")
    build.add_argument("--vg-predicate-aliases", type=Path, help="VG relationship_alias.txt")
    build.add_argument("--vg-top", type=int, default=10, help="most frequent predicates to keep")
    mined = build.add_argument_group(
        "statistics from box annotations (co_occurs_with, box_above / left_of / inside)"
    )
    sources = mined.add_mutually_exclusive_group()
    sources.add_argument(
        "--cooccurrence-from-coco",
        "--statistics-from-coco",
        dest="coco_statistics",
        type=Path,
        metavar="FILE",
        help="a COCO-format annotation file (categories matched to the classes by name)",
    )
    sources.add_argument(
        "--cooccurrence-from-ade",
        "--statistics-from-ade",
        dest="ade_statistics",
        type=Path,
        metavar="ROOT",
        help="an ADE20K root (2016 or 2021 release); the split is --ade-split",
    )
    sources.add_argument(
        "--cooccurrence-from-vg",
        "--statistics-from-vg",
        dest="vg_statistics",
        type=Path,
        metavar="FILE",
        help="Visual Genome objects.json (streamed)",
    )
    mined.add_argument(
        "--ade-split",
        default="train",
        help="ADE20K split to count: a split file's name (2016: train, val, mval, mtest), or the "
        "release's folders: training, validation, all (2021's train and val are its folders) "
        "(%(default)s)",
    )
    together, places = COOCCURRENCE_DEFAULTS, PLACE_DEFAULTS
    mined.add_argument("--cooccurrence-threshold", type=float, default=together["threshold"])
    mined.add_argument("--cooccurrence-top-k", type=int, default=together["top_k"])
    mined.add_argument("--cooccurrence-min-images", type=int, default=together["min_images"])
    mined.add_argument("--place-min-frequency", type=float, default=places["min_frequency"])
    mined.add_argument("--place-min-pairs", type=int, default=places["min_pairs"])
    mined.add_argument(
        "--place-min-images",
        type=int,
        default=places["min_images"],
        help="images a box place must rest on (%(default)s)",
    )
    mined.add_argument(
        "--vg-attributes",
        type=Path,
        metavar="FILE",
        help="Visual Genome attributes.json: attribute_similar_to (streamed)",
    )
    mined.add_argument("--attribute-top-k", type=int, default=ATTRIBUTE_DEFAULTS["top_k"])
    mined.add_argument("--attribute-threshold", type=float, default=ATTRIBUTE_DEFAULTS["threshold"])
    show = commands.add_parser("show", help="summarise a graph, or a class's neighbours")
    show.add_argument("graph", help=f"a graph file, or a shipped graph: {', '.join(READY_MADE)}")
    show.add_argument("--class", dest="name", help="list this class's neighbours by relation")
    show.add_argument("--relation", help="only this relation")
    show.add_argument("--plot", type=Path, help="draw the class's neighbourhood to this image")
    args = parser.parse_args(argv)
    try:
        if args.command == "build":
            _flag_without_effect(args, build)
            return _build(args)
        return _show(args)
    except (WordNetNotFoundError, GraphFileError, FileNotFoundError, ValueError, KeyError) as e:
        print(f"knowledge-graphs: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # a directory where a file is meant, no permission, a full disk...
        where = f"{e.filename}: " if e.filename else ""
        print(f"knowledge-graphs: error: {where}{e.strerror or e}", file=sys.stderr)
        return 2


def _statistics(args: argparse.Namespace) -> bool:
    return any(
        getattr(args, k) is not None for k in ("coco_statistics", "ade_statistics", "vg_statistics")
    )


#: The options of ``build`` that apply to some builds only: option -> (the builds it applies
#: to, in words; whether it applies to ``args``).
ONLY_FOR: dict[str, tuple[str, Any]] = {
    "similar_k": ("--relations with similar_to", lambda a: "similar_to" in a.relations),
    "similarity": ("--relations with similar_to", lambda a: "similar_to" in a.relations),
    "vg_top": ("--vg-relationships", lambda a: a.vg_relationships is not None),
    "vg_predicate_aliases": ("--vg-relationships", lambda a: a.vg_relationships is not None),
    "vg_object_aliases": (
        "--vg-relationships or --cooccurrence-from-vg",
        lambda a: a.vg_relationships is not None or a.vg_statistics is not None,
    ),
    "ade_split": ("--cooccurrence-from-ade", lambda a: a.ade_statistics is not None),
    "cooccurrence_threshold": ("a --cooccurrence-from-* source", _statistics),
    "cooccurrence_top_k": ("a --cooccurrence-from-* source", _statistics),
    "cooccurrence_min_images": ("a --cooccurrence-from-* source", _statistics),
    "place_min_frequency": ("a --cooccurrence-from-* source", _statistics),
    "place_min_pairs": ("a --cooccurrence-from-* source", _statistics),
    "place_min_images": ("a --cooccurrence-from-* source", _statistics),
    "attribute_top_k": ("--vg-attributes", lambda a: a.vg_attributes is not None),
    "attribute_threshold": ("--vg-attributes", lambda a: a.vg_attributes is not None),
    "overrides": ("a WordNet relation in --relations", lambda a: bool(a.relations)),
    "no_senses": ("a WordNet relation in --relations", lambda a: bool(a.relations)),
}


def _flag_without_effect(args: argparse.Namespace, build: argparse.ArgumentParser) -> None:
    """Raise ``ValueError`` for an option given (other than its default) to a build it does
    not apply to."""
    for name, (where, applies) in ONLY_FOR.items():
        if getattr(args, name) != build.get_default(name) and not applies(args):
            flag = "--" + name.replace("_", "-")
            raise ValueError(f"{flag} applies to {where} only; this build has no use for it")


def _read_classes(spec: str) -> tuple[list[str], list[int] | None, str]:
    if spec in READY_MADE:
        names, counts = vocabulary(spec)
        return names, counts, READY_MADE[spec][2]
    path = Path(spec)
    if not path.is_file():
        raise FileNotFoundError(
            f"--classes {spec!r} is neither a file nor one of {list(READY_MADE)}"
        )
    names, counts = [], []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        names.append(fields[0].strip())
        if len(fields) > 1:
            try:
                counts.append(int(fields[1]))
            except ValueError:
                raise ValueError(
                    f"{path}, line {number}: the count {fields[1]!r} is not an integer"
                ) from None
    if counts and len(counts) != len(names):
        raise ValueError(f"{path}: give a count on every line or on none")
    return names, counts or None, str(path)


def _build(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    if args.out.is_dir():
        raise ValueError(
            f"--out {args.out} is a directory; give a file, e.g. {args.out / 'graph.json.gz'}"
        )
    if args.classes_from_coco is not None:
        names, counts, source = coco_category_names(args.classes_from_coco), None, "COCO categories"
        source = f"{source} of {args.classes_from_coco.name}"
    else:
        names, counts, source = _read_classes(args.classes)
    lexicon = load_wordnet(args.wordnet) if args.relations else None
    table = dict(overrides(names))
    if args.overrides:
        table.update(json.loads(args.overrides.read_text(encoding="utf-8")))
    sense_table = {} if args.no_senses else senses()
    if lexicon is not None:
        print(resolve_classes(names, lexicon, table, senses=sense_table).report())
    dataset, mined = _mined_statistics(args, names)
    if args.ade_parts:
        images = [line.strip() for line in args.ade_parts.read_text().splitlines() if line.strip()]
        dataset["annotated_part_of"] = ade_part_of(names, ade_part_counts(images, progress=True))
    if args.vg_relationships:
        counted = vg_predicate_counts(
            args.vg_relationships,
            names,
            load_aliases(args.vg_object_aliases) if args.vg_object_aliases else None,
            load_aliases(args.vg_predicate_aliases) if args.vg_predicate_aliases else None,
            progress=True,
        )
        dataset.update(vg_relations(counted, args.vg_top))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the unresolved names are in the report above
        graph = build_class_graph(
            names,
            args.relations,
            lexicon,
            overrides=table,
            senses=sense_table,
            counts=counts,
            similar_k=args.similar_k,
            similarity=args.similarity,
            dataset_relations=dataset,
            source=source,
            dataset_provenance=mined,
        )
    graph.save(args.out)
    print(graph.summary())
    print(f"wrote {args.out} in {time.perf_counter() - start:.1f} s")
    return 0


def _mined_statistics(
    args: argparse.Namespace, names: list[str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The statistics relations the options ask for, and their provenance."""

    relations: dict[str, Any] = {}
    provenance: dict[str, Any] = {}
    images, source = None, None
    if args.coco_statistics is not None:
        categories, found = read.coco_images(args.coco_statistics)
        images, source = read.remap_images(found, categories, names), str(args.coco_statistics)
    elif args.ade_statistics is not None:
        images = read.ade_images(args.ade_statistics, names, args.ade_split)
        source = f"{args.ade_statistics} ({args.ade_split})"
    elif args.vg_statistics is not None:
        aliases = None
        if args.vg_object_aliases:
            aliases = load_aliases(args.vg_object_aliases)
        images, source = read.vg_images(args.vg_statistics, names, aliases), str(args.vg_statistics)
    if images is not None and source is not None:
        found_relations, found_provenance = mine_statistics(
            images,
            len(names),
            source,
            cooccurrence={
                "threshold": args.cooccurrence_threshold,
                "top_k": args.cooccurrence_top_k,
                "min_images": args.cooccurrence_min_images,
            },
            places={
                "min_frequency": args.place_min_frequency,
                "min_pairs": args.place_min_pairs,
                "min_images": args.place_min_images,
            },
            progress="box statistics",
        )
        relations.update(found_relations)
        provenance["statistics"] = found_provenance
    if args.vg_attributes is not None:
        if not args.vg_attributes.is_file():
            raise FileNotFoundError(f"--vg-attributes: {args.vg_attributes} is missing")
        counts = vg_attribute_counts(args.vg_attributes, names, progress=True)
        parameters = {
            **ATTRIBUTE_DEFAULTS,
            "top_k": args.attribute_top_k,
            "threshold": args.attribute_threshold,
        }
        edges = attribute_similar_to(counts, len(names), **parameters)
        relations[ATTRIBUTE_SIMILAR_TO] = edges
        provenance[ATTRIBUTE_SIMILAR_TO] = {
            "source": str(args.vg_attributes),
            "classes_described": len(counts),
            "parameters": parameters,
            "edges": len(edges),
        }
    return relations, provenance


def _show(args: argparse.Namespace) -> int:
    graph = load_ready_made(args.graph) if args.graph in READY_MADE else ClassGraph.load(args.graph)
    if args.name is None:
        print(graph.summary())
        print("\n".join(_mined_rules(graph.provenance)))
        if args.plot:
            raise ValueError("--plot needs --class")
        return 0
    i = graph.index(args.name)
    print(f"{args.name} (synset {graph.synsets[i]})")
    support = mined_support(graph.provenance)
    for relation, neighbours in graph.neighbours(args.name, args.relation).items():
        rests_on = support.get(relation, {})
        shown = []
        for n, w in neighbours:
            found = rests_on.get((i, graph.index(n)))
            on = "" if found is None else f"; {found[0]} images, {found[1]} box pairs"
            shown.append(f"{n} ({w:.3g}{on})")
        print(f"  {relation:<16} {', '.join(shown)}")
    if args.plot:
        plot_neighbourhood(graph, args.name, args.plot, relation=args.relation)
        print(f"wrote {args.plot}")
    return 0


def _mined_rules(provenance: dict[str, Any]) -> list[str]:
    """The sources and thresholds of a graph's mined statistics, as lines of text."""
    mined = provenance.get("mined", {}).get("statistics")
    if not mined:
        return []
    lines = [f"  statistics from {mined['source']}: {mined['images']} images"]
    for rule, parameters in mined.get("parameters", {}).items():
        shown = ", ".join(f"{k} {v}" for k, v in parameters.items())
        lines.append(f"    {rule}: {shown}")
    return lines


if __name__ == "__main__":
    sys.exit(main())
