"""pull -> validate -> store -> analytics -> outputs: the one job every surface runs.

The pipeline owns the order of work and the bookkeeping (run record, rejects, cursors,
consent); connectors only move data and steps only compute. A table that cannot be
read is recorded and the rest of the run goes on; the run ends 'partial' then.
"""

from __future__ import annotations

import errno
import itertools
import json
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd

from smbml_connect import steps as steps_registry
from smbml_connect.business_zone import (
    NO_ZONE,
    UTC_ZONE,
    BusinessZone,
    business_zone,
    day_end,
    offsets_hint,
    same_zone,
)
from smbml_connect.coerce import UNSAVED_FORMULA, ColumnFormat
from smbml_connect.connector import Inspectable
from smbml_connect.consent import (
    OPT_OUT_LIST,
    UNREADABLE_CONSENT,
    is_consent_header,
    is_opt_out_date,
    is_opt_out_header,
    is_suppression_header,
    read_column,
)
from smbml_connect.contact_links import link_to_contacts, unknown_as_none
from smbml_connect.data_checks import check_data
from smbml_connect.deal_dates import closed_on_close_date
from smbml_connect.errors import (
    ConfigError,
    NotEnoughDataError,
    NothingReadError,
    SmbmlError,
    TokenRejectedError,
    failure_words,
    mark_recorded,
)
from smbml_connect.gone_from_source import GoneRows, said_by_stopped
from smbml_connect.headers import HeaderMapping, normalise
from smbml_connect.layouts import CLEARED_ACTION, deal_outcomes, no_outcomes
from smbml_connect.log_file import log_details
from smbml_connect.order_currencies import amounts_in
from smbml_connect.page_duplicates import KeysSeen
from smbml_connect.page_notes import held_notes, merged_notes
from smbml_connect.ports import (
    Destination,
    ListsNotRead,
    Notice,
    Page,
    PagedSource,
    PushReport,
    ReadsAgain,
    Renamed,
    RunResult,
    SaysDateOrder,
    SaysUnnamedAmounts,
    SkipsRows,
    Source,
    SourceReject,
    StepResult,
)
from smbml_connect.redaction import redact
from smbml_connect.sales import no_amounts, product_sale_days
from smbml_connect.schema import (
    NOTE,
    REJECT_COLUMNS,
    STORED_ROW,
    TABLES,
    Evidence,
    OutputTable,
    Validation,
    evidence,
    validate,
)
from smbml_connect.secret_columns import redacted_rejects
from smbml_connect.source_account import same_account
from smbml_connect.steps import Step, StepContext
from smbml_connect.store import Store
from smbml_connect.value_words import portal_words, reject_files

__all__ = ["ZONE_CHANGED", "ZONE_UNREAD", "ZONE_UNSET", "Progress", "RunOptions", "run_pipeline"]

log = logging.getLogger(__name__)
Progress = Callable[[str], None]
ZONE_CHANGED = "time_zone_changed"
ZONE_UNSET = "time_zone_unset"
ZONE_UNREAD = "time_zone_unread"


@dataclass(frozen=True)
class RunOptions:
    steps: Sequence[Step]
    # default: now; without a zone, the business's clock; a date: the whole of that day
    as_of: pd.Timestamp | date | None = None
    consent_column: str = "marketing_consent"
    missing_consent_means: str = "consented"
    kind: str = "run"
    settings: Mapping[str, Any] = field(default_factory=dict)  # analytics.<key> -> settings
    # table -> column -> decimal mark / date order the values cannot show (config)
    formats: Mapping[str, Mapping[str, ColumnFormat]] = field(default_factory=dict)
    incomplete_inputs: str = "skip"  # or "last_complete": see analytics.incomplete_inputs
    keep_removed_rows: bool = False  # [source] removed_rows = "keep": see gone_from_source
    accept_removals: bool = False  # `smbml run --accept-removals`: see GoneRows.finish
    switch_account: bool = False  # `smbml run --switch-account`: see source_account
    time_zone: str | None = None  # the config's; else the source's, else UTC (business_zone)
    currency: str | None = None  # the config's: the shop's, where no currency column says


STILL_COUNTS = "; the version an earlier run read still counts until this row can be read"


def _still_counting(
    store: Store, table: str, source: str, checked: Validation, seen: KeysSeen | None = None
) -> pd.DataFrame:
    """The rejects, each rejected row that an earlier run stored saying that version still
    counts: "row rejected" read as gone from every figure, while the order's old date and
    amount went on counting (find53_time item 6). ``seen``: keys earlier pages of this run
    kept, which count instead."""
    rejects, refused = checked.rejects, checked.refused
    if seen is not None and not refused.empty:
        refused = refused[~seen.kept_this_run(table, refused)]
    if refused.empty or not store.has_rows(table, [source]):
        return rejects
    stored = store.read_keys(table, refused)
    stored = stored[stored["source"] == source]
    if stored.empty:
        return rejects
    key = list(TABLES[table].key)
    read_now = checked.clean[key].drop_duplicates()  # a duplicate's first row counts instead
    older = stored[key].drop_duplicates().merge(read_now, on=key, how="left", indicator=True)
    older = older[older["_merge"] == "left_only"][key]
    still = refused.merge(older, on=key)["source_row"]
    hit = (rejects["action"] == "row rejected") & rejects["source_row"].isin(still)
    rejects = rejects.copy()
    rejects.loc[hit, "reason"] = rejects.loc[hit, "reason"].astype(str) + STILL_COUNTS
    return rejects


def _stacked_rejects(*parts: pd.DataFrame) -> pd.DataFrame:
    """The parts one under the other, each column keeping the type its values give it: a
    column with no values in one part (pandas' concat would let it decide the type, and
    warns) is left out of that part and comes back empty."""
    columns = list(dict.fromkeys(c for p in parts for c in p.columns))
    filled = [p.dropna(axis=1, how="all") for p in parts if not p.empty]
    if not filled:
        return parts[0].iloc[:0].reindex(columns=columns)
    return redacted_rejects(pd.concat(filled, ignore_index=True).reindex(columns=columns))


