"""The training loss of Chen et al., CVPR 2018: cross-entropy on the ConvNet prediction, on
every module's prediction at every iteration with hard-example weights, and on the fused
prediction."""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from iterative_reasoning._validation import check_batch, check_tensor, check_weight
from iterative_reasoning.nn.reasoning_head import ReasoningOutput


class ReasoningLoss(NamedTuple):
    """The terms of :func:`reasoning_loss`.

    Attributes:
        total: the weighted sum to minimise.
        base: cross-entropy of the ConvNet prediction ``f_0`` (0 when ``base_weight`` is 0).
        local: hard-example-weighted cross-entropy of the local predictions, mean over
            iterations (0 without a local module).
        global_: the same for the global predictions.
        final: cross-entropy of the fused prediction (0 without attention).
        fallback: cross-entropy of the gated prediction of a head with ``fusion="residual"``
            (0 otherwise); it trains the fallback gate alone.
    """

    total: Tensor
    base: Tensor
    local: Tensor
    global_: Tensor
    final: Tensor
    fallback: Tensor


def hard_example_weights(
    previous_logits: Tensor,
    labels: Tensor,
    batch: Tensor,
    beta: float = 0.5,
    num_images: int | None = None,
) -> Tensor:
    r"""Per-region weights :math:`w_n = \max(1 - p(y_n), \beta) / \sum_{m \in \text{image}}
    \max(1 - p(y_m), \beta)`, with :math:`p` the softmax of the prediction the module read.

    Regions the previous prediction got wrong weigh more; the weights of an image sum to one.
    They carry no gradient.

    Args:
        previous_logits: the logits the module read at this iteration.
        labels: ground-truth class of each region.
        batch: image index of each region.
        beta: the floor of a weight before normalisation (0.5 in the paper).
        num_images: ``B``; defaults to ``max(batch) + 1``.

    Shapes:
        ``[R, C]``, ``[R]``, ``[R]`` -> ``[R]``

    Example:
        >>> import torch
        >>> logits = torch.tensor([[0.0, 5.0], [5.0, 0.0], [0.0, 0.0]])
        >>> hard_example_weights(logits, torch.tensor([1, 1, 1]), torch.tensor([0, 0, 1]))
        tensor([0.3348, 0.6652, 1.0000])
    """
    with torch.no_grad():
        p = torch.softmax(previous_logits.detach(), dim=-1).gather(1, labels[:, None])[:, 0]
        w = (1 - p).clamp(min=beta)
        size = num_images if num_images is not None else _num_images(batch)
        sums = w.new_zeros(size).index_add_(0, batch, w)
        return w / sums[batch]


