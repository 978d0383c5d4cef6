import torch

from iterative_reasoning.data.transforms import flip_permutation, hflip, resize


def test_flip_permutation_swaps_left_and_right_names_only_in_pairs():
    names = ["__background__", "left arm", "right_arm", "left_leg", "car", "rightmost"]
    # "left_leg" has no "right_leg": it stays; spaces count as underscores
    assert flip_permutation(names).tolist() == [0, 2, 1, 3, 4, 5]
    perm = flip_permutation(names)
    assert torch.equal(perm[perm], torch.arange(len(names)))  # an involution


def test_hflip_mirrors_the_image_and_the_boxes():
    image = torch.arange(15.0).reshape(1, 3, 5).expand(3, 3, 5)
    boxes = torch.tensor([[0.0, 1.0, 2.0, 3.0], [1.0, 0.0, 5.0, 2.0]])
    labels = torch.tensor([1, 2])
    flipped, flipped_boxes, flipped_labels = hflip(image, boxes, labels, torch.tensor([0, 2, 1]))
    assert torch.equal(flipped, image.flip(-1))
    assert flipped_boxes.tolist() == [[3.0, 1.0, 5.0, 3.0], [0.0, 0.0, 4.0, 2.0]]
    assert flipped_labels.tolist() == [2, 1]
    twice = hflip(flipped, flipped_boxes, flipped_labels, torch.tensor([0, 2, 1]))
    assert torch.equal(twice[1], boxes) and torch.equal(twice[2], labels)


def test_resize_to_the_short_side_unless_the_long_side_would_exceed():
    image = torch.rand(3, 300, 400)
    boxes = torch.tensor([[10.0, 20.0, 110.0, 220.0]])
    out, out_boxes, scale = resize(image, boxes)
    assert out.shape == (3, 600, 800) and scale == 2.0
    assert out_boxes.tolist() == [[20.0, 40.0, 220.0, 440.0]]
    wide = torch.rand(3, 100, 400)
    out, _, scale = resize(wide, boxes)  # 600 x 2400 would exceed 1000: the long side is 1000
    assert out.shape == (3, 250, 1000) and scale == 2.5
    same, same_boxes, one = resize(image, boxes, min_size=300, max_size=400)
    assert torch.allclose(same, image) and torch.equal(same_boxes, boxes) and one == 1.0