def run_pipeline(
    source: Source,
    store: Store,
    options: RunOptions,
    destinations: Sequence[Destination] = (),
    progress: Progress = lambda _: None,
) -> RunResult:
    as_of = _moment(options.as_of, "UTC")
    run_id = store.start_run(options.kind, source.name)
    result = RunResult(run_id=run_id, as_of=as_of, source=source.name)
    try:
        account = same_account(source, store, result, options.switch_account)
        zone = _business_zone(source, store, result, options.time_zone)
        result.as_of = as_of = _moment(options.as_of, zone.name)
        money = _Currencies(options.currency)
        result.notices += said_by_stopped(store, run_id, source.name)
        _load(source, store, result, progress, options, money)
        result.errors += _all_rejected(result)
        store.note_progress(run_id, result.counts())  # a run ended later still tells this
        _mark_complete(source, store, result)
        stored = {name: store.read(name) for name in TABLES}
        if not result.loaded and not result.incomplete and all(f.empty for f in stored.values()):
            lines = source.not_read() if isinstance(source, ListsNotRead) else []
            raise NothingReadError(nothing_read(lines, "and no earlier run stored any rows"))
        tables = {name: _live(frame) for name, frame in stored.items()}
        tables["products"] = _with_retired(tables["products"], stored["products"], tables)
        tables, linked = link_to_contacts(tables)  # "c2" or "Anna@x.com" for contact C2
        tables, closed_on = closed_on_close_date(tables)  # a closed deal's close date
        lacking = _no_outcomes(source, tables.get("deals"))
        result.notices += [
            Notice("no_outcomes", t, 1, f"{t}: {why}.") for t, why in lacking.items()
        ]
        undated = _no_dates(source, tables)  # said in skip lines only: a plain list has none
        lacking = {t: "; ".join(w for w in (lacking.get(t), undated.get(t)) if w)
                   for t in {*lacking, *undated}}  # fmt: skip
        currency = _main_currency(
            tables, options.currency or (account.currency if account else None)
        )
        plain = source.unnamed_amounts() if isinstance(source, SaysUnnamedAmounts) else {}
        result.notices += money.unnamed(currency, plain)
        tables = _checked(tables, store, result, currency)
        result.notices += linked + closed_on
        if isinstance(source, ListsNotRead):  # a tab or file that gave no table says why
            result.notices += [Notice("not_read", "", 1, line) for line in source.not_read()]
        result.notices += _derived_columns(source, result.loaded)
        result.notices += _unsaved_formulas(result.rejects)
        gone = store.read("contacts")  # an opt-out stands when its row leaves the source
        gone = gone[gone["archived_at"].notna()].reset_index(drop=True)
        personal, opted_out, unreadable, said = _consented_view(tables, options, gone)
        personal = unknown_as_none(personal)  # sales, but no one's whose consent is unknown
        result.consent_skipped = len(opted_out)
        result.notices += said
        if not unreadable.empty:
            store.add_rejects(run_id, unreadable)
            result.rejects = _stacked_rejects(result.rejects, unreadable)
        context = StepContext(
            as_of=as_of.tz_convert(zone.name),  # the steps count days on the business's clock
            currency=currency,
            settings=options.settings,
            previous_model=lambda name: getattr(store.load_model(name), "payload", None),
            sold=product_sale_days(tables["orders"], tables["order_lines"]),
            rejects=result.rejects.assign(source=reject_files(result.rejects, result.files)),
        )
        result.currency = context.currency
        # no exchange rates offline: amounts in other currencies count in no money figure
        personal, _ = amounts_in(personal, context.currency)  # said once, below
        sales, elsewhere = amounts_in(tables, context.currency)
        result.notices += elsewhere
        for step in _declaring(options.steps):
            result.declared[step.name] = step.outputs
            result.labels[step.name] = step.label  # "Lead scores", not "lead_scores"
            for table in step.outputs.tables:
                store.ensure_output(table)
        _forget_opted_out(store, result, tables, personal, opted_out)
        with portal_words(tables["deal_pipeline_stages"]):  # stages as the CRM names them
            for step in options.steps:
                if _held_back(step, source, store, result, options):
                    continue
                progress(f"Computing {step.name.replace('_', ' ')}")
                view = personal if step.personal else tables if step.own_currencies else sales
                written = _run_step(step, view, context, store, result, opted_out, lacking, tables)
                _settle(step, written, store, result)
        for destination in destinations:
            progress(f"Writing {destination.name}")
            _publish(destination, result, store)
        result.status = "partial" if result.errors else "ok"
    except BaseException as exc:
        result.status = "failed"
        result.errors.append(failure_words(exc))
        store.finish_run(run_id, result.status, result.counts(), "; ".join(result.errors))
        mark_recorded(exc)
        raise
    store.finish_run(run_id, result.status, result.counts(), "; ".join(result.errors) or None)
    store.keep_recent_runs()
    return result


def nothing_read(lines: Sequence[str], also: str = "") -> str:
    """One line for a source that gives no table: each tab or file's own reason and what
    to do (`ListsNotRead`), else the advice to name a table; the run and `smbml inspect`
    say the same. "rename a tab" was said of a folder whose workbook has an Orders tab."""
    head = "no tab or file gives a table" + (f", {also}" if also else "")
    if lines:
        return f"{head}: {' '.join(lines)}"
    return (
        f"{head}: none is named as a table (contacts, deals, orders, order lines, products, "
        '...); rename a tab or file, or name it in the config, e.g. [source.tables] orders = "Sheet1"'
    )


def _moment(given: pd.Timestamp | date | None, zone: str) -> pd.Timestamp:
    """The run's moment as a UTC instant: now, or the one given, whose clock is the
    business's when it names no zone. A date (the config's ``as_of = 2026-10-31``) is the
    last instant of that day (`day_end`): the steps count orders up to the run's moment
    and the data checks list those after it, so the day named is counted whole."""
    if given is None:  # to the second, so the tabs can print it exactly (`as_of_words`)
        return pd.Timestamp.now(tz="UTC").floor("s")
    stamp = pd.Timestamp(given) if isinstance(given, datetime) else day_end(given)
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize(zone, ambiguous=True, nonexistent="shift_forward")
    return stamp.tz_convert("UTC")


def _business_zone(
    source: Source, store: Store, result: RunResult, configured: str | None
) -> BusinessZone:
    """The zone this run reads times without an offset in (`business_zone`), kept in the
    store beside the source's cursors. When the store's rows of the source were read in
    another (a zone set, or learnt from the source, after they were), they are read again:
    an incremental source's cursors are dropped, so its next pull lists every record."""
    kept = store.zone_of(source.name)
    zone = business_zone(configured, source, kept)
    result.zone = zone
    if zone.unread:
        result.notices.append(
            Notice(
                ZONE_UNREAD,
                "",
                0,
                f"Times written without a time zone are read in {zone.words}: set time_zone "
                "at the top of the config to your business's zone (a name like "
                "'America/New_York' or 'Asia/Kolkata').",
            )
        )
    before = kept or (UTC_ZONE if store.has_rows_of(source.name) else None)
    if before is None or same_zone(before, zone.name):
        if kept != zone.name:  # new, or the same clock named as the run names it now
            store.keep_zone(source.name, zone.name)
        return zone
    store.keep_zone(source.name, zone.name, read_again=source.incremental)
    again = " every record is read again so that they are;" if source.incremental else ""
    result.notices.append(
        Notice(
            ZONE_CHANGED,
            "",
            0,
            f"Times written without a time zone are now read in {zone.words}, not "
            f"{before}:{again} days, weeks and months are counted on that clock.",
        )
    )
    return zone


def _offsets_said(result: RunResult, table: str, frame: pd.DataFrame) -> None:
    """With no zone set, orders whose times carry another offset than UTC's (a Shopify
    export's "+0200") are counted on UTC's days: one notice says so and which zones fit
    (`offsets_hint`), from the first rows of orders read."""
    if table != "orders" or result.zone != NO_ZONE or "ordered_at" not in frame.columns:
        return
    if any(n.check == ZONE_UNSET for n in result.notices):
        return
    said = offsets_hint(frame["ordered_at"], "The orders' times")
    if said:
        result.notices.append(Notice(ZONE_UNSET, "orders", 0, said))


