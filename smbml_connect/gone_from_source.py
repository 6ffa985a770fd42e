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
only each new export; set after a run left rows out, it brings them back (`restore`).

An incremental source may list every id it holds now and then (`Page.listed`): a record
missing from two such listings was deleted for good there (HubSpot's GDPR delete, or 90
days in its recycle bin) and can never come back, so it is purged, not marked: its row
goes, with every row of that source that names it (its activities, associations, a
deal's stages, an order's lines; deals and orders keep their amounts but no longer name
the person), and what was computed about it.
"""

from __future__ import annotations

import json

import pandas as pd

from smbml_connect.ports import Notice, Page, Renamed, RunResult, SaysWhereTablesWent, Source
from smbml_connect.schema import TABLES
from smbml_connect.store import Store

__all__ = ["GONE_CHECK", "PURGED_CHECK", "RESTORED_CHECK", "GoneRows"]

GONE_CHECK = "gone_from_source"
RESTORED_CHECK = "kept_again"  # removed_rows = "keep" set after rows were left out
PURGED_CHECK = "deleted_for_good"
_EXAMPLES = 5
SURE_ROWS = 20  # fewer rows than this gone at once is never taken for a file mid-write


class GoneRows:
    """The keys one run's whole read of ``source`` met, per table, and what it lacks."""

    def __init__(self, store: Store, source: Source, keep: bool, accept: bool = False) -> None:
        self.store = store
        self.source = source
        self.accept = accept  # `smbml run --accept-removals`: many rows at once are meant
        self.enabled = not source.incremental and not keep
        self.keep = keep and not source.incremental  # an incremental source's own deletes stand
        former = source.former_names if isinstance(source, Renamed) else ()
        self.names = (source.name, *former)
        self._started: set[str] = set()
        self._listing: set[str] = set()
        self._unsure: set[str] = set()
        self._new: set[str] = set()  # tables this source gave no row of before

    def restore(self, result: RunResult) -> None:
        """With ``removed_rows = "keep"``: the rows earlier runs left out as gone from this
        source count again (the setting says to keep counting them), and the run says
        which, since nothing else would tell the user their results changed."""
        if not self.keep:
            return
        for table in TABLES:
            back = self.store.restore_left_out(table, self.names)
            if back:
                result.notices.append(
                    Notice(
                        RESTORED_CHECK,
                        table,
                        len(back),
                        f"{_count(table, back)} that earlier runs left out as gone from "
                        f"the source ({_examples(back)}) "
                        f"{'counts' if len(back) == 1 else 'count'} again, as "
                        'removed_rows = "keep" in [source] asks.',
                    )
                )

    def start(self, table: str) -> None:
        """A table about to be read: nothing met yet (an emptied file leaves out every row).
        A table the source never gave a row of has nothing to lose: its keys are not
        listed (a first load of a large file costs nothing more)."""
        if self.enabled and table not in self._started:
            self._started.add(table)
            if self.store.has_rows(table, self.names):
                self.store.start_seen(table)
            else:
                self._new.add(table)

    def met(self, table: str, keys: pd.DataFrame) -> None:
        if self.enabled and not keys.empty:
            self.start(table)
            if table not in self._new:
                self.store.note_seen(table, keys)

    def listed(self, table: str, ids: list[str]) -> None:
        """Ids a source listing every id it holds met (any source: see the module's end)."""
        if table not in self._listing:
            self.store.start_seen(table)
            self._listing.add(table)
        key = TABLES[table].key[0]
        self.store.note_seen(table, pd.DataFrame({key: pd.array(ids, dtype="string")}))

    def purge(self, table: str, result: RunResult) -> bool:
        """Every id was listed: the source's stored rows missing from this listing and from
        the one before are gone for good. Twice, because a record merged or restored while
        the listing ran is in none of its lists (a merge shows on the kept record by the
        next run, whose search comes before its listing and moves what named the old one).
        Unless over half of the live rows (20 or more) are missing at once (a token for
        another account, a portal emptied by mistake; archived rows leaving the recycle
        bin together are expected): then nothing goes, the run says so, and False says
        the check is not done (the next run checks again)."""
        if table not in self._listing:
            self.store.start_seen(table)
        self._listing.discard(table)
        missing, live, total = self.store.purge_candidates(table, self.source.name)
        before = self.store.unlisted_before(table, self.source.name)
        gone = [rid for rid in missing if rid in before]
        if not self.accept and len(live) >= SURE_ROWS and len(live) > total / 2:
            self.store.purge(table, self.source.name, [], missing, result.run_id)
            shown = sorted(live)
            said = (
                f"{len(live):,} of the {total:,} {_many(table)} read before are in no list of "
                f"{self.source.name} now ({_examples(shown)}): they are kept, as so many at "
                "once is how a token for another account looks. If they were deleted on "
                "purpose, run `smbml run --accept-removals` once."
            )
            result.notices.append(Notice(PURGED_CHECK, table, len(live), said))
            return False
        self.store.purge(
            table, self.source.name, gone, [r for r in missing if r not in before], result.run_id
        )
        if not gone:
            return True
        result.purged[table] = [*result.purged.get(table, []), *gone]
        said = (
            f"{_count(table, gone)} deleted for good in {self.source.name} ({_examples(gone)}): "
            "removed from the store, with what was computed about them."
        )
        result.notices.append(Notice(PURGED_CHECK, table, len(gone), said))
        return True

    def kept_only(self, page: Page, result: RunResult) -> None:
        """A source's whole listing of some of its records (a HubSpot engagement type, once
        a day, ``Page.kept_only``): the ids two listings in a row missed go with the page,
        and the run says how many. Unless over half of those stored (20 or more) are
        missing at once (a portal emptied by mistake, a listing that came back empty):
        then nothing goes, the run says so, and the ids are held until a run with
        `--accept-removals` (`release`) or a listing that meets them again."""
        for table, only in list(page.kept_only.items()):
            missing, gone, total = self.store.unlisted_rows(table, only, self.source.name)
            words = only.noun or only.name.replace("_", " ")
            held = not self.accept and len(missing) >= SURE_ROWS and len(missing) > total / 2
            self.store.hold_unlisted(table, only, self.source.name, missing if held else None)
            if held:
                del page.kept_only[table]
                said = (
                    f"{len(missing):,} of the {total:,} {words} read before are in no list of "
                    f"{self.source.name} now ({_examples(missing)}): their {_many(table)} are "
                    "kept, as so many at once is how a token for another account or an "
                    "account emptied by mistake looks. If they were deleted on purpose, run "
                    "`smbml run --accept-removals` once."
                )
                result.notices.append(Notice(PURGED_CHECK, table, len(missing), said))
            elif gone:
                one = words[:-1] if len(gone) == 1 and words.endswith("s") else words
                said = (
                    f"{len(gone):,} {one} gone from {self.source.name} (deleted, or in its "
                    f"recycle bin; in no list of it twice in a row: {_examples(gone)}): their "
                    f"{_many(table)} were removed."
                )
                result.notices.append(Notice(PURGED_CHECK, table, len(gone), said))

    def release(self, result: RunResult) -> None:
        """With `--accept-removals`: the ids a listing missed in numbers too large to trust
        (`kept_only`) are removed now, and the run says how many."""
        if not self.accept:
            return
        for table, listing, noun, ids in self.store.held_unlisted(self.source.name):
            removed = self.store.remove_held(table, listing, self.source.name, ids)
            if ids:
                said = (
                    f"{len(ids):,} {noun} in no list of "
                    f"{self.source.name} were removed as asked (--accept-removals), with "
                    f"their {removed:,} {_many(table)}."
                )
                result.notices.append(Notice(PURGED_CHECK, table, len(ids), said))

    def unsure(self, table: str) -> None:
        """Lines of the table could not be read this run: their keys are unknown, so what
        looks gone may be on them (a note typed beside a row, a file cut mid-write)."""
        self._unsure.add(table)

    def finish(self, result: RunResult, where: dict[str, str]) -> None:
        """Leave out what the tables read to their end lack, and say so in the data checks.

        ``where`` names each table's file or tab for the message. Nothing is left out of a
        table with unreadable lines, nor when more than half of a table's rows (and at
        least `SURE_ROWS`) would go at once, unless ``accept``: that is how a file being
        replaced or synced looks.
        """
        if not self.enabled:
            return
        given = set(self.source.available())
        when = str(pd.Timestamp.now(tz="UTC"))
        unsure_places = {where[t] for t in self._unsure if where.get(t)}
        for table in TABLES:
            if table in result.incomplete or (table in given and table not in self._started):
                continue  # not read to its end: what it lacks is unknown
            self._others(table, result)
            if table in self._new:
                continue  # nothing of it was stored: nothing can be gone
            if table not in self._started:
                self.store.start_seen(table)
            self._started.discard(table)
            gone, live = self.store.unseen(table, self.names)
            place = (where.get(table) or self.source.name) if table in given else None
            if place is not None and place in unsure_places:  # one file gives several tables
                self._unsure.add(table)
            went = self._went(table, result) if place is None and given and gone else None
            held = self._held(table, gone, live, place, bool(given), went)
            if held or not gone:
                self.store.end_seen(table)
                if held:
                    result.notices.append(Notice(GONE_CHECK, table, len(gone), held))
                continue
            result.archived[table] = result.archived.get(table, 0) + len(gone)
            result.notices.append(
                Notice(GONE_CHECK, table, len(gone), _message(table, gone, place, went))
            )
            # said before it is done: a run ended between the two says it twice, never none
            self.store.note_progress(result.run_id, result.counts())
            self.store.leave_out_unseen(table, self.names, when)

    def _others(self, table: str, result: RunResult) -> None:
        """Rows another folder, workbook or spreadsheet of this kind gave this store: this
        run cannot tell a path changed from a second config sharing the store, so they
        still count, and the run says so."""
        kind = self.source.name.split(":", 1)[0]
        for name, n in self.store.other_sources(table, kind, self.names).items():
            result.notices.append(
                Notice(
                    "other_source",
                    table,
                    n,
                    f"{_count(table, n)} in this store came from {name}, which this "
                    "run did not read: they still count. If this config reads "
                    f"{self.source.name} instead now, give it a new store (store = ... in "
                    "the config) so that only what it reads counts.",
                )
            )

    def _went(self, table: str, result: RunResult) -> str | None:
        """The source's words on a table it gave before and gives no more (a renamed tab),
        naming where the last run that read it found it; None from a source without."""
        if not isinstance(self.source, SaysWhereTablesWent):
            return None
        runs = self.store.runs(limit=50)
        runs = runs[(runs["run_id"] < result.run_id) & runs["source"].isin(self.names)]
        before = None
        for run in runs.itertuples():  # newest first
            counts = json.loads(run.counts) if isinstance(run.counts, str) else {}
            before = (counts.get("files") or {}).get(table) if isinstance(counts, dict) else None
            if before:
                break
        return self.source.missing_table(table, str(before) if before else None)

    def _held(
        self,
        table: str,
        gone: list[str],
        live: int,
        place: str | None,
        any_given: bool,
        went: str | None = None,
    ) -> str | None:
        """Why rows that look gone still count this run (None: they go). ``went``: the
        source's words on a table no tab gives now, said in place of "a file being
        replaced" and --accept-removals, which would remove every row of a renamed tab."""
        if not gone:
            return None
        still = f"{_count(table, gone)} read before ({_examples(gone)}) still count this run"
        if not any_given:
            return f"No file or tab gives any table: the {still}."
        if table in self._unsure:
            return (
                f"Some lines of {place} could not be read (see the rejects), so the {still}: "
                "a row is left out once every line reads."
            )
        if not self.accept and len(gone) >= SURE_ROWS and len(gone) > live / 2:
            if went is not None:
                return f"The {still}: {went}."
            return (
                f"{len(gone):,} of the {live:,} {_many(table)} read before are not in "
                f"{place or 'the source'} now ({_examples(gone)}): they still count this run, "
                "as so many at once is how a file being replaced or synced looks. If you "
                "removed them on purpose, run `smbml run --accept-removals` once."
            )
        return None


