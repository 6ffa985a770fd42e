"""The CRM data behind the HubSpot emulator: records, properties, associations, search.

No HTTP here, so the rules (string values, property validation, search operators, the
10,000-result cap) can be read and tested on their own. Shapes follow HubSpot CRM v3 as
the official client validates them; see shared/hubspot-api.md.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from smbml_connect.testing.hubspot_marketing import MarketingState

__all__ = [
    "ASSOCIATION_TYPES",
    "CREATED_PROPERTY",
    "DEFAULT_DEAL_STAGES",
    "MODIFIED_PROPERTY",
    "OBJECT_TYPE_IDS",
    "STAGE_ENTERED",
    "STAGE_EXITED",
    "UNLABELED_TYPES",
    "ApiError",
    "CrmState",
    "iso_ms",
    "parse_time_ms",
]

OBJECT_TYPE_IDS = {
    "0-1": "contacts",
    "0-2": "companies",
    "0-3": "deals",
    "0-7": "products",
    "0-8": "line_items",
    "0-123": "orders",
    # Engagements: one object type each, with its own id (the notes' is 0-46, not 0-4).
    "0-48": "calls",
    "0-49": "emails",
    "0-47": "meetings",
    "0-46": "notes",
    "0-27": "tasks",
    "0-18": "communications",
}
ENGAGEMENT_TYPES = ("calls", "emails", "meetings", "notes", "tasks", "communications")
CREATED_PROPERTY = {t: "createdate" for t in OBJECT_TYPE_IDS.values()} | {
    t: "hs_createdate" for t in ("orders", *ENGAGEMENT_TYPES)
}
MODIFIED_PROPERTY = {t: "hs_lastmodifieddate" for t in OBJECT_TYPE_IDS.values()} | {
    "contacts": "lastmodifieddate"
}
SINGULAR = {
    "contacts": "contact",
    "companies": "company",
    "deals": "deal",
    "products": "product",
    "line_items": "line_item",
    "orders": "order",
    "calls": "call",
    "emails": "email",
    "meetings": "meeting",
    "notes": "note",
    "tasks": "task",
    "communications": "communication",
}
# (from, to) -> default HUBSPOT_DEFINED type id, both directions.
ASSOCIATION_TYPES = {
    ("contacts", "companies"): 1,
    ("companies", "contacts"): 2,
    ("deals", "contacts"): 3,
    ("contacts", "deals"): 4,
    ("deals", "companies"): 5,
    ("companies", "deals"): 6,
    ("deals", "line_items"): 19,
    ("line_items", "deals"): 20,
    ("orders", "contacts"): 507,
    ("contacts", "orders"): 508,
    ("orders", "line_items"): 513,
    ("line_items", "orders"): 514,
    ("calls", "contacts"): 194,
    ("contacts", "calls"): 193,
    ("emails", "contacts"): 198,
    ("contacts", "emails"): 197,
    ("meetings", "contacts"): 200,
    ("contacts", "meetings"): 199,
    ("notes", "contacts"): 202,
    ("contacts", "notes"): 201,
    ("tasks", "contacts"): 204,
    ("contacts", "tasks"): 203,
    ("communications", "contacts"): 81,
    ("contacts", "communications"): 82,
}
# Pairs whose links come in two kinds: every link is of the unlabeled type (these ids), and
# one of them, the contact's primary company, is also of the type above (1: "Primary";
# inline, ``contact_to_company`` beside ``contact_to_company_unlabeled``). HubSpot makes a
# contact's first company its primary; an association made with type 1 moves it there.
UNLABELED_TYPES = {("contacts", "companies"): 279, ("companies", "contacts"): 280}
_ENUMS = {
    "lifecyclestage": "subscriber lead marketingqualifiedlead salesqualifiedlead opportunity "
    "customer evangelist other",
    "hs_analytics_source": "ORGANIC_SEARCH PAID_SEARCH EMAIL_MARKETING SOCIAL_MEDIA REFERRALS "
    "OTHER_CAMPAIGNS DIRECT_TRAFFIC OFFLINE PAID_SOCIAL AI_REFERRALS",
    "hs_marketable_status": "true false",  # labels "Marketing contact", "Non-marketing contact"
    "hs_call_status": "BUSY CALLING_CRM_USER CANCELED COMPLETED CONNECTING FAILED IN_PROGRESS "
    "MISSED NO_ANSWER QUEUED RINGING",
    "hs_call_direction": "INBOUND OUTBOUND",
    "hs_email_direction": "EMAIL INCOMING_EMAIL FORWARDED_EMAIL",
    "hs_email_status": "BOUNCED FAILED SCHEDULED SENDING SENT",
    "hs_meeting_outcome": "SCHEDULED COMPLETED RESCHEDULED NO_SHOW CANCELED",
    "hs_task_status": "NOT_STARTED IN_PROGRESS WAITING COMPLETED DEFERRED",
    "hs_communication_channel_type": "SMS WHATS_APP LINKEDIN_MESSAGE",
}
# Enumerations whose values are codes and whose labels are words, (object, property) ->
# "CODE:Label" items: a company's industry is one of LinkedIn's industries, which HubSpot
# fills in itself from its company data (a subset here).
_CODED_ENUMS = {
    ("companies", "industry"): (
        "ACCOUNTING:Accounting|APPAREL_FASHION:Apparel & Fashion|AUTOMOTIVE:Automotive|"
        "COMPUTER_SOFTWARE:Computer Software|CONSTRUCTION:Construction|"
        "CONSUMER_GOODS:Consumer Goods|CONSUMER_SERVICES:Consumer Services|"
        "FINANCIAL_SERVICES:Financial Services|FOOD_BEVERAGES:Food & Beverages|"
        "FURNITURE:Furniture|HEALTH_WELLNESS_AND_FITNESS:Health, Wellness and Fitness|"
        "HOSPITAL_HEALTH_CARE:Hospital & Health Care|HOSPITALITY:Hospitality|"
        "INFORMATION_TECHNOLOGY_AND_SERVICES:Information Technology and Services|"
        "LEGAL_SERVICES:Legal Services|MARKETING_AND_ADVERTISING:Marketing and Advertising|"
        "REAL_ESTATE:Real Estate|RESTAURANTS:Restaurants|RETAIL:Retail|WHOLESALE:Wholesale"
    ),
}
# What every engagement type has: when it happened (a task's: when it is due).
_ENGAGEMENT = (
    "hs_timestamp:datetime hs_createdate:datetime! hs_lastmodifieddate:datetime! "
    "hs_object_id:number! hubspot_owner_id "
)
# name:type per object; string unless said. Read-only ones end in "!".
_DEFAULTS = {
    "contacts": "email firstname lastname company lifecyclestage:enumeration "
    "hs_analytics_source:enumeration country industry createdate:datetime "
    "lastmodifieddate:datetime! notes_last_updated:datetime! hs_analytics_num_page_views:number! "
    "hs_analytics_num_visits:number! hs_email_open:number! hs_email_click:number! "
    "num_conversion_events:number! hs_lifecyclestage_customer_date:datetime "
    "hs_email_optout:bool hs_marketable_status:enumeration "
    "hs_legal_basis:enumeration hs_object_id:number! "
    "hs_merged_object_ids:enumeration!",
    "companies": "name domain industry:enumeration numberofemployees:number createdate:datetime "
    "hs_lastmodifieddate:datetime! hs_object_id:number!",
    "deals": "dealname amount:number deal_currency_code pipeline dealstage "
    "hs_is_closed:bool! hs_is_closed_won:bool! createdate:datetime closedate:datetime "
    "hs_lastmodifieddate:datetime! hubspot_owner_id hs_v2_date_entered_current_stage:datetime! "
    "hs_object_id:number! hs_merged_object_ids:enumeration!",
    "products": "name price:number hs_sku hs_cost_of_goods_sold:number description "
    "createdate:datetime hs_lastmodifieddate:datetime! hs_object_id:number!",
    "line_items": "name quantity:number price:number hs_product_id hs_total_discount:number "
    "amount:number! createdate:datetime hs_lastmodifieddate:datetime! hs_object_id:number!",
    "orders": "hs_order_name hs_total_price:number hs_currency_code hs_fulfillment_status "
    "hs_external_created_date:datetime hs_createdate:datetime! hs_lastmodifieddate:datetime! "
    "hs_object_id:number!",
    # The call's outcome is an id (HubSpot's "Connected" is f240bbac-...), not a label.
    "calls": _ENGAGEMENT + "hs_call_status:enumeration hs_call_direction:enumeration "
    "hs_call_disposition hs_call_duration:number hs_call_title hs_call_body",
    "emails": _ENGAGEMENT + "hs_email_direction:enumeration hs_email_status:enumeration "
    "hs_email_subject hs_email_text",
    "meetings": _ENGAGEMENT + "hs_meeting_outcome:enumeration hs_meeting_title "
    "hs_meeting_start_time:datetime hs_meeting_end_time:datetime",
    "notes": _ENGAGEMENT + "hs_note_body",
    "tasks": _ENGAGEMENT + "hs_task_status:enumeration hs_task_subject",
    "communications": _ENGAGEMENT + "hs_communication_channel_type:enumeration "
    "hs_communication_body",
}
# HubSpot's default deal pipeline as its API returns it: id, label, win probability (the
# stage's metadata, text as HubSpot sends it) and whether the stage closes the deal.
DEFAULT_DEAL_STAGES = (
    ("appointmentscheduled", "Appointment Scheduled", "0.2", "false"),
    ("qualifiedtobuy", "Qualified To Buy", "0.4", "false"),
    ("presentationscheduled", "Presentation Scheduled", "0.6", "false"),
    ("decisionmakerboughtin", "Decision Maker Bought-In", "0.8", "false"),
    ("contractsent", "Contract Sent", "0.9", "false"),
    ("closedwon", "Closed Won", "1.0", "true"),
    ("closedlost", "Closed Lost", "0.0", "true"),
)
_FIELD_TYPES = {
    "string": {"text", "textarea", "html", "phonenumber", "file"},
    "number": {"number", "calculation_equation"},
    "date": {"date"},
    "datetime": {"date"},
    "enumeration": {"select", "radio", "checkbox", "booleancheckbox", "calculation_equation"},
    "bool": {"booleancheckbox", "radio", "select", "calculation_equation"},
    "phone_number": {"phonenumber", "text"},
}
_DEFAULT_FIELD = {
    "string": "text",
    "number": "number",
    "datetime": "date",
    "date": "date",
    "enumeration": "select",
    "bool": "booleancheckbox",
}


# A deal stage's own properties: ``STAGE_ENTERED + stage id`` holds when the deal last
# entered the stage (null if it never did), ``STAGE_EXITED`` when it last left it.
STAGE_ENTERED = "hs_v2_date_entered_"
STAGE_EXITED = "hs_v2_date_exited_"


def _property(
    object_type: str,
    name: str,
    kind: str,
    read_only: bool,
    *,
    options: list[dict[str, Any]] | None = None,
    label: str | None = None,
    description: str = "",
    stamp: str,
) -> dict[str, Any]:
    """A HubSpot-defined property as GET /crm/v3/properties/{type} lists it."""
    return {
        "name": name,
        "label": label or name.replace("_", " ").capitalize(),
        "type": kind,
        "fieldType": _DEFAULT_FIELD[kind],
        "groupName": f"{SINGULAR[object_type]}information",
        "description": description,
        "options": options or [],
        "displayOrder": -1,
        "hidden": False,
        "formField": not read_only,
        "hubspotDefined": True,
        "calculated": False,
        "externalOptions": False,
        "hasUniqueValue": name == "hs_object_id",
        "createdAt": stamp,
        "updatedAt": stamp,
        "archived": False,
        "modificationMetadata": {
            "archivable": False,
            "readOnlyDefinition": True,
            "readOnlyValue": read_only,
        },
    }


class ApiError(Exception):
    """An error answer: HTTP status and HubSpot's error JSON."""

    def __init__(self, status: int, message: str, category: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.body: dict[str, Any] = {
            "status": "error",
            "message": message,
            "correlationId": _correlation_id(),
            "category": category,
            **extra,
        }


_ids = itertools.count(1)


def _correlation_id() -> str:
    n = next(_ids)
    return f"{n:08x}-0000-4000-8000-{n:012x}"


def now_ms() -> int:
    return int(time.time() * 1000)


# A record dated this far past the clock was dated so on purpose (a sample's or a test's
# time): a change to it is dated just after, as no real wait could reach it.
_SET_AHEAD_MS = 5


def changed_ms(previous: int) -> int:
    """When a record last changed at ``previous`` changes now: HubSpot's clock at the
    change, never ahead of it. A second change inside the first one's millisecond waits
    for the next (the two are told apart by time, as HubSpot's are: no API call takes
    under a millisecond). Dated a millisecond ahead instead, a change made just before a
    run was newer than the run's start, left out of its "changed until now" search."""
    now = now_ms()
    if previous > now + _SET_AHEAD_MS:
        return previous + 1
    while now <= previous:
        time.sleep(0.0002)
        now = now_ms()
    return now


def iso_ms(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def parse_time_ms(value: str) -> int:
    """Epoch milliseconds or ISO 8601, as HubSpot accepts both in filters and writes."""
    text = str(value).strip()
    if text.lstrip("-").isdigit():
        return int(text)
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp() * 1000)


@dataclass
class Record:
    id: str
    properties: dict[str, str]
    created_ms: int
    updated_ms: int
    archived_ms: int | None = None
    stage: str | None = None  # a deal's stage when last stamped: a change is an entry
    indexed_ms: int = 0  # from when search finds the record as it is (`CrmState.index_lag_ms`)

    def shape(self, object_type: str, wanted: Iterable[str] | None) -> dict[str, Any]:
        """The record as the API returns it: strings only, defaults always present."""
        names = set(_default_returned(object_type)) | set(wanted or ())
        props = {n: self.properties.get(n) for n in sorted(names)}
        out: dict[str, Any] = {
            "id": self.id,
            "properties": props,
            "createdAt": iso_ms(self.created_ms),
            "updatedAt": iso_ms(self.updated_ms),
            "archived": self.archived_ms is not None,
        }
        if self.archived_ms is not None:
            out["archivedAt"] = iso_ms(self.archived_ms)
        return out


def _default_returned(object_type: str) -> tuple[str, ...]:
    return (CREATED_PROPERTY[object_type], MODIFIED_PROPERTY[object_type], "hs_object_id")


@dataclass
class CrmState:
    """Every object, property, group and association of one emulated account."""

    objects: dict[str, dict[str, Record]] = field(default_factory=dict)
    properties: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    groups: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    links: dict[tuple[str, str, str], set[str]] = field(default_factory=dict)
    # HubSpot's search index lags its records, unevenly (supaglue-labs/supaglue#665): a
    # change is found by search this long after it is made (``lag_index``: one record's).
    index_lag_ms: int = 0
    # A contact's primary company: contact id -> company id (one of its links).
    primary: dict[str, str] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)
    next_id: int = 100_001
    # The account, as GET /account-info/v3/details gives it. Two emulators give the same
    # ids (as two real accounts may): only the portal id tells their records apart.
    portal_id: int = 146_238_120
    time_zone: str = "US/Eastern"
    currency: str = "USD"
    next_pipeline_id: int = 1_234_566
    writes: Counter[tuple[str, str]] = field(default_factory=Counter)  # API updates per record
    revision: Counter[str] = field(default_factory=Counter)  # bumps when records come or go
    # Pipelines per object type ("deals"), each as GET /crm/v3/pipelines/{type} returns it.
    pipelines: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # Email events and form submissions: HubSpot's legacy marketing APIs, not CRM objects.
    marketing: MarketingState = field(default_factory=MarketingState)
    _id_order: dict[tuple[str, bool], tuple[int, list[int], list[Record]]] = field(
        default_factory=dict
    )
    # An archived property's values, (object type, name) -> {record id: value}: hidden
    # from the records until the property is restored.
    archived_values: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        stamp = iso_ms(now_ms())
        for object_type, spec in _DEFAULTS.items():
            self.objects.setdefault(object_type, {})
            self.groups[object_type] = {
                f"{SINGULAR[object_type]}information": {
                    "name": f"{SINGULAR[object_type]}information",
                    "label": f"{SINGULAR[object_type].replace('_', ' ').title()} information",
                    "displayOrder": -1,
                    "archived": False,
                }
            }
            props: dict[str, dict[str, Any]] = {}
            for item in spec.split():
                name, _, kind = item.partition(":")
                read_only = name.endswith("!") or kind.endswith("!")
                name, kind = name.rstrip("!"), (kind.rstrip("!") or "string")
                coded = _CODED_ENUMS.get((object_type, name))
                pairs = (
                    [tuple(o.split(":", 1)) for o in coded.split("|")]
                    if coded
                    else [(v, v) for v in _ENUMS.get(name, "").split()]
                )
                options = [
                    {"label": label, "value": v, "hidden": False, "displayOrder": i}
                    for i, (v, label) in enumerate(pairs)
                ]
                if kind == "bool":
                    options = [
                        {"label": "Yes", "value": "true", "hidden": False, "displayOrder": 0},
                        {"label": "No", "value": "false", "hidden": False, "displayOrder": 1},
                    ]
                props[name] = _property(
                    object_type, name, kind, read_only, options=options, stamp=stamp
                )
            self.properties[object_type] = props
        self.pipelines["deals"] = []
        self.add_pipeline(
            "deals",
            "Sales Pipeline",
            [(label, float(p), closed == "true") for _, label, p, closed in DEFAULT_DEAL_STAGES],
            pipeline_id="default",
            stage_ids=[stage for stage, *_ in DEFAULT_DEAL_STAGES],
        )

    # -- pipelines -------------------------------------------------------------------
    def add_pipeline(
        self,
        object_type: str,
        label: str,
        stages: Iterable[tuple[str, float, bool]],
        *,
        pipeline_id: str | None = None,
        stage_ids: Iterable[str] | None = None,
        display_order: int | None = None,
    ) -> dict[str, Any]:
        """A pipeline as a portal's admin makes one: ``stages`` are (label, probability,
        closed) in display order; HubSpot gives a new pipeline and its stages numeric ids."""
        with self.lock:
            stamp = iso_ms(now_ms())
            given = list(stage_ids or [])
            rows = []
            for order, (stage_label, probability, closed) in enumerate(stages):
                rows.append(
                    {
                        "id": given[order] if order < len(given) else self._pipeline_id(),
                        "label": stage_label,
                        "displayOrder": order,
                        "metadata": {
                            "isClosed": "true" if closed else "false",
                            "probability": str(float(probability)),
                        },
                        "writePermissions": "CRM_PERMISSIONS_ENFORCEMENT",
                        "createdAt": stamp,
                        "updatedAt": stamp,
                        "archived": False,
                    }
                )
            existing = self.pipelines.setdefault(object_type, [])
            pipeline = {
                "id": pipeline_id or self._pipeline_id(),
                "label": label,
                "displayOrder": len(existing) if display_order is None else display_order,
                "stages": rows,
                "createdAt": stamp,
                "updatedAt": stamp,
                "archived": False,
            }
            existing.append(pipeline)
            if object_type == "deals":
                self._stage_properties(pipeline)
            return pipeline

    def _stage_properties(self, pipeline: dict[str, Any]) -> None:
        """HubSpot gives every deal stage its own read-only datetimes, named by the stage
        id: when a deal last entered it and last left it (a re-entry overwrites both)."""
        stamp = iso_ms(now_ms())
        props = self.properties["deals"]
        for stage in pipeline["stages"]:
            where = f"'{stage['label']}' stage, '{pipeline['label']}' pipeline"
            for verb, prefix in (("entered", STAGE_ENTERED), ("exited", STAGE_EXITED)):
                name = prefix + stage["id"]
                props[name] = _property(
                    "deals",
                    name,
                    "datetime",
                    True,
                    label=f'Date {verb} "{stage["label"]} ({pipeline["label"]})"',
                    description=f"The date and time when the deal {verb} the {where}",
                    stamp=stamp,
                )

    def _pipeline_id(self) -> str:
        self.next_pipeline_id += 1  # apart from record ids, so adding one moves no record's
        return str(self.next_pipeline_id)

    def stage(self, object_type: str, stage_id: str) -> dict[str, Any] | None:
        """The stage with this id in any of the type's pipelines (ids are unique per portal)."""
        for pipeline in self.pipelines.get(object_type, []):
            for stage in pipeline["stages"]:
                if stage["id"] == stage_id:
                    return stage
        return None

    # -- records ---------------------------------------------------------------------
    def object_type(self, name: str) -> str:
        resolved = OBJECT_TYPE_IDS.get(name, name)
        if resolved in ("order", "contact", "deal", "product", "company", "line_item"):
            resolved = {v: k for k, v in SINGULAR.items()}[resolved]
        if resolved not in self.objects:
            raise ApiError(400, f"Unable to infer object type from: {name}", "VALIDATION_ERROR")
        return resolved

    def add(
        self,
        object_type: str,
        properties: Mapping[str, Any],
        *,
        record_id: str | None = None,
        created_ms: int | None = None,
        updated_ms: int | None = None,
    ) -> Record:
        """Put a record in as the account already had it (seeding: no validation, no quota)."""
        with self.lock:
            rid = record_id or str(self._new_id())
            created = created_ms if created_ms is not None else now_ms()
            updated = updated_ms if updated_ms is not None else created
            values = {k: _text(v) for k, v in properties.items() if v is not None}
            record = Record(rid, values, created, updated)
            self._stamp(object_type, record)
            self.objects[object_type][rid] = record
            self.revision[object_type] += 1
            return record

    def in_id_order(self, object_type: str, archived: bool) -> tuple[list[int], list[Record]]:
        """Live (or archived) records sorted by id, cached until one is added or archived.

        List paging asks for this on every page; sorting 50,000 records each time made the
        emulator, not the client, the slow side of a benchmark.
        """
        with self.lock:
            key = (object_type, archived)
            cached = self._id_order.get(key)
            if cached is None or cached[0] != self.revision[object_type]:
                rows = sorted(
                    (
                        r
                        for r in self.objects[object_type].values()
                        if (r.archived_ms is not None) == archived
                    ),
                    key=lambda r: int(r.id),
                )
                cached = (self.revision[object_type], [int(r.id) for r in rows], rows)
                self._id_order[key] = cached
            return cached[1], cached[2]

    def _new_id(self) -> int:
        self.next_id += 1
        return self.next_id

    def lag_index(self, object_type: str, record_ids: Iterable[str], lag_ms: int) -> None:
        """Search finds these records' last change ``lag_ms`` from now, not before: HubSpot
        indexes changes unevenly, a later one may be found first."""
        with self.lock:
            for rid in record_ids:
                self.objects[object_type][rid].indexed_ms = now_ms() + lag_ms

    def _stamp(self, object_type: str, record: Record) -> None:
        record.indexed_ms = now_ms() + self.index_lag_ms
        record.properties["hs_object_id"] = record.id
        record.properties.setdefault(CREATED_PROPERTY[object_type], iso_ms(record.created_ms))
        record.properties[MODIFIED_PROPERTY[object_type]] = iso_ms(record.updated_ms)
        if object_type == "deals":
            # HubSpot derives both flags from the stage's metadata in its pipeline: closed
            # as the stage says, won when a closed stage has a probability of 1.
            stage = record.properties.get("dealstage", "")
            meta = (self.stage("deals", stage) or {}).get("metadata") or {}
            closed = meta.get("isClosed") == "true"
            won = closed and float(meta.get("probability") or 0) == 1.0
            record.properties["hs_is_closed"] = "true" if closed else "false"
            record.properties["hs_is_closed_won"] = "true" if won else "false"
            self._stamp_stage(record, stage)
        if object_type == "line_items":
            qty = _float(record.properties.get("quantity"))
            price = _float(record.properties.get("price"))
            if qty is not None and price is not None:
                discount = _float(record.properties.get("hs_total_discount")) or 0.0
                record.properties["amount"] = _text(round(qty * price - discount, 2))

    def _stamp_stage(self, record: Record, stage: str) -> None:
        """A deal that moves enters its new stage and leaves its old one now; a re-entry
        overwrites the earlier entry (HubSpot keeps the latest). A deal put in as the
        account already had it keeps the entry times it came with (its past), else it
        entered its stage when it was created."""
        if not stage:
            return
        if stage != record.stage:
            if record.stage is None:
                at = iso_ms(record.created_ms)
                record.properties.setdefault(STAGE_ENTERED + stage, at)
            else:
                at = iso_ms(record.updated_ms)
                record.properties[STAGE_EXITED + record.stage] = at
                record.properties[STAGE_ENTERED + stage] = at
            record.stage = stage
        record.properties["hs_v2_date_entered_current_stage"] = record.properties[
            STAGE_ENTERED + stage
        ]

    def merge(self, object_type: str, primary: str, merged: str, new_id: str | None = None) -> None:
        """Merge one record into another as HubSpot does: the merged id is gone (from the
        lists, archived ones too), the primary names it in ``hs_merged_object_ids``, and
        every association of the merged record moves to the primary, the associated
        records untouched (no new last-modified time: an association is no property, so
        an incremental pull does not see the move; airbytehq/airbyte#27199).

        ``new_id``: contacts and companies merged since HubSpot's 2024 change become a new
        record with a new id, both old ids merged into it ("Updated merge functionality
        for contacts and companies", developers.hubspot.com/changelog).

        Values: the kept record takes the merged one's where it has none (`_merged_values`).
        """
        with self.lock:
            keep = self.objects[object_type][primary]
            away = self.objects[object_type].pop(merged)
            computed = {
                name
                for name, spec in self.properties[object_type].items()
                if spec["modificationMetadata"]["readOnlyValue"]
            }
            keep.properties = _merged_values(
                object_type, keep.properties, away.properties, computed
            )
            gone = [merged]
            if new_id is not None:
                self.objects[object_type].pop(primary)
                gone.insert(0, primary)
                keep = replace(keep, id=new_id, properties=dict(keep.properties))
                keep.properties["hs_object_id"] = new_id
                self.objects[object_type][new_id] = keep
            # The merged record's own merged ids come along: they are the kept one's now.
            ids = [
                i
                for record in (keep, away)
                for i in (record.properties.get("hs_merged_object_ids") or "").split(";")
                if i
            ]
            keep.properties["hs_merged_object_ids"] = ";".join(dict.fromkeys([*ids, *gone]))
            keep.updated_ms = changed_ms(keep.updated_ms)
            self._stamp(object_type, keep)
            for old in gone:
                self._move_links(object_type, old, keep.id)
            self.revision[object_type] += 1

    # -- properties deleted -----------------------------------------------------------
    def archive_property(self, object_type: str, name: str) -> None:
        """A property deleted in HubSpot (Settings > Properties > Delete, or DELETE
        /crm/v3/properties/{type}/{name}): archived, restorable for 90 days, its name still
        taken (a create gets 409); its values leave every record until it is restored."""
        with self.lock:
            spec = self.properties[object_type].get(name)
            if spec is None or spec.get("archived"):
                return
            spec.update(archived=True, archivedAt=iso_ms(now_ms()))
            hidden = self.archived_values.setdefault((object_type, name), {})
            for record in self.objects[object_type].values():
                if name in record.properties:
                    hidden[record.id] = record.properties.pop(name)

    def restore_property(self, object_type: str, name: str) -> None:
        """An archived property restored: live again, with the values it had."""
        with self.lock:
            spec = self.properties[object_type][name]
            spec["archived"] = False
            spec.pop("archivedAt", None)
            for rid, value in self.archived_values.pop((object_type, name), {}).items():
                if rid in self.objects[object_type]:
                    self.objects[object_type][rid].properties[name] = value

    def delete_property_for_good(self, object_type: str, name: str) -> None:
        """A property deleted for good (from the archived list, or 90 days after its
        delete): gone with every value; its name can be made again."""
        with self.lock:
            self.properties[object_type].pop(name, None)
            self.archived_values.pop((object_type, name), None)
            for record in self.objects[object_type].values():
                record.properties.pop(name, None)

    def delete_for_good(self, object_type: str, record_id: str) -> None:
        """A GDPR delete (``POST /crm/v3/objects/contacts/gdpr-delete``), or a record's 90
        days in the recycle bin running out: gone from every list, archived ones too, and
        from search, with its associations; nothing names it any more."""
        with self.lock:
            self.objects[object_type].pop(record_id)
            for from_type, from_id, to_type in list(self.links):
                if from_type == object_type and from_id == record_id:
                    for target in self.links.pop((from_type, from_id, to_type)):
                        self.links.get((to_type, target, object_type), set()).discard(record_id)
            self.revision[object_type] += 1

    def _move_links(self, object_type: str, old: str, new: str) -> None:
        if object_type == "contacts" and old in self.primary:
            self.primary.setdefault(new, self.primary.pop(old))  # the kept one's stays
        if object_type == "companies":
            self.primary = {c: new if p == old else p for c, p in self.primary.items()}
        for from_type, from_id, to_type in list(self.links):
            if from_type == object_type and from_id == old:
                for target in self.links.pop((from_type, from_id, to_type)):
                    self.links.setdefault((object_type, new, to_type), set()).add(target)
                    back = self.links.setdefault((to_type, target, object_type), set())
                    back.discard(old)
                    back.add(new)

    def live(self, object_type: str, record_id: str) -> Record | None:
        record = self.objects[object_type].get(record_id)
        return record if record is not None and record.archived_ms is None else None

    def touch(
        self,
        object_type: str,
        record_ids: Iterable[str],
        at_ms: int | None = None,
        **properties: Any,
    ) -> None:
        """Change records as a user in HubSpot would: new values, new last-modified time
        (``at_ms`` fixes that time, e.g. many changes inside one millisecond)."""
        with self.lock:
            for rid in record_ids:
                record = self.objects[object_type][rid]
                record.properties.update({k: _text(v) for k, v in properties.items()})
                record.updated_ms = at_ms if at_ms is not None else changed_ms(record.updated_ms)
                self._stamp(object_type, record)

    def archive(self, object_type: str, record_ids: Iterable[str]) -> None:
        with self.lock:
            for rid in record_ids:
                record = self.objects[object_type].get(rid)
                if record is not None and record.archived_ms is None:
                    record.archived_ms = now_ms()
                    record.updated_ms = record.archived_ms
                    self.revision[object_type] += 1

    def update(self, object_type: str, record: Record, values: Mapping[str, Any]) -> None:
        self.validate(object_type, values)
        with self.lock:
            for name, value in values.items():
                if value in ("", None):
                    record.properties.pop(name, None)
                else:
                    record.properties[name] = self._normalise(object_type, name, value)
            record.updated_ms = changed_ms(record.updated_ms)
            self._stamp(object_type, record)
            self.writes[(object_type, record.id)] += 1

    def _normalise(self, object_type: str, name: str, value: Any) -> str:
        kind = self.properties[object_type][name]["type"]
        if kind == "datetime":
            return iso_ms(parse_time_ms(str(value)))
        if kind == "bool":
            return str(value).lower()
        return _text(value)

    def validate(self, object_type: str, values: Mapping[str, Any]) -> None:
        """HubSpot's 400 for unknown, read-only or badly typed values, all listed at once."""
        problems = []
        props = self.properties[object_type]
        for name, value in values.items():
            spec = props.get(name)
            if spec is None or spec.get("archived"):
                problems.append(
                    _invalid(
                        name, value, "PROPERTY_DOESNT_EXIST", f'Property "{name}" does not exist'
                    )
                )
                continue
            if spec["modificationMetadata"]["readOnlyValue"]:
                problems.append(
                    _invalid(
                        name,
                        value,
                        "READ_ONLY_VALUE",
                        f'"{name}" is a read only property; its value cannot be set.',
                    )
                )
                continue
            if value in ("", None):
                continue
            error = _check_value(spec, str(value))
            if error:
                problems.append(_invalid(name, value, error[0], error[1]))
        if problems:
            raise ApiError(
                400,
                "Property values were not valid: " + _json_list(problems),
                "VALIDATION_ERROR",
            )

    # -- associations ----------------------------------------------------------------
    def associate(
        self, from_type: str, from_id: str, to_type: str, to_id: str, primary: bool | None = None
    ) -> None:
        """Link two records, both ways. A contact-company link is the contact's primary
        when ``primary`` says so, or (None) when the contact has no primary company yet."""
        with self.lock:
            self.links.setdefault((from_type, from_id, to_type), set()).add(to_id)
            self.links.setdefault((to_type, to_id, from_type), set()).add(from_id)
            pair = _contact_company(from_type, from_id, to_type, to_id)
            if pair is not None:
                contact, company = pair
                if primary or (primary is None and self.primary_of(contact) is None):
                    self.primary[contact] = company

    def dissociate(self, from_type: str, from_id: str, to_type: str, to_id: str) -> None:
        """Remove a link, both ways. Neither record's last-modified time moves (HubSpot does
        not date association changes). A primary company unlinked leaves none."""
        with self.lock:
            self.links.get((from_type, from_id, to_type), set()).discard(to_id)
            self.links.get((to_type, to_id, from_type), set()).discard(from_id)
            pair = _contact_company(from_type, from_id, to_type, to_id)
            if pair is not None and self.primary.get(pair[0]) == pair[1]:
                del self.primary[pair[0]]

    def associated(self, from_type: str, from_id: str, to_type: str) -> list[str]:
        targets = self.links.get((from_type, from_id, to_type), set())
        return sorted((t for t in targets if self.live(to_type, t)), key=_id_key)

    def primary_of(self, contact: str) -> str | None:
        """The contact's primary company, if it is still linked and live."""
        company = self.primary.get(contact)
        linked = self.links.get(("contacts", contact, "companies"), set())
        return company if company in linked and self.live("companies", company) else None

    def link_types(self, from_type: str, from_id: str, to_type: str, to_id: str) -> list[int]:
        """The association type ids of one link, as v4 lists them: the unlabeled type of a
        contact-company link, and the primary type (1 or 2) where it is the primary."""
        unlabeled = UNLABELED_TYPES.get((from_type, to_type))
        own = ASSOCIATION_TYPES.get((from_type, to_type), 0)
        if unlabeled is None:
            return [own]
        pair = _contact_company(from_type, from_id, to_type, to_id)
        first = pair is not None and self.primary_of(pair[0]) == pair[1]
        return [own, unlabeled] if first else [unlabeled]

    # -- search ----------------------------------------------------------------------
    def search(self, object_type: str, body: Mapping[str, Any], cap: int) -> dict[str, Any]:
        groups = body.get("filterGroups") or []
        _check_filter_limits(groups)
        limit = int(body.get("limit") or 10)
        if limit > 200:
            raise ApiError(400, "limit must be less than or equal to 200", "VALIDATION_ERROR")
        after = int(body.get("after") or 0)
        if after >= cap:
            raise ApiError(
                400,
                f"There was a problem with the request. Paging beyond {cap} results is not "
                "supported.",
                "VALIDATION_ERROR",
            )
        props = self.properties[object_type]
        indexed = now_ms()  # a change not indexed yet is not found (``index_lag_ms``)
        with self.lock:
            rows = [
                r
                for r in self.objects[object_type].values()
                if r.archived_ms is None
                and r.indexed_ms <= indexed
                and (not groups or any(_matches(r, g["filters"], props) for g in groups))
            ]
        sorts = body.get("sorts") or []
        if sorts:
            sort = sorts[0] if isinstance(sorts[0], dict) else {"propertyName": sorts[0]}
            name = sort["propertyName"]
            descending = str(sort.get("direction", "ASCENDING")).upper() == "DESCENDING"
            kind = props.get(name, {}).get("type", "string")
            rows.sort(
                key=lambda r: (_sort_key(r.properties.get(name), kind), _id_key(r.id)),
                reverse=descending,
            )
        else:
            rows.sort(key=lambda r: _id_key(r.id))
        end = min(after + limit, cap, len(rows))
        page = rows[after:end]
        out: dict[str, Any] = {
            "total": len(rows),
            "results": [r.shape(object_type, body.get("properties")) for r in page],
        }
        if end < len(rows) and end < cap:
            out["paging"] = {"next": {"after": str(end)}}
        return out