def _all_rejected(result: RunResult) -> list[str]:
    """One line for each table whose every row read this run was rejected (a column of
    dates none of which could be read): the run is not plain "ok", and the line names the
    first reason. 531 orders lost to their dates were recorded "ok"."""
    rejected = result.rejects[result.rejects["action"] == "row rejected"]
    lines = []
    for table, loaded in result.loaded.items():
        mine = rejected[rejected["table"] == table]
        if loaded or mine.empty:
            continue
        rows = mine[["source_row", "row"]].astype(str).drop_duplicates()
        first = mine.iloc[0]
        value = f" ({first['value']!r})" if str(first["value"] or "").strip() else ""
        name = table.replace("_", " ")
        said = (
            f"all {len(rows):,} rows of {name} read were"
            if len(rows) > 1
            else (f"the only row of {name} read was")
        )
        lines.append(
            f"{said} rejected, so none was loaded: the first because {first['reason']}{value}. "
            "See the Rejects tab or `smbml status`, fix the column or state its format in "
            "the config, and run again."
        )
    return lines


def _mark_complete(source: Source, store: Store, result: RunResult) -> None:
    """Tables read to the end this run: the store's copy of them is complete as of now."""
    for table in result.loaded:
        if table in TABLES and table not in result.incomplete:
            store.mark_loaded(source.name, table)


def _held_back(
    step: Step, source: Source, store: Store, result: RunResult, options: RunOptions
) -> bool:
    """A step reading a table that failed to load this run is not computed (nothing from
    partial data is stored, pushed or published), or, by the config's choice, computed
    from the store's last complete copy of that table, saying so."""
    reads = set(TABLES) if step.reads is None else {*step.needs, *step.reads}
    if step.personal:
        reads.add("contacts")  # who opted out is read from the contacts
    failed = sorted(t for t in result.incomplete if t in reads)
    if not failed:
        return False
    names = ", ".join(t.replace("_", " ") for t in failed)
    if options.incomplete_inputs == "last_complete":
        names_too = source.former_names if isinstance(source, Renamed) else ()
        when = [
            next((w for n in (source.name, *names_too) if (w := store.last_loaded(n, t))), None)
            for t in failed
        ]  # a complete copy stored under the name an older release gave the source counts
        if all(when):
            dates = ", ".join(
                f"{t.replace('_', ' ')} of {w:%Y-%m-%d %H:%M} UTC"
                for t, w in zip(failed, when, strict=True)
                if w
            )
            result.notices.append(
                Notice(
                    "older_input",
                    failed[0],
                    0,
                    f"{step.label}: computed from the last complete copy "
                    f"({dates}), as {names} did not load this run",
                )
            )
            return False
    reason = f"{names} did not load completely this run"
    if options.incomplete_inputs == "last_complete":
        reason += " and the store has no complete copy of it yet"
    result.held_back[step.name] = reason
    _skipped(
        result,
        step.name,
        f"{step.label}: held back, {reason}; nothing computed from it was written or published",
    )
    return True


def _skipped(result: RunResult, step: str, line: str) -> None:
    """A step skipped, said once, and kept by step (an empty result tab names its own)."""
    result.skipped.append(line)
    result.skipped_steps[step] = line


def _checked(
    tables: dict[str, pd.DataFrame], store: Store, result: RunResult, currency: str
) -> dict[str, pd.DataFrame]:
    """The data checks: notices for the run, rows dated in the future left out (and listed)."""
    checked = check_data(tables, result.local_as_of, result.rejects, currency, result.zone.guessed)
    result.notices = [*result.notices, *checked.notices]  # the source's own come first
    if not checked.rejects.empty:
        store.add_rejects(result.run_id, checked.rejects)
        result.rejects = _stacked_rejects(result.rejects, checked.rejects)
    return checked.tables


def _publish(destination: Destination, result: RunResult, store: Store) -> None:
    """One destination that cannot be written costs only itself: the others still are."""
    try:
        report = destination.publish(result, store)
        result.pushes.append(report)
        if report.unwritten or report.refused:  # part went through: say what, and what not
            result.errors.append(f"{report.destination}: {_push_words(report)}")
    except OSError as exc:
        log.warning("%s not written", destination.name, exc_info=True)
        result.errors.append(f"{destination.name} not written: {_os_reason(exc)}")
    except SmbmlError as exc:
        log.warning("%s not written", destination.name, exc_info=True)
        result.errors.append(f"{destination.name} not written: {exc}")


def _push_words(report: PushReport) -> str:
    """What a push wrote and what it could not ("wrote 1,258 values (1,258 on contacts);
    96 values on 32 products not written: ..."), for the run's problems and `smbml status`."""
    if report.kind == "sheets":  # rows are not values: what was not kept, tab by tab
        return "; ".join(report.unwritten)
    wrote = ", ".join(f"{n:,} on {kind}" for kind, n in report.written_on.items() if n)
    said = f"wrote {report.written:,} values ({wrote})" if wrote else "wrote no values"
    return "; ".join([said, *report.unwritten, *report.refused])


_OS_REASONS = {
    errno.EACCES: "permission denied (choose a folder you can write to, or close the file "
    "if another program has it open)",
    errno.EPERM: "permission denied (choose a folder you can write to)",
    errno.ENOSPC: "the disk is full (free some space)",
    errno.EDQUOT: "the disk quota is used up (free some space)",
    errno.ENOENT: "the folder does not exist (create it, or fix the path in the config)",
    errno.ENOTDIR: "part of the path is a file, not a folder (fix the path in the config)",
    errno.EISDIR: "the path is a folder, not a file (add a file name in the config)",
    errno.EROFS: "the disk is read-only (choose another folder)",
}


def _os_reason(exc: OSError) -> str:
    where = f" ({exc.filename})" if exc.filename else ""
    return _OS_REASONS.get(exc.errno or 0, exc.strerror or type(exc).__name__) + where


def _declaring(enabled: Sequence[Step]) -> list[Step]:
    """Every registered step, then enabled ones the registry lacks.

    Outputs loop over what these declare, whether the step ran this time or not: a
    Sheets tab of an analytic not run says so, and the CRM keeps its latest values.
    """
    registered = list(steps_registry.STEPS)  # read now: a test may register a step
    names = {s.name for s in registered}
    return registered + [s for s in enabled if s.name not in names]


_TOO_BIG = (
    "{} is too big for this computer's memory: close other programs, or split the source "
    "into smaller files"
)


