"""A trained head as a shareable artifact: its weights in ``model.safetensors`` and what
rebuilds it in ``config.json`` (the arguments of
:meth:`~iterative_reasoning.nn.IterativeReasoningHead.paper`, the class relations it reasons
over, the class names and the class graph's provenance, the package version).

Loading reads JSON and safetensors only: nothing is unpickled, so a head from elsewhere cannot
run code. A directory is the artifact; with ``huggingface_hub`` installed (the ``hub`` extra),
a Hub repository id is one too (:func:`load_head` downloads it, :func:`push_head` uploads
one).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from safetensors.torch import load, save

from iterative_reasoning._version import __version__
from iterative_reasoning.graph.class_relations import ClassRelations
from knowledge_graphs import ClassGraph
from knowledge_graphs.class_graph import check_class_names
from knowledge_graphs.files import read_json, write_atomic

if TYPE_CHECKING:
    from iterative_reasoning.nn.reasoning_head import IterativeReasoningHead

#: What an artifact's ``config.json`` says it is.
FORMAT = "iterative-reasoning-head"
FORMAT_VERSION = 1
WEIGHTS = "model.safetensors"
CONFIG = "config.json"
#: Where the class relations go in ``model.safetensors`` (beside the weights).
_RELATIONS = "class_relations"


class PretrainedHeadError(ValueError):
    """A directory or file that is not an artifact of this package (of this format version)."""


def save_head(
    head: IterativeReasoningHead,
    directory: str | os.PathLike[str],
    classes: Sequence[str] | None = None,
    class_graph: Any = None,
) -> Path:
    """Write ``head`` to ``directory`` (``model.safetensors`` and ``config.json``); return
    the directory. See :meth:`~iterative_reasoning.nn.IterativeReasoningHead.save_pretrained`.
    """
    paper = getattr(head, "paper_config", None)
    if paper is None:
        raise ValueError(
            "save_pretrained rebuilds heads made by IterativeReasoningHead.paper (or "
            "reasoning_head_for, which calls it); this head was assembled from its modules"
        )
    classes = classes if classes is not None else getattr(head, "classes", None)
    if classes is not None:
        classes = check_class_names("classes", classes)
        if len(classes) != head.num_classes:
            raise ValueError(
                f"classes has {len(classes)} names but the head has {head.num_classes} classes "
                "(background first)"
            )
    tensors = {f"weights.{k}": v.detach().contiguous() for k, v in head.state_dict().items()}
    relations = head.global_.class_relations if head.global_ is not None else None
    if relations is not None:
        for i, (index, weight) in enumerate(relations.edges.values()):
            assert weight is not None  # filled in by ClassRelations
            tensors[f"{_RELATIONS}.{i}.edge_index"] = index.detach().cpu().contiguous()
            tensors[f"{_RELATIONS}.{i}.edge_weight"] = weight.detach().cpu().contiguous()
    config = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "package_version": __version__,
        "paper": paper,
        "dtype": str(next(head.parameters()).dtype).removeprefix("torch."),
        "class_relations": (
            {"num_classes": relations.num_classes, "names": list(relations.names)}
            if relations is not None
            else None
        ),
        "classes": classes,
        "class_graph": _graph_description(class_graph),
    }
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    write_atomic(directory / WEIGHTS, save({k: v.cpu() for k, v in tensors.items()}))
    write_atomic(directory / CONFIG, json.dumps(config, indent=2) + "\n")
    return directory


def load_head(
    cls: type[IterativeReasoningHead],
    source: str | os.PathLike[str],
    map_location: str | torch.device = "cpu",
) -> IterativeReasoningHead:
    """The head (of class ``cls``) saved at ``source``: a directory written by
    :func:`save_head`, or (with ``huggingface_hub``) a Hub repository id such as
    ``"user/name"``. See :meth:`~iterative_reasoning.nn.IterativeReasoningHead.from_pretrained`.
    """
    directory = _local(source)
    config = read_config(directory)
    weights = directory / WEIGHTS
    if not weights.is_file():
        raise PretrainedHeadError(f"{directory}: no {WEIGHTS}")
    try:
        tensors = load(weights.read_bytes())
    except Exception as error:  # safetensors reports a damaged file in its own exception
        raise PretrainedHeadError(
            f"{weights}: not a readable safetensors file ({error})"
        ) from error
    relations = _relations(config, tensors, directory)
    paper = dict(config["paper"])
    shape = paper.pop("class_embedding_shape", None)
    embedding = torch.zeros(shape) if shape is not None else None
    head = cls.paper(**paper, class_relations=relations, class_embedding=embedding)
    head.to(getattr(torch, config["dtype"]))
    state = {k.removeprefix("weights."): v for k, v in tensors.items() if k.startswith("weights.")}
    try:
        head.load_state_dict(state)
    except RuntimeError as error:
        raise PretrainedHeadError(
            f"{directory}: the weights do not fit the config ({error})"
        ) from None
    head.classes = config.get("classes")
    head.class_graph_provenance = config.get("class_graph")
    head.to(map_location)
    return head


def push_head(head: IterativeReasoningHead, repo_id: str, **options: Any) -> str:
    """Upload ``head`` (saved as by :func:`save_head`, with ``classes`` and ``class_graph``
    from ``options``) to the Hub repository ``repo_id``; the other ``options`` go to
    ``huggingface_hub.HfApi.upload_folder``. Returns the commit URL."""
    hub = _require_hub()
    saved = {k: options.pop(k) for k in ("classes", "class_graph") if k in options}
    create = {k: options.pop(k) for k in ("private", "token", "exist_ok") if k in options}
    api = hub.HfApi(token=create.get("token"))
    api.create_repo(repo_id, private=create.get("private"), exist_ok=create.get("exist_ok", True))
    with tempfile.TemporaryDirectory() as folder:
        save_head(head, folder, **saved)
        return str(api.upload_folder(repo_id=repo_id, folder_path=folder, **options))


def read_config(directory: Path) -> dict[str, Any]:
    """An artifact's ``config.json``, checked for this format and version."""
    path = directory / CONFIG
    if not path.is_file():
        raise PretrainedHeadError(f"{directory}: no {CONFIG}; not a head saved by save_pretrained")
    config = read_json(path, PretrainedHeadError)
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise PretrainedHeadError(f"{path}: not the config of a head saved by save_pretrained")
    if config.get("version") != FORMAT_VERSION:
        raise PretrainedHeadError(
            f"{path}: format version {config.get('version')!r}; this package reads version "
            f"{FORMAT_VERSION}"
        )
    return config


