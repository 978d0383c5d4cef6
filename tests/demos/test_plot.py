"""The pictures of iterative_reasoning.demos.plot are written without changing the user's
matplotlib backend."""

import json

import matplotlib

from iterative_reasoning.demos.plot import plot_training_curves


def test_training_curves_leave_the_backend_alone(tmp_path):
    run = tmp_path / "local"
    run.mkdir()
    lines = [{"step": s, "lr": 0.1, "loss": 1.0 / s, "loss_local": 0.5 / s} for s in (1, 2, 3)]
    (run / "log.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    before = matplotlib.get_backend()
    matplotlib.use("svg")
    try:
        out = plot_training_curves(tmp_path, ["local", "global"], tmp_path / "curves.png")
        assert matplotlib.get_backend() == "svg"
    finally:
        matplotlib.use(before)
    assert out.read_bytes()[:4] == b"\x89PNG"
