import pytest
import torch
from helpers import assert_adapter_gate_falls_back, two_images
from transformers_detectors import TINY, K, resnet, small_detr

transformers = pytest.importorskip("transformers")
pytest.importorskip("scipy")

from iterative_reasoning.detectors import reasoning_head_for  # noqa: E402
from iterative_reasoning.detectors import transformers as adapter  # noqa: E402
from iterative_reasoning.detectors.detr_family import coco_annotation  # noqa: E402
from iterative_reasoning.detectors.transformers import TransformersDetector  # noqa: E402
from iterative_reasoning.graph import ClassRelations  # noqa: E402
from iterative_reasoning.models.small_detectors import small_rt_detr  # noqa: E402

RELATIONS = ClassRelations(K + 1, {"similar_to": torch.tensor([[1, 2], [2, 1]])})
SMALL = {"memory_channels": 8, "fc_channels": 16, "hidden_channels": 16}


def _rt_detr(seed=0):
    torch.manual_seed(seed)
    return small_rt_detr(K, size=128, width=16, num_queries=12)


def _rt_detr_v2(seed=0):
    torch.manual_seed(seed)
    backbone = _rt_detr().model.config.backbone_config
    config = transformers.RTDetrV2Config(
        backbone_config=backbone,
        encoder_in_channels=[32, 64, 128],
        encoder_hidden_dim=32,
        encoder_ffn_dim=64,
        encoder_attention_heads=4,
        d_model=32,
        decoder_in_channels=[32] * 3,
        decoder_ffn_dim=64,
        decoder_attention_heads=4,
        decoder_layers=2,
        num_queries=12,
        num_denoising=10,
        num_labels=K,
        anchor_image_size=None,
    )
    processor = transformers.RTDetrImageProcessor(size={"height": 128, "width": 128})
    return TransformersDetector(transformers.RTDetrV2ForObjectDetection(config), processor)


def _conditional_detr(seed=0):
    torch.manual_seed(seed)
    config = transformers.ConditionalDetrConfig(
        backbone_config=resnet(["stage3", "stage4"]), **TINY
    )
    processor = transformers.ConditionalDetrImageProcessor(
        size={"shortest_edge": 128, "longest_edge": 160}
    )
    return TransformersDetector(transformers.ConditionalDetrForObjectDetection(config), processor)


def _deformable_detr(seed=0):
    torch.manual_seed(seed)
    config = transformers.DeformableDetrConfig(
        backbone_config=resnet(["stage2", "stage3", "stage4"]),
        encoder_n_points=2,
        decoder_n_points=2,
        num_feature_levels=3,
        **TINY,
    )
    processor = transformers.DeformableDetrImageProcessor(
        size={"shortest_edge": 128, "longest_edge": 160}
    )
    return TransformersDetector(transformers.DeformableDetrForObjectDetection(config), processor)


FAMILIES = {
    "rt_detr": _rt_detr,
    "rt_detr_v2": _rt_detr_v2,
    "detr": small_detr,
    "conditional_detr": _conditional_detr,
    "deformable_detr": _deformable_detr,
}


def _data():
    return two_images()


def _with_head(detector, model="final"):
    head = reasoning_head_for(detector.model, model, class_relations=RELATIONS, **SMALL)
    return detector.attach(head), head


def _detector_logits_as_prediction(head):
    """The plumbing: the head's fused prediction replaced by the detector's own logits."""
    return head.register_forward_hook(lambda module, args, out: out._replace(logits=args[4]))


def _host_pipeline(detector, images, threshold):
    """transformers' own way: the processor, the model, the processor's post-processing."""
    encoded = detector.processor(images=images, return_tensors="pt", do_rescale=False)
    outputs = detector.model(**encoded)
    sizes = [list(image.shape[-2:]) for image in images]
    return detector.processor.post_process_object_detection(
        outputs, threshold=threshold, target_sizes=sizes
    )