# Kept as the primary record has them whatever the merged one holds: the record's own
# identity and times, which the merge sets itself.
_MERGE_OWN = ("hs_object_id", "hs_merged_object_ids", "email")
_FUNNEL = _ENUMS["lifecyclestage"].split()


def _merged_values(
    object_type: str, primary: Mapping[str, str], merged: Mapping[str, str], computed: set[str]
) -> dict[str, str]:
    """The properties of a merged record, by HubSpot's "Merge records" article: the
    primary record's values win, and where it has none (null or empty) the merged
    record's value is used, so a lead's score lands on the customer it was merged into;
    the contact's email stays the primary's, and the lifecycle stage furthest down the
    funnel is kept (a lead merged into a customer stays a customer). Articles before 2024
    said "the most recent value of each property": either way a value of either record
    may end on the kept one. Values HubSpot computes (read-only: a deal's stage times)
    are its own to set, not taken."""
    own = {*_MERGE_OWN, *computed, CREATED_PROPERTY[object_type], MODIFIED_PROPERTY[object_type]}
    out = dict(primary)
    for name, value in merged.items():
        if name not in own and value not in (None, "") and out.get(name) in (None, ""):
            out[name] = value
    stages = [s for s in (primary.get("lifecyclestage"), merged.get("lifecyclestage")) if s]
    if object_type == "contacts" and stages:
        out["lifecyclestage"] = max(stages, key=lambda s: _FUNNEL.index(s) if s in _FUNNEL else -1)
    return out


