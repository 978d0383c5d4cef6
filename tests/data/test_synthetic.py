import numpy as np
import pytest
import torch

from iterative_reasoning.data.ade20k import ADE20K
from iterative_reasoning.data.synthetic import (
    AMBIGUOUS_PAIRS,
    CLASSES,
    SyntheticScenes,
    class_names,
    render,
    write_ade2016,
)


def test_deterministic_from_the_seed():
    a, instances_a = render(3, 5)
    b, instances_b = render(3, 5)
    c, _ = render(4, 5)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert [i.name for i in instances_a] == [i.name for i in instances_b]
    ds = SyntheticScenes(4, seed=3)
    torch.testing.assert_close(ds[2].boxes, SyntheticScenes(4, seed=3)[2].boxes)


def test_scenes_hold_every_ambiguous_class_in_context():
    seen = {name: 0 for pair in AMBIGUOUS_PAIRS for name in pair[:2]}
    together = {"computer_mouse": set(), "mouse": set()}
    for index in range(40):
        names = [i.name for i in render(0, index)[1]]
        for name in seen:
            seen[name] += name in names
        for name in together:
            if name in names:
                together[name].update(names)
    assert all(n > 20 for n in seen.values())  # each in most images (4 of 5 scene kinds)
    # the two mice never share a scene's companions: keyboard/monitor vs cat/cheese
    assert {"keyboard", "monitor"} <= together["computer_mouse"]
    assert {"cat", "cheese"} <= together["mouse"]


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
    assert sample.image.shape == (3, 224, 224) and sample.image.max() <= 1
    assert sample.boxes.shape == (len(sample.labels), 4)
    assert (sample.labels > 0).all() and ds.classes[0] == "__background__"
    assert ds.classes == class_names() and len(ds.classes) == 15
    boxes = sample.boxes
    assert (boxes[:, 2] - boxes[:, 0] >= 16).all()  # every region covers a memory cell
    with pytest.raises(IndexError):
        ds[3]
    with pytest.raises(ValueError, match="num_images must be positive"):
        SyntheticScenes(0)


def test_written_in_ade_format_it_loads_through_the_ade_loader(tmp_path):
    root = write_ade2016(tmp_path / "syn", {"train": 3, "mtest": 2}, seed=7)
    assert (root / "objectnames.txt").read_text().startswith("- \nbuilding \ncar \ncar door \n")
    loaded = ADE20K(root, "train", classes=class_names(), cache_dir=tmp_path / "cache")
    direct = SyntheticScenes(3, seed=7)
    assert len(loaded) == 3
    for index in range(3):
        got, want = loaded.records[index], direct.record(index)
        order_got = sorted(zip(got.labels.tolist(), got.boxes.tolist(), strict=True))
        order_want = sorted(zip(want.labels.tolist(), want.boxes.tolist(), strict=True))
        assert order_got == order_want  # the same regions, parts (doors) included
    test = ADE20K(root, "mtest", classes=class_names(), cache_dir=tmp_path / "cache")
    assert len(test) == 2 and test.records[0].image_id == "ADE_val_00000001"
    image = test[0].image
    assert image.shape[1:] == (600, 600)  # the paper's resize applies
