"""``torch.jit.script`` of torchvision detectors with the head attached: the eager detector's
detections, from a scripted detector saved and loaded."""

import io
import subprocess
import sys
import warnings

import pytest
import torch
from torchvision.models.detection import keypointrcnn_resnet50_fpn
from torchvision_detectors import RELATIONS, SIZE, SMALL, attached, data

from iterative_reasoning.detectors import (
    ReasoningRoIHeads,
    attach_reasoning_head,
    reasoning_head_for,
    scriptable,
)
from iterative_reasoning.detectors.torchvision import ScriptedReasoningRoIHeads
from iterative_reasoning.graph import ClassRelations


def _script(module):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit is deprecated
        return torch.jit.script(module)


def _saved_and_loaded(scripted):
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        torch.jit.save(scripted, buffer)
        buffer.seek(0)
        return torch.jit.load(buffer)


def _active(head, seed=0):
    """Parameters drawn at a scale where the head moves the detector's scores."""
    torch.manual_seed(seed)
    with torch.no_grad():
        for parameter in head.parameters():
            parameter.normal_(0.0, 0.1)
    return head


def _assert_same_detections(want, got):
    assert len(want) == len(got)
    for w, g in zip(want, got, strict=True):
        assert set(w) == set(g)
        for key in w:
            assert torch.equal(w[key], g[key]), key


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("fasterrcnn_resnet50_fpn", {"reasoned_boxes": None}),
        ("fasterrcnn_resnet50_fpn", {"reasoned_boxes": None, "feature_level": "2"}),
        ("maskrcnn_resnet50_fpn", {"reasoned_boxes": None}),
        ("fasterrcnn_mobilenet_v3_large_fpn", {"reasoned_boxes": None}),
    ],
)
def test_the_scripted_detector_gives_the_eager_detections(name, options):
    _, detector, head = attached(name, **options)
    _active(head)
    detector.eval()
    images, _ = data()
    with torch.no_grad():
        want = detector(images)
        _, got = _saved_and_loaded(_script(scriptable(detector)))(images)
    _assert_same_detections(want, got)
    assert "masks" in got[0] if name.startswith("maskrcnn") else "masks" not in got[0]
    # every proposal reasoned over: the head's scores, not the detector's
    assert all((d["scores"] - d["detector_scores"]).abs().max() > 1e-3 for d in want)


