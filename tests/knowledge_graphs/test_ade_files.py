import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from ade_fixtures import write_2016, write_2021

from knowledge_graphs.ade_files import (
    image_regions,
    image_release,
    inclusive_boxes_of,
    split_images,
)

REAL = os.environ.get("ITER_REASONING_REAL_SAMPLES")
REAL_2021 = Path(REAL or "") / "ade20k" / "CSAILVision_ADE20K" / "ADE20K_2021_17_01"


def test_inclusive_boxes_equal_a_loop_over_the_pixels():
    ranks = np.random.default_rng(0).integers(0, 5, (9, 13))
    ranks[ranks == 3] = 0  # rank 3 has no pixel
    boxes = inclusive_boxes_of(ranks, 5)
    for k in range(1, 6):
        ys, xs = np.nonzero(ranks == k)
        if ys.size == 0:
            assert boxes[k - 1].tolist() == [-1, -1, -1, -1]
        else:
            assert boxes[k - 1].tolist() == [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]


def _validation_copy(root: Path, name: str) -> Path:
    """A second image, in the release's validation folder."""
    (image,) = root.rglob("ADE_train_*.jpg")
    target = Path(str(image.parent).replace("training", "validation"))
    target.mkdir(parents=True)
    for path in image.parent.iterdir():
        if path.name.startswith(image.stem):
            renamed = target / path.name.replace(image.stem, name)
            if path.is_dir():
                shutil.copytree(path, renamed)
            else:
                renamed.write_bytes(path.read_bytes())
    if (target / f"{name}.json").exists():  # the masks are named inside the annotation
        text = (target / f"{name}.json").read_text().replace(image.stem, name)
        (target / f"{name}.json").write_text(text)
    return target / f"{name}.jpg"


def test_2021_splits_are_the_release_s_folders(tmp_path):
    """The 2021 release ships no split files: ``train`` / ``training``, ``val`` /
    ``validation`` and ``all`` are its folders, from the release folder, ``images`` or
    ``images/ADE``."""
    train = write_2021(tmp_path)
    val = _validation_copy(tmp_path, "ADE_val_00000003")
    assert not list(tmp_path.glob("*.txt"))
    for root in (tmp_path, tmp_path / "images", tmp_path / "images" / "ADE"):
        assert split_images(root, "train") == [train]
        assert split_images(root, "training") == [train]
        assert split_images(root, "val") == split_images(root, "validation") == [val]
        assert split_images(root, "all") == [train, val]
    assert image_release(train) == "2021"


def test_2016_keeps_its_split_files_and_takes_its_folders_by_name(tmp_path):
    image = write_2016(tmp_path)
    assert split_images(tmp_path, "train") == [image]  # the iter-reason file
    (tmp_path / "train.txt").unlink()
    # the paper's train split is the file, not the release's folder: no silent substitute
    with pytest.raises(FileNotFoundError, match=r"iter-reason files .*split 'training'"):
        split_images(tmp_path, "train")
    assert split_images(tmp_path, "training") == [image]
    assert split_images(tmp_path, "all") == [image]
    assert image_release(image) == "2016"


def test_a_split_file_of_one_s_own(tmp_path):
    image = write_2016(tmp_path)
    listed = tmp_path / "mine.txt"
    listed.write_text("images/training/s/street/ADE_train_00000001.jpg\n\n")
    assert split_images(tmp_path, str(listed)) == [image]
    listed.write_text("images/training/s/street/nothing.jpg\n")
    with pytest.raises(FileNotFoundError, match=r"mine.txt, line 1: .*nothing.jpg.* no annotation"):
        split_images(tmp_path, str(listed))


def test_bad_splits_and_roots_say_what_is_expected(tmp_path):
    write_2021(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"split 'mval': no split file .*training"):
        split_images(tmp_path, "mval")
    with pytest.raises(FileNotFoundError, match=r"no ADE20K folder 'validation'"):
        split_images(tmp_path, "val")
    empty = tmp_path / "empty" / "images" / "ADE" / "training"
    empty.mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match=r"no ADE20K annotations .* under .*training"):
        split_images(tmp_path / "empty", "training")
    with pytest.raises(FileNotFoundError, match="neither an _atr.txt"):
        image_release(tmp_path / "missing.jpg")


def test_both_releases_give_the_same_regions(tmp_path):
    index = {"car": 0, "wheel": 1, "sky": 2, "left_arm": 3}
    old = image_regions(write_2016(tmp_path / "a"), index)
    new = image_regions(write_2021(tmp_path / "b"), index)
    assert old is not None and new is not None
    assert old[2] == new[2] == (20, 30)
    assert sorted(zip(old[0].tolist(), old[1].tolist(), strict=True)) == sorted(
        zip(new[0].tolist(), new[1].tolist(), strict=True)
    )
    assert sorted(old[0].tolist()) == [0, 1, 2, 3]
    assert image_regions(write_2016(tmp_path / "c"), {"nothing": 0}) is None


def test_a_malformed_2021_annotation_is_named(tmp_path):
    image = write_2021(tmp_path)
    image.with_suffix(".json").write_text('{"annotation": {"imsize": [2, 3], "object": 5}}')
    with pytest.raises(ValueError, match=r"ADE_train_00000002.json: not an ADE20K 2021"):
        image_regions(image, {"car": 0})


@pytest.mark.skipif(not REAL, reason="ITER_REASONING_REAL_SAMPLES is not set")
def test_the_real_2021_release_without_split_files():
    assert not list(REAL_2021.glob("*.txt"))
    images = split_images(REAL_2021, "all")
    assert [p.stem for p in images] == [
        "ADE_train_00016869",
        "ADE_train_00016900",
        "ADE_train_00016964",
    ]
    found = image_regions(images[2], {"road": 0, "van": 1, "building": 2})
    assert found is not None and found[2] == (1467, 2200)
    regions = set(zip(found[0].tolist(), map(tuple, found[1].tolist()), strict=True))
    assert (1, (1637.0, 490.0, 2200.0, 1358.0)) in regions  # the van, as the 2016 masks give it