def _contact_company(
    from_type: str, from_id: str, to_type: str, to_id: str
) -> tuple[str, str] | None:
    """(contact id, company id) of a contact-company link, either way round; else None."""
    if (from_type, to_type) == ("contacts", "companies"):
        return from_id, to_id
    if (from_type, to_type) == ("companies", "contacts"):
        return to_id, from_id
    return None


def _id_key(rid: str) -> tuple[int, str]:
    return (int(rid), "") if rid.isdigit() else (0, rid)


def _sort_key(value: str | None, kind: str) -> tuple[int, Any]:
    if value is None:
        return (1, 0)
    try:
        if kind in ("datetime", "date"):
            return (0, parse_time_ms(value))
        if kind == "number":
            return (0, float(value))
    except ValueError:
        pass
    return (0, value.lower())


def _matches(record: Record, filters: list[Mapping[str, Any]], props: Mapping[str, Any]) -> bool:
    for f in filters:
        name, op = f["propertyName"], str(f["operator"]).upper()
        kind = props.get(name, {}).get("type", "string")
        raw = record.properties.get(name)
        if op == "HAS_PROPERTY":
            ok = raw not in (None, "")
        elif op == "NOT_HAS_PROPERTY":
            ok = raw in (None, "")
        elif raw in (None, ""):
            ok = op in ("NEQ", "NOT_IN", "NOT_CONTAINS_TOKEN")
        elif op in ("IN", "NOT_IN"):
            values = {str(v).lower() for v in f.get("values") or []}
            ok = (raw.lower() in values) == (op == "IN")
        elif op in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
            token = str(f.get("value", "")).lower().strip("*")
            ok = (token in raw.lower()) == (op == "CONTAINS_TOKEN")
        else:
            have = _sort_key(raw, kind)[1]
            want = _sort_key(str(f.get("value")), kind)[1]
            if op == "BETWEEN":
                high = _sort_key(str(f.get("highValue")), kind)[1]
                ok = want <= have <= high
            else:
                ok = {
                    "EQ": have == want,
                    "NEQ": have != want,
                    "LT": have < want,
                    "LTE": have <= want,
                    "GT": have > want,
                    "GTE": have >= want,
                }[op]
        if not ok:
            return False
    return True


