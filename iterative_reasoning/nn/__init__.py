"""Neural network modules: one concept per file."""

from iterative_reasoning.nn.attention import AttentionFusion, Fusion
from iterative_reasoning.nn.conv_gru import ConvGRUCell
from iterative_reasoning.nn.global_module import GlobalModule, GlobalOutput, WeightedAggregation
from iterative_reasoning.nn.local_module import LocalModule, LocalOutput
from iterative_reasoning.nn.reasoning_head import (
    FEED_MODES,
    MODELS,
    IterativeReasoningHead,
    ReasoningOutput,
)
from iterative_reasoning.nn.spatial_memory import SpatialMemory

__all__ = [
    "FEED_MODES",
    "MODELS",
    "AttentionFusion",
    "ConvGRUCell",
    "Fusion",
    "GlobalModule",
    "GlobalOutput",
    "IterativeReasoningHead",
    "LocalModule",
    "LocalOutput",
    "ReasoningOutput",
    "SpatialMemory",
    "WeightedAggregation",
]
