import pytest
import torch

from iterative_reasoning.nn import ConvGRUCell


def _inputs(n=2, cin=3, ch=4, size=5, seed=0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, cin, size, size, generator=gen, dtype=torch.float64)
    h = torch.randn(n, ch, size, size, generator=gen, dtype=torch.float64)
    return x, h


def _conv(x, w, b=None):
    return torch.nn.functional.conv2d(x, w, b, padding=w.size(-1) // 2)


def test_textbook_1x1_equals_gru_cell_per_pixel():
    cell = ConvGRUCell(3, 4, kernel_size=1, variant="textbook").double()
    gru = torch.nn.GRUCell(3, 4).double()
    with torch.no_grad():  # GRUCell's rows are (r, z, n)
        gru.weight_ih.copy_(cell.input_conv.weight[:, :, 0, 0])
        gru.bias_ih.copy_(cell.input_conv.bias)
        gru.weight_hh.copy_(
            torch.cat([cell.hidden_gates.weight, cell.hidden_candidate.weight])[:, :, 0, 0]
        )
        gru.bias_hh.copy_(torch.cat([cell.hidden_gates.bias, cell.hidden_candidate.bias]))
    x, h = _inputs()
    out = cell(x, h)
    per_pixel = gru(x.permute(0, 2, 3, 1).reshape(-1, 3), h.permute(0, 2, 3, 1).reshape(-1, 4))
    torch.testing.assert_close(out.permute(0, 2, 3, 1).reshape(-1, 4), per_pixel)


def test_paper_cell_equals_its_equations():
    torch.manual_seed(0)
    cell = ConvGRUCell(3, 4, variant="paper", init_std=0.3).double()
    x, h = _inputs()
    wx, bx = cell.input_conv.weight, cell.input_conv.bias
    wh, wn = cell.hidden_gates.weight, cell.hidden_candidate.weight
    r = torch.sigmoid(_conv(x, wx[:1], bx[:1]) + _conv(h, wh[:1]))
    u = torch.sigmoid(_conv(x, wx[1:2], bx[1:2]) + _conv(h, wh[1:2]))
    cand = torch.relu(_conv(x, wx[2:], bx[2:]) + _conv(r * h, wn))
    torch.testing.assert_close(cell(x, h), h + u * (cand - h))
    torch.testing.assert_close(cell.delta(x, h), u * (cand - h))
    assert cell.hidden_gates.bias is None and cell.hidden_candidate.bias is None
    assert r.size(1) == 1 and u.size(1) == 1  # single-channel gates


@pytest.mark.parametrize("variant", ["paper", "textbook"])
def test_gradcheck_and_every_parameter_gets_a_gradient(variant):
    cell = ConvGRUCell(2, 3, variant=variant, init_std=0.3).double()
    x, h = _inputs(1, 2, 3, 4)
    x.requires_grad_()
    h.requires_grad_()
    assert torch.autograd.gradcheck(cell.delta, (x, h))
    cell(x, h).square().sum().backward()
    for name, p in cell.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_errors():
    with pytest.raises(ValueError, match="variant must be"):
        ConvGRUCell(2, 3, variant="lstm")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="kernel_size must be odd"):
        ConvGRUCell(2, 3, kernel_size=2)
    cell = ConvGRUCell(2, 3)
    with pytest.raises(ValueError, match=r"x must have shape \[N, 2"):
        cell(torch.zeros(1, 3, 4, 4), torch.zeros(1, 3, 4, 4))
    with pytest.raises(ValueError, match="must agree"):
        cell(torch.zeros(1, 2, 4, 4), torch.zeros(1, 3, 5, 4))
