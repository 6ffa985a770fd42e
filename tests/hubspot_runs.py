"""One pipeline run against the HubSpot emulator, as the HubSpot tests make them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from smbml_connect.connectors.hubspot.http import HubSpotApi, Limits
from smbml_connect.connectors.hubspot.marketing import SETTLE_MS
from smbml_connect.connectors.hubspot.push import HubSpotDestination
from smbml_connect.connectors.hubspot.source import HubSpotSource
from smbml_connect.credentials import Secret
from smbml_connect.pipeline import RunOptions, run_pipeline
from smbml_connect.ports import RunResult
from smbml_connect.store import Store
from smbml_connect.testing.hubspot_emulator import TEST_TOKEN, HubSpotEmulator


def hubspot_run(
    hub: HubSpotEmulator,
    store: Store,
    at: datetime,
    options: RunOptions,
    *,
    push: bool = False,
    source: type[HubSpotSource] = HubSpotSource,
    attempts: int = 6,
) -> RunResult:
    """The run a scheduler would make at ``at``: a fresh rate window (runs are minutes
    apart), the emulator's clock, and the scores pushed back when ``push``."""
    limits = Limits(read_timeout=2.0, attempts=attempts)
    hub.clock.advance(limits.window_seconds)
    api = HubSpotApi(Secret(TEST_TOKEN), host=hub.url, limits=limits, clock=hub.clock)
    destinations = [HubSpotDestination(api)] if push else []
    return run_pipeline(source(api, started=at), store, options, destinations)


def settled() -> datetime:
    """When a run starts that finds every change made until now: HubSpot's search index
    lags, so a run searches up to `SETTLE_MS` before its start (a scheduler's next run)."""
    return datetime.now(tz=UTC) + timedelta(milliseconds=SETTLE_MS + 1)
