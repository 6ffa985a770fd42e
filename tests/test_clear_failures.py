"""What a user's machine does to a run (a file Excel holds open, a read-only store, a
config saved by Notepad, Ctrl+C, a home folder it cannot write): one clear line that says
what to do, the run recorded as failed when it had started; never "unexpected", never a
traceback (find52_cli items 4-10)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from shops import write_tiny_shop

from smbml_connect.cli import cli
from smbml_connect.registry import load_config
from smbml_connect.schedule import run_once
from smbml_connect.store import Store

ROOT = Path(__file__).resolve().parents[1]


def _quick(config: Path, **lines: str) -> Path:
    """The tiny shop's config with no analytics (a run of well under a second), plus lines."""
    text = config.read_text().replace("[analytics]\n", "[analytics]\nenabled = []\n")
    config.write_text(text + "".join(f"{k} = {v}\n" for k, v in lines.items()))
    return config


def _smbml(*args: str, home: Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """`smbml ...` as a user starts it: its own process, a fresh home, no keyring."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(ROOT),
        "HOME": str(home),
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_STATE_HOME": str(home / "state"),
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
        "OMP_NUM_THREADS": "1",
    }
    return subprocess.run(
        [sys.executable, "-m", "smbml_connect", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=cwd,
    )


def _runs(store: Path) -> list[tuple[str, str, str | None]]:
    with Store(store) as opened:
        runs = opened.runs(20)
    return [(r.kind, r.status, r.error) for r in runs.itertuples()][::-1]


def _one_clear_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr and "unexpected" not in stderr, stderr
    return lines[0]


# -- item 6: a config file saved by Windows editors ------------------------------------------


def test_a_config_with_a_byte_order_mark_is_read_and_one_in_ansi_names_its_line(tmp_path: Path):
    """PowerShell's `Out-File -Encoding utf8` and older Notepad begin the file with an
    invisible BOM (said "not valid TOML ... at line 1, column 1"); Notepad's "ANSI" writes
    é as one byte (said "unexpected UnicodeDecodeError")."""
    config = _quick(write_tiny_shop(tmp_path / "shop"))
    text = config.read_text()
    bom = config.with_name("bom.toml")
    bom.write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode("utf-8"))
    assert load_config(bom).source.kind == "files"
    ansi = config.with_name("ansi.toml")
    ansi.write_bytes(("# Boutique de Zoé\n" + text).encode("cp1252"))
    from smbml_connect.errors import ConfigError

    with pytest.raises(
        ConfigError, match=r"ansi\.toml is not UTF-8 text: line 1 .*save ansi\.toml as UTF-8"
    ):
        load_config(ansi)
    home = tmp_path / "home"
    ran = _smbml(
        "--log-file", str(tmp_path / "log.txt"), "run", "-c", str(bom), "--quiet", home=home
    )
    assert ran.returncode == 0, ran.stderr
    for args in (["run", "-c", str(ansi)], ["run", "-c", str(ansi), "--source", "files"],
                 ["inspect", "-c", str(ansi)], ["status", "-c", str(ansi)]):  # fmt: skip
        said = _smbml("--log-file", str(tmp_path / "log.txt"), *args, home=home)
        assert said.returncode == 2, (args, said.stderr)
        assert "save ansi.toml as UTF-8" in _one_clear_line(said.stderr)
    scheduled = _smbml(
        "--log-file", str(tmp_path / "log.txt"), "schedule", "-c", str(ansi), "--once",
        "--store", str(tmp_path / "shop" / "shop.sqlite"), home=home,
    )  # fmt: skip
    assert scheduled.returncode == 1, scheduled.stderr
    assert "save ansi.toml as UTF-8" in scheduled.stdout
    assert [(k, s) for k, s, _ in _runs(tmp_path / "shop" / "shop.sqlite")] == [
        ("run", "ok"),
        ("scheduled", "failed"),
    ]


# -- item 8: a log folder that cannot be made --------------------------------------------------


def test_a_home_without_a_log_folder_runs_on_and_a_chosen_log_that_cannot_be_written_is_one_line(
    tmp_path: Path,
):
    """A service account whose home cannot be written (cron's `nobody`): every command
    printed five chained tracebacks and "error: unexpected ... (details in None)"."""
    config = _quick(write_tiny_shop(tmp_path / "shop"))
    home = tmp_path / "home"
    home.write_text("a file where the home folder should be: nothing can be made in it")
    ran = _smbml("run", "-c", str(config), "--quiet", home=home)
    assert ran.returncode == 0, ran.stderr
    warning = _one_clear_line(ran.stderr)
    assert warning.startswith("warning: cannot write the log in") and "--log-file" in warning
    assert "Loaded 10 contacts" in ran.stdout
    status = _smbml("status", "-c", str(config), home=home)
    assert status.returncode == 0 and "run 1 [run] ok" in status.stdout, status.stderr
    chosen = _smbml("--log-file", str(home / "smbml.log"), "status", "-c", str(config), home=home)
    assert chosen.returncode == 2, chosen.stderr
    line = _one_clear_line(chosen.stderr)
    assert line.startswith(f"error: cannot write the log file {home / 'smbml.log'}"), line
    assert "None" not in line


# -- item 5: a store that cannot be written -------------------------------------------------


@pytest.fixture
def read_only(monkeypatch: pytest.MonkeyPatch) -> Callable[[Path], None]:
    """Make a store read-only as a backup copy or a read-only share is: its mode, and for
    root (whom modes do not bind) SQLite's own read-only switch, which refuses the same way."""
    opened = Store.__init__
    paths: set[Path] = set()

    def init(self: Store, path: str | Path | None = None, *args: Any, **kwargs: Any) -> None:
        opened(self, path, *args, **kwargs)
        if self.path in paths:
            self._conn.execute("PRAGMA query_only = ON")

    monkeypatch.setattr(Store, "__init__", init)

    def make(path: Path) -> None:
        path.chmod(0o444)
        paths.add(path)

    return make


def test_a_read_only_store_is_one_line_in_run_and_schedule(tmp_path: Path, read_only):
    """It said "unexpected OperationalError: attempt to write a readonly database", and a
    scheduled run logged a second traceback trying to record the failure there."""
    config = _quick(write_tiny_shop(tmp_path / "shop"))
    log = str(tmp_path / "log.txt")
    first = CliRunner().invoke(cli, ["--log-file", log, "run", "-c", str(config), "--quiet"])
    assert first.exit_code == 0, first.output
    store = tmp_path / "shop" / "shop.sqlite"
    read_only(store)
    said = CliRunner().invoke(cli, ["--log-file", log, "run", "-c", str(config), "--quiet"])
    assert said.exit_code == 7, said.output
    assert said.output.strip() == (
        f"error: the store {store} is read-only (the file, or the folder it is in): make both "
        "writable, or set store to a file in a folder you can write"
    )
    outcome = run_once(config)
    assert outcome.status == "failed" and "is read-only" in outcome.message
    shown = CliRunner().invoke(cli, ["--log-file", log, "status", "-c", str(config)])
    assert shown.exit_code == 0 and "run 1 [run] ok" in shown.output  # still readable
    assert "Traceback" not in Path(log).read_text().split("is read-only")[-1]


# -- item 4: a source file that cannot be opened ----------------------------------------------


@pytest.fixture
def held_open(monkeypatch: pytest.MonkeyPatch) -> set[Path]:
    """Files that refuse to open as Windows refuses a file Excel has open (a sharing
    violation, which Python raises as PermissionError 13), or a file the user may not read."""
    held: set[Path] = set()
    real = Path.open

    def open_(self: Path, *args: Any, **kwargs: Any) -> Any:
        if self.resolve() in held:
            raise PermissionError(13, "Permission denied", str(self))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", open_)
    return held


def test_a_file_excel_holds_open_is_one_line_and_the_run_is_recorded(tmp_path: Path, held_open):
    """It was "unexpected PermissionError: [Errno 13] Permission denied: '.../Orders.csv'"
    (exit 70), and `smbml status` showed no run."""
    config = _quick(write_tiny_shop(tmp_path / "shop"))
    log = str(tmp_path / "log.txt")
    held_open.add((tmp_path / "shop" / "Orders.csv").resolve())
    line = (
        "error: cannot read Orders.csv: permission denied (close it if Excel or another "
        "program has it open, or let your user read it; then run again)"
    )
    ran = CliRunner().invoke(cli, ["--log-file", log, "run", "-c", str(config), "--quiet"])
    assert (ran.exit_code, ran.output.strip()) == (5, line)
    shown = CliRunner().invoke(cli, ["--log-file", log, "inspect", "-c", str(config)])
    assert (shown.exit_code, shown.output.strip()) == (5, line)
    outcome = run_once(config)
    assert (outcome.status, f"error: {outcome.message}") == ("failed", line)
    store = tmp_path / "shop" / "shop.sqlite"
    assert _runs(store) == [("run", "failed", line[7:]), ("scheduled", "failed", line[7:])]
    held_open.clear()  # Excel closed: the next run reads everything
    again = CliRunner().invoke(cli, ["--log-file", log, "run", "-c", str(config), "--quiet"])
    assert again.exit_code == 0 and "20 orders" in again.output, again.output
    status = CliRunner().invoke(cli, ["--log-file", log, "status", "-c", str(config)])
    assert "problem: cannot read Orders.csv: permission denied" in status.output


def test_a_workbook_or_a_folder_that_cannot_be_read_is_one_line(tmp_path: Path, held_open):
    config = _quick(write_tiny_shop(tmp_path / "shop"))
    book = tmp_path / "shop.xlsx"
    import pandas as pd

    with pd.ExcelWriter(book) as writer:
        for name in ("Customers", "Orders"):
            pd.read_csv(tmp_path / "shop" / f"{name}.csv").to_excel(
                writer, sheet_name=name, index=False
            )
    workbook = config.with_name("book.toml")
    workbook.write_text(config.read_text().replace('path = "."', f'path = "{book.as_posix()}"'))
    held_open.add(book.resolve())
    log = str(tmp_path / "log.txt")
    ran = CliRunner().invoke(cli, ["--log-file", log, "run", "-c", str(workbook), "--quiet"])
    assert ran.exit_code == 5 and "cannot read shop.xlsx: permission denied" in ran.output
    folder = tmp_path / "shop"
    real = Path.iterdir

    def iterdir(self: Path) -> Any:
        if self.resolve() == folder.resolve():
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Path, "iterdir", iterdir)
        listed = CliRunner().invoke(cli, ["--log-file", log, "inspect", "-c", str(config)])
    assert listed.exit_code == 5 and "cannot read shop: permission denied" in listed.output


def test_a_config_in_a_folder_the_user_cannot_open_is_one_line(tmp_path: Path):
    """A config in a folder without search permission made `Path.exists()` raise: it was
    "unexpected PermissionError: [Errno 13] ..." (exit 70) for run, status and inspect."""
    config = _quick(write_tiny_shop(tmp_path / "shop"))
    real_stat, real_open = Path.stat, Path.open

    def refused(real: Callable[..., Any]) -> Callable[..., Any]:
        def call(self: Path, *args: Any, **kwargs: Any) -> Any:
            if self.name == config.name:
                raise PermissionError(13, "Permission denied", str(self))
            return real(self, *args, **kwargs)

        return call

    log = str(tmp_path / "log.txt")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Path, "stat", refused(real_stat))
        patch.setattr(Path, "open", refused(real_open))
        for command in ("run", "status", "inspect"):
            ran = CliRunner().invoke(cli, ["--log-file", log, command, "-c", str(config)])
            said = ran.output.strip()
            assert ran.exit_code in (1, 2) and "\n" not in said, (command, said)
            assert said.startswith("error: cannot ") and str(config) in said, (command, said)
            assert "permission denied" in said and "unexpected" not in said, (command, said)