@dataclass
class _Currencies:
    """The shop's currency as the load learns it, for the amounts of a table without a
    currency column (order lines, products): the config's, else the orders', else the
    deals'. Also the signs naming no one currency ("¥") that amounts were marked with."""

    stated: str | None
    learned: dict[str, str] = field(default_factory=dict)
    signs: dict[str, str] = field(default_factory=dict)

    def shop(self) -> str | None:
        return self.stated or self.learned.get("orders") or self.learned.get("deals")

    def met(self, table: str, checked: Validation) -> None:
        if checked.shared_sign:
            self.signs.setdefault(table, checked.shared_sign)
        if table in ("orders", "deals") and table not in self.learned:
            codes = checked.clean["currency"].dropna().astype(str).str.strip().str.upper()
            codes = codes[codes != ""]
            if len(codes) and 2 * len(codes) >= len(checked.clean):
                self.learned[table] = str(codes.mode().iloc[0])

    def unnamed(
        self, currency: str, plain: Mapping[str, tuple[str, str | None]] | None = None
    ) -> list[Notice]:
        """One line when amounts carry only a shared sign and nothing names the currency:
        a yen shop's "¥14,300" was shown as $14,300 without a word. ``plain``: where a
        source's amounts carried no currency at all, and the shared sign their cells'
        format shows if any (`ports.SaysUnnamedAmounts`: a Google Sheet of plain numbers
        was shown in dollars without a word)."""
        signs = {**{t: s for t, (_, s) in (plain or {}).items() if s}, **self.signs}
        if self.shop() or not (signs or plain):
            return []
        if not signs:
            table = next(t for t in ("orders", *(plain or {})) if t in (plain or {}))
            where = (plain or {})[table][0]
            return [
                Notice(
                    "unnamed_currency",
                    table,
                    1,
                    f"Amounts in {table.replace('_', ' ')} ({where}) are plain numbers: no "
                    "currency format on their cells and no currency column says which "
                    f"currency they are in, so every money figure is shown in {currency}. If "
                    'yours is another, state it at the top of the config: currency = "EUR" '
                    "(or format the column as currency in the sheet: Format > Number > "
                    "Currency).",
                )
            ]
        table = next(t for t in ("orders", *signs) if t in signs)  # the sales first
        sign = signs[table]
        which, example = _SHARED_SIGNS.get(sign, ("", "EUR"))
        names = f"no one currency ({which})" if which else "no currency we know"
        return [
            Notice(
                "unnamed_currency",
                table,
                len(signs),
                f"Amounts in {table.replace('_', ' ')} are marked {sign}, which names "
                f"{names}, and no currency column says which: every money "
                f"figure is shown in {currency}. If yours is another, state it at the top of "
                f'the config: currency = "{example}" (or add a currency column).',
            )
        ]


# Signs several currencies share (schema._SHARED_SIGNS): which, and a code to give as example.
_SHARED_SIGNS = {
    "¥": ("yen or yuan", "JPY"),
    "$": ("US, Canadian, Australian and other dollars", "CAD"),
    "kr": ("Swedish, Norwegian, Danish or Icelandic crowns", "SEK"),
    "元": ("Chinese yuan or New Taiwan dollars", "CNY"),
}


def _load(
    source: Source,
    store: Store,
    result: RunResult,
    progress: Progress,
    options: RunOptions,
    money: _Currencies,
) -> None:
    formats = options.formats
    gone = GoneRows(store, source, options.keep_removed_rows, options.accept_removals)
    gone.restore(result)
    where: dict[str, str] = {}
    for table in source.available():
        progress(f"Reading {table}")
        cursor = store.get_cursor(source.name, table) if source.incremental else None
        gone.start(table)
        try:
            if isinstance(source, Inspectable):
                where[table] = source.where(table)
                if where[table] and ", " not in where[table]:  # one file or tab, no more
                    result.files[table] = where[table]
            if isinstance(source, PagedSource):
                _load_pages(source, table, cursor, store, result, progress, formats, gone, money)
                continue
            raw, unsettled = _deal_outcomes(source, table, source.pull(table, since=cursor))
            stated = _formats(source, table, formats)
            checked = validate(
                table, raw, source.name, stated, result.zone.name, money.shop(), result.as_of
            )
            checked.rejects = _stacked_rejects(unsettled, checked.rejects)
            _secrets_said(result, table, checked.secrets)
            money.met(table, checked)
            _offsets_said(result, table, raw)
            gone.met(table, checked.seen)
            listed = source.skipped_rows(table) if isinstance(source, SkipsRows) else None
            if listed is not None and not listed.empty:  # blank, total, header-again rows
                checked.rejects = pd.concat([listed, checked.rejects], ignore_index=True)
            notes = _header_notes(source, table)
            if not notes.empty:  # a second header of a column: what it gave
                checked.rejects = pd.concat([notes, checked.rejects], ignore_index=True)
            checked.rejects = _still_counting(store, table, source.name, checked)
        except TokenRejectedError:
            raise  # every further request would be refused too: one line, not one per table
        except (SmbmlError, MemoryError) as exc:
            # its words can quote the file (a header row that is data): shapes of secrets out
            message = redact(str(exc)) if isinstance(exc, SmbmlError) else _TOO_BIG.format(table)
            log.warning("table %s skipped: %s", table, message)
            result.errors.append(message)
            result.incomplete[table] = message
            skipped = pd.DataFrame(
                [[table, source.name, None, "", "", message, "table skipped", None]],
                columns=REJECT_COLUMNS,
            )
            result.rejects = _stacked_rejects(result.rejects, skipped)
            store.add_rejects(result.run_id, skipped)
            continue
        new_cursor = _next_cursor(checked.clean, result.as_of) if source.incremental else None
        store.upsert(table, checked.clean, cursor=(source.name, new_cursor) if new_cursor else None)
        store.add_rejects(result.run_id, checked.rejects)
        if not checked.rejects.empty:
            result.rejects = _stacked_rejects(result.rejects, checked.rejects)
        result.loaded[table] = len(checked.clean)
    gone.release(result)
    gone.finish(result, where)


def _secrets_said(result: RunResult, table: str, secrets: Sequence[str]) -> None:
    """One line per table for its columns left out because their headers name a secret
    and their values may be ones. ``secrets``: every column of ``table`` left out so far
    this run; a large file's later page can add one (its values there are not only dates),
    and the line is said again naming all."""
    said = next(
        (
            i
            for i, n in enumerate(result.notices)
            if n.check == "secret_columns" and n.table == table
        ),
        None,
    )
    if not secrets or (said is not None and result.notices[said].count == len(secrets)):
        return
    many = len(secrets) > 1
    notice = Notice(
        "secret_columns",
        table,
        len(secrets),
        f"{table.replace('_', ' ').capitalize()}: column{'s' if many else ''} "
        f"{', '.join(map(repr, secrets))} left out: "
        f"{'their headers name' if many else 'its header names'} a password, token or key and "
        f"{'their' if many else 'its'} values may be ones (not only dates, yes/no or counts), "
        "which is never stored or shown (rename the column if it holds something else).",
    )
    if said is None:
        result.notices.append(notice)
    else:
        result.notices[said] = notice


