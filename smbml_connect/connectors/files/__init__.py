"""CSV files and .xlsx workbooks as a source: how an Excel user without a CRM starts."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict

from smbml_connect.connector import Connector, ConnectorContext
from smbml_connect.connectors.files.source import FilesSource
from smbml_connect.ports import Source

__all__ = ["CONNECTOR", "FilesSettings", "FilesSource"]


class FilesSettings(BaseModel):
    """``[source]`` keys of a files source."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: Path  # a workbook, a folder of CSV files, or one CSV file


def _source(context: ConnectorContext) -> Source:
    source = context.config.source
    path = source.settings_as(FilesSettings).path
    written = tuple(p for _, p in context.config.written_files())  # results.xlsx beside the CSVs
    return FilesSource(path, source.tables, source.mapping, outputs=written)


CONNECTOR = Connector(
    kind="files",
    summary="an Excel workbook, a folder of CSV files or one CSV file",
    spreadsheet=True,
    source_settings=FilesSettings,
    make_source=_source,
)
