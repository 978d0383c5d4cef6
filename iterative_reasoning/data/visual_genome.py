"""Visual Genome region classification: objects of ``objects.json`` (v1.0, v1.2, v1.4) with
``image_data.json``; classes are synsets (or names) with at least a threshold of instances.
The large files are streamed, never loaded whole."""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from iterative_reasoning.data.ade20k import dataset_classes
from iterative_reasoning.data.graphs import dataset_class_graph
from iterative_reasoning.data.records import (
    ImageRecord,
    RecordCache,
    RecordDataset,
    default_cache_dir,
    file_fingerprint,
)
from iterative_reasoning.data.transforms import flip_permutation
from knowledge_graphs.builders.annotations import object_keys, record_images
from knowledge_graphs.builders.attributes import (
    ATTRIBUTE_DEFAULTS,
    attribute_similar_to,
    vg_attribute_counts,
)
from knowledge_graphs.builders.vg_relationships import (
    iter_json_array,
    vg_predicate_counts,
    vg_relations,
)
from knowledge_graphs.class_graph import BACKGROUND
from knowledge_graphs.files import open_append, write_atomic

if TYPE_CHECKING:
    from iterative_reasoning.data.graphs import GraphRelations

LabelBy = Literal["synset", "name"]
SPLITS: tuple[str, ...] = ("train", "val", "test", "all")


def vg_vocabulary(
    objects: str | os.PathLike[str],
    min_count: int = 5,
    label_by: LabelBy = "synset",
    aliases: Mapping[str, str] | None = None,
) -> list[str]:
    """``__background__`` and the synsets (or alias-resolved names) with at least ``min_count``
    objects in ``objects.json``, sorted; streamed."""
    counts: Counter[str] = Counter()
    for image in iter_json_array(objects):
        for obj in image.get("objects", ()):
            counts.update(set(_keys(obj, label_by, aliases or {})))
    return [BACKGROUND, *sorted(k for k, n in counts.items() if n >= min_count)]


def vg_class_graph(
    root: str | os.PathLike[str],
    min_count: int = 5,
    lexicon: Any = None,
    top_relationships: int = 10,
    progress: bool = False,
    relations: GraphRelations = "both",
    cache_dir: str | os.PathLike[str] | None = None,
    split_file: str | os.PathLike[str] | None = None,
) -> Any:
    """The class graph of the synsets with at least ``min_count`` objects in
    ``root/objects.json``: WordNet's relations between them (offline) and what the annotations
    give: the box statistics of the training split (co-occurrence and relative places), the
    ``top_relationships`` most frequent predicates of ``root/relationships.json`` as the
    paper's VG graph, and the attribute similarity of ``root/attributes.json``, each where the
    file is there (a :class:`~knowledge_graphs.class_graph.ClassGraph`). What is mined comes
    from the training split alone (the first 70 % of ``image_data.json``) when
    ``image_data.json`` is there, else from every image.

    Args:
        relations: ``"wordnet"``, ``"mined"`` or ``"both"``
            (:data:`~iterative_reasoning.data.graphs.GRAPH_RELATIONS`).
        cache_dir: where the training split's parsed records are kept.
        split_file: the split file of :class:`VisualGenome`, whose ``train`` images are mined.
    """

    root = Path(root)
    synsets = vg_vocabulary(root / "objects.json", min_count)[1:]
    has_images = (root / "image_data.json").exists()

    def training_images() -> Any:
        dataset = VisualGenome(
            root,
            "train",
            classes=[BACKGROUND, *synsets],
            split_file=split_file,
            cache_dir=cache_dir,
            progress=progress,
        )
        return record_images(dataset.records)

    def mined() -> tuple[dict[str, Any], dict[str, Any]]:

        found: dict[str, Any] = {}
        about: dict[str, Any] = {}
        train = None
        if has_images:
            ordered = list(_image_data(root / "image_data.json"))
            train = set(_split_ids(ordered, "train", split_file))
        if (root / "relationships.json").exists():
            counts = vg_predicate_counts(
                root / "relationships.json", synsets, progress=progress, image_ids=train
            )
            predicates = vg_relations(counts, top=top_relationships)
            found.update(predicates)
            about["predicates"] = {"source": "relationships.json", "top": top_relationships}
        if (root / "attributes.json").exists():
            described = vg_attribute_counts(
                root / "attributes.json", synsets, progress=progress, image_ids=train
            )
            edges = attribute_similar_to(described, len(synsets))
            found["attribute_similar_to"] = edges
            about["attribute_similar_to"] = {
                "source": "attributes.json",
                "parameters": ATTRIBUTE_DEFAULTS,
                "edges": len(edges),
            }
        return found, about

    return dataset_class_graph(
        synsets,
        training_images if has_images else None,
        f"Visual Genome ({root.name})",
        relations,
        lexicon=lexicon,
        mined=mined,
        progress=progress,
    )


