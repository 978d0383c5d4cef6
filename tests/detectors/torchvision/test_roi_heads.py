import copy

import pytest
import torch
from helpers import assert_gate_falls_back
from torchvision_detectors import (
    BUILDERS,
    RELATIONS,
    SMALL,
    C,
    attached,
    build,
    data,
    detector_logits_as_prediction,
)

import iterative_reasoning.detectors.torchvision.roi_heads as roi_heads_module
from iterative_reasoning.detectors import (
    ReasoningRoIHeads,
    attach_reasoning_head,
    reasoning_head_for,
)


@pytest.mark.parametrize("name", [*BUILDERS, "own_backbone"])
def test_plumbing_the_detector_comes_back_exactly(name):
    plain, detector, head = attached(name, reasoned_boxes=None)
    assert type(detector) is type(plain)
    assert isinstance(detector.roi_heads, ReasoningRoIHeads)
    detector_logits_as_prediction(head)
    images, targets = data(masks=name.startswith("maskrcnn"))

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
    _, detector, head = attached("own_backbone", reasoned_boxes=None)
    seen = {}
    real_loss = roi_heads_module.reasoning_loss

    def recording_loss(output, labels, batch, **kwargs):
        seen.update(labels=labels, batch=batch, kwargs=kwargs)
        return real_loss(output, labels, batch, **kwargs)

    monkeypatch.setattr(roi_heads_module, "reasoning_loss", recording_loss)
    sampler = detector.roi_heads.fg_bg_sampler
    sampler.batch_size_per_image = 64
    images, targets = data()
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
    _, detector, head = attached("own_backbone", train_on="ground_truth")
    received = []
    head.register_forward_pre_hook(lambda module, args: received.append(args[1].clone()))
    images, targets = data()
    losses = detector.train()(images, targets)
    _, resized = detector.transform(images, copy.deepcopy(targets))  # network-input pixels
    torch.testing.assert_close(received[0], torch.cat([t["boxes"] for t in resized]))
    assert torch.isfinite(losses["loss_reasoning"])


def test_inference_reasons_over_the_top_boxes_and_keeps_the_detectors_scores_elsewhere():
    _, detector, head = attached("own_backbone", reasoned_boxes=5)
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
    _, detector, _ = attached("own_backbone")
    images, targets = data()
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


@pytest.mark.parametrize("name", ["fasterrcnn_resnet50_fpn", "own_backbone"])
def test_a_residual_head_gives_the_plain_detectors_detections_until_its_gate_opens(name):
    plain = build(name)
    detector = copy.deepcopy(plain)
    head = reasoning_head_for(
        detector, "final", class_relations=RELATIONS, fusion="residual", **SMALL
    )
    attach_reasoning_head(detector, head)
    images, _ = data()
    plain.eval(), detector.eval()
    with torch.no_grad():
        want, got = plain(images), detector(images)
        head.fallback.gate.fill_(1.0)
        opened = detector(images)
    assert_gate_falls_back(want, got, opened)