_NOUNS = {
    "contacts": "contact", "deals": "deal", "deal_stages": "deal stage",
    "deal_pipeline_stages": "pipeline stage", "orders": "order", "order_lines": "order line",
    "products": "product", "associations": "association", "activities": "activity",
}  # fmt: skip


def _many(table: str) -> str:
    return "activities" if table == "activities" else _NOUNS.get(table, table) + "s"


def _count(table: str, gone: list[str] | int) -> str:
    """'1 order', '3 order lines'."""
    n = gone if isinstance(gone, int) else len(gone)
    return f"{n:,} {_NOUNS.get(table, table) if n == 1 else _many(table)}"


def _examples(gone: list[str]) -> str:
    return ", ".join(gone[:_EXAMPLES]) + (", ..." if len(gone) > _EXAMPLES else "")


def _message(table: str, gone: list[str], where: str | None, went: str | None = None) -> str:
    if went is not None:  # a table no tab gives now, in the source's words
        back = "it counts again if it comes" if len(gone) == 1 else "they count again if they come"
        return (
            f"{_count(table, gone)} read before ({_examples(gone)}) left out of the results "
            f"(kept in the store; {back} back): {went}."
        )
    if where:
        said = f"{_count(table, gone)} no longer in {where} ({_examples(gone)})"
    else:
        said = (
            f"No file or tab gives {_many(table)} any more: {_count(table, gone)} read before "
            f"({_examples(gone)})"
        )
    back = "it counts again if it comes" if len(gone) == 1 else "they count again if they come"
    kept = "kept in the store; " if "archived_at" in TABLES[table].names else ""
    return (
        f"{said}: left out of the results ({kept}{back} back). To keep counting rows a "
        'newer export no longer has, set removed_rows = "keep" in [source].'
    )


_CARRIED = "Said by run "  # a stopped run's line said again (not carried twice)


def said_by_stopped(store: Store, run_id: int, source: str) -> list[Notice]:
    """What the runs stopped since the last finished one left out, said again: they
    archived those rows and were ended before their data checks reached a workbook, and
    this run finds nothing left to leave out (find56_weeks item 1)."""
    runs = store.runs(limit=50)
    runs = runs[(runs["run_id"] < run_id) & (runs["source"] == source)]
    said: list[Notice] = []
    for run in runs.itertuples():  # newest first
        if run.status in ("ok", "partial"):
            break
        counts = json.loads(run.counts) if isinstance(run.counts, str) else {}
        for notice in counts.get("notices", []):
            carried = str(notice.get("message", "")).startswith(_CARRIED)
            if notice.get("check") in (GONE_CHECK, PURGED_CHECK) and not carried:
                said.append(
                    Notice(
                        notice["check"],
                        notice.get("table", ""),
                        int(notice.get("count", 0)),
                        f"{_CARRIED}{run.run_id}, which was stopped before it finished: "
                        f"{notice['message']}",
                    )
                )
    return said
