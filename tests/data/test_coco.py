import json

import numpy as np
import pytest
import torch
from PIL import Image
from pycocotools import mask as coco_mask

from iterative_reasoning.data.coco import COCODataset, coco_categories
from iterative_reasoning.data.synthetic import SyntheticScenes, class_names
from iterative_reasoning.data.synthetic_formats import write_coco
from iterative_reasoning.engine import TrainConfig, train

CATEGORIES = [
    {"id": 7, "name": "person"},
    {"id": 3, "name": "car"},
    {"id": 12, "name": "left hand"},
]


def _write(root, annotations=None, images=None):
    (root / "img").mkdir(parents=True, exist_ok=True)
    images = images or [
        {"id": 1, "file_name": "a.jpg", "height": 40, "width": 60},
        {"id": 2, "file_name": "b.jpg", "height": 40, "width": 60},
        {"id": 3, "file_name": "c.jpg", "height": 40, "width": 60},  # no annotation
    ]
    for image in images:
        pixels = np.full((image["height"], image["width"], 3), 90, np.uint8)
        Image.fromarray(pixels).save(root / "img" / image["file_name"])
    polygon = [[5.0, 5.0, 25.0, 5.0, 25.0, 30.0, 5.0, 30.0]]
    block = np.zeros((40, 60), np.uint8, order="F")
    block[10:30, 30:60] = 1
    encoded = coco_mask.encode(block)
    rle = {"size": encoded["size"], "counts": encoded["counts"].decode()}  # compressed RLE
    annotations = annotations or [
        {
            "id": 10,
            "image_id": 1,
            "category_id": 7,
            "bbox": [5, 5, 20, 25],
            "iscrowd": 0,
            "segmentation": polygon,
            "area": 500,
        },
        {
            "id": 11,
            "image_id": 1,
            "category_id": 3,
            "bbox": [30, 10, 40, 20],
            "iscrowd": 0,
            "segmentation": rle,
            "area": 600,
        },  # clipped at the right border
        {
            "id": 12,
            "image_id": 1,
            "category_id": 3,
            "bbox": [0, 0, 60, 40],
            "iscrowd": 1,
            "segmentation": rle,
            "area": 2400,
        },  # crowd: not a region
        {
            "id": 13,
            "image_id": 2,
            "category_id": 12,
            "bbox": [10, 10, 0, 5],
            "iscrowd": 0,
            "segmentation": polygon,
            "area": 0,
        },  # zero width: dropped, image 2 skipped
    ]
    path = root / "instances.json"
    path.write_text(
        json.dumps({"images": images, "annotations": annotations, "categories": CATEGORIES})
    )
    return path


def test_regions_labels_crowds_and_skips(tmp_path):
    path = _write(tmp_path)
    assert coco_categories(path) == ["car", "person", "left hand"]  # by category id
    with pytest.warns(UserWarning, match="skipped 2 of 3"):
        ds = COCODataset(tmp_path / "img", path, min_size=40, max_size=60)
    assert ds.classes == ["__background__", "car", "person", "left hand"]
    assert len(ds) == 1 and ds.dropped == 1 and ds.skipped == 2
    record = ds.records[0]
    assert record.labels.tolist() == [2, 1]
    np.testing.assert_array_equal(record.boxes, [[5, 5, 25, 30], [30, 10, 60, 30]])
    sample = ds[0]
    assert sample.image.shape == (3, 40, 60) and sample.image_id == "1"


def test_bad_input_names_the_file_or_annotation(tmp_path):
    with pytest.raises(FileNotFoundError, match="none.json: no such COCO annotation file"):
        COCODataset(tmp_path, tmp_path / "none.json")
    (tmp_path / "x.json").write_text(json.dumps({"images": []}))
    with pytest.raises(ValueError, match="not a COCO annotation file"):
        COCODataset(tmp_path, tmp_path / "x.json")
    (tmp_path / "y.json").write_text("{not json")
    with pytest.raises(ValueError, match="y.json: not JSON"):
        COCODataset(tmp_path, tmp_path / "y.json")
    bad = [{"id": 99, "image_id": 1, "category_id": 5, "bbox": [1, 1, 5, 5], "iscrowd": 0}]
    path = _write(tmp_path / "unknown", annotations=bad)
    with pytest.raises(ValueError, match="annotation 99 has category_id 5"):
        COCODataset(tmp_path / "unknown" / "img", path)
    path = _write(tmp_path / "ok")
    with pytest.raises(ValueError, match=r"categories \['person'\] are not among the classes"):
        COCODataset(tmp_path / "ok" / "img", path, classes=["__background__", "car", "left hand"])
    (tmp_path / "ok" / "img" / "a.jpg").unlink()
    with pytest.warns(UserWarning):
        ds = COCODataset(tmp_path / "ok" / "img", path)
    with pytest.raises(FileNotFoundError, match="a.jpg is missing"):
        ds[0]


