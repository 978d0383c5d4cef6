"""Small DETR-family detectors of ``transformers`` (random weights) that the detector tests
share: a four-stage basic-block ResNet and a one-encoder, two-decoder-layer transformer."""

from __future__ import annotations

import torch

K = 4  # object classes; a head has K + 1

#: The transformer of every small DETR-family model of the tests.
TINY = {
    "use_timm_backbone": False,
    "d_model": 32,
    "encoder_layers": 1,
    "decoder_layers": 2,
    "encoder_ffn_dim": 64,
    "decoder_ffn_dim": 64,
    "encoder_attention_heads": 4,
    "decoder_attention_heads": 4,
    "num_queries": 10,
    "num_labels": K,
}


def resnet(out_features):
    """A ResNet of 16 to 128 channels (strides 4 to 32) giving the stages ``out_features``."""
    import transformers

    return transformers.ResNetConfig(
        depths=[1, 1, 1, 1],
        hidden_sizes=[16, 32, 64, 128],
        embedding_size=16,
        layer_type="basic",
        out_features=list(out_features),
    )


def small_detr(seed=0, out_features=("stage3", "stage4")):
    """A DETR on the backbone stages ``out_features``, with its image processor, wrapped in the
    package's adapter."""
    import transformers

    from iterative_reasoning.detectors.transformers import TransformersDetector

    torch.manual_seed(seed)
    config = transformers.DetrConfig(backbone_config=resnet(out_features), **TINY)
    model = transformers.DetrForObjectDetection(config)
    processor = transformers.DetrImageProcessor(size={"shortest_edge": 128, "longest_edge": 160})
    return TransformersDetector(model, processor)
