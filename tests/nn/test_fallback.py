import pytest
import torch

from iterative_reasoning.graph import ClassRelations
from iterative_reasoning.losses import reasoning_loss
from iterative_reasoning.nn import FallbackGate, IterativeReasoningHead

C = 5
RELATIONS = ClassRelations(C, {"similar_to": torch.tensor([[1, 2], [2, 1]])})


def _head(fusion, seed=0):
    torch.manual_seed(seed)
    return IterativeReasoningHead.paper(
        "final",
        num_classes=C,
        class_relations=RELATIONS,
        feature_channels=8,
        region_channels=16,
        memory_channels=8,
        fc_channels=32,
        hidden_channels=16,
        fusion=fusion,
    )


def _inputs(seed=1):
    g = torch.Generator().manual_seed(seed)
    boxes = torch.tensor([[0.0, 0, 40, 30], [20, 10, 90, 60], [5, 5, 50, 50], [60, 0, 120, 90]])
    return (
        torch.randn(2, 8, 6, 8, generator=g),
        boxes,
        torch.tensor([0, 0, 1, 1]),
        torch.tensor([[96, 128], [96, 128]]),
        torch.randn(4, C, generator=g),
        torch.randn(4, 16, generator=g),
    )


def test_the_gate_starts_closed_bit_for_bit():
    gate = FallbackGate(C)
    base, fused = torch.randn(7, C) * 30, torch.randn(7, C) * 30
    assert torch.equal(gate(base, fused), base)
    assert torch.equal(gate.gate, torch.zeros(C))


def test_the_gate_against_a_naive_float64_reference():
    gate = FallbackGate(C).double()
    with torch.no_grad():
        gate.gate.copy_(torch.linspace(-0.5, 1.5, C, dtype=torch.float64))
    base, fused = torch.randn(6, C, dtype=torch.float64), torch.randn(6, C, dtype=torch.float64)
    want = torch.empty_like(base)
    for r in range(6):
        for c in range(C):
            g = float(gate.gate[c].detach())
            want[r, c] = (1 - g) * base[r, c] + g * fused[r, c]
    torch.testing.assert_close(gate(base, fused), want)


def test_the_gate_alone_receives_gradients_and_they_check():
    gate = FallbackGate(C).double()
    base = torch.randn(3, C, dtype=torch.float64, requires_grad=True)
    fused = torch.randn(3, C, dtype=torch.float64, requires_grad=True)
    gate(base, fused).sum().backward()
    assert base.grad is None and fused.grad is None  # both enter stop-gradient
    b, f = base.detach(), fused.detach()
    assert torch.autograd.gradcheck(
        lambda g: b + g * (f - b), gate.gate.detach().clone().requires_grad_()
    )
    torch.testing.assert_close(gate.gate.grad, (f - b).sum(0))


def test_errors():
    with pytest.raises(ValueError, match="num_classes must be a positive integer"):
        FallbackGate(0)
    with pytest.raises(ValueError, match=r"shape \[R, 5\]"):
        FallbackGate(C)(torch.zeros(2, C), torch.zeros(2, C + 1))
    with pytest.raises(ValueError, match="fusion must be one of"):
        _head("gated")


def test_a_residual_head_starts_as_its_input_and_keeps_the_paper_fusion_beside_it():
    paper, residual = _head("paper"), _head("residual")
    residual.load_state_dict(paper.state_dict(), strict=False)  # the same weights, gate closed
    inputs = _inputs()
    out_paper, out_residual = paper(*inputs), residual(*inputs)
    assert torch.equal(out_residual.logits, inputs[4])
    assert torch.equal(out_residual.fused_logits, out_paper.logits)
    assert out_paper.fused_logits is None
    with torch.no_grad():
        residual.fallback.gate.fill_(1.0)
    torch.testing.assert_close(residual(*inputs).logits, out_paper.logits)


def test_the_loss_trains_the_attention_on_the_fusion_and_the_gate_on_the_gated_output():
    head = _head("residual")
    inputs, labels, batch = _inputs(), torch.tensor([1, 0, 3, 4]), torch.tensor([0, 0, 1, 1])
    out = head(*inputs)
    loss = reasoning_loss(out, labels, batch, base_weight=0.0)
    paper = reasoning_loss(
        out._replace(logits=out.fused_logits, fused_logits=None), labels, batch, base_weight=0.0
    )
    torch.testing.assert_close(loss.final, paper.final)
    assert paper.fallback == 0
    want = torch.nn.functional.cross_entropy(
        inputs[4][:2], labels[:2]
    ) + torch.nn.functional.cross_entropy(inputs[4][2:], labels[2:])
    torch.testing.assert_close(loss.fallback, want / 2)
    torch.testing.assert_close(loss.total, paper.total + loss.fallback)
    loss.fallback.backward()
    grads = {n for n, p in head.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0}
    assert grads == {"fallback.gate"}


def test_a_detector_whose_logits_are_not_finite_is_named():
    inputs = list(_inputs())
    inputs[4] = inputs[4].clone()
    inputs[4][1, 2] = float("nan")
    with pytest.raises(ValueError, match="base_logits"):
        _head("residual")(*inputs)