@pytest.mark.parametrize("family", FAMILIES)
def test_plumbing_the_detector_comes_back_exactly(family):
    detector, head = _with_head(FAMILIES[family](), "final")
    _detector_logits_as_prediction(head)
    detector.score_thresh = 0.0
    images, targets = _data()
    images = [images[0], images[0]]  # one size: nothing padded, as the host pipeline needs

    detector.eval()
    with torch.no_grad():
        want = _host_pipeline(detector, images, threshold=0.0)
        got = detector(images)
    for w, g in zip(want, got, strict=True):
        assert len(w["boxes"]) > 0
        assert torch.equal(g["labels"], w["labels"] + 1)
        assert torch.equal(g["scores"], w["scores"])
        height, width = images[0].shape[-2:]
        bounds = torch.tensor([width, height, width, height], dtype=torch.float)
        assert torch.equal(g["boxes"], torch.minimum(w["boxes"].clamp(min=0), bounds))

    # the detector's own loss comes back as it is, the head's is added
    detector.train()
    torch.manual_seed(1)
    encoded = detector.processor(
        images=images,
        annotations=[coco_annotation(i, t) for i, t in enumerate(targets)],
        return_tensors="pt",
        do_rescale=False,
    )
    expected = detector.model(
        **{k: v for k, v in encoded.items() if k != "labels"}, labels=encoded["labels"]
    ).loss
    torch.manual_seed(1)
    losses = detector(images, targets)
    assert set(losses) == {"loss_detector", "loss_reasoning"}
    assert torch.equal(losses["loss_detector"], expected)


@pytest.mark.parametrize("family", FAMILIES)
def test_the_logit_forms_map_to_the_head_and_back_exactly(family):
    detector = FAMILIES[family]()
    width = K if detector.family.sigmoid else K + 1
    logits = torch.randn(2, 5, width)
    head_logits = detector.to_head_logits(logits)
    assert head_logits.shape == (2, 5, K + 1)
    assert torch.equal(detector.from_head_logits(head_logits, logits), logits)
    if detector.family.sigmoid:  # background is the reference: sigma(l_k) = p(k) against it
        pair = torch.softmax(head_logits[..., [0, 1]], -1)[..., 1]
        torch.testing.assert_close(pair, torch.sigmoid(logits[..., 0]))
    else:  # DETR's no-object (last) is the head's background (first)
        torch.testing.assert_close(
            torch.softmax(head_logits, -1)[..., 0], torch.softmax(logits, -1)[..., -1]
        )


def test_a_sigmoid_detectors_odds_move_by_the_heads_odds_ratio():
    detector = _rt_detr()
    logits = torch.tensor([[[0.0, 0.0, -3.0, -3.0]]])  # unsure between classes 1 and 2
    base = detector.to_head_logits(logits).double()
    # the head is sure of class 1 and rules class 2 out; background as likely as before
    head = base.clone()
    head[..., 1] += 4.0
    head[..., 2] -= 4.0
    moved = detector.from_head_logits(head, logits.double())

    def log_odds(z):  # the naive reference, in float64
        p = torch.softmax(z, -1)[..., 1:]
        return torch.log(p / (1 - p))

    torch.testing.assert_close(moved, logits.double() + log_odds(head) - log_odds(base))
    assert moved[..., 0] > logits[..., 0] + 3 and moved[..., 1] < logits[..., 1] - 3
    # classes compete: the class ruled out falls below where z_k - z_0 would put it
    assert moved[..., 1] < (head[..., 2] - head[..., 0])


@pytest.mark.parametrize("family", FAMILIES)
def test_the_head_trains_on_the_detectors_hungarian_matching(family, monkeypatch):
    detector, head = _with_head(FAMILIES[family]())
    seen = {}
    real_loss = adapter.reasoning_loss

    def recording_loss(output, labels, batch, **kwargs):
        seen.update(labels=labels, batch=batch, kwargs=kwargs)
        return real_loss(output, labels, batch, **kwargs)

    monkeypatch.setattr(adapter, "reasoning_loss", recording_loss)
    images, targets = _data()
    losses = detector.train()(images, targets)
    queries = detector.num_queries
    labels = seen["labels"].view(2, queries)
    # each object is matched to exactly one query, with its class; the rest are background
    for image, target in enumerate(targets):
        assert sorted(labels[image][labels[image] > 0].tolist()) == sorted(
            target["labels"].tolist()
        )
    assert seen["kwargs"] == {"base_weight": 0.0}  # f_0 is the detector's own loss
    # the head's loss reaches the head only
    losses["loss_reasoning"].backward()
    assert all(p.grad is None for p in detector.model.parameters())
    assert all(p.grad is not None for p in head.parameters() if p.requires_grad)


