"""Turn a validated config into a source, a store, destinations and a pipeline run."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from connectors.base import Source
from connectors.files import FilesSource
from connectors.sample import SampleSource
from smbml_connect.config import Config
from smbml_connect.pipeline import Destination, Progress, RunOptions, RunResult, run_pipeline
from smbml_connect.report import HtmlReport, ResultsWorkbook
from smbml_connect.sample import SampleConfig, generate
from smbml_connect.steps import steps_by_name
from smbml_connect.store import Store

__all__ = ["build_run", "make_source"]


def make_source(config: Config) -> Source:
    if config.source.kind == "files":
        assert config.source.path is not None  # checked by parse_config
        return FilesSource(config.source.path, config.source.tables, config.source.mapping)
    return SampleSource(generate(SampleConfig(seed=config.source.seed)))


def _destinations(config: Config) -> list[Destination]:
    made: list[Destination] = []
    for destination in config.destinations:
        if destination.kind == "workbook":
            made.append(ResultsWorkbook(destination.path))
        else:
            made.append(HtmlReport(destination.path))
    return made


def build_run(
    config: Config, store_path: Path | None, progress: Progress
) -> tuple[RunResult, list[Path]]:
    source = make_source(config)
    as_of = config.analytics.as_of
    options = RunOptions(
        steps=steps_by_name(config.analytics.enabled),
        as_of=None if as_of is None else pd.Timestamp(as_of, tz="UTC"),
        consent_column=config.consent.column,
        missing_consent_means=config.consent.missing_means,
        settings={
            "leads": config.analytics.leads.model_dump(),
            "customers": config.analytics.customers.model_dump(),
            "forecast": config.analytics.forecast.model_dump(),
            "pricing": config.analytics.pricing.model_dump(),
        },
    )
    destinations = _destinations(config)
    with Store(store_path or config.store) as store:
        result = run_pipeline(source, store, options, destinations, progress)
    return result, [d.path.resolve() for d in config.destinations]
