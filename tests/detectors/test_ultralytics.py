import os
import sys
import tempfile

import pytest
import torch
from helpers import assert_adapter_gate_falls_back, two_images

os.environ.setdefault("YOLO_CONFIG_DIR", tempfile.mkdtemp())  # not the user's settings
from iterative_reasoning.detectors.ultralytics import import_ultralytics  # noqa: E402

try:  # through the adapter, so that importing it changes nothing in this process
    import_ultralytics()
except ImportError:
    pytest.skip("ultralytics is not installed", allow_module_level=True)

from ultralytics.nn.tasks import DetectionModel as UltralyticsDetectionModel  # noqa: E402
from ultralytics.utils.nms import non_max_suppression  # noqa: E402

from iterative_reasoning.detectors import reasoning_head_for  # noqa: E402
from iterative_reasoning.detectors import ultralytics as adapter  # noqa: E402
from iterative_reasoning.detectors.ultralytics import YOLODetector  # noqa: E402
from iterative_reasoning.graph import ClassRelations  # noqa: E402

K = 4
RELATIONS = ClassRelations(K + 1, {"similar_to": torch.tensor([[1, 2], [2, 1]])})
SMALL = {"memory_channels": 8, "fc_channels": 16, "hidden_channels": 16}


def _network(seed=0):
    torch.manual_seed(seed)
    return UltralyticsDetectionModel("yolov8n.yaml", nc=K, verbose=False)


def _detector(**options):
    return YOLODetector(_network(), imgsz=160, **options)


def _with_head(detector, model="final"):
    head = reasoning_head_for(detector.model, model, class_relations=RELATIONS, **SMALL)
    return detector.attach(head), head


def _data():
    return two_images()


def test_plumbing_the_detector_comes_back_exactly():
    detector, head = _with_head(_detector())
    head.register_forward_hook(lambda module, args, out: out._replace(logits=args[4]))
    images, _ = _data()
    detector.eval()
    with torch.no_grad():
        got = detector(images)
        # ultralytics' own way: the network's predictions through its NMS, back to the image
        pixels, scales, _ = detector._encode(images)
        want = non_max_suppression(
            detector.model(pixels)[0], conf_thres=0.001, iou_thres=0.7, max_det=100
        )
    for w, g, scale, image in zip(want, got, scales, images, strict=True):
        assert len(w) > 0
        assert torch.equal(g["labels"], w[:, 5].long() + 1)
        assert torch.equal(g["scores"], w[:, 4])
        assert torch.equal(g["detector_scores"], w[:, 4])
        height, width = image.shape[-2:]
        bounds = torch.tensor([width, height, width, height], dtype=torch.float)
        assert torch.equal(g["boxes"], torch.minimum((w[:, :4] / scale).clamp(min=0), bounds))


def test_the_head_moves_yolos_odds_by_its_own():
    detector, head = _with_head(_detector())
    images, _ = _data()
    shift = torch.zeros(K + 1)
    shift[1] = 3.0  # the head's fused prediction: class 1 far likelier than YOLO thought

    def favour_class_1(module, args, out):
        return out._replace(logits=args[4] + shift)

    head.register_forward_hook(favour_class_1)
    with torch.no_grad():
        found = detector.eval()(images)
    for detections in found:
        assert (detections["labels"] == 1).float().mean() > 0.9
        raised = detections["scores"][detections["labels"] == 1]
        yolos = detections["detector_scores"][detections["labels"] == 1]
        assert (raised > yolos).all()


def test_the_head_rescores_and_keeps_yolos_scores():
    detector, head = _with_head(_detector())
    images, _ = _data()
    with torch.no_grad():
        found = detector.eval()(images)
    for detections in found:
        assert set(detections) == {"boxes", "labels", "scores", "detector_scores"}
        assert len(detections["boxes"]) > 0
        assert not torch.equal(detections["scores"], detections["detector_scores"])
        assert ((detections["labels"] >= 1) & (detections["labels"] <= K)).all()


