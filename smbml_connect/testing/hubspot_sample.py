"""Put the sample business into an emulated HubSpot account, as a shop using HubSpot has it.

Ids become HubSpot's numeric ids; values become the strings HubSpot stores; links become
associations; each deal's stage history becomes its per-stage "date entered" properties;
its meetings become meeting engagements. Tests and benchmarks then pull it back through the official client and
compare with the sample's own tables.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from smbml_connect.sample import SampleBusiness
from smbml_connect.testing.hubspot_state import STAGE_ENTERED, CrmState, iso_ms

__all__ = ["SOURCE_TO_HUBSPOT", "IdMap", "load_sample", "synthetic_contacts"]

SOURCE_TO_HUBSPOT = {
    "referral": "REFERRALS",
    "organic_search": "ORGANIC_SEARCH",
    "paid_search": "PAID_SEARCH",
    "social": "SOCIAL_MEDIA",
    "email": "EMAIL_MARKETING",
    "event": "OFFLINE",
    "direct": "DIRECT_TRAFFIC",
}


@dataclass
class IdMap:
    """Sample id -> HubSpot id, per table."""

    ids: dict[str, dict[str, str]] = field(default_factory=dict)

    def __getitem__(self, table: str) -> dict[str, str]:
        return self.ids.setdefault(table, {})


def _ms(value: object) -> int | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return int(pd.Timestamp(value).timestamp() * 1000)


def _iso(value: object) -> str | None:
    ms = _ms(value)
    return None if ms is None else iso_ms(ms)


def _clean(value: object) -> object:
    if value is None or (not isinstance(value, str | bool) and pd.isna(value)):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def _discount_amount(quantity: object, price: object, share: object) -> float | None:
    """The money a share takes off a line (HubSpot's hs_total_discount is an amount)."""
    values = pd.to_numeric(pd.Series([quantity, price, share]), errors="coerce")
    if values.isna().any():
        return None
    return round(float(values[0] * values[1] * values[2]), 2)


def load_sample(state: CrmState, business: SampleBusiness) -> IdMap:
    """Every contact, deal, product, order and order line, with their associations."""
    t = business.tables
    ids = IdMap()
    for row in t["contacts"].itertuples(index=False):
        props = {
            "email": row.email,
            "firstname": row.first_name,
            "lastname": row.last_name,
            "company": row.company,
            "lifecyclestage": row.lifecycle_stage,
            "hs_analytics_source": SOURCE_TO_HUBSPOT.get(str(row.lead_source)),
            "country": row.country,
            "industry": row.industry,
            "createdate": _iso(row.created_at),
            "notes_last_updated": _iso(row.last_activity_at),
            "hs_analytics_num_page_views": row.page_views,
            "hs_analytics_num_visits": row.sessions,
            "hs_email_open": row.email_opens,
            "hs_email_click": row.email_clicks,
            "num_conversion_events": row.form_submissions,
            "hs_email_optout": None
            if pd.isna(row.marketing_consent)
            else not row.marketing_consent,
        }
        record = state.add(
            "contacts",
            {k: _clean(v) for k, v in props.items()},
            created_ms=_ms(row.created_at),
            updated_ms=_ms(row.updated_at),
        )
        ids["contacts"][row.contact_id] = record.id
    # Each stage a deal entered, as HubSpot keeps it: a property per stage, named by its id.
    entered: dict[str, dict[str, str | None]] = {}
    for step in t["deal_stages"].sort_values("entered_at").itertuples(index=False):
        entered.setdefault(str(step.deal_id), {})[STAGE_ENTERED + str(step.stage)] = _iso(
            step.entered_at
        )
    for row in t["deals"].itertuples(index=False):
        props = {
            "dealname": row.name,
            "amount": row.amount,
            "deal_currency_code": row.currency,
            "pipeline": row.pipeline,
            "dealstage": row.stage,
            "createdate": _iso(row.created_at),
            "closedate": _iso(row.closed_at if row.is_closed else row.close_date),
            "hubspot_owner_id": row.owner_id,
            **entered.get(str(row.deal_id), {}),
        }
        changed = max(x for x in (_ms(row.created_at), _ms(row.closed_at)) if x is not None)
        record = state.add(
            "deals",
            {k: _clean(v) for k, v in props.items()},
            created_ms=_ms(row.created_at),
            updated_ms=changed,
        )
        ids["deals"][row.deal_id] = record.id
        contact = ids["contacts"].get(str(row.contact_id))
        if contact:
            state.associate("deals", record.id, "contacts", contact)
    created = _ms(business.as_of - pd.Timedelta(days=1200))
    for row in t["products"].itertuples(index=False):
        props = {
            "name": row.name,
            "price": row.price,
            "hs_cost_of_goods_sold": row.unit_cost,
            "hs_sku": row.product_id,
            "description": row.category,
        }
        record = state.add("products", {k: _clean(v) for k, v in props.items()}, created_ms=created)
        ids["products"][row.product_id] = record.id
    for row in t["orders"].itertuples(index=False):
        props = {
            "hs_order_name": row.order_id,
            "hs_total_price": row.total,
            "hs_currency_code": row.currency,
            "hs_fulfillment_status": row.status,
            "hs_external_created_date": _iso(row.ordered_at),
        }
        stamp = _ms(row.ordered_at)
        record = state.add(
            "orders", {k: _clean(v) for k, v in props.items()}, created_ms=stamp, updated_ms=stamp
        )
        ids["orders"][row.order_id] = record.id
        contact = ids["contacts"].get(str(row.contact_id))
        if contact:
            state.associate("orders", record.id, "contacts", contact)
    ordered = t["orders"].set_index("order_id")["ordered_at"]
    for row in t["order_lines"].itertuples(index=False):
        props = {
            "name": row.product_id,
            "quantity": row.quantity,
            "price": row.unit_price,
            # HubSpot's total discount is money off the line, not the sample's share.
            "hs_total_discount": _discount_amount(row.quantity, row.unit_price, row.discount),
            "hs_product_id": ids["products"].get(str(row.product_id)),
        }
        stamp = _ms(ordered.get(row.order_id))
        record = state.add(
            "line_items",
            {k: _clean(v) for k, v in props.items()},
            created_ms=stamp,
            updated_ms=stamp,
        )
        ids["order_lines"][f"{row.order_id}/{row.line_no}"] = record.id
        order = ids["orders"].get(str(row.order_id))
        if order:
            state.associate("line_items", record.id, "orders", order)
    _meetings(state, business, ids)
    _marketing(state, business)
    return ids


def _meetings(state: CrmState, business: SampleBusiness, ids: IdMap) -> None:
    """The sample's meetings, as the meetings a rep logs in HubSpot."""
    activities = business.tables["activities"]
    for row in activities[activities["kind"] == "meeting"].itertuples(index=False):
        contact = ids["contacts"].get(str(row.contact_id))
        if not contact:
            continue
        stamp = _ms(row.occurred_at)
        props = {"hs_timestamp": _iso(row.occurred_at), "hs_meeting_outcome": "COMPLETED",
                 "hs_meeting_title": "Meeting"}  # fmt: skip
        record = state.add("meetings", props, created_ms=stamp, updated_ms=stamp)
        ids["meetings"][f"{row.contact_id}/{stamp}"] = record.id
        state.associate("meetings", record.id, "contacts", contact)


# The sample's marketing activities as HubSpot's email events and form submissions. Its
# page views HubSpot keeps per contact only (the web analytics events API is asked one
# contact at a time), so they reach the store as the contact's total alone.
EMAIL_EVENTS = {"email_open": "OPEN", "email_click": "CLICK"}


def _marketing(state: CrmState, business: SampleBusiness) -> None:
    """Opens and clicks as events of the newsletter sent to the contact's address, each
    form filled in as a submission of the shop's one form, with that address."""
    activities = business.tables["activities"]
    emails = business.tables["contacts"].set_index("contact_id")["email"]
    chosen = activities[activities["kind"].isin([*EMAIL_EVENTS, "form_submission"])]
    chosen = chosen.assign(email=chosen["contact_id"].map(emails)).dropna(subset=["email"])
    opened = int((business.as_of - pd.Timedelta(days=1200)).timestamp() * 1000)
    form = state.marketing.add_form("Contact us", opened)
    for row in chosen.itertuples(index=False):
        stamp = int(pd.Timestamp(row.occurred_at).timestamp() * 1000)
        if row.kind == "form_submission":
            state.marketing.add_submission(form, stamp, {"email": str(row.email)})
        else:
            state.marketing.add_email_event(str(row.email), EMAIL_EVENTS[row.kind], stamp)


def synthetic_contacts(
    state: CrmState, n: int, seed: int = 0, start_ms: int | None = None
) -> list[str]:
    """Many plain contacts for load tests; several share each last-modified millisecond."""
    rng = np.random.default_rng(seed)
    base = start_ms if start_ms is not None else 1_700_000_000_000
    stamps = base + np.sort(rng.integers(0, n * 20, size=n))  # ~20 ms apart, with ties
    out = []
    for i in range(n):
        record = state.add(
            "contacts",
            {
                "email": f"person{i}@example.com",
                "firstname": f"P{i}",
                "lastname": "Load",
                "lifecyclestage": "lead",
                "hs_analytics_num_page_views": int(rng.integers(0, 50)),
            },
            created_ms=int(stamps[i]),
            updated_ms=int(stamps[i]),
        )
        out.append(record.id)
    return out
