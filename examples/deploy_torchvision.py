"""Share a head and deploy a torchvision detector with it: ``save_pretrained`` and
``from_pretrained``, then ``torch.jit.script`` of the detector with the head, saved to a file
that ``torch.jit.load`` reads with torch and torchvision alone.

Run with ``python examples/deploy_torchvision.py --output-dir deployed`` (about half a minute
on a CPU: random weights, a random image, no download). A trained head would come from
``iterative-reasoning export --output-dir RUN --to DIR`` instead of the ``save_pretrained``
here; the rest is the same.
"""

from __future__ import annotations

import argparse
import tempfile
import warnings
from pathlib import Path

import torch
from torchvision.models.detection import FasterRCNN_ResNet50_FPN_Weights, fasterrcnn_resnet50_fpn

from iterative_reasoning import IterativeReasoningHead
from iterative_reasoning.data import random_detection_batch
from iterative_reasoning.detectors import attach_reasoning_head, reasoning_head_for, scriptable
from iterative_reasoning.graph import ClassRelations
from knowledge_graphs import load_ready_made


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(description="Share a head; script the detector with it.")
    parser.add_argument("--output-dir", type=Path, help="where the head and detector go")
    parser.add_argument("--min-size", type=int, default=160, help="detector input short side")
    args = parser.parse_args(argv)
    output = args.output_dir or Path(tempfile.mkdtemp())
    categories = FasterRCNN_ResNet50_FPN_Weights.DEFAULT.meta["categories"]
    relations = ClassRelations.from_class_graph(load_ready_made("coco"), outputs=categories)

    def detector() -> torch.nn.Module:
        torch.manual_seed(0)  # the same random detector each time (a trained one in practice)
        return fasterrcnn_resnet50_fpn(
            weights=None,
            weights_backbone=None,
            min_size=args.min_size,
            max_size=int(args.min_size * 4 / 3),
            box_score_thresh=0.0,  # random weights score low
        )

    # ---------------------------------------------------------------------------------------
    head = reasoning_head_for(detector(), "final", class_relations=relations, fc_channels=1024)
    folder = head.save_pretrained(output / "head", classes=categories)  # safetensors + JSON

    shared = IterativeReasoningHead.from_pretrained(folder)  # bit for bit, nothing unpickled
    model = attach_reasoning_head(detector(), shared).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit is deprecated in torch 2.14
        scripted = torch.jit.script(scriptable(model))  # a copy whose head is TorchScript
        scripted.save(str(output / "detector.pt"))
        loaded = torch.jit.load(str(output / "detector.pt"))  # torch + torchvision suffice

    images = random_detection_batch(1, 90, generator=torch.Generator().manual_seed(1))[0]
    with torch.no_grad(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="RCNN always returns")  # torchvision's note
        eager = model(images)
        _, deployed = loaded(images)  # scripted detectors return (losses, detections)
    # ---------------------------------------------------------------------------------------

    same = all(torch.equal(e[k], d[k]) for e, d in zip(eager, deployed, strict=True) for k in e)
    print(f"head saved in {folder} ({', '.join(sorted(p.name for p in folder.iterdir()))})")
    print(f"scripted detector saved in {output / 'detector.pt'}")
    print(f"{len(deployed[0]['boxes'])} detections, the eager detector's bit for bit: {same}")
    return {"same": same, "detections": len(deployed[0]["boxes"]), "output": output}


if __name__ == "__main__":
    main()