def test_synthetic_benchmark_in_coco_format_trains_as_its_own_loader(tmp_path):
    """The benchmark written in COCO format reads back sample for sample as SyntheticScenes
    renders it, flips included, and trains to the same weights."""
    from iterative_reasoning.models import RegionModel
    from iterative_reasoning.recipes import synthetic

    root = write_coco(tmp_path / "coco", {"train": 4}, seed=0)
    size = {"min_size": 384, "max_size": 384, "hflip_prob": 0.5, "classes": class_names()}
    coco = COCODataset(root / "images", root / "annotations" / "instances_train.json", **size)
    direct = SyntheticScenes(4, seed=0, hflip_prob=0.5)
    config = TrainConfig(steps=3, batch_size=2, lr=0.02, checkpoint_every=10)
    weights = []
    for name, data in (("coco", coco), ("direct", direct)):
        torch.manual_seed(0)
        model = RegionModel(synthetic.convnet(len(class_names()), width=4))
        history = train(model, data, config, tmp_path / name, progress=False, tensorboard=False)
        weights.append((model.state_dict(), [h["loss"] for h in history]))
    (a, loss_a), (b, loss_b) = weights
    assert loss_a == loss_b
    for name, value in a.items():
        assert torch.equal(value, b[name]), name


def test_instance_masks_from_polygons_and_rle(tmp_path):
    path = _write(tmp_path)
    with pytest.warns(UserWarning):
        ds = COCODataset(tmp_path / "img", path, masks=True, min_size=40, max_size=60)
    masks = ds[0].masks
    assert masks.shape == (2, 7, 7) and masks.dtype == torch.float32
    assert masks[0].min() > 0.8  # the polygon fills its box (up to rasterised edges)
    torch.testing.assert_close(masks[1], torch.ones(7, 7))  # the RLE block is its clipped box
    with pytest.warns(UserWarning):
        flipped = COCODataset(tmp_path / "img", path, masks=True, hflip_prob=1.0)
    torch.testing.assert_close(flipped[0].masks, masks.flip(-1))
    with pytest.warns(UserWarning):
        assert COCODataset(tmp_path / "img", path)[0].masks is None  # boxes by default
    bare = [{"id": 5, "image_id": 1, "category_id": 7, "bbox": [1, 1, 9, 9], "iscrowd": 0}]
    path = _write(tmp_path / "bare", annotations=bare)
    with pytest.raises(ValueError, match=r"annotations \[5\] have no segmentation"):
        COCODataset(tmp_path / "bare" / "img", path, masks=True)


def test_a_head_writes_the_memory_through_coco_masks(tmp_path):
    from iterative_reasoning.graph import ClassRelations
    from iterative_reasoning.models import RegionModel, collate_regions
    from iterative_reasoning.recipes import synthetic

    root = write_coco(tmp_path / "coco", {"train": 2}, seed=0)
    size = {"min_size": 384, "max_size": 384, "classes": class_names()}
    file = root / "annotations" / "instances_train.json"
    data = COCODataset(root / "images", file, masks=True, **size)
    batch = collate_regions([data[0], data[1]])
    assert batch.masks.shape == (len(batch.labels), 7, 7)
    # the synthetic ovals are ellipses: their masks leave the corners of their boxes out
    oval = batch.labels == class_names().index("mouse")
    oval |= batch.labels == class_names().index("computer_mouse")
    assert batch.masks[oval][:, 0, 0].max() < 0.5 and batch.masks[oval][:, 3, 3].min() > 0.99
    relations = ClassRelations(14, {"similar_to": torch.tensor([[3, 6], [6, 3]])})
    torch.manual_seed(0)
    convnet, head = synthetic.convnet(14, width=4), synthetic.head("final", 14, relations, 4)
    through_masks = RegionModel(convnet, head, write_masks=True)
    through_boxes = RegionModel(convnet, head)
    with torch.no_grad():
        a, b = through_masks(batch)[1].logits, through_boxes(batch)[1].logits
    assert not torch.allclose(a, b)
    history = train(
        through_masks,
        data,
        TrainConfig(steps=2, batch_size=2, lr=0.01),
        tmp_path / "run",
        progress=False,
        tensorboard=False,
    )
    assert len(history) == 2
    with pytest.raises(ValueError, match="the batch has no masks"):
        through_masks(collate_regions([COCODataset(root / "images", file, **size)[0]]))


