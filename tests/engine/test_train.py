import multiprocessing
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from helpers import assert_same_state, small_region_model

from iterative_reasoning.data.synthetic import SyntheticScenes
from iterative_reasoning.engine import TrainConfig, data_order, load_checkpoint, read_log, train
from iterative_reasoning.models import RegionModel

# two workers read the data: the exact-resume tests cover the DataLoader path
CONFIG = TrainConfig(
    steps=6, batch_size=2, lr=0.01, lr_steps=(4,), checkpoint_every=3, seed=5, num_workers=2
)


KILLED_AT_STEP_4 = """
import os, sys
sys.path[:0] = sys.argv[2:]
from helpers import small_region_model
from test_train import CONFIG
from iterative_reasoning.data.synthetic import SyntheticScenes, class_names
from iterative_reasoning.engine import CallbackHook, train

def kill(step, terms):
    if step == 4:
        os._exit(0)  # dies with no chance to clean up, as a killed process

train(small_region_model(), SyntheticScenes(5, seed=0, hflip_prob=0.5), CONFIG, sys.argv[1],
      progress=False, hooks=[CallbackHook(kill)])
"""


def test_killed_and_resumed_equals_uninterrupted(tmp_path):
    data = SyntheticScenes(5, seed=0, hflip_prob=0.5)
    straight = small_region_model()
    train(straight, data, CONFIG, tmp_path / "straight", progress=False)

    here = Path(__file__).parent
    paths = [str(here), str(here.parent)]
    argv = [sys.executable, "-c", KILLED_AT_STEP_4, str(tmp_path / "resumed"), *paths]
    subprocess.run(argv, check=True, timeout=300, capture_output=True)
    assert load_checkpoint(tmp_path / "resumed")["step"] == 3  # the last periodic one
    resumed = small_region_model()  # a fresh process: new model, state from the checkpoint only
    history = train(resumed, data, CONFIG, tmp_path / "resumed", progress=False)
    assert len(history) == 3 and history[-1]["lr"] == pytest.approx(0.001)
    assert_same_state(straight, resumed)
    # the log of the resumed run reads as the uninterrupted one, in log.jsonl and TensorBoard
    assert read_log(tmp_path / "resumed") == read_log(tmp_path / "straight")
    assert [line["step"] for line in read_log(tmp_path / "straight")] == [3, 6]
    steps, values = zip(*_tensorboard(tmp_path / "resumed", "train/loss"), strict=True)
    assert steps == (3, 6)
    assert values == pytest.approx([line["loss"] for line in read_log(tmp_path / "straight")])


def _tensorboard(directory, tag):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(directory / "tensorboard"))
    events.Reload()
    return [(e.step, e.value) for e in events.Scalars(tag)]


def test_a_head_trains_on_a_frozen_convnet(tmp_path):
    trained = small_region_model(head=False)
    train(trained, SyntheticScenes(4, seed=0), CONFIG, tmp_path / "base", progress=False)
    model = small_region_model()
    model.convnet.load_state_dict(trained.convnet.state_dict())
    model = RegionModel(model.convnet, model.head, freeze_convnet=True)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    train(model, SyntheticScenes(4, seed=0), CONFIG, tmp_path / "head", progress=False)
    after = model.state_dict()
    for name, value in before.items():
        changed = not torch.equal(after[name], value)
        assert changed != name.startswith("convnet.") or "num_batches" in name, name
    assert not model.convnet.training and model.head.training
    with pytest.raises(ValueError, match="nothing to train"):
        RegionModel(trained.convnet, None, freeze_convnet=True)


class _FailsOnce(torch.utils.data.Dataset):
    """A dataset whose ``fail_at``-th read raises, as a corrupted image would (read in this
    process: ``num_workers=0``)."""

    def __init__(self, data, fail_at):
        self.data, self.reads, self.fail_at = data, 0, fail_at

    def __len__(self):
        return len(self.data)

    def __getitem__(self, index):
        self.reads += 1
        if self.reads == self.fail_at:
            raise OSError("image file is truncated")
        return self.data[index]


def test_an_error_mid_step_checkpoints_the_last_step_and_loses_nothing(tmp_path):
    config = replace(CONFIG, num_workers=0)
    data = SyntheticScenes(5, seed=0, hflip_prob=0.5)
    straight = small_region_model()
    train(straight, data, config, tmp_path / "straight", progress=False)
    failing = _FailsOnce(data, fail_at=10)  # the second image of step 5 (2 images a step)
    with pytest.raises(OSError, match="truncated"):
        train(small_region_model(), failing, config, tmp_path / "resumed", progress=False)
    assert load_checkpoint(tmp_path / "resumed")["step"] == 4
    resumed = small_region_model()
    train(resumed, failing, config, tmp_path / "resumed", progress=False)
    assert_same_state(straight, resumed)


class _FailsOnceInAWorker(torch.utils.data.Dataset):
    """A dataset whose first read of item ``bad`` raises, in whichever worker reads it; the
    marker file remembers across processes that it did."""

    def __init__(self, data, bad, marker):
        self.data, self.bad, self.marker = data, bad, marker

    def __len__(self):
        return len(self.data)

    def __getitem__(self, index):
        if index == self.bad and not self.marker.exists():
            self.marker.touch()
            raise OSError("image file is truncated")
        return self.data[index]


