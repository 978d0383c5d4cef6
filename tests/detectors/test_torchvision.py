import copy

import pytest
import torch
from helpers import two_images
from torchvision.models.detection import (
    FasterRCNN,
    fasterrcnn_mobilenet_v3_large_fpn,
    fasterrcnn_resnet50_fpn,
    fasterrcnn_resnet50_fpn_v2,
    maskrcnn_resnet50_fpn,
)
from torchvision.models.detection.roi_heads import RoIHeads

import iterative_reasoning.detectors.torchvision as tv
import iterative_reasoning.detectors.torchvision.roi_heads as roi_heads_module
from iterative_reasoning.detectors import (
    ReasoningRoIHeads,
    attach_reasoning_head,
    detach_reasoning_head,
    feature_strides,
    reasoning_head_for,
)
from iterative_reasoning.detectors.small_convnet import small_faster_rcnn
from iterative_reasoning.graph import ClassRelations
from iterative_reasoning.nn import IterativeReasoningHead

C = 4
RELATIONS = ClassRelations(C, {"similar_to": torch.tensor([[1, 2], [2, 1]])})
SMALL = {"memory_channels": 8, "fc_channels": 16, "hidden_channels": 16}
SIZE = {"min_size": 160, "max_size": 200}


def _own_backbone(**kwargs):
    """A FasterRCNN on a backbone of one's own: one stride-16 map, no FPN."""
    return small_faster_rcnn(C, width=8, representation_size=64, **kwargs)


BUILDERS = {
    "fasterrcnn_resnet50_fpn": fasterrcnn_resnet50_fpn,
    "fasterrcnn_resnet50_fpn_v2": fasterrcnn_resnet50_fpn_v2,
    "fasterrcnn_mobilenet_v3_large_fpn": fasterrcnn_mobilenet_v3_large_fpn,
    "maskrcnn_resnet50_fpn": maskrcnn_resnet50_fpn,
}


def _build(name):
    torch.manual_seed(0)
    if name == "own_backbone":
        return _own_backbone(**SIZE, box_score_thresh=0.0)
    return BUILDERS[name](
        weights=None, weights_backbone=None, num_classes=C, box_score_thresh=0.0, **SIZE
    )


def _data(masks=False):
    images, targets = two_images()
    if masks:
        for image, target in zip(images, targets, strict=True):
            mask = torch.zeros(len(target["boxes"]), *image.shape[1:], dtype=torch.uint8)
            for m, (x1, y1, x2, y2) in zip(mask, target["boxes"].int().tolist(), strict=True):
                m[y1:y2, x1:x2] = 1
            target["masks"] = mask
    return images, targets


def _attached(name, **options):
    plain = _build(name)
    detector = copy.deepcopy(plain)
    head = reasoning_head_for(detector, "final", class_relations=RELATIONS, **SMALL)
    return plain, attach_reasoning_head(detector, head, **options), head


def _detector_logits_as_prediction(head):
    """The plumbing: the head's fused prediction replaced by the detector's own logits."""
    return head.register_forward_hook(lambda module, args, out: out._replace(logits=args[4]))


@pytest.mark.parametrize("name", [*BUILDERS, "own_backbone"])
def test_plumbing_the_detector_comes_back_exactly(name):
    plain, detector, head = _attached(name, reasoned_boxes=None)
    assert type(detector) is type(plain)
    assert isinstance(detector.roi_heads, ReasoningRoIHeads)
    _detector_logits_as_prediction(head)
    images, targets = _data(masks=name.startswith("maskrcnn"))

    plain.train(), detector.train()
    torch.manual_seed(1)
    expected = plain(images, targets)
    torch.manual_seed(1)
    losses = detector(images, targets)
    assert set(losses) == {*expected, "loss_reasoning"}
    for key, value in expected.items():
        assert torch.equal(losses[key], value), key
    assert torch.isfinite(losses["loss_reasoning"])

    plain.eval(), detector.eval()
    with torch.no_grad():
        expected_detections = plain(images)
        detections = detector(images)
    for want, got in zip(expected_detections, detections, strict=True):
        assert len(want["boxes"]) > 0
        assert set(got) == {*want, "detector_scores"}
        for key, value in want.items():
            assert torch.equal(got[key], value), key
        assert torch.equal(got["detector_scores"], want["scores"])


