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

import logging
import re
from collections.abc import Iterable, Sequence
from concurrent.futures import CancelledError, ThreadPoolExecutor, as_completed
from typing import Any

import numpy as np
import pandas as pd
from hubspot.crm.objects import BatchInputSimplePublicObjectBatchInput
from hubspot.crm.properties import BatchInputPropertyCreate, PropertyCreate, PropertyGroupCreate

from smbml_connect.connectors.hubspot.http import HubSpotApi, HubSpotHttpError
from smbml_connect.errors import SmbmlError, TokenRejectedError
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
        lines.append(
            f"{step.replace('_', ' ')} failed this run ({why}): its values on {objects} are "
            f"kept as run {run_id} computed them on {when:%Y-%m-%d %H:%M} UTC (see Scored at)"
        )
    return lines


# The pull's words for giving up ("nothing after the last saved page was lost"): a push
# has no pages saved, so they are left out of what it says.
_PULL_WORDS = re.compile(r";\s*nothing after the last saved page was lost[^;]*$")


def _failure_words(exc: Exception) -> str:
    """Why HubSpot wrote nothing more, in words about the push."""
    return _PULL_WORDS.sub("", str(exc).strip()).rstrip(". ")


def _unsent(object_type: str, left: pd.DataFrame, report: PushReport, failure: SmbmlError) -> None:
    """What HubSpot kept failing on (or refused) goes in the report, counted, and the push
    goes on with the next object type: contacts written are not "not written" because
    products failed. A refused token stops the push: every request would fail."""
    if isinstance(failure, TokenRejectedError):
        raise failure
    report.unwritten.append(
        f"{_values_text(len(left))} on {left['entity_id'].nunique():,} {object_type} not "
        f"written: {_failure_words(failure)}; they are sent again on the next run"
    )


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
        self._options: dict[tuple[str, str], set[str]] = {}  # enumeration values known per property

    # -- the one entry point ---------------------------------------------------------
    def publish(self, result: RunResult | None, store: Any) -> PushReport:
        report = PushReport(
            destination="HubSpot (dry run)" if self.dry_run else "HubSpot", kind="crm"
        )
        if self.properties is not None:
            declared = list(self.properties)
        else:
            declared = result.properties() if result is not None else []
        if result is not None:
            report.detail.extend(_kept_lines(result, store))
        currency = result.currency if result is not None else ""
        if not self.dry_run and self._nothing_to_write(store, declared, report, currency):
            return report
        usable = self._ensure_properties(report, declared, currency, store)
        values = self._values(store, usable, currency=currency)
        stamps = {p.name for p in usable if p.type in ("datetime", "date")}
        withdrawn = _withdrawn_now(result, store)
        for object_type, frame in values.items():
            changed = store.changed_since_push(self.key, object_type, frame)
            changed = _without_lone_stamps(changed, stamps)
            report.unchanged += len(frame) - len(changed)
            if changed.empty:
                continue
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
            self._write(object_type, changed, store, report)
        return report

    def _nothing_to_write(
        self, store: Any, declared: list[CrmProperty], report: PushReport, currency: str = ""
    ) -> bool:
        """True, without a request, when every value is as last written (or there is none):
        an unchanged hourly run then costs no property reads."""
        values = self._values(store, declared, add_options=False, currency=currency)
        stamps = {p.name for p in declared if p.type in ("datetime", "date")}
        for object_type, frame in values.items():
            changed = store.changed_since_push(self.key, object_type, frame)
            if not _without_lone_stamps(changed, stamps).empty:
                return False
        report.unchanged += sum(len(frame) for frame in values.values())
        return True

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
                report.unwritten.append(
                    f"nothing written on {object_type}: {_failure_words(exc)}; its values are "
                    "sent on the next run"
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
            blocked = self._create_properties(object_type, missing, currency)
            if blocked:
                self._blocked(object_type, blocked, store, report, currency)
                usable = [p for p in usable if p not in blocked]
            for spec in (p for p in missing if p not in blocked):
                if store.forget_pushed(self.key, object_type, [spec.name]):
                    report.detail.append(
                        f'"{spec.label}" ({spec.name}) on {object_type} was gone from HubSpot '
                        "(deleted there, with its values): made again, and every value is "
                        "written this run"
                    )
        for name, prop in existing.items():
            self._options[(object_type, name)] = {o["value"] for o in prop.get("options") or []}
        for spec in missing:
            self._options[(object_type, spec.name)] = set(spec.options)
        return usable

    def _listed(self, object_type: str, archived: bool = False) -> dict[str, dict[str, Any]]:
        """The object type's properties by name: the live ones, or the archived ones."""
        body = self.api.json(
            f"reading the {object_type} property list",
            self.api.client.crm.properties.core_api.get_all,
            object_type,
            **({"archived": True} if archived else {}),
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
        for spec in specs:
            n = (
                0
                if frame is None
                else int((frame["field"].eq(spec.name) & frame["value"].ne("")).sum())
            )
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
        """An amount's property says its currency; when the currency changes, so does it."""
        wanted = _description(spec, currency)
        if not spec.money or not currency or found.get("description") == wanted:
            return
        self.api.json(
            f"labelling {spec.name} with its currency",
            self.api.client.crm.properties.core_api.update,
            object_type,
            spec.name,
            {"description": wanted},
        )

    def _create_properties(
        self, object_type: str, specs: list[CrmProperty], currency: str = ""
    ) -> list[CrmProperty]:
        """Makes the properties; returns those HubSpot keeps as archived (deleted, restorable
        for 90 days), whose name it will not give again. One made meanwhile (another run, a
        colleague) is fine; any other refusal is raised."""
        inputs = [
            PropertyCreate(
                name=s.name, label=s.label, type=s.type, field_type=s.field_type,
                group_name=GROUP, description=_description(s, currency), form_field=False,
                options=[{"label": o, "value": o, "hidden": False, "displayOrder": i}
                         for i, o in enumerate(s.options)],
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
            refused, body = exc, {"errors": [{}]}
        errors = body.get("errors") or []
        if not errors:
            return []
        live = self._listed(object_type)
        left = [s for s in specs if s.name not in live]
        archived = self._listed(object_type, archived=True) if left else {}
        if any(s.name not in archived for s in left):
            raise refused or HubSpotHttpError(400, errors[0], f"creating {object_type} properties")
        return left

    def _add_options(self, object_type: str, spec: CrmProperty, values: Iterable[str]) -> None:
        """A new segment name appears: add it as an option of our own property first."""
        known = self._options.setdefault((object_type, spec.name), set())
        new = sorted(set(values) - known)
        if not new:
            return
        options = [*sorted(known), *new]
        self.api.json(
            f"adding options to {spec.name}",
            self.api.client.crm.properties.core_api.update,
            object_type,
            spec.name,
            {"options": [{"label": o, "value": o, "hidden": False, "displayOrder": i}
                         for i, o in enumerate(options)]},
        )  # fmt: skip
        known.update(new)

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
                report.failed.append((f"{object_type} {ids[0]}", exc.message))
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
                report.failed.append((f"{object_type} {rid}", _reason(error)))
        if not unnamed:
            return [i for i in ids if i not in gone]
        # Some records failed and HubSpot did not say which: none of the rest counts as
        # written. Halves are sent again (values already taken are taken again, harmless)
        # until each failure comes back on a batch of one record.
        rest = [i for i in ids if i not in gone]
        if len(rest) == 1:
            report.failed.append((f"{object_type} {rest[0]}", _reason(unnamed[0])))
            return []
        half = len(rest) // 2
        return self._send(object_type, rest[:half], values, report) + self._send(
            object_type, rest[half:], values, report
        )
