"""HubSpot as a destination: scores written back as ``smbml`` properties on the records.

The properties are the ones the run's steps declare (ports.CrmProperty): the
property group and properties are created once (a second run finds them and
creates nothing); a property of the same name that someone else made is never touched,
and its field is not written. Only values that differ from the last successful push
(kept in the store) are sent, 100 records a request, by record id. A record HubSpot no
longer has (deleted or merged) comes back in a 207 and is reported; the rest of the
batch still goes through. A batch HubSpot refuses as a whole for a bad value is split
until the one bad record is found, so that record alone is reported.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Sequence
from concurrent.futures import CancelledError, ThreadPoolExecutor, as_completed
from typing import Any

import numpy as np
import pandas as pd
from hubspot.crm.objects import BatchInputSimplePublicObjectBatchInput
from hubspot.crm.properties import BatchInputPropertyCreate, PropertyCreate, PropertyGroupCreate

from smbml_connect.connectors.hubspot.http import DailyLimitError, HubSpotApi, HubSpotHttpError
from smbml_connect.errors import AuthError, GaveUpError, SmbmlError, TokenRejectedError
from smbml_connect.money_words import minor_digits
from smbml_connect.ports import CrmProperty, PushReport, RunResult

__all__ = ["GROUP", "HubSpotDestination"]

log = logging.getLogger(__name__)
GROUP = "smbml"
GROUP_LABEL = "SMB ML"
BATCH = 100
PARALLEL = 3  # batches in flight at once (the limiter still sets the rate)
MARK = "Written by smbml_connect."


_TABLE_KEY = {"contacts": "contact_id", "deals": "deal_id", "products": "product_id"}


def _text(value: Any, kind: str, digits: int = 2) -> str | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if kind == "number":
        # Two decimals at most: a 12-month value of 0.0103317 is 0.01, a price 19.9 stays.
        # An amount has its currency's (`minor_digits`): a yen value 565207.34 is 565207,
        # as the workbook and the reasons show it.
        number = round(float(value), digits)
        return str(int(number)) if number.is_integer() else f"{number:.{digits}f}".rstrip("0")
    return str(value)


def _description(spec: CrmProperty, currency: str) -> str:
    amounts = f" Amounts in {currency}." if spec.money and currency else ""
    return f"{spec.description}{amounts} {MARK}"


def _without_lone_stamps(changed: pd.DataFrame, stamps: set[str]) -> pd.DataFrame:
    """A time stamp (Scored at) is written only with a value of the record that changed:
    a run with no new data writes nothing (no record history, no workflow triggers, no
    re-read by the next incremental pull). The score's date stays in the store."""
    if changed.empty or not stamps:
        return changed
    is_stamp = changed["field"].isin(stamps)
    moved = set(changed.loc[~is_stamp, "entity_id"])
    return changed[~is_stamp | changed["entity_id"].isin(moved)].reset_index(drop=True)


def _withdrawn_now(result: RunResult | None, store: Any) -> dict[tuple[str, str], str]:
    """(object type, property name) -> why, for the steps whose outputs are withdrawn and
    not filled again since: by this run, or by an earlier one whose values were never
    cleared (a dry run, a push that failed). Keyed by object type too: contacts, deals and
    products share the name of their "Scored at"."""
    if result is None:
        return {}
    withdrawn = store.withdrawals(in_effect=True).sort_values("run_id", kind="stable")
    why = dict(zip(withdrawn["step"], withdrawn["reason"], strict=True))  # the newest wins
    return {
        (prop.object_type, prop.name): why[step]
        for step, outputs in result.declared.items()
        if step in why
        for prop in outputs.properties
    }


def _cleared_lines(
    object_type: str,
    changed: pd.DataFrame,
    withdrawn: dict[tuple[str, str], str],
    dry_run: bool = False,
) -> list[str]:
    """One plain line per reason values on ``object_type`` are cleared."""
    verb = "would be cleared" if dry_run else "cleared"
    cleared = changed.loc[changed["value"].eq(""), "field"]
    counts = cleared.map(lambda f: withdrawn.get((object_type, f), "")).value_counts(sort=False)
    lines = [
        f"{_values_text(n)} on {object_type} {verb}: {why}" for why, n in counts.items() if why
    ]
    if counts.get("", 0):
        lines.append(
            f"{_values_text(counts[''])} on {object_type} {verb}: they no longer apply "
            "(opted out, now a customer, deal closed, left the segment)"
        )
    return lines


