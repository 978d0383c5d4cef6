import importlib.util
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def load(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_global_module_random_learns_from_context(capsys):
    result = load("global_module_random").main(["--images", "8", "--steps", "120"])
    assert result["difference"] < 1e-5  # fast and PyG reference paths agree
    # the label is the left neighbour's kind: chance is ~14%; context must lift it well above
    assert result["instance_ac"] > 50.0
    assert "held-out" in capsys.readouterr().out


def test_reasoning_head_random_beats_the_plain_classifier(capsys):
    result = load("reasoning_head_random").main(["--images", "8", "--steps", "80"])
    # the label is the left neighbour's kind: the region alone is at chance (~20%)
    assert result["plain_instance_ac"] < 40.0
    assert result["class_ap"] > result["plain_class_ap"] + 30.0
    assert "mean attention" in capsys.readouterr().out


def test_torchvision_faster_rcnn_trains_and_rescores(capsys):
    result = load("torchvision_faster_rcnn").main(["--steps", "1", "--min-size", "128"])
    assert result["detections"] > 0
    assert result["loss_reasoning"] > 0
    assert "re-classified by the head" in capsys.readouterr().out