def test_training_the_detector_and_the_head_together(monkeypatch):
    detector, head = _with_head(_detector(conf=0.0))
    seen = {}
    real_loss = adapter.reasoning_loss

    def recording_loss(output, labels, batch, **kwargs):
        seen.update(labels=labels, kwargs=kwargs)
        return real_loss(output, labels, batch, **kwargs)

    monkeypatch.setattr(adapter, "reasoning_loss", recording_loss)
    images, targets = _data()
    losses = detector.train()(images, targets)
    assert set(losses) == {"loss_detector", "loss_reasoning"}
    assert seen["kwargs"] == {"base_weight": 0.0}
    assert set(seen["labels"].tolist()) <= {0, 1, 2, 3}
    losses["loss_reasoning"].backward()
    assert all(p.grad is None for p in detector.model.parameters())  # stop-gradient
    assert all(p.grad is not None for p in head.parameters() if p.requires_grad)
    losses["loss_detector"].backward()
    assert any(p.grad is not None for p in detector.model.parameters())


def test_detections_overlapping_an_object_take_its_class():
    found = [{"boxes": torch.tensor([[10.0, 10.0, 80.0, 90.0], [100.0, 100.0, 120.0, 120.0]])}]
    targets = [{"boxes": torch.tensor([[5.0, 5.0, 40.0, 45.0]]), "labels": torch.tensor([3])}]
    # at scale 2 the object is [10, 10, 80, 90] in the input: the first detection is it
    assert adapter._match(found, targets, [2.0], 0.5).tolist() == [3, 0]


def test_the_head_learns_on_a_frozen_detector():
    detector, head = _with_head(_detector(conf=0.0))
    detector.train()
    detector.model.eval()  # frozen: only the head's loss
    images, targets = _data()
    optimizer = torch.optim.Adam(head.parameters(), lr=3e-3)
    losses = []
    for _ in range(8):
        loss = detector(images, targets)
        assert set(loss) == {"loss_reasoning"}
        optimizer.zero_grad()
        loss["loss_reasoning"].backward()
        optimizer.step()
        losses.append(float(loss["loss_reasoning"].detach()))
    assert losses[-1] < losses[0]


def test_no_detections():
    detector, head = _with_head(_detector(conf=1.0))  # nothing passes
    images, targets = _data()
    with torch.no_grad():
        found = detector.eval()(images)
    assert all(len(f["boxes"]) == 0 for f in found)
    detector.train()
    detector.model.eval()
    losses = detector(images, targets)
    assert float(losses["loss_reasoning"].detach()) == 0.0


def test_errors():
    detector = _detector()
    with pytest.raises(TypeError, match="ultralytics YOLO"):
        YOLODetector(torch.nn.Linear(2, 2))
    head = reasoning_head_for(detector.model, "local", **SMALL)
    head.num_classes = K + 2
    with pytest.raises(ValueError, match="num_classes"):
        detector.attach(head)
    head = reasoning_head_for(detector.model, "local", spatial_scale=1 / 64, **SMALL)
    with pytest.raises(ValueError, match="stride 64"):
        detector.attach(head)
    with pytest.raises(ValueError, match="imgsz"):
        YOLODetector(_network(), imgsz=100)
    images, targets = _data()
    with pytest.raises(ValueError, match="targets"):
        detector.train()(images)
    with pytest.raises(ValueError, match=r"labels.*1\.\.\d+ \(0 is background\)"):
        detector.train()(images, [{**targets[0], "labels": torch.tensor([0, 1])}, targets[1]])
    # NaN pixels once gave zero detections without a word
    nan_image = images[0].clone()
    nan_image[0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match=r"images\[0\] must be finite"):
        detector.eval()([nan_image, images[1]])


def test_missing_ultralytics_names_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "ultralytics", None)
    with pytest.raises(ImportError, match="pip install ultralytics"):
        YOLODetector(torch.nn.Linear(2, 2))


def test_a_residual_head_gives_the_plain_detectors_detections_until_its_gate_opens():
    detector = _detector()
    images, _ = _data()
    assert_adapter_gate_falls_back(
        detector, reasoning_head_for, images, class_relations=RELATIONS, **SMALL
    )
