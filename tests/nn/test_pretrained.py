"""The head as a shareable artifact: save_pretrained / from_pretrained / push_to_hub."""

import json
import pickle

import pytest
import torch
from helpers import random_boxes, random_relations

from iterative_reasoning.graph import ClassRelations
from iterative_reasoning.nn import IterativeReasoningHead, LocalModule, PretrainedHeadError

C, D_F, D_R = 6, 3, 8
SIZES = torch.tensor([[100.0, 140.0], [150.0, 90.0]])
SMALL = {"feature_channels": D_F, "region_channels": D_R, "memory_channels": 4}
SMALL |= {"fc_channels": 8, "hidden_channels": 8}


def _head(model="final", dtype=torch.float32, **kwargs):
    torch.manual_seed(0)
    head = IterativeReasoningHead.paper(
        model, num_classes=C, class_relations=random_relations(C, edges=10), **SMALL, **kwargs
    )
    with torch.no_grad():  # every parameter away from its initial value
        for p in head.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    return head.to(dtype).eval()


def _inputs(dtype=torch.float32):
    gen = torch.Generator().manual_seed(1)
    boxes, batch = random_boxes([3, 4], seed=1, size=90.0, dtype=dtype)
    boxes[:, 2:] += 16
    r = boxes.size(0)
    return (
        torch.randn(2, D_F, 10, 9, generator=gen, dtype=dtype),
        boxes,
        batch,
        SIZES,
        torch.randn(r, C, generator=gen, dtype=dtype),
        torch.randn(r, D_R, generator=gen, dtype=dtype),
    )


@pytest.mark.parametrize(
    ("model", "dtype", "kwargs"),
    [
        ("final", torch.float32, {}),
        ("final", torch.float64, {"fusion": "residual", "overlaps": True}),
        ("local", torch.float32, {"num_iterations": 2}),
        ("final", torch.float32, {"size": "light"}),
        ("no_cross_feed", torch.float32, {"class_embedding": torch.randn(C, 5)}),
        ("global", torch.float32, {"spatial_scale": 1 / 32, "delta": 30.0}),
    ],
)
def test_a_saved_head_comes_back_exactly(tmp_path, model, dtype, kwargs):
    head = _head(model, dtype, **kwargs)
    classes = ["__background__", *(f"class {i}" for i in range(1, C))]
    head.save_pretrained(tmp_path, classes=classes)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json", "model.safetensors"]
    again = IterativeReasoningHead.from_pretrained(tmp_path)
    assert again.classes == classes and repr(again) == repr(head)
    for (name, p), q in zip(head.state_dict().items(), again.state_dict().values(), strict=True):
        assert p.dtype == q.dtype and torch.equal(p, q), name
    with torch.no_grad():
        out, back = head(*_inputs(dtype)), again.eval()(*_inputs(dtype))
    for a, b in zip(out, back, strict=True):
        assert (a is None and b is None) or torch.equal(a, b)
    if head.global_ is not None:
        assert again.global_.class_relations.digest == head.global_.class_relations.digest


def test_the_class_graph_s_provenance_is_kept(tmp_path):
    from knowledge_graphs import ClassGraph

    graph = ClassGraph([f"class {i}" for i in range(1, C)], provenance={"source": "test"})
    graph.add_relation("is_part_of", [(0, 1, 1.0)])
    graph.save(tmp_path / "graph.json")
    head = IterativeReasoningHead.paper(
        "final", num_classes=C, class_relations=ClassRelations.from_class_graph(graph), **SMALL
    )
    head.save_pretrained(tmp_path / "head", class_graph=tmp_path / "graph.json")
    kept = IterativeReasoningHead.from_pretrained(tmp_path / "head").class_graph_provenance
    assert kept["file"] == "graph.json" and kept["provenance"]["source"] == "test"
    assert kept["relations"] == {"is_part_of": 1, "has_part": 1}