def test_the_head_trains_on_sampled_foreground_and_background_proposals(monkeypatch):
    _, detector, head = _attached("own_backbone", reasoned_boxes=None)
    seen = {}
    real_loss = roi_heads_module.reasoning_loss

    def recording_loss(output, labels, batch, **kwargs):
        seen.update(labels=labels, batch=batch, kwargs=kwargs)
        return real_loss(output, labels, batch, **kwargs)

    monkeypatch.setattr(roi_heads_module, "reasoning_loss", recording_loss)
    sampler = detector.roi_heads.fg_bg_sampler
    sampler.batch_size_per_image = 64
    images, targets = _data()
    losses = detector.train()(images, targets)
    labels = seen["labels"]
    assert len(labels) == 2 * 64  # the sampler's proposals of both images
    assert (labels == 0).sum() >= 64 * (1 - sampler.positive_fraction)  # background
    assert set(labels[labels > 0].tolist()) <= {1, 2, 3}
    assert seen["kwargs"] == {"base_weight": 0.0}  # f_0 is the detector's loss_classifier
    # The head's loss trains the head only: the detector's parameters get no gradient from it.
    losses["loss_reasoning"].backward()
    assert all(p.grad is None for n, p in detector.named_parameters() if ".head." not in n)
    assert all(p.grad is not None for p in head.parameters() if p.requires_grad)


def test_ground_truth_training_reads_the_ground_truth_boxes():
    _, detector, head = _attached("own_backbone", train_on="ground_truth")
    received = []
    head.register_forward_pre_hook(lambda module, args: received.append(args[1].clone()))
    images, targets = _data()
    losses = detector.train()(images, targets)
    _, resized = detector.transform(images, copy.deepcopy(targets))  # network-input pixels
    torch.testing.assert_close(received[0], torch.cat([t["boxes"] for t in resized]))
    assert torch.isfinite(losses["loss_reasoning"])


def test_inference_reasons_over_the_top_boxes_and_keeps_the_detectors_scores_elsewhere():
    _, detector, head = _attached("own_backbone", reasoned_boxes=5)
    roi_heads = detector.roi_heads
    gen = torch.Generator().manual_seed(0)
    features = {"0": torch.randn(2, 32, 10, 12, generator=gen)}
    xy = torch.rand(20, 2, generator=gen) * 100
    proposals = [torch.cat([xy, xy + 30], 1)[:12], torch.cat([xy, xy + 30], 1)[12:]]
    class_logits = torch.randn(20, C, generator=gen)
    box_features = torch.randn(20, 64, generator=gen)
    received = []
    head.register_forward_pre_hook(lambda module, args: received.append(args))
    head.register_forward_hook(lambda module, args, out: out._replace(logits=out.logits + 100))
    with torch.no_grad():
        logits = roi_heads.eval().reason(
            features, proposals, [(160, 190), (150, 180)], class_logits, box_features
        )
    scores = torch.softmax(class_logits, -1)[:, 1:].amax(-1)
    top = torch.cat([scores[:12].topk(5).indices, 12 + scores[12:].topk(5).indices])
    reasoned = torch.zeros(20, dtype=torch.bool)
    reasoned[top] = True
    assert torch.equal(received[0][1], torch.cat(proposals)[reasoned])
    assert torch.equal(received[0][2], torch.tensor([0] * 5 + [1] * 5))
    assert torch.equal(logits[~reasoned], class_logits[~reasoned])
    assert (logits[reasoned] > 50).all()


