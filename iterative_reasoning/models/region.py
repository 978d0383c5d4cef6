"""A region-classification model: a ConvNet region classifier and, optionally, the reasoning
head on top; with the paper's loss."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from iterative_reasoning.data.records import RegionSample
from iterative_reasoning.graph import ClassRelations
from iterative_reasoning.losses import reasoning_loss
from iterative_reasoning.models.resnet import ResNetRegionClassifier
from iterative_reasoning.nn.reasoning_head import IterativeReasoningHead, ReasoningOutput
from iterative_reasoning.nn.region_batch import RegionBatch
from iterative_reasoning.ops.geometry import pad_images

if TYPE_CHECKING:
    from iterative_reasoning.engine.region_cache import RegionCache


class Batch(NamedTuple):
    """A training or evaluation batch.

    Attributes:
        images: padded RGB images, ``[B, 3, H, W]``.
        boxes: ``xyxy`` boxes of each image in its resized pixels, ``B`` x ``[R_i, 4]``.
        image_sizes: ``(height, width)`` of each image before padding, ``[B, 2]``.
        labels: class of each region, images concatenated, ``[R]``.
        masks: the regions' box-relative masks ``[R, P, P]`` when every sample has them.
    """

    images: Tensor
    boxes: list[Tensor]
    image_sizes: Tensor
    labels: Tensor
    masks: Tensor | None = None

    def to(self, device: torch.device | str) -> Batch:
        return Batch(
            self.images.to(device),
            [b.to(device) for b in self.boxes],
            self.image_sizes.to(device),
            self.labels.to(device),
            self.masks.to(device) if self.masks is not None else None,
        )


def collate_regions(samples: Sequence[RegionSample]) -> Batch:
    """Pad the images of ``samples`` into one batch (multiples of 16) and gather their boxes
    and labels."""
    images, sizes = pad_images([s.image for s in samples], size_divisible=16)
    masks = None
    if samples and all(s.masks is not None for s in samples):
        masks = torch.cat([s.masks for s in samples])  # type: ignore[misc]
    labels = torch.cat([s.labels for s in samples])
    return Batch(images, [s.boxes for s in samples], sizes, labels, masks)


class RegionModel(nn.Module):
    """A ConvNet region classifier (``convnet(images, boxes, sizes) -> RegionBatch``, e.g.
    :class:`~iterative_reasoning.models.ResNetRegionClassifier`) with an optional
    :class:`~iterative_reasoning.nn.IterativeReasoningHead`; without a head it is the paper's
    baseline.

    The head never trains the ConvNet (its inputs are stop-gradient, as the original), so a
    head trained on a frozen, already trained ConvNet sees the same ConvNet as one trained with
    it: ``freeze_convnet`` does that, keeping the ConvNet in evaluation mode and out of the
    optimiser.

    Args:
        convnet: the region classifier.
        head: the reasoning head, or ``None``.
        freeze_convnet: train the head alone on the ConvNet as it is.
        write_masks: the spatial memory writes through the regions' instance masks (the
            batches must carry them, e.g. from ``COCODataset(masks=True)``) instead of their
            boxes (the paper's way, the default).
        region_cache: with ``freeze_convnet``, a
            :class:`~iterative_reasoning.engine.region_cache.RegionCache` that keeps the
            ConvNet's outputs of each batch, to share between heads trained one after another
            on the same ConvNet weights and batches (the results are the same without it).
    """

    def __init__(
        self,
        convnet: nn.Module,
        head: IterativeReasoningHead | None = None,
        freeze_convnet: bool = False,
        write_masks: bool = False,
        region_cache: RegionCache | None = None,
    ) -> None:
        super().__init__()
        if region_cache is not None and not freeze_convnet:
            raise ValueError(
                "region_cache needs freeze_convnet=True: a ConvNet that trains changes its "
                "outputs at every step"
            )
        if freeze_convnet and head is None:
            raise ValueError("freeze_convnet=True leaves nothing to train without a head")
        if write_masks and head is None:
            raise ValueError("write_masks=True needs a head: the ConvNet alone has no memory")
        self.write_masks = write_masks
        self.convnet = convnet
        self.head = head
        self.freeze_convnet = freeze_convnet
        self.region_cache = region_cache
        if freeze_convnet:
            self.convnet.requires_grad_(False)
            self.convnet.eval()

    @classmethod
    def paper(
        cls,
        model: str,
        num_classes: int,
        class_relations: ClassRelations | None = None,
        weights: str | None = "IMAGENET1K_V1",
        write_masks: bool = False,
        head_size: str = "paper",
    ) -> RegionModel:
        """A row of the paper's tables: the ResNet-50 region classifier
        (:class:`~iterative_reasoning.models.ResNetRegionClassifier`, ImageNet ``weights``
        through torchvision's weights API, ``None`` for random ones) and, unless ``model`` is
        ``"baseline"``, the head of :meth:`IterativeReasoningHead.paper
        <iterative_reasoning.nn.IterativeReasoningHead.paper>` (``"local"``, ``"global"``,
        ``"final"`` or an ablation) with the paper's sizes (``head_size="paper"``) or the
        light ones (``"light"``)."""

        convnet = ResNetRegionClassifier(num_classes, weights=weights)
        head = None
        if model != "baseline":
            head = IterativeReasoningHead.paper(
                model, num_classes=num_classes, class_relations=class_relations, size=head_size
            )
        return cls(convnet, head, write_masks=write_masks and head is not None)

    def train(self, mode: bool = True) -> RegionModel:
        super().train(mode)
        if self.freeze_convnet:
            self.convnet.eval()
        return self

    def regions(self, batch: Batch) -> RegionBatch:
        inputs = (batch.images, batch.boxes, batch.image_sizes)
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.freeze_convnet):
            if self.region_cache is not None:
                return self.region_cache(self.convnet, *inputs)
            out: RegionBatch = self.convnet(*inputs)
        return out

    def forward(self, batch: Batch) -> tuple[RegionBatch, ReasoningOutput | None]:
        regions = self.regions(batch)
        if self.head is None:
            return regions, None
        masks = None
        if self.write_masks:
            if batch.masks is None:
                raise ValueError(
                    "write_masks=True but the batch has no masks: use a dataset with instance "
                    "masks (COCODataset(..., masks=True))"
                )
            masks = batch.masks
        return regions, self.head(regions._replace(masks=masks))

    @staticmethod
    def collate(samples: Sequence[RegionSample]) -> Batch:
        """The samples as one :class:`Batch` (:func:`collate_regions`)."""
        return collate_regions(samples)

    def loss(self, batch: Batch) -> tuple[Tensor, dict[str, float]]:
        """The paper's loss with a head, else mean cross-entropy; and its terms as numbers."""
        return self.loss_of(batch, self(batch))

    def loss_of(
        self, batch: Batch, outputs: tuple[RegionBatch, ReasoningOutput | None]
    ) -> tuple[Tensor, dict[str, float]]:
        """:meth:`loss` from the outputs of a forward pass already run (e.g. through a DDP
        wrapper)."""
        regions, output = outputs
        if output is None:
            loss = F.cross_entropy(regions.base_logits, batch.labels)
            return loss, {"loss": loss.item()}
        terms = reasoning_loss(output, batch.labels, regions.batch)
        parts = {name: float(value.detach()) for name, value in terms._asdict().items()}
        return terms.total, {"loss": parts.pop("total"), **parts}

    @torch.no_grad()
    def predict(self, batch: Batch) -> Tensor:
        """Class probabilities ``[R, C]``: of the fused prediction, or of the ConvNet's."""
        regions, output = self(batch)
        logits = output.logits if output is not None else regions.base_logits
        return torch.softmax(logits, dim=-1)