def test_only_json_and_safetensors_are_read_and_bad_artifacts_are_named(tmp_path):
    head = _head()
    head.save_pretrained(tmp_path)
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(pickle.dumps({"weights": torch.zeros(1)}))  # a pickle is never loaded
    with pytest.raises(PretrainedHeadError, match="model.safetensors: not a readable safetensors"):
        IterativeReasoningHead.from_pretrained(tmp_path)
    head.save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**config, "version": 99}))
    with pytest.raises(
        PretrainedHeadError, match="format version 99; this package reads version 1"
    ):
        IterativeReasoningHead.from_pretrained(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({**config, "format": "other"}))
    with pytest.raises(PretrainedHeadError, match="not the config of a head saved"):
        IterativeReasoningHead.from_pretrained(tmp_path)
    (tmp_path / "config.json").write_text(
        json.dumps({**config, "paper": {**config["paper"], "fc_channels": 16}})
    )
    with pytest.raises(PretrainedHeadError, match="the weights do not fit the config"):
        IterativeReasoningHead.from_pretrained(tmp_path)
    (tmp_path / "config.json").unlink()
    with pytest.raises(PretrainedHeadError, match="no config.json; not a head saved"):
        IterativeReasoningHead.from_pretrained(tmp_path)
    with pytest.raises(FileNotFoundError, match="no such directory"):
        IterativeReasoningHead.from_pretrained(tmp_path / "missing" / "deeper" / "x")


def test_a_head_assembled_from_its_modules_or_with_wrong_classes_is_refused(tmp_path):
    with pytest.raises(ValueError, match="rebuilds heads made by IterativeReasoningHead.paper"):
        IterativeReasoningHead(C, local=LocalModule(D_F, C, 4, 8)).save_pretrained(tmp_path)
    with pytest.raises(ValueError, match="classes has 2 names but the head has 6 classes"):
        _head().save_pretrained(tmp_path, classes=["__background__", "a"])
    with pytest.raises(TypeError, match="classes must be a sequence of class names"):
        _head().save_pretrained(tmp_path, classes="abcdef")


def test_the_hub_goes_through_a_local_folder_offline(tmp_path, monkeypatch):
    """push_to_hub uploads what save_pretrained writes; from_pretrained('user/name') reads what
    the Hub gives back: both against local folders, nothing sent."""
    hub = pytest.importorskip("huggingface_hub")
    repository = tmp_path / "hub" / "user" / "name"
    calls = []

    class OfflineApi:
        def __init__(self, token=None):
            pass

        def create_repo(self, repo_id, private=None, exist_ok=True):
            calls.append(("create", repo_id))

        def upload_folder(self, repo_id, folder_path, **options):
            import shutil

            shutil.copytree(folder_path, repository, dirs_exist_ok=True)
            calls.append(("upload", repo_id, options))
            return f"https://huggingface.co/{repo_id}/commit/0"

    def snapshot_download(repo_id, allow_patterns=None):
        assert repo_id == "user/name" and set(allow_patterns) == {
            "model.safetensors",
            "config.json",
        }
        return str(repository)

    monkeypatch.setattr(hub, "HfApi", OfflineApi)
    monkeypatch.setattr(hub, "snapshot_download", snapshot_download)
    head = _head()
    url = head.push_to_hub("user/name", classes=["bg", *"abcde"], commit_message="first")
    assert url.endswith("/commit/0") and calls[0] == ("create", "user/name")
    assert calls[1] == ("upload", "user/name", {"commit_message": "first"})
    again = IterativeReasoningHead.from_pretrained("user/name")
    assert again.classes == ["bg", *"abcde"]
    for p, q in zip(head.state_dict().values(), again.state_dict().values(), strict=True):
        assert torch.equal(p, q)


def test_without_huggingface_hub_a_hub_id_says_how_to_install_it(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "huggingface_hub", None)
    with pytest.raises(ImportError, match=r"pip install 'iterative-reasoning\[hub\]'"):
        IterativeReasoningHead.from_pretrained("user/name")


def test_a_loaded_head_attaches_to_a_detector_and_detects_as_the_saved_one(tmp_path):
    from iterative_reasoning.detectors import attach_reasoning_head, reasoning_head_for
    from iterative_reasoning.models.small_detectors import small_faster_rcnn

    torch.manual_seed(0)
    detector = small_faster_rcnn(C, width=8, representation_size=16).eval()
    detector.roi_heads.score_thresh = 0.0
    head = reasoning_head_for(
        detector, "final", class_relations=random_relations(C, edges=10),
        memory_channels=4, fc_channels=8, hidden_channels=8,
    )  # fmt: skip
    head.save_pretrained(tmp_path)
    images = [torch.rand(3, 96, 96, generator=torch.Generator().manual_seed(2))]
    with torch.no_grad():
        before = attach_reasoning_head(detector, head).eval()(images)
        from iterative_reasoning.detectors import detach_reasoning_head

        detach_reasoning_head(detector)
        loaded = IterativeReasoningHead.from_pretrained(tmp_path)
        after = attach_reasoning_head(detector, loaded).eval()(images)
    assert len(before[0]["boxes"]) > 0
    for key in ("boxes", "labels", "scores"):
        assert torch.equal(before[0][key], after[0][key]), key
