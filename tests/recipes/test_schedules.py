import pytest

from iterative_reasoning.recipes import synthetic
from iterative_reasoning.recipes.schedules import (
    PAPER_STEPS,
    default_schedule,
    detection_schedule,
    paper_schedule,
)
from iterative_reasoning.recipes.spec import RunSpec


def test_the_paper_s_schedule_scales_its_drop_and_checkpoints():
    full = paper_schedule()
    assert (full.steps, full.lr_steps, full.checkpoint_every) == (PAPER_STEPS, (280_000,), 10_000)
    assert full.lr == 5e-4 and full.batch_size == 1
    short = paper_schedule(800, batch_size=2)
    assert (short.steps, short.lr_steps, short.checkpoint_every, short.batch_size) == (
        800,
        (700,),
        800,
        2,
    )


def test_detectron2_s_1x():
    one_x = detection_schedule()
    assert (one_x.steps, one_x.batch_size, one_x.lr) == (90_000, 16, 0.02)
    assert (one_x.lr_steps, one_x.warmup_steps) == ((60_000, 80_000), 1000)


@pytest.mark.parametrize(
    ("spec", "frozen", "expected"),
    [
        (RunSpec("ade20k", "final", "x"), False, paper_schedule()),
        (RunSpec("visual_genome", "local", "x"), False, paper_schedule()),
        (RunSpec("coco", "final", "x", task="detection"), False, detection_schedule()),
        (RunSpec("synthetic", "baseline", "x"), False, synthetic.baseline_schedule()),
        (RunSpec("synthetic", "final", "x"), False, synthetic.head_schedule()),
        (
            RunSpec("synthetic", "final", "x", benchmark="hard"),
            False,
            synthetic.head_schedule("hard"),
        ),
        (
            RunSpec("synthetic", "final", "x", task="detection"),
            False,
            synthetic.detector_schedule(),
        ),
        (
            RunSpec("synthetic", "final", "x", task="detection"),
            True,
            synthetic.detection_head_schedule(),
        ),
    ],
)
def test_the_default_schedule_of_each_run(spec, frozen, expected):
    assert default_schedule(spec, frozen=frozen) == expected