def test_an_error_in_a_worker_checkpoints_the_last_step_and_loses_nothing(tmp_path):
    """The workers read ahead; the error comes with its step's batch, the steps before it
    finish, and the resumed run equals the uninterrupted one."""
    config = replace(CONFIG, steps=2, checkpoint_every=10, num_workers=2)
    data = SyntheticScenes(5, seed=0, hflip_prob=0.5)
    straight = small_region_model()
    train(straight, data, config, tmp_path / "straight", progress=False)
    bad = data_order(5, 1, 2, config.seed)[1]  # read once in these 4 positions: step 2's last
    failing = _FailsOnceInAWorker(data, bad, tmp_path / "failed")
    with pytest.raises(OSError, match="truncated") as raised:
        train(small_region_model(), failing, config, tmp_path / "resumed", progress=False)
    # the workers are stopped, though the error's traceback keeps the run's frame alive (they
    # ignore SIGTERM, so a process left with them would wait for them forever when it exits)
    assert raised.traceback and not multiprocessing.active_children()
    assert load_checkpoint(tmp_path / "resumed")["step"] == 1
    resumed = small_region_model()
    train(resumed, failing, config, tmp_path / "resumed", progress=False)
    assert_same_state(straight, resumed)


def test_the_data_of_a_step_does_not_depend_on_the_workers(tmp_path):
    """Which images a step reads and how each is flipped depend on the seed and the step:
    trained with 0, 1 or 2 workers, the weights are the same bit for bit."""
    data = SyntheticScenes(5, seed=0, hflip_prob=0.5)
    weights = []
    for workers in (0, 1, 2):
        model = small_region_model()
        config = replace(CONFIG, num_workers=workers)
        train(model, data, config, tmp_path / str(workers), progress=False, tensorboard=False)
        weights.append(model.state_dict())
    for other in weights[1:]:
        for name, value in weights[0].items():
            assert torch.equal(other[name], value), name


def test_mixed_precision_on_the_cpu_is_close_to_float32(tmp_path):
    """bfloat16 autocast (the CPU's) against float32 from the same weights and data: every
    step's loss within 2 % and the trained weights within 1e-2 (measured: 0.3 % and 1.2e-3)."""
    data = SyntheticScenes(5, seed=0, hflip_prob=0.5)
    runs = {}
    for precision in ("float32", "bfloat16"):
        model = small_region_model()
        config = replace(CONFIG, precision=precision, num_workers=0)
        history = train(model, data, config, tmp_path / precision, progress=False)
        runs[precision] = history, model.state_dict()
    (full, full_weights), (mixed, mixed_weights) = runs["float32"], runs["bfloat16"]
    assert [h["loss"] for h in mixed] == pytest.approx([h["loss"] for h in full], rel=2e-2)
    assert [h["loss"] for h in mixed] != [h["loss"] for h in full]  # it did run in bfloat16
    for name, value in full_weights.items():
        if value.is_floating_point():
            torch.testing.assert_close(mixed_weights[name], value, atol=1e-2, rtol=0, msg=name)
    assert load_checkpoint(tmp_path / "bfloat16")["config"]["precision"] == "bfloat16"
    with pytest.raises(ValueError, match="'float16' needs a GPU"):
        train(small_region_model(), data, replace(CONFIG, precision="float16"), tmp_path / "half")
    with pytest.raises(ValueError, match="precision must be one of"):
        TrainConfig(precision="int8")


def test_a_diverging_loss_stops_the_run_and_keeps_the_last_checkpoint(tmp_path):
    from iterative_reasoning.engine import TrainingDiverged

    data = SyntheticScenes(4, seed=0)
    config = replace(CONFIG, steps=40, lr=30.0, lr_steps=(), checkpoint_every=1, num_workers=0)
    with pytest.raises(TrainingDiverged, match="the loss diverged at step") as raised:
        train(small_region_model(), data, config, tmp_path, progress=False, tensorboard=False)
    step = load_checkpoint(tmp_path)["step"]
    assert f"the last checkpoint, of step {step}, is in {tmp_path}" in str(raised.value)
    assert f"diverged at step {step + 1}:" in str(raised.value)  # nothing written after it
    assert all(torch.isfinite(v).all() for v in load_checkpoint(tmp_path)["model"].values())
    # the check can be turned off: the same run then goes on (to a loss that is not finite,
    # or to its end)
    config = replace(config, max_loss_growth=0.0)
    try:
        history = train(small_region_model(), data, config, tmp_path / "unchecked", progress=False)
        assert len(history) == 40
    except FloatingPointError as error:
        assert not isinstance(error, TrainingDiverged)


def test_a_second_process_on_the_same_run_directory_is_refused_before_writing(tmp_path):
    from iterative_reasoning.engine import RunDirectoryBusy

    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from iterative_reasoning.engine import RunDirectoryLock\n"
            "RunDirectoryLock(sys.argv[1]).acquire()\nprint('held', flush=True)\ntime.sleep(120)",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(RunDirectoryBusy, match=f"process {holder.pid}"):
            train(small_region_model(), SyntheticScenes(4, seed=0), CONFIG, tmp_path)
        assert sorted(p.name for p in tmp_path.iterdir()) == [".lock"]
    finally:
        holder.kill()
        holder.wait(timeout=30)
    history = train(
        small_region_model(), SyntheticScenes(4, seed=0), replace(CONFIG, steps=1), tmp_path
    )
    assert len(history) == 1
