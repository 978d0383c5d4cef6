"""Shared builders of random inputs for the tests."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from iterative_reasoning.graph import ClassRelations


def random_boxes(
    counts: list[int], seed: int = 0, dtype: torch.dtype = torch.float64, size: float = 120.0
) -> tuple[Tensor, Tensor]:
    """Random xyxy boxes inside ``size x size`` images, and their sorted batch vector."""
    gen = torch.Generator().manual_seed(seed)
    total = sum(counts)
    xy = torch.rand(total, 2, generator=gen, dtype=dtype) * size * 0.7
    wh = torch.rand(total, 2, generator=gen, dtype=dtype) * size * 0.3 + 1
    batch = torch.cat([torch.full((n,), i, dtype=torch.long) for i, n in enumerate(counts)])
    return torch.cat([xy, xy + wh], dim=1), batch


def random_relations(
    num_classes: int,
    num_relations: int = 2,
    edges: int = 8,
    seed: int = 0,
    dtype: torch.dtype = torch.float64,
) -> ClassRelations:
    """Random weighted relations without self-loops."""
    gen = torch.Generator().manual_seed(seed)
    rel = {}
    for k in range(num_relations):
        src = torch.randint(0, num_classes, (edges,), generator=gen)
        dst = (src + torch.randint(1, num_classes, (edges,), generator=gen)) % num_classes
        rel[f"rel_{k}"] = (torch.stack([src, dst]), torch.rand(edges, generator=gen, dtype=dtype))
    return ClassRelations(num_classes, rel)


def random_probs(
    num_regions: int, num_classes: int, seed: int = 0, dtype: torch.dtype = torch.float64
) -> Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.softmax(torch.randn(num_regions, num_classes, generator=gen, dtype=dtype), -1)


def image_sizes(num_images: int, size: float = 120.0) -> Tensor:
    return torch.full((num_images, 2), size)


def naive_spatial(boxes, batch, delta=50.0):
    """Dense per-relation adjacency A[target, source] from a double loop, row-normalised."""
    n = boxes.size(0)
    dense = {
        k: torch.zeros(n, n, dtype=torch.float64)
        for k in ("left_of", "right_of", "above", "below", "overlaps")
    }
    for i in range(n):
        for j in range(n):
            if i == j or batch[i] != batch[j]:
                continue
            ci = ((boxes[i, 0] + boxes[i, 2]) / 2, (boxes[i, 1] + boxes[i, 3]) / 2)
            cj = ((boxes[j, 0] + boxes[j, 2]) / 2, (boxes[j, 1] + boxes[j, 3]) / 2)
            w = math.exp(-math.hypot(cj[0] - ci[0], cj[1] - ci[1]) / delta)
            if ci[0] < cj[0]:
                dense["left_of"][j, i] = w
            if ci[0] > cj[0]:
                dense["right_of"][j, i] = w
            if ci[1] < cj[1]:
                dense["above"][j, i] = w
            if ci[1] > cj[1]:
                dense["below"][j, i] = w
            ix = max(0.0, min(boxes[i, 2], boxes[j, 2]) - max(boxes[i, 0], boxes[j, 0]))
            iy = max(0.0, min(boxes[i, 3], boxes[j, 3]) - max(boxes[i, 1], boxes[j, 1]))
            inter = float(ix * iy)
            area = lambda b: float((b[2] - b[0]) * (b[3] - b[1]))  # noqa: E731
            if inter > 0:
                dense["overlaps"][j, i] = inter / (area(boxes[i]) + area(boxes[j]) - inter)
    return {k: a / a.sum(1, keepdim=True).clamp_min(1e-14) for k, a in dense.items()}


def two_images() -> tuple[list[Tensor], list[dict[str, Tensor]]]:
    """Two images of different sizes and their torchvision detection targets (labels 1..3)."""
    gen = torch.Generator().manual_seed(0)
    images = [torch.rand(3, 120, 150, generator=gen), torch.rand(3, 100, 140, generator=gen)]
    targets = [
        {
            "boxes": torch.tensor([[10.0, 10.0, 80.0, 90.0], [50.0, 20.0, 140.0, 100.0]]),
            "labels": torch.tensor([1, 2]),
        },
        {"boxes": torch.tensor([[5.0, 5.0, 60.0, 60.0]]), "labels": torch.tensor([3])},
    ]
    return images, targets


def small_region_model(head: bool = True):
    """A small ConvNet of the synthetic benchmark's classes, with a final head or none."""
    from iterative_reasoning.data.synthetic import class_names
    from iterative_reasoning.models import RegionModel
    from iterative_reasoning.models.small_convnet import SmallConvNetClassifier
    from iterative_reasoning.nn import IterativeReasoningHead

    torch.manual_seed(0)
    num_classes = len(class_names())
    convnet = SmallConvNetClassifier(num_classes, width=4, region_channels=16)
    reasoning = None
    if head:
        relations = ClassRelations(num_classes, {"similar_to": torch.tensor([[3, 6], [6, 3]])})
        reasoning = IterativeReasoningHead.paper(
            "final",
            num_classes=num_classes,
            class_relations=relations,
            feature_channels=16,
            region_channels=16,
            memory_channels=8,
            fc_channels=16,
            hidden_channels=8,
        )
    return RegionModel(convnet, reasoning)


def assert_same_state(model, other):
    """The two modules hold the same parameters and buffers, bit for bit."""
    mine, theirs = model.state_dict(), other.state_dict()
    assert list(mine) == list(theirs)
    for name, value in mine.items():
        assert torch.equal(value, theirs[name]), name


def assert_gate_falls_back(want, got, opened):
    """A head with a closed fallback gate gives the plain detector's detections ``want`` bit
    for bit (``got``), and with the gate open others (``opened``), so the test can fail."""
    for w, g in zip(want, got, strict=True):
        assert len(w["boxes"]) > 0
        for key in ("boxes", "labels", "scores"):
            assert torch.equal(g[key], w[key]), key
    assert any(not torch.equal(o["scores"], w["scores"]) for o, w in zip(opened, want, strict=True))


def assert_adapter_gate_falls_back(detector, reasoning_head_for, images, **head_options):
    """:func:`assert_gate_falls_back` for an adapter (``TransformersDetector``,
    ``YOLODetector``): its detections before a head with ``fusion="residual"`` is attached,
    after, and with the head's gate open."""
    detector.eval()
    with torch.no_grad():
        want = detector(images)
        head = reasoning_head_for(detector.model, "final", fusion="residual", **head_options)
        detector.attach(head)
        got = detector(images)
        head.fallback.gate.fill_(1.0)
        opened = detector(images)
    assert_gate_falls_back(want, got, opened)
