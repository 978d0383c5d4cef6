import inspect
import warnings

import pytest
import torch

from iterative_reasoning._validation import (
    ValueChecks,
    check_batch,
    check_boxes,
    check_finite,
    check_image_sizes,
    check_not_normalised,
    check_positive,
    check_probabilities,
    check_probability,
    check_tensor,
    check_weight,
    warn_boxes_outside,
)


class CountingTensor(torch.Tensor):
    """A tensor that counts its host reads (``tolist``, ``bool``, ``item``)."""

    reads = 0

    def tolist(self):
        CountingTensor.reads += 1
        return super().tolist()

    def __bool__(self):
        CountingTensor.reads += 1
        return super().__bool__()

    def item(self):
        CountingTensor.reads += 1
        return super().item()


def test_value_checks_read_once_and_report_in_order():
    checks = ValueChecks()
    flags = [torch.tensor(f).as_subclass(CountingTensor) for f in (False, True, True)]
    reported = []
    for i, flag in enumerate(flags):
        checks.add(flag, lambda i=i: reported.append(i))
    CountingTensor.reads = 0
    checks.run()
    assert reported == [1, 2]  # only the failures, in the order added
    assert CountingTensor.reads <= 1  # the stacked flags, read together
    checks.run()  # the checks are consumed
    assert reported == [1, 2]


def test_the_first_failure_raises_and_later_ones_are_not_reported():
    checks = ValueChecks()
    x = torch.tensor([1.0, float("inf")])
    check_finite("x", x, checks)
    check_batch(torch.tensor([1, 0]), 2, checks=checks)
    with pytest.raises(ValueError, match=r"x must be finite, got 1 non-finite value\(s\)"):
        checks.run()


def test_without_checks_each_check_reports_at_once():
    with pytest.raises(ValueError, match="batch must be sorted"):
        check_batch(torch.tensor([1, 0]), 2)
    check_finite("x", torch.tensor([1, 2]))  # integers are always finite
    check_finite("x", torch.zeros(0))


def test_finite_screen_counts_values_whose_sum_overflows_but_are_finite():
    big = torch.full((4,), 3e38)  # finite, but the float32 sum overflows
    check_finite("big", big)
    with pytest.raises(ValueError, match="got 2 non-finite"):
        check_finite("x", torch.tensor([float("nan"), 1.0, float("-inf")]))


def test_tensor_and_boxes():
    with pytest.raises(TypeError, match="boxes must be a torch.Tensor, got list"):
        check_tensor("boxes", [[0, 0, 1, 1]])
    with pytest.raises(ValueError, match=r"boxes must have shape \[R, 4\]"):
        check_boxes("boxes", torch.zeros(3))
    with pytest.raises(TypeError, match="floating-point"):
        check_boxes("boxes", torch.zeros(1, 4, dtype=torch.long))
    with pytest.raises(
        ValueError, match=r"box 1 = \[5.0, 5.0, 2.0, 9.0\] \(were they given as xywh"
    ):
        check_boxes("boxes", torch.tensor([[0.0, 0, 1, 1], [5, 5, 2, 9]]))
    assert check_boxes("boxes", torch.zeros(0, 4)).shape == (0, 4)


@pytest.mark.parametrize(
    ("batch", "images", "error", "match"),
    [
        (torch.tensor([0, 0]), None, ValueError, r"batch must have shape \[R\] = \[3\]"),
        (torch.tensor([0.0, 0.0, 1.0]), None, TypeError, "torch.long"),
        (torch.tensor([-1, 0, 0]), None, ValueError, "non-negative, got minimum -1"),
        (torch.tensor([0, 2, 1]), None, ValueError, "must be sorted"),
        (torch.tensor([0, 1, 2]), 2, ValueError, "refers to image 2 but only 2 image"),
    ],
)
def test_batch(batch, images, error, match):
    with pytest.raises(error, match=match):
        check_batch(batch, 3, images)


def test_image_sizes():
    assert check_image_sizes([(10, 20)]).dtype == torch.float
    with pytest.raises(ValueError, match=r"image_sizes must have shape \[B, 2\]"):
        check_image_sizes(torch.ones(2))
    with pytest.raises(ValueError, match="image_sizes must be finite"):
        check_image_sizes(torch.tensor([[float("inf"), 2.0]]))
    with pytest.raises(ValueError, match="image_sizes must be positive"):
        check_image_sizes(torch.tensor([[0, 2]]))


def test_positive():
    assert check_positive("delta", 50) == 50.0
    with pytest.raises(TypeError, match="delta must be a number, got bool"):
        check_positive("delta", True)
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="delta must be finite and positive"):
            check_positive("delta", bad)


def test_normalised_boxes_and_boxes_outside():
    sizes = torch.tensor([[100.0, 200.0]])
    batch = torch.tensor([0])
    with pytest.raises(ValueError, match="look normalised"):
        check_not_normalised(torch.tensor([[0.1, 0.1, 0.5, 0.6]]), batch, sizes)
    check_not_normalised(torch.tensor([[0.1, 0.1, 0.5, 0.6]]), batch, torch.tensor([[20, 20]]))
    with pytest.warns(UserWarning, match=r"1 box\(es\) lie outside their image, e.g. box 0"):
        warn_boxes_outside(torch.tensor([[0.0, 0.0, 400.0, 50.0]]), batch, sizes)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warn_boxes_outside(torch.tensor([[0.0, 0.0, 200.0, 100.0]]), batch, sizes)


def test_warnings_point_at_the_caller_s_line():
    boxes, batch, sizes = (
        torch.tensor([[0.0, 0, 400, 50]]),
        torch.tensor([0]),
        torch.tensor([[100, 200]]),
    )
    lines = []

    def public_entry_point(checks):
        lines.append(inspect.currentframe().f_lineno + 1)
        warn_boxes_outside(boxes, batch, sizes, stacklevel=2, checks=checks)
        if checks is not None:
            lines[-1] = inspect.currentframe().f_lineno + 1
            checks.run()

    for checks in (None, ValueChecks()):
        with pytest.warns(UserWarning) as record:
            public_entry_point(checks)
        assert (record[0].filename, record[0].lineno) == (__file__, lines[-1])


def test_probabilities():
    with pytest.raises(ValueError, match=r"p must have shape \[R, C\] = \[2, 3\]"):
        check_probabilities("p", torch.ones(3, 3), 2, 3)
    with pytest.raises(ValueError, match="p has 4 classes but the class graph has 3"):
        check_probabilities("p", torch.ones(2, 4), 2, 3)
    with pytest.raises(TypeError, match="floating-point"):
        check_probabilities("p", torch.ones(2, 3, dtype=torch.long), 2, 3)
    with pytest.raises(ValueError, match="non-negative probabilities .* got minimum -0.5"):
        check_probabilities("p", torch.tensor([[1.5, -0.5, 0.0]]), 1, 3)


def test_a_probability_and_a_weight():
    assert check_probability("p", 0) == 0.0 and check_probability("p", 1) == 1.0
    for bad in (float("nan"), -0.1, 1.5):
        with pytest.raises(ValueError, match=r"p must be a probability in \[0, 1\]"):
            check_probability("p", bad)
    with pytest.raises(TypeError, match="p must be a number"):
        check_probability("p", True)
    assert check_weight("w", 0) == 0.0 and check_weight("w", 2.5) == 2.5
    for bad in (float("nan"), float("inf"), -1.0):
        with pytest.raises(ValueError, match="w must be finite and non-negative"):
            check_weight("w", bad)
    with pytest.raises(TypeError, match="w must be a number"):
        check_weight("w", "1")
