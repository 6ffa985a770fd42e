"""One entry point that needs only Python 3.11+: set up .venv if needed, then run.

    python3 quickstart.py demo [smbml demo options]   # the main job on the sample business
    python3 quickstart.py test [pytest options]       # lint, layers, types and the test suite
    python3 quickstart.py smbml [command ...]         # any smbml command, e.g. `smbml status`

The virtual environment is (re)installed only when pyproject.toml changed since the
last install, so repeated runs start at once. `test` also installs Chromium and
LibreOffice from Debian's packages when it runs as root (the report and print tests
drive them); without them those tests are skipped with the reason.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
STAMP = VENV / ".smbml-installed"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")


def _wanted_stamp() -> str:
    return hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()


def ensure_venv() -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 - this script runs before the venv exists
        sys.exit(f"smbml_connect needs Python 3.11 or newer; this is {sys.version.split()[0]}.")
    if not PYTHON.exists():
        print(f"Creating a virtual environment in {VENV} ...", flush=True)
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    if STAMP.exists() and STAMP.read_text().strip() == _wanted_stamp():
        return
    print("Installing smbml_connect and its dependencies (first run only) ...", flush=True)
    subprocess.run(
        [
            str(PYTHON),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-e",
            f"{ROOT}[dev]",
        ],
        check=True,
    )
    STAMP.write_text(_wanted_stamp())


def ensure_node_tools() -> None:
    """Microsoft's add-in tools for the Office.js tests (npm ci from the lock file)."""
    addin = ROOT / "excel_addin"
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        print("node/npm not found: the Office.js add-in tests will be skipped.", flush=True)
        return
    lock = hashlib.sha256((addin / "package-lock.json").read_bytes()).hexdigest()
    stamp = addin / "node_modules" / ".smbml-installed"
    if stamp.exists() and stamp.read_text().strip() == lock:
        return
    print("Installing the add-in's test tools with npm (first run only) ...", flush=True)
    if subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=addin).returncode:
        sys.exit("npm ci failed in excel_addin/ (see above): the Office.js tests need its tools.")
    stamp.write_text(lock)


# Programs from the system's packages that some tests drive: (names on PATH, Debian
# package, apt-get options, what is skipped without it).
SYSTEM_TOOLS = (
    (("chromium", "chromium-browser"), "chromium", [], "the report's phone and desktop layout tests"),
    (("soffice", "libreoffice"), "libreoffice-calc-nogui", ["--no-install-recommends"],
     "the workbook's printed page count test"),
)  # fmt: skip


def ensure_system_tools() -> None:
    """Chromium and LibreOffice from Debian's packages when this user may install them;
    otherwise the tests that need them are skipped, and this says why."""
    for names, package, options, needed_by in SYSTEM_TOOLS:
        if any(shutil.which(name) for name in names):
            continue
        apt = shutil.which("apt-get")
        root = hasattr(os, "geteuid") and os.geteuid() == 0
        if apt is None or not root:
            why = "no apt-get here" if apt is None else "installing needs root"
            print(f"{names[0]} not found ({why}): {needed_by} will be skipped.", flush=True)
            continue
        print(f"Installing {package} from the Debian packages (first run only) ...", flush=True)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        install = [apt, "install", "-y", "-q", *options, package]
        done = subprocess.run(install, env=env, stdout=subprocess.DEVNULL).returncode == 0
        if not done:  # a fresh machine may not have read the package lists yet
            subprocess.run([apt, "update", "-q"], env=env, stdout=subprocess.DEVNULL)
            done = subprocess.run(install, env=env, stdout=subprocess.DEVNULL).returncode == 0
        if not done:
            print(f"{package} could not be installed: {needed_by} will be skipped.", flush=True)


def next_steps() -> None:
    """Where the `smbml` command is: the README's commands after the demo use it."""
    here = Path.cwd().resolve()
    where = VENV.relative_to(here) if VENV.is_relative_to(here) else VENV
    if os.name == "nt":
        activate = str(where / "Scripts" / "activate")
    else:
        activate = f"source {where / 'bin' / 'activate'}"
    print(
        f"\nTo use the smbml command (smbml status, smbml run -c smbml.toml, ...): run "
        f"`{activate}` once per terminal, or call {BIN / 'smbml'} directly.",
        flush=True,
    )


def run(args: list[str], cwd: Path | None = None) -> int:
    """``smbml`` runs in the caller's folder (results land there); tests run from ROOT."""
    return subprocess.run(args, cwd=cwd).returncode


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"demo", "test", "smbml"}:
        print(__doc__)
        return 2
    ensure_venv()
    command, rest = argv[0], argv[1:]
    if command == "demo":
        code = run([str(BIN / "smbml"), "demo", *rest])
        if code == 0 and "--help" not in rest:
            next_steps()
        return code
    if command == "smbml":
        return run([str(BIN / "smbml"), *rest])
    checks = (
        ["-m", "ruff", "check", "."],
        ["-m", "ruff", "format", "--check", "."],
        # The layers (pyproject.toml, [tool.importlinter]): imports point down only.
        ["-c", "import sys; from importlinter.cli import lint_imports_command as c; sys.exit(c())"],
        ["-m", "mypy"],  # [tool.mypy]: the package; protocol_checks.py holds the protocols
    )
    for check in checks:
        code = run([str(PYTHON), *check], cwd=ROOT)
        if code:
            return code
    ensure_node_tools()
    ensure_system_tools()
    workers = ["-n", "2"] if "-n" not in rest else []
    return run([str(PYTHON), "-m", "pytest", *workers, *rest], cwd=ROOT)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
