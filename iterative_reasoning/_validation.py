"""Checks of user input at the public boundary: each error names the argument, the expected
and the actual value.

Shape and type checks cost nothing. A check of tensor *values* (finite, sorted, in range) must
read the device, which on a GPU is a synchronisation; so a public entry point collects its
value checks in one :class:`ValueChecks` and reads them all at once, and internal calls, whose
inputs are checked already, use unchecked builders.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence

import torch
from torch import Tensor


class ValueChecks:
    """Value checks of one call, read from the device together: one host read per device.

    Each check is a boolean scalar tensor, true when the check fails, and a function that
    raises (or warns) with the details; it runs only on failure, so it may read what it needs.
    The failures are reported in the order the checks were added, the first error raised.
    Tensors the later checks compute must not depend on the earlier checks passing (clamp an
    index before using it).

    Example:
        >>> import torch
        >>> checks = ValueChecks()
        >>> x = torch.tensor([1.0, float("nan")])
        >>> check_finite("x", x, checks)
        >>> checks.run()
        Traceback (most recent call last):
        ...
        ValueError: x must be finite, got 1 non-finite value(s) (NaN or inf)
    """

    def __init__(self) -> None:
        self._checks: list[tuple[Tensor, Callable[[], None]]] = []

    def add(self, failed: Tensor, report: Callable[[], None]) -> None:
        self._checks.append((failed.reshape(()), report))

    def run(self) -> None:
        """Read every check and report the failures."""
        by_device: dict[torch.device, list[int]] = {}
        for i, (failed, _) in enumerate(self._checks):
            by_device.setdefault(failed.device, []).append(i)
        failed_at: set[int] = set()
        for positions in by_device.values():
            flags = torch.stack([self._checks[i][0] for i in positions]).tolist()  # one read
            failed_at.update(i for i, flag in zip(positions, flags, strict=True) if flag)
        checks, self._checks = self._checks, []
        for i in sorted(failed_at):
            checks[i][1]()


def _require(checks: ValueChecks | None, failed: Tensor, report: Callable[[], None]) -> None:
    """Report now (``checks`` is ``None``) or with the other checks of the call."""
    if checks is None:
        if bool(failed):
            report()
    else:
        checks.add(failed, report)


def check_tensor(name: str, value: object) -> Tensor:
    if not isinstance(value, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    return value


def check_float_on(
    name: str, value: Tensor, device: torch.device, dtype: torch.dtype | None, owner: str
) -> None:
    """``value`` holds floats on ``device`` and, outside autocast, of ``dtype`` (that of
    ``owner``'s parameters; ``None``: any float), so that a mismatch is named here instead of
    failing inside torch."""
    if value.device != device:
        raise ValueError(
            f"{name} is on {value.device} but {owner} is on {device}; move it there "
            f"({name}.to({str(device)!r})) or the module to it"
        )
    if not value.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {value.dtype}")
    if dtype is not None and value.dtype != dtype and not torch.is_autocast_enabled(device.type):
        raise TypeError(
            f"{name} has dtype {value.dtype} but {owner}'s parameters are {dtype}: convert one "
            f"to the other ({name}.to({dtype}) or module.to({value.dtype})), or run under "
            "torch.autocast"
        )


def check_finite(name: str, value: Tensor, checks: ValueChecks | None = None) -> None:
    """No NaN or infinity in ``value``. Screened by its sum, which any NaN or infinity makes
    non-finite, so that no temporary of the tensor's size is made; a sum that overflows is
    counted exactly before anything is reported."""
    if not value.is_floating_point() or value.numel() == 0:
        return

    def report() -> None:
        bad = int((~torch.isfinite(value)).sum())
        if bad:
            raise ValueError(f"{name} must be finite, got {bad} non-finite value(s) (NaN or inf)")

    accumulate = torch.float64 if value.dtype == torch.float64 else torch.float32
    _require(checks, ~torch.isfinite(value.detach().sum(dtype=accumulate)), report)


def check_boxes(
    name: str, boxes: object, checks: ValueChecks | None = None, positive_size: bool = False
) -> Tensor:
    """Boxes ``[R, 4]`` in ``xyxy`` with ``x2 >= x1`` and ``y2 >= y1`` (``x2 > x1`` and
    ``y2 > y1`` with ``positive_size``: boxes a detector learns from), finite."""
    boxes = check_tensor(name, boxes)
    if boxes.dim() != 2 or boxes.size(-1) != 4:
        raise ValueError(f"{name} must have shape [R, 4] (x1, y1, x2, y2), got {list(boxes.shape)}")
    if not boxes.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {boxes.dtype}")
    if boxes.numel() == 0:
        return boxes
    check_finite(name, boxes, checks)
    box = boxes.detach()
    if positive_size:
        bad = (box[:, 2] <= box[:, 0]) | (box[:, 3] <= box[:, 1])
    else:
        bad = (box[:, 2] < box[:, 0]) | (box[:, 3] < box[:, 1])
    wanted = "x2 > x1 and y2 > y1" if positive_size else "x2 >= x1 and y2 >= y1"

    def report() -> None:
        i = int(bad.nonzero()[0, 0])
        raise ValueError(
            f"{name} must be xyxy with {wanted}; {int(bad.sum())} box(es) are not, e.g. box {i} "
            f"= {[round(v, 3) for v in box[i].tolist()]} (were they given as xywh?)"
        )

    _require(checks, bad.any(), report)
    return boxes


def check_batch(
    batch: object,
    num_regions: int,
    num_images: int | None = None,
    checks: ValueChecks | None = None,
) -> Tensor:
    """A ``batch`` vector ``[R]`` of image indices in ``[0, B)``, sorted, as in PyG."""
    batch = check_tensor("batch", batch)
    if batch.dim() != 1 or batch.numel() != num_regions:
        raise ValueError(
            f"batch must have shape [R] = [{num_regions}] (one image index per region), "
            f"got {list(batch.shape)}"
        )
    if batch.dtype != torch.long:
        raise TypeError(f"batch must have dtype torch.long, got {batch.dtype}")
    if num_regions == 0:
        return batch

    def negative() -> None:
        raise ValueError(f"batch must be non-negative, got minimum {int(batch.min())}")

    def unsorted() -> None:
        raise ValueError(
            "batch must be sorted (regions of image 0 first, then image 1, ...), "
            "as produced by torch_geometric.data.Batch"
        )

    def too_large() -> None:
        raise ValueError(
            f"batch refers to image {int(batch.max())} but only {num_images} image(s) "
            "were given (image_sizes has one row per image)"
        )

    _require(checks, batch.min() < 0, negative)
    _require(checks, (batch[1:] < batch[:-1]).any(), unsorted)
    if num_images is not None:
        _require(checks, batch.max() >= num_images, too_large)
    return batch


def check_image_sizes(image_sizes: object, checks: ValueChecks | None = None) -> Tensor:
    """``[B, 2]`` (height, width) of the network input, positive."""
    if isinstance(image_sizes, Sequence) and not isinstance(image_sizes, Tensor):
        image_sizes = torch.as_tensor(image_sizes, dtype=torch.float)
    sizes = check_tensor("image_sizes", image_sizes)
    if sizes.dim() != 2 or sizes.size(-1) != 2:
        raise ValueError(
            f"image_sizes must have shape [B, 2] (height, width of each network input), "
            f"got {list(sizes.shape)}"
        )
    if sizes.numel() == 0:
        return sizes

    def infinite() -> None:
        raise ValueError(f"image_sizes must be finite, got {sizes.tolist()}")

    def not_positive() -> None:
        raise ValueError(f"image_sizes must be positive, got {sizes.tolist()}")

    if sizes.is_floating_point():
        _require(checks, ~torch.isfinite(sizes).all(), infinite)
    _require(checks, (sizes <= 0).any(), not_positive)
    return sizes


def check_positive(name: str, value: float) -> float:
    """A finite, positive number (a length scale, a learning rate...)."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be finite and positive, got {value}")
    return float(value)


