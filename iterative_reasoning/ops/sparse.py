"""Sparse-dense products in any floating dtype: PyTorch's CPU sparse kernels have no float16 or
bfloat16, so those products run in float32 and come back in the dense operand's dtype (as
mixed precision does for any reduction)."""

from __future__ import annotations

import torch
from torch import Tensor

HALF_DTYPES = (torch.float16, torch.bfloat16)


def sparse_mm(sparse: Tensor, dense: Tensor) -> Tensor:
    """``sparse @ dense`` (COO or CSR ``sparse``), in the dtype of ``dense``; computed in
    float32 when ``dense`` is float16 or bfloat16, inside or outside ``torch.autocast``.

    Example:
        >>> import torch
        >>> eye = torch.eye(2).to_sparse()
        >>> sparse_mm(eye, torch.ones(2, 3, dtype=torch.bfloat16)).dtype
        torch.bfloat16
    """
    # autocast would cast the operands of sparse.mm to half precision: not here
    with torch.autocast(device_type=dense.device.type, enabled=False):
        if dense.dtype in HALF_DTYPES:
            return torch.sparse.mm(sparse.float(), dense.float()).to(dense.dtype)
        if sparse.dtype != dense.dtype:
            sparse = sparse.to(dense.dtype)
        return torch.sparse.mm(sparse, dense)


def compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """The dtype a sparse product for dense operands of ``dtype`` runs in: float32 for half
    precision, else ``dtype`` itself."""
    return torch.float32 if dtype in HALF_DTYPES else dtype
