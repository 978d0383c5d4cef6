"""The head's input structure: built and checked once by region_batch, read by the head as it
is (its fit checked, its values not again), its crops not made twice."""

import pytest
import torch

from iterative_reasoning.graph import ClassRelations
from iterative_reasoning.models.small_convnet import SmallConvNetClassifier
from iterative_reasoning.nn import IterativeReasoningHead, RegionBatch, region_batch
from iterative_reasoning.ops import RegionCrop, RegionGrid

C = 6


def _head(**options):
    rel = ClassRelations(C, {"is_kind_of": torch.tensor([[1, 2], [3, 3]])})
    torch.manual_seed(0)
    return IterativeReasoningHead.paper(
        "final",
        num_classes=C,
        class_relations=rel,
        feature_channels=16,
        region_channels=12,
        memory_channels=8,
        fc_channels=32,
        hidden_channels=16,
        **options,
    ).eval()


def _regions():
    torch.manual_seed(1)
    net = SmallConvNetClassifier(C, width=4, region_channels=12).eval()
    boxes = [
        torch.tensor([[0.0, 0.0, 40.0, 40.0], [8.0, 8.0, 60.0, 30.0], [30.0, 40.0, 64.0, 90.0]]),
        torch.tensor([[4.0, 4.0, 30.0, 44.0]]),
    ]
    with torch.no_grad():
        return net(torch.rand(2, 3, 96, 64), boxes, torch.tensor([[96, 64], [80, 48]]))


def _count_crops(monkeypatch):
    calls = []
    crop = RegionGrid.crop

    def counted(self, features):
        if features.size(1) == 16:  # the feature map, not the memory (8 channels)
            calls.append(features.shape)
        return crop(self, features)

    monkeypatch.setattr(RegionGrid, "crop", counted)
    return calls


def test_the_head_reads_the_convnet_s_crops_and_gives_the_same_numbers(monkeypatch):
    regions = _regions()
    assert regions.crops is not None and regions.cropped_by is not None
    head = _head()
    calls = _count_crops(monkeypatch)
    with torch.no_grad():
        given = head(regions)
        assert calls == []  # the head cropped nothing: it read the ConvNet's crops
        recropped = head(*regions[:6])  # the tensors alone: checked, cropped again
        assert len(calls) == 1
    for a, b in zip(given, recropped, strict=True):
        assert a is None and b is None or torch.equal(a, b)


def test_crops_of_other_settings_are_not_read(monkeypatch):
    regions = _regions()
    other = regions._replace(cropped_by=RegionCrop(7, 1 / 16, "crop_and_resize"))
    assert other.crops_for(_head().crop) is None
    calls = _count_crops(monkeypatch)
    with torch.no_grad():
        out = _head()(other)
    assert len(calls) == 1
    with torch.no_grad():
        expected = _head()(*regions[:6])
    assert torch.equal(out.logits, expected.logits)


def test_region_batch_checks_values_once_and_the_head_only_their_fit():
    regions = _regions()
    bad = regions.features.clone()
    bad[0, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="features must be finite"):
        region_batch(bad, regions.boxes, regions.image_sizes, batch=regions.batch,
                     base_logits=regions.base_logits)  # fmt: skip
    with pytest.raises(ValueError, match="features must be finite"):
        _head()(*regions._replace(features=bad)[:6])  # the tensors: checked by the head
    with pytest.raises(ValueError, match=r"base_logits must have shape \[R, C\] = \[4, 6\]"):
        _head()(regions._replace(base_logits=regions.base_logits[:, :5]))
    with pytest.raises(ValueError, match="features have 16 channels but the local module"):
        IterativeReasoningHead.paper(
            "local", num_classes=C, feature_channels=8, memory_channels=8, fc_channels=32
        )(regions)
    with pytest.raises(TypeError, match="give a RegionBatch alone"):
        _head()(regions, regions.boxes)


def test_crops_come_with_the_crop_that_made_them():
    regions = _regions()
    with pytest.raises(ValueError, match="crops and cropped_by go together"):
        _head()(*regions[:7], regions.crops)
    with pytest.raises(ValueError, match=r"shape \[R, D_f, P, P\] = \[4, 16, 7, 7\]"):
        region_batch(
            regions.features,
            regions.boxes,
            regions.image_sizes,
            batch=regions.batch,
            base_logits=regions.base_logits,
            crops=regions.crops[:, :, :5, :5],
            cropped_by=regions.cropped_by,
        )


def test_a_region_batch_is_a_named_tuple_in_the_order_of_the_head_s_forward():
    assert RegionBatch._fields == (
        "features",
        "boxes",
        "batch",
        "image_sizes",
        "base_logits",
        "region_features",
        "masks",
        "crops",
        "cropped_by",
    )
    regions = _regions()
    with torch.no_grad():
        assert torch.equal(_head()(*regions).logits, _head()(regions).logits)
