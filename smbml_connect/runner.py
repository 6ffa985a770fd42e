"""Turn a validated config into a source, destinations and a pipeline run, via the registry."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from smbml_connect import registry
from smbml_connect.config import Config, refuse_overwrites
from smbml_connect.connector import ConnectorContext
from smbml_connect.credentials import CredentialSpec, Secret, get_secret
from smbml_connect.errors import (
    ConfigError,
    SmbmlError,
    StoreError,
    Terminated,
    failure_words,
    mark_recorded,
)
from smbml_connect.pipeline import Progress, RunOptions, run_pipeline
from smbml_connect.ports import Destination, RunResult, Source
from smbml_connect.steps import steps_by_name
from smbml_connect.store import Store, default_store_path

__all__ = ["build_run", "connector_context", "make_destinations", "make_source"]

log = logging.getLogger(__name__)


def connector_context(
    config: Config, dry_run: bool = False, clients: Mapping[str, Any] | None = None
) -> ConnectorContext:
    """Secrets are resolved here, at the top, from the environment or the keyring."""

    def secret(spec: CredentialSpec) -> Secret:
        return get_secret(spec, config.profile)

    return ConnectorContext(config, secret, dry_run, dict(clients or {}))


def make_source(context: ConnectorContext) -> Source:
    kind = context.config.source.kind
    make = registry.connector(kind).make_source
    if make is None:
        raise ConfigError(f"config error at source.kind: {kind!r} is an output, not a source")
    source = make(context)
    if source.incremental and context.config.source.removed_rows is not None:
        raise ConfigError(
            f"config error at source.removed_rows: {kind} says itself which records it "
            "deleted; removed_rows is for sources read whole (files, Google Sheets)"
        )
    return source


def make_destinations(context: ConnectorContext) -> list[Destination]:
    """Destinations that follow from the source first (HubSpot), then [[destinations]]."""
    made: list[Destination] = []
    implied = registry.connector(context.config.source.kind).implied_destinations
    if implied is not None:
        made += implied(context)
    for entry in context.config.destinations:
        make = registry.connector(entry.kind).make_destination
        destination = make(context, entry) if make is not None else None
        if destination is not None:
            made.append(destination)
    return made


def _record_failure(path: Path | None, kind: str, source: str, exc: BaseException) -> None:
    """A run that failed before its source could be read (a file Excel holds open, a key
    refused) is recorded as failed too, so `smbml status` tells it; a store that cannot
    record it (read-only) leaves only the log line."""
    try:
        with Store(path) as store:
            store.finish_run(store.start_run(kind, source), "failed", {}, failure_words(exc))
    except StoreError as error:
        log.warning("the failed run could not be recorded: %s", error)
    else:
        mark_recorded(exc)


def _written_files(result: RunResult) -> list[Path]:
    return [Path(p.destination).resolve() for p in result.pushes if p.kind == "file"]


def build_run(
    config: Config,
    store_path: Path | None,
    progress: Progress,
    dry_run: bool = False,
    kind: str = "run",
    clients: Mapping[str, Any] | None = None,
    accept_removals: bool = False,
    switch_account: bool = False,
) -> tuple[RunResult, list[Path]]:
    path = store_path or config.store
    # --store, or the default store, is known only here; refused before anything is
    # recorded, since the store named may be the very file that must not be written
    refuse_overwrites(config, path or default_store_path())
    try:
        context = connector_context(config, dry_run, clients)
        source = make_source(context)
        destinations = make_destinations(context)
    except (SmbmlError, KeyboardInterrupt, Terminated) as exc:  # before the pipeline records it
        _record_failure(path, kind, config.source.kind, exc)
        raise
    as_of = config.analytics.as_of
    options = RunOptions(
        steps=steps_by_name(config.analytics.enabled),
        as_of=as_of,  # a date is the whole of that day on the business's clock
        kind=kind,
        consent_column=config.consent.column,
        missing_consent_means=config.consent.missing_means,
        settings=dict(config.analytics.settings),
        formats=config.source.column_formats(),
        incomplete_inputs=config.analytics.incomplete_inputs,
        keep_removed_rows=config.source.removed_rows == "keep",
        accept_removals=accept_removals,
        switch_account=switch_account,
        time_zone=config.time_zone,
        currency=config.currency,
    )
    with Store(path) as store:
        result = run_pipeline(source, store, options, destinations, progress)
    return result, _written_files(result)
