from dataclasses import replace

import pytest
from helpers import small_region_model

from iterative_reasoning.data.synthetic import SyntheticScenes
from iterative_reasoning.engine import (
    TrainConfig,
    load_checkpoint,
    train,
)
from iterative_reasoning.engine.hooks import CallbackHook, Hook


def test_keyboard_interrupt_leaves_a_checkpoint(tmp_path):
    data = SyntheticScenes(3, seed=0)

    def interrupt(step, terms):
        if step == 2:
            raise KeyboardInterrupt

    config = TrainConfig(steps=6, batch_size=1, lr=0.01, checkpoint_every=100)
    with pytest.raises(KeyboardInterrupt):
        train(small_region_model(False), data, config, tmp_path, progress=False,
              hooks=[CallbackHook(interrupt)])  # fmt: skip
    assert load_checkpoint(tmp_path)["step"] == 2


class _Recorder(Hook):
    """Records its calls and keeps a count in every checkpoint."""

    def __init__(self):
        self.calls = []

    def start(self, run):
        self.calls.append(("start", run.state.step, run.resumed is not None))

    def after_step(self, run, terms):
        self.calls.append(("step", run.state.step, sorted(terms) == sorted(set(terms))))

    def close(self):
        self.calls.append(("close",))

    def checkpoint_state(self):
        return {"recorded_steps": sum(c[0] == "step" for c in self.calls)}


def test_a_hook_of_one_s_own_sees_every_step_and_adds_to_the_checkpoints(tmp_path):
    data = SyntheticScenes(3, seed=0)
    config = TrainConfig(steps=3, batch_size=1, lr=0.01, checkpoint_every=2)
    first = _Recorder()
    train(small_region_model(False), data, config, tmp_path, progress=False, hooks=[first],
          tensorboard=False)  # fmt: skip
    assert first.calls == [("start", 0, False), *[("step", s, True) for s in (1, 2, 3)], ("close",)]
    assert load_checkpoint(tmp_path)["recorded_steps"] == 3
    longer = replace(config, steps=4)
    second = _Recorder()
    train(small_region_model(False), data, longer, tmp_path, progress=False, hooks=[second],
          tensorboard=False)  # fmt: skip
    assert second.calls == [("start", 3, True), ("step", 4, True), ("close",)]


def test_a_failing_step_still_closes_every_hook(tmp_path):
    recorder = _Recorder()

    def fail(step, terms):
        raise RuntimeError("boom")

    config = TrainConfig(steps=3, batch_size=1, lr=0.01, checkpoint_every=10)
    with pytest.raises(RuntimeError, match="boom"):
        train(small_region_model(False), SyntheticScenes(2, seed=0), config, tmp_path,
              progress=False, hooks=[CallbackHook(fail), recorder], tensorboard=False)  # fmt: skip
    assert recorder.calls[-1] == ("close",) and [c[0] for c in recorder.calls].count("step") == 0
