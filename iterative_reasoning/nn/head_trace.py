"""What the head collects while it rolls its modules out: each module's predictions over the
iterations (:class:`ModuleTrace`), and their fusion into a
:class:`~iterative_reasoning.nn.ReasoningOutput` (:class:`Trace`)."""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from iterative_reasoning.nn.attention import AttentionFusion


class ReasoningOutput(NamedTuple):
    """Output of :class:`~iterative_reasoning.nn.IterativeReasoningHead`.

    Attributes:
        logits: the final prediction ``f``, ``[R, C]``: the attention fusion of all
            predictions, or without attention the last iteration's (averaged over modules);
            with ``fusion="residual"``, that fusion through the fallback gate.
        base_logits: the ConvNet prediction ``f_0``, ``[R, C]``.
        local_logits: local predictions ``f_l^t`` for ``t = 1..T-1``, ``[T-1, R, C]``, or
            ``None`` without a local module.
        global_logits: global predictions ``f_g^t``, ``[T-1, R, C]``, or ``None``.
        attention: softmax weight of every prediction, ``[N, R]``, in the order of
            :meth:`~iterative_reasoning.nn.IterativeReasoningHead.prediction_names`;
            ``None`` without attention.
        local_inputs: the logits each local step read (its "previous prediction", from which
            the loss computes hard-example weights), ``[T-1, R, C]``, or ``None``.
        global_inputs: the same for the global module, or ``None``.
        fused_logits: with ``fusion="residual"``, the fusion of the predictions before the
            fallback gate (``logits`` is then the gated prediction,
            :class:`~iterative_reasoning.nn.FallbackGate`); ``None`` with the paper's fusion,
            whose fusion is ``logits``.
    """

    logits: Tensor
    base_logits: Tensor
    local_logits: Tensor | None
    global_logits: Tensor | None
    attention: Tensor | None
    local_inputs: Tensor | None
    global_inputs: Tensor | None
    fused_logits: Tensor | None = None


class ModuleTrace:
    """One module's predictions over the iterations: the logits it read, the logits it made
    and its attention logits."""

    def __init__(self) -> None:
        self.inputs: list[Tensor] = []
        self.logits: list[Tensor] = []
        self.attention: list[Tensor] = []

    def add(self, inputs: Tensor, logits: Tensor, attention: Tensor) -> None:
        self.inputs.append(inputs)
        self.logits.append(logits)
        self.attention.append(attention)

    @staticmethod
    def stacked(items: list[Tensor]) -> Tensor | None:
        return torch.stack(items) if items else None


class Trace:
    """The ConvNet's prediction and each module's trace, fused into a :class:`ReasoningOutput`."""

    def __init__(self, base_logits: Tensor, base_attention: Tensor | None) -> None:
        self.base_logits = base_logits
        self.base_attention = base_attention
        self.local = ModuleTrace()
        self.global_ = ModuleTrace()

    def output(self, fusion: AttentionFusion | None, iterations: int) -> ReasoningOutput:
        """Fuse every prediction, in the order base, then each iteration's local and global."""
        modules = [m for m in (self.local, self.global_) if m.logits]
        local, global_ = (
            self.local.stacked(self.local.logits),
            self.global_.stacked(self.global_.logits),
        )
        if fusion is not None:
            assert self.base_attention is not None
            logits = [self.base_logits] + [m.logits[t] for t in range(iterations) for m in modules]
            attention = [self.base_attention]
            attention += [m.attention[t] for t in range(iterations) for m in modules]
            fused = fusion(torch.stack(logits), torch.stack(attention))
            final, weights = fused.logits, fused.weights
        else:
            final, weights = torch.stack([m.logits[-1] for m in modules]).mean(0), None
        return ReasoningOutput(
            final,
            self.base_logits,
            local,
            global_,
            weights,
            self.local.stacked(self.local.inputs),
            self.global_.stacked(self.global_.inputs),
        )
