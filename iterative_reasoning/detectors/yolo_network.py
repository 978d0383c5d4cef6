"""ultralytics' YOLO as the adapter of :mod:`~iterative_reasoning.detectors.ultralytics`
reads it: importing ultralytics without its process-wide side effects, its detection network,
and the strides and channels of the maps its ``Detect`` head reads. ultralytics is AGPL-3.0;
this package never requires it."""

from __future__ import annotations

import os
import sys
import warnings
from typing import Any

import torch

INSTALL = "pip install ultralytics (AGPL-3.0; this package never requires it)"


def import_ultralytics() -> Any:
    """``import ultralytics``, leaving the process as it was.

    Importing ultralytics changes process-wide state: it sets ``OMP_NUM_THREADS=1`` and other
    variables in the environment (every process started afterwards then runs PyTorch on one
    thread), replaces
    ``PIL.Image.open`` (an unreadable image then tries to install ``pi-heif`` instead of raising
    ``UnidentifiedImageError``) and ``torch.save``, and changes PyTorch's and NumPy's print
    options, OpenCV's threads and the warnings filters. The adapter imports it (and the
    submodules it uses) through this function, which puts all of that back; import it through
    this function too (``YOLO = import_ultralytics().YOLO``) before anything else imports it.
    """
    if sys.modules.get("ultralytics") is not None:  # imported already (None: blocked)
        return sys.modules["ultralytics"]
    environment = dict(os.environ)
    os.environ.setdefault("YOLO_OFFLINE", "1")  # no reaching for the network on import
    try:
        with warnings.catch_warnings():  # puts the warnings filters back on the way out
            import cv2
            import numpy as np
            from PIL import Image

            image_open, torch_save, cv2_threads = Image.open, torch.save, cv2.getNumThreads()
            torch_print = dict(vars(torch._tensor_str.PRINT_OPTS))
            numpy_print = np.get_printoptions()
            try:
                import ultralytics
                import ultralytics.cfg
                import ultralytics.nn.modules.head
                import ultralytics.nn.tasks
                import ultralytics.utils.nms
                import ultralytics.utils.patches  # noqa: F401
            finally:
                Image.open, torch.save = image_open, torch_save
                cv2.setNumThreads(cv2_threads)
                torch.set_printoptions(**torch_print)
                np.set_printoptions(**numpy_print)
    except ImportError as error:
        raise ImportError(f"the YOLO adapter needs ultralytics: {INSTALL}") from error
    finally:
        os.environ.clear()
        os.environ.update(environment)
    return ultralytics


def detection_model_of(model: Any) -> Any:
    """The ``ultralytics`` detection network of ``model`` (a ``YOLO`` object or its
    ``DetectionModel``); a clear error for anything else."""
    import_ultralytics()
    from ultralytics.nn.modules.head import Detect
    from ultralytics.nn.tasks import DetectionModel

    inner = getattr(model, "model", None)
    if not isinstance(model, DetectionModel) and isinstance(inner, DetectionModel):
        model = inner
    if not isinstance(model, DetectionModel) or not isinstance(detect_head(model), Detect):
        raise TypeError(
            "model must be an ultralytics YOLO detector (YOLO('yolov8n.yaml') or its "
            f"DetectionModel), got {type(model).__name__}"
        )
    detect = detect_head(model)
    if type(detect).__name__ != "Detect" or getattr(detect, "end2end", False):
        raise TypeError(
            f"the adapter serves YOLO's plain Detect head (with NMS), not {type(detect).__name__}"
            + (" in end-to-end mode" if getattr(detect, "end2end", False) else "")
        )
    return model


def detect_head(network: Any) -> Any:
    """The network's last layer (its ``Detect`` head)."""
    return network.model[-1]


def level_channels(network: Any, strides: list[int]) -> list[int]:
    """The channels of each map the ``Detect`` head reads (its box branch's first conv)."""
    detect = detect_head(network)
    return [int(branch[0].conv.in_channels) for branch in detect.cv2][: len(strides)]
