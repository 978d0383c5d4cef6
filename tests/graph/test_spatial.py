import math

import pytest
import torch
from helpers import naive_spatial, random_boxes

from iterative_reasoning.graph import same_image_pairs, spatial_edges
from iterative_reasoning.graph.spatial import relation_edges


def to_dense(index, weight, n):
    out = torch.zeros(n, n, dtype=torch.float64)
    out[index[1], index[0]] = weight.double()
    return out


@pytest.mark.parametrize("counts", [[5], [3, 0, 4], [1], [0], [2, 1]])
def test_matches_naive(counts):
    boxes, batch = random_boxes(counts, seed=len(counts))
    edges = spatial_edges(boxes, batch, overlaps=True)
    expected = naive_spatial(boxes, batch)
    assert set(edges) == set(expected)
    for name, (index, weight) in edges.items():
        torch.testing.assert_close(to_dense(index, weight, boxes.size(0)), expected[name])


def test_never_crosses_images_and_rows_sum_to_one():
    boxes, batch = random_boxes([4, 6, 3], seed=1)
    for index, weight in spatial_edges(boxes, batch, overlaps=True).values():
        assert bool((batch[index[0]] == batch[index[1]]).all())
        assert bool((index[0] != index[1]).all())
        rowsum = torch.zeros(boxes.size(0), dtype=weight.dtype).index_add_(0, index[1], weight)
        has_in = torch.zeros(boxes.size(0), dtype=torch.bool)
        has_in[index[1]] = True
        torch.testing.assert_close(
            rowsum[has_in], torch.ones(int(has_in.sum()), dtype=weight.dtype)
        )


def test_direction_and_kernel_of_two_boxes():
    boxes = torch.tensor([[0.0, 0.0, 10.0, 10.0], [30.0, 40.0, 40.0, 50.0]])
    edges = spatial_edges(boxes, torch.tensor([0, 0]), delta=50.0)
    assert edges["left_of"][0].tolist() == [[0], [1]]  # box 0 is left of box 1
    assert edges["right_of"][0].tolist() == [[1], [0]]
    assert edges["above"][0].tolist() == [[0], [1]]  # smaller y is above
    assert edges["below"][0].tolist() == [[1], [0]]
    # Unnormalised weight exp(-50 / 50); with a single neighbour the row normalises to 1.
    assert edges["left_of"][1].tolist() == [1.0]
    edges3 = spatial_edges(
        torch.cat([boxes, torch.tensor([[60.0, 0.0, 70.0, 10.0]])]), torch.tensor([0, 0, 0])
    )
    index, weight = edges3["left_of"]
    into_2 = weight[index[1] == 2]
    w0, w1 = math.exp(-60 / 50), math.exp(-50 / 50)  # distances 60 and 50 px
    torch.testing.assert_close(into_2, torch.tensor([w0, w1]) / (w0 + w1))


def test_same_image_pairs_counts():
    batch = torch.tensor([0, 0, 0, 1, 2, 2])
    src, dst = same_image_pairs(batch)
    assert src.numel() == 3 * 2 + 0 + 2 * 1
    assert bool((batch[src] == batch[dst]).all())
    assert set(zip(src.tolist(), dst.tolist(), strict=True)) == {
        (i, j) for i in range(6) for j in range(6) if i != j and batch[i] == batch[j]
    }


def test_relation_edges_refuses_an_unknown_relation():
    boxes, batch = random_boxes([3])
    source, target = same_image_pairs(batch)
    with pytest.raises(ValueError, match="relation must be a spatial relation, got inside"):
        relation_edges(boxes, source, target, "inside")
