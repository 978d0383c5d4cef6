import subprocess
import sys
from pathlib import Path

import pytest
import torch

from iterative_reasoning.engine import load_checkpoint, read_log

WORKER = Path(__file__).with_name("ddp_worker.py")


def _run(args, tmp_path):
    done = subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, timeout=180, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr[-3000:]


def test_two_gloo_processes_under_torchrun_equal_one_process(tmp_path):
    """DDP over 2 CPU processes (1 image each) ends with the weights of one process taking both
    images per step; process 0 writes one checkpoint and one log."""
    _run([str(WORKER), str(tmp_path / "one")], tmp_path)
    torchrun = ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    _run([*torchrun, str(WORKER), str(tmp_path / "two")], tmp_path)
    one = torch.load(tmp_path / "one" / "final.pt")
    two = torch.load(tmp_path / "two" / "final.pt")
    assert one.keys() == two.keys()
    for name, value in one.items():
        if value.is_floating_point():
            torch.testing.assert_close(two[name], value, rtol=1e-5, atol=1e-7, msg=name)
    state = load_checkpoint(tmp_path / "two")
    assert state["step"] == 4 and len(state["rng"]) == 2 and None not in state["rng"]
    logs = read_log(tmp_path / "one"), read_log(tmp_path / "two")
    assert [line["step"] for line in logs[1]] == [1, 2, 3, 4]
    for a, b in zip(*logs, strict=True):
        assert b["loss"] == pytest.approx(a["loss"], rel=1e-5)


def test_a_detector_with_the_head_trains_under_torchrun(tmp_path):
    """DDP over 2 CPU processes trains a Faster R-CNN with the reasoning head (every parameter
    receives a gradient at every step, as DDP requires); the processes stay in sync and process
    0 writes one checkpoint and one log."""
    worker = WORKER.with_name("ddp_detection_worker.py")
    torchrun = ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    _run([*torchrun, str(worker), str(tmp_path / "run")], tmp_path)
    first = torch.load(tmp_path / "run" / "final_0.pt")
    second = torch.load(tmp_path / "run" / "final_1.pt")
    for name, value in first.items():
        if value.is_floating_point() and "running_" not in name:  # batch norms see own images
            assert torch.equal(second[name], value), name
    state = load_checkpoint(tmp_path / "run")
    assert state["step"] == 3 and len(state["rng"]) == 2
    assert [line["step"] for line in read_log(tmp_path / "run")] == [1, 2, 3]
    assert any(".roi_heads.head." in name for name in state["model"])