def test_negative_images_and_images_without_proposals():
    _, detector, _ = _attached("own_backbone")
    images, targets = _data()
    targets[1] = {"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.long)}
    losses = detector.train()(images, targets)
    assert all(torch.isfinite(v) for v in losses.values())
    roi_heads = detector.roi_heads.eval()
    features = {"0": torch.randn(2, 32, 10, 12)}
    proposals = [torch.tensor([[10.0, 10.0, 60.0, 70.0]]), torch.zeros(0, 4)]
    with torch.no_grad():
        detections, _ = roi_heads(features, proposals, [(160, 190), (150, 180)])
        none, _ = roi_heads(features, [torch.zeros(0, 4)] * 2, [(160, 190), (150, 180)])
    assert len(detections[1]["boxes"]) == 0
    assert all(len(d["boxes"]) == 0 for d in none)


def test_detach_gives_back_the_plain_detector():
    plain, detector, head = _attached("maskrcnn_resnet50_fpn")
    assert detach_reasoning_head(detector) is head
    assert type(detector.roi_heads) is RoIHeads
    images, _ = _data()
    with torch.no_grad():
        for want, got in zip(plain.eval()(images), detector.eval()(images), strict=True):
            for key, value in want.items():
                assert torch.equal(got[key], value), key
    with pytest.raises(ValueError, match="has no reasoning head"):
        detach_reasoning_head(detector)


def test_feature_strides_and_heads_sized_for_the_detector():
    assert feature_strides(_build("fasterrcnn_mobilenet_v3_large_fpn").backbone) == {
        "0": 32,
        "1": 32,
        "pool": 64,
    }
    assert feature_strides(_own_backbone().backbone) == {"0": 16}
    head = reasoning_head_for(
        _build("fasterrcnn_resnet50_fpn"), "global", class_relations=RELATIONS
    )
    assert head.spatial_scale == 1 / 16 and head.region_channels == 1024
    mobile = reasoning_head_for(_build("fasterrcnn_mobilenet_v3_large_fpn"), "local", **SMALL)
    assert mobile.spatial_scale == 1 / 32 and mobile.local.in_channels == 256


def test_errors():
    detector = _own_backbone()
    head = reasoning_head_for(detector, "final", class_relations=RELATIONS, **SMALL)
    with pytest.raises(TypeError, match="two-stage detector"):
        attach_reasoning_head(torch.nn.Linear(1, 1), head)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="IterativeReasoningHead"):
        attach_reasoning_head(detector, torch.nn.Linear(1, 1))  # type: ignore[arg-type]
    other = IterativeReasoningHead.paper("local", num_classes=5, feature_channels=32, **SMALL)
    with pytest.raises(ValueError, match="num_classes = 5 but the detector's box predictor has 4"):
        attach_reasoning_head(detector, other)
    wide = IterativeReasoningHead.paper("local", num_classes=C, feature_channels=256, **SMALL)
    with pytest.raises(ValueError, match="256 channels but the detector's backbone gives 32"):
        attach_reasoning_head(detector, wide)
    features = reasoning_head_for(detector, "global", class_relations=RELATIONS, **SMALL)
    features.region_channels = 1024
    with pytest.raises(ValueError, match="region features of 1024 channels .* has 64"):
        attach_reasoning_head(detector, features)
    mobile = _build("fasterrcnn_mobilenet_v3_large_fpn")
    stride16 = IterativeReasoningHead.paper("local", num_classes=C, feature_channels=256, **SMALL)
    with pytest.raises(ValueError, match="no feature map at the head's stride 16.*'0': 32"):
        attach_reasoning_head(mobile, stride16)
    with pytest.raises(ValueError, match="feature_level 'p4' is not among"):
        attach_reasoning_head(detector, head, feature_level="p4")
    with pytest.raises(ValueError, match="reasoned_boxes must be positive"):
        attach_reasoning_head(detector, head, reasoned_boxes=0)
    with pytest.raises(ValueError, match="train_on must be one of"):
        attach_reasoning_head(detector, head, train_on="boxes")  # type: ignore[arg-type]
    attach_reasoning_head(detector, head)
    with pytest.raises(ValueError, match="already has a reasoning head"):
        attach_reasoning_head(detector, head)


def test_deprecated_alias_attaches():
    detector = _own_backbone()
    head = reasoning_head_for(detector, "local", **SMALL)
    with pytest.warns(DeprecationWarning, match="attach_reasoning_head"):
        model = tv.FasterRCNNReasoning(detector, head)
    assert model is detector and isinstance(model, FasterRCNN)
    assert model.roi_heads.head is head
