"""The head's inference as a TorchScript program: the eager head's logits, compiled by
``torch.jit.script``, saved and loaded, on the head's own parameters."""

import io
import warnings

import pytest
import torch
from helpers import random_relations

from iterative_reasoning.graph import reasoning_metadata
from iterative_reasoning.nn import ConvGRUCell, GlobalReasoningConv, IterativeReasoningHead
from iterative_reasoning.nn.scripted_head import ScriptedHead, check_scriptable

C, D_F, D_R = 5, 6, 7
SMALL = {"feature_channels": D_F, "region_channels": D_R, "memory_channels": 8}
SMALL |= {"fc_channels": 16, "hidden_channels": 12}
RELATIONS = random_relations(C, num_relations=2, seed=3)


def _head(model="final", seed=0, dtype=torch.float64, **options):
    """A head with every parameter drawn at a scale where each module and the gate change
    the prediction (the initialisation's gate of zero would hide the fusion)."""
    torch.manual_seed(seed)
    head = IterativeReasoningHead.paper(
        model, num_classes=C, class_relations=RELATIONS, **SMALL, **options
    )
    with torch.no_grad():
        for parameter in head.parameters():
            parameter.normal_(0.0, 0.3)
    return head.to(dtype).eval()


def _inputs(counts=(4, 0, 3), seed=1, dtype=torch.float64):
    """Images of different sizes in a padded batch (one without regions), boxes reaching the
    images' edges."""
    gen = torch.Generator().manual_seed(seed)
    sizes = torch.tensor([[150.0, 190.0], [120.0, 100.0], [160.0, 130.0]])[: len(counts)]
    features = torch.randn(len(counts), D_F, 10, 12, generator=gen, dtype=dtype)
    boxes = []
    for (height, width), count in zip(sizes.tolist(), counts, strict=True):
        xy = torch.rand(count, 2, generator=gen, dtype=dtype) * torch.tensor([width, height]) * 0.7
        wh = 8 + torch.rand(count, 2, generator=gen, dtype=dtype) * 60
        box = torch.cat([xy, xy + wh], 1)
        box[:, 2] = box[:, 2].clamp(max=width)
        box[:, 3] = box[:, 3].clamp(max=height)
        boxes.append(box)
    batch = torch.cat([torch.full((n,), i) for i, n in enumerate(counts)])
    total = sum(counts)
    base = torch.randn(total, C, generator=gen, dtype=dtype) * 2
    region_features = torch.randn(total, D_R, generator=gen, dtype=dtype)
    return features, torch.cat(boxes), batch, sizes.to(dtype), base, region_features


def _script(module):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit.script is deprecated
        return torch.jit.script(module)


def _saved_and_loaded(scripted):
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit.save and load too
        torch.jit.save(scripted, buffer)
        buffer.seek(0)
        return torch.jit.load(buffer)


CASES = {
    "final": ("final", {}),
    "residual": ("final", {"fusion": "residual"}),
    "no_spatial": ("no_spatial", {}),
    "no_semantic": ("no_semantic", {"fusion": "residual"}),
    "no_cross_feed": ("no_cross_feed", {}),
    "no_attention": ("no_attention", {}),
    "mean feed, overlaps, delta": ("final", {"feed": "mean", "overlaps": True, "delta": 30.0}),
    "crop_and_resize, light": ("final", {"crop_mode": "crop_and_resize", "size": "light"}),
    "unaligned, 5 context layers": ("final", {"aligned": False, "context_layers": 5}),
}


@pytest.mark.parametrize("case", list(CASES))
def test_the_scripted_head_gives_the_eager_logits(case):
    model, options = CASES[case]
    head = _head(model, **options)
    inputs = _inputs()
    with torch.no_grad():
        want = head(*inputs).logits
        got = _saved_and_loaded(_script(ScriptedHead(head)))(*inputs)
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
    assert (want - inputs[4]).abs().max() > 0.1  # the head changed the prediction


def test_the_textbook_cell_and_the_reference_layer():
    """A head with the textbook GRU cell and the PyG reference graph layer (given the fast
    layer's parameters)."""
    head = _head()
    conv = head.global_.conv
    metadata = reasoning_metadata(conv.class_relations, conv.spatial_relations)
    reference = GlobalReasoningConv(conv.in_channels, conv.out_channels, metadata, C)
    reference.load_state_dict(conv.state_dict())
    head.global_.conv = reference.double()
    head.local.cell = ConvGRUCell(8, 8, variant="textbook").double()
    with torch.no_grad():
        for parameter in head.local.cell.parameters():
            parameter.normal_(0.0, 0.3)
    inputs = _inputs(seed=2)
    with torch.no_grad():
        want = head(*inputs).logits
        got = _script(ScriptedHead(head))(*inputs)
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)


def test_float32_to_the_last_bit():
    """In float32 too: the program computes what the head computes at inference (the read of
    the initial memory as its cache has it), in the same order."""
    head = _head(dtype=torch.float32)
    inputs = _inputs(dtype=torch.float32)
    with torch.no_grad():
        want = head(*inputs).logits
        got = _script(ScriptedHead(head))(*inputs)
    assert torch.equal(got, want)


def test_it_runs_on_the_head_s_own_parameters():
    head = _head()
    scripted = _script(ScriptedHead(head))
    inputs = _inputs()
    with torch.no_grad():
        before = scripted(*inputs)
        head.local.fc[0].weight.mul_(1.5)  # a change to the head is a change to the program
        head.global_.conv.relation_weight.mul_(-1)
        after = scripted(*inputs)
        want = head(*inputs).logits
    assert not torch.allclose(before, after)
    torch.testing.assert_close(after, want, rtol=1e-12, atol=1e-12)


def test_heads_it_cannot_run_are_refused():
    with pytest.raises(ValueError, match="this head has no global module"):
        check_scriptable(_head("local"))
    with pytest.raises(ValueError, match="this head has no local module"):
        ScriptedHead(_head("global"))
    with pytest.raises(ValueError, match="float32 or float64, not torch.bfloat16"):
        ScriptedHead(_head(dtype=torch.bfloat16))
    with pytest.raises(TypeError, match="head must be an IterativeReasoningHead"):
        ScriptedHead(torch.nn.Linear(2, 2))
