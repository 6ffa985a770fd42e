"""HubSpot as a destination: scores written back as ``smbml`` properties on the records.

The property group and properties are created once (a second run finds them and
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
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pandas as pd
from hubspot.crm.objects import BatchInputSimplePublicObjectBatchInput
from hubspot.crm.properties import BatchInputPropertyCreate, PropertyCreate, PropertyGroupCreate

from smbml_connect.analytics.customers.segments import SEGMENTS
from smbml_connect.connectors.hubspot.http import HubSpotApi, HubSpotHttpError
from smbml_connect.ports import PushReport

__all__ = ["GROUP", "PROPERTIES", "HubSpotDestination", "PropertySpec"]

log = logging.getLogger(__name__)
GROUP = "smbml"
GROUP_LABEL = "SMB ML"
BATCH = 100
PARALLEL = 3  # batches in flight at once (the limiter still sets the rate)
MARK = "Written by smbml_connect."


@dataclass(frozen=True)
class PropertySpec:
    """One property we own: where its value comes from and how HubSpot should type it."""

    object_type: str
    name: str
    label: str
    type: str
    field_type: str
    description: str
    take: Callable[[pd.DataFrame], pd.Series]  # latest outputs of one entity -> value per id
    options: tuple[str, ...] = ()


def _score(model: str, column: str = "value") -> Callable[[pd.DataFrame], pd.Series]:
    def take(rows: pd.DataFrame) -> pd.Series:
        picked = rows[rows["model"] == model]
        return picked.set_index("entity_id")[column]

    return take


def _percent(model: str) -> Callable[[pd.DataFrame], pd.Series]:
    return lambda rows: (_score(model)(rows).astype(float) * 100).round(1)


def _reasons(model: str) -> Callable[[pd.DataFrame], pd.Series]:
    def take(rows: pd.DataFrame) -> pd.Series:
        return _score(model, "reasons")(rows).map(_join_reasons)

    return take


def _join_reasons(value: Any) -> str | None:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return value
    return "; ".join(str(v) for v in value) if isinstance(value, list) and value else None


def _scored_at(rows: pd.DataFrame) -> pd.Series:
    picked = rows[rows["model"] == "lead_score"].set_index("entity_id")["scored_at"]
    return pd.to_datetime(picked, utc=True).dt.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _price(column: str) -> Callable[[pd.DataFrame], pd.Series]:
    return lambda rows: rows.set_index("product_id")[column]


PROPERTIES: tuple[PropertySpec, ...] = (
    PropertySpec("contacts", "smbml_lead_score", "Lead score (SMB ML)", "number", "number",
                 "Chance this contact becomes a customer, 0-100. " + MARK, _score("lead_score")),
    PropertySpec("contacts", "smbml_lead_tier", "Lead tier (SMB ML)", "enumeration", "select",
                 "A: call first ... D: not now. " + MARK, _score("lead_score", "label"),
                 ("A", "B", "C", "D")),
    PropertySpec("contacts", "smbml_lead_reasons", "Lead score reasons (SMB ML)", "string",
                 "textarea", "The three things that moved the score most. " + MARK,
                 _reasons("lead_score")),
    PropertySpec("contacts", "smbml_segment", "Customer segment (SMB ML)", "enumeration",
                 "select", "RFM segment from recency, frequency and spend. " + MARK,
                 _score("rfm_segment", "label"), tuple(s.name for s in SEGMENTS)),
    PropertySpec("contacts", "smbml_churn_risk", "Churn risk % (SMB ML)", "number", "number",
                 "Chance this customer has stopped buying, in percent. " + MARK,
                 _percent("churn_risk")),
    PropertySpec("contacts", "smbml_value_12m", "Expected 12-month value (SMB ML)", "number",
                 "number", "What this customer is expected to spend in the next 12 months. " + MARK,
                 _score("value_12m")),
    PropertySpec("contacts", "smbml_next_product", "Next best product (SMB ML)", "string", "text",
                 "The product this customer is most likely to buy next. " + MARK,
                 _score("next_product", "label")),
    PropertySpec("contacts", "smbml_scored_at", "Scored at (SMB ML)", "datetime", "date",
                 "When the scores above were computed. " + MARK, _scored_at),
    PropertySpec("deals", "smbml_win_probability", "Win probability % (SMB ML)", "number",
                 "number", "Chance this open deal is won, in percent. " + MARK, _percent("deal_win")),
    PropertySpec("deals", "smbml_win_reasons", "Win probability reasons (SMB ML)", "string",
                 "textarea", "What moved the win probability most. " + MARK, _reasons("deal_win")),
    PropertySpec("products", "smbml_suggested_price", "Suggested price (SMB ML)", "number",
                 "number", "Price with the best expected profit within the guardrails. " + MARK,
                 _price("suggested_price")),
    PropertySpec("products", "smbml_elasticity", "Price elasticity (SMB ML)", "number", "number",
                 "% change in units for a 1% price rise. " + MARK, _price("elasticity")),
    PropertySpec("products", "smbml_price_reason", "Price suggestion reason (SMB ML)", "string",
                 "textarea", "Why this price, in one line. " + MARK, _price("reason")),
)  # fmt: skip
_ENTITY = {"contacts": "contact", "deals": "deal", "products": "product"}
_TABLE_KEY = {"contacts": "contact_id", "deals": "deal_id", "products": "product_id"}


def _text(value: Any, kind: str) -> str | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if kind == "number":
        number = float(value)
        return str(int(number)) if number.is_integer() else f"{number:.6g}"
    return str(value)


class HubSpotDestination:
    """Writes the latest outputs in the store to the HubSpot records they belong to."""

    name = "hubspot"

    def __init__(self, api: HubSpotApi, dry_run: bool = False, account: str = "default") -> None:
        self.api = api
        self.dry_run = dry_run
        self.key = f"hubspot:{account}"  # pushed values are remembered per account
        self._options: dict[tuple[str, str], set[str]] = {}  # enumeration values known per property

    # -- the one entry point ---------------------------------------------------------
    def publish(self, result: Any, store: Any) -> PushReport:
        report = PushReport(
            destination="HubSpot (dry run)" if self.dry_run else "HubSpot", kind="crm"
        )
        usable = self._ensure_properties(report)
        values = self._values(store, usable)
        for object_type, frame in values.items():
            changed = store.changed_since_push(self.key, object_type, frame)
            report.unchanged += len(frame) - len(changed)
            if changed.empty:
                continue
            if self.dry_run:
                report.written += len(changed)
                counts = changed.groupby("field").size().sort_index()
                report.detail.append(
                    f"would write {len(changed):,} values on "
                    f"{changed['entity_id'].nunique():,} {object_type}: "
                    + ", ".join(f"{f} {n:,}" for f, n in counts.items())
                )
                continue
            self._write(object_type, changed, store, report)
        return report

    # -- properties ------------------------------------------------------------------
    def _ensure_properties(self, report: PushReport) -> list[PropertySpec]:
        usable: list[PropertySpec] = []
        for object_type in dict.fromkeys(p.object_type for p in PROPERTIES):
            ours = [p for p in PROPERTIES if p.object_type == object_type]
            existing = {
                p["name"]: p
                for p in self.api.json(
                    f"reading the {object_type} property list",
                    self.api.client.crm.properties.core_api.get_all,
                    object_type,
                ).get("results", [])
            }
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
            if missing and not self.dry_run:
                self._create_properties(object_type, missing)
            for name, prop in existing.items():
                self._options[(object_type, name)] = {o["value"] for o in prop.get("options") or []}
            for spec in missing:
                self._options[(object_type, spec.name)] = set(spec.options)
        return usable

    def _ensure_group(self, object_type: str) -> None:
        groups = self.api.json(
            f"reading the {object_type} property groups",
            self.api.client.crm.properties.groups_api.get_all,
            object_type,
        ).get("results", [])
        if any(g.get("name") == GROUP for g in groups):
            return
        self.api.json(
            f"creating the {object_type} property group {GROUP}",
            self.api.client.crm.properties.groups_api.create,
            object_type,
            PropertyGroupCreate(name=GROUP, label=GROUP_LABEL, display_order=-1),
        )

    def _create_properties(self, object_type: str, specs: list[PropertySpec]) -> None:
        inputs = [
            PropertyCreate(
                name=s.name, label=s.label, type=s.type, field_type=s.field_type,
                group_name=GROUP, description=s.description, form_field=False,
                options=[{"label": o, "value": o, "hidden": False, "displayOrder": i}
                         for i, o in enumerate(s.options)],
            )
            for s in specs
        ]  # fmt: skip
        body = self.api.json(
            f"creating {len(specs)} {object_type} properties",
            self.api.client.crm.properties.batch_api.create,
            object_type,
            BatchInputPropertyCreate(inputs=inputs),
        )
        for error in body.get("errors") or []:
            if error.get("category") != "OBJECT_ALREADY_EXISTS":  # made meanwhile: fine
                raise HubSpotHttpError(400, error, f"creating {object_type} properties")

    def _add_options(self, object_type: str, spec: PropertySpec, values: Iterable[str]) -> None:
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
    def _values(self, store: Any, usable: list[PropertySpec]) -> dict[str, pd.DataFrame]:
        """(entity_id, field, value) per object type: our latest outputs on HubSpot records."""
        scores = store.latest_outputs("scores")
        prices = store.latest_outputs("price_suggestions")
        out: dict[str, pd.DataFrame] = {}
        for object_type in dict.fromkeys(p.object_type for p in usable):
            records = store.read(object_type)
            ours = records[(records["source"] == "hubspot") & records["archived_at"].isna()]
            ids = set(ours[_TABLE_KEY[object_type]].astype(str))
            if object_type == "products":
                rows = prices
            else:
                rows = scores[scores["entity"] == _ENTITY[object_type]]
            parts = []
            for spec in (p for p in usable if p.object_type == object_type):
                if rows.empty:
                    continue
                series = spec.take(rows)
                series = series[pd.Index(series.index.astype(str), dtype=object).isin(ids)]
                texts = series.map(lambda v, k=spec.type: _text(v, k)).dropna()
                if spec.type == "enumeration" and not self.dry_run and len(texts):
                    self._add_options(object_type, spec, texts.unique())
                parts.append(pd.DataFrame({"entity_id": texts.index.astype(str),
                                           "field": spec.name, "value": texts.to_numpy()}))  # fmt: skip
            if parts:
                out[object_type] = pd.concat(parts, ignore_index=True)
        return out

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
        with ThreadPoolExecutor(max_workers=PARALLEL, thread_name_prefix="hubspot-push") as pool:
            futures = [
                pool.submit(self._send, object_type, chunk, by_record, report) for chunk in chunks
            ]
            try:
                for future in futures:
                    done = future.result()
                    positions = [p for rid in done for p in rows_of[rid]]
                    sent = changed.iloc[sorted(positions)]
                    store.mark_pushed(self.key, object_type, sent)
                    report.written += len(sent)
            except BaseException:
                for future in futures:
                    future.cancel()
                raise

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
        for error in body.get("errors") or []:
            context = error.get("context") or {}
            for rid in context.get("ids") or context.get("id") or []:
                gone.add(str(rid))
                reason = (
                    "no longer in HubSpot (deleted or merged into another record)"
                    if error.get("category") == "OBJECT_NOT_FOUND"
                    else str(error.get("message"))[:300]
                )
                report.failed.append((f"{object_type} {rid}", reason))
        return [i for i in ids if i not in gone]
