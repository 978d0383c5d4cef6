"""The fallback gate: the head's output as the detector's prediction plus a gated correction
that starts at exactly zero."""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

from iterative_reasoning._validation import check_tensor

FusionMode = Literal["paper", "residual"]
#: ``"paper"``: the attention fusion is the output; ``"residual"``: the base prediction plus
#: the gated change the fusion makes to it (:class:`FallbackGate`).
FUSIONS: tuple[str, ...] = ("paper", "residual")


class FallbackGate(nn.Module):
    r"""The base prediction :math:`f_0` (the ConvNet's or detector's) moved towards the
    reasoned prediction :math:`f` by one learned gate per class:

    .. math::
        f' = \mathrm{sg}(f_0) + g \odot \mathrm{sg}(f - f_0), \qquad g \in \mathbb{R}^C,
        \; g = 0 \text{ at initialisation}

    At initialisation :math:`f' = f_0` exactly, bit for bit, so a detector with the head gives
    its own detections. Both predictions enter stop-gradient: a loss on :math:`f'` trains the
    gate alone, and the gate is meant to be fitted on images the head did not train on (see
    :func:`~iterative_reasoning.losses.reasoning_loss`'s ``fallback`` term and
    :class:`~iterative_reasoning.engine.DetectionModel`'s ``trains="fallback"``), so that it
    opens a class only where the head's change lowers the loss on held-out evidence, and stays
    at the detector's prediction elsewhere.

    Args:
        num_classes: ``C``, background included.

    Shapes:
        - **base_logits:** ``[R, C]``; **fused_logits:** ``[R, C]``
        - **output:** ``[R, C]``

    Example:
        >>> import torch
        >>> gate = FallbackGate(3)
        >>> base, fused = torch.randn(2, 3), torch.randn(2, 3)
        >>> torch.equal(gate(base, fused), base)
        True
    """

    def __init__(self, num_classes: int) -> None:
        super().__init__()
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
            raise ValueError(f"num_classes must be a positive integer, got {num_classes!r}")
        self.num_classes = num_classes
        self.gate = nn.Parameter(torch.zeros(num_classes))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.zeros_(self.gate)

    def forward(self, base_logits: Tensor, fused_logits: Tensor) -> Tensor:
        base = check_tensor("base_logits", base_logits).detach()
        fused = check_tensor("fused_logits", fused_logits).detach()
        if base.shape != fused.shape or base.size(-1) != self.num_classes:
            raise ValueError(
                f"base_logits and fused_logits must both have shape [R, {self.num_classes}], "
                f"got {list(base.shape)} and {list(fused.shape)}"
            )
        return base + self.gate.to(base.dtype) * (fused - base)

    def extra_repr(self) -> str:
        return f"num_classes={self.num_classes}"


def check_fusion(fusion: object) -> None:
    """Raise unless ``fusion`` names a fusion of :data:`FUSIONS`."""
    if fusion not in FUSIONS:
        raise ValueError(f"fusion must be one of {FUSIONS}, got {fusion!r}")