def _load_pages(
    source: PagedSource,
    entity: str,
    cursor: str | None,
    store: Store,
    result: RunResult,
    progress: Progress,
    formats: Mapping[str, Mapping[str, ColumnFormat]],
    gone: GoneRows,
    money: _Currencies,
) -> None:
    """A source that pages (HubSpot, a large CSV): each page, its rejects and its cursor
    commit together. Rows the source could not read come with the page as its rejects."""
    seen = KeysSeen(enabled=not source.incremental)
    secrets: dict[str, list[str]] = {}  # per table, the columns left out by any page
    pages, told = _told_pages(source, entity, cursor, money, progress)
    notes: list[pd.DataFrame] = []  # column notes, said once after the last page
    for page in pages:
        clean, rejects = {}, []
        for table, unread in page.rejects.items():
            _still_there(source, table, unread, gone)
            rejects.append(
                pd.DataFrame(
                    [r.as_record(table, source.name) for r in unread], columns=REJECT_COLUMNS
                )
            )
        for table, frame in page.tables.items():
            if frame.empty:
                continue
            frame, unsettled = _deal_outcomes(source, table, frame)
            stated = _formats(source, table, formats)
            checked = validate(
                table, frame, source.name, stated, result.zone.name, money.shop(), result.as_of,
                told.get(table), source.date_order() if isinstance(source, SaysDateOrder) else None,
            )  # fmt: skip
            rejects.append(unsettled)
            secrets[table] = list(dict.fromkeys([*secrets.get(table, []), *checked.secrets]))
            _secrets_said(result, table, secrets[table])
            money.met(table, checked)
            _offsets_said(result, table, frame)
            gone.met(table, checked.seen)
            checked.rejects = _still_counting(store, table, source.name, checked, seen)
            settled = seen.settle(table, frame, checked, source.name, store)
            clean[table] = settled.clean
            rejects += [checked.rejects, settled.rejects]
            result.loaded[table] = (
                result.loaded.get(table, 0)
                + len(settled.clean)
                - settled.replaced
                - _archived_rows(settled.clean, table, page)
            )
        result.notices += page.notices
        for table, ids in page.listed.items():
            gone.listed(table, ids)
        done = [gone.purge(t, result) for t in sorted(page.listed_whole)]  # before the cursor
        gone.kept_only(page, result)
        found, noted = held_notes(_stacked_rejects(result.rejects.iloc[:0], *rejects))
        notes.append(noted)
        mark = (source.name, entity, page.cursor) if page.cursor and all(done) else None
        store.commit_page(
            result.run_id, clean, found, mark, page.archived, page.whole, page.replace,
            page.merged, source.name, page.kept_only,
        )  # fmt: skip
        if not found.empty:
            result.rejects = _stacked_rejects(result.rejects, found)
        result.loaded.setdefault(entity, 0)
        if page.skipped:  # e.g. HubSpot line items of a deal or quote: not order lines
            result.not_loaded[entity] = result.not_loaded.get(entity, 0) + page.skipped
        for table, marks in page.archived.items():
            result.archived[table] = result.archived.get(table, 0) + len(marks)
        if result.loaded[entity]:
            progress(f"Reading {entity.replace('_', ' ')}: {result.loaded[entity]:,}")
    listed = source.skipped_rows(entity) if isinstance(source, SkipsRows) else None
    if listed is not None and not listed.empty:  # blank, total, header-again rows
        store.add_rejects(result.run_id, listed)
        result.rejects = _stacked_rejects(result.rejects, listed)
    said = merged_notes(notes, bool(told)) if notes else pd.DataFrame(columns=REJECT_COLUMNS)
    headers = _header_notes(source, entity)  # a second header of a column, over all pages
    for found in (said, headers):
        if not found.empty:
            store.add_rejects(result.run_id, found)
            result.rejects = _stacked_rejects(result.rejects, found)


def _told_pages(
    source: PagedSource, entity: str, cursor: str | None, money: _Currencies, progress: Progress
) -> tuple[Iterator[Page], dict[str, Evidence]]:
    """``entity``'s pages and, when they are several pages of local files, what all of
    their values prove per table (``schema.Evidence``): read once for that, then again to
    load, so that whatever a column's values prove (day/month dates, a decimal comma, the
    totals' currency) holds for every row, whichever page it falls in. A source whose
    pages are requests (a CRM) is read once: its values come in one format (ISO dates,
    plain numbers)."""
    pages = source.pull_pages(entity, since=cursor)
    if not (isinstance(source, ReadsAgain) and source.reads_again):
        return pages, {}
    first = next(pages, None)
    if first is None:
        return iter(()), {}
    second = next(pages, None)
    if second is None:  # one page: it decides for itself
        return iter([first]), {}
    progress(f"Reading {entity.replace('_', ' ')}: how its values are written, over all of it")
    told: dict[str, Evidence] = {}
    for page in itertools.chain([first, second], pages):
        for table, frame in page.tables.items():
            if not frame.empty:
                found = evidence(table, frame, money.shop())
                told[table] = told[table] + found if table in told else found
    return source.pull_pages(entity, since=cursor), told


def _archived_rows(clean: pd.DataFrame, table: str, page: Page) -> int:
    """Rows the page carries of records it marks archived (a CRM's archived products,
    read for their names): kept, but not counted as loaded, on every run they come."""
    marks = page.archived.get(table)
    key = TABLES[table].key[-1]
    if not marks or key not in clean.columns:
        return 0
    return int(clean[key].astype(str).isin({rid for rid, _ in marks}).sum())


def _still_there(source: Source, table: str, unread: list[SourceReject], gone: GoneRows) -> None:
    """Rows the source could not load are still in it: a key read from their cells is met;
    a line whose key is unknown (a stray quote) makes nothing of the table look gone."""
    mapping = source.header_mappings.get(table) if isinstance(source, Inspectable) else None
    cells = [dict(r.cells) for r in unread if r.cells is not None]
    if len(cells) < len(unread) or mapping is None:
        gone.unsure(table)
    if cells and mapping is not None:
        try:
            gone.met(table, validate(table, mapping.apply(pd.DataFrame(cells))).seen)
        except SmbmlError:  # their keys cannot be told after all
            gone.unsure(table)


def _formats(
    source: Source, table: str, config: Mapping[str, Mapping[str, ColumnFormat]]
) -> dict[str, ColumnFormat]:
    """The config's formats of ``table`` over what the source's headers say of theirs
    ("Discount %": percentages); asked after a pull, which maps the headers."""
    mappings = source.header_mappings if isinstance(source, Inspectable) else {}
    mapping = mappings.get(table)
    said = dict(mapping.formats) if mapping is not None else {}
    stated = config.get(table, {})
    return {c: stated[c].over(said.get(c)) if c in stated else said[c] for c in {*stated, *said}}


def _unsaved_formulas(rejects: pd.DataFrame) -> list[Notice]:
    """Formulas Excel never calculated (a workbook written by a program): their cells were
    left empty, one reject each; this says once what to do."""
    found = rejects[rejects["reason"].astype(str).str.contains(UNSAVED_FORMULA, regex=False)]
    if found.empty:
        return []
    per = found.groupby("table", sort=False).size()
    where = ", ".join(f"{str(t).replace('_', ' ')} {n:,}" for t, n in per.items())
    n = len(found)
    return [
        Notice(
            "unsaved_formulas",
            str(per.index[0]),
            n,
            f"{n:,} formula cell{'' if n == 1 else 's'} had no saved value ({where}; the "
            "workbook was never calculated by Excel): left empty, listed in Rejects. Open the "
            "file in Excel or LibreOffice, save it and run again.",
        )
    ]


