"""Trains the test model of ``test_distributed.py`` for a few steps, in one process or, under
``torchrun``, in several; writes the final weights to ``argv[1]``."""

import sys
from pathlib import Path

import torch

from iterative_reasoning.data.synthetic import SyntheticScenes
from iterative_reasoning.engine import TrainConfig, close_distributed, init_distributed, train
from iterative_reasoning.models import RegionModel

sys.path[:0] = [str(Path(__file__).parent), str(Path(__file__).parents[1])]  # the tests' helpers
from helpers import small_region_model as _model  # noqa: E402

# a worker process reads each process's data: DDP over the DataLoader path
CONFIG = TrainConfig(
    steps=4, batch_size=2, lr=0.01, checkpoint_every=2, log_every=1, seed=5, num_workers=1
)


def model() -> RegionModel:
    """The model of ``test_train.py`` without batch statistics: DDP splits the batch, which
    would change them."""
    net = _model()
    for name, module in list(net.convnet.named_modules()):
        if isinstance(module, torch.nn.BatchNorm2d):
            parent, _, child = name.rpartition(".")
            setattr(net.convnet.get_submodule(parent), child, torch.nn.Identity())
    return net


if __name__ == "__main__":
    device = init_distributed()
    net = model()
    train(net, SyntheticScenes(6, seed=0), CONFIG, sys.argv[1], device=device, progress=False)
    if not torch.distributed.is_initialized() or torch.distributed.get_rank() == 0:
        torch.save(net.state_dict(), f"{sys.argv[1]}/final.pt")
    close_distributed()
