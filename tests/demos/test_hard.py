import json
import math
from functools import partial

import pytest

from iterative_reasoning.cli import main
from iterative_reasoning.data.synthetic.hard import GROUPS
from iterative_reasoning.demos.hard import (
    ABLATION_ROWS,
    MAIN_ROWS,
    HardBenchmarkConfig,
    format_tables,
    run_hard_benchmark,
    summarize,
)
from iterative_reasoning.recipes import synthetic


def _metrics(class_ap, members_ap):
    row = {"instance_ap": class_ap, "instance_ac": class_ap, "class_ap": class_ap}
    row["class_ac"] = class_ap
    row["class_ap_of"] = {m: members_ap for g in GROUPS for m in g.members}
    return row


def test_summarize_gives_the_mean_and_sample_std_over_seeds():
    runs = [
        {"baseline": _metrics(50.0, 40.0), "final": _metrics(60.0, 70.0)},
        {"baseline": _metrics(52.0, 44.0), "final": _metrics(64.0, 80.0)},
        {"baseline": _metrics(54.0, 48.0), "final": _metrics(68.0, 90.0)},
    ]
    summary = summarize(runs)
    assert summary["baseline"]["class_ap"] == pytest.approx((52.0, 2.0))
    assert summary["final"]["instance_ac"] == pytest.approx((64.0, 4.0))
    assert summary["final"]["band"] == pytest.approx((80.0, 10.0))
    main_table, ablations = format_tables(
        summary, {"instance_ac": 90.0, "groups": {g.name: 80.0 for g in GROUPS}}, 3
    )
    assert "64.0 ± 4.0" in main_table and "ceiling" in main_table and "final +12.0" in main_table
    assert "the final model's inst AC is 26.0 below the ceiling" in main_table
    assert ablations.splitlines()[3].startswith("final")  # title, header, rule, final


def test_the_hard_benchmark_runs_each_seed_and_resumes(tmp_path, wordnet):
    config = HardBenchmarkConfig(seeds=2)
    config.demo = config.demo.scaled(0.02)
    out = tmp_path / "hard"
    # a head of one's own, compared beside the paper's: here the global head under another
    # name, which trains on the same seed to the same scores
    mine = {"my_global": partial(synthetic.head, "global")}
    first = run_hard_benchmark(out, config, progress=False, lexicon=wordnet, heads=mine)
    assert set(first.summary) == set(MAIN_ROWS) | set(ABLATION_ROWS) | {"my_global"}
    assert first.summary["my_global"] == first.summary["global"]
    assert "my_global" in first.tables[0]
    assert all(math.isfinite(v[1]) for row in first.summary.values() for v in row.values())
    assert [p.name for p in first.figures] == ["class_ap_by_model.png"]
    assert first.figures[0].stat().st_size > 10_000
    assert 0 < first.ceiling["instance_ac"] <= 100
    written = json.loads((out / "summary.json").read_text())
    assert set(written["per_seed"]) == {"0", "1"}
    # the seeds' data are disjoint: seed k trains on split 2k and tests on 2k + 1
    stamps = [json.loads((out / f"seed-{k}" / "data" / "written.json").read_text()) for k in (0, 1)]
    assert [s["seed"] for s in stamps] == [0, 2] and stamps[0]["benchmark"] == "hard"
    # the class graph holds the statistics of the training split
    from knowledge_graphs import ClassGraph

    graph = ClassGraph.load(out / "seed-0" / "class_graph.json.gz")
    assert "statistics" in graph.provenance["mined"] and "co_occurs_with" in graph.relations
    again = run_hard_benchmark(
        out, config, progress=False, figures=False, lexicon=wordnet, heads=mine
    )
    assert all(s == 0.0 for s in again.seconds.values())
    assert again.summary == first.summary and again.tables == first.tables
    # the training seconds stay those measured when the models were trained
    resumed = json.loads((out / "summary.json").read_text())
    assert resumed["train_seconds"] == written["train_seconds"]
    assert all(resumed["train_seconds"][str(k)] >= first.seconds[k] > 0 for k in (0, 1))


def test_cli_hard_benchmark_errors(tmp_path, capsys):
    argv = ["demo", "--benchmark", "hard", "--seeds", "0", "--output-dir", str(tmp_path)]
    assert main(argv) == 2
    assert "--seeds must be positive" in capsys.readouterr().err
    argv = ["demo", "--task", "detection", "--benchmark", "hard", "--output-dir", str(tmp_path)]
    assert main(argv) == 2
    assert "--benchmark hard goes with --task classification" in capsys.readouterr().err


def test_a_head_of_one_s_own_must_not_take_a_demo_model_s_name(tmp_path):
    from iterative_reasoning.demos.classification import DemoConfig, run_demo

    with pytest.raises(ValueError, match=r"must not reuse the names.*'final'"):
        run_demo(tmp_path, DemoConfig(), heads={"final": partial(synthetic.head, "final")})
    assert not any(tmp_path.iterdir())  # refused before writing anything
