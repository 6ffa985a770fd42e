"""Shared fixtures: one sample business per session (it is deterministic), tmp stores."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from smbml_connect.runtime import prefer_passive_openmp_waits

# The test workers are an entry point: their settings are made here, before any test
# module loads LightGBM or scikit-learn. Two xdist workers on two cores: one OpenMP
# thread each, or LightGBM's threads fight; idle threads sleep rather than spin.
os.environ.setdefault("OMP_NUM_THREADS", "1")
prefer_passive_openmp_waits()

import keyring  # noqa: E402
import pytest  # noqa: E402

from smbml_connect.credentials import InMemoryKeyring  # noqa: E402
from smbml_connect.sample import SampleBusiness, SampleConfig, generate  # noqa: E402
from smbml_connect.store import Store  # noqa: E402

if TYPE_CHECKING:
    from smbml_connect.testing.hubspot_emulator import HubSpotEmulator
    from smbml_connect.testing.hubspot_sample import IdMap


@pytest.fixture(scope="session")
def business() -> SampleBusiness:
    return generate(SampleConfig())


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`smbml demo` run once, as a user runs it (console entry, a bare PATH, a fresh home):
    the end-to-end and the phone-layout tests read the same outputs."""
    out = tmp_path_factory.mktemp("demo")
    completed = subprocess.run(
        [sys.executable, "-m", "smbml_connect", "demo", "--out", str(out), "--quiet"],
        capture_output=True,
        text=True,
        timeout=300,
        env={
            "PATH": "/usr/bin:/bin",
            "HOME": str(out),
            "XDG_DATA_HOME": str(out / "data"),
            "XDG_STATE_HOME": str(out / "state"),
        },
    )
    assert completed.returncode == 0, completed.stderr
    assert f"Wrote {out / 'results.xlsx'}" in completed.stdout
    (out / "state").mkdir(exist_ok=True)
    (out / "state" / "demo-output.txt").write_text(completed.stdout)  # what the user read
    return out


@pytest.fixture(scope="session")
def small_business() -> SampleBusiness:
    """300 contacts: enough deals and orders to sync through the HubSpot emulator quickly."""
    return generate(SampleConfig(contacts=300, seed=3))


@pytest.fixture
def hub_and_ids(small_business: SampleBusiness) -> Iterator[tuple[HubSpotEmulator, IdMap]]:
    """A HubSpot emulator holding the small sample, on a fake clock (waits take no time),
    and the ids it gave the sample's records."""
    from smbml_connect.testing.clock import FakeClock
    from smbml_connect.testing.hubspot_emulator import HubSpotEmulator
    from smbml_connect.testing.hubspot_sample import load_sample

    with HubSpotEmulator(clock=FakeClock()) as emulator:
        yield emulator, load_sample(emulator.state, small_business)


@pytest.fixture
def sample_hub(hub_and_ids: tuple[HubSpotEmulator, IdMap]) -> HubSpotEmulator:
    return hub_and_ids[0]


@pytest.fixture
def small(small_business: SampleBusiness) -> SampleBusiness:
    return small_business


@pytest.fixture
def hub(hub_and_ids: tuple[HubSpotEmulator, IdMap]) -> tuple[HubSpotEmulator, IdMap]:
    """The emulator and its ids (a test module may name ``hub`` the emulator alone)."""
    return hub_and_ids


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
