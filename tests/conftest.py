"""Shared fixtures: one sample business per session (it is deterministic), tmp stores."""

from __future__ import annotations

import os
from pathlib import Path

# Two xdist workers on two cores: one OpenMP thread each, or LightGBM's threads fight.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import keyring
import pytest

from smbml_connect.credentials import InMemoryKeyring
from smbml_connect.sample import SampleBusiness, SampleConfig, generate
from smbml_connect.store import Store


@pytest.fixture(scope="session")
def business() -> SampleBusiness:
    return generate(SampleConfig())


@pytest.fixture
def store(tmp_path: Path) -> Store:
    with Store(tmp_path / "store.sqlite") as opened:
        yield opened


@pytest.fixture(autouse=True)
def memory_keyring() -> InMemoryKeyring:
    """Headless Linux has no keyring backend; every test gets a fresh in-memory one."""
    previous = keyring.get_keyring()
    backend = InMemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)
