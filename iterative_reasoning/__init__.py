"""Iterative visual reasoning for object detectors, on PyTorch Geometric.

An implementation of `Iterative Visual Reasoning Beyond Convolutions
<https://arxiv.org/abs/1803.11189>`_ (Chen, Li, Fei-Fei, Gupta, CVPR 2018).

Shape glossary, used in every docstring of the package:

==========  ==================================================================================
``B``       images in a batch
``R``       regions over the batch (``R_i`` in image ``i``); regions of all images are
            concatenated along dim 0 and a ``batch`` vector ``[R]`` gives each one's image
``C``       classes (classifier outputs); index 0 is background when a dataset has one
``D``       feature channels of the reasoning modules (``D_r`` region input, ``D_c`` class
            embedding)
``H x W``   memory grid at stride 16 of the network input
``T``       iterations, the ConvNet prediction included
``E``       edges of one edge type
==========  ==================================================================================

Boxes are ``xyxy`` float pixels of the network input (after resizing).
"""

from iterative_reasoning._version import __version__
from iterative_reasoning.graph import ClassRelations, build_reasoning_graph
from iterative_reasoning.losses import ReasoningLoss, reasoning_loss
from iterative_reasoning.metrics import ClassificationMetrics, evaluate_classification
from iterative_reasoning.nn import (
    GlobalModule,
    GlobalOutput,
    IterativeReasoningHead,
    LocalModule,
    ReasoningOutput,
)

__all__ = [
    "__version__",
    "ClassRelations",
    "ClassificationMetrics",
    "GlobalModule",
    "GlobalOutput",
    "IterativeReasoningHead",
    "LocalModule",
    "ReasoningLoss",
    "ReasoningOutput",
    "build_reasoning_graph",
    "evaluate_classification",
    "reasoning_loss",
]
