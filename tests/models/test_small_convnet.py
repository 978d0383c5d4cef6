import pytest
import torch

from iterative_reasoning.models.small_convnet import SmallConvNetClassifier
from iterative_reasoning.models.small_detectors import SmallBackbone, small_faster_rcnn
from iterative_reasoning.nn import RegionBatch


def test_shapes_of_the_region_batch():
    torch.manual_seed(0)
    net = SmallConvNetClassifier(6, width=4, region_channels=12).eval()
    boxes = [torch.tensor([[0.0, 0.0, 40.0, 40.0], [8.0, 8.0, 60.0, 30.0]]), torch.zeros(0, 4)]
    out = net(torch.rand(2, 3, 96, 64), boxes, torch.tensor([[96, 64], [80, 48]]))
    assert isinstance(out, RegionBatch)
    assert out.features.shape == (2, 16, 6, 4)  # 4 * width channels at stride 16
    assert out.base_logits.shape == (2, 6) and out.region_features.shape == (2, 12)
    assert out.batch.tolist() == [0, 0] and out.boxes.shape == (2, 4)
    assert (net.feature_channels, net.region_channels, net.spatial_scale) == (16, 12, 1 / 16)


def test_every_parameter_gets_a_gradient():
    torch.manual_seed(0)
    net = SmallConvNetClassifier(4, width=4, region_channels=8)
    out = net(torch.rand(1, 3, 64, 64), [torch.tensor([[4.0, 4.0, 40.0, 50.0]])], [(64, 64)])
    out.base_logits.sum().backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name


def test_the_backbone_is_stride_16():
    backbone = SmallBackbone(width=8)
    assert backbone.out_channels == 32
    assert backbone(torch.rand(1, 3, 160, 96)).shape == (1, 32, 10, 6)


def test_small_convnet_crops_see_31_pixels_around_the_box():
    """The claim the benchmark rests on: pixels more than 31 pixels from a box leave a
    SmallConvNetClassifier's region logits unchanged; pixels within 31 change them."""
    torch.manual_seed(0)
    net = SmallConvNetClassifier(5).eval()
    image = torch.rand(1, 3, 160, 160)
    boxes = [torch.tensor([[64.0, 64.0, 88.0, 80.0]])]
    sizes = torch.tensor([[160, 160]])
    base = net(image, boxes, sizes).base_logits
    far = image.clone()
    far[..., : 64 - 31, :] = 0
    far[..., 80 + 31 :, :] = 0
    far[..., :, : 64 - 31] = 0
    far[..., :, 88 + 31 :] = 0
    torch.testing.assert_close(net(far, boxes, sizes).base_logits, base, rtol=0, atol=1e-6)
    near = image.clone()
    near[..., 64 - 31 : 64 - 20, :] = 0
    assert (net(near, boxes, sizes).base_logits - base).abs().max() > 1e-5


def test_small_faster_rcnn_detects_and_trains_on_the_cpu():
    torch.manual_seed(0)
    detector = small_faster_rcnn(num_classes=3, width=4, representation_size=32)
    assert detector.roi_heads.box_predictor.cls_score.out_features == 3
    assert detector.transform.image_mean == [0.0, 0.0, 0.0]  # [0, 1] pixels as they are
    images = [torch.rand(3, 384, 384)]
    targets = [{"boxes": torch.tensor([[10.0, 20.0, 90.0, 120.0]]), "labels": torch.tensor([2])}]
    losses = detector.train()(images, targets)
    assert set(losses) >= {"loss_classifier", "loss_box_reg", "loss_objectness"}
    assert all(torch.isfinite(v) for v in losses.values())
    (out,) = detector.eval()(images)
    assert set(out) == {"boxes", "labels", "scores"}


def test_errors():
    with pytest.raises(ValueError, match="crop"):
        SmallConvNetClassifier(4, crop_mode="nearest")
