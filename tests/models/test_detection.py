import json

import pytest
import torch
from pycocotools.coco import COCO

from iterative_reasoning.data import COCODetection, write_coco
from iterative_reasoning.detectors import attach_reasoning_head, reasoning_head_for
from iterative_reasoning.engine import (
    CallbackHook,
    TrainConfig,
    evaluate_detection,
    read_log,
    train,
)
from iterative_reasoning.graph import ClassRelations
from iterative_reasoning.models import DetectionModel
from iterative_reasoning.models.small_detectors import small_faster_rcnn

NUM_CLASSES = 14  # the synthetic benchmark's 13 categories and background
RELATIONS = ClassRelations(NUM_CLASSES, {"similar_to": torch.tensor([[3, 6], [6, 3]])})
CONFIG = TrainConfig(steps=3, batch_size=2, lr=0.01, warmup_steps=2, checkpoint_every=2)


@pytest.fixture(scope="module")
def coco(tmp_path_factory):
    root = write_coco(tmp_path_factory.mktemp("coco"), {"train": 4, "test": 2}, seed=0)
    return {
        split: COCODetection(
            root / "images",
            root / "annotations" / f"instances_{split}.json",
            hflip_prob=0.5 if split == "train" else 0.0,
        )
        for split in ("train", "test")
    }


def _detector(head=False):
    torch.manual_seed(0)
    detector = small_faster_rcnn(NUM_CLASSES, width=8, representation_size=64)
    if head:
        small = {"memory_channels": 8, "fc_channels": 16, "hidden_channels": 16}
        attach_reasoning_head(
            detector, reasoning_head_for(detector, "final", class_relations=RELATIONS, **small)
        )
    return detector


def _train(model, data, directory, **kwargs):
    return train(model, data, CONFIG, directory, progress=False, tensorboard=False, **kwargs)


def test_a_detector_trains_and_resumes_through_the_engine(coco, tmp_path):
    model = DetectionModel(_detector(head=True))
    history = _train(model, coco["train"], tmp_path / "run")
    assert len(history) == 3
    assert {"loss", "loss_classifier", "loss_reasoning", "loss_objectness"} <= set(history[0])
    assert all(torch.isfinite(torch.tensor(h["loss"])) for h in history)
    assert read_log(tmp_path / "run")[-1]["step"] == 3
    # killed after its step-2 checkpoint, resumed: the same weights as the whole run
    interrupted = DetectionModel(_detector(head=True))
    with pytest.raises(KeyboardInterrupt):
        _train(interrupted, coco["train"], tmp_path / "resumed", hooks=[CallbackHook(_stop_at(2))])
    resumed = DetectionModel(_detector(head=True))
    _train(resumed, coco["train"], tmp_path / "resumed")
    for name, value in model.state_dict().items():
        assert torch.equal(resumed.state_dict()[name], value), name


def _stop_at(step):
    def callback(at, _terms):
        if at == step:
            raise KeyboardInterrupt

    return callback


def test_the_head_leaves_the_detector_exactly_as_without_it(coco, tmp_path):
    """Trained jointly, the detector's weights equal, bit for bit, those of the same detector
    trained alone with the same steps: the head never trains it."""
    plain = DetectionModel(_detector())
    joint = DetectionModel(_detector(head=True))
    _train(plain, coco["train"], tmp_path / "plain")
    _train(joint, coco["train"], tmp_path / "joint")
    mine = {k: v for k, v in joint.state_dict().items() if ".roi_heads.head." not in k}
    assert mine.keys() == plain.state_dict().keys()
    for name, value in plain.state_dict().items():
        assert torch.equal(mine[name], value), name


def test_a_frozen_detector_stays_as_it_is(coco, tmp_path):
    model = DetectionModel(_detector(head=True), freeze_detector=True)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.train()
    assert not model.detector.backbone.training and not model.detector.rpn.training
    assert model.detector.roi_heads.training and model.head.training
    history = _train(model, coco["train"], tmp_path / "frozen")
    assert history[-1]["loss"] == history[-1]["loss_reasoning"]
    after = model.state_dict()
    for name, value in after.items():  # parameters and batch-norm statistics alike
        if ".roi_heads.head." not in name:
            assert torch.equal(before[name], value), name
    assert any(not torch.equal(before[n], v) for n, v in after.items() if ".head." in n)
    with pytest.raises(ValueError, match="attach a reasoning head first"):
        DetectionModel(_detector(), freeze_detector=True)


