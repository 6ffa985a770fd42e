"""Process-wide settings, made by the entry points and never by an import.

The entry points are the ``smbml`` command (`smbml_connect.cli.main`, also behind
``python -m smbml_connect``), the xlwings add-in module that Excel's Python imports
(`smbml_connect.excel_addin.udfs`) and the test workers (tests/conftest.py). A
program that imports smbml_connect as a library keeps its own settings.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping

__all__ = ["prefer_passive_openmp_waits"]


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

