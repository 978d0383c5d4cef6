import pytest
import torch
from helpers import small_region_model

from iterative_reasoning.data.synthetic import SyntheticScenes
from iterative_reasoning.engine import (
    TrainConfig,
    load_checkpoint,
    parameter_groups,
    train,
)


def test_no_decay_on_biases_norms_and_the_initial_memory():
    model = small_region_model()
    decay, no_decay = parameter_groups(model, 1e-4)
    names = {id(p): n for n, p in model.named_parameters()}
    assert any(names[id(p)].endswith("memory.init") for p in no_decay["params"])
    assert all(p.dim() > 1 for p in decay["params"])
    assert no_decay["weight_decay"] == 0.0


def test_adamw_with_clipped_gradients(tmp_path, monkeypatch):
    data = SyntheticScenes(4, seed=0)
    config = TrainConfig(
        steps=2, batch_size=2, lr=1e-3, optimizer="adamw", clip_grad_norm=0.1, checkpoint_every=2
    )
    norms = []
    real_clip = torch.nn.utils.clip_grad_norm_

    def recording_clip(parameters, max_norm):
        norms.append(max_norm)
        return real_clip(parameters, max_norm)

    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", recording_clip)
    model = small_region_model(head=False)
    train(model, data, config, tmp_path, progress=False, tensorboard=False)
    assert norms == [0.1, 0.1]
    state = load_checkpoint(tmp_path)["optimizer"]["state"]
    assert all("exp_avg" in s for s in state.values())  # AdamW's moments, not SGD's momentum
    sgd = TrainConfig(steps=3, batch_size=2, lr=1e-3, checkpoint_every=2)
    with pytest.raises(ValueError, match="optimizer 'adamw', not 'sgd'"):
        train(
            small_region_model(head=False), data, sgd, tmp_path, progress=False, tensorboard=False
        )
    with pytest.raises(ValueError, match="optimizer must be one of"):
        TrainConfig(optimizer="adam")
    with pytest.raises(ValueError, match="clip_grad_norm"):
        TrainConfig(clip_grad_norm=-1.0)