def test_detection_targets_in_torchvisions_format(tmp_path):
    from iterative_reasoning.data.coco import COCODetection

    path = _write(tmp_path)
    ds = COCODetection(tmp_path / "img", path, masks=True)
    assert len(ds) == 3 and ds.skipped == 0  # images without a target are negatives
    assert ds.category_id_of == {1: 3, 2: 7, 3: 12}  # labels back to the file's own ids
    sample = ds[0]
    assert sample.image.shape == (3, 40, 60) and sample.image_id == 1  # not resized
    target = sample.target
    assert target["labels"].tolist() == [2, 1]  # the crowd is not a target
    torch.testing.assert_close(target["boxes"], torch.tensor([[5.0, 5, 25, 30], [30, 10, 60, 30]]))
    assert target["masks"].shape == (2, 40, 60) and target["masks"].dtype == torch.uint8
    assert int(target["masks"][1].sum()) == 20 * 30  # the RLE block
    empty = ds[2].target
    assert empty["boxes"].shape == (0, 4) and empty["masks"].shape == (0, 40, 60)
    assert ds[1].target["labels"].numel() == 0 and ds.dropped == 1  # degenerate box dropped

    flipped = COCODetection(tmp_path / "img", path, masks=True, hflip_prob=1.0)[0].target
    torch.testing.assert_close(flipped["boxes"], torch.tensor([[35.0, 5, 55, 30], [0, 10, 30, 30]]))
    assert flipped["labels"].tolist() == [2, 1]
    assert torch.equal(flipped["masks"], target["masks"].flip(-1))

    with pytest.warns(UserWarning, match="skipped 2 of 3"):
        positives = COCODetection(tmp_path / "img", path, keep_empty=False)
    assert len(positives) == 1 and "masks" not in positives[0].target


def test_left_right_labels_swap_on_flips(tmp_path):
    from iterative_reasoning.data.coco import COCODetection

    categories = [{"id": 1, "name": "left hand"}, {"id": 2, "name": "right hand"}]
    images = [{"id": 5, "file_name": "a.jpg", "height": 40, "width": 60}]
    annotations = [{"id": 1, "image_id": 5, "category_id": 1, "bbox": [1, 1, 9, 9]}]
    (tmp_path / "img").mkdir()
    Image.fromarray(np.zeros((40, 60, 3), np.uint8)).save(tmp_path / "img" / "a.jpg")
    path = tmp_path / "instances.json"
    path.write_text(
        json.dumps({"images": images, "annotations": annotations, "categories": categories})
    )
    ds = COCODetection(tmp_path / "img", path, hflip_prob=1.0)
    assert ds[0].target["labels"].tolist() == [2]  # left hand -> right hand


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["annotations"][0].pop("bbox"), "annotation 10 needs a 'bbox'"),
        (lambda d: d["annotations"][0].update(bbox=[1, "x", 2, 3]), "annotation 10 needs a"),
        (lambda d: d["annotations"][0].update(bbox=[1, float("nan"), 2, 3]), "non-finite"),
        (lambda d: d["images"][0].pop("height"), "image 1 needs integer 'height'"),
        (lambda d: d["categories"].append({"id": 99, "name": "car"}), "names must be unique"),
        (lambda d: d["categories"].append({"id": 3, "name": "bus"}), "ids must be unique"),
        (lambda d: d["annotations"][0].pop("image_id"), "annotation 10 has no image_id"),
        # once taken: the strings went on to fail inside pycocotools
        (lambda d: d["annotations"][0].update(bbox=["5", "5", "20", "25"]), "four numbers"),
        (lambda d: d["annotations"][0].update(bbox=[True, 5, 20, 25]), "four numbers"),
        # once taken: the second image got the first one's boxes
        (lambda d: d["images"][1].update(id=1), r"image ids must be unique, but \['1'\]"),
        (lambda d: d["annotations"][1].update(id=10), r"annotation ids must be unique"),
        (lambda d: d["images"][0].pop("id"), "every image needs an 'id'"),
        (
            lambda d: d["categories"].append({"id": 99, "name": "__background__"}),
            "category 99 is named '__background__', the name this package keeps",
        ),
    ],
)
def test_malformed_files_name_the_annotation_or_image(tmp_path, change, message):
    from iterative_reasoning.data.coco import COCODetection

    path = _write(tmp_path)
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match=message):
        COCODetection(tmp_path / "img", path)


