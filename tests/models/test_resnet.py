import pytest
import torch
import torchvision
from torchvision.models import ResNet50_Weights
from torchvision.ops import roi_align

from iterative_reasoning.losses import reasoning_loss
from iterative_reasoning.models import ResNetRegionClassifier
from iterative_reasoning.nn import IterativeReasoningHead
from iterative_reasoning.ops import pad_images


@pytest.fixture(scope="module")
def classifier():
    torch.manual_seed(0)
    return ResNetRegionClassifier(num_classes=5, weights=None).eval()


def _images():
    images, sizes = pad_images([torch.rand(3, 96, 128), torch.rand(3, 80, 112)])
    boxes = [
        torch.tensor([[8.0, 8.0, 60.0, 90.0], [40.0, 20.0, 120.0, 70.0]]),
        torch.tensor([[0.0, 0.0, 100.0, 60.0]]),
    ]
    return images, boxes, sizes


def test_region_classifier_is_the_papers_convnet(classifier):
    images, boxes, sizes = _images()
    with torch.no_grad():
        rb = classifier(images, boxes, sizes)
        features = classifier.features(images)
        rois = torch.cat([torch.tensor([[0.0], [0.0], [1.0]]), torch.cat(boxes)], dim=1)
        crops = roi_align(features, rois, 7, 1 / 16, 2, True)
        region = classifier.conv5(crops)
    assert rb.features.shape == (2, 1024, 6, 8)  # conv4 at stride 16
    assert region.shape == (3, 2048, 7, 7)  # conv5 at stride 1 on the 7 x 7 crops
    torch.testing.assert_close(rb.region_features, region.mean(dim=(2, 3)), rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(rb.base_logits, classifier.classifier(rb.region_features))
    frozen = {n.split(".")[1] for n, p in classifier.named_parameters() if not p.requires_grad}
    assert frozen == {"stem", "layer1"}
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in classifier.modules())


def test_imagenet_weights_load_through_torchvisions_weights_api(monkeypatch):
    """No download: the weights enum returns a local state dict, and our model must hold it."""
    reference = torchvision.models.resnet50(weights=None)
    requested = []

    def local_state_dict(self, *args, **kwargs):
        requested.append(self)
        return reference.state_dict()

    monkeypatch.setattr(type(ResNet50_Weights.IMAGENET1K_V1), "get_state_dict", local_state_dict)
    model = ResNetRegionClassifier(num_classes=5, weights="IMAGENET1K_V1")
    assert requested == [ResNet50_Weights.IMAGENET1K_V1]
    torch.testing.assert_close(model.trunk.layer3[2].conv3.weight, reference.layer3[2].conv3.weight)
    torch.testing.assert_close(model.conv5[0].conv1.weight, reference.layer4[0].conv1.weight)


def test_region_classifier_and_head_train_together(classifier):
    torch.manual_seed(1)
    model = ResNetRegionClassifier(num_classes=5, weights=None)
    head = IterativeReasoningHead.paper("local", num_classes=5, memory_channels=8, fc_channels=16)
    images, boxes, sizes = _images()
    labels = torch.tensor([1, 2, 3])
    rb = model(images, boxes, sizes)
    out = head(*rb)
    reasoning_loss(out, labels, rb.batch).total.backward()
    assert model.classifier.weight.grad is not None
    assert model.trunk.layer3[0].conv1.weight.grad is not None  # the backbone learns from f_0
    assert head.local.fc[0].weight.grad is not None
