import json

import pytest

from iterative_reasoning.engine.log import LOG, RunLog, read_log


def test_lines_mean_their_steps_and_a_resume_drops_what_came_after_its_step(tmp_path):
    log = RunLog(tmp_path, step=0, tensorboard=False)
    for step, loss in enumerate([4.0, 2.0, 1.0, 3.0, 5.0], start=1):
        log.add(step, {"loss": loss, "loss_local": loss / 2}, flush=step % 2 == 0)
    assert log.pending == [{"loss": 5.0, "loss_local": 2.5}]
    log.close()
    assert read_log(tmp_path) == [
        {"step": 2, "loss": 3.0, "loss_local": 1.5},
        {"step": 4, "loss": 2.0, "loss_local": 1.0},
    ]
    # resumed from a checkpoint of step 3 holding step 3's terms: line 4 is written again
    resumed = RunLog(
        tmp_path, step=3, tensorboard=False, pending=[{"loss": 1.0, "loss_local": 0.5}]
    )
    assert read_log(tmp_path) == [{"step": 2, "loss": 3.0, "loss_local": 1.5}]
    resumed.add(4, {"loss": 3.0, "loss_local": 1.5}, flush=True)
    resumed.flush(5)  # nothing pending: no line
    resumed.close()
    assert [line["step"] for line in read_log(tmp_path)] == [2, 4]
    assert read_log(tmp_path)[-1]["loss"] == 2.0


def test_tensorboard_holds_the_kept_lines(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    log = RunLog(tmp_path, step=0, tensorboard=True)
    for step in (1, 2, 3):
        log.add(step, {"loss": float(step)}, flush=True)
    log.close()
    RunLog(tmp_path, step=2, tensorboard=True).close()  # resumed at step 2
    events = EventAccumulator(str(tmp_path / "tensorboard"))
    events.Reload()
    assert [(e.step, e.value) for e in events.Scalars("train/loss")] == [(1, 1.0), (2, 2.0)]


def test_read_log_skips_a_torn_last_line_and_refuses_a_torn_middle(tmp_path):
    assert read_log(tmp_path / "none") == []
    lines = [json.dumps({"step": 1, "loss": 1.0}), '{"step": 2, "lo']
    (tmp_path / LOG).write_text("\n".join(lines) + "\n")
    with pytest.warns(UserWarning, match="ignoring its torn last line 2"):
        assert read_log(tmp_path) == [{"step": 1, "loss": 1.0}]
    (tmp_path / LOG).write_text("\n".join(reversed(lines)) + "\n")
    with pytest.raises(ValueError, match="line 1: not JSON"):
        read_log(tmp_path)


def test_the_log_follows_no_link_planted_in_the_run_directory(tmp_path):
    import os

    outside = tmp_path / "outside.txt"
    outside.write_text("keep me")
    run = tmp_path / "run"
    run.mkdir()
    for name in (LOG, "log.jsonl.partial", ".log.jsonl.partial"):
        os.symlink(outside, run / name)
    log = RunLog(run, step=0, tensorboard=False)
    log.add(1, {"loss": 1.0}, flush=True)
    log.close()
    assert outside.read_text() == "keep me"
    assert not (run / LOG).is_symlink() and read_log(run) == [{"step": 1, "loss": 1.0}]


def test_a_fresh_run_starts_a_new_log_over_an_unreadable_old_one(tmp_path):
    (tmp_path / LOG).write_text('{"step": 1, "loss": 1.0}\nnot json\n{"step": 2, "loss": 2.0}\n')
    with pytest.raises(ValueError, match="line 2: not JSON"):
        read_log(tmp_path)
    log = RunLog(tmp_path, step=0, tensorboard=False)  # nothing of the old log is kept
    log.add(1, {"loss": 5.0}, flush=True)
    log.close()
    assert read_log(tmp_path) == [{"step": 1, "loss": 5.0}]
