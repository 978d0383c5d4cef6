"""Small detectors, with random weights, that train on a CPU in minutes: a torchvision Faster
R-CNN on a four-stage stride-16 trunk (:func:`small_faster_rcnn`), a real ``transformers``
RT-DETR (:func:`small_rt_detr`) and an ``ultralytics`` YOLOv8n (:func:`small_yolo`), the last
two wrapped in this package's adapters. Nothing is downloaded."""

from __future__ import annotations

from typing import Any

from torch import nn
from torchvision.models.detection import FasterRCNN

from iterative_reasoning._validation import check_count
from iterative_reasoning.detectors.detr_family import require_transformers
from iterative_reasoning.detectors.transformers import TransformersDetector
from iterative_reasoning.detectors.ultralytics import YOLODetector
from iterative_reasoning.detectors.yolo_network import import_ultralytics


def small_rt_detr(
    num_classes: int, size: int = 384, width: int = 32, num_queries: int = 100
) -> Any:
    """A real ``RTDetrForObjectDetection`` small enough to train from scratch on a CPU (random
    weights, nothing downloaded): a four-stage basic-block ResNet of ``width`` to ``8 width``
    channels, the hybrid encoder and a two-layer decoder of ``2 width`` channels, ``num_queries``
    queries, 20 denoising queries; its image processor resizes to ``size x size`` and keeps
    ``[0, 1]`` pixels as they are.

    Args:
        num_classes: ``K``, the object classes (no background).
        size: the input size (a multiple of 32).
        width: the backbone's first width.
        num_queries: the decoder's queries.
    """
    check_count("num_classes", num_classes, 1, " (K, the object classes; no background)")
    transformers = require_transformers()
    if size % 32:
        raise ValueError(f"size must be a multiple of 32, got {size}")
    widths = [width, 2 * width, 4 * width, 8 * width]
    backbone = transformers.RTDetrResNetConfig(
        depths=[1, 1, 1, 1],
        hidden_sizes=widths,
        embedding_size=width,
        layer_type="basic",
        downsample_in_first_stage=False,
        out_features=["stage2", "stage3", "stage4"],
    )
    hidden = 2 * width
    config = transformers.RTDetrConfig(
        backbone_config=backbone,
        encoder_in_channels=widths[1:],
        encoder_hidden_dim=hidden,
        encoder_ffn_dim=2 * hidden,
        encoder_attention_heads=4,
        d_model=hidden,
        decoder_in_channels=[hidden] * 3,
        decoder_ffn_dim=2 * hidden,
        decoder_attention_heads=4,
        decoder_layers=2,
        num_queries=num_queries,
        num_denoising=20,
        num_labels=num_classes,
        anchor_image_size=None,
    )
    model = transformers.RTDetrForObjectDetection(config)
    processor = transformers.RTDetrImageProcessor(size={"height": size, "width": size})
    return TransformersDetector(model, processor)


def small_yolo(num_classes: int, yaml: str = "yolov8n.yaml", imgsz: int = 384) -> Any:
    """A YOLO built from ultralytics' ``yaml`` (YOLOv8n by default) with random weights and
    ``num_classes`` classes (nothing downloaded), as a :class:`YOLODetector` at ``imgsz``."""
    # 0 would give ultralytics' default of 80 classes
    check_count("num_classes", num_classes, 1, " (K, the object classes; no background)")
    import_ultralytics()
    from ultralytics.nn.tasks import DetectionModel

    return YOLODetector(DetectionModel(yaml, nc=num_classes, verbose=False), imgsz=imgsz)


def conv_block(channels_in: int, channels_out: int, stride: int) -> nn.Sequential:
    """A 3 x 3 convolution (no bias), batch norm and ReLU."""
    return nn.Sequential(
        nn.Conv2d(channels_in, channels_out, 3, stride, 1, bias=False),
        nn.BatchNorm2d(channels_out),
        nn.ReLU(inplace=True),
    )


class SmallBackbone(nn.Sequential):
    """Four stride-2 stages (the trunk of
    :class:`~iterative_reasoning.models.SmallConvNetClassifier` too) as a detector backbone: one
    feature map at stride 16 with ``out_channels = 4 * width`` channels."""

    def __init__(self, width: int = 16) -> None:
        super().__init__(
            conv_block(3, width, 2),
            conv_block(width, 2 * width, 2),
            conv_block(2 * width, 4 * width, 2),
            conv_block(4 * width, 4 * width, 2),
        )
        self.out_channels = 4 * width


def small_faster_rcnn(
    num_classes: int,
    width: int = 16,
    representation_size: int = 256,
    min_size: int = 384,
    max_size: int = 384,
    **kwargs: Any,
) -> FasterRCNN:
    """A torchvision :class:`~torchvision.models.detection.FasterRCNN` on :class:`SmallBackbone`,
    small enough to train from scratch on a CPU: one feature map at stride 16 (named ``"0"``),
    anchors of 16 to 128 pixels at three aspect ratios, ``7 x 7`` RoIAlign and a two-layer box
    head of ``representation_size``. Its box classifier sees what a
    :class:`~iterative_reasoning.models.SmallConvNetClassifier` crop sees (about 31 pixels
    around a box), which is what the synthetic benchmark's context cues are placed beyond.

    Args:
        num_classes: ``C``, background included.
        width: the backbone's first width.
        representation_size: the box head's width (``D_r`` of the region features).
        min_size, max_size: the detector's resize (the benchmark's images are 384 pixels).
        kwargs: further arguments of :class:`~torchvision.models.detection.FasterRCNN`.

    Example:
        >>> import torch
        >>> detector = small_faster_rcnn(num_classes=5).eval()
        >>> sorted(detector([torch.rand(3, 384, 384)])[0])
        ['boxes', 'labels', 'scores']
    """
    from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
    from torchvision.models.detection.rpn import AnchorGenerator

    check_count("num_classes", num_classes, 2, " (C: background and at least one class)")
    from torchvision.ops import MultiScaleRoIAlign

    backbone = SmallBackbone(width)
    anchors = AnchorGenerator(sizes=((16, 32, 64, 128),), aspect_ratios=((0.5, 1.0, 2.0),))
    pool = MultiScaleRoIAlign(["0"], output_size=7, sampling_ratio=2)
    box_head = TwoMLPHead(backbone.out_channels * 7 * 7, representation_size)
    options: dict[str, Any] = {
        "image_mean": [0.0, 0.0, 0.0],  # the benchmark's ConvNet reads [0, 1] pixels as they are
        "image_std": [1.0, 1.0, 1.0],
        **kwargs,
    }
    return FasterRCNN(
        backbone,
        min_size=min_size,
        max_size=max_size,
        rpn_anchor_generator=anchors,
        box_roi_pool=pool,
        box_head=box_head,
        box_predictor=FastRCNNPredictor(representation_size, num_classes),
        **options,
    )
