import pytest
import torch

from iterative_reasoning.data.synthetic import SyntheticScenes
from iterative_reasoning.graph import ClassRelations
from iterative_reasoning.models import RegionModel, collate_regions


def test_collate_pads_to_multiples_of_16():
    data = SyntheticScenes(2, seed=0)
    batch = collate_regions([data[0], data[1]])
    assert batch.images.shape == (2, 3, 384, 384)
    assert batch.labels.numel() == sum(len(b) for b in batch.boxes)


def test_paper_models():
    from iterative_reasoning.models import ResNetRegionClassifier

    relations = ClassRelations(5, {"similar_to": torch.tensor([[1, 2], [2, 1]])})
    baseline = RegionModel.paper("baseline", 5, weights=None, write_masks=True)
    assert isinstance(baseline.convnet, ResNetRegionClassifier) and baseline.head is None
    assert not baseline.write_masks  # nothing writes without a head
    final = RegionModel.paper("final", 5, relations, weights=None, write_masks=True)
    assert final.head.local is not None and final.head.global_ is not None and final.write_masks
    with pytest.raises(ValueError, match="needs class_relations"):
        RegionModel.paper("global", 5, weights=None)
