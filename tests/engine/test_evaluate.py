import json

import pytest
from helpers import small_region_model

from iterative_reasoning.data.synthetic import SyntheticScenes
from iterative_reasoning.engine import (
    TrainConfig,
    evaluate,
    train,
)


def test_baseline_trains_and_evaluates(tmp_path):
    data = SyntheticScenes(4, seed=0)
    model = small_region_model(head=False)
    history = train(
        model, data, TrainConfig(steps=8, batch_size=2, lr=0.05), tmp_path, progress=False
    )
    assert history[-1]["loss"] < history[0]["loss"]
    metrics = evaluate(model, SyntheticScenes(2, seed=1), batch_size=2, output_dir=tmp_path)
    written = json.loads((tmp_path / "metrics.json").read_text())
    assert written["class_ap"] == pytest.approx(metrics.as_percent()["class_ap"])
    assert written["images"] == 2 and written["regions"] > 10
