"""Importing smbml_connect changes nothing in the process; the entry points make the settings.

Each check runs in a fresh interpreter with a clean environment, since this test
process has long since imported everything (and conftest, a test entry point, made its
own settings).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Excel's Python imports the xlwings module to serve the functions: that import is an
# entry point, so it alone may make settings (it needs pywin32, absent here, anyway).
ENTRY_MODULES = {"smbml_connect.__main__", "smbml_connect.excel_addin.udfs"}

PROBE = """
import gc, importlib, json, os, pkgutil, sys
def state():
    return {"environ": dict(os.environ), "gc_enabled": gc.isenabled(),
            "gc_threshold": gc.get_threshold(), "gc_frozen": gc.get_freeze_count()}
import sklearn  # sets KMP_DUPLICATE_LIB_OK and KMP_INIT_AT_FORK at import: its effect, not ours
before = state()
import smbml_connect
names = sorted(m.name for m in pkgutil.walk_packages(smbml_connect.__path__, "smbml_connect."))
skipped = set(json.loads(sys.argv[1]))
for name in names:
    if name not in skipped:
        importlib.import_module(name)
after = state()
print(json.dumps({"before": before, "after": after, "imported": len(names) - len(skipped)}))
"""

OPENMP_PROBE = """
import importlib, sys
importlib.import_module(sys.argv[1])
with open("/proc/self/maps") as maps:
    names = {line.split()[-1].rsplit("/", 1)[-1] for line in maps if "/" in line}
print(sorted(n for n in names if n.startswith(("libgomp", "libomp", "libiomp"))))
"""


def _clean_env() -> dict[str, str]:
    keep = ("PATH", "HOME", "SYSTEMROOT", "TMPDIR")
    return {k: os.environ[k] for k in keep if k in os.environ} | {"PYTHONPATH": str(ROOT)}


def _python(code: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip().splitlines()[-1]


def test_importing_every_module_changes_no_environment_or_collector_setting():
    found = json.loads(_python(PROBE, json.dumps(sorted(ENTRY_MODULES))))
    assert found["imported"] > 50  # the walk really imported the package
    before, after = found["before"], found["after"]
    assert "OMP_WAIT_POLICY" not in after["environ"]
    assert after["environ"] == before["environ"]
    assert (after["gc_enabled"], after["gc_threshold"], after["gc_frozen"]) == (
        before["gc_enabled"],
        before["gc_threshold"],
        before["gc_frozen"],
    )


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="needs Linux's /proc")
def test_the_command_module_loads_no_openmp_so_main_can_still_set_its_wait_policy():
    # OpenMP reads OMP_WAIT_POLICY once, when it loads: `smbml` imports smbml_connect.cli
    # and only then calls main(), so that import must not load it.
    assert _python(OPENMP_PROBE, "smbml_connect.cli") == "[]"
    assert _python(OPENMP_PROBE, "lightgbm") != "[]"  # the probe does see OpenMP


def test_main_sets_the_wait_policy_and_the_users_own_setting_wins(monkeypatch):
    from smbml_connect import cli

    monkeypatch.setattr(sys, "argv", ["smbml", "--version"])
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    with pytest.raises(SystemExit):
        cli.main()
    assert os.environ["OMP_WAIT_POLICY"] == "PASSIVE"
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    with pytest.raises(SystemExit):
        cli.main()
    assert os.environ["OMP_WAIT_POLICY"] == "ACTIVE"


def test_process_wide_settings_are_made_in_one_module_only():
    # gc.disable() around a computation is not safe under `smbml serve`'s threads (one
    # thread's enable ends another's hold, and every other thread's garbage waits).
    changes = re.compile(
        r"os\.environ(\[[^]]*\] *=|\.setdefault|\.update|\.pop)|os\.putenv|"
        r"gc\.(disable|enable|freeze|set_threshold)\(|warnings\.(filterwarnings|simplefilter)\("
    )
    package = ROOT / "smbml_connect"
    found = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in sorted(package.rglob("*.py"))
        if path.name != "runtime.py"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if changes.search(line)
    ]
    assert found == []
