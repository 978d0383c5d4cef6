"""Training, evaluation and checkpoints."""

from iterative_reasoning.engine.checkpoint import load_checkpoint, save_checkpoint
from iterative_reasoning.engine.evaluate import evaluate, predict_dataset
from iterative_reasoning.engine.model import Batch, RegionModel, collate_regions
from iterative_reasoning.engine.train import (
    TrainConfig,
    close_distributed,
    data_order,
    init_distributed,
    parameter_groups,
    process_group,
    read_log,
    train,
    train_and_evaluate,
)

__all__ = [
    "Batch",
    "RegionModel",
    "TrainConfig",
    "close_distributed",
    "collate_regions",
    "data_order",
    "evaluate",
    "init_distributed",
    "load_checkpoint",
    "parameter_groups",
    "predict_dataset",
    "process_group",
    "read_log",
    "save_checkpoint",
    "train",
    "train_and_evaluate",
]