def _residual_detector():
    torch.manual_seed(0)
    detector = small_faster_rcnn(NUM_CLASSES, width=8, representation_size=64)
    small = {"memory_channels": 8, "fc_channels": 16, "hidden_channels": 16}
    head = reasoning_head_for(
        detector, "final", class_relations=RELATIONS, fusion="residual", **small
    )
    return attach_reasoning_head(detector, head)


def test_the_head_trains_without_its_gate_and_the_fallback_fit_trains_the_gate_alone(
    coco, tmp_path
):
    detector = _residual_detector()
    head = DetectionModel(detector, freeze_detector=True)
    trained = {n for n, p in head.named_parameters() if p.requires_grad}
    assert trained and all(".roi_heads.head." in n and "fallback" not in n for n in trained)
    before = {k: v.clone() for k, v in head.state_dict().items()}
    _train(head, coco["train"], tmp_path / "head")
    after = {k: v.clone() for k, v in head.state_dict().items()}
    gate = "detector.roi_heads.head.fallback.gate"
    assert torch.equal(after[gate], torch.zeros(NUM_CLASSES))  # still closed
    assert any(not torch.equal(before[n], v) for n, v in after.items() if ".head." in n)

    fallback = DetectionModel(detector, freeze_detector=True, trains="fallback")
    assert [n for n, p in fallback.named_parameters() if p.requires_grad] == [gate]
    history = _train(fallback, coco["train"], tmp_path / "fallback")
    assert history[-1]["loss"] == history[-1]["loss_reasoning"]
    fitted = fallback.state_dict()
    assert not torch.equal(fitted[gate], after[gate])
    for name, value in fitted.items():
        if name != gate:
            assert torch.equal(after[name], value), name


def test_what_a_detection_model_trains_is_checked():
    with pytest.raises(ValueError, match="trains must be one of"):
        DetectionModel(_residual_detector(), trains="gate")
    with pytest.raises(ValueError, match="fusion='residual' on a frozen detector"):
        DetectionModel(_detector(head=True), freeze_detector=True, trains="fallback")
    with pytest.raises(ValueError, match="fusion='residual' on a frozen detector"):
        DetectionModel(_residual_detector(), trains="fallback")
    joint = DetectionModel(_residual_detector())  # the detector and the head, not the gate
    assert not joint.head.fallback.gate.requires_grad


def test_evaluation_writes_coco_metrics_and_a_results_file(coco, tmp_path):
    import os

    outside = tmp_path.parent / f"{tmp_path.name}-outside.txt"
    outside.write_text("keep me")
    for name in ("metrics.json", "detections.json"):  # planted links are replaced, not followed
        os.symlink(outside, tmp_path / name)
    model = DetectionModel(_detector(head=True))
    model.detector.roi_heads.score_thresh = 0.0  # random weights: keep every detection
    metrics = evaluate_detection(model, coco["test"], batch_size=2, output_dir=tmp_path)
    assert set(metrics) == {"bbox"}
    written = json.loads((tmp_path / "metrics.json").read_text())
    assert set(written["bbox"]) == {
        "ap",
        "ap50",
        "ap75",
        "ap_small",
        "ap_medium",
        "ap_large",
        "ap_of",
    }
    assert written["images"] == 2 and written["detections"] > 0
    results = json.loads((tmp_path / "detections.json").read_text())
    assert len(results) == written["detections"]
    gt = COCO(str(coco["test"].annotation_file))
    assert gt.loadRes(results).getImgIds()  # a results file pycocotools reads
    assert {r["category_id"] for r in results} <= set(gt.getCatIds())
    assert outside.read_text() == "keep me"
    with pytest.raises(TypeError, match="COCODetection"):
        evaluate_detection(model, [1, 2])  # type: ignore[arg-type]


def test_mask_rcnn_is_scored_for_boxes_and_masks(tmp_path):
    from torchvision.models.detection import maskrcnn_resnet50_fpn

    root = write_coco(tmp_path / "coco", {"test": 1}, seed=3)
    data = COCODetection(root / "images", root / "annotations" / "instances_test.json", masks=True)
    torch.manual_seed(0)
    detector = maskrcnn_resnet50_fpn(
        weights=None,
        weights_backbone=None,
        num_classes=NUM_CLASSES,
        min_size=128,
        max_size=128,
        box_score_thresh=0.0,
        box_detections_per_img=20,
    )
    metrics = evaluate_detection(DetectionModel(detector), data)
    assert set(metrics) == {"bbox", "segm"}
    assert 0 <= metrics["segm"].ap <= 1


