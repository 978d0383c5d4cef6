"""plot_neighbourhood draws a class's neighbours without changing the user's matplotlib
backend."""

import matplotlib

from knowledge_graphs.class_graph import ClassGraph
from knowledge_graphs.plot import plot_neighbourhood


def test_neighbourhood_leaves_the_backend_alone(tmp_path):
    graph = ClassGraph(["car", "wheel", "door", "truck"])
    graph.add_relation("is_part_of", [(1, 0, 1.0), (2, 0, 1.0)])
    graph.add_relation("similar_to", [(3, 0, 0.8)])
    before = matplotlib.get_backend()
    matplotlib.use("svg")
    try:
        plot_neighbourhood(graph, "car", tmp_path / "car.png")
        assert matplotlib.get_backend() == "svg"
    finally:
        matplotlib.use(before)
    assert (tmp_path / "car.png").read_bytes()[:4] == b"\x89PNG"