@pytest.mark.parametrize("reasoned_boxes", [3, 100])
def test_the_proposals_reasoned_over(reasoned_boxes):
    """The scripted RoI heads reason over the proposals the eager ones do (the top ones of
    each image by the detector's score) and keep the detector's logits for the others."""
    _, detector, head = attached("fasterrcnn_resnet50_fpn", reasoned_boxes=reasoned_boxes)
    _active(head)
    roi_heads = detector.roi_heads.eval()
    gen = torch.Generator().manual_seed(0)
    shapes = [(160, 200), (150, 120)]
    features = {  # the FPN's levels at strides 4 to 64 of the padded 160 x 200 batch
        name: torch.randn(2, 256, -(-160 // stride), -(-200 // stride), generator=gen)
        for name, stride in (("0", 4), ("1", 8), ("2", 16), ("3", 32), ("pool", 64))
    }
    proposals = []
    for height, width in shapes:
        xy = torch.rand(40, 2, generator=gen) * torch.tensor([width, height]) * 0.7
        proposals.append(torch.cat([xy, xy + 10 + torch.rand(40, 2, generator=gen) * 50], 1))
    box_features = roi_heads.box_head(roi_heads.box_roi_pool(features, proposals, shapes))
    class_logits = torch.randn(80, 4, generator=gen) * 3
    args = (features, proposals, shapes, class_logits, box_features)
    with torch.no_grad():
        want = roi_heads.reason(*args)
        got = _script(ScriptedReasoningRoIHeads(roi_heads)).reason(*args)
    assert torch.equal(got, want)
    changed = (got != class_logits).any(-1)
    assert changed.view(2, 40).sum(1).tolist() == [min(reasoned_boxes, 40)] * 2


def test_keypoint_rcnn():
    torch.manual_seed(0)
    detector = keypointrcnn_resnet50_fpn(
        weights=None, weights_backbone=None, num_classes=2, box_score_thresh=0.0, **SIZE
    )
    relations = ClassRelations(2, {"similar_to": torch.tensor([[1], [0]])})
    head = _active(reasoning_head_for(detector, "final", class_relations=relations, **SMALL))
    detector = attach_reasoning_head(detector, head).eval()
    images, _ = data()
    with torch.no_grad():
        want = detector(images)
        _, got = _script(scriptable(detector))(images)
    _assert_same_detections(want, got)
    assert "keypoints" in got[0]


def test_plumbing_a_closed_gate_gives_the_plain_scripted_detector():
    """With the residual fusion's gate at zero the head's prediction is the detector's, so
    the scripted detector with the head gives the plain scripted detector's detections."""
    plain, detector, head = attached("fasterrcnn_resnet50_fpn")
    detector.roi_heads.head = _active(
        reasoning_head_for(detector, "final", class_relations=RELATIONS, fusion="residual", **SMALL)
    )
    with torch.no_grad():
        detector.roi_heads.head.fallback.gate.zero_()
    plain.eval(), detector.eval()
    images, _ = data()
    with torch.no_grad():
        _, want = _script(plain)(images)
        _, got = _script(scriptable(detector))(images)
    for w, g in zip(want, got, strict=True):
        for key in w:
            assert torch.equal(w[key], g[key]), key
        assert torch.equal(g["scores"], g["detector_scores"])


def test_the_eager_detector_is_not_changed_and_shares_its_parameters():
    _, detector, head = attached("fasterrcnn_mobilenet_v3_large_fpn")
    roi_heads = detector.roi_heads
    copied = scriptable(detector.eval())
    assert detector.roi_heads is roi_heads and isinstance(roi_heads, ReasoningRoIHeads)
    assert isinstance(copied.roi_heads, ScriptedReasoningRoIHeads)
    assert copied.backbone is detector.backbone and copied.rpn is detector.rpn
    ours = {id(p): p for p in copied.roi_heads.parameters()}
    theirs = {id(p) for p in roi_heads.parameters()}
    assert {id(p) for p in head.parameters()} <= theirs <= set(ours)
    # the rest: the empty placeholders of what this head has not (here the fallback gate)
    assert all(ours[k].numel() == 0 for k in set(ours) - theirs)


def test_scripting_the_attached_detector_directly_says_what_to_script():
    _, detector, _ = attached("fasterrcnn_mobilenet_v3_large_fpn")
    with pytest.raises(TypeError, match=r"script .*scriptable\(detector\)"):
        _script(detector.eval())


def test_the_scripted_detector_refuses_training():
    _, detector, _ = attached("fasterrcnn_mobilenet_v3_large_fpn")
    scripted = _script(scriptable(detector.eval()))
    images, targets = data()
    scripted.train()
    with pytest.raises(torch.jit.Error, match="evaluation mode only"):
        scripted(images, targets)


def test_plain_detectors_and_other_objects():
    plain, _, _ = attached("fasterrcnn_mobilenet_v3_large_fpn")
    assert scriptable(plain) is plain
    with pytest.raises(TypeError, match="torchvision two-stage detector"):
        scriptable(torch.nn.Linear(2, 2))


def test_the_saved_detector_loads_without_this_package(tmp_path):
    """``torch.jit.load`` of the saved detector in a process that imports torch and
    torchvision only: the eager detections, and neither this package nor PyG imported."""
    _, detector, head = attached("fasterrcnn_mobilenet_v3_large_fpn", reasoned_boxes=None)
    _active(head)
    images, _ = data()
    with torch.no_grad():
        want = detector.eval()(images)
    _script(scriptable(detector)).save(str(tmp_path / "detector.pt"))
    torch.save({"images": images, "want": want}, tmp_path / "data.pt")
    program = f"""
import sys, warnings
warnings.simplefilter("ignore")
import torch, torchvision
model = torch.jit.load({str(tmp_path / "detector.pt")!r})
data = torch.load({str(tmp_path / "data.pt")!r})
with torch.no_grad():
    _, got = model(data["images"])
same = all(torch.equal(w[k], g[k]) for w, g in zip(data["want"], got) for k in w)
imported = [m for m in sys.modules if m.startswith(("iterative_reasoning", "torch_geometric"))]
print(same, imported)
"""
    run = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=True, timeout=300
    )
    assert run.stdout.split("\n")[-2] == "True []", run.stdout + run.stderr
