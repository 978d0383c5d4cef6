"""Sparse matrices held as dense tensors (their indices and values), and their products with
dense matrices as custom operators.

PyTorch's sparse tensors cannot enter a ``torch.compile`` graph ("Attempted to wrap sparse
Tensor"); a :class:`SparseMatrix` or :class:`CSRMatrix` is plain index and value tensors, and
its product is one operator to the compiler (``torch.library.custom_op``) that builds the
sparse tensor inside, so the modules that use them trace without a graph break. No gradient
flows to the values: they are operators built from boxes and class graphs. PyTorch's CPU
sparse kernels have no float16 or bfloat16: a product with a half-precision operand runs in
float32 and comes back in its dtype (as mixed precision does for any reduction).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import NamedTuple

import torch
from torch import Tensor

HALF_DTYPES = (torch.float16, torch.bfloat16)


def compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """The dtype a sparse product for dense operands of ``dtype`` runs in: float32 for half
    precision, else ``dtype`` itself."""
    return torch.float32 if dtype in HALF_DTYPES else dtype


class SparseMatrix(NamedTuple):
    """A ``rows x cols`` sparse matrix in COO form: ``indices [2, nnz]`` (row, column) and
    ``values [nnz]``; ``coalesced`` when the indices are sorted and unique.

    Example:
        >>> import torch
        >>> eye = SparseMatrix.from_sparse(torch.eye(2).to_sparse())
        >>> eye.mm(torch.ones(2, 3, dtype=torch.bfloat16)).dtype
        torch.bfloat16
    """

    indices: Tensor
    values: Tensor
    rows: int
    cols: int
    coalesced: bool = False

    @classmethod
    def from_sparse(cls, matrix: Tensor) -> SparseMatrix:
        """The matrix of a sparse COO tensor (coalesced here)."""
        matrix = matrix.coalesce()
        rows, cols = matrix.shape
        return cls(matrix.indices().clone(), matrix.values().clone(), rows, cols, True)

    def mm(self, dense: Tensor) -> Tensor:
        """``self @ dense`` ``[rows, D]``, in the dtype of ``dense``."""
        return self._product(dense, transpose=False)

    def t_mm(self, dense: Tensor) -> Tensor:
        """``self.t() @ dense`` ``[cols, D]``, in the dtype of ``dense``."""
        return self._product(dense, transpose=True)

    def to(self, dtype: torch.dtype) -> SparseMatrix:
        """The same matrix with values of ``dtype``."""
        return self._replace(values=self.values.to(dtype))

    def to_dense(self) -> Tensor:
        return torch.sparse_coo_tensor(self.indices, self.values, (self.rows, self.cols)).to_dense()

    def _product(self, dense: Tensor, transpose: bool) -> Tensor:
        def product(d: Tensor) -> Tensor:
            values = self.values if self.values.dtype == d.dtype else self.values.to(d.dtype)
            args = (self.indices, values, self.rows, self.cols, d, self.coalesced, transpose)
            return _coo_mm(*args)

        return _in_compute_dtype(dense, product)


class CSRMatrix(NamedTuple):
    """A static ``rows x cols`` sparse matrix in CSR form, ``(crow, col, values)``, with its
    transpose in the same form (``t_crow``, ``t_col``, ``t_values``) for the backward product,
    which CSR has no fast kernel for. Built once, for a class graph.

    Example:
        >>> import torch
        >>> a = CSRMatrix.from_sparse(torch.tensor([[0.0, 2.0], [1.0, 0.0]]).to_sparse())
        >>> a.mm(torch.eye(2)).tolist()
        [[0.0, 2.0], [1.0, 0.0]]
    """

    crow: Tensor
    col: Tensor
    values: Tensor
    t_crow: Tensor
    t_col: Tensor
    t_values: Tensor
    rows: int
    cols: int

    @classmethod
    def from_sparse(cls, matrix: Tensor) -> CSRMatrix:
        """The matrix (and its transpose) of a sparse COO tensor."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "sparse CSR support is in beta"
            forward = matrix.coalesce().to_sparse_csr()
            backward = matrix.t().coalesce().to_sparse_csr()
        rows, cols = matrix.shape
        return cls(
            forward.crow_indices().clone(),
            forward.col_indices().clone(),
            forward.values().clone(),
            backward.crow_indices().clone(),
            backward.col_indices().clone(),
            backward.values().clone(),
            rows,
            cols,
        )

    def mm(self, dense: Tensor) -> Tensor:
        """``self @ dense`` ``[rows, D]``, in the dtype of ``dense``."""

        def product(d: Tensor) -> Tensor:
            values, t_values = (
                v if v.dtype == d.dtype else v.to(d.dtype) for v in (self.values, self.t_values)
            )
            forward = (self.crow, self.col, values)
            return _csr_mm(*forward, self.t_crow, self.t_col, t_values, self.rows, self.cols, d)

        return _in_compute_dtype(dense, product)

    def to_dense(self) -> Tensor:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            shape = (self.rows, self.cols)
            return torch.sparse_csr_tensor(self.crow, self.col, self.values, shape).to_dense()