# -- item 7: Ctrl+C in `smbml schedule` -------------------------------------------------------


def _default_ctrl_c() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _schedule_until(
    config: Path,
    tmp_path: Path,
    log_line: str,
    presses: int,
    command_args: tuple[str, ...] = ("schedule", "--every", "1m"),
) -> tuple[int, str, str]:
    """`smbml schedule --every 1m` (or another command), Ctrl+C pressed ``presses`` times
    once the log shows ``log_line`` (the run going, or done); exit code, stdout, stderr."""
    tmp_path.mkdir()
    log = tmp_path / "schedule.log"
    home = tmp_path / "home"
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(ROOT),
        "HOME": str(home),
        "XDG_DATA_HOME": str(home / "data"),
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
        "OMP_NUM_THREADS": "1",
    }
    name, *rest = command_args
    command = [sys.executable, "-m", "smbml_connect", "--log-file", str(log), name, "-c",
               str(config), *rest]  # fmt: skip
    out, err = tmp_path / "out.txt", tmp_path / "err.txt"
    with out.open("w") as stdout, err.open("w") as stderr:
        # Ctrl+C's default meaning in the child: a test run started in the background
        # (`.ci/run &`) inherits SIGINT ignored, Python keeps it so, and the run ignored
        # the press and finished (exit 0).
        process = subprocess.Popen(command, env=env, stdout=stdout, stderr=stderr,
                                   preexec_fn=_default_ctrl_c)  # fmt: skip
        try:
            deadline = time.monotonic() + 120
            while not (log.exists() and log_line in log.read_text()):
                assert process.poll() is None and time.monotonic() < deadline, err.read_text()
                time.sleep(0.05)
            for _ in range(presses):
                process.send_signal(signal.SIGINT)
                time.sleep(0.1)
            code = process.wait(timeout=120)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    return code, out.read_text(), err.read_text()


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="sends SIGINT")
def test_ctrl_c_in_schedule_stops_after_the_run_or_now_and_says_so_in_a_line(tmp_path: Path):
    """The first Ctrl+C did nothing until the run ended; a second printed a traceback and
    the process died of SIGABRT ("terminate called without an active exception"); a run
    stopped by Ctrl+C was recorded as "KeyboardInterrupt: "."""
    config = write_tiny_shop(tmp_path / "shop")  # every analytic: a run of a few seconds
    store = tmp_path / "shop" / "shop.sqlite"
    code, out, err = _schedule_until(config, tmp_path / "twice", "Computing", presses=2)
    assert code == 130, err
    assert err.strip() == "Stopping after the current run (Ctrl+C again to stop now)."
    assert out.splitlines()[-1] == (
        "Stopped: the run that was going is recorded as stopped by Ctrl+C."
    )
    assert _runs(store) == [("scheduled", "failed", "stopped by Ctrl+C")]
    code, out, err = _schedule_until(config, tmp_path / "once", "Computing", presses=1)
    assert code == 0, err
    assert err.strip() == "Stopping after the current run (Ctrl+C again to stop now)."
    assert " ok: " in out and out.splitlines()[-1] == "Stopped after the run.", out
    assert [s for _, s, _ in _runs(store)] == ["failed", "ok"]
    code, out, err = _schedule_until(config, tmp_path / "idle", "run 3 ok", presses=1)
    assert code == 0 and err == "" and out.splitlines()[-1] == "Stopped.", (out, err)


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="sends SIGINT")
def test_ctrl_c_in_run_says_what_stopped_and_the_run_is_recorded(tmp_path: Path):
    """`smbml run` stopped by Ctrl+C printed click's bare "Aborted!"."""
    config = write_tiny_shop(tmp_path / "shop")
    store = tmp_path / "shop" / "shop.sqlite"
    code, out, err = _schedule_until(config, tmp_path / "run", "Computing", 1, ("run",))
    assert code == 130, err
    assert err.strip() == "Stopped by Ctrl+C: `smbml status` shows the run as stopped.", err
    assert "Aborted" not in out + err
    assert _runs(store) == [("run", "failed", "stopped by Ctrl+C")]
