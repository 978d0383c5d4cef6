import numpy as np
import pytest
import torch

from iterative_reasoning.data.synthetic import (
    AMBIGUOUS_PAIRS,
    CLASSES,
    IMAGE_SIZE,
    MIN_CUE_DISTANCE,
    SyntheticScenes,
    class_names,
    render,
)


def test_deterministic_from_the_seed():
    a, instances_a = render(3, 5)
    b, instances_b = render(3, 5)
    c, _ = render(4, 5)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert [i.name for i in instances_a] == [i.name for i in instances_b]
    ds = SyntheticScenes(4, seed=3)
    torch.testing.assert_close(ds[2].boxes, SyntheticScenes(4, seed=3)[2].boxes)


def test_every_image_holds_each_pair_with_its_cue():
    office = 0
    for index in range(40):
        names = [i.name for i in render(0, index)[1]]
        assert names.count("ceiling") == names.count("floor") == names.count("table") == 1
        assert sorted(n for n in names if n in ("car", "building", "car_door", "door")) in (
            ["car", "car_door"],
            ["building", "door"],
        )
        if "computer_mouse" in names:
            office += 1
            assert {"keyboard", "monitor"} <= set(names)
            assert not {"cat", "cheese", "mouse"} & set(names)
        else:
            assert {"cat", "cheese", "mouse"} <= set(names) and "keyboard" not in names
    assert 10 < office < 30


def _box(mask):
    ys, xs = np.nonzero(mask)
    return ys.min(), xs.min(), ys.max(), xs.max()


def test_cues_lie_beyond_a_convnet_crop_s_receptive_field():
    """Around an ambiguous object, out to MIN_CUE_DISTANCE, there is background, or for a door
    only the body texture its car or building shares; never another object nor the border."""
    d = MIN_CUE_DISTANCE
    for index in range(30):
        image, instances = render(5, index)
        for k, inst in enumerate(instances):
            if inst.name not in {n for pair in AMBIGUOUS_PAIRS for n in pair[:2]}:
                continue
            y1, x1, y2, x2 = _box(inst.mask)
            assert min(y1, x1) >= d and max(y2, x2) < IMAGE_SIZE - d
            window = np.zeros_like(inst.mask)
            window[y1 - d : y2 + d + 1, x1 - d : x2 + d + 1] = True
            others = [o for j, o in enumerate(instances) if j != k and (o.mask & window).any()]
            if inst.name in ("door", "car_door"):
                (whole,) = others  # only the car or building it is a part of
                ring = window & ~inst.mask
                assert whole.name in ("car", "building") and whole.mask[ring].all()
                # the shared body (green above ~85 but for noise), no wheel (~20) nor roof (~40)
                assert (image[ring][:, 1] < 60).sum() <= 3
            else:
                assert others == [], (index, inst.name, [o.name for o in others])


def test_pairs_share_an_appearance_and_classes_are_wordnet_nouns(wordnet):
    for a, b, _ in AMBIGUOUS_PAIRS:
        assert CLASSES[a][1] == CLASSES[b][1]
    for name, (synset, _) in CLASSES.items():
        assert wordnet.has_synset(synset), name
        assert (
            name.split("_")[-1] in " ".join(wordnet.lemma_names(synset)) or name == "computer_mouse"
        )


def test_samples_and_records():
    ds = SyntheticScenes(3, seed=1)
    sample = ds[0]
    assert sample.image.shape == (3, IMAGE_SIZE, IMAGE_SIZE) and sample.image.max() <= 1
    assert sample.boxes.shape == (len(sample.labels), 4)
    assert (sample.labels > 0).all() and ds.classes[0] == "__background__"
    assert ds.classes == class_names() and len(ds.classes) == 14
    boxes = sample.boxes
    assert (boxes[:, 2] - boxes[:, 0] >= 16).all()  # every region covers a memory cell
    with pytest.raises(IndexError):
        ds[3]
    with pytest.raises(ValueError, match="num_images must be positive"):
        SyntheticScenes(0)