def _check_filter_limits(groups: list[Mapping[str, Any]]) -> None:
    per_group = [len(g.get("filters") or []) for g in groups]
    if len(groups) > 5 or any(n > 10 for n in per_group) or sum(per_group) > 25:
        raise ApiError(
            400,
            "Too many filters: at most 5 filterGroups, 10 filters in each and 25 in total.",
            "VALIDATION_ERROR",
        )


def _check_value(spec: Mapping[str, Any], value: str) -> tuple[str, str] | None:
    kind = spec["type"]
    if kind == "number":
        try:
            float(value)
        except ValueError:
            return "INVALID_FLOAT", f"{value} was not a valid number."
    elif kind == "bool" and value.lower() not in ("true", "false"):
        return "INVALID_BOOLEAN", f"{value} was not a valid boolean."
    elif kind == "enumeration":
        allowed = {o["value"] for o in spec["options"]}
        chosen = value.split(";") if spec["fieldType"] == "checkbox" else [value]
        bad = [v for v in chosen if v not in allowed]
        if bad:
            return "INVALID_OPTION", (
                f"{bad[0]} was not one of the allowed options: "
                + ", ".join(
                    f"[label: {o['label']!r} value: {o['value']!r}]" for o in spec["options"]
                )
            )
    elif kind in ("date", "datetime"):
        try:
            ms = parse_time_ms(value)
        except ValueError:
            return "INVALID_DATE", f"{value} was not a valid date."
        if kind == "date" and ms % 86_400_000 != 0:
            return "INVALID_DATE", f"{value} is not at midnight UTC."
    return None


