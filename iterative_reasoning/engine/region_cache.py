"""The outputs of a frozen ConvNet, kept by the content of its inputs, so that the heads trained
one after another on one frozen ConvNet compute its forward pass once per batch.

Heads trained with the same seed read the same batches at the same steps
(:class:`~iterative_reasoning.engine.loader.StepBatchSampler`), and a frozen ConvNet (evaluation
mode, no gradient) maps a batch to the same :class:`~iterative_reasoning.nn.RegionBatch`
every time, so the second head's run can take the first's. A batch is known by a digest of its
images, boxes and sizes, the ConvNet by a digest of its weights, buffers and modes, both taken
from the numbers at every lookup, so that no change of the weights (through an optimiser,
``load_state_dict``, ``.data``, ``vector_to_parameters``) can go unseen and a hit is only ever
the same computation on the same numbers: the heads train to the same weights, bit for bit,
with the cache or without it. What the cache keeps and what it returns are copies, so a caller
who changes a returned tensor in place changes nothing kept. The digests are computed on the
host, the weights' at every lookup: measured on 2 CPU threads against a forward pass of a batch
of two 384-pixel synthetic images in the same process, 8 % of it for the demo's ConvNet and
16 % for the paper's ResNet-50 classifier (25.6 M weights), which a hit saves whole: the cache
is for CPU runs.
"""

from __future__ import annotations

import hashlib
from typing import Any

import torch
from torch import Tensor, nn

from iterative_reasoning._validation import check_weight
from iterative_reasoning.nn.region_batch import RegionBatch

#: What a batch's regions are known by: the ConvNet's digest, then the batch's.
Key = tuple[bytes, bytes]


class RegionCache:
    """A frozen ConvNet's :class:`~iterative_reasoning.nn.RegionBatch` of each batch it
    has seen, up to ``max_bytes`` (batches beyond it are computed and not kept: the runs that
    share a cache read their batches in the same order, so the first ones kept are the ones the
    next run reads first).

    Pass one to each :class:`~iterative_reasoning.engine.RegionModel` built with
    ``freeze_convnet=True`` on the same ConvNet weights (each may hold its own copy of them).

    Args:
        max_bytes: how much the kept tensors may take.

    Attributes:
        hits: lookups answered from the cache.
        misses: lookups that ran the ConvNet.

    Example:
        >>> import torch
        >>> from iterative_reasoning.models import SmallConvNetClassifier
        >>> convnet = SmallConvNetClassifier(num_classes=3).eval()
        >>> cache = RegionCache()
        >>> images, boxes = torch.rand(1, 3, 64, 64), [torch.tensor([[0.0, 0.0, 40.0, 40.0]])]
        >>> sizes = torch.tensor([[64, 64]])
        >>> with torch.no_grad():
        ...     first = cache(convnet, images, boxes, sizes)
        ...     again = cache(convnet, images.clone(), boxes, sizes)
        >>> torch.equal(again.features, first.features), cache.hits, cache.misses
        (True, 1, 1)
    """

    def __init__(self, max_bytes: int = 2 * 2**30) -> None:
        check_weight("max_bytes", max_bytes)
        self.max_bytes = max_bytes
        self.nbytes = 0
        self.hits = 0
        self.misses = 0
        self._kept: dict[Key, RegionBatch] = {}

    def __len__(self) -> int:
        return len(self._kept)

    def __call__(
        self,
        convnet: nn.Module,
        images: Tensor,
        boxes: list[Tensor],
        image_sizes: Tensor,
    ) -> RegionBatch:
        """``convnet(images, boxes, image_sizes)``, from the cache when this ConvNet's weights
        have already run on these inputs; call it without gradient (a frozen ConvNet)."""
        if torch.is_grad_enabled():
            raise RuntimeError(
                "RegionCache keeps a frozen ConvNet's outputs: run it under torch.no_grad() "
                "(RegionModel(freeze_convnet=True) does)"
            )
        key = (self._weights_digest(convnet), _inputs_digest(images, boxes, image_sizes))
        kept = self._kept.get(key)
        if kept is not None:
            self.hits += 1
            return _copy(kept)
        self.misses += 1
        out: RegionBatch = convnet(images, boxes, image_sizes)
        size = sum(t.numel() * t.element_size() for t in out if isinstance(t, Tensor))
        if self.nbytes + size <= self.max_bytes:
            self._kept[key] = _copy(out)
            self.nbytes += size
        return out

    def clear(self) -> None:
        """Drop everything kept (the counts stay)."""
        self._kept.clear()
        self.nbytes = 0

    def _weights_digest(self, convnet: nn.Module) -> bytes:
        """The digest of the weights, buffers and modes (batch norm in training mode is
        another computation), from the numbers themselves: a version counter would miss a
        change through ``.data``."""
        modes = tuple(int(m.training) for m in convnet.modules())
        digest = hashlib.sha1(usedforsecurity=False)
        digest.update(str(modes).encode())
        for name, tensor in convnet.state_dict(keep_vars=True).items():
            digest.update(name.encode())
            _update(digest, tensor.detach())
        return digest.digest()


def _copy(batch: RegionBatch) -> RegionBatch:
    """A copy whose tensors share nothing with ``batch``'s."""

    def copy(t: Tensor | None) -> Tensor | None:
        return t.clone() if t is not None else None

    return batch._replace(
        features=batch.features.clone(),
        boxes=batch.boxes.clone(),
        batch=batch.batch.clone(),
        image_sizes=batch.image_sizes.clone(),
        base_logits=batch.base_logits.clone(),
        region_features=copy(batch.region_features),
        masks=copy(batch.masks),
        crops=copy(batch.crops),
    )


def _inputs_digest(images: Tensor, boxes: list[Tensor], image_sizes: Tensor) -> bytes:
    digest = hashlib.sha1(usedforsecurity=False)
    autocast = torch.is_autocast_enabled(images.device.type)
    dtype = torch.get_autocast_dtype(images.device.type) if autocast else None
    digest.update(f"{images.device} {autocast} {dtype} {len(boxes)}".encode())
    for tensor in (images, *boxes, image_sizes):
        _update(digest, tensor)
    return digest.digest()


def _update(digest: Any, tensor: Tensor) -> None:
    digest.update(f"{tensor.dtype} {tuple(tensor.shape)}".encode())
    raw = tensor.detach().reshape(-1).contiguous().cpu().view(torch.uint8)
    digest.update(raw.numpy().data)
