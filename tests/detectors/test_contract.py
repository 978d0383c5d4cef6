"""The one contract every detector family meets: the engine and the recipes read a
torchvision detector and the adapters the same way, and the one ``reasoning_head_for`` sizes
the same head for a wrapped detector as for the host's model it wraps, and the head each
family's sizing gives (same sizes, same weights from a seed)."""

import os
import tempfile

import pytest
import torch
from torch import nn
from torchvision_detectors import SMALL, own_backbone

from iterative_reasoning.detectors import reasoning_head_for
from iterative_reasoning.detectors.contract import (
    AdapterContract,
    TorchvisionContract,
    contract_of,
)
from iterative_reasoning.detectors.torchvision import attach as tv
from iterative_reasoning.graph import ClassRelations
from iterative_reasoning.models import DetectionModel
from iterative_reasoning.nn import IterativeReasoningHead


def _same_heads(family_head, contract_head):
    assert contract_head.num_classes == family_head.num_classes
    assert contract_head.spatial_scale == family_head.spatial_scale
    ours, theirs = contract_head.state_dict(), family_head.state_dict()
    assert ours.keys() == theirs.keys()
    for name, value in theirs.items():
        assert torch.equal(ours[name], value), name


def _relations(num_classes):
    return ClassRelations(num_classes, {"similar_to": torch.tensor([[1, 2], [2, 1]])})


def _contract_head(detector, seed=0):
    """The head that :func:`iterative_reasoning.detectors.reasoning_head_for` sizes for the
    detector the engine takes, whatever its family."""
    relations = _relations(contract_of(detector).head_sizes()["num_classes"])
    torch.manual_seed(seed)
    return reasoning_head_for(detector, "final", class_relations=relations, **SMALL)


def _family_head(sizes, num_classes):
    torch.manual_seed(0)
    return IterativeReasoningHead.paper(
        "final", class_relations=_relations(num_classes), **{**sizes, **SMALL}
    )


def _host_head(model, num_classes):
    """The head the one reasoning_head_for sizes for the host library's model, unwrapped."""
    torch.manual_seed(0)
    return reasoning_head_for(model, "final", class_relations=_relations(num_classes), **SMALL)


def _families():
    """(name, a detector, the heads its family's sizing gives: of the detector, and of the
    host's model for an adapter; seeded)."""
    found = []
    detector = own_backbone()
    found.append(("torchvision", detector, [_family_head(tv.head_sizes(detector), 4)]))
    try:
        from transformers_detectors import small_detr

        from iterative_reasoning.detectors import transformers as hf

        detr = small_detr()
        heads = [_family_head(hf.head_sizes(detr.model), 5), _host_head(detr.model, 5)]
        found.append(("detr", detr, heads))
    except ImportError:
        pass
    os.environ.setdefault("YOLO_CONFIG_DIR", tempfile.mkdtemp())
    try:
        from iterative_reasoning.detectors import ultralytics as ul
        from iterative_reasoning.models.small_detectors import small_yolo

        yolo = small_yolo(4, imgsz=160)
        heads = [_family_head(ul.head_sizes(yolo.model), 5), _host_head(yolo.model, 5)]
        found.append(("yolo", yolo, heads))
    except ImportError:
        pass
    return found


def test_one_reasoning_head_for_sizes_every_family_s_head():
    families = _families()
    assert [name for name, *_ in families][:1] == ["torchvision"]
    for _, detector, family_heads in families:
        for family_head in family_heads:
            _same_heads(family_head, _contract_head(detector))


def test_the_engine_reads_every_family_through_the_contract():
    for name, detector, _ in _families():
        contract = contract_of(detector)
        kind = TorchvisionContract if name == "torchvision" else AdapterContract
        assert isinstance(contract, kind)
        assert contract.head is None
        head = _contract_head(detector)
        contract.attach(head)
        assert contract.head is head and contract.num_classes + 1 == head.num_classes
        # the head's parameters are those under the contract's prefix, and only they
        under = {n for n, _ in detector.named_parameters() if n.startswith(contract.head_prefix)}
        assert len(under) == len(list(head.parameters())) > 0
        model = DetectionModel(detector, freeze_detector=True).train()
        trained = {n for n, p in detector.named_parameters() if p.requires_grad}
        assert trained == {n for n in under if ".fallback." not in n}
        assert model.num_classes == contract.num_classes and model.head is head
        frozen = [m for m in detector.modules() if isinstance(m, nn.BatchNorm2d)]
        inside = {id(m) for m in head.modules()}
        assert all(not m.training for m in frozen if id(m) not in inside), name


def test_a_detector_of_no_family_is_refused():
    with pytest.raises(TypeError, match="a TransformersDetector or a YOLODetector, got Linear"):
        contract_of(nn.Linear(2, 2))
    with pytest.raises(TypeError, match="got Linear"):
        DetectionModel(nn.Linear(2, 2))
    with pytest.raises(TypeError, match="an ultralytics YOLO model, got Linear"):
        reasoning_head_for(nn.Linear(2, 2))