def _invalid(name: str, value: Any, error: str, message: str) -> dict[str, Any]:
    return {
        "isValid": False,
        "message": message,
        "error": error,
        "name": name,
        "localizedErrorMessage": message,
    }


def _json_list(items: list[dict[str, Any]]) -> str:
    import json

    return json.dumps(items, separators=(",", ":"))


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _float(value: str | None) -> float | None:
    try:
        return None if value in (None, "") else float(value)
    except ValueError:
        return None


def property_shape(
    body: Mapping[str, Any], object_type: str, groups: Mapping[str, Any]
) -> dict[str, Any]:
    """Validate a PropertyCreate the way HubSpot does and return the stored Property."""
    for required in ("name", "label", "type", "fieldType", "groupName"):
        if not body.get(required):
            raise ApiError(400, f"Property {required} is required.", "VALIDATION_ERROR")
    kind, field_type, name = body["type"], body["fieldType"], str(body["name"])
    if kind not in _FIELD_TYPES:
        raise ApiError(
            400,
            f"Invalid type {kind!r}: allowed are {', '.join(_FIELD_TYPES)}.",
            "VALIDATION_ERROR",
        )
    if field_type not in _FIELD_TYPES[kind]:
        raise ApiError(
            400, f"Field type {field_type!r} is not valid for type {kind!r}.", "VALIDATION_ERROR"
        )
    if not name.replace("_", "").isalnum() or name != name.lower() or name[0].isdigit():
        raise ApiError(
            400,
            f"Property name {name!r} must be lower case letters, digits and _.",
            "VALIDATION_ERROR",
        )
    if body["groupName"] not in groups:
        raise ApiError(
            400, f"Property group {body['groupName']} does not exist.", "VALIDATION_ERROR"
        )
    options = [
        {
            "label": o["label"],
            "value": o["value"],
            "hidden": bool(o.get("hidden", False)),
            "displayOrder": int(o.get("displayOrder", i)),
            "description": o.get("description", ""),
        }
        for i, o in enumerate(body.get("options") or [])
    ]
    if kind == "enumeration" and not options and field_type != "booleancheckbox":
        raise ApiError(400, "Enumeration properties need at least one option.", "VALIDATION_ERROR")
    stamp = iso_ms(now_ms())
    return {
        "name": name,
        "label": body["label"],
        "type": kind,
        "fieldType": field_type,
        "groupName": body["groupName"],
        "description": body.get("description", ""),
        "options": options,
        "displayOrder": int(body.get("displayOrder", -1)),
        "hidden": bool(body.get("hidden", False)),
        "formField": bool(body.get("formField", False)),
        "hubspotDefined": False,
        "calculated": False,
        "externalOptions": False,
        "hasUniqueValue": bool(body.get("hasUniqueValue", False)),
        "createdAt": stamp,
        "updatedAt": stamp,
        "archived": False,
        "modificationMetadata": {
            "archivable": True,
            "readOnlyDefinition": False,
            "readOnlyValue": False,
        },
    }
