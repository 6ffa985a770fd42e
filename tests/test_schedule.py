"""The scheduler: one run at a time (even across processes and crashes), every run recorded."""

from __future__ import annotations

import faulthandler
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

import smbml_connect.schedule as schedule
from smbml_connect.cli import cli
from smbml_connect.errors import ConfigError
from smbml_connect.schedule import lock_path, parse_every, run_forever, run_once
from smbml_connect.store import Store

CSV = "order_id,customer,order date,total\nO1,C1,2025-01-02,10.5\nO2,C2,2025-01-03,7\n"


def _config(tmp_path: Path, data: Path) -> Path:
    """A files source with no analytics: runs in well under a second."""
    config = tmp_path / "smbml.toml"
    config.write_text(
        textwrap.dedent(
            f"""
            store = "store.sqlite"
            [source]
            kind = "files"
            path = "{data.as_posix()}"
            tables = {{ orders = "{data.name}" }}
            [analytics]
            enabled = []
            """
        ),
        encoding="utf-8",
    )
    return config


def _runs(tmp_path: Path) -> list[tuple[str, str, str | None]]:
    with Store(tmp_path / "store.sqlite") as store:
        runs = store.runs(20)
    return [(r.kind, r.status, r.error) for r in runs.itertuples()][::-1]


def test_parse_every() -> None:
    assert parse_every("15m") == 900 and parse_every("1h") == 3600 and parse_every("2d") == 172800
    with pytest.raises(ConfigError, match="shortest interval"):
        parse_every("10s")
    with pytest.raises(ConfigError, match=r"e\.g\. 15m"):
        parse_every("hourly")


def test_once_records_the_run(tmp_path: Path) -> None:
    data = tmp_path / "orders.csv"
    data.write_text(CSV, encoding="utf-8")
    outcome = run_once(_config(tmp_path, data))
    assert outcome.status == "ok" and "2 orders" in outcome.message
    assert _runs(tmp_path) == [("scheduled", "ok", None)]


def test_failure_before_the_pipeline_is_recorded_and_does_not_raise(tmp_path: Path) -> None:
    config = _config(tmp_path, tmp_path / "missing.csv")
    outcome = run_once(config)
    assert outcome.status == "failed" and "does not exist" in outcome.message
    assert _runs(tmp_path) == [("scheduled", "failed", outcome.message)]


def test_lock_held_by_another_process_skips_and_survives_a_crash(tmp_path: Path) -> None:
    data = tmp_path / "orders.csv"
    data.write_text(CSV, encoding="utf-8")
    config = _config(tmp_path, data)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from filelock import FileLock; "
            f"lock = FileLock({str(lock_path(tmp_path / 'store.sqlite'))!r}); lock.acquire(); "
            "print('held', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        skipped = run_once(config)
        assert skipped.status == "skipped"
        holder.send_signal(signal.SIGKILL)  # the run holding the lock crashes
        holder.wait(timeout=10)
    finally:
        holder.kill()
    after = run_once(config)  # the OS released the lock with the dead process
    assert after.status == "ok"
    assert [(k, s) for k, s, _ in _runs(tmp_path)] == [
        ("scheduled", "skipped"),
        ("scheduled", "ok"),
    ]


@pytest.fixture
def ctrl_c_raises() -> Iterator[None]:
    """Ctrl+C as a terminal delivers it, whatever this process inherited, and a bounded wait.

    A shell without job control starts `cmd &` with SIGINT ignored, and Python then installs
    no KeyboardInterrupt handler: the SIGINT below did nothing and the test hung a CI run.
    """
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    faulthandler.dump_traceback_later(120, exit=True)  # a hang ends the worker, with stacks
    try:
        yield
    finally:
        faulthandler.cancel_dump_traceback_later()
        signal.signal(signal.SIGINT, previous)


@pytest.mark.usefixtures("ctrl_c_raises")
def test_forever_keeps_going_after_a_failed_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "orders.csv"
    config = _config(tmp_path, data)  # the file does not exist yet: the first run fails
    monkeypatch.setattr(schedule, "parse_every", lambda _: 1)
    outcomes = []

    def seen(outcome: schedule.Outcome) -> None:
        outcomes.append(outcome)
        if len(outcomes) == 1:
            data.write_text(CSV, encoding="utf-8")  # the user fixes the problem
        if len(outcomes) == 2:
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl+C

    run_forever(config, every="1s", on_outcome=seen)
    assert [o.status for o in outcomes] == ["failed", "ok"]
    assert [s for _, s, _ in _runs(tmp_path)] == ["failed", "ok"]


