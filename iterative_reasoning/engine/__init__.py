"""Training, evaluation and checkpoints, for region classification and for detection."""

from iterative_reasoning.engine.checkpoint import load_checkpoint, save_checkpoint
from iterative_reasoning.engine.detection import (
    DetectionBatch,
    DetectionModel,
    collate_detections,
    evaluate_detection,
)
from iterative_reasoning.engine.evaluate import evaluate, predict_dataset
from iterative_reasoning.engine.model import Batch, RegionModel, collate_regions
from iterative_reasoning.engine.train import (
    TrainConfig,
    close_distributed,
    data_order,
    init_distributed,
    lr_schedule,
    parameter_groups,
    process_group,
    read_log,
    train,
    train_and_evaluate,
)

__all__ = [
    "Batch",
    "DetectionBatch",
    "DetectionModel",
    "RegionModel",
    "TrainConfig",
    "close_distributed",
    "collate_detections",
    "collate_regions",
    "data_order",
    "evaluate",
    "evaluate_detection",
    "init_distributed",
    "lr_schedule",
    "load_checkpoint",
    "parameter_groups",
    "predict_dataset",
    "process_group",
    "read_log",
    "save_checkpoint",
    "train",
    "train_and_evaluate",
]
