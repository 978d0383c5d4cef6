"""The convolutional GRU cell of the spatial memory."""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import Tensor, nn

from iterative_reasoning._validation import check_tensor

CellVariant = Literal["paper", "textbook"]


class ConvGRUCell(nn.Module):
    r"""A convolutional GRU cell, in the variant of `Iterative Visual Reasoning Beyond
    Convolutions <https://arxiv.org/abs/1803.11189>`_ (section 4.1) or the textbook one.

    ``variant="paper"`` (the original code's cell: single-channel gates, reset before the
    convolution, ReLU candidate; convolutions of the input have biases, those of the state
    have none):

    .. math::
        r &= \sigma(W_{xr} * x + b_{xr} + W_{hr} * h) \qquad (1 \text{ channel}) \\
        u &= \sigma(W_{xu} * x + b_{xu} + W_{hu} * h) \qquad (1 \text{ channel}) \\
        \tilde{h} &= \mathrm{ReLU}(W_{xn} * x + b_{xn} + W_{hn} * (r \odot h)) \\
        h' &= h + u \odot (\tilde{h} - h)

    ``variant="textbook"`` (:class:`torch.nn.GRUCell` with convolutions: full-channel gates,
    reset after the convolution, tanh candidate):

    .. math::
        r &= \sigma(W_{xr} * x + b_{xr} + W_{hr} * h + b_{hr}) \\
        z &= \sigma(W_{xz} * x + b_{xz} + W_{hz} * h + b_{hz}) \\
        n &= \tanh(W_{xn} * x + b_{xn} + r \odot (W_{hn} * h + b_{hn})) \\
        h' &= (1 - z) \odot n + z \odot h

    so that ``u = 1 - z`` is the update gate of ``h' = h + u (\tilde h - h)``. With
    ``kernel_size=1`` the textbook cell equals :class:`torch.nn.GRUCell` applied per pixel.

    Args:
        input_channels: channels of ``x``.
        hidden_channels: channels of ``h``.
        kernel_size: odd size of every convolution (3 in the paper); padding keeps the size.
        variant: ``"paper"`` or ``"textbook"``.
        init_std: standard deviation of the normal init of the paper variant's weights (0.01
            in the original); the textbook variant initialises as :class:`torch.nn.GRUCell`.

    Inputs: x, h
        - **x**: input ``[N, input_channels, H', W']``
        - **h**: state ``[N, hidden_channels, H', W']``

    Outputs: h'
        - **h'**: next state, same shape as ``h`` (:meth:`delta` gives ``h' - h`` directly)

    Example:
        >>> import torch
        >>> cell = ConvGRUCell(8, 16)
        >>> x, h = torch.randn(2, 8, 7, 7), torch.randn(2, 16, 7, 7)
        >>> cell(x, h).shape
        torch.Size([2, 16, 7, 7])
        >>> torch.allclose(cell(x, h), h + cell.delta(x, h), atol=1e-6)
        True
    """

    def __init__(
        self,
        input_channels: int,
        hidden_channels: int,
        kernel_size: int = 3,
        variant: CellVariant = "paper",
        init_std: float = 0.01,
    ) -> None:
        super().__init__()
        if variant not in ("paper", "textbook"):
            raise ValueError(f"variant must be 'paper' or 'textbook', got {variant!r}")
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd and positive, got {kernel_size}")
        for name, value in (
            ("input_channels", input_channels),
            ("hidden_channels", hidden_channels),
        ):
            if value < 1:
                raise ValueError(f"{name} must be positive, got {value}")
        self.input_channels = input_channels
        self.hidden_channels = hidden_channels
        self.kernel_size = kernel_size
        self.variant: CellVariant = variant
        self.init_std = init_std
        gates = 1 if variant == "paper" else hidden_channels
        self.gate_channels = gates
        textbook = variant == "textbook"
        pad = kernel_size // 2
        # Input side: [r, u or z] gates and the candidate in one convolution.
        self.input_conv = nn.Conv2d(
            input_channels, 2 * gates + hidden_channels, kernel_size, padding=pad
        )
        self.hidden_gates = nn.Conv2d(
            hidden_channels, 2 * gates, kernel_size, padding=pad, bias=textbook
        )
        self.hidden_candidate = nn.Conv2d(
            hidden_channels, hidden_channels, kernel_size, padding=pad, bias=textbook
        )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if self.variant == "paper":
            for conv in (self.input_conv, self.hidden_gates, self.hidden_candidate):
                nn.init.normal_(conv.weight, std=self.init_std)
            if self.input_conv.bias is not None:
                nn.init.zeros_(self.input_conv.bias)
        else:
            bound = 1 / math.sqrt(self.hidden_channels)
            for p in self.parameters():
                nn.init.uniform_(p, -bound, bound)

    def forward(self, x: Tensor, h: Tensor) -> Tensor:
        return h + self.delta(x, h)

    def delta(self, x: Tensor, h: Tensor) -> Tensor:
        """The change of state ``h' - h = u * (h~ - h)``, computed without cancellation."""
        self._check(x, h)
        g = self.gate_channels
        from_x = self.input_conv(x)
        x_reset, x_update, x_candidate = from_x.split([g, g, self.hidden_channels], dim=1)
        h_reset, h_update = self.hidden_gates(h).split([g, g], dim=1)
        reset = torch.sigmoid(x_reset + h_reset)
        if self.variant == "paper":
            update = torch.sigmoid(x_update + h_update)
            candidate = torch.relu(x_candidate + self.hidden_candidate(reset * h))
        else:
            update = torch.sigmoid(-(x_update + h_update))  # u = 1 - z
            candidate = torch.tanh(x_candidate + reset * self.hidden_candidate(h))
        return update * (candidate - h)

    def _check(self, x: Tensor, h: Tensor) -> None:
        x, h = check_tensor("x", x), check_tensor("h", h)
        if x.dim() != 4 or x.size(1) != self.input_channels:
            raise ValueError(
                f"x must have shape [N, {self.input_channels}, H', W'], got {list(x.shape)}"
            )
        if h.dim() != 4 or h.size(1) != self.hidden_channels:
            raise ValueError(
                f"h must have shape [N, {self.hidden_channels}, H', W'], got {list(h.shape)}"
            )
        if x.shape[0] != h.shape[0] or x.shape[2:] != h.shape[2:]:
            raise ValueError(
                f"x and h must agree in N and H' x W', got {list(x.shape)} and {list(h.shape)}"
            )

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}({self.input_channels}, {self.hidden_channels}, "
            f"kernel_size={self.kernel_size}, variant={self.variant!r})"
        )
