"""benchmarks/files_load.py, the source of the large-file figures in docs (Known gaps),
runs: it called ``pipeline._load`` without the ``money`` argument stop 55 added, so
``--rows 1000`` as the docs cite it failed with a TypeError and no figure could be
measured again."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

BENCHMARK = Path(__file__).parents[1] / "benchmarks" / "files_load.py"


def _benchmark() -> ModuleType:
    spec = importlib.util.spec_from_file_location("files_load_benchmark", BENCHMARK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("kind", ["load", "reload"])
def test_the_load_benchmark_measures_a_small_file(tmp_path: Path, kind: str):
    bench = _benchmark()
    path = tmp_path / "orders.csv"
    bench.write_orders(path, 300)
    figures = bench.measure(kind, path)
    assert figures["rows"] == (300 if kind == "load" else 299)
    assert figures["cpu_seconds"] >= 0 and figures["peak_rss_mb"] > 0


def test_a_ratio_to_a_time_too_short_to_measure_is_none_not_a_crash():
    """``--rows 1000``: pandas reads it in under 5 ms, rounded to 0.0, and the benchmark
    stopped with a ZeroDivisionError before printing any figure."""
    bench = _benchmark()
    assert bench._ratio(0.1, 0.0) is None
    assert bench._ratio(3.0, 1.5) == 2.0
    assert bench._ratio(0.111, 1.0, 3) == 0.111
