"""Training, evaluation and checkpoints."""

from iterative_reasoning.engine.checkpoint import load_checkpoint, save_checkpoint
from iterative_reasoning.engine.evaluate import evaluate
from iterative_reasoning.engine.model import Batch, RegionModel, collate_regions
from iterative_reasoning.engine.train import TrainConfig, data_order, parameter_groups, train

__all__ = [
    "Batch",
    "RegionModel",
    "TrainConfig",
    "collate_regions",
    "data_order",
    "evaluate",
    "load_checkpoint",
    "parameter_groups",
    "save_checkpoint",
    "train",
]
