import torch
from helpers import random_probs

from iterative_reasoning.graph import (
    assignment_blocks,
    assignment_edges,
    assignment_weights,
    dense_assignment,
    region_images,
)


def test_dense_and_edges_agree_and_normalise():
    batch = torch.tensor([0, 0, 0, 2, 2])  # image 1 has no region
    probs = random_probs(5, 4, seed=3)
    probs[1, 2] = 0.0
    dense = dense_assignment(probs, batch, num_images=3)
    (fwd_index, fwd_w), (bwd_index, bwd_w) = assignment_edges(probs, batch)
    assert dense.to_class.shape == (3, 4, 3) and dense.mask.tolist() == [
        [True, True, True],
        [False, False, False],
        [True, True, False],
    ]
    # every region with every class node of its image, region by region; probability 0 ->
    # weight 0
    assert fwd_index.shape == (2, 5 * 4) and bwd_index.shape == (2, 5 * 4)
    assert fwd_index[0].tolist() == [r for r in range(5) for _ in range(4)]
    assert torch.equal(bwd_index, fwd_index.flip(0))
    pair = (fwd_index[0] == 1) & (fwd_index[1] == 2)
    assert fwd_w[pair].tolist() == [0.0] and bwd_w[pair].tolist() == [0.0]
    # to_class: per image and class, weights over regions sum to one (image 1 empty: all zero)
    sums = dense.to_class.sum(-1)
    torch.testing.assert_close(sums[[0, 2]], torch.ones(2, 4, dtype=probs.dtype))
    assert float(sums[1].abs().max()) == 0.0
    # the edge lists hold the same numbers
    for (r, node), w in zip(fwd_index.t().tolist(), fwd_w.tolist(), strict=True):
        b, c = divmod(node, 4)
        slot = r - {0: 0, 2: 3}[b]
        assert abs(dense.to_class[b, c, slot].item() - w) < 1e-12
    for (node, r), w in zip(bwd_index.t().tolist(), bwd_w.tolist(), strict=True):
        assert abs(dense.to_region[r, node % 4].item() - w) < 1e-12
    torch.testing.assert_close(dense.to_region.sum(-1), torch.ones(5, dtype=probs.dtype))


def test_unnormalised_scores_are_normalised_per_region():
    probs = torch.tensor([[2.0, 2.0], [0.0, 0.0]], dtype=torch.float64)
    dense = dense_assignment(probs, torch.tensor([0, 0]), 1)
    assert dense.to_region.tolist() == [[0.5, 0.5], [0.0, 0.0]]


def test_empty():
    probs = torch.zeros(0, 3)
    dense = dense_assignment(probs, torch.zeros(0, dtype=torch.long), 2)
    assert dense.to_class.shape == (2, 3, 0) and dense.to_region.shape == (0, 3)
    (fwd, _), (bwd, _) = assignment_edges(probs, torch.zeros(0, dtype=torch.long))
    assert fwd.shape == (2, 0) and bwd.shape == (2, 0)


def test_weights_are_the_dense_numbers_and_blocks_read_them_back_exactly():
    """The edge weights are dense_assignment's numbers bit for bit, and assignment_blocks
    gives dense_assignment back from the edges, in any order."""
    batch = torch.tensor([0, 0, 2, 2, 2, 3])
    probs = random_probs(6, 5, seed=4).float()
    dense = dense_assignment(probs, batch, num_images=4, max_regions=3)
    (fwd_index, fwd_w), (bwd_index, bwd_w) = assignment_edges(probs, batch, num_images=4)
    assert torch.equal(fwd_w, assignment_weights(probs, batch, 4)[0])
    order = torch.randperm(fwd_w.numel(), generator=torch.Generator().manual_seed(0))
    edges = {
        ("region", "assigned_to", "class"): fwd_index[:, order],
        ("class", "rev_assigned_to", "region"): bwd_index[:, order],
    }
    weights = {
        ("region", "assigned_to", "class"): fwd_w[order],
        ("class", "rev_assigned_to", "region"): bwd_w[order],
    }
    assert torch.equal(region_images(edges[("region", "assigned_to", "class")], 6, 5), batch)
    blocks = assignment_blocks(edges, weights, batch, 5, 4, 3)
    for name in ("to_class", "to_region", "mask"):
        assert torch.equal(getattr(blocks, name), getattr(dense, name)), name
