"""Keep the results fresh: run the job now and then, one run at a time.

APScheduler's triggers say when (intervals and cron expressions); the runs happen one
after another in the main thread, where Ctrl+C lands (a run that took past its next time
is followed by one run, not many); a file lock beside the store keeps two
processes (a cron entry and a forgotten terminal) from running together. The lock is
an OS lock (fcntl/msvcrt through filelock), so the OS releases it when a run crashes or
is killed: no stale lock file to delete by hand. Every attempt is recorded in the
store's run table, including the ones that failed before the pipeline started (a wrong
config, a revoked key) and the ones skipped because another run held the lock; a failed
run is logged and the next one still happens.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from filelock import FileLock, Timeout

from smbml_connect.errors import ConfigError, SmbmlError, StoreError, Terminated
from smbml_connect.redaction import redact
from smbml_connect.registry import load_config
from smbml_connect.store import Store, default_store_path

if TYPE_CHECKING:
    from apscheduler.triggers.base import BaseTrigger

__all__ = ["Outcome", "lock_path", "parse_every", "run_forever", "run_lock", "run_once"]

log = logging.getLogger(__name__)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class Outcome:
    status: str  # ok, partial, failed, skipped
    run_id: int | None
    message: str


def parse_every(text: str) -> int:
    """'15m' -> 900 seconds; at least a minute, so a typo cannot hammer an API."""
    match = re.fullmatch(r"\s*(\d+)\s*([smhd])\s*", text)
    if not match:
        raise ConfigError(f"--every {text!r}: write a number and a unit, e.g. 15m, 1h or 1d")
    seconds = int(match.group(1)) * _UNITS[match.group(2)]
    if seconds < 60:
        raise ConfigError(f"--every {text!r}: the shortest interval is 1m")
    return seconds


def lock_path(store_path: Path) -> Path:
    return store_path.with_name(store_path.name + ".lock")


def run_lock(store_path: Path) -> FileLock:
    """The store's run lock, taken now or not at all (``filelock.Timeout``: a run is
    going). Its file sits beside the store; a folder that cannot hold it is a StoreError
    that names the folder, not an OSError."""
    lock = FileLock(str(lock_path(store_path)))
    try:
        store_path.parent.mkdir(parents=True, exist_ok=True)
        lock.acquire(timeout=0)
    except Timeout:
        raise
    except OSError as exc:
        raise StoreError(
            f"cannot take the run lock beside the store in {store_path.parent} "
            f"({exc.strerror or exc}): make the folder writable, or set store to a path "
            "in a folder you can write"
        ) from None
    return lock


def run_once(
    config_path: Path,
    store_path: Path | None = None,
    progress: Callable[[str], None] = log.info,
) -> Outcome:
    """One scheduled run under the lock; never raises for a failed run, only reports it
    (Ctrl+C, which the pipeline records, goes on up). Its steps go to the log."""
    from smbml_connect.runner import build_run

    try:
        config = load_config(config_path)  # read every time: an edit applies to the next run
    except SmbmlError as exc:
        return _record_failure(store_path or default_store_path(), str(exc))
    path = store_path or config.store or default_store_path()
    try:
        lock = run_lock(path)
    except StoreError as exc:  # the store's folder cannot be written: nowhere to record it
        log.error("scheduled run failed: %s", exc)
        return Outcome("failed", None, str(exc))
    except Timeout:
        message = "skipped: another run of this store is still going"
        log.warning(message)
        with Store(path) as store:
            run_id = store.start_run("scheduled", config.source.kind)
            store.finish_run(run_id, "skipped", {}, message)
        return Outcome("skipped", run_id, message)
    before = (
        -1
    )  # the last run before this one: a failure the pipeline recorded is not recorded twice
    try:
        before = _latest_run(path)
        result, _ = build_run(config, path, progress, kind="scheduled")
    except SmbmlError as exc:
        log.error("scheduled run failed: %s", exc)
        return _record_failure(path, str(exc), config.source.kind, before)
    except Exception as exc:  # the next run must still happen
        log.exception("scheduled run failed")
        return _record_failure(path, f"{type(exc).__name__}: {exc}", config.source.kind, before)
    finally:
        lock.release()
    message = f"run {result.run_id} {result.status}: " + ", ".join(
        f"{n:,} {t}" for t, n in result.loaded.items() if n
    )
    log.info(message)
    return Outcome(result.status, result.run_id, message)


def _latest_run(path: Path) -> int:
    with Store(path) as store:
        runs = store.runs(1)
    return int(runs["run_id"].iloc[0]) if len(runs) else 0


def _record_failure(path: Path, message: str, source: str = "unknown", since: int = -1) -> Outcome:
    """A run that died before or inside the pipeline still leaves a line in the run table."""
    message = redact(message)  # also printed by `smbml schedule`
    try:
        with Store(path) as store:
            latest = store.runs(1)
            if since >= 0 and len(latest) and int(latest["run_id"].iloc[0]) > since:
                return Outcome("failed", int(latest["run_id"].iloc[0]), message)  # recorded
            run_id = store.start_run("scheduled", source)
            store.finish_run(run_id, "failed", {}, message)
    except StoreError as exc:  # a read-only store: the failure is said, and logged, only
        log.error("the failed run could not be recorded: %s", exc)
        return Outcome("failed", None, message)
    return Outcome("failed", run_id, message)


def run_forever(
    config_path: Path,
    store_path: Path | None = None,
    every: str | None = None,
    cron: str | None = None,
    on_outcome: Callable[[Outcome], None] = lambda _: None,
    on_stop_asked: Callable[[], None] = lambda: None,
) -> str:
    """Block and run on the schedule until Ctrl+C; the first run starts at once for --every.

    Runs happen in this (the main) thread, where Ctrl+C lands: between runs it stops at
    once; during a run the first one lets the run finish (``on_stop_asked`` says so) and a
    second stops it now, recorded as stopped by Ctrl+C. In APScheduler's worker thread a
    run could not be stopped, and the interpreter's exit, joining it, died of the second
    Ctrl+C with a traceback and SIGABRT. Returns how it stopped: "between runs", "after
    the run" or "now".
    """
    from apscheduler.triggers.cron import CronTrigger
    from apscheduler.triggers.interval import IntervalTrigger

    if (every is None) == (cron is None):
        raise ConfigError("give either --every (e.g. 1h) or --cron (e.g. '0 * * * *')")
    trigger: BaseTrigger
    if cron is not None:
        try:
            trigger = CronTrigger.from_crontab(cron)
        except ValueError as exc:
            raise ConfigError(f"--cron {cron!r}: {exc}") from None
        first = None
    else:
        assert every is not None
        trigger = IntervalTrigger(seconds=parse_every(every))
        first = "now"

    state = {"running": False, "asked": False}

    presses = _PressCounter()

    def ctrl_c(signum: int, frame: object) -> None:
        pressed = presses.since_last()
        if state["running"] and not state["asked"]:
            state["asked"] = True
            on_stop_asked()
            if pressed < 2:
                return
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, ctrl_c)
    presses.start()
    try:
        due = _now() if first == "now" else trigger.get_next_fire_time(None, _now())
        while due is not None:
            wait = (due - _now()).total_seconds()
            if wait > 0:  # short sleeps: a laptop that slept, or a clock set, is seen
                time.sleep(min(wait, 30))
                continue
            state["running"] = True
            try:
                on_outcome(run_once(config_path, store_path))
            except KeyboardInterrupt:  # the second Ctrl+C: the pipeline recorded the run
                return "now"
            except Terminated:  # SIGTERM: the pipeline recorded the run as stopped
                return "ended now"
            finally:
                state["running"] = False
            if state["asked"]:
                return "after the run"
            due = _next_run(trigger, due)
        return "between runs"  # a cron expression with no time left
    except KeyboardInterrupt:
        return "between runs"
    except Terminated:  # no run was going: none is recorded as stopped
        return "ended between runs"
    finally:
        presses.stop()
        signal.signal(signal.SIGINT, previous)


class _PressCounter:
    """How many times Ctrl+C was pressed since the handler last ran. Python runs a handler
    between bytecodes, so two quick presses during a long C call (a model fit) reach it as
    one call, and "again to stop now" was lost; the C-level handler still writes one byte
    per signal to the wakeup descriptor, which is counted here."""

    def __init__(self) -> None:
        self._reader = self._writer = -1
        self._previous: int | None = None  # the wakeup descriptor before ours, once set

    def start(self) -> None:
        if sys.platform == "win32":  # Windows' wakeup descriptor is a socket, and
            return  # os.set_blocking takes no pipe before 3.12: one press per call there
        try:
            self._reader, self._writer = os.pipe()
            os.set_blocking(self._reader, False)
            os.set_blocking(self._writer, False)
            self._previous = signal.set_wakeup_fd(self._writer, warn_on_full_buffer=False)
        except (OSError, ValueError):  # not the main thread
            self.stop()

    def since_last(self) -> int:
        if self._previous is None:
            return 1
        try:
            return max(1, os.read(self._reader, 4096).count(signal.SIGINT))
        except OSError:  # nothing written (the byte went to an earlier read)
            return 1

    def stop(self) -> None:
        if self._previous is not None:  # only a descriptor this counter set is put back
            with contextlib.suppress(OSError, ValueError):
                signal.set_wakeup_fd(self._previous)
        for fd in (self._reader, self._writer):
            if fd >= 0:
                os.close(fd)
        self._reader = self._writer = -1
        self._previous = None


def _now() -> datetime:
    return datetime.now().astimezone()


def _next_run(trigger: BaseTrigger, last: datetime) -> datetime | None:
    """When to run after the run planned for ``last``: the trigger's next time, or now
    when the run took past one or more of them (caught up with one run, not many)."""
    now = _now()
    due = trigger.get_next_fire_time(last, now)
    missed = None
    while due is not None and due <= now:
        missed, due = due, trigger.get_next_fire_time(due, now)
    return now if missed is not None else due
