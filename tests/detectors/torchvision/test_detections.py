import torch
from torchvision_detectors import C, build

from iterative_reasoning.detectors.torchvision.detections import postprocess


def _inputs(seed=0, boxes_per_image=(30, 0, 12)):
    gen = torch.Generator().manual_seed(seed)
    proposals = []
    for n in boxes_per_image:
        xy = torch.rand(n, 2, generator=gen) * 120
        proposals.append(torch.cat([xy, xy + torch.rand(n, 2, generator=gen) * 60 + 1], 1))
    total = sum(boxes_per_image)
    logits = torch.randn(total, C, generator=gen) * 3
    regression = torch.randn(total, 4 * C, generator=gen) * 0.2
    return logits, regression, proposals, [(150, 160), (100, 100), (170, 140)]


def test_postprocess_is_torchvision_s_on_the_same_logits():
    roi_heads = build("own_backbone").roi_heads
    roi_heads.score_thresh, roi_heads.detections_per_img = 0.05, 7
    logits, regression, proposals, shapes = _inputs()
    boxes, scores, labels = roi_heads.postprocess_detections(logits, regression, proposals, shapes)
    got = postprocess(roi_heads, logits, logits, regression, proposals, shapes)
    assert [len(r["boxes"]) for r in got] == [len(b) for b in boxes] and len(got[0]["boxes"]) == 7
    for r, b, s, la in zip(got, boxes, scores, labels, strict=True):
        assert torch.equal(r["boxes"], b) and torch.equal(r["scores"], s)
        assert torch.equal(r["labels"], la) and torch.equal(r["detector_scores"], s)


def test_postprocess_keeps_the_detector_s_score_of_each_detection():
    roi_heads = build("own_backbone").roi_heads
    logits, regression, proposals, shapes = _inputs(seed=1)
    detector_logits = torch.randn_like(logits)
    got = postprocess(roi_heads, logits, detector_logits, regression, proposals, shapes)
    detector_probs = detector_logits.softmax(-1).split([len(p) for p in proposals])
    reasoned = postprocess(roi_heads, logits, logits, regression, proposals, shapes)
    for r, same, probs in zip(got, reasoned, detector_probs, strict=True):
        # the boxes, scores and labels follow the reasoned logits alone
        assert torch.equal(r["boxes"], same["boxes"]) and torch.equal(r["scores"], same["scores"])
        # each detector score is the detector's probability of the detection's label for one
        # of the proposals
        for score, label in zip(r["detector_scores"], r["labels"], strict=True):
            assert torch.isclose(probs[:, label], score).any()
