import importlib
import json
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def load(name, monkeypatch):
    # importable by name, so that the benchmark's child processes (spawn) can import it too
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    return importlib.import_module(name)


def test_global_module_benchmark_runs_and_writes_json(tmp_path, capsys, monkeypatch):
    out = tmp_path / "figures.json"
    bench = load("global_module", monkeypatch)
    bench.main(
        [
            "--regions",
            "12",
            "--classes",
            "40",
            "80",
            "--relations",
            "3",
            "--channels",
            "16",
            "--repeats",
            "1",
            "--dense-max-classes",
            "40",
            "--json",
            str(out),
        ]
    )
    figures = json.loads(out.read_text())["results"]
    assert [r["classes"] for r in figures] == [40, 80]
    small, large = figures
    assert small["max_abs_difference"] < 1e-4  # dense and fast compute the same equations
    assert small["speedup"] > 0 and "dense_s" not in large
    assert "speedup" in capsys.readouterr().out


def test_global_module_benchmark_on_a_shipped_graph(tmp_path, capsys, monkeypatch):
    out = tmp_path / "figures.json"
    bench = load("global_module", monkeypatch)
    argv = ["--real-graph", "imagenet1k", "--regions", "6", "--classes", "50"]
    bench.main([*argv, "--channels", "8", "--repeats", "1", "--json", str(out)])
    figures = json.loads(out.read_text())["results"]
    assert [(r["regions"], r["graph"], r["classes"]) for r in figures] == [
        (6, "random", 50),
        (6, "imagenet1k", 1001),  # its classes and background
    ]
    assert figures[1]["relations"] == 5 and figures[1]["class_edges"] == 5000 + 2 * 88
    assert "time ratio" in capsys.readouterr().out


def test_spatial_memory_benchmark_runs_and_writes_json(tmp_path, capsys, monkeypatch):
    out = tmp_path / "figures.json"
    bench = load("spatial_memory", monkeypatch)
    bench.main(
        [
            "--regions",
            "20",
            "--grid",
            "10",
            "12",
            "--channels",
            "16",
            "--repeats",
            "1",
            "--json",
            str(out),
        ]
    )
    result = json.loads(out.read_text())["result"]
    assert result["max_abs_difference"] < 1e-5  # the sparse and the naive paste agree
    assert result["speedup"] > 0 and result["naive_peak_mib"] > 0
    assert "peak memory ratio" in capsys.readouterr().out


def test_head_overhead_benchmark_runs_and_writes_json(tmp_path, capsys, monkeypatch):
    out = tmp_path / "figures.json"
    bench = load("head_overhead", monkeypatch)
    bench.main(
        [
            "--size",
            "96",
            "128",
            "--regions",
            "5",
            "--classes",
            "12",
            "--fc-channels",
            "32",
            "--repeats",
            "1",
            "--json",
            str(out),
        ]
    )
    result = json.loads(out.read_text())["result"]
    assert result["full_s"] > 0 and result["plain_s"] > 0 and result["head_mparams"] > 0
    assert "full / plain" in capsys.readouterr().out


def test_detection_overhead_benchmark_runs_and_writes_json(tmp_path, capsys, monkeypatch):
    out = tmp_path / "figures.json"
    bench = load("detection_overhead", monkeypatch)
    argv = ["--size", "96", "--reasoned-boxes", "5", "all", "--fc-channels", "16"]
    bench.main([*argv, "--repeats", "1", "--json", str(out)])
    result = json.loads(out.read_text())["result"]
    assert [r["reasoned_boxes"] for r in result["rows"]] == ["5", "all"]
    assert result["plain_s"] > 0 and all(r["overhead"] > 0 for r in result["rows"])
    assert result["proposals"] > 5
    assert "with the head, k = all" in capsys.readouterr().out
    light = bench.main([*argv[:3], "5", *argv[5:], "--repeats", "1", "--head-size", "light"])
    assert light["head_mparams"] < result["head_mparams"] / 3
    printed = capsys.readouterr().out
    assert "of size light (T = 2, fc 4, memory 256, hidden 256, 3 context layers" in printed
    bench.main([*argv[:3], "1", *argv[5:], "--repeats", "1", "--clear-initial-context"])
    assert "initial context cleared before every run" in capsys.readouterr().out
    scripted = bench.main([*argv[:3], "1", *argv[5:], "--repeats", "1", "--scripted"])
    assert "both scripted (torch.jit.script)" in capsys.readouterr().out
    assert scripted["rows"][0]["overhead"] > 0


def test_head_syncs_counts_and_restores(tmp_path, capsys, monkeypatch):
    import torch

    item, nonzero = torch.Tensor.item, torch.nonzero
    bench = load("head_syncs", monkeypatch)
    out = tmp_path / "syncs.json"
    result = bench.main(["--regions", "12", "--images", "2", "--json", str(out)])
    assert result == json.loads(out.read_text())
    assert result["total"] == sum(result["by_kind"].values()) == sum(result["by_line"].values())
    # the input checks read their values on the host once (one device); every line named is
    # the package's
    checks = {k: n for k, n in result["by_line"].items() if k.startswith("iterative_reasoning/_")}
    assert sum(checks.values()) == 1, checks
    assert all(line.startswith("iterative_reasoning/") for line in result["by_line"])
    assert torch.Tensor.item is item and torch.nonzero is nonzero  # unwrapped again
    with bench.counting() as counts:
        torch.tensor([1.0]).item()
        bool(torch.tensor(True))
    assert sum(counts.values()) == 2


def test_head_profile_runs_and_writes_json(tmp_path, capsys, monkeypatch):
    out = tmp_path / "profile.json"
    bench = load("head_profile", monkeypatch)
    argv = ["--size", "96", "--reasoned-boxes", "5", "--train-samples", "16", "--fc-channels", "16"]
    bench.main([*argv, "--json", str(out), "--head-size", "light"])
    result = json.loads(out.read_text())["result"]
    row = result["inference"]["5"]
    assert {"head.local.write", "head.local.read", "head.global"} <= set(row["steps_s"])
    assert 0 < sum(row["steps_s"].values()) and row["operators"][0]["name"].startswith("aten::")
    assert set(result["training"]) == {"16"}
    assert result["inference"]["5"]["gmacs"] > result["inference"]["plain"]["gmacs"] > 0
    printed = capsys.readouterr().out
    assert "training step" in printed and "head of size light" in printed
    assert "multiply-adds of one image" in printed


@pytest.mark.slow
def test_head_compile_runs_and_matches_eager(tmp_path, capsys, monkeypatch):
    out = tmp_path / "compile.json"
    bench = load("head_compile", monkeypatch)
    argv = ["--size", "96", "--reasoned-boxes", "5", "--fc-channels", "16", "--repeats", "1"]
    bench.main([*argv, "--json", str(out)])
    (row,) = json.loads(out.read_text())["result"]["rows"]
    for part in ("head", "global_fullgraph"):
        assert row[part]["max_abs_difference"] < 1e-4, part
        assert row[part]["eager_s"] > 0 and row[part]["compiled_s"] > 0, part
    assert "global_fullgraph" in capsys.readouterr().out
