"""The composition root's list of connectors: the one place that knows them all.

Config validation, credentials, the runner and the CLI ask this module; adding a
connector is one package under ``smbml_connect/connectors/`` and one line in
``CONNECTORS``. ``register`` adds one at run time (a plugin, or a test's in-memory
connector).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pydantic import BaseModel, ConfigDict, field_validator

from smbml_connect import config as config_module
from smbml_connect.config import Config, ConfigSchema, DestinationConfig
from smbml_connect.connector import Connector, ConnectorContext
from smbml_connect.connectors import files, gsheets, hubspot, sample
from smbml_connect.errors import ConfigError
from smbml_connect.ports import Destination
from smbml_connect.report import HtmlReport, ResultsWorkbook, rejects_file
from smbml_connect.steps import settings_models

__all__ = [
    "CONNECTORS",
    "config_schema",
    "connector",
    "connectors",
    "load_config",
    "parse_config",
    "register",
    "registered",
]


class FileOutput(BaseModel):
    """``[[destinations]]`` keys of a file the run writes (the workbook, the report)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: Path

    def files(self) -> tuple[Path, ...]:
        """Every file this destination writes (``Config.written_files``)."""
        return (self.path,)


class WorkbookOutput(FileOutput):
    """A results workbook: an .xlsx file (openpyxl writes no other kind Excel opens)."""

    @field_validator("path")
    @classmethod
    def _xlsx(cls, path: Path) -> Path:
        if path.suffix.lower() != ".xlsx":
            raise ValueError(
                f"{path.name!r}: the results workbook is an .xlsx file, e.g. results.xlsx"
            )
        return path

    def files(self) -> tuple[Path, ...]:
        return (self.path, rejects_file(self.path))


class ReportOutput(FileOutput):
    """An HTML report: an .html file (the browser opens it)."""

    @field_validator("path")
    @classmethod
    def _html(cls, path: Path) -> Path:
        if path.suffix.lower() not in {".html", ".htm"}:
            raise ValueError(f"{path.name!r}: the report is an .html file, e.g. report.html")
        return path


def _workbook(context: ConnectorContext, entry: DestinationConfig) -> Destination:
    return ResultsWorkbook(entry.settings_as(WorkbookOutput).path)


def _report(context: ConnectorContext, entry: DestinationConfig) -> Destination:
    return HtmlReport(entry.settings_as(ReportOutput).path)


WORKBOOK = Connector(
    "workbook", "the results workbook (.xlsx)", destination_settings=WorkbookOutput,
    make_destination=_workbook,
)  # fmt: skip
REPORT = Connector(
    "report", "the HTML report", destination_settings=ReportOutput, make_destination=_report
)

CONNECTORS: list[Connector] = [
    files.CONNECTOR,
    sample.CONNECTOR,
    hubspot.CONNECTOR,
    gsheets.CONNECTOR,
    WORKBOOK,
    REPORT,
]


def connectors() -> list[Connector]:
    return list(CONNECTORS)


def connector(kind: str) -> Connector:
    for item in CONNECTORS:
        if item.kind == kind:
            return item
    known = ", ".join(c.kind for c in CONNECTORS)
    raise ConfigError(f"no connector of kind {kind!r}; known: {known}")


def register(item: Connector) -> None:
    """Add a connector (a plugin); a kind that exists already is refused."""
    if any(c.kind == item.kind for c in CONNECTORS):
        raise ConfigError(f"a connector of kind {item.kind!r} is registered already")
    CONNECTORS.append(item)


@contextmanager
def registered(item: Connector) -> Iterator[Connector]:
    """Register for the length of a block (tests), then restore the list."""
    register(item)
    try:
        yield item
    finally:
        CONNECTORS.remove(item)


def config_schema() -> ConfigSchema:
    return ConfigSchema(
        sources={c.kind: c.source_settings for c in CONNECTORS if c.source_settings},
        mapped_by_header=frozenset(c.kind for c in CONNECTORS if c.spreadsheet),
        sections={c.section: c.settings for c in CONNECTORS if c.section and c.settings},
        destinations={c.kind: c.destination_settings for c in CONNECTORS if c.destination_settings},
        analytics=settings_models(),
        secret_hints=tuple(c.auth.credential.env_var for c in CONNECTORS if c.auth),
    )


def parse_config(data: dict[str, object], base: Path | None = None) -> Config:
    return config_module.parse_config(data, config_schema(), base)


def load_config(path: str | Path) -> Config:
    return config_module.load_config(path, config_schema())
