import pytest
import torch

from iterative_reasoning.ops.sparse import CSRMatrix, SparseMatrix, compute_dtype


def _random_sparse(rows, cols, nnz, seed=0, duplicates=False):
    gen = torch.Generator().manual_seed(seed)
    index = torch.stack(
        [
            torch.randint(0, rows, (nnz,), generator=gen),
            torch.randint(0, cols, (nnz,), generator=gen),
        ]
    )
    if duplicates:  # the same entry twice: a COO matrix sums them
        index = torch.cat([index, index[:, :3]], dim=1)
    values = torch.rand(index.size(1), generator=gen, dtype=torch.float64)
    return torch.sparse_coo_tensor(index, values, (rows, cols))


def _naive(matrix):
    """The dense matrix by summing each entry into its cell."""
    dense = torch.zeros(matrix.shape, dtype=torch.float64)
    index, values = matrix._indices(), matrix._values()
    for k in range(values.numel()):
        dense[index[0, k], index[1, k]] += values[k]
    return dense


@pytest.mark.parametrize("coalesced", [True, False])
def test_coo_products_equal_the_dense_ones(coalesced):
    matrix = _random_sparse(6, 4, 10, duplicates=True)
    dense = _naive(matrix)
    if coalesced:
        coo = SparseMatrix.from_sparse(matrix)
    else:
        coo = SparseMatrix(matrix._indices(), matrix._values(), 6, 4)
    assert torch.equal(coo.to_dense(), dense)
    right, left = torch.randn(4, 3, dtype=torch.float64), torch.randn(6, 3, dtype=torch.float64)
    torch.testing.assert_close(coo.mm(right), dense @ right, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(coo.t_mm(left), dense.t() @ left, rtol=1e-12, atol=1e-12)


def test_csr_product_equals_the_dense_one():
    matrix = _random_sparse(5, 7, 12, seed=1, duplicates=True)
    csr = CSRMatrix.from_sparse(matrix)
    dense = _naive(matrix)
    assert torch.equal(csr.to_dense(), dense)
    right = torch.randn(7, 2, dtype=torch.float64)
    torch.testing.assert_close(csr.mm(right), dense @ right, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gradcheck(seed):
    matrix = _random_sparse(5, 4, 8, seed=seed)
    coo, csr = SparseMatrix.from_sparse(matrix), CSRMatrix.from_sparse(matrix)
    right = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    left = torch.randn(5, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(coo.mm, (right,))
    assert torch.autograd.gradcheck(coo.t_mm, (left,))
    assert torch.autograd.gradcheck(csr.mm, (right,))
    assert torch.autograd.gradgradcheck(csr.mm, (right,))


def test_empty_matrices_and_rows():
    empty = SparseMatrix(torch.zeros(2, 0, dtype=torch.long), torch.zeros(0), 3, 2)
    assert torch.equal(empty.mm(torch.ones(2, 4)), torch.zeros(3, 4))
    assert torch.equal(empty.t_mm(torch.ones(3, 4)), torch.zeros(2, 4))
    csr = CSRMatrix.from_sparse(torch.zeros(3, 2).to_sparse())
    assert torch.equal(csr.mm(torch.ones(2, 1)), torch.zeros(3, 1))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_runs_in_float32_and_comes_back_in_its_dtype(dtype):
    assert compute_dtype(dtype) == torch.float32
    assert compute_dtype(torch.float64) == torch.float64
    matrix = _random_sparse(4, 3, 6, seed=3).float()
    right = torch.randn(3, 5).to(dtype)
    expected = (_naive(matrix) @ right.double()).to(dtype)
    for sparse in (SparseMatrix.from_sparse(matrix), CSRMatrix.from_sparse(matrix)):
        out = sparse.mm(right)
        assert out.dtype == dtype
        torch.testing.assert_close(out, expected)
        with torch.autocast("cpu", dtype=torch.bfloat16):  # autocast leaves float32 alone
            assert sparse.mm(right.float()).dtype == torch.float32


def test_to_casts_the_values():
    coo = SparseMatrix.from_sparse(_random_sparse(3, 3, 4).float())
    assert coo.to(torch.float64).values.dtype == torch.float64
    assert coo.to(torch.float64).coalesced


def test_torch_compile_fullgraph_matches_eager():
    matrix = _random_sparse(6, 5, 9, seed=4).float()
    coo, csr = SparseMatrix.from_sparse(matrix), CSRMatrix.from_sparse(matrix)

    def both(x):
        return coo.t_mm(coo.mm(x)) + csr.mm(x).sum()

    x = torch.randn(5, 3, requires_grad=True)
    compiled = torch.compile(both, fullgraph=True, backend="eager")
    eager_out = both(x)
    (eager_grad,) = torch.autograd.grad(eager_out.sum(), x)
    compiled_out = compiled(x)
    (compiled_grad,) = torch.autograd.grad(compiled_out.sum(), x)
    torch.testing.assert_close(compiled_out, eager_out)
    torch.testing.assert_close(compiled_grad, eager_grad)
