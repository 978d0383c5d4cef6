"""Speed and memory of the global module's fast path against a dense-matrix implementation.

Both implementations compute the same equations (DESIGN section 5) with the same parameters,
forward and backward, in one process; the dense one holds every adjacency as a dense matrix
and evaluates the equations in their plain order. Peak memory is measured for each in a fresh
child process (peak resident set size on the CPU, ``torch.cuda.max_memory_allocated`` on a
GPU). The printed ratios, not the absolute times, are the result.

    python benchmarks/global_module.py                    # R=100, C=3000 and C=20000
    python benchmarks/global_module.py --json out.json    # also write the figures
    python benchmarks/global_module.py --real-graph imagenet21k --regions 100 300

``--real-graph`` runs the fast path on a shipped class graph (ImageNet-21k: 21,843 classes and
background, its five WordNet relations with their real degrees) beside the random graph of
``--classes`` (20,000 by default there), at each of ``--regions``, and prints the ratios.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

warnings.filterwarnings("ignore", message=".*torch.jit.script.*")

from _measure import add_run_arguments, parse_run_arguments, peak_memory_mib, time_call, write_json  # noqa: E402

from iterative_reasoning.graph import ClassRelations, build_reasoning_graph  # noqa: E402
from iterative_reasoning.nn import GlobalModule  # noqa: E402
from iterative_reasoning.typing import SPATIAL_RELATIONS, region_edge  # noqa: E402


def make_problem(
    regions: int,
    classes: int,
    relations: int,
    edges_per_class: int,
    channels: int,
    seed: int,
    real_graph: str | None = None,
) -> tuple[GlobalModule, Tensor, Any]:
    """A random module, region features and reasoning graph of one image; the class relations
    are random, or those of the shipped graph ``real_graph`` (classes and background)."""
    gen = torch.Generator().manual_seed(seed)
    if real_graph is not None:
        from knowledge_graphs.ready_made import load_ready_made

        rel = ClassRelations.from_class_graph(load_ready_made(real_graph))
        classes = rel.num_classes
    else:
        num_edges = classes * edges_per_class
        rel = ClassRelations(
            classes,
            {
                f"relation_{k}": (
                    _distinct_pairs(classes, num_edges, gen),
                    torch.rand(num_edges, generator=gen),
                )
                for k in range(relations)
            },
        )
    xy = torch.rand(regions, 2, generator=gen) * torch.tensor([700.0, 500.0])
    wh = torch.rand(regions, 2, generator=gen) * 200 + 8
    boxes = torch.cat([xy, xy + wh], dim=1)
    probs = torch.softmax(torch.randn(regions, classes, generator=gen) * 3, dim=-1)
    graph = build_reasoning_graph(
        boxes,
        torch.zeros(regions, dtype=torch.long),
        torch.tensor([[720.0, 960.0]]),
        probs,
        rel,
        edge_lists=False,
    )
    torch.manual_seed(seed)
    module = GlobalModule(channels, classes, rel, hidden_channels=channels)
    x = torch.randn(regions, channels, generator=gen)
    return module, x, graph


def _distinct_pairs(classes: int, count: int, gen: torch.Generator) -> Tensor:
    source = torch.randint(0, classes, (count,), generator=gen)
    shift = torch.randint(1, classes, (count,), generator=gen)
    return torch.stack([source, (source + shift) % classes])


class DenseGlobal:
    """The equations with dense adjacency matrices, in their plain order.

    ``G_c = sum_e A_e H W_e`` is a ``C x C`` times ``C x D`` product per relation, then
    ``C x D x D``; this is what the fast path avoids.
    """

    def __init__(self, module: GlobalModule, graph: Any) -> None:
        self.module = module
        region = graph["region"]
        num_regions = region.num_nodes
        self.spatial = [
            _dense(
                graph[region_edge(r)].edge_index,
                graph[region_edge(r)].edge_weight,
                num_regions,
                num_regions,
            )
            for r in SPATIAL_RELATIONS
        ]
        conv = module.conv
        adjacency_t = conv.class_graph.to_dense()  # [E * C, C]
        c = module.num_classes
        self.relations = [
            adjacency_t[e * c : (e + 1) * c].t().contiguous()
            for e in range(len(conv.class_relations))
        ]
        probs = region.class_probs
        self.to_class = (probs / probs.sum(0, keepdim=True).clamp_min(1e-14)).t().contiguous()
        self.to_region = probs / probs.sum(1, keepdim=True).clamp_min(1e-14)

    def __call__(self, x: Tensor) -> Tensor:
        m = self.module
        conv = m.conv
        g_sp = sum(a @ x @ w for a, w in zip(self.spatial, conv.spatial_weight, strict=True))
        hidden = torch.relu(
            self.to_class @ x @ conv.assign_weight + m.class_embedding @ conv.class_weight
        )
        g_c = sum(a @ hidden @ w for a, w in zip(self.relations, conv.relation_weight, strict=True))
        g_r = torch.relu(g_sp + torch.relu(self.to_region @ g_c @ conv.rev_assign_weight))
        return m.classifier(g_r)


def _dense(index: Tensor, weight: Tensor, rows: int, cols: int) -> Tensor:
    out = torch.zeros(rows, cols)
    out.index_put_((index[1], index[0]), weight, accumulate=True)
    return out


def _child_step(args: dict[str, Any], which: str) -> Callable[[], object]:
    """One forward + backward of ``which`` on a fresh problem (run in a child process)."""
    module, x, graph = make_problem(*_problem_args(args))
    module, x, graph = module.to(args["device"]), x.to(args["device"]), graph.to(args["device"])
    step = _step(module, x, graph, which)
    return lambda: step().sum().backward()


def _step(module: GlobalModule, x: Tensor, graph: Any, which: str) -> Callable[[], Tensor]:
    if which == "dense":
        dense = DenseGlobal(module, graph)
        return lambda: dense(x)
    return lambda: module(x, graph).logits


def _time_backward(step: Callable[[], Tensor], repeats: int, device: str) -> float:
    """Median seconds of ``step().sum().backward()`` after one warm-up."""
    return time_call(lambda: step().sum().backward(), repeats, device)


def _problem_args(
    args: dict[str, Any],
) -> tuple[int, int, int, int, int, int, str | None]:
    return (
        args["regions"],
        args["classes"],
        args["relations"],
        args["edges_per_class"],
        args["channels"],
        args["seed"],
        args.get("real_graph"),
    )


def run_case(args: dict[str, Any], with_dense: bool) -> dict[str, Any]:
    module, x, graph = make_problem(*_problem_args(args))
    device = args["device"]
    module, x, graph = module.to(device), x.to(device), graph.to(device)
    x.requires_grad_(True)
    result: dict[str, Any] = {
        k: args[k] for k in ("regions", "classes", "relations", "edges_per_class", "channels")
    }
    result["graph"] = args.get("real_graph") or "random"
    if args.get("real_graph"):
        result["classes"] = module.num_classes
        result["relations"] = len(module.conv.class_relations)
        result["class_edges"] = int(module.conv.class_graph.values.numel())
    result["fast_s"] = _time_backward(_step(module, x, graph, "fast"), args["repeats"], device)
    result["fast_peak_mib"] = peak_memory_mib(_child_step, args, "fast")
    dense_bytes = 4 * result["relations"] * result["classes"] ** 2
    result["dense_adjacency_mib"] = dense_bytes / 2**20
    if with_dense:
        dense_step = _step(module, x, graph, "dense")
        with torch.no_grad():
            diff = (dense_step() - module(x, graph).logits).abs().max()
        result["max_abs_difference"] = float(diff)
        result["dense_s"] = _time_backward(dense_step, args["repeats"], device)
        result["dense_peak_mib"] = peak_memory_mib(_child_step, args, "dense")
        result["speedup"] = result["dense_s"] / result["fast_s"]
    return result


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--regions", type=int, nargs="+", default=[100])
    parser.add_argument("--classes", type=int, nargs="+", default=None)
    parser.add_argument(
        "--real-graph",
        help="a shipped class graph (imagenet21k) to run beside the random graph of --classes",
    )
    parser.add_argument("--relations", type=int, default=10)
    parser.add_argument("--edges-per-class", type=int, default=10)
    parser.add_argument("--channels", type=int, default=512)
    parser.add_argument(
        "--dense-max-classes",
        type=int,
        default=5000,
        help="run the dense implementation only up to this many classes",
    )
    add_run_arguments(parser, repeats=5)
    opts = parse_run_arguments(parser, argv)
    if opts.classes is None:
        opts.classes = [20000] if opts.real_graph else [3000, 20000]
    results = []
    for regions in opts.regions:
        for classes in opts.classes:
            args = {**vars(opts), "regions": regions, "classes": classes, "real_graph": None}
            results.append(run_case(args, with_dense=classes <= opts.dense_max_classes))
        if opts.real_graph:
            args = {**vars(opts), "regions": regions, "classes": 0}
            results.append(run_case(args, with_dense=False))
    print_table(results, opts)
    if opts.real_graph:
        print_real_graph(results)
    write_json(opts, results=results)
    return results


def print_real_graph(results: list[dict[str, Any]]) -> None:
    """Each real-graph case against the random case of the same R (the last one run)."""
    print("real graph against the random graph, fast path, forward + backward:")
    print(f"{'R':>5} {'graph':>12} {'C':>7} {'class edges':>12} {'s':>8} {'MiB':>7} "
          f"{'time ratio':>11} {'memory ratio':>13}")  # fmt: skip
    random = {}
    for r in results:
        if r["graph"] == "random":
            random[r["regions"]] = r
            edges = r["relations"] * r["classes"] * r["edges_per_class"]
        else:
            edges = r["class_edges"]
        base = random.get(r["regions"])
        ratio = f"{r['fast_s'] / base['fast_s']:.2f}" if base else "-"
        memory = f"{r['fast_peak_mib'] / base['fast_peak_mib']:.2f}" if base else "-"
        print(
            f"{r['regions']:>5} {r['graph']:>12} {r['classes']:>7} {edges:>12} "
            f"{r['fast_s']:>8.3f} {r['fast_peak_mib']:>7.0f} {ratio:>11} {memory:>13}"
        )


def print_table(results: list[dict[str, Any]], opts: argparse.Namespace) -> None:
    print(
        f"global module, forward + backward, R={opts.regions}, {opts.relations} relations, "
        f"~{opts.edges_per_class} edges/class/relation, D={opts.channels}, "
        f"device={opts.device}, threads={opts.threads}"
    )
    header = (
        f"{'R':>5} {'graph':>12} {'C':>7} {'fast s':>9} {'dense s':>9} {'speedup':>8} "
        f"{'fast MiB':>9} {'dense MiB':>10} {'dense A MiB':>12} {'max |diff|':>11}"
    )
    print(header)
    for r in results:
        speedup = r.get("speedup")
        print(
            f"{r['regions']:>5} {r['graph']:>12} {r['classes']:>7} {r['fast_s']:>9.3f} "
            f"{_fmt(r.get('dense_s'), '.3f'):>9} "
            f"{_fmt(speedup, '.1f') + ('x' if speedup else ''):>8} "
            f"{r['fast_peak_mib']:>9.0f} {_fmt(r.get('dense_peak_mib'), '.0f'):>10} "
            f"{r['dense_adjacency_mib']:>12.0f} {_fmt(r.get('max_abs_difference'), '.2e'):>11}"
        )
    print("dense s / dense MiB '-' = not run (dense adjacency alone is the 'dense A MiB' column)")


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


if __name__ == "__main__":
    main(sys.argv[1:])
