"""Small torchvision detectors (random weights) and the data the detector tests share."""

from __future__ import annotations

import copy

import torch
from helpers import two_images
from torchvision.models.detection import (
    fasterrcnn_mobilenet_v3_large_fpn,
    fasterrcnn_resnet50_fpn,
    fasterrcnn_resnet50_fpn_v2,
    maskrcnn_resnet50_fpn,
)

from iterative_reasoning.detectors import attach_reasoning_head, reasoning_head_for
from iterative_reasoning.graph import ClassRelations
from iterative_reasoning.models.small_detectors import small_faster_rcnn

C = 4
RELATIONS = ClassRelations(C, {"similar_to": torch.tensor([[1, 2], [2, 1]])})
SMALL = {"memory_channels": 8, "fc_channels": 16, "hidden_channels": 16}
SIZE = {"min_size": 160, "max_size": 200}


def own_backbone(**kwargs):
    """A FasterRCNN on a backbone of one's own: one stride-16 map, no FPN."""
    return small_faster_rcnn(C, width=8, representation_size=64, **kwargs)


BUILDERS = {
    "fasterrcnn_resnet50_fpn": fasterrcnn_resnet50_fpn,
    "fasterrcnn_resnet50_fpn_v2": fasterrcnn_resnet50_fpn_v2,
    "fasterrcnn_mobilenet_v3_large_fpn": fasterrcnn_mobilenet_v3_large_fpn,
    "maskrcnn_resnet50_fpn": maskrcnn_resnet50_fpn,
}


def build(name):
    torch.manual_seed(0)
    if name == "own_backbone":
        return own_backbone(**SIZE, box_score_thresh=0.0)
    return BUILDERS[name](
        weights=None, weights_backbone=None, num_classes=C, box_score_thresh=0.0, **SIZE
    )


def data(masks=False):
    images, targets = two_images()
    if masks:
        for image, target in zip(images, targets, strict=True):
            mask = torch.zeros(len(target["boxes"]), *image.shape[1:], dtype=torch.uint8)
            for m, (x1, y1, x2, y2) in zip(mask, target["boxes"].int().tolist(), strict=True):
                m[y1:y2, x1:x2] = 1
            target["masks"] = mask
    return images, targets


def attached(name, **options):
    """The plain detector, a copy of it with a final head attached, and the head."""
    plain = build(name)
    detector = copy.deepcopy(plain)
    head = reasoning_head_for(detector, "final", class_relations=RELATIONS, **SMALL)
    return plain, attach_reasoning_head(detector, head, **options), head


def detector_logits_as_prediction(head):
    """The plumbing: the head's fused prediction replaced by the detector's own logits."""
    return head.register_forward_hook(lambda module, args, out: out._replace(logits=args[4]))
