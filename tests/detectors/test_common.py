import pytest
import torch
from helpers import random_relations, two_images

from iterative_reasoning.detectors._common import (
    HeadAdapter,
    clip_to_inputs,
    device_of,
    odds_update,
)
from iterative_reasoning.nn import IterativeReasoningHead

K = 3


class Adapter(HeadAdapter):
    """A host with maps at strides 8 and 16 (32 and 16 channels) and 24-wide region
    features."""

    num_classes = K
    strides = [8, 16]
    channels = [32, 16]
    region_channels = 24
    stride_hint = "give it a map at that stride"

    def __init__(self):
        super().__init__()
        self.model = torch.nn.Linear(2, 2)
        self.head = None


def _head(model="final", classes=K + 1, feature_channels=16, region_channels=24, **options):
    torch.manual_seed(0)
    return IterativeReasoningHead.paper(
        model,
        num_classes=classes,
        class_relations=random_relations(classes),
        feature_channels=feature_channels,
        region_channels=region_channels,
        memory_channels=4,
        fc_channels=8,
        hidden_channels=8,
        **options,
    )


def test_attach_checks_the_head_and_detach_gives_it_back():
    adapter = Adapter()
    head = _head()
    assert adapter.attach(head) is adapter and adapter.head is head
    with pytest.raises(ValueError, match=r"already has a reasoning head \(detach\(\) first\)"):
        adapter.attach(_head())
    assert adapter.detach() is head and adapter.head is None
    with pytest.raises(ValueError, match=r"has no reasoning head \(attach\(\) adds one\)"):
        adapter.detach()
    with pytest.raises(TypeError, match="head must be an IterativeReasoningHead, got Linear"):
        adapter.attach(torch.nn.Linear(2, 2))
    adapter.attach(_head(feature_channels=32, spatial_scale=1 / 8))  # the stride-8 map


@pytest.mark.parametrize(
    ("head", "match"),
    [
        (lambda: _head(classes=K), "num_classes = 3 but the detector has 3 classes"),
        (
            lambda: _head(spatial_scale=1 / 32),
            r"no feature map at the head's stride 32; its "
            r"strides: \[8, 16\]. give it a map at that stride$",
        ),  # fmt: skip
        (
            lambda: _head(feature_channels=32),
            "takes feature maps of 32 channels but the detector's stride-16 map has 16",
        ),  # fmt: skip
        (
            lambda: _head(region_channels=12),
            "region features of 12 channels but the detector gives 24",
        ),  # fmt: skip
    ],
)
def test_a_head_that_does_not_fit_is_refused(head, match):
    with pytest.raises(ValueError, match=match):
        Adapter().attach(head())
    Adapter().attach(_head("global", region_channels=24))  # no local module: any map width


def test_check_input_needs_targets_in_training():
    adapter = Adapter()
    images, targets = two_images()
    adapter.eval().check_input(images, None)
    adapter.train().check_input(images, targets)
    with pytest.raises(ValueError, match="in training mode targets are needed"):
        adapter.train().check_input(images, None)
    bad = [{**targets[0], "labels": torch.tensor([1, K + 1])}, targets[1]]  # K the adapter's
    with pytest.raises(ValueError, match=rf"must be object classes 1..{K} \(0 is background\)"):
        adapter.train().check_input(images, bad)


def test_clip_to_inputs():
    boxes = torch.tensor([[-5.0, 2.0, 50.0, 70.0], [10.0, -1.0, 90.0, 30.0]])
    sizes = torch.tensor([[60.0, 40.0], [20.0, 100.0]])  # (height, width)
    clipped = clip_to_inputs(boxes, torch.tensor([0, 1]), sizes)
    assert clipped.tolist() == [[0.0, 2.0, 40.0, 60.0], [10.0, 0.0, 90.0, 20.0]]


def test_device_of():
    assert device_of(torch.nn.Linear(2, 2)) == torch.device("cpu")
    assert device_of(torch.nn.ReLU()) == torch.device("cpu")  # no parameter


def test_odds_update_equals_the_naive_float64_odds_ratio():
    gen = torch.Generator().manual_seed(0)
    detector = torch.randn(5, K, generator=gen, dtype=torch.float64)
    base = torch.randn(5, K + 1, generator=gen, dtype=torch.float64)
    head = base + torch.randn(5, K + 1, generator=gen, dtype=torch.float64)

    def log_odds(z):
        p = torch.softmax(z, -1)[..., 1:]
        return torch.log(p / (1 - p))

    expected = detector + log_odds(head) - log_odds(base)
    torch.testing.assert_close(odds_update(detector, head, base), expected, rtol=1e-10, atol=1e-10)
    assert torch.equal(odds_update(detector, base, base), detector)  # no change of belief
    # a class the head is all but sure of stays finite
    sure = torch.tensor([[-50.0, 50.0, -50.0, -50.0]], dtype=torch.float64)
    assert torch.isfinite(odds_update(detector[:1], sure, base[:1])).all()
