"""The synthetic context benchmark: rendered scenes whose classes are real WordNet nouns and in
which some classes look identical alone and differ only by context.

- :mod:`~iterative_reasoning.data.synthetic.easy`: the easy tier (three look-alike pairs,
  perfect context) and the drawing primitives every tier shares;
- :mod:`~iterative_reasoning.data.synthetic.hard_groups`,
  :mod:`~iterative_reasoning.data.synthetic.hard_layout`,
  :mod:`~iterative_reasoning.data.synthetic.hard`: the hard tier's look-alike groups, where
  everything of an image goes, and its rendering and ceiling;
- :mod:`~iterative_reasoning.data.synthetic.long_tail_classes`,
  :mod:`~iterative_reasoning.data.synthetic.long_tail_layout`,
  :mod:`~iterative_reasoning.data.synthetic.long_tail`: the long-tail tier's classes and groups,
  where everything of an image goes, its rendering, ceiling, box counts and annotation-only
  corpus;
- :mod:`~iterative_reasoning.data.synthetic.scenes`: the tiers and the benchmark as a dataset.
"""

from iterative_reasoning.data.synthetic.easy import (
    AMBIGUOUS_PAIRS,
    APPEARANCES,
    CLASSES,
    IMAGE_SIZE,
    MIN_CUE_DISTANCE,
    Appearance,
    Instance,
    class_names,
    record_of,
    render,
)
from iterative_reasoning.data.synthetic.scenes import BENCHMARKS, SyntheticScenes, tier

__all__ = [
    "AMBIGUOUS_PAIRS",
    "APPEARANCES",
    "BENCHMARKS",
    "CLASSES",
    "IMAGE_SIZE",
    "MIN_CUE_DISTANCE",
    "Appearance",
    "Instance",
    "SyntheticScenes",
    "class_names",
    "record_of",
    "render",
    "tier",
]
