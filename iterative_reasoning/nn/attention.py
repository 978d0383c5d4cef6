"""Attention fusion of the predictions of every iteration and module."""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn

from iterative_reasoning._validation import check_tensor


class Fusion(NamedTuple):
    """Output of :class:`AttentionFusion`.

    Attributes:
        logits: the fused logits ``f``, ``[R, C]``.
        weights: the softmax weight of each prediction for each region, ``[N, R]``.
    """

    logits: Tensor
    weights: Tensor


class AttentionFusion(nn.Module):
    r"""Fuse ``N`` predictions per region with a softmax over their attention logits, from
    `Iterative Visual Reasoning Beyond Convolutions <https://arxiv.org/abs/1803.11189>`_
    (section 4.3):

    .. math::
        f = \sum_n \mathrm{softmax}(a)_n\, \mathrm{sg}(f_n)

    The predictions enter stop-gradient (as the original), so a loss on ``f`` trains only the
    attention logits ``a`` and what produces them.

    Args:
        detach_predictions: stop the gradient of the predictions inside the fusion.

    Shapes:
        - **logits:** ``[N, R, C]``; **attention:** ``[N, R]``
        - **output:** :class:`Fusion` of ``[R, C]`` and ``[N, R]``

    Example:
        >>> import torch
        >>> fused = AttentionFusion()(torch.randn(3, 4, 5), torch.zeros(3, 4))
        >>> fused.logits.shape, fused.weights[:, 0]
        (torch.Size([4, 5]), tensor([0.3333, 0.3333, 0.3333]))
    """

    def __init__(self, detach_predictions: bool = True) -> None:
        super().__init__()
        self.detach_predictions = detach_predictions

    def forward(self, logits: Tensor, attention: Tensor) -> Fusion:
        logits, attention = check_tensor("logits", logits), check_tensor("attention", attention)
        if logits.dim() != 3 or attention.shape != logits.shape[:2]:
            raise ValueError(
                "logits must have shape [N, R, C] and attention [N, R], got "
                f"{list(logits.shape)} and {list(attention.shape)}"
            )
        weights = torch.softmax(attention, dim=0)
        predictions = logits.detach() if self.detach_predictions else logits
        return Fusion((weights.unsqueeze(-1) * predictions).sum(0), weights)

    def extra_repr(self) -> str:
        return f"detach_predictions={self.detach_predictions}"
