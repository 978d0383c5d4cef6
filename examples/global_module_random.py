"""The global module on random regions: build a reasoning graph, reason, check, train.

Run with ``python examples/global_module_random.py`` (a few seconds on a CPU). It

1. builds a small class graph and the reasoning graph of a batch of images with random boxes,
2. runs :class:`GlobalModule` with its fast graph layer and with the PyG reference layer
   (:class:`~iterative_reasoning.nn.GlobalReasoningConv`, the same parameters) and checks that
   they agree,
3. trains the module on scenes where a region's class is set by its context (the kind of the
   region to its left), and prints the paper's metrics on held-out scenes before and after.
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

from iterative_reasoning import ClassRelations, GlobalModule, build_reasoning_graph
from iterative_reasoning.graph import ReasoningGraph
from iterative_reasoning.metrics import evaluate_classification
from iterative_reasoning.nn import GlobalReasoningConv


def random_scene(
    num_images: int, regions_per_image: int, num_classes: int, gen: torch.Generator
) -> tuple[torch.Tensor, ...]:
    """Regions in a row, each with a visible "kind" in ``[2, C)``. A region's label is the kind
    of its left neighbour (class 1 for the leftmost): its own appearance says nothing of it,
    only context does."""
    boxes, batch, kinds, labels = [], [], [], []
    for b in range(num_images):
        x = (
            torch.arange(regions_per_image) * 80.0
            + torch.rand(regions_per_image, generator=gen) * 20
        )
        y = torch.rand(regions_per_image, generator=gen) * 300
        kind = torch.randint(2, num_classes, (regions_per_image,), generator=gen)
        boxes.append(torch.stack([x, y, x + 40, y + 40], dim=1))
        batch.append(torch.full((regions_per_image,), b))
        kinds.append(kind)
        labels.append(torch.cat([torch.tensor([1]), kind[:-1]]))
    return torch.cat(boxes), torch.cat(batch), torch.cat(kinds), torch.cat(labels)


def scene_inputs(
    args: argparse.Namespace, relations: ClassRelations, gen: torch.Generator
) -> tuple[torch.Tensor, ReasoningGraph, torch.Tensor]:
    """Region features (a noisy one-hot of the kind), the reasoning graph and the labels."""
    boxes, batch, kind, labels = random_scene(args.images, args.regions, args.classes, gen)
    x = F.one_hot(kind, args.classes).float()
    x = x + 0.1 * torch.randn(x.shape, generator=gen)
    # The assignment uses a uniform previous prediction; in the full head it is the ConvNet's.
    probs = torch.full((kind.numel(), args.classes), 1.0 / args.classes)
    sizes = torch.tensor([[400.0, 80.0 * args.regions + 40]] * args.images)
    graph = build_reasoning_graph(boxes, batch, sizes, probs, relations)
    return x, graph, labels


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description="The global module on random regions.")
    parser.add_argument("--images", type=int, default=16)
    parser.add_argument("--regions", type=int, default=12, help="regions per image")
    parser.add_argument("--classes", type=int, default=8, help="classes, background included")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    gen = torch.Generator().manual_seed(args.seed)
    torch.manual_seed(args.seed)
    num_classes = args.classes

    # A class graph: each class "is_kind_of" the next, and a symmetric "similar_to" ring.
    ring = torch.arange(1, num_classes)
    nxt = 1 + ring % (num_classes - 1)
    relations = ClassRelations(
        num_classes,
        {
            "is_kind_of": torch.stack([ring, nxt]),
            "similar_to": torch.stack([torch.cat([ring, nxt]), torch.cat([nxt, ring])]),
        },
    )
    x, graph, labels = scene_inputs(args, relations, gen)
    test_x, test_graph, test_labels = scene_inputs(args, relations, gen)
    module = GlobalModule(num_classes, num_classes, relations, hidden_channels=32)
    print(module)
    print(
        f"graph: {graph['region'].num_nodes} regions, {graph['class'].num_nodes} class nodes, "
        f"{len(graph.edge_types)} edge types"
    )
    # the same module with the PyG reference layer in place of the fast one, same parameters
    conv = GlobalReasoningConv(num_classes, 32, graph.metadata(), num_classes)
    twin = GlobalModule(num_classes, num_classes, relations, hidden_channels=32, conv=conv)
    twin.load_state_dict(module.state_dict())
    fast, reference = module(x, graph), twin(x, graph)
    difference = float((fast.logits - reference.logits).abs().max().detach())
    print(f"fast vs PyG reference layer: max |difference| = {difference:.2e}")

    with torch.no_grad():
        before = evaluate_classification(
            torch.softmax(module(test_x, test_graph).logits, -1), test_labels
        )
    optimizer = torch.optim.Adam(module.parameters(), lr=0.01)
    start = time.perf_counter()
    for step in range(args.steps):
        out = module(x, graph)
        loss = F.cross_entropy(out.logits, labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % max(1, args.steps // 5) == 0 or step == args.steps - 1:
            print(f"step {step:4d}  loss {loss.item():.4f}")
    elapsed = time.perf_counter() - start
    with torch.no_grad():
        after = evaluate_classification(
            torch.softmax(module(test_x, test_graph).logits, -1), test_labels
        )
    print(f"{args.steps} steps in {elapsed:.2f} s; metrics (%) on held-out scenes:")
    print(f"{'':8} {'inst AP':>8} {'inst AC':>8} {'cls AP':>8} {'cls AC':>8}")
    for name, m in (("before", before), ("after", after)):
        print(f"{name:8} " + " ".join(f"{v:8.1f}" for v in m.as_percent().values()))
    return {"difference": difference, "loss": loss.item(), **after.as_percent()}


if __name__ == "__main__":
    main()
