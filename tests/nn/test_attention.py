"""AttentionFusion against a naive float64 loop, its gradients, and the stop-gradient."""

import math

import pytest
import torch

from iterative_reasoning.nn.attention import AttentionFusion


def _naive(logits, attention):
    """f[r, c] = sum_n exp(a[n, r]) / sum_m exp(a[m, r]) * logits[n, r, c], by loops."""
    n, r, c = logits.shape
    fused = [[0.0] * c for _ in range(r)]
    weights = [[0.0] * r for _ in range(n)]
    for j in range(r):
        top = max(float(attention[k, j]) for k in range(n))
        z = sum(math.exp(float(attention[k, j]) - top) for k in range(n))
        for k in range(n):
            weights[k][j] = math.exp(float(attention[k, j]) - top) / z
            for i in range(c):
                fused[j][i] += weights[k][j] * float(logits[k, j, i])
    return torch.tensor(fused, dtype=torch.float64), torch.tensor(weights, dtype=torch.float64)


def test_against_a_naive_loop():
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(4, 5, 3, generator=gen, dtype=torch.float64)
    attention = torch.randn(4, 5, generator=gen, dtype=torch.float64) * 3
    attention[:, 2] += 500.0  # large logits: the softmax is shifted, never overflows
    out = AttentionFusion()(logits, attention)
    fused, weights = _naive(logits, attention)
    torch.testing.assert_close(out.logits, fused, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(out.weights, weights, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(out.weights.sum(0), torch.ones(5, dtype=torch.float64))


def test_gradients_reach_the_attention_only():
    gen = torch.Generator().manual_seed(1)
    logits = torch.randn(3, 4, 2, generator=gen, dtype=torch.float64, requires_grad=True)
    attention = torch.randn(3, 4, generator=gen, dtype=torch.float64, requires_grad=True)
    fusion = AttentionFusion()
    assert torch.autograd.gradcheck(lambda a: fusion(logits, a).logits, (attention,))
    fusion(logits, attention).logits.sum().backward()
    assert logits.grad is None  # stop-gradient on the predictions
    assert attention.grad is not None and attention.grad.abs().sum() > 0
    # without the stop-gradient both get gradients, checked numerically
    free = AttentionFusion(detach_predictions=False)
    assert torch.autograd.gradcheck(lambda f, a: free(f, a).logits, (logits, attention))


def test_one_prediction_is_itself_and_equal_attention_is_the_mean():
    logits = torch.randn(1, 3, 4, dtype=torch.float64)
    out = AttentionFusion()(logits, torch.randn(1, 3, dtype=torch.float64))
    torch.testing.assert_close(out.logits, logits[0])
    logits = torch.randn(5, 3, 4, dtype=torch.float64)
    out = AttentionFusion()(logits, torch.full((5, 3), 7.0, dtype=torch.float64))
    torch.testing.assert_close(out.logits, logits.mean(0))


def test_region_order_and_zero_regions():
    gen = torch.Generator().manual_seed(2)
    logits = torch.randn(3, 6, 2, generator=gen)
    attention = torch.randn(3, 6, generator=gen)
    perm = torch.randperm(6, generator=gen)
    out = AttentionFusion()(logits, attention)
    permuted = AttentionFusion()(logits[:, perm], attention[:, perm])
    torch.testing.assert_close(permuted.logits, out.logits[perm])
    empty = AttentionFusion()(torch.zeros(3, 0, 2), torch.zeros(3, 0))
    assert empty.logits.shape == (0, 2) and empty.weights.shape == (3, 0)


def test_bad_shapes():
    with pytest.raises(ValueError, match=r"logits must have shape \[N, R, C\] and attention"):
        AttentionFusion()(torch.zeros(3, 4, 2), torch.zeros(3, 5))
    with pytest.raises(ValueError, match=r"logits must have shape \[N, R, C\]"):
        AttentionFusion()(torch.zeros(3, 4), torch.zeros(3, 4))