class VisualGenome(RecordDataset):
    """Visual Genome objects as regions to classify.

    ``root`` holds ``objects.json`` and ``image_data.json`` (any of v1.0, v1.2, v1.4) and the
    images under the folders of their URLs (``VG_100K/``, ``VG_100K_2/``). Each object gives a
    region per class it names: its synsets (``label_by="synset"``, the paper's; an object with
    two class synsets gives two regions, as the original) or its first name after
    ``aliases``. Boxes are clipped to the image; boxes that are then empty are dropped.

    Args:
        root: the dataset directory.
        split: ``train``, ``val``, ``test`` or ``all``.
        classes: class keys (synsets or names), background first; by default every key with
            ``min_count`` objects (:func:`vg_vocabulary`, a streamed pass, cached).
        min_count: the class threshold.
        label_by: ``"synset"`` or ``"name"``.
        aliases: name -> canonical name (``load_aliases(object_alias.txt)``), for names.
        split_file: JSON ``{"train": [image ids], "val": [...], "test": [...]}`` (e.g. sg2im's
            ``vg_splits.json``); without it the first 70 % of ``image_data.json`` is train, the
            next 10 % val and the rest test.
        min_size, max_size, hflip_prob: the resize and flip of :class:`ADE20K`.
        cache_dir: where the vocabulary and the parsed records are kept (by default a folder
            of the user's, :func:`~iterative_reasoning.data.records.default_cache_dir`).
        progress: show progress bars.
    """

    check_size = False  # image_data.json sizes are not checked against the files

    def __init__(
        self,
        root: str | os.PathLike[str],
        split: str = "train",
        classes: Sequence[str] | None = None,
        min_count: int = 5,
        label_by: LabelBy = "synset",
        aliases: Mapping[str, str] | None = None,
        split_file: str | os.PathLike[str] | None = None,
        min_size: int = 600,
        max_size: int = 1000,
        hflip_prob: float = 0.0,
        cache_dir: str | os.PathLike[str] | None = None,
        progress: bool = False,
    ) -> None:
        self.root = Path(root)
        objects, image_data = self.root / "objects.json", self.root / "image_data.json"
        for path in (objects, image_data):
            if not path.is_file():
                raise FileNotFoundError(f"Visual Genome: {path} is missing")
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        if label_by not in ("synset", "name"):
            raise ValueError(f"label_by must be 'synset' or 'name', got {label_by!r}")
        self.label_by: LabelBy = label_by
        self.aliases = dict(aliases or {})
        cache = Path(cache_dir or default_cache_dir(self.root))
        # caches are keyed by the size and time of the files they summarise: never stale
        self._fingerprint = file_fingerprint(objects, image_data)
        self.classes = dataset_classes(classes, lambda: self._vocabulary(cache, min_count))
        self.class_index = {c: i for i, c in enumerate(self.classes)}
        self.min_size, self.max_size, self.hflip_prob = min_size, max_size, hflip_prob
        self.flip = flip_permutation(self.classes)
        images = _image_data(image_data)
        ids = _split_ids(list(images), split, split_file)
        key = json.dumps(
            [label_by, sorted(self.aliases.items()), self.classes, ids, self._fingerprint]
        )
        digest = hashlib.sha256(key.encode()).hexdigest()[:12]
        records = RecordCache(cache / f"visual_genome_{split}_{digest}.jsonl")
        parsed = self._parse(objects, images, ids, records, progress)
        self._keep(
            [parsed.get(str(i)) for i in ids],
            f"Visual Genome {split}",
            "no image has a region of the classes",
        )

    def _vocabulary(self, cache: Path, min_count: int) -> list[str]:
        key = json.dumps([self.label_by, min_count, sorted(self.aliases.items())])
        digest = hashlib.sha256(f"{key}{self._fingerprint}".encode()).hexdigest()[:12]
        path = cache / f"visual_genome_vocabulary_{self.label_by}_{min_count}_{digest}.txt"
        if path.is_file():
            return path.read_text(encoding="utf-8").splitlines()
        classes = vg_vocabulary(self.root / "objects.json", min_count, self.label_by, self.aliases)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, "\n".join(classes))
        return classes

    def _parse(
        self,
        objects: Path,
        images: Mapping[int, Mapping[str, Any]],
        ids: Sequence[int],
        cache: RecordCache,
        progress: bool,
    ) -> dict[str, ImageRecord | None]:
        done = cache.load()
        wanted = {i for i in ids if str(i) not in done}
        if not wanted:
            return done
        stream: Iterator[Any] = iter_json_array(objects)
        if progress:
            from tqdm import tqdm

            stream = iter(tqdm(stream, total=len(images), desc="Visual Genome objects"))
        cache.path.parent.mkdir(parents=True, exist_ok=True)
        with open_append(cache.path) as f:
            for entry in stream:
                image_id = entry.get("image_id", entry.get("id"))
                if image_id not in wanted:
                    continue
                if image_id not in images:
                    raise ValueError(f"{objects}: image {image_id} is not in image_data.json")
                record = self._record(images[image_id], entry.get("objects", ()))
                f.write(
                    json.dumps(
                        {"key": str(image_id), "record": record.to_json() if record else None}
                    )
                    + "\n"
                )
                f.flush()
                done[str(image_id)] = record
                wanted.discard(image_id)
        if wanted:
            raise ValueError(
                f"{objects} has no objects for {len(wanted)} image(s), e.g. {min(wanted)}"
            )
        return done

    def _record(
        self, image: Mapping[str, Any], objects: Sequence[Mapping[str, Any]]
    ) -> ImageRecord | None:
        width, height = int(image["width"]), int(image["height"])
        boxes, labels = [], []
        for obj in objects:
            x, y, w, h = (float(obj[k]) for k in ("x", "y", "w", "h"))
            box = [max(x, 0.0), max(y, 0.0), min(x + w, width), min(y + h, height)]
            if box[2] - box[0] < 1 or box[3] - box[1] < 1:
                continue  # degenerate after clipping
            for key in _keys(obj, self.label_by, self.aliases):
                label = self.class_index.get(key)
                if label is not None:
                    boxes.append(box)
                    labels.append(label)
        if not boxes:
            return None
        image_id = int(image.get("image_id", image.get("id", -1)))
        return ImageRecord(
            str(image_id),
            str(_image_path(self.root, image, image_id)),
            height,
            width,
            np.asarray(boxes, np.float32),
            np.asarray(labels, np.int64),
        )


