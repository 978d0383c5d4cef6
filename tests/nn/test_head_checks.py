import pytest
import torch
from helpers import random_boxes, random_relations

from iterative_reasoning.nn import GlobalModule, IterativeReasoningHead, LocalModule
from iterative_reasoning.nn.head_checks import check_head_config, check_head_input
from iterative_reasoning.ops import RegionCrop

C = 5


def _head(model="final"):
    torch.manual_seed(0)
    return IterativeReasoningHead.paper(
        model,
        num_classes=C,
        class_relations=random_relations(C),
        feature_channels=3,
        region_channels=4,
        memory_channels=4,
        fc_channels=8,
        hidden_channels=8,
    )


def _inputs():
    boxes, batch = random_boxes([2, 3], seed=0, size=90.0, dtype=torch.float32)
    boxes[:, 2:] += 16
    return {
        "features": torch.randn(2, 3, 8, 8),
        "boxes": boxes,
        "batch": batch,
        "image_sizes": torch.tensor([[120.0, 110.0], [100.0, 128.0]]),
        "base_logits": torch.randn(5, C),
        "region_features": torch.randn(5, 4),
        "masks": None,
    }


def test_the_checked_inputs_give_the_sizes_as_a_tensor():
    sizes = check_head_input(_head(), **_inputs())
    assert torch.equal(sizes, torch.tensor([[120.0, 110.0], [100.0, 128.0]]))
    plain = dict(_inputs(), image_sizes=[(120, 110), (100, 128)])
    assert check_head_input(_head(), **plain).tolist() == [[120, 110], [100, 128]]


@pytest.mark.parametrize(
    ("name", "value", "match"),
    [
        ("features", torch.randn(3, 8, 8), r"features must have shape \[B, D_f, H, W\]"),
        ("features", torch.randn(2, 4, 8, 8), "features have 4 channels but the local module"),
        ("base_logits", torch.randn(5, C + 1), r"base_logits must have shape \[R, C\] = \[5, 5\]"),
        ("region_features", torch.randn(5, 3), r"region_features must have shape \[R, D_r\]"),
        ("image_sizes", torch.tensor([[120.0, 110.0]]), "image_sizes has 1 row"),
        ("image_sizes", torch.tensor([[300.0, 110.0], [100, 128]]), "larger than the feature map"),
        ("batch", torch.tensor([0, 0, 1, 1, 2]), "batch"),
        ("features", torch.full((2, 3, 8, 8), float("nan")), "features must be finite"),
        ("base_logits", torch.full((5, C), float("inf")), "base_logits must be finite"),
        ("region_features", torch.full((5, 4), float("nan")), "region_features must be finite"),
        ("masks", torch.ones(5, 6, 6), "masks"),
    ],
)
def test_each_input_is_checked_by_name(name, value, match):
    inputs = dict(_inputs(), **{name: value})
    with pytest.raises(ValueError, match=match):
        check_head_input(_head(), **inputs)


def test_a_local_head_ignores_region_features_and_warns_on_boxes_outside():
    inputs = dict(_inputs(), region_features=torch.randn(5, 99))
    check_head_input(_head("local"), **inputs)  # only the global module reads them
    inputs["boxes"] = inputs["boxes"] * 1.6
    with pytest.warns(UserWarning, match="outside their image"):
        check_head_input(_head("local"), **inputs)


def test_head_config():
    head = _head()
    local, global_ = head.local, head.global_
    crop = RegionCrop(7)
    check_head_config(C, local, global_, 3, "cross", crop)
    with pytest.raises(ValueError, match="needs a local module, a global module or both"):
        check_head_config(C, None, None, 3, "cross", crop)
    with pytest.raises(ValueError, match="num_iterations must be >= 2"):
        check_head_config(C, local, None, 1, "cross", crop)
    with pytest.raises(ValueError, match="feed must be one of"):
        check_head_config(C, local, None, 3, "other", crop)
    with pytest.raises(TypeError, match="crop must be an iterative_reasoning.ops.RegionCrop"):
        check_head_config(C, local, None, 3, "cross", torch.nn.Identity())
    with pytest.raises(ValueError, match="the local module has 5 classes, the head 6"):
        check_head_config(C + 1, local, None, 3, "cross", crop)
    with pytest.raises(ValueError, match="crop.output_size is 5 but the local module reads 7"):
        check_head_config(C, local, None, 3, "cross", RegionCrop(5))
    with pytest.raises(ValueError, match="the global module has 5 classes, the head 6"):
        check_head_config(C + 1, None, global_, 3, "cross", crop)
    narrow = GlobalModule(C, C, random_relations(C), hidden_channels=4)
    with pytest.raises(ValueError, match=r"in_channels \(5\) must be D_r \+ C"):
        check_head_config(C, None, narrow, 3, "cross", crop)
    assert isinstance(local, LocalModule)


@pytest.mark.parametrize(
    ("name", "value", "error", "match"),
    [
        ("features", torch.randn(2, 3, 8, 8, dtype=torch.float64), TypeError,
         "features has dtype torch.float64 but the head's parameters are torch.float32"),
        ("base_logits", torch.randint(0, 3, (5, C)), TypeError,
         "base_logits must be a floating-point tensor, got dtype torch.int64"),
        ("region_features", torch.randn(5, 4, dtype=torch.float16), TypeError,
         "region_features has dtype torch.float16"),
        ("features", torch.randn(2, 3, 8, 8, device="meta"), ValueError,
         "features is on meta but the head is on cpu"),
        ("base_logits", torch.randn(5, C, device="meta"), ValueError, "base_logits is on meta"),
    ],
)  # fmt: skip
def test_a_dtype_or_device_mismatch_is_named(name, value, error, match):
    """These once failed inside torch without naming the argument."""
    with pytest.raises(error, match=match):
        check_head_input(_head(), **dict(_inputs(), **{name: value}))


def test_autocast_lets_other_float_dtypes_through():
    inputs = dict(_inputs(), features=torch.randn(2, 3, 8, 8, dtype=torch.bfloat16))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        check_head_input(_head(), **inputs)


def test_the_number_of_iterations_is_an_integer():
    with pytest.raises(TypeError, match="num_iterations must be an integer, got 2.5"):
        IterativeReasoningHead.paper(
            "final", num_classes=C, class_relations=random_relations(C), num_iterations=2.5
        )
