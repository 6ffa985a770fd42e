"""The surface every connector shares, so adding a CRM means adding one module."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import pandas as pd

__all__ = ["PushReport", "Source"]


@dataclass
class PushReport:
    """What one push did: written, unchanged, and per-record failures that were not fatal."""

    destination: str
    written: int = 0
    unchanged: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)  # (record id, reason)
    detail: list[str] = field(default_factory=list)  # lines for the person watching


class Source(Protocol):
    """A place canonical tables come from.

    ``pull`` returns rows with canonical column names (unknown ones kept as they are, for
    ``extra``) and a ``_source_row`` column with the row number the user sees. When
    ``incremental`` is true, ``since`` is the cursor the pipeline stored last time.
    """

    name: str
    incremental: bool

    def available(self) -> list[str]: ...

    def pull(self, entity: str, since: str | None = None) -> pd.DataFrame: ...
