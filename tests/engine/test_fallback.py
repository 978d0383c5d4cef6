import pytest
import torch

from iterative_reasoning.detectors import attach_reasoning_head, reasoning_head_for
from iterative_reasoning.engine import fallback as fallback_module
from iterative_reasoning.engine.fallback import GATE_GRID, choose_gate, select_gate
from iterative_reasoning.graph import ClassRelations
from iterative_reasoning.models import DetectionModel
from iterative_reasoning.models.small_detectors import small_faster_rcnn

CLASSES = ["__background__", "door", "car_door", "table"]
RELATIONS = ClassRelations(4, {"similar_to": torch.tensor([[1, 2], [2, 1]])})


def _model(fusion="residual"):
    torch.manual_seed(0)
    detector = small_faster_rcnn(4, width=8, representation_size=64)
    small = {"memory_channels": 8, "fc_channels": 16, "hidden_channels": 16}
    head = reasoning_head_for(detector, "final", class_relations=RELATIONS, fusion=fusion, **small)
    return DetectionModel(attach_reasoning_head(detector, head))


class _Metrics:
    def __init__(self, ap, ap_of):
        self.ap, self.ap_of = ap, ap_of

    def as_percent(self):
        return {"ap": self.ap, "ap_of": self.ap_of}


def _scored_by(per_class, overall):
    """evaluate_detection replaced: each class's held-out AP a function of its own gate, the
    mAP a function of the whole gate; records every gate it is asked to score."""
    asked = []

    def evaluate(model, dataset, progress=False):
        gate = model.head.fallback.gate.detach().clone()
        asked.append(gate)
        ap_of = {name: f(float(gate[c])) for c, (name, f) in enumerate(per_class.items(), 1)}
        return {"bbox": _Metrics(overall(gate), ap_of)}

    return evaluate, asked


def test_a_class_moves_only_where_its_held_out_ap_gains_the_margin(monkeypatch):
    per_class = {
        "door": lambda g: 40 + 20 * g,  # gains 20 at 1
        "car_door": lambda g: 50 + 0.5 * g,  # gains 0.5: under the margin
        "table": lambda g: 70 - 3 * g,  # loses
    }

    def overall(gate):
        return 50 + 5 * float(gate[1]) - 3 * float(gate[3])

    evaluate, asked = _scored_by(per_class, overall)
    monkeypatch.setattr(fallback_module, "evaluate_detection", evaluate)
    model = _model()
    selection = select_gate(model, None, CLASSES, margin=1.0)
    assert selection.gate.tolist() == [0.0, 1.0, 0.0, 0.0]  # background as closed: a tie
    assert torch.equal(model.head.fallback.gate.detach(), selection.gate)
    assert set(selection.grid) == {str(v) for v in GATE_GRID}
    assert selection.chosen == {
        "detector": 50.0,
        "shared 1.0": 52.0,
        "classes": 55.0,
        "classes and background": 55.0,
        "chosen": "classes",
    }
    assert len(asked) == len(GATE_GRID) + 2
    # what was measured chooses again, without scoring anything
    measured = {k: v for k, v in selection.chosen.items() if k.startswith("classes")}
    again = choose_gate(torch.zeros(4), selection.grid, CLASSES, 1.0, measured)
    assert again.as_json() == selection.as_json()


def test_a_shared_value_wins_where_the_per_class_choice_scores_lower_as_a_whole(monkeypatch):
    per_class = {"door": lambda g: 40 + 20 * g, "car_door": lambda g: 50, "table": lambda g: 70}
    evaluate, _ = _scored_by(per_class, overall=lambda gate: 50 + 4 * float(gate.mean()))
    monkeypatch.setattr(fallback_module, "evaluate_detection", evaluate)
    selection = select_gate(_model(), None, CLASSES)
    assert selection.gate.tolist() == [1.0] * 4 and selection.chosen["chosen"] == "shared 1.0"


def test_the_detector_is_kept_when_nothing_gains_on_the_held_out_images(monkeypatch):
    per_class = {name: (lambda g: 50 - g) for name in CLASSES[1:]}
    evaluate, _ = _scored_by(per_class, overall=lambda gate: 50 - float(gate.sum()))
    monkeypatch.setattr(fallback_module, "evaluate_detection", evaluate)
    selection = select_gate(_model(), None, CLASSES)
    assert selection.gate.tolist() == [0.0] * 4 and selection.chosen["chosen"] == "detector"


def test_a_choice_that_lowers_the_held_out_map_falls_back_to_the_detector(monkeypatch):
    per_class = {"door": lambda g: 40 + 10 * g, "car_door": lambda g: 50, "table": lambda g: 70}
    # the classes' APs gain alone, the mAP of the choice does not: the detector is kept
    evaluate, _ = _scored_by(per_class, overall=lambda gate: 50 - float(gate.sum() > 0))
    monkeypatch.setattr(fallback_module, "evaluate_detection", evaluate)
    selection = select_gate(_model(), None, CLASSES)
    assert selection.gate.tolist() == [0.0] * 4


def test_a_gain_of_the_whole_under_the_margin_keeps_the_detector(monkeypatch):
    per_class = {name: (lambda g: 50.0) for name in CLASSES[1:]}
    evaluate, _ = _scored_by(per_class, overall=lambda gate: 50 + 0.5 * float(gate.mean()))
    monkeypatch.setattr(fallback_module, "evaluate_detection", evaluate)
    selection = select_gate(_model(), None, CLASSES, margin=1.0)
    assert selection.gate.tolist() == [0.0] * 4 and selection.chosen["chosen"] == "detector"
    assert selection.chosen["shared 1.0"] == 50.5
    assert select_gate(_model(), None, CLASSES, margin=0.4).chosen["chosen"] == "shared 1.0"


def test_errors():
    with pytest.raises(ValueError, match="fusion='residual'"):
        select_gate(_model("paper"), None, CLASSES)
    with pytest.raises(ValueError, match="grid must hold 0"):
        select_gate(_model(), None, CLASSES, grid=(0.5, 1.0))
    with pytest.raises(ValueError, match="margin must be finite and non-negative"):
        select_gate(_model(), None, CLASSES, margin=-1)
    with pytest.raises(ValueError, match="classes has 3 names"):
        select_gate(_model(), None, CLASSES[:3])


def test_a_held_out_subset_is_scored_as_a_coco_dataset_of_its_images(monkeypatch, tmp_path):
    from iterative_reasoning.data import COCODetection, write_coco
    from iterative_reasoning.engine.validation import validation_split

    root = write_coco(tmp_path, {"train": 5}, seed=0)
    images = COCODetection(
        root / "images", root / "annotations" / "instances_train.json", hflip_prob=0.5
    )
    _, held_out = validation_split(images, 0.4, seed=0)
    seen = []

    def evaluate(model, dataset, progress=False):
        seen.append(dataset)
        return {"bbox": _Metrics(50.0, {})}

    monkeypatch.setattr(fallback_module, "evaluate_detection", evaluate)
    select_gate(_model(), held_out, CLASSES)
    assert all(isinstance(d, COCODetection) and d.hflip_prob == 0.0 for d in seen)
    assert [r.image_id for r in seen[0].records] == [
        images.records[i].image_id for i in held_out.indices
    ]
    assert len(images.records) == 5 and images.hflip_prob == 0.5  # the dataset is left alone