def test_the_head_learns_on_a_frozen_detector():
    detector, head = _with_head(_rt_detr(), "final")
    detector.train()
    detector.model.eval()  # frozen: no denoising queries, only the head's loss
    images, targets = _data()
    optimizer = torch.optim.Adam(head.parameters(), lr=3e-3)
    first = None
    for _ in range(8):
        losses = detector(images, targets)
        assert set(losses) == {"loss_reasoning"}
        optimizer.zero_grad()
        losses["loss_reasoning"].backward()
        optimizer.step()
        loss = float(losses["loss_reasoning"].detach())
        first = first if first is not None else loss
    assert loss < first


def test_detections_are_in_pixels_of_each_image_with_padding():
    detector, head = _with_head(small_detr())
    images, _ = _data()  # two sizes: DETR's processor pads the smaller one
    with torch.no_grad():
        found = detector.eval()(images)
    for image, detections in zip(images, found, strict=True):
        height, width = image.shape[-2:]
        boxes = detections["boxes"]
        assert (boxes[:, 2] <= width).all() and (boxes[:, 3] <= height).all()
        assert set(detections) == {"boxes", "labels", "scores"}
        assert ((detections["labels"] >= 1) & (detections["labels"] <= K)).all()


def test_detach_gives_back_the_plain_detector():
    detector = _rt_detr()
    images, _ = _data()
    with torch.no_grad():
        want = detector.eval()(images)
        _with_head(detector)
        detector.detach()
        got = detector(images)
    for w, g in zip(want, got, strict=True):
        for key in w:
            assert torch.equal(w[key], g[key])


def test_errors():
    detector = _rt_detr()
    with pytest.raises(TypeError, match="DETR-family"):
        TransformersDetector(torch.nn.Linear(2, 2))
    with pytest.raises(TypeError, match="DETR-family"):
        TransformersDetector(detector.model.model)  # the bare RTDetrModel has no detection head
    wrong_classes = reasoning_head_for(small_detr().model, "local", **SMALL)
    wrong_classes.num_classes = K + 3
    with pytest.raises(ValueError, match="num_classes"):
        detector.attach(wrong_classes)
    # a DETR whose backbone gives only its stride-32 stage has no map for the local module
    only_32 = small_detr(out_features=("stage4",))
    assert only_32.strides == [32]
    with pytest.raises(ValueError, match="stride-16"):
        reasoning_head_for(only_32.model, "local", **SMALL)
    with pytest.raises(ValueError, match="stride 16"):
        only_32.attach(reasoning_head_for(small_detr().model, "local", **SMALL))
    config = transformers.DetrConfig(use_timm_backbone=False, num_queries=0, num_labels=K)
    config.backbone_config = small_detr().model.config.backbone_config
    with pytest.raises(ValueError, match="queries"):
        TransformersDetector(transformers.DetrForObjectDetection(config))
    images, targets = _data()
    with pytest.raises(ValueError, match="targets"):
        detector.train()(images)
    with pytest.raises(ValueError, match=r"labels.*1\.\.\d+ \(0 is background\)"):
        detector.train()(images, [{**targets[0], "labels": torch.tensor([0, 1])}, targets[1]])
    with pytest.raises(TypeError, match=r"images\[0\] must hold floats"):
        detector.eval()([torch.zeros(3, 10, 10, dtype=torch.uint8)])
    # NaN or inverted target boxes were once dropped without a word
    for box in ([10.0, 10.0, float("nan"), 40.0], [40.0, 10.0, 10.0, 40.0]):
        bad = {"boxes": torch.tensor([box]), "labels": torch.tensor([1])}
        with pytest.raises(ValueError, match=r"targets\[1\]\['boxes'\] must be"):
            detector.train()(images, [targets[0], bad])


def test_an_image_without_objects_trains_as_background():
    detector, head = _with_head(_rt_detr())
    images, targets = _data()
    targets[1] = {"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.long)}
    losses = detector.train()(images, targets)
    assert torch.isfinite(losses["loss_reasoning"]) and torch.isfinite(losses["loss_detector"])


@pytest.mark.parametrize("family", ["rt_detr", "detr"])
def test_a_residual_head_gives_the_plain_detectors_detections_until_its_gate_opens(family):
    detector = FAMILIES[family]()
    detector.score_thresh = 0.0
    images, _ = _data()
    assert_adapter_gate_falls_back(
        detector, reasoning_head_for, images, class_relations=RELATIONS, **SMALL
    )
