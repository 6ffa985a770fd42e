"""Adding a CRM is one package and one registry line: a connector defined here, run by the CLI.

The connector below lives only in this test: a source that serves a tiny shop from
memory, needs a secret (so `smbml auth memory` exists), has a config section of its own
and a destination kind. Nothing else in the project knows about it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from pydantic import BaseModel, ConfigDict

from smbml_connect import registry
from smbml_connect.cli import cli
from smbml_connect.config import Config, DestinationConfig
from smbml_connect.connector import AuthSpec, Connector, ConnectorContext
from smbml_connect.credentials import CredentialSpec, Secret
from smbml_connect.errors import AuthError, ConfigError
from smbml_connect.ports import Destination, PushReport, RunResult, Source
from smbml_connect.schema import SOURCE_ROW
from smbml_connect.store import Store

TOKEN = CredentialSpec("memory", "SMBML_MEMORY_TOKEN", "Memory shop key")
GOOD = "memory-key-0123456789"
PUBLISHED: list[tuple[str, RunResult]] = []


class MemorySource:
    """A shop of 40 customers with orders, served as an export would serve it: text."""

    incremental = False

    def __init__(self, shop: str, orders_each: int) -> None:
        self.name = f"memory:{shop}"
        ids = [f"M{i:03d}" for i in range(40)]
        contacts = pd.DataFrame(
            {
                "contact_id": ids,
                "email": [f"c{i}@example.com" for i in range(40)],
                "created_at": "2025-01-05",
                "lifecycle_stage": "customer",
            }
        )
        orders = pd.DataFrame(
            [
                {
                    "order_id": f"O{i:03d}-{k}",
                    "contact_id": cid,
                    "ordered_at": f"2025-{1 + (i + 3 * k) % 12:02d}-{1 + i % 27:02d}",
                    "total": f"{10 + i + k * 5:.2f}",
                    "currency": "EUR",
                    "status": "paid",
                }
                for i, cid in enumerate(ids)
                for k in range(1 + i % orders_each)
            ]
        )
        self.tables = {"contacts": contacts, "orders": orders}

    def available(self) -> list[str]:
        return list(self.tables)

    def pull(self, entity: str, since: str | None = None) -> pd.DataFrame:
        frame = self.tables[entity].copy()
        frame[SOURCE_ROW] = range(2, len(frame) + 2)
        return frame


class MemorySourceSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    shop: str


class MemorySettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    orders_each: int = 4


class MemoryBucket(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    bucket: str


class MemoryDestination:
    def __init__(self, bucket: str) -> None:
        self.name = f"memory bucket {bucket}"
        self.bucket = bucket

    def publish(self, result: RunResult, store: Store) -> PushReport:
        PUBLISHED.append((self.bucket, result))
        written = sum(len(f) for s in result.steps.values() for f in s.outputs.values())
        return PushReport(destination=self.name, written=written, kind="crm")


def _check(config: Config, secret: Secret) -> str:
    if secret.reveal() != GOOD:
        raise AuthError("the memory shop did not accept the key")
    return "shop open"


def _source(context: ConnectorContext) -> Source:
    if context.secret(TOKEN).reveal() != GOOD:
        raise AuthError("the memory shop did not accept the key")
    shop = context.config.source.settings_as(MemorySourceSettings).shop
    return MemorySource(shop, context.config.section(MemorySettings).orders_each)


def _destination(context: ConnectorContext, entry: DestinationConfig) -> Destination:
    return MemoryDestination(entry.settings_as(MemoryBucket).bucket)


MEMORY = Connector(
    kind="memory",
    summary="a shop held in memory (tests only)",
    source_settings=MemorySourceSettings,
    make_source=_source,
    section="memory",
    settings=MemorySettings,
    auth=AuthSpec(
        credential=TOKEN, input="token", help="Keep the memory shop's key.", check=_check
    ),
    destination_settings=MemoryBucket,
    make_destination=_destination,
)


@pytest.fixture
def memory_connector(monkeypatch: pytest.MonkeyPatch) -> Iterator[Connector]:
    monkeypatch.delenv("SMBML_MEMORY_TOKEN", raising=False)
    PUBLISHED.clear()
    with registry.registered(MEMORY) as connector:
        yield connector
    assert all(c.kind != "memory" for c in registry.connectors())


def test_the_protocols_hold_for_the_test_connector() -> None:
    assert isinstance(MemorySource("x", 2), Source)
    assert isinstance(MemoryDestination("x"), Destination)


def test_a_registered_connector_runs_through_the_cli(memory_connector, tmp_path: Path) -> None:
    config = tmp_path / "smbml.toml"
    config.write_text(
        '[source]\nkind = "memory"\nshop = "corner shop"\n\n[memory]\norders_each = 3\n\n'
        '[analytics]\nenabled = ["rfm_segments"]\nas_of = 2026-01-01\n\n'
        '[[destinations]]\nkind = "memory"\nbucket = "b1"\n\n'
        '[[destinations]]\nkind = "workbook"\npath = "out/results.xlsx"\n',
        encoding="utf-8",
    )
    runner = CliRunner()
    base = ["--log-file", str(tmp_path / "smbml.log")]
    helped = runner.invoke(cli, [*base, "run", "--help"])
    assert "memory" in helped.output, helped.output
    assert "memory" in runner.invoke(cli, [*base, "auth", "--help"]).output

    store = tmp_path / "store.sqlite"
    command = [*base, "run", "-c", str(config), "--store", str(store), "--quiet"]
    missing = runner.invoke(cli, command)
    assert missing.exit_code != 0
    assert "smbml auth memory" in missing.output and "SMBML_MEMORY_TOKEN" in missing.output

    refused = runner.invoke(
        cli, [*base, "auth", "memory", "-c", str(config), "--token-stdin"], input="wrong\n"
    )
    assert refused.exit_code != 0 and "did not accept" in refused.output
    saved = runner.invoke(
        cli, [*base, "auth", "memory", "-c", str(config), "--token-stdin"], input=GOOD + "\n"
    )
    assert saved.exit_code == 0, saved.output
    assert "shop open" in saved.output

    ran = runner.invoke(cli, command)
    assert ran.exit_code == 0, ran.output
    assert "Loaded 40 contacts" in ran.output
    assert "memory bucket b1: wrote" in ran.output
    assert (tmp_path / "out" / "results.xlsx").exists()
    [(bucket, result)] = PUBLISHED
    assert bucket == "b1" and result.source == "memory:corner shop"
    assert len(result.steps["rfm_segments"].outputs["scores"]) == 40
    with sqlite3.connect(store) as db:
        sources = db.execute("SELECT DISTINCT source FROM contacts").fetchall()
        segmented = db.execute("SELECT COUNT(*) FROM scores WHERE model = 'rfm_segment'")
        assert sources == [("memory:corner shop",)] and segmented.fetchone() == (40,)
    assert GOOD not in (tmp_path / "smbml.log").read_text(encoding="utf-8")


def test_its_config_keys_are_checked_like_the_built_in_ones(memory_connector) -> None:
    parsed = registry.parse_config({"source": {"kind": "memory", "shop": "a"}})
    assert parsed.section(MemorySettings).orders_each == 4
    with pytest.raises(ConfigError, match=r"source\.shop"):
        registry.parse_config({"source": {"kind": "memory"}})
    with pytest.raises(ConfigError, match=r"memory\.order_each: unknown key"):
        registry.parse_config(
            {"source": {"kind": "memory", "shop": "a"}, "memory": {"order_each": 1}}
        )
    with pytest.raises(ConfigError, match="SMBML_MEMORY_TOKEN"):
        registry.parse_config({"source": {"kind": "memory", "shop": "a", "api_key": "x"}})


def test_unknown_kinds_list_the_registered_ones() -> None:
    with pytest.raises(ConfigError, match=r"source\.kind: 'memory' is not one of 'files'"):
        registry.parse_config({"source": {"kind": "memory"}})
    with pytest.raises(ConfigError, match="registered already"):
        registry.register(registry.connector("files"))