def reasoning_loss(
    output: ReasoningOutput,
    labels: Tensor,
    batch: Tensor,
    *,
    beta: float = 0.5,
    base_weight: float = 1.0,
    module_weight: float = 1.0,
    final_weight: float = 1.0,
    fallback_weight: float = 1.0,
) -> ReasoningLoss:
    r"""The paper's loss (section 4.4, and the original code's ``AttendMemory``):

    .. math::
        L = w_0\, \mathrm{CE}(f_0) + w_m \sum_{m \in \{l, g\}} \frac{1}{T - 1} \sum_{t=1}^{T-1}
            \sum_n w^{m,t}_n \mathrm{CE}(f_m^t)_n + w_f\, \mathrm{CE}(f)
            \; [+\, w_g\, \mathrm{CE}(f')]

    with the hard-example weights :math:`w^{m,t}` of :func:`hard_example_weights` computed from
    the logits module :math:`m` read at iteration :math:`t`, normalised per image; for a head
    with ``fusion="residual"`` the last term is on the gated prediction :math:`f'`
    (:class:`~iterative_reasoning.nn.FallbackGate`: it trains the gate alone, which the
    fallback fit trains on held-out images while the head's other parts stay frozen). Every term is
    an average per image, then over the images that have regions, so a batch of one image gives
    the original's loss and a batch's loss is the mean of its images' losses. Weight decay is
    left to the optimiser. Non-finite predictions give a non-finite loss, as PyTorch's
    cross-entropy does (a deliberate pass-through: :func:`~iterative_reasoning.engine.train`
    stops on it, or skips the step, before it changes anything).

    Args:
        output: the head's output.
        labels: ground-truth class of each region.
        batch: image index of each region.
        beta: hard-example floor (0.5).
        base_weight: ``w_0`` (1); 0 inside a detector, whose own classification loss already
            trains ``f_0``.
        module_weight: ``w_m`` (1).
        final_weight: ``w_f`` (1).
        fallback_weight: ``w_g`` (1).

    Shapes:
        labels, batch: ``[R]``
    """
    labels, batch = _check(output, labels, batch)
    if not isinstance(beta, (int, float)) or isinstance(beta, bool) or not 0 < beta <= 1:
        raise ValueError(f"beta must be a number in (0, 1] (the weights' floor), got {beta!r}")
    for name, weight in (
        ("base_weight", base_weight),
        ("module_weight", module_weight),
        ("final_weight", final_weight),
        ("fallback_weight", fallback_weight),
    ):
        check_weight(name, weight)
    num_images = _num_images(batch)
    zero = output.base_logits.new_zeros(())
    if labels.numel() == 0:
        empty = output.base_logits.sum() * 0
        return ReasoningLoss(empty, empty, zero, zero, zero, zero)
    base = zero
    if base_weight != 0:  # left out of the graph, so that nothing flows back into f_0
        base = _image_mean(F.cross_entropy(output.base_logits, labels, reduction="none"), batch)
    modules = []
    for predictions, inputs in (
        (output.local_logits, output.local_inputs),
        (output.global_logits, output.global_inputs),
    ):
        if predictions is None or inputs is None:
            modules.append(zero)
            continue
        terms = []
        for logits, previous in zip(predictions, inputs, strict=True):
            w = hard_example_weights(previous, labels, batch, beta, num_images)
            weighted = w * F.cross_entropy(logits, labels, reduction="none")
            per_image = weighted.new_zeros(num_images).index_add_(0, batch, weighted)
            terms.append(per_image[torch.bincount(batch, minlength=num_images) > 0].mean())
        modules.append(torch.stack(terms).mean())
    fused = output.fused_logits if output.fused_logits is not None else output.logits
    final = zero
    if output.attention is not None:
        final = _image_mean(F.cross_entropy(fused, labels, reduction="none"), batch)
    total = base_weight * base + module_weight * (modules[0] + modules[1]) + final_weight * final
    fallback = zero
    if output.fused_logits is not None:
        fallback = _image_mean(F.cross_entropy(output.logits, labels, reduction="none"), batch)
        total = total + fallback_weight * fallback
    return ReasoningLoss(total, base, modules[0], modules[1], final, fallback)


def _image_mean(values: Tensor, batch: Tensor) -> Tensor:
    """Mean over regions within each image, then over the images that have regions."""
    size = _num_images(batch)
    counts = torch.bincount(batch, minlength=size)
    sums = values.new_zeros(size).index_add_(0, batch, values)
    present = counts > 0
    return (sums[present] / counts[present]).mean()


def _num_images(batch: Tensor) -> int:
    return int(batch.max()) + 1 if batch.numel() else 0


def _check(output: ReasoningOutput, labels: object, batch: object) -> tuple[Tensor, Tensor]:
    if not isinstance(output, ReasoningOutput):
        raise TypeError(f"output must be a ReasoningOutput, got {type(output).__name__}")
    labels = check_tensor("labels", labels)
    num_regions, num_classes = output.base_logits.shape
    if labels.shape != (num_regions,):
        raise ValueError(f"labels must have shape [R] = [{num_regions}], got {list(labels.shape)}")
    if labels.dtype != torch.long:
        raise TypeError(f"labels must have dtype torch.long, got {labels.dtype}")
    if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
        raise ValueError(
            f"labels must be class indices in [0, {num_classes}), got values in "
            f"[{int(labels.min())}, {int(labels.max())}]"
        )
    return labels, check_batch(batch, num_regions)
