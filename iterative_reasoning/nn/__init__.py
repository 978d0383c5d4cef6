"""Neural network modules: one concept per file."""

from iterative_reasoning.nn.conv_gru import ConvGRUCell
from iterative_reasoning.nn.global_module import GlobalModule, GlobalOutput, WeightedAggregation

__all__ = ["ConvGRUCell", "GlobalModule", "GlobalOutput", "WeightedAggregation"]