def _values_text(n: int) -> str:
    return f"{n:,} value{'' if n == 1 else 's'}"


def _kept_lines(result: RunResult, store: Any) -> list[str]:
    """Steps that failed this run keep their last values in HubSpot: say from when."""
    lines = []
    for step, why in result.failed.items():
        outputs = result.declared.get(step)
        filled = store.last_filled(step)
        if outputs is None or not outputs.properties or filled is None:
            continue
        run_id, started = filled
        objects = " and ".join(dict.fromkeys(p.object_type for p in outputs.properties))
        when = pd.Timestamp(started).tz_convert("UTC")
        name = result.labels.get(step, "An analytic")
        lines.append(
            f"{name} failed this run ({why}): its values on {objects} are "
            f"kept as run {run_id} computed them on {when:%Y-%m-%d %H:%M} UTC (see Scored at)"
        )
    return lines


def _why(exc: SmbmlError) -> str:
    """What happened, without the advice written for a pull ("run again later", "retrying
    will not help"): the push says itself when the values go (``_when``)."""
    if isinstance(exc, DailyLimitError):
        return exc.reason
    if isinstance(exc, HubSpotHttpError):
        return f"HubSpot refused {exc.what} (HTTP {exc.status}): {exc.message.rstrip('. ')}"
    if isinstance(exc, GaveUpError):
        return exc.failure.rstrip(". ")
    return str(exc).strip().rstrip(". ")


def _when(exc: SmbmlError) -> str:
    """When the values held back by ``exc`` go, in words that agree with what happened."""
    if isinstance(exc, TokenRejectedError):
        return "sent by the first run with a token HubSpot accepts"
    if isinstance(exc, DailyLimitError | AuthError):  # the reset, or the scope added
        return "sent by the first run after that"
    if isinstance(exc, HubSpotHttpError):
        return (
            "sent by the first run after what HubSpot names is put right (running again "
            "alone will not get past it)"
        )
    return "sent again on the next run"  # gave up on an answer that may come later


class _Stopped(Exception):
    """Every further request would fail (the token refused, the daily limit used up):
    ``left`` values of the object type being written were not."""

    def __init__(self, failure: SmbmlError, left: int) -> None:
        super().__init__(str(failure))
        self.failure, self.left = failure, left


def _stops(failure: SmbmlError) -> bool:
    return isinstance(failure, TokenRejectedError | DailyLimitError)


def _unsent(object_type: str, left: pd.DataFrame, report: PushReport, failure: SmbmlError) -> None:
    """What HubSpot kept failing on (or refused) goes in the report, counted, and the push
    goes on with the next object type: contacts written are not "not written" because
    products failed. A refused token or a used-up daily limit stops the push: every request
    would fail."""
    if _stops(failure):
        raise _Stopped(failure, len(left)) from failure
    report.not_written += len(left)
    report.unwritten.append(
        f"{_values_text(len(left))} on {left['entity_id'].nunique():,} {object_type} not "
        f"written: {_why(failure)}; they are {_when(failure)}"
    )


_INVALID = "Property values were not valid: "


def _plain(reason: str, labels: dict[str, str]) -> str:
    """HubSpot's "Property values were not valid: [{...json...}]" as "Lead tier: C was not
    one of the allowed options"; any other reason (or JSON cut short) as it came."""
    if not reason.startswith(_INVALID):
        return reason
    try:
        items = json.loads(reason[len(_INVALID) :])
    except ValueError:  # cut short (a long list of options): the first one's words
        message, name = _MESSAGE.search(reason), _NAME.search(reason)
        if message is None:
            return reason
        words = message[1].split(": [")[0]
        return words if name is None else f"{labels.get(name[1], name[1])}: {words}"
    try:
        return "; ".join(
            f"{labels.get(i['name'], i['name'])}: {str(i['message']).rstrip(': ')}" for i in items
        )
    except (TypeError, KeyError):
        return reason


