import copy
from dataclasses import replace

import pytest
import torch
from helpers import small_region_model

from iterative_reasoning.data.synthetic import SyntheticScenes
from iterative_reasoning.engine import (
    TrainConfig,
    load_checkpoint,
    train,
)
from iterative_reasoning.engine.state import TrainState, put_back, set_random_state, snapshot


def test_a_changed_schedule_is_refused_on_resume_unless_adopted(tmp_path):
    data = SyntheticScenes(4, seed=0)

    def run(config, **options):
        model = small_region_model(head=False)
        return train(model, data, config, tmp_path, progress=False, tensorboard=False, **options)

    run(TrainConfig(steps=2, batch_size=2, lr=0.01, lr_steps=(4,), checkpoint_every=2))
    longer = TrainConfig(steps=3, batch_size=2, lr=0.01, lr_steps=(4,), checkpoint_every=2)
    changed = TrainConfig(steps=6, batch_size=2, lr=0.02, lr_steps=(3,), checkpoint_every=2)
    with pytest.raises(ValueError, match=r"another schedule \(lr: 0.01 then, 0.02 now; lr_steps"):
        run(changed)
    assert load_checkpoint(tmp_path)["step"] == 2  # untouched
    assert len(run(longer)) == 1  # more steps may always be asked for
    history = run(changed, adopt_schedule=True)
    # the new schedule from step 3 on, as if it had held from the start: 0.02, dropped at 3
    assert [h["lr"] for h in history] == pytest.approx([0.002, 0.002, 0.002])
    assert load_checkpoint(tmp_path)["config"]["lr"] == 0.02


def _stepped(state, steps=2):
    """``steps`` SGD steps of ``state`` on a fixed regression."""
    torch.manual_seed(1)
    x = torch.randn(8, 4)
    for _ in range(steps):
        state.optimizer.zero_grad()
        state.model(x).square().mean().backward()
        state.optimizer.step()
        state.schedule.step()
        state.step += 1


def test_a_state_dict_restores_the_model_optimiser_schedule_and_step():
    config = TrainConfig(steps=10, lr=0.1, lr_steps=(2,), momentum=0.9, warmup_steps=0)
    torch.manual_seed(0)
    trained = TrainState(torch.nn.Linear(4, 3), config, "cpu")
    _stepped(trained)
    torch.manual_seed(5)
    restored = TrainState(torch.nn.Linear(4, 3), config, "cpu")
    # a copy, as a checkpoint read from disk is (an optimiser takes in its tensors as they are)
    restored.load_state_dict(copy.deepcopy(trained.state_dict()))
    assert restored.step == 2 and restored.lr == trained.lr == pytest.approx(0.01)
    _stepped(trained), _stepped(restored)  # the momentum carried over: the same next steps
    for a, b in zip(trained.model.parameters(), restored.model.parameters(), strict=True):
        assert torch.equal(a, b)
    assert "scaler" not in trained.state_dict()
    assert set(trained.state_dict()) == {"model", "optimizer", "schedule", "step"}


def test_adopt_continues_with_the_new_schedule_where_it_would_be():
    config = TrainConfig(steps=10, lr=0.1, lr_steps=(8,), momentum=0.9)
    state = TrainState(torch.nn.Linear(4, 3), config, "cpu")
    _stepped(state, steps=3)
    state.adopt(replace(config, lr=0.5, lr_steps=(2,), momentum=0.5))
    assert state.lr == pytest.approx(0.05)  # 0.5, dropped at step 2 of 3
    assert state.optimizer.param_groups[0]["momentum"] == 0.5
    assert state.optimizer.state  # the momentum buffers kept


def test_a_snapshot_puts_back_the_buffers_not_the_parameters_and_keeps_the_random_state():
    model = torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.BatchNorm1d(3))
    taken = snapshot(model)
    batch = torch.randn(5, 3) * 4 + 2
    model(batch)  # a training forward moves the batch-norm statistics
    with torch.no_grad():
        model[0].weight.add_(1.0)
    weight = model[0].weight.clone()
    put_back(model, taken)
    assert torch.equal(model[1].running_mean, torch.zeros(3))
    assert int(model[1].num_batches_tracked) == 0 and torch.equal(model[0].weight, weight)
    set_random_state(taken.rng)  # the draws since the snapshot come again
    assert torch.equal(torch.randn(5, 3) * 4 + 2, batch)
