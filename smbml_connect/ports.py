"""The contracts between layers: what the pipeline asks of any connector and any output.

Sources, paged sources and destinations are typed protocols, so a connector needs no
base class and a type checker proves it fits. The core imports nothing above it;
connectors, steps and the add-in import this module.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import pandas as pd

from smbml_connect.schema import REJECT_COLUMNS

if TYPE_CHECKING:
    from smbml_connect.store import Store

__all__ = [
    "Destination",
    "Page",
    "PagedSource",
    "PushReport",
    "ReportSection",
    "RunResult",
    "SavedModelText",
    "Source",
    "StepResult",
]


@dataclass
class PushReport:
    """What one push did: written, unchanged, and per-record failures that were not fatal."""

    destination: str
    written: int = 0
    unchanged: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)  # (record id, reason)
    detail: list[str] = field(default_factory=list)  # lines for the person watching
    kind: str = "file"  # "file" (destination is its path), "sheets" or "crm" (counts printed)


@runtime_checkable
class Source(Protocol):
    """A place canonical tables come from.

    ``pull`` returns rows with canonical column names (unknown ones kept as they are, for
    ``extra``) and a ``_source_row`` column with the row number the user sees. When
    ``incremental`` is true, ``since`` is the cursor the pipeline stored last time.
    """

    @property
    def name(self) -> str: ...

    @property
    def incremental(self) -> bool: ...

    def available(self) -> list[str]: ...

    def pull(self, entity: str, since: str | None = None) -> pd.DataFrame: ...


@dataclass
class Page:
    """Rows to commit together, the cursor they allow, and records the source has archived."""

    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    cursor: str | None = None
    archived: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # table: (key, when)
    skipped: int = 0  # records that are not rows of this table (e.g. line items of a quote)


@runtime_checkable
class PagedSource(Source, Protocol):
    """A source whose pages commit one by one (rows, rejects and cursor together)."""

    def pull_pages(self, entity: str, since: str | None = None) -> Iterator[Page]: ...


@dataclass(frozen=True)
class SavedModelText:
    """A fitted model as text (never pickle) with its card, for the store."""

    payload: str
    card: dict[str, Any]
    format: str


@dataclass
class ReportSection:
    title: str
    paragraphs: list[str] = field(default_factory=list)
    figures: list[str] = field(default_factory=list)  # inline SVG
    table: pd.DataFrame | None = None


@dataclass
class StepResult:
    outputs: dict[str, pd.DataFrame] = field(default_factory=dict)  # scores/forecasts/prices
    sheets: dict[str, pd.DataFrame] = field(default_factory=dict)  # tab title -> frame
    notes: dict[str, str] = field(default_factory=dict)  # tab title -> one-line explanation
    sections: list[ReportSection] = field(default_factory=list)
    summary: list[str] = field(default_factory=list)  # one-liners for the CLI and report
    models: dict[str, SavedModelText] = field(default_factory=dict)


@dataclass
class RunResult:
    """Everything a run produced, for destinations and for the person watching."""

    run_id: int
    as_of: pd.Timestamp
    source: str
    status: str = "running"
    loaded: dict[str, int] = field(default_factory=dict)
    rejects: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=REJECT_COLUMNS))
    consent_skipped: int = 0
    steps: dict[str, StepResult] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # analytics with no or too little data
    pushes: list[PushReport] = field(default_factory=list)
    archived: dict[str, int] = field(default_factory=dict)  # records the source has deleted
    not_loaded: dict[str, int] = field(default_factory=dict)  # source records not of the table

    @property
    def rejected_rows(self) -> int:
        rows = self.rejects[self.rejects["action"] != "value cleared"]
        return len(rows[["table", "source_row"]].drop_duplicates())

    @property
    def cleared_values(self) -> int:
        return int((self.rejects["action"] == "value cleared").sum())

    def counts(self) -> dict[str, Any]:
        return {
            "loaded": self.loaded,
            "rejected_rows": self.rejected_rows,
            "cleared_values": self.cleared_values,
            "consent_skipped": self.consent_skipped,
            "skipped": self.skipped,
            "archived": self.archived,
            "not_loaded": self.not_loaded,
            "outputs": {
                f"{name}.{kind}": len(frame)
                for name, result in self.steps.items()
                for kind, frame in result.outputs.items()
            },
        }


@runtime_checkable
class Destination(Protocol):
    """Where a run's results go: a file, a spreadsheet, CRM properties."""

    @property
    def name(self) -> str: ...

    def publish(self, result: RunResult, store: Store) -> PushReport: ...