_MESSAGE = re.compile(r'"message":"((?:[^"\\]|\\.)*)')  # its end may be cut off
_NAME = re.compile(r'"name":"([^"]*)"')


_LIMIT = re.compile(r"\blimit\b", re.IGNORECASE)


def _new_options(values: Iterable[str], first: int = 0) -> list[dict[str, Any]]:
    """Options of ours as made: each value its own label, in order from ``first``."""
    return [
        {"label": v, "value": v, "hidden": False, "displayOrder": first + i}
        for i, v in enumerate(values)
    ]


def _not_made_line(object_type: str, specs: list[CrmProperty], not_made: dict[str, str]) -> str:
    """One line: which properties HubSpot did not make, why, and what to do."""
    labels = ", ".join(s.label for s in specs if s.name in not_made)
    why = next(iter(not_made.values())).rstrip(". ")
    n = len(not_made)
    head = f"{n} {object_type} propert{'y' if n == 1 else 'ies'} not made ({labels})"
    if _LIMIT.search(why):
        return (
            f'{head}: HubSpot said "{why}". Archive {n} custom {object_type} '
            f"propert{'y' if n == 1 else 'ies'} no longer used (HubSpot: Settings > "
            "Properties); the next run makes them and writes their values"
        )
    return (
        f'{head}: HubSpot said "{why}"; their values are sent by the first run after what it '
        "names is put right (running again alone will not get past it)"
    )


def _refused_lines(
    failed: list[tuple[str, str]],
    refused: set[str],
    counts: dict[str, int],
    labels: dict[str, str],
) -> list[str]:
    """Records HubSpot refused, one line per object type naming a few, with the reason
    (HubSpot's words quote each record's value, so the first one's stands for all)."""
    by: dict[str, list[tuple[str, str]]] = {}
    for record, reason in failed:
        if record in refused:  # a record, not a property left alone nor a deleted record
            object_type, _, rid = record.partition(" ")
            by.setdefault(object_type, []).append((rid, reason))
    lines = []
    for object_type, records in by.items():
        records.sort(key=lambda r: (len(r[0]), r[0]))  # batches end in any order
        ids = [rid for rid, _ in records]
        values = sum(counts[f"{object_type} {rid}"] for rid in ids)
        named = ", ".join(ids[:5]) + (f" and {len(ids) - 5:,} more" if len(ids) > 5 else "")
        why = _plain(records[0][1], labels).rstrip(". ")
        if len({reason for _, reason in records}) > 1:
            why = f"{ids[0]}: {why}; the run's output lists each one"
        lines.append(
            f"{_values_text(values)} on {len(ids):,} {object_type} not written ({named}): "
            f"HubSpot refused them: {why}; they are sent again on the next run"
        )
    return lines


def _error_ids(error: dict[str, Any]) -> list[Any]:
    context = error.get("context") or {}
    found = context.get("ids") or context.get("id") or []
    return [found] if isinstance(found, str | int) else list(found)


def _reason(error: dict[str, Any]) -> str:
    if error.get("category") == "OBJECT_NOT_FOUND":
        return "no longer in HubSpot (deleted or merged into another record)"
    return str(error.get("message") or error.get("category") or "refused")[:300]


