"""`smbml status` finds the store a new user has: the demo's, or the one a config names."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

import smbml_connect.store as store_module
from smbml_connect.cli import cli
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
