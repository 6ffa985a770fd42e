"""How HubSpot's objects and properties become the canonical tables, and back.

One ``ObjectSpec`` per canonical table says which HubSpot object feeds it, which
property fills which column, and which associations give its links. The user's config
can add or override columns (``[source.mapping.contacts] category = "my_property"``);
unknown canonical names land in ``extra`` so nothing mapped is lost.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from smbml_connect.consent import hubspot_consent
from smbml_connect.layouts import discount_shares
from smbml_connect.schema import SOURCE_ROW

__all__ = [
    "LEAD_SOURCES",
    "MODIFIED",
    "OBJECTS",
    "STAGE_ENTERED",
    "ObjectSpec",
    "cast_value",
    "deal_stage_rows",
    "labelled",
    "option_labels",
    "pipeline_stage_rows",
    "records_to_frame",
    "stage_properties",
]

MODIFIED = {"contacts": "lastmodifieddate"}
# Prefixes of the per-stage "date entered" deal properties, newest first.
STAGE_ENTERED = (
    "hs_v2_date_entered_",
    "hs_date_entered_",
)  # every other object: hs_lastmodifieddate
# HubSpot's original-source codes in the plain words the lead reasons use.
LEAD_SOURCES = {
    "ORGANIC_SEARCH": "organic_search",
    "PAID_SEARCH": "paid_search",
    "EMAIL_MARKETING": "email",
    "SOCIAL_MEDIA": "social",
    "PAID_SOCIAL": "social",
    "REFERRALS": "referral",
    "AI_REFERRALS": "referral",
    "DIRECT_TRAFFIC": "direct",
    "OFFLINE": "event",
    "OTHER_CAMPAIGNS": "other_campaigns",
}


@dataclass(frozen=True)
class ObjectSpec:
    table: str
    object_type: str
    columns: Mapping[str, str]  # canonical column -> HubSpot property
    links: Mapping[str, str] = field(default_factory=dict)  # canonical column -> associated type
    key: str = ""

    @property
    def modified(self) -> str:
        return MODIFIED.get(self.object_type, "hs_lastmodifieddate")

    def with_mapping(self, extra: Mapping[str, str]) -> ObjectSpec:
        return ObjectSpec(
            self.table, self.object_type, {**self.columns, **extra}, self.links, self.key
        )


OBJECTS: dict[str, ObjectSpec] = {
    spec.table: spec
    for spec in (
        ObjectSpec(
            "contacts",
            "contacts",
            {
                "email": "email",
                "first_name": "firstname",
                "last_name": "lastname",
                "company": "company",
                "lifecycle_stage": "lifecyclestage",
                "lead_source": "hs_analytics_source",
                "country": "country",
                "industry": "industry",
                "created_at": "createdate",
                "updated_at": "lastmodifieddate",
                "last_activity_at": "notes_last_updated",
                "converted_at": "hs_lifecyclestage_customer_date",
                "page_views": "hs_analytics_num_page_views",
                "sessions": "hs_analytics_num_visits",
                "email_opens": "hs_email_open",
                "email_clicks": "hs_email_click",
                "form_submissions": "num_conversion_events",
                "email_optout": "hs_email_optout",
                "marketable": "hs_marketable_status",
                "legal_basis": "hs_legal_basis",
                "merged_ids": "hs_merged_object_ids",
            },
            {"company_id": "companies"},
            "contact_id",
        ),
        ObjectSpec(
            "deals",
            "deals",
            {
                "name": "dealname",
                "amount": "amount",
                "currency": "deal_currency_code",
                "pipeline": "pipeline",
                "stage": "dealstage",
                "is_closed": "hs_is_closed",
                "is_won": "hs_is_closed_won",
                "created_at": "createdate",
                "close_date": "closedate",
                "owner_id": "hubspot_owner_id",
                "updated_at": "hs_lastmodifieddate",
                "stage_entered_at": "hs_v2_date_entered_current_stage",
                "merged_ids": "hs_merged_object_ids",
            },
            {"contact_id": "contacts"},
            "deal_id",
        ),
        ObjectSpec(
            "orders",
            "orders",
            {
                "name": "hs_order_name",
                "ordered_at": "hs_external_created_date",
                "created_at": "hs_createdate",
                "total": "hs_total_price",
                "currency": "hs_currency_code",
                "status": "hs_fulfillment_status",
                "updated_at": "hs_lastmodifieddate",
            },
            {"contact_id": "contacts"},
            "order_id",
        ),
        ObjectSpec(
            "order_lines",
            "line_items",
            {
                "product_id": "hs_product_id",
                "quantity": "quantity",
                "unit_price": "price",
                # An amount of money (the line's whole discount), not a share: ``_finish``
                # turns it into the share the canonical discount column holds.
                "hs_total_discount": "hs_total_discount",
                "name": "name",
                "updated_at": "hs_lastmodifieddate",
            },
            {"order_id": "orders"},
            "line_no",
        ),
        ObjectSpec(
            "products",
            "products",
            {
                "name": "name",
                "price": "price",
                "unit_cost": "hs_cost_of_goods_sold",
                "sku": "hs_sku",
                "updated_at": "hs_lastmodifieddate",
            },
            {},
            "product_id",
        ),
    )
}
COMPANY_PROPERTIES = ("name", "industry", "numberofemployees", "domain")
# Enumerations kept as HubSpot's internal values, as the code compares them: the lifecycle
# stage ("customer"), the source's code (`LEAD_SOURCES`), pipelines and stages (by id, named
# by `deal_pipeline_stages`), currency codes, the owner's id, the consent properties
# (`consent.hubspot_consent`), merged ids and an order's status (`sales.is_sale`). Any
# other reaches people as its label (find57 item 3: "Industry: HOME").
CODED = frozenset(
    {
        "lifecyclestage",
        "hs_analytics_source",
        "pipeline",
        "dealstage",
        "deal_currency_code",
        "hs_currency_code",
        "hubspot_owner_id",
        "hs_email_optout",
        "hs_marketable_status",
        "hs_legal_basis",
        "hs_merged_object_ids",
        "hs_fulfillment_status",
    }
)
# Links of which HubSpot marks one as the record's main one, (from, to) -> its v4 type id and
# its inline type: a contact's primary company is also listed as ``contact_to_company``
# (typeId 1), beside ``contact_to_company_unlabeled`` (279) that every company link has.
PRIMARY_LINKS = {("contacts", "companies"): (1, "contact_to_company")}


def cast_value(value: Any, kind: str) -> Any:
    """HubSpot sends every value as a string; dates may be epoch milliseconds or ISO text.

    A ``date`` property is a calendar day, which HubSpot keeps as that day's midnight UTC:
    it comes back as the day alone ("2026-10-31"), so that it is read on the business's
    calendar (business_zone), not as an instant that falls on the 30th west of UTC."""
    if value is None or value == "":
        return None
    if kind in ("datetime", "date"):
        text = str(value).strip()
        if text.lstrip("-").isdigit():
            stamp = datetime.fromtimestamp(int(text) / 1000, tz=UTC)
            return stamp.date().isoformat() if kind == "date" else stamp.isoformat()
        if kind == "date" and re.match(
            r"\d{4}-\d{2}-\d{2}(T00:00(:00(\.0+)?)?(Z|\+00:?00)?)?$", text
        ):
            return text[:10]
        return text
    return value


def option_labels(listed: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, str]]:
    """{property: {value: label}} of each enumeration in a property list, but those whose
    internal values the code compares (`CODED`)."""
    return {
        p["name"]: {str(o["value"]): str(o["label"]) for o in p["options"]}
        for p in listed
        if p.get("type") == "enumeration" and p.get("options") and p["name"] not in CODED
    }


def labelled(value: Any, options: Mapping[str, str] | None) -> Any:
    """An enumeration's value as people read it: its option's label ("Computer Software",
    not COMPUTER_SOFTWARE); a multiple choice's (HubSpot joins values with ';') each.
    A value no option has (the option since deleted) stays as it is."""
    if not options or not isinstance(value, str):
        return value
    if value in options:
        return options[value]
    parts = value.split(";")
    return "; ".join(options.get(v, v) for v in parts) if len(parts) > 1 else value


def records_to_frame(
    spec: ObjectSpec,
    records: list[dict[str, Any]],
    kinds: Mapping[str, str],
    links: Mapping[str, Mapping[str, list[str]]],
    companies: Mapping[str, Mapping[str, Any]],
    labels: Mapping[str, Mapping[str, str]] | None = None,
) -> pd.DataFrame:
    """Canonical rows from API records; ``links[column][record id]`` are associated ids;
    ``labels`` (`option_labels`) turn enumeration values into the words people read."""
    labels = labels or {}
    rows = []
    for record in records:
        props = record.get("properties") or {}
        row: dict[str, Any] = {
            name: labelled(cast_value(props.get(prop), kinds.get(prop, "string")), labels.get(prop))
            for name, prop in spec.columns.items()
        }
        rid = str(record["id"])
        row[spec.key] = int(rid) if spec.key == "line_no" else rid
        row[SOURCE_ROW] = int(rid) if rid.isdigit() else None
        row["archived_at"] = record.get("archivedAt") if record.get("archived") else None
        for column in spec.links:
            ids = links.get(column, {}).get(rid, [])
            row[column] = ids[0] if ids else None
        rows.append(row)
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    return _finish(spec.table, frame, companies)


def _finish(
    table: str, frame: pd.DataFrame, companies: Mapping[str, Mapping[str, Any]]
) -> pd.DataFrame:
    if table == "contacts":
        frame["lead_source"] = frame["lead_source"].map(
            lambda v: LEAD_SOURCES.get(str(v), str(v).lower()) if isinstance(v, str) else v
        )
        frame["marketing_consent"] = [
            hubspot_consent(*values)  # the CRM export's layout reads its columns so too
            for values in zip(
                frame.pop("email_optout"),
                frame.pop("marketable"),
                frame.pop("legal_basis"),
                strict=True,
            )
        ]
        company = frame["company_id"].map(
            lambda c: companies.get(c, {}) if isinstance(c, str) else {}
        )
        frame["company"] = frame["company"].where(
            frame["company"].notna(), company.map(lambda c: c.get("name"))
        )
        frame["industry"] = frame["industry"].where(
            frame["industry"].notna(), company.map(lambda c: c.get("industry"))
        )
        frame["company_size"] = company.map(lambda c: c.get("numberofemployees"))
    if table == "deals":
        closed = frame["is_closed"].astype(str).str.lower().eq("true")
        frame["closed_at"] = frame["close_date"].where(closed, None)
    if table == "orders":
        # An order made in HubSpot (not synced from a shop) has no external created date:
        # its own create date is when it was ordered. Rejected as "ordered_at is empty",
        # such orders were lost from every figure (explorer: 40 of 155 orders).
        frame["ordered_at"] = frame["ordered_at"].where(
            frame["ordered_at"].notna(), frame["created_at"]
        )
    if table == "order_lines" and "hs_total_discount" in frame:
        # Money off the whole line, not a share; the amount stays, as written, in extra.
        frame["discount"] = discount_shares(
            frame["hs_total_discount"],
            frame["quantity"],
            frame["unit_price"],
            "HubSpot's hs_total_discount",
        )
    return frame


def stage_properties(names: Iterable[str], stage_ids: Iterable[str]) -> dict[str, str]:
    """The deal properties that hold when a deal entered each stage -> the stage's id.

    HubSpot gives every pipeline stage a read-only datetime ``hs_v2_date_entered_<stage
    id>`` (the legacy ``hs_date_entered_<stage id>`` before it is retired), listed with the
    deal properties; a stage id the property name cannot hold as it is (a UUID's dashes)
    is matched with underscores. The v2 set is taken when the portal has it, else the
    legacy one, never both (they would give one stage two times).
    """
    ids = list(stage_ids)
    known = {s.replace("-", "_").lower(): s for s in ids} | {s: s for s in ids}
    listed = list(names)
    for prefix in STAGE_ENTERED:
        found = {
            name: known.get(name[len(prefix) :], name[len(prefix) :])
            for name in listed
            if name.startswith(prefix) and name[len(prefix) :] != "current_stage"
        }
        if found:
            return found
    return {}


def deal_stage_rows(records: list[dict[str, Any]], stages: Mapping[str, str]) -> pd.DataFrame:
    """Every stage each deal entered, with when (the latest entry where it came back).

    Without per-stage properties (``stages`` empty: a portal or token that lacks them)
    only the current stage's entry is known (``hs_v2_date_entered_current_stage``), as
    it is too for a deal whose current stage no property names.
    """
    rows = []
    for record in records:
        props = record.get("properties") or {}
        rid = str(record["id"])
        row = int(rid) if rid.isdigit() else None
        taken = set()
        for prop, stage in stages.items():
            when = cast_value(props.get(prop), "datetime")
            if when is not None:
                rows.append({"deal_id": rid, "stage": stage, "entered_at": when, SOURCE_ROW: row})
                taken.add(stage)
        current = props.get("dealstage")
        when = cast_value(props.get("hs_v2_date_entered_current_stage"), "datetime")
        if current and when is not None and current not in taken:
            rows.append({"deal_id": rid, "stage": current, "entered_at": when, SOURCE_ROW: row})
    return pd.DataFrame(rows, columns=["deal_id", "stage", "entered_at", SOURCE_ROW])


def pipeline_stage_rows(pipelines: list[dict[str, Any]]) -> pd.DataFrame:
    """Each stage of GET /crm/v3/pipelines/deals: its label, its pipeline's, and its place.

    HubSpot sends a stage's metadata as text ("isClosed": "true", "probability": "0.9").
    """
    rows = []
    for pipeline in pipelines:
        for stage in pipeline.get("stages") or []:
            meta = stage.get("metadata") or {}
            closed = str(meta.get("isClosed", "")).lower()
            rows.append(
                {
                    "stage": str(stage["id"]),
                    "stage_label": stage.get("label"),
                    "pipeline": str(pipeline["id"]),
                    "pipeline_label": pipeline.get("label"),
                    "pipeline_order": pipeline.get("displayOrder"),
                    "display_order": stage.get("displayOrder"),
                    "is_closed": {"true": True, "false": False}.get(closed),
                    "probability": meta.get("probability"),
                }
            )
    return pd.DataFrame(rows)


# The associations table's names of the HubSpot objects whose links it holds.
ASSOCIATION_NAMES = {
    "contacts": "contact",
    "deals": "deal",
    "orders": "order",
    "companies": "company",
}
ASSOCIATION_COLUMNS = ["from_type", "from_id", "to_type", "to_id", SOURCE_ROW]


def association_rows(
    spec: ObjectSpec, frame: pd.DataFrame, links: Mapping[str, Mapping[str, list[str]]]
) -> pd.DataFrame:
    """The canonical associations table: one row per linked record, every one of them.

    The record's own column (a deal's ``contact_id``) names one link, the first; a deal's
    other contacts (a buyer beside the decision maker) were in no table, so customers on a
    won deal were scored as cold open leads."""
    if frame.empty:
        return pd.DataFrame(columns=ASSOCIATION_COLUMNS)
    rows = [
        (ASSOCIATION_NAMES[spec.object_type], rid, ASSOCIATION_NAMES[to_type], to, row)
        for column, to_type in spec.links.items()
        for rid, row in zip(frame[spec.key].astype(str), frame[SOURCE_ROW], strict=True)
        for to in links.get(column, {}).get(rid, [])
    ]
    return pd.DataFrame(rows, columns=ASSOCIATION_COLUMNS)