@pytest.mark.usefixtures("ctrl_c_raises")
@pytest.mark.skipif(sys.platform == "win32", reason="sends SIGINT")
def test_two_quick_ctrl_c_during_a_long_c_call_stop_now(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Python runs a handler between bytecodes: two presses while the run sat in one C call
    reached it as one, the run went on to the end and the next began (a CI run saw it)."""
    asked = []

    def busy_run(config_path: Path, store_path: Path | None = None) -> schedule.Outcome:
        # A read restarted by the kernel after each signal (no EINTR back to Python), like
        # a model fit in C: both presses land before any Python handler can run.
        signal.siginterrupt(signal.SIGINT, False)
        presser = subprocess.Popen(
            ["sh", "-c", f"kill -INT {os.getpid()}; sleep 0.2; kill -INT {os.getpid()}; "
             "sleep 0.2; echo done"],
            stdout=subprocess.PIPE,
        )  # fmt: skip
        assert presser.stdout is not None
        assert presser.stdout.read(4) == b"done"
        presser.wait()
        return schedule.Outcome("ok", None, "run 1 ok")

    monkeypatch.setattr(schedule, "run_once", busy_run)
    stopped = run_forever(tmp_path / "x.toml", every="1h", on_stop_asked=lambda: asked.append(1))
    assert (stopped, asked) == ("now", [1])


def test_cron_expressions_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--cron"):
        run_forever(tmp_path / "x.toml", cron="61 * * * *")
    with pytest.raises(ConfigError, match="either --every"):
        run_forever(tmp_path / "x.toml")


def test_cli_schedule_once(tmp_path: Path) -> None:
    data = tmp_path / "orders.csv"
    data.write_text(CSV, encoding="utf-8")
    config = _config(tmp_path, data)
    result = CliRunner().invoke(
        cli, ["--log-file", str(tmp_path / "log.txt"), "schedule", "-c", str(config), "--once"]
    )
    assert result.exit_code == 0, result.output
    assert "ok: 2 orders" in result.output
    bad = CliRunner().invoke(
        cli, ["--log-file", str(tmp_path / "log.txt"), "schedule", "-c", str(config)]
    )
    assert bad.exit_code == 2 and "give --every, --cron or --once" in bad.output


def test_a_manual_run_waits_for_no_one_and_does_not_run_beside_a_scheduled_one(
    tmp_path: Path,
) -> None:
    """`smbml run` takes the scheduled run's lock: two runs at once would write one store
    and one set of result tabs together, each tab from whichever run finished it last."""
    from filelock import FileLock

    data = tmp_path / "orders.csv"
    data.write_text(CSV, encoding="utf-8")
    config = _config(tmp_path, data)
    scheduled = FileLock(str(lock_path(tmp_path / "store.sqlite")))
    scheduled.acquire()
    try:
        busy = CliRunner().invoke(cli, ["run", "-c", str(config), "--quiet"])
    finally:
        scheduled.release()
    assert busy.exit_code != 0 and "another run of" in busy.output
    assert not (tmp_path / "store.sqlite").exists() or _runs(tmp_path) == []
    done = CliRunner().invoke(cli, ["run", "-c", str(config), "--quiet"])
    assert done.exit_code == 0, done.output
    assert [(k, s) for k, s, _ in _runs(tmp_path)] == [("run", "ok")]


def test_a_store_folder_that_cannot_hold_the_lock_is_said_not_an_oserror(tmp_path: Path) -> None:
    """`smbml run` on a store in a folder it cannot write said "unexpected PermissionError"
    (review): the lock file is made beside the store first."""
    from smbml_connect.errors import StoreError
    from smbml_connect.schedule import run_lock

    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the store's folder should be")
    with pytest.raises(
        StoreError, match=r"cannot take the run lock beside the store in .*not-a-folder"
    ):
        run_lock(blocked / "store.sqlite")
    run_lock(tmp_path / "store.sqlite").release()  # a folder that can hold it
    # smbml run and a scheduled run meet it the same way: said, not "unexpected
    # FileExistsError" from making the folder first (review)
    config = tmp_path / "smbml.toml"
    config.write_text(
        f'store = "{blocked / "store.sqlite"}"\n[source]\nkind = "sample"\n[analytics]\nenabled = []\n'
    )
    outcome = run_once(config)
    assert outcome.status == "failed" and "cannot take the run lock" in outcome.message
    from click.testing import CliRunner

    from smbml_connect.cli import cli

    said = CliRunner().invoke(cli, ["run", "-c", str(config), "--quiet"])
    assert said.exit_code != 0 and "cannot take the run lock" in said.output
    assert "unexpected" not in said.output
