"""Turn a validated config into a source, a store, destinations and a pipeline run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from smbml_connect.config import Config
from smbml_connect.connectors.files.source import FilesSource
from smbml_connect.connectors.sample.source import SampleSource
from smbml_connect.pipeline import Progress, RunOptions, run_pipeline
from smbml_connect.ports import Destination, RunResult, Source
from smbml_connect.report import HtmlReport, ResultsWorkbook
from smbml_connect.sample import SampleConfig, generate
from smbml_connect.steps import steps_by_name
from smbml_connect.store import Store

__all__ = ["build_run", "make_source"]


def hubspot_api(config: Config) -> Any:
    """The HubSpot client with the account's limits; the token comes from keyring or env."""
    from smbml_connect.connectors.hubspot.http import HubSpotApi, Limits
    from smbml_connect.credentials import get_secret

    settings = config.hubspot
    limits = Limits(
        per_window=settings.requests_per_10s,
        search_per_second=settings.search_per_second,
        read_timeout=settings.timeout_seconds,
        attempts=settings.attempts,
    )
    return HubSpotApi(get_secret("hubspot", config.profile), host=settings.api_url, limits=limits)


def check_hubspot_token(config: Config, token: Any) -> str:
    """One cheap call with the token; raises AuthError naming a missing scope."""
    from smbml_connect.connectors.hubspot.http import HubSpotApi, Limits

    api = HubSpotApi(token, host=config.hubspot.api_url, limits=Limits(attempts=3))
    body = api.json(
        "checking the token", api.client.crm.objects.basic_api.get_page, "contacts", limit=1
    )
    return "contacts readable" if "results" in body else "answered"


def sheets_api(config: Config) -> Any:
    """gspread with Google's quota as the limit; the key comes from keyring or env."""
    from smbml_connect.connectors.gsheets.http import SheetsApi, SheetsLimits
    from smbml_connect.credentials import get_secret

    settings = config.google
    limits = SheetsLimits(
        per_minute=settings.requests_per_minute,
        read_timeout=settings.timeout_seconds,
        attempts=settings.attempts,
    )
    return SheetsApi(get_secret("google", config.profile), api_url=settings.api_url, limits=limits)


def check_google_key(config: Config, key: Any) -> str:
    """Get a token with the key (proves it is valid), and open the configured spreadsheet."""
    from smbml_connect.connectors.gsheets.http import SheetsApi, SheetsLimits
    from smbml_connect.connectors.gsheets.sheets import spreadsheet_key

    api = SheetsApi(key, api_url=config.google.api_url, limits=SheetsLimits(attempts=3))
    wanted = config.source.spreadsheet if config.source.kind == "gsheets" else None
    wanted = wanted or next((d.spreadsheet for d in config.destinations if d.spreadsheet), None)
    if wanted is None:
        api.authorise()
        return f"signed in as {api.account}"
    meta = api.client.http_client.fetch_sheet_metadata(spreadsheet_key(wanted))
    title = meta.get("properties", {}).get("title", "")
    return f"{api.account} can open {title!r}"


def _needs_sheets(config: Config) -> bool:
    return config.source.kind == "gsheets" or any(d.kind == "gsheets" for d in config.destinations)


def make_source(config: Config, api: Any = None, sheets: Any = None) -> Source:
    if config.source.kind == "gsheets":
        from smbml_connect.connectors.gsheets.sheets import SheetsSource

        assert config.source.spreadsheet is not None  # checked by parse_config
        return SheetsSource(
            sheets or sheets_api(config),
            config.source.spreadsheet,
            config.source.tables,
            config.source.mapping,
        )
    if config.source.kind == "hubspot":
        from smbml_connect.connectors.hubspot.source import HubSpotSource

        return HubSpotSource(api or hubspot_api(config), mapping=config.source.mapping)
    if config.source.kind == "files":
        assert config.source.path is not None  # checked by parse_config
        return FilesSource(config.source.path, config.source.tables, config.source.mapping)
    return SampleSource(generate(SampleConfig(seed=config.source.seed)))


def _destinations(
    config: Config, api: Any = None, dry_run: bool = False, sheets: Any = None
) -> list[Destination]:
    made: list[Destination] = []
    if config.source.kind == "hubspot" and config.hubspot.push:
        from smbml_connect.connectors.hubspot.push import HubSpotDestination

        made.append(HubSpotDestination(api, dry_run=dry_run, account=config.profile))
    if not dry_run and _needs_sheets(config):
        from smbml_connect.connectors.gsheets.sheets import SheetsResults

        if config.source.kind == "gsheets" and config.google.write_results:
            assert config.source.spreadsheet is not None
            made.append(SheetsResults(sheets, config.source.spreadsheet))
        for destination in config.destinations:
            if destination.kind == "gsheets" and destination.spreadsheet:
                made.append(SheetsResults(sheets, destination.spreadsheet))
    for destination in config.destinations:
        if destination.path is None:
            continue
        if destination.kind == "workbook":
            made.append(ResultsWorkbook(destination.path))
        else:
            made.append(HtmlReport(destination.path))
    return made


def build_run(
    config: Config,
    store_path: Path | None,
    progress: Progress,
    dry_run: bool = False,
    kind: str = "run",
    sheets: Any = None,
) -> tuple[RunResult, list[Path]]:
    api = hubspot_api(config) if config.source.kind == "hubspot" else None
    if sheets is None and _needs_sheets(config):
        sheets = sheets_api(config)
    source = make_source(config, api, sheets)
    as_of = config.analytics.as_of
    options = RunOptions(
        steps=steps_by_name(config.analytics.enabled),
        as_of=None if as_of is None else pd.Timestamp(as_of, tz="UTC"),
        kind=kind,
        consent_column=config.consent.column,
        missing_consent_means=config.consent.missing_means,
        settings={
            "leads": config.analytics.leads.model_dump(),
            "customers": config.analytics.customers.model_dump(),
            "forecast": config.analytics.forecast.model_dump(),
            "pricing": config.analytics.pricing.model_dump(),
        },
    )
    destinations = _destinations(config, api, dry_run, sheets)
    with Store(store_path or config.store) as store:
        result = run_pipeline(source, store, options, destinations, progress)
    return result, [d.path.resolve() for d in config.destinations if d.path is not None]