def _in_compute_dtype(dense: Tensor, product: Callable[[Tensor], Tensor]) -> Tensor:
    """``product(dense)``, in float32 when ``dense`` is half precision, outside autocast (which
    would cast a sparse product's operands to half precision)."""
    with torch.autocast(device_type=dense.device.type, enabled=False):
        if dense.dtype in HALF_DTYPES:
            return product(dense.float()).to(dense.dtype)
        return product(dense)


# -- the operators --------------------------------------------------------------------------


@torch.library.custom_op("iterative_reasoning::coo_mm", mutates_args=())
def _coo_mm(
    indices: Tensor,
    values: Tensor,
    rows: int,
    cols: int,
    dense: Tensor,
    coalesced: bool,
    transpose: bool,
) -> Tensor:
    """``A @ dense``, or ``A.t() @ dense`` with ``transpose``, of the COO matrix ``A``."""
    if transpose:
        matrix = torch.sparse_coo_tensor(
            indices.flip(0), values, (cols, rows), check_invariants=False
        )
    else:
        matrix = torch.sparse_coo_tensor(
            indices, values, (rows, cols), is_coalesced=coalesced, check_invariants=False
        )
    return torch.sparse.mm(matrix, dense)


@_coo_mm.register_fake
def _coo_mm_shape(indices, values, rows, cols, dense, coalesced, transpose):
    return dense.new_empty(cols if transpose else rows, dense.size(1))


def _coo_context(ctx, inputs, output):
    indices, values, rows, cols, _, coalesced, transpose = inputs
    ctx.save_for_backward(indices, values)
    ctx.layout = (rows, cols, coalesced, transpose)


def _coo_backward(ctx, grad):
    indices, values = ctx.saved_tensors
    rows, cols, coalesced, transpose = ctx.layout
    back = _coo_mm(indices, values, rows, cols, grad.contiguous(), coalesced, not transpose)
    return None, None, None, None, back, None, None


_coo_mm.register_autograd(_coo_backward, setup_context=_coo_context)


@torch.library.custom_op("iterative_reasoning::csr_mm", mutates_args=())
def _csr_mm(
    crow: Tensor,
    col: Tensor,
    values: Tensor,
    t_crow: Tensor,
    t_col: Tensor,
    t_values: Tensor,
    rows: int,
    cols: int,
    dense: Tensor,
) -> Tensor:
    """``A @ dense`` of the CSR matrix ``A`` (``t_*``: its transpose, for the gradient)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "sparse CSR support is in beta"
        matrix = torch.sparse_csr_tensor(crow, col, values, (rows, cols), check_invariants=False)
    return torch.sparse.mm(matrix, dense)


@_csr_mm.register_fake
def _csr_mm_shape(crow, col, values, t_crow, t_col, t_values, rows, cols, dense):
    return dense.new_empty(rows, dense.size(1))


def _csr_context(ctx, inputs, output):
    crow, col, values, t_crow, t_col, t_values, rows, cols, _ = inputs
    ctx.save_for_backward(crow, col, values, t_crow, t_col, t_values)
    ctx.shape = (rows, cols)


def _csr_backward(ctx, grad):
    crow, col, values, t_crow, t_col, t_values = ctx.saved_tensors
    rows, cols = ctx.shape
    back = _csr_mm(t_crow, t_col, t_values, crow, col, values, cols, rows, grad.contiguous())
    return (None,) * 8 + (back,)


_csr_mm.register_autograd(_csr_backward, setup_context=_csr_context)
