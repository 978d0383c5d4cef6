"""Training, evaluation and checkpoints of the models of :mod:`iterative_reasoning.models`,
for region classification and for detection."""

from iterative_reasoning.engine.checkpoint import load_checkpoint, save_checkpoint
from iterative_reasoning.engine.config import TrainConfig
from iterative_reasoning.engine.distributed import (
    close_distributed,
    init_distributed,
    process_group,
)
from iterative_reasoning.engine.evaluate import evaluate, evaluate_detection, predict_dataset
from iterative_reasoning.engine.hooks import CallbackHook, Hook
from iterative_reasoning.engine.loader import StepBatchSampler, data_order
from iterative_reasoning.engine.lock import RunDirectoryBusy, RunDirectoryLock
from iterative_reasoning.engine.log import read_log
from iterative_reasoning.engine.optim import lr_schedule, make_optimizer, parameter_groups
from iterative_reasoning.engine.state import TrainState
from iterative_reasoning.engine.stopping import TrainingDiverged
from iterative_reasoning.engine.train import train, train_and_evaluate, train_step

__all__ = [
    "CallbackHook",
    "Hook",
    "RunDirectoryBusy",
    "RunDirectoryLock",
    "StepBatchSampler",
    "TrainConfig",
    "TrainState",
    "TrainingDiverged",
    "close_distributed",
    "data_order",
    "evaluate",
    "evaluate_detection",
    "init_distributed",
    "load_checkpoint",
    "lr_schedule",
    "make_optimizer",
    "parameter_groups",
    "predict_dataset",
    "process_group",
    "read_log",
    "save_checkpoint",
    "train",
    "train_and_evaluate",
    "train_step",
]
