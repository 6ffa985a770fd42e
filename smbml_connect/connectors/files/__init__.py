"""CSV files and .xlsx workbooks as a source: how an Excel user without a CRM starts."""

from __future__ import annotations

import codecs
from pathlib import Path

from pydantic import BaseModel, ConfigDict, field_validator

from smbml_connect.connector import Connector, ConnectorContext
from smbml_connect.connectors.files.source import FilesSource
from smbml_connect.ports import Source

__all__ = ["CONNECTOR", "FilesSettings", "FilesSource"]


class FilesSettings(BaseModel):
    """``[source]`` keys of a files source."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: Path  # a workbook, a folder of CSV files, or one CSV file
    # The CSV files' encoding ("cp1250", "cp932"), for files whose text does not tell it.
    encoding: str | None = None

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError(
                f'{value!r} is not an encoding; use a name such as "cp1250" (Central '
                'European), "cp1251" (Cyrillic), "cp932" (Japanese) or "utf-8"'
            ) from None
        return value


def _source(context: ConnectorContext) -> Source:
    source = context.config.source
    path = source.settings_as(FilesSettings).path
    written = tuple(p for _, p in context.config.written_files())  # results.xlsx beside the CSVs
    settings = source.settings_as(FilesSettings)
    return FilesSource(
        path, source.tables, source.mapping, outputs=written, encoding=settings.encoding
    )


CONNECTOR = Connector(
    kind="files",
    summary="an Excel workbook, a folder of CSV files or one CSV file",
    spreadsheet=True,
    source_settings=FilesSettings,
    make_source=_source,
)
