import pytest
import torch
import torch.nn.functional as F

from iterative_reasoning.losses import hard_example_weights, reasoning_loss
from iterative_reasoning.nn import ReasoningOutput


def _output(counts=(3, 4), num_classes=5, modules=("local", "global"), attention=True, seed=0):
    gen = torch.Generator().manual_seed(seed)
    r, t = sum(counts), 2

    def randn(*shape):
        return torch.randn(*shape, generator=gen, dtype=torch.float64, requires_grad=True)

    local = randn(t, r, num_classes) if "local" in modules else None
    global_ = randn(t, r, num_classes) if "global" in modules else None
    n = 1 + t * len(modules)
    return ReasoningOutput(
        randn(r, num_classes),
        randn(r, num_classes),
        local,
        global_,
        torch.softmax(randn(n, r), 0) if attention else None,
        randn(t, r, num_classes).detach() if local is not None else None,
        randn(t, r, num_classes).detach() if global_ is not None else None,
    )


def _original_update_weights(probs, labels, beta):
    """The original code's ``update_weights`` (snippets.py) for one image."""
    w = 1 - probs[torch.arange(len(labels)), labels]
    w[probs[torch.arange(len(labels)), labels] >= 1 - beta] = beta
    return w / w.sum()


def _naive_loss(out, labels, batch, beta=0.5):
    """Per image: the original's loss; then the mean over images."""
    per_image = []
    for b in batch.unique():
        k = batch == b
        y = labels[k]
        total = F.cross_entropy(out.base_logits[k], y)
        for preds, inputs in (
            (out.local_logits, out.local_inputs),
            (out.global_logits, out.global_inputs),
        ):
            if preds is None:
                continue
            terms = []
            for f, prev in zip(preds, inputs, strict=True):
                w = _original_update_weights(torch.softmax(prev[k], -1), y, beta)
                terms.append((w * F.cross_entropy(f[k], y, reduction="none")).sum())
            total = total + torch.stack(terms).mean()
        if out.attention is not None:
            total = total + F.cross_entropy(out.logits[k], y)
        per_image.append(total)
    return torch.stack(per_image).mean()


@pytest.mark.parametrize("modules", [("local",), ("global",), ("local", "global")])
@pytest.mark.parametrize("attention", [True, False])
def test_equals_the_original_per_image(modules, attention):
    out = _output(modules=modules, attention=attention)
    labels = torch.tensor([1, 2, 3, 4, 1, 1, 2])
    batch = torch.tensor([0, 0, 0, 1, 1, 1, 1])
    loss = reasoning_loss(out, labels, batch)
    torch.testing.assert_close(loss.total, _naive_loss(out, labels, batch))
    if not attention:
        assert loss.final == 0


def test_hard_example_weights_sum_to_one_per_image_and_carry_no_gradient():
    logits = torch.randn(7, 5, dtype=torch.float64, requires_grad=True)
    labels = torch.tensor([1, 2, 3, 4, 1, 1, 2])
    batch = torch.tensor([0, 0, 0, 1, 1, 1, 1])
    w = hard_example_weights(logits, labels, batch)
    assert not w.requires_grad
    torch.testing.assert_close(w.new_zeros(2).index_add_(0, batch, w), torch.ones(2, dtype=w.dtype))
    for b in (0, 1):
        k = batch == b
        expected = _original_update_weights(torch.softmax(logits[k], -1), labels[k], 0.5)
        torch.testing.assert_close(w[k], expected.detach())


def test_gradient_treats_the_weights_as_constants():
    out = _output(modules=("local",), attention=False)
    labels = torch.tensor([1, 2, 3, 4, 1, 1, 2])
    batch = torch.zeros(7, dtype=torch.long)
    reasoning_loss(out, labels, batch).local.backward()
    w = hard_example_weights(out.local_inputs[0], labels, batch)
    p = torch.softmax(out.local_logits[0].detach(), -1)
    expected = w[:, None] * (p - F.one_hot(labels, 5)) / 2  # mean over 2 iterations
    torch.testing.assert_close(out.local_logits.grad[0], expected)


def test_a_batch_is_the_mean_of_its_images():
    out = _output()
    labels = torch.tensor([1, 2, 3, 4, 1, 1, 2])
    batch = torch.tensor([0, 0, 0, 1, 1, 1, 1])
    together = reasoning_loss(out, labels, batch).total
    alone = []
    for b in (0, 1):
        k = batch == b
        part = ReasoningOutput(
            **{
                name: None
                if x is None
                else x[k]
                if x.dim() == 2 and name != "attention"
                else x[:, k]
                for name, x in out._asdict().items()
            }
        )
        alone.append(
            reasoning_loss(part, labels[k], torch.zeros(int(k.sum()), dtype=torch.long)).total
        )
    torch.testing.assert_close(together, torch.stack(alone).mean())


def test_base_weight_scales_the_convnet_term_and_zero_leaves_f0_untouched():
    out = _output()
    labels = torch.tensor([1, 2, 3, 4, 1, 1, 2])
    batch = torch.tensor([0, 0, 0, 1, 1, 1, 1])
    full = reasoning_loss(out, labels, batch)
    half = reasoning_loss(out, labels, batch, base_weight=0.5)
    torch.testing.assert_close(half.total, full.total - 0.5 * full.base)
    none = reasoning_loss(out, labels, batch, base_weight=0.0)
    torch.testing.assert_close(none.total, full.total - full.base)
    none.total.backward()
    assert out.base_logits.grad is None  # inside a detector, f_0 is trained by its own loss
    assert out.logits.grad is not None


def test_errors():
    out = _output()
    batch = torch.tensor([0, 0, 0, 1, 1, 1, 1])
    with pytest.raises(ValueError, match=r"labels must have shape \[R\] = \[7\]"):
        reasoning_loss(out, torch.zeros(6, dtype=torch.long), batch)
    with pytest.raises(ValueError, match=r"class indices in \[0, 5\)"):
        reasoning_loss(out, torch.full((7,), 5), batch)
    with pytest.raises(TypeError, match="labels must have dtype torch.long"):
        reasoning_loss(out, torch.zeros(7), batch)
    with pytest.raises(TypeError, match="output must be a ReasoningOutput"):
        reasoning_loss(tuple(out), torch.zeros(7, dtype=torch.long), batch)  # type: ignore[arg-type]


def test_non_finite_predictions_give_a_non_finite_loss():
    """A deliberate pass-through, as PyTorch's cross-entropy: train() stops on it."""
    out = _output()
    nan = out._replace(logits=out.logits.detach() * float("nan"))
    labels, batch = torch.zeros(7, dtype=torch.long), torch.zeros(7, dtype=torch.long)
    assert torch.isnan(reasoning_loss(nan, labels, batch).total)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"beta": float("nan")}, "beta must be a number in"),
        ({"beta": -0.1}, "beta must be a number in"),
        ({"beta": 0.0}, "beta must be a number in"),
        ({"final_weight": float("nan")}, "final_weight must be finite and non-negative"),
        ({"base_weight": -1.0}, "base_weight must be finite and non-negative"),
        ({"fallback_weight": float("inf")}, "fallback_weight must be finite and non-negative"),
    ],
)
def test_loss_settings_out_of_range_are_refused(options, message):
    output = _output(counts=(2,), num_classes=3)
    with pytest.raises(ValueError, match=message):
        reasoning_loss(output, torch.tensor([0, 2]), torch.tensor([0, 0]), **options)