def _adapters():
    """The other libraries' detectors, small, with the head, for the engine's tests."""
    found = {}
    small = {"memory_channels": 8, "fc_channels": 16, "hidden_channels": 16}
    try:
        from iterative_reasoning.models.small_detectors import small_rt_detr

        torch.manual_seed(0)
        detector = small_rt_detr(NUM_CLASSES - 1, size=128, width=16, num_queries=12)
        head = reasoning_head_for(detector.model, "final", class_relations=RELATIONS, **small)
        found["rt_detr"] = detector.attach(head)
    except ImportError:
        pass
    try:
        from iterative_reasoning.detectors import ultralytics as yolo

        YOLONetwork = yolo.import_ultralytics().nn.tasks.DetectionModel  # noqa: N806

        torch.manual_seed(0)
        network = YOLONetwork("yolov8n.yaml", nc=NUM_CLASSES - 1, verbose=False)
        head = reasoning_head_for(network, "final", class_relations=RELATIONS, **small)
        found["yolo"] = yolo.YOLODetector(network, head, imgsz=128, conf=0.0)
    except ImportError:
        pass
    return found


@pytest.mark.parametrize("family", ["rt_detr", "yolo"])
def test_other_libraries_detectors_train_frozen_and_evaluate_through_the_engine(
    family, coco, tmp_path
):
    adapters = _adapters()
    if family not in adapters:
        pytest.skip(f"the {family} adapter's library is not installed")
    detector = adapters[family]
    joint = DetectionModel(detector)
    history = _train(joint, coco["train"], tmp_path / "joint")
    assert {"loss", "loss_detector", "loss_reasoning"} <= set(history[0])
    frozen = DetectionModel(detector, freeze_detector=True)
    frozen.train()
    assert not detector.model.training and detector.head.training
    before = {k: v.clone() for k, v in frozen.state_dict().items()}
    history = _train(frozen, coco["train"], tmp_path / "frozen")
    assert history[-1]["loss"] == history[-1]["loss_reasoning"]
    after = frozen.state_dict()
    for name, value in after.items():
        if not name.startswith("detector.head."):
            assert torch.equal(before[name], value), name
    assert any(not torch.equal(before[n], v) for n, v in after.items() if ".head." in n)
    metrics = evaluate_detection(frozen, coco["test"], batch_size=2, output_dir=tmp_path)
    assert 0.0 <= metrics["bbox"].ap <= 1.0
    assert json.loads((tmp_path / "metrics.json").read_text())["images"] == 2


@pytest.mark.parametrize("train_on", ["proposals", "ground_truth"])
def test_a_bad_target_or_image_is_an_error_before_the_detector_runs(coco, train_on):
    """A NaN target box once crashed the process in RoI pooling (train_on='ground_truth')."""
    from iterative_reasoning.models.detection import collate_detections

    detector = _detector()
    small = {"memory_channels": 8, "fc_channels": 16, "hidden_channels": 16}
    head = reasoning_head_for(detector, "final", class_relations=RELATIONS, **small)
    attach_reasoning_head(detector, head, train_on=train_on)
    model = DetectionModel(detector).train()
    batch = collate_detections([coco["train"][0], coco["train"][1]])
    nan_box = torch.tensor([[10.0, 10.0, float("nan"), 40.0]])
    cases = [
        ({"boxes": nan_box, "labels": torch.tensor([1])}, r"\['boxes'\] must be finite"),
        (
            {"boxes": torch.tensor([[10.0, 10.0, 40.0, 40.0]]), "labels": torch.tensor([-1])},
            r"object classes 1..13 \(0 is background\), got labels from -1",
        ),
        (
            {"boxes": torch.tensor([[10.0, 10.0, 40.0, 40.0]]), "labels": torch.tensor([14])},
            "got labels from 14 to 14",
        ),
    ]
    for target, match in cases:
        with pytest.raises(ValueError, match=match):
            model(batch._replace(targets=[target, batch.targets[1]]))
        # the detector itself, called directly with the head: the head's RoI heads check too
        with pytest.raises(ValueError, match=match):
            detector(batch.images, [target, batch.targets[1]])
    with pytest.raises(ValueError, match=r"images\[1\] must hold values in \[0, 1\]"):
        model(batch._replace(images=[batch.images[0], batch.images[1] * 255]))
    double = [batch.images[0].double(), batch.images[1]]  # once a raw error from a convolution
    with pytest.raises(TypeError, match=r"images\[0\] has dtype torch.float64 but the detector"):
        model(batch._replace(images=double))
    rgba = torch.cat([batch.images[0], torch.ones_like(batch.images[0][:1])])
    with pytest.raises(ValueError, match="RGBA: drop the alpha channel"):
        model.predict(batch._replace(images=[rgba, batch.images[1]]))
