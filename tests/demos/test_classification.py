import json

from iterative_reasoning.demos.classification import DemoConfig, format_table, run_demo
from iterative_reasoning.engine import read_log


def test_demo_writes_its_table_models_and_pictures(tiny_demo):
    out, result = tiny_demo
    assert list(result.metrics) == ["baseline", "local", "global", "final"]
    for kind in result.metrics:
        assert (out / kind / "checkpoint.pt").exists() and read_log(out / kind)
        written = json.loads((out / kind / "metrics.json").read_text())
        assert {"class_ap", "class_ap_of", "regions"} <= set(written)
    assert (out / "table.txt").read_text().startswith("model")
    assert {p.name for p in result.figures} == {"training_curves.png", "iterations.png"}
    assert all(p.stat().st_size > 10_000 for p in result.figures)
    # the written benchmark went through the ADE20K loader, and its part annotations into the
    # class graph
    assert (out / "data" / "mtest.txt").exists()
    from knowledge_graphs import ClassGraph

    graph = ClassGraph.load(out / "class_graph.json.gz")
    annotated = graph.neighbours("car_door", "annotated_part_of")["annotated_part_of"]
    assert [name for name, _ in annotated] == ["car"]


def test_demo_resumes_what_it_finished(tiny_demo, wordnet):
    out, first = tiny_demo
    again = run_demo(out, DemoConfig().scaled(0.02), progress=False, lexicon=wordnet)
    assert all(seconds == 0.0 for seconds in again.seconds.values())
    assert again.metrics == first.metrics
    recorded = json.loads((out / "results.json").read_text())["train_seconds"]
    assert recorded == first.seconds and all(s > 0 for s in recorded.values())


def test_format_table_reports_the_gain():
    row = {"instance_ap": 50.0, "instance_ac": 50.0, "class_ap": 40.0, "class_ac": 45.0}
    metrics = {"baseline": {**row, "class_ap_of": {"mouse": 50.0}}}
    metrics["final"] = {**row, "class_ap": 52.5, "class_ap_of": {"mouse": 100.0}}
    table = format_table(metrics)
    assert "final +12.5" in table and "100.0" in table