class HubSpotDestination:
    """Writes the latest outputs in the store to the HubSpot records they belong to.

    ``properties`` fixes what is written (a push without a run, from the store alone);
    by default it is what the run's steps declare.
    """

    name = "hubspot"

    def __init__(
        self,
        api: HubSpotApi,
        dry_run: bool = False,
        account: str = "default",
        properties: Sequence[CrmProperty] | None = None,
    ) -> None:
        self.api = api
        self.dry_run = dry_run
        self.key = f"hubspot:{account}"  # pushed values are remembered per account
        self.properties = tuple(properties) if properties is not None else None
        # each enumeration of ours: its options as HubSpot holds them (labels, hidden flags)
        self._options: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self._failed_values: dict[str, int] = {}  # "contacts 123" -> its values not written
        self._refused: set[str] = set()  # of those, records HubSpot refused (not gone)
        self._archived: set[tuple[str, str]] = set()  # (object type, name) deleted in HubSpot

    # -- the one entry point ---------------------------------------------------------
    def publish(self, result: RunResult | None, store: Any) -> PushReport:
        report = PushReport(
            destination="HubSpot (dry run)" if self.dry_run else "HubSpot", kind="crm"
        )
        self._failed_values, self._refused = {}, set()
        if self.properties is not None:
            declared = list(self.properties)
        else:
            declared = result.properties() if result is not None else []
        if result is not None:
            report.detail.extend(_kept_lines(result, store))
        currency = result.currency if result is not None else ""
        if not self.dry_run:
            declared = self._to_make_sure_of(store, declared, currency)
        if not declared:  # no value of ours anywhere: nothing to write or to look at
            return report
        self._archived = set()
        try:
            usable = self._ensure_properties(report, declared, currency, store)
        except _Stopped as stop:  # before any write: every value waits
            self._count_unwritable(store, declared, report, currency)
            report.unwritten.append(
                f"nothing written: {_why(stop.failure)}; the values are {_when(stop.failure)}"
            )
            return report
        self._count_unwritable(store, [p for p in declared if p not in usable], report, currency)
        values = self._values(store, usable, currency=currency)
        stamps = {p.name for p in usable if p.type in ("datetime", "date")}
        withdrawn = _withdrawn_now(result, store)
        pending: list[tuple[str, pd.DataFrame]] = []
        for object_type, frame in values.items():
            changed = _without_lone_stamps(
                store.changed_since_push(self.key, object_type, frame), stamps
            )
            report.unchanged += len(frame) - len(changed)
            if not changed.empty:
                pending.append((object_type, changed))
        for position, (object_type, changed) in enumerate(pending):
            report.detail.extend(_cleared_lines(object_type, changed, withdrawn, self.dry_run))
            if self.dry_run:
                report.written += len(changed)
                report.written_on[object_type] = len(changed)
                counts = changed.groupby("field").size().sort_index()
                report.detail.append(
                    f"would write {len(changed):,} values on "
                    f"{changed['entity_id'].nunique():,} {object_type}: "
                    + ", ".join(f"{f} {n:,}" for f, n in counts.items())
                )
                continue
            try:
                self._write(object_type, changed, store, report)
            except _Stopped as stop:
                refused = isinstance(stop.failure, TokenRejectedError)
                if refused and not report.written:  # nothing went through: the run's one line
                    raise stop.failure from None
                left = stop.left + sum(len(c) for _, c in pending[position + 1 :])
                report.not_written += left
                report.unwritten.append(
                    f"{_values_text(left)} not written: {_why(stop.failure)}; they are "
                    f"{_when(stop.failure)}"
                )
                break
        report.not_written += sum(self._failed_values.values())
        labels = {p.name: p.label.removesuffix(" (SMB ML)") for p in declared}
        report.refused.extend(
            _refused_lines(report.failed, self._refused, self._failed_values, labels)
        )
        return report

    def _count_unwritable(
        self, store: Any, specs: list[CrmProperty], report: PushReport, currency: str
    ) -> None:
        """The values of properties that cannot be written this run (not made, archived,
        someone else's, their object type's list not read) count as not written, or as
        unchanged where HubSpot already holds them: the summary's numbers add up to the
        run's. An archived property's hold none that can be read: all are not written."""
        if not specs:
            return
        stamps = {p.name for p in specs if p.type in ("datetime", "date")}
        values = self._values(store, specs, add_options=False, currency=currency)
        for object_type, frame in values.items():
            hidden = frame["field"].map(lambda f, t=object_type: (t, f) in self._archived)
            changed = _without_lone_stamps(
                store.changed_since_push(self.key, object_type, frame[~hidden]), stamps
            )
            report.unchanged += int((~hidden).sum()) - len(changed)
            report.not_written += len(changed) + int(hidden.sum())

    def _to_make_sure_of(
        self, store: Any, declared: list[CrmProperty], currency: str
    ) -> list[CrmProperty]:
        """The properties to look at in HubSpot: all of them when a value moved; on a run
        with nothing new, those of the object types we hold values on. A property deleted
        in HubSpot holds none of its values, so it is looked for even then (in the list the
        pull read this run, where there is one: no request), made again with its values or
        said to be gone, and its values never counted unchanged; none when there are no
        values at all (no request)."""
        values = self._values(store, declared, add_options=False, currency=currency)
        stamps = {p.name for p in declared if p.type in ("datetime", "date")}
        for object_type, frame in values.items():
            changed = store.changed_since_push(self.key, object_type, frame)
            if not _without_lone_stamps(changed, stamps).empty:
                return declared
        return [p for p in declared if p.object_type in values]

    # -- properties ------------------------------------------------------------------
    def _ensure_properties(
        self, report: PushReport, declared: list[CrmProperty], currency: str, store: Any
    ) -> list[CrmProperty]:
        usable: list[CrmProperty] = []
        for object_type in dict.fromkeys(p.object_type for p in declared):
            ours = [p for p in declared if p.object_type == object_type]
            try:
                usable += self._ensure_of(object_type, ours, report, currency, store)
            except SmbmlError as exc:  # the other object types are still written
                if isinstance(exc, TokenRejectedError):
                    raise
                if _stops(exc):
                    raise _Stopped(exc, 0) from exc
                report.unwritten.append(
                    f"nothing written on {object_type}: {_why(exc)}; its values are {_when(exc)}"
                )
        return usable

    def _ensure_of(
        self,
        object_type: str,
        ours: list[CrmProperty],
        report: PushReport,
        currency: str,
        store: Any,
    ) -> list[CrmProperty]:
        """The properties of one object type that can be written, made where missing. A
        property made again (deleted in HubSpot, with its values) holds none of what was
        pushed to it: that is forgotten, so every value is written, not only the changed."""
        usable: list[CrmProperty] = []
        existing = self._listed(object_type)
        missing = [p for p in ours if p.name not in existing]
        if missing and not self.dry_run:  # our properties exist only inside our group
            self._ensure_group(object_type)
        for spec in ours:
            found = existing.get(spec.name)
            if found is not None and found.get("groupName") != GROUP:
                report.failed.append((spec.name, f"a {object_type} property named {spec.name} "
                                      "exists and was not made by smbml_connect: left alone"))  # fmt: skip
                continue
            usable.append(spec)
            if found is not None and not self.dry_run:
                self._label(object_type, spec, found, currency)
        if missing and not self.dry_run:
            blocked, not_made = self._create_properties(object_type, missing, currency)
            self.api.properties_changed(object_type)
            if blocked:
                self._archived |= {(object_type, p.name) for p in blocked}
                self._blocked(object_type, blocked, store, report, currency)
            if not_made:  # HubSpot holds none of their values: all are not written
                store.forget_pushed(self.key, object_type, list(not_made))
                report.unwritten.append(_not_made_line(object_type, missing, not_made))
            gone = {p.name for p in blocked} | set(not_made)
            usable = [p for p in usable if p.name not in gone]
            missing = [p for p in missing if p.name not in gone]
            for spec in missing:
                if store.forget_pushed(self.key, object_type, [spec.name]):
                    report.detail.append(
                        f'"{spec.label}" ({spec.name}) on {object_type} was gone from HubSpot '
                        "(deleted there, with its values): made again, and every value is "
                        "written this run"
                    )
        for name, prop in existing.items():
            self._options[(object_type, name)] = [dict(o) for o in prop.get("options") or []]
        for spec in missing:
            self._options[(object_type, spec.name)] = _new_options(spec.options)
        return usable

    def _listed(
        self, object_type: str, archived: bool = False, fresh: bool = False
    ) -> dict[str, dict[str, Any]]:
        """The object type's properties by name: the live ones (as read this run, unless
        ``fresh``), or the archived ones."""
        if not archived:
            return {p["name"]: p for p in self.api.property_list(object_type, fresh)}
        body = self.api.json(
            f"reading the archived {object_type} properties",
            self.api.client.crm.properties.core_api.get_all,
            object_type,
            archived=True,
        )
        return {p["name"]: p for p in body.get("results", [])}

    def _blocked(
        self,
        object_type: str,
        specs: list[CrmProperty],
        store: Any,
        report: PushReport,
        currency: str,
    ) -> None:
        """One line per property deleted in HubSpot that cannot be made again: what to do."""
        values = self._values(store, specs, add_options=False, currency=currency)
        frame = values.get(object_type)
        for spec in specs:  # its values, and those it should have cleared
            n = 0 if frame is None else int(frame["field"].eq(spec.name).sum())
            report.unwritten.append(
                f'{_values_text(n)} of "{spec.label}" ({spec.name}) on {object_type} not '
                "written: the property was deleted in HubSpot and is kept there as archived, "
                "so it cannot be made again; restore it in HubSpot (Settings > Properties > "
                "Archived properties) or delete it there for good, and the next run writes "
                "every value"
            )

    def _ensure_group(self, object_type: str) -> None:
        groups = self.api.json(
            f"reading the {object_type} property groups",
            self.api.client.crm.properties.groups_api.get_all,
            object_type,
        ).get("results", [])
        if any(g.get("name") == GROUP for g in groups):
            return
        try:
            self.api.json(
                f"creating the {object_type} property group {GROUP}",
                self.api.client.crm.properties.groups_api.create,
                object_type,
                PropertyGroupCreate(name=GROUP, label=GROUP_LABEL, display_order=-1),
            )
        except HubSpotHttpError as exc:
            if exc.status != 409:  # made meanwhile (another run, a colleague): use it
                raise

    def _label(
        self, object_type: str, spec: CrmProperty, found: dict[str, Any], currency: str
    ) -> None:
        """A property says what it holds as this version describes it, and an amount's its
        currency: a description of an older version (churn risk "has stopped buying") or
        currency is written over. One someone rewrote in HubSpot (no longer ending in our
        mark) is theirs, and kept; an amount's still gets its currency."""
        wanted = _description(spec, currency)
        had = str(found.get("description") or "")
        if had == wanted:
            return
        if not had.endswith(MARK) and had and not (spec.money and currency):
            return
        self.api.json(
            f"describing {spec.name}",
            self.api.client.crm.properties.core_api.update,
            object_type,
            spec.name,
            {"description": wanted},
        )

    def _create_properties(
        self, object_type: str, specs: list[CrmProperty], currency: str = ""
    ) -> tuple[list[CrmProperty], dict[str, str]]:
        """Makes the properties; returns those HubSpot keeps as archived (deleted, restorable
        for 90 days), whose name it will not give again, and those it did not make for
        another reason (past the portal's custom-property limit it makes what fits, a 207,
        or none, a 400), with its reason. One made meanwhile (another run, a colleague) is
        fine."""
        inputs = [
            PropertyCreate(
                name=s.name, label=s.label, type=s.type, field_type=s.field_type,
                group_name=GROUP, description=_description(s, currency), form_field=False,
                options=_new_options(s.options),
            )
            for s in specs
        ]  # fmt: skip
        refused: HubSpotHttpError | None = None
        try:
            body = self.api.json(
                f"creating {len(specs)} {object_type} properties",
                self.api.client.crm.properties.batch_api.create,
                object_type,
                BatchInputPropertyCreate(inputs=inputs),
            )
        except HubSpotHttpError as exc:  # all refused: each name is looked at below
            if exc.status not in (400, 409):
                raise
            refused, body = exc, {"errors": [{"message": exc.message}]}
        made = {str(p.get("name")) for p in body.get("results") or []}
        errors = body.get("errors") or []
        if not errors:
            return [], {}
        live = self._listed(object_type, fresh=True)
        left = [s for s in specs if s.name not in live and s.name not in made]
        if not left:  # made meanwhile (another run, a colleague): fine
            return [], {}
        archived = self._listed(object_type, archived=True)
        others = [s for s in left if s.name not in archived]
        if others and refused is not None and refused.status == 409:
            raise refused  # said to exist, yet neither live nor archived
        said = [e for e in errors if e.get("category") != "OBJECT_ALREADY_EXISTS"] or errors
        reason = str(said[0].get("message") or said[0].get("category") or "refused")[:300]
        return [s for s in left if s.name in archived], {s.name: reason for s in others}

    def _add_options(self, object_type: str, spec: CrmProperty, values: Iterable[str]) -> None:
        """A value none of our property's options has (a new segment name, or an option
        the user deleted): added after the options HubSpot holds, which go as they were
        read. A PATCH replaces the whole list: rebuilt from the values, it reset every
        label, hidden flag and order the user had set ("A - call today" back to "A")."""
        held = self._options.setdefault((object_type, spec.name), [])
        new = sorted(set(values) - {str(o["value"]) for o in held})
        if not new:
            return
        after = max((int(o.get("displayOrder", -1)) for o in held), default=-1) + 1
        options = [*held, *_new_options(new, after)]
        self.api.json(
            f"adding options to {spec.name}",
            self.api.client.crm.properties.core_api.update,
            object_type,
            spec.name,
            {"options": options},
        )
        held[:] = options

    def _refuse(
        self,
        report: PushReport,
        object_type: str,
        rid: str,
        why: str,
        values: dict[str, dict[str, str]],
        category: Any = None,
    ) -> None:
        """A record HubSpot refused; its values are counted when the push ends (batches
        run in threads: a count in the report would race). One deleted or merged since the
        pull is not kept as refused: the next pull drops it, and nothing disagrees."""
        report.failed.append((f"{object_type} {rid}", why))
        self._failed_values[f"{object_type} {rid}"] = len(values[rid])
        if category != "OBJECT_NOT_FOUND":
            self._refused.add(f"{object_type} {rid}")

    # -- values ----------------------------------------------------------------------
    def _values(
        self,
        store: Any,
        usable: list[CrmProperty],
        add_options: bool = True,
        currency: str = "",
    ) -> dict[str, pd.DataFrame]:
        """(entity_id, field, value) per object type: our latest outputs on HubSpot records,
        amounts to ``currency``'s decimals."""
        latest: dict[str, pd.DataFrame] = {}  # output table -> its latest rows, read once
        out: dict[str, pd.DataFrame] = {}
        for object_type in dict.fromkeys(p.object_type for p in usable):
            records = store.read(object_type)
            ours = records[(records["source"] == "hubspot") & records["archived_at"].isna()]
            ids = set(ours[_TABLE_KEY[object_type]].astype(str))
            parts = []
            fields = {p.name for p in usable if p.object_type == object_type}
            for spec in (p for p in usable if p.object_type == object_type):
                if spec.table not in latest:
                    latest[spec.table] = store.latest_outputs(spec.table)
                if latest[spec.table].empty:  # nothing stands (withdrawn, or never computed)
                    continue
                series = spec.take(latest[spec.table])
                series = series[pd.Index(series.index.astype(str), dtype=object).isin(ids)]
                digits = minor_digits(currency) if spec.money else 2
                texts = series.map(lambda v, k=spec.type, d=digits: _text(v, k, d)).dropna()
                if spec.type == "enumeration" and add_options and not self.dry_run and len(texts):
                    self._add_options(object_type, spec, texts.unique())
                parts.append(pd.DataFrame({"entity_id": texts.index.astype(str),
                                           "field": spec.name, "value": texts.to_numpy()}))  # fmt: skip
            parts.append(self._cleared(store, object_type, parts, fields, ids))
            frame = pd.concat(parts, ignore_index=True)
            if not frame.empty:
                out[object_type] = frame
        return out

    def _cleared(
        self,
        store: Any,
        object_type: str,
        parts: list[pd.DataFrame],
        fields: set[str],
        live: set[str],
    ) -> pd.DataFrame:
        """Values we wrote that no longer apply, as empty values: the contact opted out, the
        lead became a customer, the deal closed, the customer left the segment, or the step
        that computed them was skipped since (too little data: its outputs are withdrawn).
        Only values this destination wrote, of our own fields, on records HubSpot still has;
        they ride in the same batches as the rest. A value not known (None: a merge may
        have brought one of ours from the other record) is cleared too: consent fails
        closed."""
        before = store.pushed(self.key, object_type)
        before = before[
            before["field"].isin(fields)
            & (before["value"].isna() | before["value"].ne(""))
            & before["entity_id"].isin(live)
        ]
        now = {
            (e, f) for part in parts for e, f in zip(part["entity_id"], part["field"], strict=True)
        }
        keep = [
            (e, f) not in now for e, f in zip(before["entity_id"], before["field"], strict=True)
        ]
        gone = before[np.array(keep, dtype=bool)] if len(before) else before
        return pd.DataFrame(
            {"entity_id": gone["entity_id"].astype(str).to_numpy(), "field": gone["field"].to_numpy(),
             "value": ""}
        )  # fmt: skip

    def _write(
        self, object_type: str, changed: pd.DataFrame, store: Any, report: PushReport
    ) -> None:
        by_record: dict[str, dict[str, str]] = {}
        rows_of: dict[str, list[int]] = {}  # entity_id -> row positions, to mark a batch fast
        columns = (changed[c].tolist() for c in ("entity_id", "field", "value"))
        for position, (rid, name, value) in enumerate(zip(*columns, strict=True)):
            by_record.setdefault(rid, {})[name] = value
            rows_of.setdefault(rid, []).append(position)
        ids = sorted(by_record, key=lambda i: (len(i), i))
        chunks = [ids[start : start + BATCH] for start in range(0, len(ids), BATCH)]
        # A few batches in flight: HubSpot's answer time overlaps building the next one. The
        # shared limiter still caps the rate; the store is only written from this thread.
        written, failure, unsent = 0, None, []
        with ThreadPoolExecutor(max_workers=PARALLEL, thread_name_prefix="hubspot-push") as pool:
            futures = {
                pool.submit(self._send, object_type, chunk, by_record, report): chunk
                for chunk in chunks
            }
            try:
                # Marked as each batch is confirmed, in whatever order: a kill now and then
                # re-sends only what was in flight, not what waited behind a slow batch.
                for future in as_completed(futures):
                    try:
                        done = future.result()
                    except CancelledError:
                        unsent += futures[future]
                        continue
                    except SmbmlError as exc:  # the batches not begun wait for the next run
                        failure = failure or exc
                        unsent += futures[future]
                        for waiting in futures:
                            waiting.cancel()
                        continue
                    positions = [p for rid in done for p in rows_of[rid]]
                    sent = changed.iloc[sorted(positions)]
                    store.mark_pushed(self.key, object_type, sent)
                    written += len(sent)
            except BaseException:
                for future in futures:
                    future.cancel()
                raise
            finally:
                report.written += written
                report.written_on[object_type] = written
        if failure is not None:
            refused = {r for r, _ in report.failed}
            unsent = [rid for rid in unsent if f"{object_type} {rid}" not in refused]
            _unsent(object_type, changed[changed["entity_id"].isin(unsent)], report, failure)

    def _send(
        self,
        object_type: str,
        ids: list[str],
        values: dict[str, dict[str, str]],
        report: PushReport,
    ) -> list[str]:
        """Ids written; failures go to the report. A whole-batch 400 is split to find the culprit."""
        request = BatchInputSimplePublicObjectBatchInput(
            inputs=[{"id": i, "properties": values[i]} for i in ids]
        )
        try:
            body = self.api.json(
                f"updating {len(ids)} {object_type}",
                self.api.client.crm.objects.batch_api.update,
                object_type,
                request,
            )
        except HubSpotHttpError as exc:
            if exc.status != 400 or exc.category != "VALIDATION_ERROR":
                raise
            if len(ids) == 1:
                self._refuse(report, object_type, ids[0], exc.message, values, exc.category)
                return []
            half = len(ids) // 2
            return self._send(object_type, ids[:half], values, report) + self._send(
                object_type, ids[half:], values, report
            )
        gone: set[str] = set()
        unnamed: list[dict[str, Any]] = []  # errors that name no record of the batch
        for error in body.get("errors") or []:
            named = {str(r) for r in _error_ids(error)} & set(ids)
            if not named:
                unnamed.append(error)
            for rid in sorted(named - gone):
                gone.add(rid)
                self._refuse(
                    report, object_type, rid, _reason(error), values, error.get("category")
                )
        if not unnamed:
            return [i for i in ids if i not in gone]
        # Some records failed and HubSpot did not say which: none of the rest counts as
        # written. Halves are sent again (values already taken are taken again, harmless)
        # until each failure comes back on a batch of one record.
        rest = [i for i in ids if i not in gone]
        if len(rest) == 1:
            first = unnamed[0]
            self._refuse(
                report, object_type, rest[0], _reason(first), values, first.get("category")
            )
            return []
        half = len(rest) // 2
        return self._send(object_type, rest[:half], values, report) + self._send(
            object_type, rest[half:], values, report
        )
