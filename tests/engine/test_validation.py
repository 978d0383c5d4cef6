import math

import pytest
import torch
from helpers import assert_same_state, small_region_model

from iterative_reasoning.data.synthetic import SyntheticScenes
from iterative_reasoning.engine import TrainConfig, read_log, train
from iterative_reasoning.engine.validation import (
    ValidationHook,
    validation_loss,
    validation_split,
)


class _Flipped(list):
    hflip_prob = 0.5


def test_the_split_is_disjoint_seeded_and_reads_the_held_out_images_unflipped():
    data = _Flipped(range(20))
    train_part, held_out = validation_split(data, 0.25, seed=3)
    assert len(train_part) == 15 and len(held_out) == 5
    assert sorted(train_part.indices + held_out.indices) == list(range(20))
    assert validation_split(data, 0.25, seed=3)[1].indices == held_out.indices
    assert validation_split(data, 0.25, seed=4)[1].indices != held_out.indices
    assert train_part.dataset is data and data.hflip_prob == 0.5
    assert held_out.dataset.hflip_prob == 0.0
    assert len(validation_split(list(range(3)), 0.01)[1]) == 1  # at least one of each
    assert len(validation_split(list(range(3)), 0.99)[0]) == 1


@pytest.mark.parametrize("fraction", [0, 1, -0.1, 1.5, math.nan])
def test_a_fraction_outside_zero_to_one_is_refused(fraction):
    with pytest.raises(ValueError, match="validation fraction must be strictly between 0 and 1"):
        validation_split(list(range(10)), fraction)


def test_other_errors():
    with pytest.raises(TypeError, match="must be a number"):
        validation_split(list(range(10)), "0.1")
    with pytest.raises(ValueError, match="at least 2 training images"):
        validation_split([0], 0.5)
    with pytest.raises(ValueError, match="every must be a positive integer"):
        ValidationHook([0], 0)
    with pytest.raises(ValueError, match="validation dataset is empty"):
        ValidationHook([], 5)


def test_the_validation_loss_is_logged_and_changes_nothing_in_training(tmp_path):
    data = SyntheticScenes(6, seed=0)
    train_part, held_out = validation_split(data, 0.34, seed=0)
    config = TrainConfig(steps=5, batch_size=2, lr=0.01, checkpoint_every=100, log_every=1)
    plain = small_region_model()
    train(plain, train_part, config, tmp_path / "plain", progress=False, tensorboard=False)
    watched = small_region_model()
    hook = ValidationHook(held_out, every=2, batch_size=2)
    train(watched, train_part, config, tmp_path / "watched", progress=False, hooks=[hook])
    assert_same_state(plain, watched)  # random state and batch norms put back
    lines = read_log(tmp_path / "watched")
    held = [line for line in lines if "val_loss" in line]
    assert [line["step"] for line in held] == [2, 4, 5]
    assert [line for line in lines if "val_loss" not in line] == read_log(tmp_path / "plain")
    watched.train()
    again = validation_loss(watched, held_out, batch_size=2)
    assert again["loss"] == pytest.approx(held[-1]["val_loss"], rel=1e-6)
    assert (tmp_path / "watched" / "tensorboard").exists()


def test_the_validation_loss_is_the_mean_over_the_images():
    data = SyntheticScenes(4, seed=1)
    model = small_region_model().train()
    for module in model.modules():  # batch statistics would make the batches differ
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.eval()
    whole = validation_loss(model, data, batch_size=4)
    halves = [
        validation_loss(model, torch.utils.data.Subset(data, [i]), batch_size=1) for i in range(4)
    ]
    assert whole["loss"] == pytest.approx(sum(h["loss"] for h in halves) / 4, rel=1e-5)