def check_count(name: str, value: object, minimum: int = 1, meaning: str = "") -> int:
    """An integer of at least ``minimum`` (a number of classes, of steps...); ``meaning`` says
    what it counts, for the message."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}{meaning}, got {value}")
    return value


def check_probability(name: str, value: float) -> float:
    """A number in ``[0, 1]`` (a flip probability...)."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise TypeError(f"{name} must be a number in [0, 1], got {type(value).__name__}")
    if not 0 <= value <= 1:  # NaN fails this too
        raise ValueError(f"{name} must be a probability in [0, 1], got {value}")
    return float(value)


def check_weight(name: str, value: float) -> float:
    """A finite, non-negative number (a loss weight...)."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be finite and non-negative, got {value}")
    return float(value)


def _image_sizes_of_boxes(boxes: Tensor, batch: Tensor, image_sizes: Tensor) -> Tensor:
    """``(height, width)`` of each box's image, ``[R, 2]`` (``batch`` clamped into range, so
    that it can be computed before ``batch`` is known to be valid)."""
    index = batch.clamp(0, max(image_sizes.size(0) - 1, 0))
    return image_sizes.to(boxes)[index]


def check_not_normalised(
    boxes: Tensor, batch: Tensor, image_sizes: Tensor, checks: ValueChecks | None = None
) -> None:
    """Raise if boxes look normalised to ``[0, 1]`` (all within the unit square, in images of
    more than 32 pixels): they must be in pixels of the network input."""
    if boxes.numel() == 0 or image_sizes.numel() == 0:
        return
    hw = _image_sizes_of_boxes(boxes, batch, image_sizes)
    box = boxes.detach()
    looks = (box.max() <= 1.0) & (hw.min() > 32) & (box[:, 2:] > 0).any()

    def report() -> None:
        raise ValueError(
            "boxes look normalised to [0, 1]; they must be xyxy in pixels of the network input "
            "(multiply by the input's width and height)"
        )

    _require(checks, looks, report)


def check_probabilities(
    name: str,
    probs: object,
    num_regions: int,
    num_classes: int,
    checks: ValueChecks | None = None,
) -> Tensor:
    probs = check_tensor(name, probs)
    if probs.dim() != 2 or probs.size(0) != num_regions:
        raise ValueError(
            f"{name} must have shape [R, C] = [{num_regions}, {num_classes}], "
            f"got {list(probs.shape)}"
        )
    if probs.size(1) != num_classes:
        raise ValueError(
            f"{name} has {probs.size(1)} classes but the class graph has {num_classes}; "
            "the class graph must have one node per classifier output (background included)"
        )
    if not probs.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {probs.dtype}")
    if probs.numel() == 0:
        return probs
    check_finite(name, probs, checks)

    def report() -> None:
        raise ValueError(
            f"{name} must be non-negative probabilities (softmax of the logits), "
            f"got minimum {float(probs.min()):.4g}"
        )

    _require(checks, probs.detach().amin() < 0, report)
    # each row a distribution: logits or unnormalised scores would pass the checks above
    tolerance = 1e-2 if probs.element_size() < 4 else 1e-4
    error = (probs.detach().sum(-1, dtype=torch.float32) - 1).abs()

    def not_summing() -> None:
        row = int(error.argmax())
        raise ValueError(
            f"{name} must hold one probability distribution per region (rows summing to 1: "
            f"the softmax of the logits), got row {row} summing to {float(probs[row].sum()):.6g}"
        )

    _require(checks, error.amax() > tolerance, not_summing)
    return probs


def warn_boxes_outside(
    boxes: Tensor,
    batch: Tensor,
    sizes: Tensor,
    stacklevel: int = 3,
    checks: ValueChecks | None = None,
) -> None:
    """Warn when boxes reach far outside their image: likely a wrong coordinate frame."""
    if boxes.numel() == 0 or sizes.numel() == 0:
        return
    hw = _image_sizes_of_boxes(boxes, batch, sizes)
    limit = torch.stack([hw[:, 1], hw[:, 0]], dim=-1) * 1.05 + 1
    outside = (boxes[:, 2:] > limit).any(-1) | (boxes[:, :2] < -0.05 * limit).any(-1)

    def report() -> None:
        i = int(outside.nonzero()[0, 0])
        warnings.warn(
            f"{int(outside.sum())} box(es) lie outside their image, e.g. box {i} = "
            f"{[round(v, 1) for v in boxes[i].tolist()]} in an image of (height, width) = "
            f"{sizes[batch[i]].tolist()}; boxes must be xyxy in pixels of the network input "
            "(after resizing), not of the original image",
            # from here, through _require (now) or ValueChecks.run (called by the same caller)
            stacklevel=stacklevel + (1 if checks is not None else 2),
        )

    _require(checks, outside.any(), report)
