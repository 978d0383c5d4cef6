"""The schedules of runs: the paper's, scaled to a number of steps; detectron2's 1x for
detection; the synthetic benchmark's."""

from __future__ import annotations

from iterative_reasoning.engine.config import TrainConfig
from iterative_reasoning.recipes import synthetic
from iterative_reasoning.recipes.spec import RunSpec

#: The paper's ADE schedule: 320 K steps of one image, the learning rate dropped at 280 K.
PAPER_STEPS = 320_000


def paper_schedule(steps: int = PAPER_STEPS, batch_size: int = 1) -> TrainConfig:
    """The paper's optimiser and schedule in ``steps`` steps: lr 5e-4 dropped tenfold at 7/8
    of them (280 K of 320 K), a checkpoint every 10 K steps (or at the end).

    Example:
        >>> paper_schedule(8000).lr_steps
        (7000,)
    """
    return TrainConfig(
        steps=steps,
        batch_size=batch_size,
        lr_steps=(round(steps * 7 / 8),),
        checkpoint_every=min(10_000, steps),
    )


def detection_schedule() -> TrainConfig:
    """detectron2's "1x" COCO schedule: 90 K steps of 16 images, lr 0.02 dropped at 60 K and
    80 K, 1 K warmup steps."""
    return TrainConfig(
        steps=90_000, batch_size=16, lr=0.02, lr_steps=(60_000, 80_000), warmup_steps=1000
    )


def default_schedule(spec: RunSpec, frozen: bool = False) -> TrainConfig:
    """The schedule of a run that gives none: the synthetic benchmark's (the ConvNet's or the
    detector's, or a head's on the frozen one), else detectron2's 1x for detection and the
    paper's for classification (its Visual Genome schedule is not known: the ADE one)."""
    if spec.task == "detection":
        if spec.dataset == "synthetic":
            return synthetic.detection_head_schedule() if frozen else synthetic.detector_schedule()
        return detection_schedule()
    if spec.dataset == "synthetic":
        if spec.model == "baseline":
            return synthetic.baseline_schedule()
        return synthetic.head_schedule(spec.benchmark)
    return paper_schedule()