def _deal_outcomes(
    source: Source, table: str, frame: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Deals with open, won and lost read from the status, stage and probability their
    columns write (``layouts.deal_outcomes``), and the values that cannot be read as rejects
    rows: a Salesforce or Pipedrive user's closed deals were all taken as open."""
    none = pd.DataFrame(columns=REJECT_COLUMNS)
    if table != "deals" or frame.empty:
        return frame, none
    mappings = source.header_mappings if isinstance(source, Inspectable) else {}
    mapping = mappings.get(table) or HeaderMapping(table)
    out, notes = deal_outcomes(frame, mapping)
    rows = [[table, source.name, n["source_row"], n["column"], n["value"], n["reason"],
             CLEARED_ACTION, None] for n in notes]  # fmt: skip
    return out, pd.DataFrame(rows, columns=REJECT_COLUMNS) if rows else none


def _no_outcomes(source: Source, deals: pd.DataFrame | None) -> dict[str, str]:
    """Table -> why a step that needs it finds nothing to learn from: deals none of which
    says whether it is open or closed (said in the skip line, which names the column)."""
    if deals is None or deals.empty or deals["is_closed"].notna().any():
        return {}
    mapping = (source.header_mappings if isinstance(source, Inspectable) else {}).get("deals")
    unread = [*mapping.unmapped, *(h for h, _, _ in mapping.conflicts)] if mapping else []
    return {"deals": no_outcomes(len(deals), unread)}


# The dates a step learns from, when no row of the table has one: (table, column, rows
# that need it, the words for it, the words a header holding it has).
_NEEDED_DATES = (
    ("contacts", "created_at", None, "a created date", ("creat", "add", "signup", "since")),
    ("deals", "created_at", None, "a created date", ("creat", "add", "open")),
    ("deals", "closed_at", "is_closed", "a close date", ("clos", "won", "lost", "end")),
)


def _no_dates(source: Source, tables: Mapping[str, pd.DataFrame]) -> dict[str, str]:
    """Table -> what to map when none of its rows has a date a step learns from (a
    contact's created date, a closed deal's close date): the skip line said "no closed
    deals" of a Zoho export's 155, whose "Closing Date" was kept in extra. Names the
    file's unread header most like it ("Closing Date"), else says "Your column"."""
    mappings = source.header_mappings if isinstance(source, Inspectable) else {}
    out: dict[str, list[str]] = {}
    for table, column, among, words, hints in _NEEDED_DATES:
        frame = tables.get(table)
        if frame is None or frame.empty or column not in frame:
            continue
        rows = frame[frame[among].astype("boolean").fillna(False)] if among else frame
        if rows.empty or rows[column].notna().any():
            continue
        mapping = mappings.get(table)
        unread = [*mapping.unmapped, *(h for h, _, _ in mapping.conflicts)] if mapping else []
        named = _date_header(unread, hints)
        target = "close_date" if column == "closed_at" else column
        whose = f"{'closed ' if among else ''}{table.replace('_', ' ')}"
        out.setdefault(table, []).append(
            f"none of the {whose} has {words}; map the column that holds it in "
            f'smbml.toml: [source.mapping.{table}] {json.dumps(named)} = "{target}"'
        )
    return {t: "; ".join(said) for t, said in out.items()}


def _date_header(headers: Sequence[str], hints: tuple[str, ...]) -> str:
    """Of ``headers``, the first that names a date or time of the kind ``hints`` say
    ("Closing Date", "Created Time"), else "Your column": a "Modified Time" is no
    created date."""
    for header in headers:
        words = normalise(header).split()
        dated = set(words) & {"date", "time", "day", "at", "on", "timestamp"}
        if dated and any(w.startswith(hints) for w in words):
            return header
    return "Your column"


# A worked-out column as people say it lacks: "4 deals without a is_closed column" named
# the code's column, for a file that has none, as most deal exports do.
_DERIVED_WORDS = {
    "is_closed": "a column saying whether each is closed",
    "is_won": "a column saying whether each was won",
    "closed_at": "a column with the date each closed",
    "total": "a total column",
}


def _derived_columns(source: Source, loaded: Mapping[str, int]) -> list[Notice]:
    """A notice per column a layout worked out because the file lacks it (an order's total
    from its lines), so the run says where the figures came from. The layout counts the
    rows before validation: no more are said than were loaded (it said 4 deals of 3)."""
    mappings = source.header_mappings if isinstance(source, Inspectable) else {}
    notices = []
    for table, mapping in mappings.items():
        for column, (how, worked) in mapping.derived.items():
            rows = min(worked, loaded.get(table, worked))
            if not rows:
                continue
            lacks = _DERIVED_WORDS.get(column, f"a {column.replace('_', ' ')} column")
            name = table.replace("_", " ")
            said = f"{rows:,} {name} without {lacks} in the file: {how}."
            notices.append(Notice("derived_column", table, rows, said))
    return notices


def _header_notes(source: Source, table: str) -> pd.DataFrame:
    """Column notes of the headers read: a second header of a column ("E-mail" beside
    "Email") and the values it gave, so the run says what `smbml inspect` says."""
    mappings = source.header_mappings if isinstance(source, Inspectable) else {}
    mapping = mappings.get(table)
    notes = mapping.notes() if mapping is not None else []
    rows = [[table, source.name, None, column, "", text, NOTE, None] for column, text in notes]
    return pd.DataFrame(rows, columns=REJECT_COLUMNS)


def _live(frame: pd.DataFrame) -> pd.DataFrame:
    """Records the source has archived (deleted) stay in the store, marked, but are not used."""
    if "archived_at" not in frame or not frame["archived_at"].notna().any():
        return frame
    return frame[frame["archived_at"].isna()].reset_index(drop=True)


def _with_retired(
    products: pd.DataFrame, stored: pd.DataFrame, tables: Mapping[str, pd.DataFrame]
) -> pd.DataFrame:
    """The live products, and the archived ones some live order line names, marked not
    for sale (`on_sale` no): archiving a HubSpot product, or removing it from the products
    list, takes it off sale, but its sales stay. Left out, it was suggested to 34
    customers as "100408" and told to cut its price, and its Forecast series was that id.
    Archived products no line names stay out (nothing shows them); so do all, when no
    product is live (a products list no longer given at all says nothing about sale)."""
    if products.empty or stored.empty or stored["archived_at"].isna().all():
        return products
    lines = tables.get("order_lines")
    named = set() if lines is None else set(lines["product_id"].dropna().astype(str))
    retired = stored[stored["archived_at"].notna() & stored["product_id"].astype(str).isin(named)]
    if retired.empty:
        return products
    retired = retired.assign(on_sale=False)
    return pd.concat([products, retired], ignore_index=True)


def _next_cursor(frame: pd.DataFrame, started: pd.Timestamp) -> str | None:
    """The newest change seen, never later than the run's start (changes may still arrive)."""
    if "updated_at" not in frame or frame["updated_at"].isna().all():
        return None
    newest = min(frame["updated_at"].max(), started)
    return newest.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _consent_readings(contacts: pd.DataFrame, column: str) -> pd.Series:
    """Each contact's consent value read as consent, opt-out, missing or unreadable."""
    if column in contacts.columns:
        return read_column(contacts[column], column)
    values = contacts["extra"].map(
        lambda t: json.loads(t).get(column) if isinstance(t, str) else None
    )
    if len(contacts) and values.isna().all():
        # A header no contact has is a typo, not "nobody said anything": that would let
        # every contact through under missing_means = "consented".
        raise ConfigError(
            f"config error at consent.column: no contact has a value under {column!r}; use "
            "marketing_consent or one of your contacts' headers exactly as written (a "
            "column empty for everyone cannot say who consented)"
        )
    return read_column(values, column)


# Words every opt-out or consent header holds (``is_opt_out_header``, ``is_consent_header``
# decide): an ``extra`` without any is not parsed. Plain substring tests: a regex over every
# row costs several times more.
_OPT_OUT_HINTS = ("not", "opt", "subscri", "dnc", "consent", "accepts", "newsletter", "marketing",
                  "suppress")  # fmt: skip


def _may_hold_opt_out(text: object) -> bool:
    if not isinstance(text, str):
        return False
    low = text.lower()
    return any(word in low for word in _OPT_OUT_HINTS)


def _opt_out_columns(contacts: pd.DataFrame, column: str) -> dict[str, pd.Series]:
    """Each column kept in ``extra`` whose header is itself a list of opt-outs ("Do Not
    Email", "Unsubscribed") or a second consent column ("Marketing Opt-In" beside "Email
    Marketing Consent"), read. An opt-out there counts whichever column the config names:
    consent fails closed, and a user who kept such a column meant it."""
    out: dict[str, pd.Series] = {}
    if column != "marketing_consent" and "marketing_consent" in contacts.columns:
        # the consent column the headers gave ("Email Marketing Consent") counts as every
        # second consent column does when the config names another: an UNSUBSCRIBED there
        # was read by no one, while "Marketing Opt-In" kept in extra was
        said = contacts["marketing_consent"]
        if said.notna().any():
            out["marketing_consent"] = read_column(said, "marketing_consent")
    texts = contacts["extra"].to_numpy(dtype=object, na_value=None)
    hinted = np.fromiter(map(_may_hold_opt_out, texts), dtype=bool, count=len(texts))
    if not hinted.any():
        return out
    records = [json.loads(t) for t in texts[hinted]]
    keys: set[str] = set().union(*records)
    headers = sorted(
        k for k in keys if k != column and (is_opt_out_header(k) or is_consent_header(k))
    )
    for header in headers:
        values = np.full(len(texts), None, dtype=object)
        values[hinted] = [r.get(header) for r in records]
        out[header] = read_column(pd.Series(values, index=contacts.index), header)
    return out


def _consented_view(
    tables: dict[str, pd.DataFrame],
    options: RunOptions,
    gone: pd.DataFrame | None = None,
) -> tuple[dict[str, pd.DataFrame], set[str], pd.DataFrame, list[Notice]]:
    """Tables without the contacts who opted out of processing, nor anything tied to them.

    Also returns the unreadable consent values, each listed as "treated as opt-out", and
    a notice per opt-out column (``_opt_out_columns``) that opted out contacts the
    consent column let through. ``gone``: contacts no longer in the source (archived)
    whose orders, deals or activities may still be: their last opt-out still stands (a
    customer who opted out and was then deleted from a list kept their orders, which
    were scored under their id).
    """
    contacts = tables["contacts"]
    allowed, readings, deciding, notices = _consent_of(contacts, options)
    unreadable = _unreadable_rejects(contacts, readings, deciding)
    out_ids = set(contacts.loc[~allowed, "contact_id"])
    if gone is not None and not gone.empty:
        still, *_ = _consent_of(gone, options)
        named = set().union(
            *(set(tables[t]["contact_id"]) for t in ("orders", "deals", "activities"))
        )
        out_ids |= set(gone.loc[~still, "contact_id"]) & named
    if not out_ids:
        return tables, out_ids, unreadable, notices
    view = dict(tables)
    view["contacts"] = contacts[~contacts["contact_id"].isin(out_ids)].reset_index(drop=True)
    for name in ("activities", "orders", "deals"):
        frame = tables[name]
        view[name] = frame[~frame["contact_id"].isin(out_ids)].reset_index(drop=True)
    kept_orders = set(view["orders"]["order_id"])
    lines = tables["order_lines"]
    view["order_lines"] = lines[lines["order_id"].isin(kept_orders)].reset_index(drop=True)
    links = tables["associations"]
    touches = (links["from_type"].eq("contact") & links["from_id"].isin(out_ids)) | (
        links["to_type"].eq("contact") & links["to_id"].isin(out_ids)
    )
    view["associations"] = links[~touches].reset_index(drop=True)
    return view, out_ids, unreadable, notices


def _consent_of(
    contacts: pd.DataFrame, options: RunOptions
) -> tuple[np.ndarray, pd.Series, pd.Series, list[Notice]]:
    """Who may be processed, each reading, the column that decided it, and what was said."""
    column = options.consent_column
    readings = _consent_readings(contacts, column)
    missing_ok = options.missing_consent_means == "consented"
    allowed = readings.map(lambda r: missing_ok if r.allowed is None else r.allowed)
    allowed = allowed.astype(bool).to_numpy()
    deciding = pd.Series(column, index=contacts.index, dtype=object)  # the column that said
    notices = []
    for header, said in _opt_out_columns(contacts, column).items():
        says_no = allowed & said.map(lambda r: r.allowed is False).to_numpy(dtype=bool)
        if not says_no.any():
            continue
        readings = readings.where(~says_no, said)
        deciding[says_no] = header
        allowed &= ~says_no
        notices.append(_opt_out_notice(header, column, said[says_no]))
    return allowed, readings, deciding, notices


def _opt_out_notice(header: str, column: str, said: pd.Series) -> Notice:
    """One line for the contacts a second consent or opt-out column opted out, with an
    example of a value there that could not be read (each is listed in Rejects too)."""
    n = len(said)
    if header == OPT_OUT_LIST:
        why = "named in a list of opt-outs beside the contacts"
    elif is_suppression_header(header):
        why = (
            "its header lists suppressions, such as a hard bounce, a spam complaint or one "
            "made by hand: anything written there is an opt-out"
        )
    else:
        said_no = (
            "its header says when they opted out: a date there"
            if is_opt_out_date(header)
            else "its header says no: a yes there"
            if is_opt_out_header(header)
            else "a second consent column: an opt-out there"
        )
        why = f"{said_no}, or a value that cannot be read, is an opt-out"
    unread = [r.value for r in said if r.decision == "unreadable"]
    example = (
        f"; {len(unread):,} of them because its value cannot be read as consent, e.g. {unread[0]!r}"
        if unread
        else ""
    )
    return Notice(
        "opt_out_column",
        "contacts",
        n,
        f"{n:,} contact{'' if n == 1 else 's'} opted out by the column {header!r} ({why}, "
        f"whatever {column} says){example}: not scored.",
    )


def _unreadable_rejects(
    contacts: pd.DataFrame, readings: pd.Series, columns: pd.Series
) -> pd.DataFrame:
    """One line per contact whose consent value could not be read (so counts as an opt-out),
    naming the column it was read from. Built from column arrays: a store may hold many."""
    at = np.flatnonzero(readings.map(lambda r: r.decision == "unreadable").to_numpy())
    picked = contacts.iloc[at]
    # The row the contact was stored from (with its source): the line names where to look.
    rows = (
        picked[STORED_ROW].astype("Int64").to_numpy(dtype=object, na_value=None)
        if STORED_ROW in picked.columns
        else [None] * len(picked)
    )
    records = [
        {
            "table": "contacts",
            "source": source,
            "source_row": row,
            "column": column,
            "value": reading.value,
            "reason": f"contact {contact}: {column} {reading.reason}, so it counts as an "
            "opt-out (see What counts as consent in the README)",
            "action": UNREADABLE_CONSENT,
            "row": json.dumps({"contact_id": contact, "email": email}, default=str),
        }
        for contact, email, source, row, reading, column in zip(
            picked["contact_id"].to_numpy(dtype=object),
            picked["email"].to_numpy(dtype=object),
            picked["source"].to_numpy(dtype=object),
            rows,
            readings.iloc[at],
            columns.iloc[at],
            strict=True,
        )
    ]
    return pd.DataFrame(records, columns=REJECT_COLUMNS)


def _no_data(missing: Sequence[str], loaded: Mapping[str, pd.DataFrame]) -> str:
    """Why a step has no rows of the tables ``missing``: none loaded, or every one is of a
    contact left out for consent (it said "no orders data" right after "169 orders")."""
    named = [t.replace("_", " ") for t in missing if loaded[t].empty]
    said = [f"no {', '.join(named)} data"] if named else []
    for table in (t for t in missing if not loaded[t].empty):
        n, word = len(loaded[table]), table.replace("_", " ")
        one, many = _NAMES.get(table, (word, word))
        rows = f"all {n:,} {many}" if n > 1 else f"the one {one}"
        whose = ("" if table == "contacts" else "are of contacts who " if n > 1
                 else "is of a contact who ")  # fmt: skip
        said.append(
            f"{rows} {whose}opted out of processing or {'have' if n > 1 else 'has'} a consent "
            "value that could not be read (see the consent lines above)"
        )
    return "; ".join(said)


_NAMES = {
    "orders": ("order", "orders"), "order_lines": ("order line", "order lines"),
    "deals": ("deal", "deals"), "activities": ("activity", "activities"),
    "contacts": ("contact", "contacts"), "products": ("product", "products"),
}  # fmt: skip


def _main_currency(tables: dict[str, pd.DataFrame], stated: str | None = None) -> str:
    """The currency amounts are shown in: the orders' most common, else the deals' (a
    business that sells through deals only), else the one stated: the config's
    ``currency``, else the account's own (a HubSpot portal's company currency: a euro
    business without currency codes was shown in dollars); else USD."""
    for table in ("orders", "deals"):
        currencies = tables[table]["currency"].dropna()
        currencies = currencies[currencies.astype(str).str.strip() != ""]
        # a currency written only beside the exceptions (JPY on one order of four) is not
        # the shop's: the rows without one are in it, whatever it is
        if len(currencies) and 2 * len(currencies) >= len(tables[table]):
            return str(currencies.astype(str).str.strip().str.upper().mode().iloc[0])
    return stated or "USD"


def _run_step(
    step: Step,
    tables: dict[str, pd.DataFrame],
    context: StepContext,
    store: Store,
    result: RunResult,
    opted_out: set[str],
    lacking: Mapping[str, str] | None = None,
    loaded: Mapping[str, pd.DataFrame] | None = None,
) -> dict[str, set[str]] | str | None:
    """Run one step and store its outputs.

    Returns what it stored (output table -> groups, see ``Store.settle_step``), the reason
    when it was skipped on purpose (no or too little data), or None when it failed.
    ``loaded``: the tables before opted-out contacts were left out of ``tables``.
    """
    missing = [t for t in step.needs if tables[t].empty]
    if missing:
        why = _no_data(missing, loaded or tables)
        _skipped(result, step.name, f"{step.label}: {why}")
        return why
    unknown = no_amounts(tables["orders"], context.currency) if step.needs_amounts else None
    if unknown:
        _skipped(result, step.name, f"{step.label}: {unknown}")
        return unknown
    try:
        outcome = step.run(tables, context)
    except NotEnoughDataError as exc:
        # What a table it needs lacks says why, and what to map (deals never closed).
        gaps = [f" ({t}: {(lacking or {})[t]})" for t in step.needs if t in (lacking or {})]
        _skipped(result, step.name, f"{step.label}: {exc}{''.join(gaps)}")
        return str(exc)
    except Exception as exc:  # one failing analytic must not cost the others their results
        log.exception("step %s failed", step.name)
        detail = str(exc) if isinstance(exc, SmbmlError) else f"unexpected error, {log_details()}"
        result.errors.append(f"{step.label}: {detail}")
        result.failed[step.name] = detail
        return None
    undeclared = _undeclared(step, outcome)
    if undeclared:  # a programming error: surfaces in tests, costs only this step's results
        log.error("step %s wrote undeclared outputs: %s", step.name, ", ".join(undeclared))
        result.errors.append(f"{step.name}: wrote undeclared outputs {', '.join(undeclared)}")
        result.failed[step.name] = "wrote outputs it does not declare"
        return None
    scores = outcome.outputs.get("scores")
    if scores is not None and opted_out:
        # Belt and braces: an opted-out contact never gets a stored or pushed score.
        personal = scores["entity"].eq("contact") & scores["entity_id"].isin(opted_out)
        outcome.outputs["scores"] = scores[~personal].reset_index(drop=True)
    declared = {t.name: t for t in step.outputs.tables}
    written: dict[str, set[str]] = {}
    for kind, frame in outcome.outputs.items():
        store.write_outputs(declared[kind], result.run_id, frame)
        written[kind] = _groups(declared[kind], frame)
    for name, model in outcome.models.items():
        store.save_model(name, model.payload, model.card, model.format)
    result.steps[step.name] = outcome
    return written


def _groups(table: OutputTable, frame: pd.DataFrame) -> set[str]:
    """The groups of ``table`` (its models; "" for a table without) that ``frame`` has rows of."""
    if frame.empty:
        return set()
    if table.latest is None or table.latest not in frame:
        return {""}
    return set(frame[table.latest].fillna("").astype(str))


def _settle(
    step: Step, written: dict[str, set[str]] | str | None, store: Store, result: RunResult
) -> None:
    """A step skipped on purpose no longer stands behind its earlier outputs, nor does a step
    that computed no rows for a model it filled before: both are withdrawn, so the CRM is
    cleared of them. A failed step settles nothing: its last values stay (with their dates)."""
    if written is None:
        return
    if isinstance(written, str):
        why = f"{step.label} not computed this run ({written})"
        store.settle_step(step.name, result.run_id, None, why)
    else:
        why = f"{step.label} computed none of them this run"
        store.settle_step(step.name, result.run_id, written, why)


def _forget_opted_out(
    store: Store,
    result: RunResult,
    tables: Mapping[str, pd.DataFrame],
    personal: Mapping[str, pd.DataFrame],
    opted_out: set[str],
) -> None:
    """Consent fails closed whatever the steps do this run (skipped, failed, held back or
    off): what was computed before about a contact who opted out, or about their deals, is
    deleted from every run's outputs, so no destination shows or keeps it. So is what was
    computed about a contact or deal the source deleted for good (a GDPR delete)."""
    people = opted_out | set(result.purged.get("contacts", []))  # or deleted for good
    deals = set(tables["deals"]["deal_id"]) - set(personal["deals"]["deal_id"])
    deals |= set(result.purged.get("deals", []))
    if not people and not deals:
        return
    kinds = {t.name for outputs in result.declared.values() for t in outputs.tables}
    for kind in sorted(kinds):
        store.forget_outputs(kind, "contact", people, result.run_id)
        store.forget_outputs(kind, "deal", deals, result.run_id)


def _undeclared(step: Step, outcome: StepResult) -> list[str]:
    """Output tables and tabs a step wrote without declaring them (so no output shows them)."""
    tables = {t.name for t in step.outputs.tables}
    tabs = {t.title for t in step.outputs.tabs}
    return [f"table {k}" for k in outcome.outputs if k not in tables] + [
        f"tab {t!r}" for t in outcome.sheets if t not in tabs
    ]
