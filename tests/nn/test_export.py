"""Deployment paths of the global module: ``torch.export`` with a dynamic number of regions and
edges (the whole head does not export: its region grid's sparse operators have data-dependent
sizes, see docs/detectors.rst)."""

import warnings

import torch
from helpers import image_sizes, random_boxes, random_probs, random_relations

from iterative_reasoning.graph import assignment_weights
from iterative_reasoning.nn import GlobalModule

C, D_R, D = 6, 5, 8


class _OnDictionaries(torch.nn.Module):
    """The module on one image's graph dictionaries, ``max_regions`` the number of regions (a
    symbolic size under export)."""

    def __init__(self, module):
        super().__init__()
        self.module = module

    def forward(self, x, edge_index_dict, edge_weight_dict):
        out = self.module.reason_on(x, edge_index_dict, edge_weight_dict, 1, x.size(0))
        return out.logits, out.attention


def _inputs(module, rel, count, seed):
    boxes, batch = random_boxes([count], seed=seed)
    graph = module.graph(boxes.float(), batch, image_sizes(1).float())
    probs = random_probs(count, C, seed=seed).float()
    to_class, to_region = assignment_weights(probs, batch, 1)
    weights = {
        **graph.edge_weight_dict,
        ("region", "assigned_to", "class"): to_class,
        ("class", "rev_assigned_to", "region"): to_region,
    }
    x = torch.randn(count, D_R, generator=torch.Generator().manual_seed(seed))
    return x, graph.edge_index_dict, weights


def test_the_global_module_exports_with_a_dynamic_number_of_regions():
    rel = random_relations(C, num_relations=2, seed=0)
    torch.manual_seed(0)
    module = _OnDictionaries(GlobalModule(D_R, C, rel, hidden_channels=D).eval())
    x, edges, weights = _inputs(module.module, rel, 7, seed=1)
    regions = torch.export.Dim("regions", min=2, max=4096)
    edge_dims, weight_dims = {}, {}
    for edge_type in edges:
        if edge_type[0] == edge_type[2] == "class":  # the fast layer holds the class graph
            edge_dims[edge_type] = weight_dims[edge_type] = None
            continue
        count = torch.export.Dim(f"edges_{edge_type[1]}", min=0, max=10**8)
        edge_dims[edge_type], weight_dims[edge_type] = {1: count}, {0: count}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.export.export(
            module, (x, edges, weights), dynamic_shapes=({0: regions}, edge_dims, weight_dims)
        )
    for count, seed in ((7, 1), (12, 2), (3, 3)):  # the traced size and others
        inputs = _inputs(module.module, rel, count, seed)
        for got, expected in zip(program.module()(*inputs), module(*inputs), strict=True):
            torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)
