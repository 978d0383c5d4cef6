import numpy as np
import pytest
import torch

from iterative_reasoning.metrics import (
    ClassificationMetrics,
    class_accuracy,
    class_average_precision,
    evaluate_classification,
    instance_accuracy,
    instance_average_precision,
    predict,
    voc_ap,
)


def original_voc_ap(rec, prec):
    """``voc_eval.voc_ap(use_07_metric=False)`` of the official code, verbatim in numpy."""
    mrec = np.concatenate(([0.0], rec, [1.0]))
    mpre = np.concatenate(([0.0], prec, [0.0]))
    for i in range(mpre.size - 1, 0, -1):
        mpre[i - 1] = np.maximum(mpre[i - 1], mpre[i])
    i = np.where(mrec[1:] != mrec[:-1])[0]
    return np.sum((mrec[i + 1] - mrec[i]) * mpre[i + 1])


def original_metrics(scores, labels):
    """The official ``imdb.py`` evaluation (background column 0), for tie-free scores."""
    pred = np.argmax(scores[:, 1:], axis=1) + 1
    correct = pred == labels
    ins_ac = correct.mean()
    cls_ap, cls_ac = [], []
    for c in np.unique(labels):
        mask = labels == c
        cls_ac.append(correct[mask].mean())
        order = np.argsort(-scores[:, c])
        tp = mask[order].astype(float)
        ctp = np.cumsum(tp)
        rec = ctp / mask.sum()
        prec = ctp / np.arange(1, len(tp) + 1)
        cls_ap.append(original_voc_ap(rec, prec))
    true_score = scores[np.arange(len(labels)), labels]
    order = np.argsort(-true_score)
    ctp = np.cumsum(correct[order].astype(float))
    ins_ap = original_voc_ap(ctp / len(labels), ctp / np.arange(1, len(labels) + 1))
    return ins_ap, ins_ac, np.mean(cls_ap), np.mean(cls_ac)


@pytest.mark.parametrize("seed", range(5))
def test_equals_the_original_evaluation_without_ties(seed):
    rng = np.random.default_rng(seed)
    n, c = 60, 7
    logits = rng.normal(size=(n, c)) * 2
    scores = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    labels = rng.integers(1, c - 1, size=n)  # class c-1 has no instance
    got = evaluate_classification(torch.from_numpy(scores), torch.from_numpy(labels))
    np.testing.assert_allclose(list(got), original_metrics(scores, labels), rtol=1e-12)
    assert got.instance_ap <= got.instance_ac + 1e-12


def test_hand_computed_case():
    scores = torch.tensor([[0.1, 0.7, 0.2], [0.5, 0.2, 0.3], [0.0, 0.6, 0.4]])
    labels = torch.tensor([1, 2, 2])
    # predictions ignore background: [1, 2, 1]; the second region is right only because the
    # background column (0.5) is excluded from the argmax
    assert predict(scores).tolist() == [1, 2, 1]
    m = evaluate_classification(scores, labels)
    assert m.instance_ac == pytest.approx(2 / 3)
    assert m.class_ac == pytest.approx((1 + 0.5) / 2)
    # ranking by true-class score: 0.7 (right), 0.4 (wrong), 0.3 (right), recall over N = 3
    assert m.instance_ap == pytest.approx(1 / 3 * 1 + 1 / 3 * 2 / 3)
    assert m.class_ap == pytest.approx(1.0)


def test_ties_are_one_block_and_order_free():
    # two regions tie on the class-1 score; one is class 1, one is class 2
    scores = torch.tensor([[0.0, 0.5, 0.5], [0.0, 0.5, 0.5]])
    labels = torch.tensor([1, 2])
    ap = class_average_precision(scores, labels)
    # each class: one positive among a tied block of two -> precision 1/2 at recall 1
    assert ap == pytest.approx(0.5)
    assert class_average_precision(scores.flip(0), labels.flip(0)) == ap
    # argmax ties pick the first non-background column (class 1)
    assert instance_accuracy(scores, labels) == pytest.approx(0.5)


def test_one_region():
    m = evaluate_classification(torch.tensor([[0.2, 0.3, 0.5]]), torch.tensor([2]))
    assert m == ClassificationMetrics(1.0, 1.0, 1.0, 1.0)
    wrong = evaluate_classification(torch.tensor([[0.2, 0.5, 0.3]]), torch.tensor([2]))
    assert wrong.instance_ac == 0.0 and wrong.instance_ap == 0.0 and wrong.class_ac == 0.0
    assert wrong.class_ap == 1.0  # the only region is ranked first for its class


def test_class_without_instances_is_left_out_of_the_means():
    scores = torch.tensor([[0.0, 0.9, 0.05, 0.05], [0.0, 0.1, 0.8, 0.1]])
    labels = torch.tensor([1, 2])  # class 3 absent
    assert class_accuracy(scores, labels) == 1.0
    assert class_average_precision(scores, labels) == 1.0


def test_no_background_column():
    scores = torch.tensor([[0.9, 0.1], [0.2, 0.8]])
    labels = torch.tensor([0, 1])
    assert instance_accuracy(scores, labels, background=None) == 1.0
    assert instance_average_precision(scores, labels, background=None) == 1.0


def test_voc_ap_matches_original():
    rng = np.random.default_rng(0)
    rec = np.sort(rng.random(20))
    prec = rng.random(20)
    assert voc_ap(torch.from_numpy(rec), torch.from_numpy(prec)) == pytest.approx(
        original_voc_ap(rec, prec)
    )


def test_numpy_input_and_percent():
    m = evaluate_classification(np.array([[0.1, 0.9]]), np.array([1]))
    assert m.as_percent() == {
        "instance_ap": 100.0,
        "instance_ac": 100.0,
        "class_ap": 100.0,
        "class_ac": 100.0,
    }


@pytest.mark.parametrize(
    ("scores", "labels", "error", "match"),
    [
        (torch.zeros(3), torch.zeros(3, dtype=torch.long), ValueError, r"\[N, C\]"),
        (torch.zeros(3, 2), torch.ones(2, dtype=torch.long), ValueError, r"\[N\] = \[3\]"),
        (torch.zeros(0, 2), torch.zeros(0, dtype=torch.long), ValueError, "empty"),
        (torch.zeros(2, 2), torch.tensor([1, 0]), ValueError, "background class 0"),
        (torch.zeros(2, 2), torch.tensor([1, 2]), ValueError, r"\[0, 2\)"),
        (torch.zeros(2, 2), torch.tensor([1.0, 1.0]), TypeError, "integer"),
        (torch.tensor([[0.0, float("nan")]]), torch.tensor([1]), ValueError, "finite"),
        (torch.zeros(2, 2, dtype=torch.long), torch.tensor([1, 1]), TypeError, "floating"),
    ],
)
def test_errors(scores, labels, error, match):
    with pytest.raises(error, match=match):
        evaluate_classification(scores, labels)
