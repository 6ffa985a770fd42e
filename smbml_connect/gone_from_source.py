"""Rows gone from a source read whole: the file or sheet is the table.

A files or Google Sheets source is read in full every run, so a row the user deleted
(a test order, a duplicate contact, a product withdrawn) is simply absent. Upserting by
key kept such rows in the store for good, still counted: a deleted $999 test order kept
its customer a Champion. Here every key a read meets is listed, and once a table has been
read to its end, the source's other stored rows are left out (marked archived, so a row
that comes back counts again). A row rejected this run was met (its key could be read):
its last good version stays. A table the source no longer gives at all is left out too.

Only sources read whole do this: an incremental one (HubSpot) says itself which records
it deleted. ``[source] removed_rows = "keep"`` keeps them, for a folder that receives
only each new export.
"""

from __future__ import annotations

import pandas as pd

from smbml_connect.ports import Notice, RunResult, Source
from smbml_connect.schema import TABLES
from smbml_connect.store import Store

__all__ = ["GONE_CHECK", "GoneRows"]

GONE_CHECK = "gone_from_source"
_EXAMPLES = 5


class GoneRows:
    """The keys one run's whole read of ``source`` met, per table, and what it lacks."""

    def __init__(self, store: Store, source: Source, keep: bool) -> None:
        self.store = store
        self.source = source
        self.enabled = not source.incremental and not keep
        self._started: set[str] = set()

    def start(self, table: str) -> None:
        """A table about to be read: nothing met yet (an emptied file leaves out every row)."""
        if self.enabled and table not in self._started:
            self.store.start_seen(table)
            self._started.add(table)

    def met(self, table: str, keys: pd.DataFrame) -> None:
        if self.enabled and not keys.empty:
            self.start(table)
            self.store.note_seen(table, keys)

    def finish(self, result: RunResult, where: dict[str, str]) -> None:
        """Leave out what the tables read to their end lack, and say so in the data checks.

        ``where`` names each table's file or tab for the message (the source's name if not).
        """
        if not self.enabled:
            return
        given = set(self.source.available())
        when = str(pd.Timestamp.now(tz="UTC"))
        for table in TABLES:
            if table in result.incomplete or (table in given and table not in self._started):
                continue  # not read to its end: what it lacks is unknown
            if table not in self._started:
                self.store.start_seen(table)
            gone = self.store.leave_out_unseen(table, self.source.name, when)
            self._started.discard(table)
            if not gone:
                continue
            result.archived[table] = result.archived.get(table, 0) + len(gone)
            place = where.get(table) if table in given else None
            result.notices.append(
                Notice(GONE_CHECK, table, len(gone), _message(table, gone, place))
            )


_NOUNS = {
    "contacts": "contact", "deals": "deal", "deal_stages": "deal stage",
    "deal_pipeline_stages": "pipeline stage", "orders": "order", "order_lines": "order line",
    "products": "product", "associations": "association", "activities": "activity",
}  # fmt: skip


def _message(table: str, gone: list[str], where: str | None) -> str:
    one = _NOUNS.get(table, table.replace("_", " "))
    many = "activities" if table == "activities" else one + "s"
    noun = one if len(gone) == 1 else many
    examples = ", ".join(gone[:_EXAMPLES]) + (", ..." if len(gone) > _EXAMPLES else "")
    if where:
        said = f"{len(gone):,} {noun} no longer in {where} ({examples})"
    else:
        said = (
            f"No file or tab gives {many} any more: {len(gone):,} {noun} read before ({examples})"
        )
    back = "it counts again if it comes" if len(gone) == 1 else "they count again if they come"
    return (
        f"{said}: left out of the results (kept in the store; {back} back). To keep "
        'counting rows a newer export no longer has, set removed_rows = "keep" in [source].'
    )
