"""Stopping a run at any moment and resuming it loses nothing: the resumed run ends with the
weights, buffers and log of the uninterrupted one, bit for bit (each stop in a subprocess)."""

import math
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from iterative_reasoning.data.synthetic import SyntheticScenes
from iterative_reasoning.engine import TrainConfig, load_checkpoint, read_log, train
from iterative_reasoning.engine.stopping import (
    StopSignals,
    TrainingInterrupted,
    TrainingTerminated,
)

sys.path[:0] = [str(Path(__file__).parent), str(Path(__file__).parents[1])]  # the tests' helpers
from helpers import small_region_model as _model  # noqa: E402

CONFIG = TrainConfig(
    steps=6,
    batch_size=2,
    lr=0.01,
    lr_steps=(4,),
    checkpoint_every=4,
    log_every=4,
    seed=5,
    num_workers=2,  # a stop with worker processes reading ahead
)
# Sends SIGNALS to itself from inside the forward pass of the given step (after the ConvNet's
# batch norms have seen the step's batch).
STOPPED = """
import os, signal, sys
sys.path[:0] = sys.argv[4:]
from test_stopping import CONFIG
from helpers import small_region_model as _model
from iterative_reasoning.data.synthetic import SyntheticScenes
from iterative_reasoning.engine import train

signals = [getattr(signal, name) for name in sys.argv[2].split(",")]
at_step, calls = int(sys.argv[3]), []
model = _model()

def hook(module, args, output):
    calls.append(1)
    if len(calls) == at_step:
        for number in signals:
            os.kill(os.getpid(), number)

model.convnet.register_forward_hook(hook)
train(model, SyntheticScenes(5, seed=0, hflip_prob=0.5), CONFIG, sys.argv[1], progress=False)
"""


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    out = tmp_path_factory.mktemp("straight")
    model = _model()
    train(model, SyntheticScenes(5, seed=0, hflip_prob=0.5), CONFIG, out, progress=False)
    return model.state_dict(), read_log(out)


def _stop(tmp_path, signals, at_step):
    here = Path(__file__).parent
    argv = [sys.executable, "-c", STOPPED, str(tmp_path), signals, str(at_step)]
    argv += [str(here), str(here.parent)]
    return subprocess.run(argv, timeout=300, capture_output=True, text=True)


def _resume_equals_straight(tmp_path, straight):
    resumed = _model()  # a fresh process's model: everything else from the checkpoint
    train(resumed, SyntheticScenes(5, seed=0, hflip_prob=0.5), CONFIG, tmp_path, progress=False)
    weights, log = straight
    for name, value in resumed.state_dict().items():
        assert torch.equal(value, weights[name]), name  # batch-norm statistics included
    assert read_log(tmp_path) == log


@pytest.mark.parametrize(
    ("signals", "status"),
    # an uncaught KeyboardInterrupt ends python -c with 1 (a script: -SIGINT); the command
    # line returns 130 (test_the_command_line_exits_with_the_signal_s_status)
    [("SIGTERM", [143]), ("SIGINT", [1, 130, -signal.SIGINT])],
)
def test_a_signal_during_a_step_stops_after_it(tmp_path, straight, signals, status):
    done = _stop(tmp_path, signals, at_step=3)
    assert done.returncode in status, done.stderr[-2000:]
    assert f"training stopped by {signals} after step 3; checkpoint in {tmp_path}" in done.stderr
    state = load_checkpoint(tmp_path)
    assert state["step"] == 3 and len(state["log_pending"]) == 3  # not yet logged: kept
    assert read_log(tmp_path) == []  # no line the uninterrupted run does not write
    _resume_equals_straight(tmp_path, straight)


def test_a_second_ctrl_c_stops_mid_step_and_keeps_the_last_finished_one(tmp_path, straight):
    done = _stop(tmp_path, "SIGINT,SIGINT", at_step=5)
    assert done.returncode in (1, 130, -signal.SIGINT), done.stderr[-2000:]
    assert "training stopped by an error after step 4" in done.stderr
    assert load_checkpoint(tmp_path)["step"] == 4  # step 5's batch-norm updates undone
    _resume_equals_straight(tmp_path, straight)


