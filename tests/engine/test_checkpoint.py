import os
import pickle
import random

import pytest
import torch

from iterative_reasoning.engine.checkpoint import (
    CHECKPOINT,
    PREVIOUS,
    load_checkpoint,
    save_checkpoint,
)


def _state(step):
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.randn(4, 3)).sum().backward()
    optimizer.step()
    schedule = torch.optim.lr_scheduler.MultiStepLR(optimizer, [5, 9], 0.1)
    return {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "schedule": schedule.state_dict(),
        "step": step,
        "rng": [{"torch": torch.get_rng_state(), "python": random.getstate()}],
        "config": {"steps": 10, "lr_steps": (5, 9), "extra": {}},
    }


def test_everything_a_run_saves_reads_back_without_unpickling_code(tmp_path):
    state = _state(3)
    save_checkpoint(tmp_path, state)
    back = load_checkpoint(tmp_path)
    assert back["step"] == 3 and back["rng"][0]["python"] == state["rng"][0]["python"]
    assert back["schedule"]["milestones"] == state["schedule"]["milestones"]
    for name, value in state["model"].items():
        assert torch.equal(back["model"][name], value)
    assert not list(tmp_path.glob("*.partial"))


class _Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_crafted_checkpoint_runs_no_code(tmp_path):
    marker = tmp_path / "ran"
    with open(tmp_path / CHECKPOINT, "wb") as f:
        pickle.dump({"model": _Payload(str(marker))}, f, protocol=2)
    with pytest.raises(ValueError, match="not a readable checkpoint"):
        load_checkpoint(tmp_path)
    assert not marker.exists()


def test_writes_follow_no_link_out_of_the_run_directory(tmp_path):
    run, outside = tmp_path / "run", tmp_path / "outside.txt"
    run.mkdir()
    outside.write_text("keep me")
    for name in (CHECKPOINT + ".partial", ".checkpoint-.partial", CHECKPOINT):
        os.symlink(outside, run / name)
    save_checkpoint(run, _state(1))
    assert outside.read_text() == "keep me"
    assert not (run / CHECKPOINT).is_symlink() and load_checkpoint(run)["step"] == 1
    (run / CHECKPOINT).unlink()
    os.symlink(outside, run / CHECKPOINT)
    with pytest.raises(ValueError, match="a link, not a checkpoint"):
        load_checkpoint(run)


def test_the_previous_checkpoint_is_kept_and_used_when_the_latest_is_torn(tmp_path):
    save_checkpoint(tmp_path, _state(1))
    save_checkpoint(tmp_path, _state(2))
    assert load_checkpoint(tmp_path)["step"] == 2
    latest = tmp_path / CHECKPOINT
    latest.write_bytes(latest.read_bytes()[:100])  # torn: a full disk, a kill mid-copy
    with pytest.warns(UserWarning, match="resuming from the previous checkpoint"):
        assert load_checkpoint(tmp_path)["step"] == 1
    (tmp_path / PREVIOUS).write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match=f"{CHECKPOINT}: not a readable checkpoint"):
        load_checkpoint(tmp_path)
    assert load_checkpoint(tmp_path / "none") is None
