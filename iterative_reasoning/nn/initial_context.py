"""The context of the initial memory, kept across calls at inference."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence

import torch
from torch import Tensor


class InitialContextCache:
    r"""The local module's context convolutions of its initial memory ``S_0``, kept per image
    grid size while the parameters they were computed from are unchanged.

    ``S_0`` is the learned initial state resized to an image's own grid (zero on the batch
    padding), and every context convolution's output is masked to that grid, so on an image's
    grid the context of ``S_0`` depends on nothing but the grid's size and the parameters: it
    equals the context of the resized state alone, with the convolutions' zero padding at its
    borders. The head reads it once per image (the base attention ``a_0``); at inference this
    cache computes it once per grid size instead.

    Entries are kept only while the parameters equal, value for value, the copies taken when
    they were computed (an optimiser step, ``load_state_dict`` or any other change empties the
    cache), for the ``max_sizes`` grid sizes last used. Nothing is kept while autograd records
    (training needs the graph) or while ``torch.compile`` traces.

    Args:
        max_sizes: grid sizes kept (the least recently used is dropped first).
    """

    def __init__(self, max_sizes: int = 8) -> None:
        if max_sizes < 1:
            raise ValueError(f"max_sizes must be positive, got {max_sizes}")
        self.max_sizes = max_sizes
        self._entries: OrderedDict[tuple[int, int], Tensor] = OrderedDict()
        self._parameters: list[Tensor] = []

    def contexts(
        self,
        sizes: Sequence[tuple[int, int]],
        parameters: Sequence[Tensor],
        compute: Callable[[tuple[int, int]], Tensor],
    ) -> list[Tensor]:
        """The context of each grid size of ``sizes``: ``compute((rows, columns))``, ``[1, D,
        rows, columns]``, or its copy kept from a call with the same ``parameters``."""
        if not self.active():
            return [compute(size) for size in sizes]
        if not self._unchanged(parameters):
            self.clear()
            self._parameters = [p.detach().clone() for p in parameters]
        out = []
        for size in sizes:
            if size in self._entries:
                self._entries.move_to_end(size)
            else:
                self._entries[size] = compute(size)
                while len(self._entries) > self.max_sizes:
                    self._entries.popitem(last=False)
            out.append(self._entries[size])
        return out

    @staticmethod
    def active() -> bool:
        """Whether the cache is used: no autograd recording and no ``torch.compile`` trace."""
        return not torch.is_grad_enabled() and not torch.compiler.is_compiling()

    def clear(self) -> None:
        self._entries.clear()
        self._parameters = []

    def __len__(self) -> int:
        return len(self._entries)

    def _unchanged(self, parameters: Sequence[Tensor]) -> bool:
        kept = self._parameters
        return len(kept) == len(parameters) and all(
            a.dtype == b.dtype and a.device == b.device and a.shape == b.shape and torch.equal(a, b)
            for a, b in zip(kept, parameters, strict=True)
        )

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(sizes={len(self)}, max_sizes={self.max_sizes})"
