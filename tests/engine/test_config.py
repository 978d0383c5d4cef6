from dataclasses import asdict

import pytest

from iterative_reasoning.engine import TrainConfig
from iterative_reasoning.engine.config import SCHEDULE_FIELDS, schedule_changes


def test_config_errors():
    with pytest.raises(ValueError, match="batch_size must be positive"):
        TrainConfig(batch_size=0)
    with pytest.raises(ValueError, match="lr must be finite and positive"):
        TrainConfig(lr=0.0)
    with pytest.raises(ValueError, match="lr must be finite and positive, got nan"):
        TrainConfig(lr=float("nan"))
    with pytest.raises(ValueError, match="momentum must be finite and non-negative"):
        TrainConfig(momentum=float("inf"))
    with pytest.raises(ValueError, match="warmup_steps must be non-negative"):
        TrainConfig(warmup_steps=-1)


def test_scaled_keeps_the_schedule_s_shape():
    config = TrainConfig(steps=1000, lr_steps=(600, 900), warmup_steps=50, checkpoint_every=200)
    half = config.scaled(0.1)
    assert (half.steps, half.lr_steps, half.warmup_steps) == (100, (60, 90), 5)
    assert half.checkpoint_every == 20 and half.lr == config.lr and half.seed == config.seed
    tiny = config.scaled(1e-4)
    assert tiny.steps == 1 and tiny.lr_steps == (1, 1) and tiny.checkpoint_every >= 1


def test_schedule_changes_names_what_a_resume_would_change():
    saved = asdict(TrainConfig(lr=0.01, lr_steps=(4,)))
    assert schedule_changes(saved, TrainConfig(lr=0.01, lr_steps=(4,), steps=99)) == {}
    saved_as_json = {**saved, "lr_steps": [4]}  # a checkpoint's lists
    assert schedule_changes(saved_as_json, TrainConfig(lr=0.01, lr_steps=(4,))) == {}
    changed = schedule_changes(saved, TrainConfig(lr=0.02, lr_steps=(3,), precision="bfloat16"))
    assert changed == {
        "lr": (0.01, 0.02),
        "lr_steps": ((4,), (3,)),
        "precision": ("float32", "bfloat16"),
    }
    assert set(changed) <= set(SCHEDULE_FIELDS) and "steps" not in SCHEDULE_FIELDS
    old_checkpoint = {k: v for k, v in saved.items() if k != "precision"}
    assert (
        schedule_changes(old_checkpoint, TrainConfig(lr=0.01, lr_steps=(4,), precision="bfloat16"))
        == {}
    )


@pytest.mark.parametrize(
    ("changes", "error", "match"),
    [
        ({"steps": 1.5}, TypeError, "steps must be an integer, got float 1.5"),
        ({"batch_size": "2"}, TypeError, "batch_size must be an integer, got str"),
        ({"lr_steps": (-5,)}, ValueError, r"lr_steps must be positive steps, got \[-5\]"),
        ({"lr_steps": (2.5,)}, TypeError, "lr_steps must be an integer"),
        ({"seed": 0.5}, TypeError, "seed must be an integer"),
        ({"warmup_steps": 1.5}, TypeError, "warmup_steps must be an integer"),
        ({"max_loss_growth": float("nan")}, ValueError, "max_loss_growth must be finite"),
    ],
)
def test_counts_are_integers(changes, error, match):
    """Once taken as they were: a step count of 1.5 or '10'."""
    with pytest.raises(error, match=match):
        TrainConfig(**changes)
