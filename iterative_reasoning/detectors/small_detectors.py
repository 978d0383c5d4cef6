"""Small detectors of other libraries, with random weights, that train on a CPU in minutes:
a real ``transformers`` RT-DETR (:func:`small_rt_detr`) and an ``ultralytics`` YOLOv8n
(:func:`small_yolo`), wrapped in this package's adapters. Nothing is downloaded."""

from __future__ import annotations

from typing import Any

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
