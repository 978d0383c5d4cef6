import importlib
import json
from pathlib import Path

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