def _keys(obj: Mapping[str, Any], label_by: LabelBy, aliases: Mapping[str, str]) -> list[str]:
    return object_keys(obj, label_by == "synset", aliases)


def _image_data(path: Path) -> dict[int, dict[str, Any]]:
    images = {}
    for number, image in enumerate(iter_json_array(path)):
        try:
            image_id = int(image.get("image_id", image.get("id")))
            int(image["width"]), int(image["height"])
        except (TypeError, KeyError, ValueError) as error:
            raise ValueError(
                f"{path}: record {number} has no image id, width or height ({error})"
            ) from error
        images[image_id] = image
    return images


def _split_ids(
    ordered: list[int], split: str, split_file: str | os.PathLike[str] | None
) -> list[int]:
    if split == "all":
        return ordered
    if split_file is not None:
        splits = json.loads(Path(split_file).read_text(encoding="utf-8"))
        if split not in splits:
            raise ValueError(f"{split_file} has no {split!r} split; it has {list(splits)}")
        known = set(ordered)
        ids = [int(i) for i in splits[split]]
        missing = [i for i in ids if i not in known]
        if missing:
            raise ValueError(
                f"{split_file}: {len(missing)} {split} image(s) are not in image_data.json, "
                f"e.g. {missing[0]}"
            )
        return ids
    n = len(ordered)
    bounds = {
        "train": (0, int(0.7 * n)),
        "val": (int(0.7 * n), int(0.8 * n)),
        "test": (int(0.8 * n), n),
    }
    start, end = bounds[split]
    return ordered[start:end]


def _image_path(root: Path, image: Mapping[str, Any], image_id: int) -> Path:
    url = str(image.get("url") or image.get("image_url") or "")
    parts = url.rstrip("/").split("/")
    if len(parts) >= 2 and parts[-2].startswith("VG_100K"):
        return root / parts[-2] / parts[-1]
    return root / "images" / f"{image_id}.jpg"