def _relations(
    config: dict[str, Any], tensors: dict[str, torch.Tensor], directory: Path
) -> ClassRelations | None:
    described = config.get("class_relations")
    if described is None:
        return None
    edges = {}
    for i, name in enumerate(described["names"]):
        try:
            index = tensors[f"{_RELATIONS}.{i}.edge_index"]
            weight = tensors[f"{_RELATIONS}.{i}.edge_weight"]
        except KeyError:
            raise PretrainedHeadError(
                f"{directory}: {WEIGHTS} lacks the edges of relation {name!r}"
            ) from None
        edges[name] = (index, weight)
    return ClassRelations(int(described["num_classes"]), edges)


def _graph_description(class_graph: Any) -> dict[str, Any] | None:
    """Where the head's class graph came from: a file's path, or a ``ClassGraph``'s relations
    and provenance (the relations themselves are in the weights file)."""
    if class_graph is None:
        return None
    if isinstance(class_graph, (str, os.PathLike)):
        path = Path(class_graph)
        graph = ClassGraph.load(path)
        return {"file": path.name, **_graph_description(graph)}  # type: ignore[dict-item]
    return {
        "classes": len(class_graph.classes),
        "relations": class_graph.num_edges(),
        "provenance": class_graph.provenance,
    }


def _local(source: str | os.PathLike[str]) -> Path:
    """``source`` as a local directory: itself, or the Hub repository downloaded."""
    path = Path(source)
    if path.is_dir():
        return path
    if path.exists():
        raise PretrainedHeadError(f"{path}: a file; give the directory save_pretrained wrote")
    text = str(source)
    if text.count("/") != 1 or text.startswith((".", "/")):
        raise FileNotFoundError(f"{source}: no such directory (nor a Hub id such as 'user/name')")
    hub = _require_hub()
    return Path(hub.snapshot_download(repo_id=text, allow_patterns=[WEIGHTS, CONFIG]))


def _require_hub() -> Any:
    try:
        import huggingface_hub
    except ImportError:
        raise ImportError(
            "sharing a head through the Hugging Face Hub needs huggingface_hub: "
            "pip install 'iterative-reasoning[hub]'"
        ) from None
    return huggingface_hub
