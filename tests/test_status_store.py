"""`smbml status` finds the store a new user has (the demo's, or the one a config names) and
reads it without writing to it."""

from __future__ import annotations

import os
import pwd
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from click.testing import CliRunner

import smbml_connect.store as store_module
from smbml_connect.cli import cli
from smbml_connect.connectors.sample.source import SampleSource
from smbml_connect.functions import FunctionContext, call
from smbml_connect.pipeline import RunOptions, run_pipeline
from smbml_connect.steps import steps_by_name
from smbml_connect.store import Store


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh folder as the working directory, and no store in the user data folder."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(store_module, "default_store_path", lambda: tmp_path / "none" / "s.sqlite")
    return tmp_path


def _status(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--log-file", "log.txt", "status", *args])
    return result.exit_code, result.output


def test_status_right_after_the_demo_finds_the_demo_store(here: Path):
    """Issue 24: the demo says "run `smbml status`", which looked only in the user folder."""
    Store(here / "demo-store.sqlite").close()
    code, output = _status()
    assert code == 0, output
    assert "demo-store.sqlite" in output and "No runs yet." in output


def test_status_reads_the_store_a_config_names(here: Path):
    (here / "data").mkdir()
    Store(here / "data" / "shop.sqlite").close()
    (here / "shop.toml").write_text('store = "data/shop.sqlite"\n[source]\nkind = "sample"\n')
    code, output = _status("-c", "shop.toml")
    assert code == 0, output
    assert str(Path("data") / "shop.sqlite") in output


def test_status_without_any_store_names_where_it_looked(here: Path):
    code, output = _status()
    assert code == 7
    assert "demo-store.sqlite" in output and "smbml demo" in output


def test_status_with_a_mistyped_config_says_so_instead_of_showing_another_store(here: Path):
    """find52_cli item 10: `smbml status -c shop.tom` showed the runs of the user data
    folder's store, another shop's, with exit 0; `run` and `inspect` said "not found"."""
    other = store_module.default_store_path()
    other.parent.mkdir(parents=True)
    with Store(other) as store:
        store.finish_run(store.start_run("scheduled", "hubspot"), "failed", {}, "token revoked")
    Store(here / "demo-store.sqlite").close()
    (here / "shop.toml").write_text('store = "shop.sqlite"\n[source]\nkind = "sample"\n')
    Store(here / "shop.sqlite").close()
    code, output = _status("-c", "shop.tom")
    assert code == 2
    assert "config file shop.tom not found" in output
    assert "token revoked" not in output and str(other) not in output
    code, output = _status("-c", "shop.toml")  # spelt right: its own store
    assert code == 0 and "shop.sqlite" in output, output
    code, output = _status()  # no -c and no smbml.toml here: the newer of the two stores
    assert code == 0 and "demo-store.sqlite" in output, output


# -- a store the user may read but not write (find55_readme item 3) ---------------------------


@contextmanager
def someone_else_s_folder(folder: Path) -> Iterator[None]:
    """Inside, `folder` can be read but not written, as a read-only share or another user's
    backup is: for root, whom modes do not bind, by acting as `nobody`, which owns nothing
    there; for anyone else by taking the folder's write bit away."""
    folder.chmod(0o755)
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        folder.chmod(0o555)
        try:
            yield
        finally:
            folder.chmod(0o755)
        return
    try:
        entry = pwd.getpwnam("nobody")
        uid, gid = entry.pw_uid, entry.pw_gid
    except KeyError:
        uid = gid = 65534
    os.setegid(gid)
    os.seteuid(uid)
    try:
        try:
            os.listdir(folder)
        except PermissionError:
            pytest.skip(f"nobody cannot reach {folder} (a folder above it is private)")
        yield
    finally:
        os.seteuid(0)
        os.setegid(0)


@pytest.fixture
def share() -> Iterator[Path]:
    """A folder outside pytest's own (which is private to the user running the tests)."""
    folder = Path(tempfile.mkdtemp(prefix="smbml-share-"))
    (folder / "logs").mkdir(mode=0o777)
    (folder / "logs").chmod(0o777)
    yield folder
    shutil.rmtree(folder)


def _scored_store(path: Path, business) -> str:
    """A store with a run's lead scores, closed as a run leaves it (no -wal or -shm beside
    it); returns the e-mail of a scored contact."""
    with Store(path) as store:
        options = RunOptions(steps=steps_by_name(["lead_scores"]), as_of=business.as_of)
        run_pipeline(SampleSource(business), store, options)
        scores = store.latest_outputs("scores")
        contacts = store.read("contacts").set_index("contact_id")
    lead = scores[scores["model"] == "lead_score"].iloc[0]
    assert sorted(p.name for p in path.parent.glob(path.name + "*")) == [path.name]
    return str(contacts.loc[lead["entity_id"], "email"])


def test_status_and_lookups_read_a_store_in_a_folder_they_cannot_write(share: Path, small):
    """status said "cannot open the store ...: attempt to write a readonly database": it
    opened the store to write (WAL, migrations), and SQLite could not make its -shm file."""
    store = share / "shop.sqlite"
    email = _scored_store(store, small)
    with someone_else_s_folder(share):
        result = CliRunner().invoke(
            cli, ["--log-file", str(share / "logs" / "log.txt"), "status", "--store", str(store)]
        )
        lookup = call("LEADSCORE_OF", [email], FunctionContext(store_path=store))
    assert result.exit_code == 0, result.output
    assert "run 1 [run] ok" in result.output
    assert lookup.error is None, lookup.error
    assert 0 <= lookup.value[1][0] <= 100 and lookup.value[1][1] in "ABCD"
    assert sorted(p.name for p in share.iterdir()) == ["logs", "shop.sqlite"]  # nothing written


def test_a_store_whose_latest_changes_cannot_be_read_says_so(share: Path, tmp_path: Path):
    """Changes still in the -wal file need a -shm file SQLite cannot make in that folder:
    reading the store without them would show an older state as the current one."""
    kept = tmp_path / "shop.sqlite"
    Store(kept).close()
    writer = sqlite3.connect(kept, isolation_level=None)
    writer.execute("PRAGMA wal_autocheckpoint = 0")
    writer.execute("INSERT INTO runs (kind, source, started_at, status) "
                   "VALUES ('run', 'files', '2026-01-01', 'ok')")  # fmt: skip
    shutil.copy(kept, share / "shop.sqlite")
    shutil.copy(kept.with_name("shop.sqlite-wal"), share / "shop.sqlite-wal")
    writer.close()
    with someone_else_s_folder(share):
        result = CliRunner().invoke(
            cli,
            ["--log-file", str(share / "logs" / "log.txt"), "status", "--store",
             str(share / "shop.sqlite")],
        )  # fmt: skip
    assert result.exit_code == 7, result.output
    assert result.output.strip() == (
        f"error: the store {share / 'shop.sqlite'} has changes in shop.sqlite-wal that SQLite "
        "can read only by writing a file beside it, and that folder cannot be written: open "
        "it where it can be, or copy shop.sqlite with its -wal and -shm files to a folder "
        "you can write"
    )


def test_status_answers_while_a_run_holds_the_write_lock(here: Path):
    """status took the write lock to bring the store up to date, so during a run's long
    write it waited 30 seconds and then failed with "database is locked"."""
    with Store(here / "demo-store.sqlite") as store:
        store.finish_run(store.start_run("demo", "sample"), "ok", {"contacts": 12})
    writer = sqlite3.connect(here / "demo-store.sqlite", isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    try:
        started = time.monotonic()
        code, output = _status()
        took = time.monotonic() - started
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert code == 0, output
    assert "run 1 [demo] ok" in output and took < 10


def test_a_lookup_right_after_an_upgrade_reads_a_store_without_the_new_columns(
    tmp_path: Path, small
):
    """A release adds columns without a migration (`_add_new_columns` on each open to
    write): the read-only open took the last release's store as up to date, and
    LEADSCORE_OF was "unexpected error" (KeyError: orders_count) until the next run."""
    path = tmp_path / "shop.sqlite"
    email = _scored_store(path, small)
    with sqlite3.connect(path) as conn:  # the store as the release before wrote it
        conn.execute('ALTER TABLE contacts DROP COLUMN "orders_count"')
        conn.execute('ALTER TABLE products DROP COLUMN "gift_card"')
    lookup = call("LEADSCORE_OF", [email], FunctionContext(store_path=path))
    assert lookup.error is None, lookup.error
    assert 0 <= lookup.value[1][0] <= 100 and lookup.value[1][1] in "ABCD"
    with Store.reading(path) as store:
        assert "orders_count" in store.read("contacts").columns
