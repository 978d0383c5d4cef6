import os
import sys
import tempfile

import pytest
import torch

os.environ.setdefault("YOLO_CONFIG_DIR", tempfile.mkdtemp())  # not the user's settings
from iterative_reasoning.detectors.yolo_network import (  # noqa: E402
    detect_head,
    detection_model_of,
    import_ultralytics,
    level_channels,
)

try:  # through the adapter, so that importing it changes nothing in this process
    ultralytics = import_ultralytics()
except ImportError:
    pytest.skip("ultralytics is not installed", allow_module_level=True)

from ultralytics.nn.modules.head import Detect  # noqa: E402
from ultralytics.nn.tasks import DetectionModel  # noqa: E402


def _network():
    torch.manual_seed(0)
    return DetectionModel("yolov8n.yaml", nc=3, verbose=False)


def test_the_detection_network_of_a_yolo_object_or_its_network():
    network = _network()
    assert detection_model_of(network) is network
    wrapper = ultralytics.YOLO("yolov8n.yaml", verbose=False)
    assert detection_model_of(wrapper) is wrapper.model
    assert isinstance(detect_head(network), Detect)


def test_level_channels_are_the_detect_head_s_inputs():
    network = _network()
    strides = [int(s) for s in detect_head(network).stride.tolist()]
    assert strides == [8, 16, 32]
    assert level_channels(network, strides) == [64, 128, 256]  # YOLOv8n's neck
    assert level_channels(network, strides[:2]) == [64, 128]


def test_anything_else_is_refused():
    with pytest.raises(TypeError, match="model must be an ultralytics YOLO detector"):
        detection_model_of(torch.nn.Linear(2, 2))
    v10 = DetectionModel("yolov10n.yaml", nc=3, verbose=False)  # one-to-one, without NMS
    with pytest.raises(TypeError, match=r"plain Detect head \(with NMS\), not v10Detect"):
        detection_model_of(v10)


def test_a_missing_ultralytics_names_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "ultralytics", None)  # blocked: import raises
    with pytest.raises(ImportError, match=r"pip install ultralytics \(AGPL-3.0"):
        import_ultralytics()


IMPORT_CHANGES_NOTHING = """
import os, torch, numpy, warnings
from PIL import Image
from iterative_reasoning.detectors.ultralytics import import_ultralytics
torch.set_printoptions(precision=7)
before = (dict(os.environ), Image.open, torch.save, vars(torch._tensor_str.PRINT_OPTS).copy(),
          numpy.get_printoptions(), list(warnings.filters))
module = import_ultralytics()
after = (dict(os.environ), Image.open, torch.save, vars(torch._tensor_str.PRINT_OPTS).copy(),
         numpy.get_printoptions(), list(warnings.filters))
for name, a, b in zip(["environ", "Image.open", "torch.save", "torch print", "numpy print",
                       "warnings"], before, after):
    assert a == b, name
assert module.__name__ == "ultralytics"
"""


def test_importing_ultralytics_leaves_the_process_as_it_was(tmp_path):
    import subprocess

    environment = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS",)}
    environment["YOLO_CONFIG_DIR"] = str(tmp_path)
    run = subprocess.run(
        [sys.executable, "-c", IMPORT_CHANGES_NOTHING],
        capture_output=True,
        text=True,
        env=environment,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-2000:]
