"""Neural network modules: one concept per file."""

from iterative_reasoning.nn.attention import AttentionFusion, Fusion
from iterative_reasoning.nn.conv_gru import ConvGRUCell
from iterative_reasoning.nn.fallback import FUSIONS, FallbackGate
from iterative_reasoning.nn.global_conv import FastGlobalReasoningConv, GlobalReasoningConv
from iterative_reasoning.nn.global_module import GlobalModule, GlobalOutput
from iterative_reasoning.nn.head_checks import FEED_MODES
from iterative_reasoning.nn.head_trace import ReasoningOutput
from iterative_reasoning.nn.local_module import LocalModule, LocalOutput
from iterative_reasoning.nn.pretrained import PretrainedHeadError
from iterative_reasoning.nn.reasoning_head import MODELS, IterativeReasoningHead
from iterative_reasoning.nn.region_batch import RegionBatch, region_batch
from iterative_reasoning.nn.spatial_memory import SpatialMemory

__all__ = [
    "FEED_MODES",
    "FUSIONS",
    "MODELS",
    "AttentionFusion",
    "ConvGRUCell",
    "FallbackGate",
    "PretrainedHeadError",
    "FastGlobalReasoningConv",
    "Fusion",
    "GlobalModule",
    "GlobalOutput",
    "GlobalReasoningConv",
    "IterativeReasoningHead",
    "LocalModule",
    "LocalOutput",
    "ReasoningOutput",
    "RegionBatch",
    "SpatialMemory",
    "region_batch",
]
