import pytest
import torch

from iterative_reasoning.nn.attention import AttentionFusion
from iterative_reasoning.nn.head_trace import ModuleTrace, Trace

R, C, T = 4, 3, 2


def _trace(local=True, global_=True, seed=0):
    gen = torch.Generator().manual_seed(seed)

    def rand(*shape):
        return torch.randn(*shape, generator=gen, dtype=torch.float64)

    trace = Trace(rand(R, C), rand(R))
    for _ in range(T):
        for module, on in ((trace.local, local), (trace.global_, global_)):
            if on:
                module.add(rand(R, C), rand(R, C), rand(R))
    return trace


def test_module_trace_keeps_each_iteration_in_order():
    trace = ModuleTrace()
    assert ModuleTrace.stacked(trace.logits) is None
    steps = [torch.full((R, C), float(t)) for t in range(T)]
    for t, step in enumerate(steps):
        trace.add(step + 10, step, torch.full((R,), float(t)))
    assert torch.equal(ModuleTrace.stacked(trace.logits), torch.stack(steps))
    assert torch.equal(ModuleTrace.stacked(trace.inputs), torch.stack(steps) + 10)
    assert [a[0].item() for a in trace.attention] == [0.0, 1.0]


def test_fusion_order_is_base_then_each_iteration_s_local_and_global():
    trace = _trace()
    out = trace.output(AttentionFusion(), T)
    predictions = [trace.base_logits]
    attention = [trace.base_attention]
    for t in range(T):
        for module in (trace.local, trace.global_):
            predictions.append(module.logits[t])
            attention.append(module.attention[t])
    weights = torch.softmax(torch.stack(attention), dim=0)
    expected = sum(w[:, None] * p for w, p in zip(weights, predictions, strict=True))
    torch.testing.assert_close(out.logits, expected, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(out.attention, weights, rtol=1e-12, atol=1e-12)
    assert torch.equal(out.base_logits, trace.base_logits)
    assert torch.equal(out.local_logits, torch.stack(trace.local.logits))
    assert torch.equal(out.global_inputs, torch.stack(trace.global_.inputs))


@pytest.mark.parametrize(("local", "global_"), [(True, False), (False, True), (True, True)])
def test_without_attention_the_last_iteration_is_averaged_over_modules(local, global_):
    trace = _trace(local, global_)
    out = trace.output(None, T)
    last = [m.logits[-1] for m in (trace.local, trace.global_) if m.logits]
    torch.testing.assert_close(out.logits, sum(last) / len(last), rtol=0, atol=0)
    assert out.attention is None
    assert (out.local_logits is None) == (not local)
    assert (out.global_logits is None) == (not global_)