def test_malformed_masks_name_their_annotation(tmp_path):
    from iterative_reasoning.data.coco import COCODetection

    path = _write(tmp_path)
    data = json.loads(path.read_text())
    data["annotations"][0]["segmentation"] = [[5.0, 5.0, 25.0]]  # not three x, y pairs
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="annotation 10 has a malformed polygon"):
        COCODetection(tmp_path / "img", path, masks=True)
    data["annotations"][0]["segmentation"] = {"size": [40, 60], "counts": "###"}  # damaged RLE
    path.write_text(json.dumps(data))
    ds = COCODetection(tmp_path / "img", path, masks=True)
    with pytest.raises(ValueError, match="annotation 10's segmentation cannot be decoded"):
        ds[0]
    data["annotations"][0]["segmentation"] = "a string"
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="annotation 10 has a segmentation that is neither"):
        COCODetection(tmp_path / "img", path, masks=True)


@pytest.mark.parametrize("probability", [float("nan"), 2.0, -0.5])
def test_a_flip_probability_outside_zero_to_one_is_refused(tmp_path, probability):
    with pytest.raises(ValueError, match="hflip_prob must be a probability in"):
        COCODataset(tmp_path, tmp_path / "instances.json", hflip_prob=probability)


def test_an_annotation_path_that_is_a_directory_is_named_as_such(tmp_path):
    _write(tmp_path)
    with pytest.raises(ValueError, match="is a directory; give the file itself"):
        COCODataset(tmp_path / "img", tmp_path)


def test_classes_given_as_one_string_are_refused(tmp_path):
    path = _write(tmp_path)
    with pytest.raises(TypeError, match="classes must be a sequence of class names"):
        COCODataset(tmp_path / "img", path, classes="__background__")
    with pytest.raises(ValueError, match="classes must start with '__background__'"):
        COCODataset(tmp_path / "img", path, classes=["person", "car", "left hand"])


def test_every_real_photo_and_annotation_of_the_coco_samples_is_read(coco_mini):
    """80 real COCO photos (grayscale and odd sizes among them), polygons, RLE and crowds."""
    from collections import Counter

    from iterative_reasoning.data.coco import COCODetection

    images, annotations = coco_mini
    data = json.loads(annotations.read_text())
    kept = [a for a in data["annotations"] if not a["iscrowd"]]
    detection = COCODetection(images, annotations, masks=True)
    regions = COCODataset(images, annotations, masks=True)
    assert len(detection) == len(regions) == len(data["images"]) == 80
    sizes = {i["id"]: (i["height"], i["width"]) for i in data["images"]}
    found: Counter = Counter()
    for i in range(len(detection)):
        sample = detection[i]
        assert sample.image.shape == (3, *sizes[sample.image_id])  # grey photos come as RGB
        assert 0 <= sample.image.min() and sample.image.max() <= 1
        target = sample.target
        assert target["masks"].shape == (len(target["boxes"]), *sizes[sample.image_id])
        assert (target["boxes"][:, 2:] > target["boxes"][:, :2]).all()
        found.update(detection.classes[k] for k in target["labels"].tolist())
        assert len(regions[i].labels) == len(target["labels"])
    names = {c["id"]: c["name"] for c in data["categories"]}
    assert found == Counter(names[a["category_id"]] for a in kept)  # 731 boxes, crowds left out
    assert sum(found.values()) == len(kept) == 731
