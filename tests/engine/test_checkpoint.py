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
    with pytest.raises(ValueError, match="not a readable checkpoint") as raised:
        load_checkpoint(tmp_path)
    assert not marker.exists()
    assert "weights_only" not in str(raised.value)  # never the advice to run the file's code


def test_a_directory_in_place_of_the_checkpoint_is_named_as_such(tmp_path):
    (tmp_path / CHECKPOINT).mkdir()
    with pytest.raises(ValueError, match="checkpoint.pt: a directory, not a checkpoint file"):
        load_checkpoint(tmp_path)


def test_a_file_of_random_bytes_or_of_foreign_objects_is_named_as_such(tmp_path):
    (tmp_path / CHECKPOINT).write_bytes(os.urandom(4096))
    with pytest.raises(ValueError, match="not the zip archive torch.save writes") as raised:
        load_checkpoint(tmp_path)
    assert "weights_only" not in str(raised.value)
    torch.save({"model": {}, "code": os.system}, tmp_path / CHECKPOINT)
    with pytest.raises(ValueError, match="holds Python objects other than tensors") as raised:
        load_checkpoint(tmp_path)
    assert "weights_only" not in str(raised.value)


def test_a_full_disk_is_one_clear_error_and_the_checkpoint_before_is_intact(tmp_path, monkeypatch):
    save_checkpoint(tmp_path, _state(1))

    def full_disk(obj, f, *args, **kwargs):  # what torch raises when a write comes up short
        f.write(b"PK\x03\x04 partial")
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 704 vs 598")

    monkeypatch.setattr(torch, "save", full_disk)
    monkeypatch.setattr("shutil.disk_usage", lambda path: type("Usage", (), {"free": 4096})())
    with pytest.raises(OSError, match="no space left on the device") as raised:
        save_checkpoint(tmp_path, _state(2))
    assert raised.value.filename == str(tmp_path / CHECKPOINT)
    assert "checkpoints before it are intact" in str(raised.value)
    monkeypatch.undo()
    assert load_checkpoint(tmp_path)["step"] == 1
    assert not list(tmp_path.glob(".*partial"))


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
