"""Process-wide settings, made by the entry points and never by an import.

The entry points are the ``smbml`` command (`smbml_connect.cli.main`, also behind
``python -m smbml_connect``), the xlwings add-in module that Excel's Python imports
(`smbml_connect.excel_addin.udfs`) and the test workers (tests/conftest.py). A
program that imports smbml_connect as a library keeps its own settings.
"""

from __future__ import annotations

import gc
import os
from collections.abc import MutableMapping

__all__ = ["freeze_loaded_objects", "prefer_passive_openmp_waits"]


def prefer_passive_openmp_waits(environ: MutableMapping[str, str] = os.environ) -> None:
    """Let idle OpenMP threads (LightGBM, scikit-learn) sleep instead of spinning.

    By default they spin while they wait for work. When anything else keeps the cores
    busy (a second run, Excel's recalculation, a test worker) the spinning threads steal
    each other's time slices: two sample runs side by side took 262 s each instead of
    51 s. Sleeping waits cost little when the machine is idle (38 s against 39 s alone).
    The OpenMP runtime reads this once, when it loads, so call this before anything
    imports LightGBM or scikit-learn; the user's own setting wins.
    """
    environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def freeze_loaded_objects() -> None:
    """Hide everything loaded so far from the cyclic garbage collector's full passes.

    Call once, after the imports and before any thread starts. `smbml serve` holds
    ~140,000 objects from its imports (pandas, scikit-learn, LightGBM); a request that
    makes many containers (scoring 100,000 rows makes one list of reasons per row) sets
    off full collections that walk all of them: the reasons take ~0.22 s instead of
    ~0.15 s. Frozen, they are skipped. Nothing frozen is ever freed, which for objects
    loaded once for the life of the process is no loss. Unlike `gc.disable()` around a
    computation, this is safe with threads: it is done once, before any start.
    """
    gc.collect()
    gc.freeze()
