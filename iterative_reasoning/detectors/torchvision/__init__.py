"""The reasoning head inside torchvision's two-stage detectors (Faster, Mask and Keypoint R-CNN).

:class:`ReasoningRoIHeads` is a :class:`torchvision.models.detection.roi_heads.RoIHeads` that
puts an :class:`~iterative_reasoning.nn.IterativeReasoningHead` between the box head and the
post-processing; :func:`attach_reasoning_head` swaps it into a built detector, which stays the
same class and keeps torchvision's interface: ``detector(images, targets)`` returns the losses
(with ``"loss_reasoning"`` added), ``detector(images)`` the detections.

- :mod:`~iterative_reasoning.detectors.torchvision.roi_heads`: the RoI heads;
- :mod:`~iterative_reasoning.detectors.torchvision.attach`: attaching, detaching, sizing a head
  for a detector;
- :mod:`~iterative_reasoning.detectors.torchvision.scripting`: the detector with the head for
  ``torch.jit.script`` (:func:`scriptable`).

The detectors by name for the command line are :mod:`~iterative_reasoning.models.builders`.
"""

from iterative_reasoning.detectors.torchvision.attach import (
    attach_reasoning_head,
    check_head_fits,
    detach_reasoning_head,
    feature_strides,
)
from iterative_reasoning.detectors.torchvision.roi_heads import (
    DEFAULT_REASONED_BOXES,
    TRAIN_ON,
    ReasoningRoIHeads,
    TrainOn,
)
from iterative_reasoning.detectors.torchvision.scripting import (
    ScriptedReasoningRoIHeads,
    scriptable,
)

__all__ = [
    "DEFAULT_REASONED_BOXES",
    "TRAIN_ON",
    "ReasoningRoIHeads",
    "ScriptedReasoningRoIHeads",
    "TrainOn",
    "attach_reasoning_head",
    "check_head_fits",
    "detach_reasoning_head",
    "feature_strides",
    "scriptable",
]