def test_sigkill_during_a_step_resumes_from_the_periodic_checkpoint(tmp_path, straight):
    done = _stop(tmp_path, "SIGKILL", at_step=6)
    assert done.returncode == -signal.SIGKILL
    assert load_checkpoint(tmp_path)["step"] == 4
    _resume_equals_straight(tmp_path, straight)


def test_a_torn_last_log_line_does_not_block_resuming(tmp_path, straight):
    done = _stop(tmp_path, "SIGKILL", at_step=6)
    assert done.returncode == -signal.SIGKILL
    with open(tmp_path / "log.jsonl", "a") as log:
        log.write('{"step": 6, "loss": 0.')  # a kill while writing
    with pytest.warns(UserWarning, match="torn last line"):
        assert [line["step"] for line in read_log(tmp_path)] == [4]
    (tmp_path / "log.jsonl").write_text('{"step": 4}\n{"step": 5, "lo\n{"step": 6}\n')
    with pytest.raises(ValueError, match="line 2: not JSON"):
        read_log(tmp_path)  # a damaged line inside the log is still an error


class _Diverging(torch.nn.Module):
    """A RegionModel stand-in whose loss turns NaN at its third step."""

    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(1))
        self.norm = torch.nn.BatchNorm1d(1)
        self.calls = 0

    collate = staticmethod(lambda samples: _Batch(torch.tensor(samples, dtype=torch.float)))

    def forward(self, batch):
        self.calls += 1
        value = self.norm(batch.x[:, None])[:, 0] * self.weight
        return value * (math.nan if self.calls == 3 else 1.0)

    def loss_of(self, batch, outputs):
        loss = outputs.pow(2).mean()
        return loss, {"loss": float(loss.detach())}


class _Batch:
    def __init__(self, x):
        self.x = x

    def to(self, device):
        return self


def test_a_non_finite_loss_stops_with_the_last_good_checkpoint(tmp_path):
    model = _Diverging()
    config = TrainConfig(steps=5, batch_size=2, lr=0.1, checkpoint_every=10, log_every=1)
    with pytest.raises(FloatingPointError, match="not finite at step 3.*checkpoint of step 2"):
        train(model, [1.0, 2.0, 3.0], config, tmp_path, progress=False, tensorboard=False)
    state = load_checkpoint(tmp_path)
    assert state["step"] == 2
    assert all(torch.isfinite(v).all() for v in state["model"].values() if v.is_floating_point())
    assert torch.isfinite(model.weight).all()  # the diverging step changed nothing


def test_skip_nonfinite_skips_the_step(tmp_path):
    model = _Diverging()
    config = TrainConfig(steps=4, batch_size=2, lr=0.1, log_every=1, skip_nonfinite=True)
    history = train(model, [1.0, 2.0, 3.0], config, tmp_path, progress=False, tensorboard=False)
    assert [h["skipped"] for h in history] == [0.0, 0.0, 1.0, 0.0]
    assert torch.isfinite(model.weight).all() and torch.isfinite(model.norm.running_mean).all()


def test_stop_signals_restore_the_handlers():
    before = signal.getsignal(signal.SIGTERM)
    with StopSignals(announce=False) as signals:
        signal.raise_signal(signal.SIGTERM)
        assert signals.received == signal.SIGTERM
        assert isinstance(signals.stop(3, "runs/x"), SystemExit)
        signals.received = signal.SIGINT
        assert isinstance(signals.stop(3, "runs/x"), TrainingInterrupted)
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)  # a second Ctrl-C: at once
    assert signal.getsignal(signal.SIGTERM) is before


@pytest.mark.parametrize(
    ("stop", "status"),
    [
        (TrainingInterrupted("stopped", 3), 130),
        (TrainingTerminated("stopped", 3), 143),
        (KeyboardInterrupt(), 130),
    ],
)
def test_the_command_line_exits_with_the_signal_s_status(tmp_path, monkeypatch, stop, status):
    from iterative_reasoning.cli import commands, main

    def stopped(*args, **kwargs):
        raise stop

    monkeypatch.setattr(commands, "train_model", stopped)
    argv = ["train", "--dataset", "synthetic", "--model", "baseline", "--num-images", "2"]
    assert main([*argv, "--output-dir", str(tmp_path), "--quiet"]) == status
