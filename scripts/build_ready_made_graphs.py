"""Regenerate the ready-made class graphs shipped in knowledge_graphs/data/.

    python scripts/build_ready_made_graphs.py                       # graphs from the vocabularies
    python scripts/build_ready_made_graphs.py --samples ../shared/real_samples   # vocabularies too
    python scripts/build_ready_made_graphs.py --only imagenet21k      # one graph
    python scripts/build_ready_made_graphs.py --timm-info DIR         # ImageNet id lists too

The vocabularies come from the real dataset files: ADE's iter-reason objectnames.txt and
objectcounts.txt (the 1,484 names with count >= 5, spaces as underscores) and VG150's
object_list.txt with counts from VG-SGG-dicts-with-attri.json; ImageNet's WordNet id lists
from timm's timm/data/_info (imagenet_synsets.txt, imagenet12k_synsets.txt,
imagenet21k_goog_synsets.txt). The graphs are built offline from WordNet 3.0 with
knowledge_graphs.ready_made.build_ready_made.
"""

from __future__ import annotations

import argparse
import gzip
import json
import time
from pathlib import Path

from knowledge_graphs.ready_made import READY_MADE, build_ready_made
from knowledge_graphs.wordnet import load_wordnet

DATA = Path(__file__).resolve().parents[1] / "knowledge_graphs" / "data"


def write_vocabularies(samples: Path) -> None:
    split = samples / "ade20k" / "iter_reason_ADE_split"
    names = (split / "objectnames.txt").read_text(encoding="utf-8").splitlines()
    counts = (split / "objectcounts.txt").read_text(encoding="utf-8").splitlines()
    rows = [
        (n.strip().replace(" ", "_"), int(c))
        for n, c in list(zip(names, counts, strict=True))[1:]
        if int(c) >= 5
    ]
    header = "# ADE20K classes of the paper: iter-reason objectnames.txt, count >= 5\n"
    (DATA / "ade20k_vocabulary.tsv").write_text(
        header + "".join(f"{n}\t{c}\n" for n, c in rows), encoding="utf-8"
    )
    vg = samples / "visual_genome"
    names = (vg / "danfeiX_scene-graph-TF-release" / "object_list.txt").read_text().split()
    dicts = json.loads(
        (vg / "KaihuaTang_Scene-Graph-Benchmark" / "VG-SGG-dicts-with-attri.json").read_text()
    )
    header = "# Visual Genome VG150 object classes, counts from VG-SGG-dicts-with-attri.json\n"
    (DATA / "visual_genome_vocabulary.tsv").write_text(
        header + "".join(f"{n}\t{dicts['object_count'][n]}\n" for n in names), encoding="utf-8"
    )


TIMM_LISTS = {
    "imagenet1k": "imagenet_synsets.txt",
    "imagenet12k": "imagenet12k_synsets.txt",
    "imagenet21k": "imagenet21k_goog_synsets.txt",
}


def write_imagenet_lists(info: Path) -> None:
    """The WordNet id lists of timm's ``timm/data/_info``, gzipped (no timestamp)."""
    for name, source in TIMM_LISTS.items():
        text = (info / source).read_bytes()
        (DATA / f"{name}_wnids.txt.gz").write_bytes(gzip.compress(text, 9, mtime=0))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=Path, help="shared/real_samples, to redo vocabularies")
    parser.add_argument("--timm-info", type=Path, help="timm/data/_info, to redo ImageNet's ids")
    parser.add_argument("--only", nargs="+", choices=list(READY_MADE), help="these graphs only")
    parser.add_argument("--wordnet", help="a WordNet 3.0 dictionary directory")
    args = parser.parse_args(argv)
    if args.samples:
        write_vocabularies(args.samples)
    if args.timm_info:
        write_imagenet_lists(args.timm_info)
    lexicon = load_wordnet(args.wordnet)
    for name, (_, graph_file, _) in READY_MADE.items():
        if args.only and name not in args.only:
            continue
        start = time.perf_counter()
        graph = build_ready_made(name, lexicon)
        graph.save(DATA / graph_file)
        print(f"{name}: built in {time.perf_counter() - start:.1f} s -> {graph_file}")
        print(graph.summary())


if __name__ == "__main__":
    main()
