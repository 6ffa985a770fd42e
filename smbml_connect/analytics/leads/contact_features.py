"""Contact features as of a moment, so a lead model never sees its own answer.

CRM totals ("email opens: 40") are counted up to today, and customers keep engaging
after they buy, so a model trained on totals learns "engaged because a customer" and
fails on new leads. Here every feature is counted from timestamped activities before a
snapshot time. Training uses landmark snapshots: each past contact is looked at 0, 3,
7, ... days after it was created, while it was still not a customer, and labelled by
whether it converted within the horizon after that moment. Scoring looks at today's
open leads the same way, so training and scoring rows mean the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from smbml_connect.analytics.shared.tabular import Phrase
from smbml_connect.errors import DataValidationError
from smbml_connect.sales import is_sale
from smbml_connect.value_words import LEAD_SOURCE_LABELS, stage_label

__all__ = [
    "CONTACT_PHRASES",
    "DEAL_STAGE",
    "LANDMARK_DAYS",
    "UNDATED_LACKS",
    "ContactFrames",
    "closed_stages",
    "contact_snapshot",
    "conversion_times",
    "deals_per_contact",
    "gave_everything_back",
    "has_stage_history",
    "lead_scoring_frame",
    "lead_training_frame",
    "stepped_back",
    "undated_lacks",
    "undated_words",
]

LANDMARK_DAYS = (0, 3, 7, 14, 30, 60, 90, 180, 365)
CUSTOMER_STAGES = frozenset({"customer", "evangelist"})
LABELS = ("customer", "order", "won_deal")


# What a customer lacks when it is left out of the lead model, and what would date it.
UNDATED_LACKS = (
    "no order, won deal or date of becoming a customer (a column such as 'Became a "
    "Customer Date' or 'Converted Date') to date their conversion"
)


# ... under the other labels, where only an order (or only a won deal) dates it.
_LACKS = {
    "customer": UNDATED_LACKS,
    "order": "no order in the orders read to date when they bought, though their customer "
    "stage (a CRM's, or a customers export's order count) says they did",
    "won_deal": "no won deal to date their conversion, though their customer stage says "
    "they are a customer",
}


def undated_lacks(label: str = "customer") -> str:
    """What an undated customer lacks under ``label`` (what would date their conversion)."""
    return _LACKS.get(label, UNDATED_LACKS)


def undated_words(count: int, label: str = "customer") -> str:
    """Why customers were left out of the lead model: with nothing that dates a conversion
    under ``label``, when they converted is not known."""
    who, has = ("1 customer", "has") if count == 1 else (f"{count:,} customers", "have")
    return f"{who} {has} {undated_lacks(label)}"


_KNOWN_KINDS = {  # activity kind -> (feature name, phrase)
    "page_view": ("page_views", Phrase("Viewed {n} pages", "Viewed 1 page", "No page views yet")),
    # Opens, clicks and forms are counted as events (an email opened twice is two opens:
    # a CRM logs each, and a file's rows are the same), so the words count times.
    "email_open": ("emails_opened", Phrase("Opened our emails {n} times", "Opened our emails once", "No emails opened")),
    "email_click": ("emails_clicked", Phrase("Clicked in our emails {n} times", "Clicked in our emails once", "No email clicks")),
    "form_submission": ("forms_filled", Phrase("Filled in our forms {n} times", "Filled in our forms once", "No forms filled in")),
    "meeting": ("meetings", Phrase("Had {n} meetings", "Had 1 meeting", "No meeting yet")),
    "call": ("calls", Phrase("Had {n} calls", "Had 1 call", "No calls yet")),
    "email": ("emails", Phrase("{n} emails exchanged", "1 email exchanged", "No emails exchanged")),
    # HubSpot's engagements (connectors/hubspot/engagements.py): what the contact did
    "call_attempt": ("calls_unanswered", Phrase("{n} calls not answered", "1 call not answered", "No unanswered calls")),
    "email_sent": ("emails_sent", Phrase("Was sent {n} emails", "Was sent 1 email", "No emails sent yet")),
    "email_received": ("emails_received", Phrase("Wrote {n} emails", "Wrote 1 email", "No emails from them yet")),
    "meeting_missed": ("meetings_missed", Phrase("Missed {n} meetings", "Missed 1 meeting", "No missed meetings")),
    "note": ("notes", Phrase("{n} notes logged about them", "1 note logged about them", "No notes logged")),
    "message": ("messages", Phrase("{n} messages exchanged", "1 message exchanged", "No messages yet")),
}  # fmt: skip
# What the business did towards a contact, not what the contact did (a CRM's engagements,
# rows with an id): counted as kinds of their own, not as the contact's being active.
OUTREACH_KINDS = frozenset({"call_attempt", "email_sent", "note", "meeting_missed"})


def activity_kinds(activities: pd.DataFrame) -> pd.Series:
    kinds = activities["kind"].astype(object).fillna("other").str.strip().str.lower()
    return kinds.str.replace(" ", "_")


def contacts_own(activities: pd.DataFrame) -> pd.DataFrame:
    """The activities that are the contact's doing: not a CRM engagement of the business's
    (a voicemail left, an email sent, a note written). A file's rows (no id) are all the
    contact's, whatever their words ("Note" in a file may be anything)."""
    if "activity_id" not in activities.columns or activities.empty:
        return activities
    engaged = activities["activity_id"].astype(object).fillna("").astype(str).str.strip() != ""
    outreach = activity_kinds(activities).isin(OUTREACH_KINDS) & engaged
    return activities[~outreach.to_numpy()]


DEAL_STAGE = "deal_stage"  # the feature: the stage of the contact's furthest open deal
UNKNOWN_STAGE = "(stage unknown)"  # an open deal with no stage entered by the moment scored
_SPOKEN_SOURCES = (
    "referral",
    "organic_search",
    "paid_search",
    "social",
    "email",
    "event",
    "direct",
)
CONTACT_PHRASES: dict[str, Phrase] = {
    "lead_source": Phrase(
        "Came from {value}",
        missing="Lead source unknown",
        values={
            "referral": "Came from a referral",
            "organic_search": "Came from organic search",
            "paid_search": "Came from a paid search ad",
            "social": "Came from social media",
            "email": "Came from an email campaign",
            "event": "Met at an event",
            "direct": "Came to the site directly",
            # the others, and HubSpot's own values (ORGANIC_SEARCH) as a file may hold them
            **{
                c: f"Came from: {v}"
                for k, v in LEAD_SOURCE_LABELS.items()
                for c in (k, k.upper())
                if c not in _SPOKEN_SOURCES
            },
        },
    ),
    "country": Phrase("Based in {value}", missing="Country unknown"),
    "industry": Phrase("Industry: {value}", missing="Industry unknown"),
    "has_company": Phrase("Has a company name", zero="No company name"),
    "days_since_created": Phrase("Lead for {n} days", "Lead for 1 day", "New lead today"),
    "days_since_last_activity": Phrase(
        "Last active {n} days ago", "Last active yesterday", "Active today", "No activity yet"
    ),
    "activities_last_7_days": Phrase(
        "{n} actions in the last week", "1 action in the last week", "Nothing in the last week"
    ),
    "open_deals": Phrase("{n} open deals", "Has an open deal", "No open deal"),
    "lost_deals": Phrase("Lost {n} deals before", "Lost a deal before", "No lost deals"),
    DEAL_STAGE: Phrase(
        "Has a deal at {value}",
        missing="No deal in progress",
        values={UNKNOWN_STAGE: "Has a deal, stage unknown"},
    ),
    **{name: phrase for name, phrase in _KNOWN_KINDS.values()},
}
_STATIC = ("lead_source", "country", "industry")
_SHIFT = np.int64(1) << 35  # room for seconds since 1970 well past 2100


@dataclass
class ContactFrames:
    """A feature frame plus what was left out and why, for the model card."""

    frame: pd.DataFrame
    notes: list[str] = field(default_factory=list)


def _utc(series: pd.Series) -> pd.Series:
    return pd.to_datetime(series, utc=True)


def deals_per_contact(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The deals once per contact on each: its own ``contact_id`` and every other contact
    the associations table links it to (a B2B deal's buyer beside its decision maker).

    A deal names one contact; its others, customers once it is won, were scored as cold
    open leads, and a contact on an open deal had no open deal. Each added row is the
    deal's own row with that contact in ``contact_id``."""
    deals = tables["deals"]
    links = tables.get("associations")
    if links is None or links.empty or deals.empty:
        return deals
    linked = links[links["from_type"].eq("deal") & links["to_type"].eq("contact")]
    pairs = pd.DataFrame({"_deal": linked["from_id"].astype(str).to_numpy(),
                          "contact_id": linked["to_id"].astype(str).to_numpy()})  # fmt: skip
    own = set(zip(deals["deal_id"].astype(str), deals["contact_id"].astype(str), strict=True))
    pairs = pairs[
        [pair not in own for pair in zip(pairs["_deal"], pairs["contact_id"], strict=True)]
    ]
    if pairs.empty:
        return deals
    first = deals.drop_duplicates("deal_id").drop(columns="contact_id")
    more = first.assign(_deal=first["deal_id"].astype(str)).merge(
        pairs.drop_duplicates(), on="_deal"
    )
    return pd.concat([deals, more.drop(columns="_deal")[deals.columns]], ignore_index=True)


def conversion_times(
    tables: dict[str, pd.DataFrame], label: str = "customer"
) -> tuple[pd.Series, set[str]]:
    """When each contact became a success, and who did with no date to place it.

    customer: a counted order, a won deal, the date the CRM says the contact became a
    customer (``converted_at``: HubSpot's "Became a Customer Date", Salesforce's
    "Converted Date"), whichever came first, or a customer lifecycle stage with none of
    those (undated); order: a counted order; won_deal: a won deal. Orders that are not
    sales (``sales.is_sale``: cancelled, refunded, failed, ...) do not count. A CRM of
    contacts alone (a marketing list, no deals or orders) dates its customers only so.

    Under every label a contact in a customer stage that nothing dates is undated: done,
    never an open lead, and left out of training. A Shopify or WooCommerce customers
    export sets that stage from its order count, so under ``order`` a person it says
    ordered twice was scored as one who had not ordered yet (review54 item 5); a CRM's
    customer under ``won_deal`` is no open lead either.
    """
    if label not in LABELS:
        raise DataValidationError(f"lead label must be one of {', '.join(LABELS)}, not {label!r}")
    moments = []
    if label in ("customer", "order"):
        orders = tables["orders"]
        counted = orders[is_sale(orders).to_numpy()]
        moments.append(counted[["contact_id", "ordered_at"]].set_axis(["contact_id", "at"], axis=1))
    if label in ("customer", "won_deal"):  # every contact on a won deal is its customer
        deals = deals_per_contact(tables)
        won = deals[deals["is_won"].fillna(False).astype(bool)]
        at = _utc(won["closed_at"]).fillna(_utc(won["close_date"]))
        moments.append(pd.DataFrame({"contact_id": won["contact_id"], "at": at}))
    if label == "customer" and "converted_at" in tables["contacts"].columns:
        said = tables["contacts"][["contact_id", "converted_at"]].dropna()
        if len(said):
            moments.append(said.set_axis(["contact_id", "at"], axis=1))
    events = pd.concat(moments, ignore_index=True).dropna()
    events["at"] = _utc(events["at"])
    first = events.groupby("contact_id")["at"].min()
    contacts = tables.get("contacts")
    if contacts is None or "lifecycle_stage" not in contacts.columns:
        return first, set()
    stage = contacts["lifecycle_stage"].fillna("").str.lower()
    customers = set(contacts.loc[stage.isin(CUSTOMER_STAGES), "contact_id"])
    undated = customers - set(first.index)
    return first, undated - gave_everything_back(tables, undated)


def gave_everything_back(tables: dict[str, pd.DataFrame], who: set[str]) -> set[str]:
    """Of ``who``, those a shop's customers export counts (``orders_count``: Shopify's Total
    Orders, WooCommerce's Orders) whose every order read is no sale (refunded in full,
    cancelled, ...), with no more orders counted than read: they bought and gave it all
    back, so they are no customer, as no customer model counts them one. One with more
    orders counted than read bought outside the export read (filtered by date): still a
    customer. A stage with no count (a CRM's own) is the CRM's word and is kept."""
    contacts = tables.get("contacts")
    if not who or contacts is None or "orders_count" not in contacts.columns:
        return set()
    counts = contacts.drop_duplicates("contact_id").set_index("contact_id")["orders_count"]
    counts = pd.to_numeric(counts, errors="coerce").reindex(sorted(who)).dropna()
    orders = tables["orders"]
    mine = orders[orders["contact_id"].isin(counts.index)].drop_duplicates("order_id")
    if counts.empty or mine.empty:
        return set()
    read = pd.DataFrame({"contact_id": mine["contact_id"].to_numpy(),
                         "sale": is_sale(mine).to_numpy()}).groupby("contact_id")["sale"]  # fmt: skip
    done = ~read.any() & (read.size() >= counts.reindex(read.size().index))
    return set(done.index[done.to_numpy()])


def _codes(ids: pd.Series, universe: pd.Index) -> np.ndarray:
    return pd.Categorical(ids.astype(object), categories=universe).codes.astype("int64")


def _seconds(times: pd.Series) -> np.ndarray:
    stamps = _utc(times).astype("datetime64[ns, UTC]")
    return (stamps.astype("int64") // 1_000_000_000).to_numpy(dtype="int64")


def _sorted_keys(frame: pd.DataFrame, column: str, universe: pd.Index) -> np.ndarray:
    codes = _codes(frame["contact_id"], universe)
    keep = codes >= 0
    return np.sort(codes[keep] * _SHIFT + _seconds(frame[column])[keep])


def contact_snapshot(tables: dict[str, pd.DataFrame], pairs: pd.DataFrame) -> pd.DataFrame:
    """Features of each (contact_id, at) pair, counted from what happened before `at`.

    One pass for any number of pairs: activities become sorted integer keys (contact
    code, seconds) and every count is the difference of two binary searches.
    """
    contacts = tables["contacts"].drop_duplicates("contact_id").set_index("contact_id")
    universe = pd.Index(contacts.index.astype(object))
    who = _codes(pairs["contact_id"], universe)
    moment = _utc(pairs["at"]).reset_index(drop=True)
    now = _seconds(moment)
    upper, start = who * _SHIFT + now, who * _SHIFT
    mine = contacts.reindex(pairs["contact_id"].astype(object).to_numpy())
    out = pd.DataFrame(index=pairs.index)
    for column in _STATIC:
        out[column] = mine[column].to_numpy()
    out["has_company"] = mine["company"].notna().astype(float).to_numpy()
    created = _utc(mine["created_at"]).reset_index(drop=True).fillna(moment)
    age = ((moment - created).dt.total_seconds() / 86400).clip(lower=0).round(0)
    out["days_since_created"] = age.to_numpy()
    activities = tables["activities"]
    kinds = activity_kinds(activities)
    # "Last active" and "actions in the last week" are what the contact did: a voicemail
    # the rep left or a note the rep wrote is not the lead being active (own counts below)
    everything = _sorted_keys(contacts_own(activities), "occurred_at", universe)
    before = np.searchsorted(everything, upper, side="left")
    first = np.searchsorted(everything, start, side="left")
    week_ago = np.searchsorted(everything, upper - 7 * 86400, side="left")
    out["activities_last_7_days"] = before - np.maximum(week_ago, first)
    if len(everything):
        last = np.where(before > first, everything[np.maximum(before - 1, 0)] % _SHIFT, -1)
    else:  # a source without timestamped activities (most sheets), or only the business's
        last = np.full(len(now), -1, dtype="int64")
    out["days_since_last_activity"] = np.where(last >= 0, np.floor((now - last) / 86400), np.nan)
    # every kind whose words are known, and the eight commonest of the others (a file's own)
    counted = kinds.value_counts().index
    known = [k for k in counted if k in _KNOWN_KINDS]
    for kind in [*known, *[k for k in counted if k not in _KNOWN_KINDS][:8]]:
        name = _KNOWN_KINDS.get(kind, (f"{kind}_count", None))[0]
        keys = _sorted_keys(activities[(kinds == kind).to_numpy()], "occurred_at", universe)
        out[name] = np.searchsorted(keys, upper) - np.searchsorted(keys, start)
    deals = deals_per_contact(tables)  # a deal counts for each contact on it
    if len(deals):
        never = pd.Timestamp("2200-01-01", tz="UTC")
        opened = deals.assign(at=_utc(deals["created_at"]).fillna(never))
        closed = deals.assign(at=_utc(deals["closed_at"]).fillna(never))
        lost = closed[~deals["is_won"].fillna(False).astype(bool).to_numpy()]
        counts = {}
        for name, frame in (("opened", opened), ("closed", closed), ("lost", lost)):
            keys = _sorted_keys(frame, "at", universe)
            counts[name] = np.searchsorted(keys, upper) - np.searchsorted(keys, start)
        out["open_deals"] = counts["opened"] - counts["closed"]
        out["lost_deals"] = counts["lost"]
        history = tables.get("deal_stages")
        if has_stage_history(history):
            pipelines = tables.get("deal_pipeline_stages")
            out[DEAL_STAGE] = _open_deal_stage(
                deals, history, pairs["contact_id"], moment, pipelines
            )
    return out


def has_stage_history(history: pd.DataFrame | None) -> bool:
    """Whether ``deal_stages`` is a history, most deals with more than one stage entered,
    not just each deal's current stage (a CRM read without its per-stage entry times):
    there a past snapshot knows a stage only for deals still open today, so training
    would read nearly every open deal as "stage unknown", and a stage known then as "did
    not convert". One deal with two rows was the test, and a HubSpot store upgraded with
    a few deals re-read since passed it while the rest had their current stage only."""
    if history is None or history.empty:
        return False
    return bool((history["deal_id"].value_counts() >= 2).mean() >= 0.5)


def closed_stages(
    stages: pd.Series,
    pipelines: pd.DataFrame | None = None,
    deals: pd.DataFrame | None = None,
    history: pd.DataFrame | None = None,
) -> pd.Series:
    """Whether each stage closes a deal: as its pipeline says (``deal_pipeline_stages``'
    ``is_closed``, read from the CRM) where the store knows it, since a portal's own
    closed stages have ids like "1234567"; else by HubSpot's default ids ("closedwon",
    "closedlost"), or, given ``deals``, a stage where closed deals sit and no open one
    does (a portal whose pipelines could not be read: its "1234568" was read as open, so
    a won deal's earlier snapshots carried its winning stage). With ``history``, only a
    stage no deal ever left for another: a CRM that keeps a won deal at its last open
    stage (Pipedrive's "Negotiation" with status won) has that stage left by other deals."""
    text = stages.astype(str).str.strip()
    by_id = text.str.lower().str.startswith("closed")
    if deals is not None and not deals.empty and {"stage", "is_closed"} <= set(deals.columns):
        shut = deals["is_closed"].fillna(False).astype(bool)
        held = deals["stage"].astype(str).str.strip()
        ends = set(held[shut]) - set(held[~shut])
        if history is not None and not history.empty:
            steps = history.assign(at=_utc(history["entered_at"])).sort_values("at")
            later = steps.groupby("deal_id")["stage"].shift(-1).notna()
            ends -= set(steps.loc[later.to_numpy(), "stage"].astype(str).str.strip())
        by_id |= text.isin(ends)
    if pipelines is None or pipelines.empty or "is_closed" not in pipelines:
        return by_id
    known = pipelines[pipelines["is_closed"].notna() & pipelines["stage"].notna()]
    said = text.map(
        dict(zip(known["stage"].astype(str), known["is_closed"].astype(bool), strict=True))
    )
    return said.where(said.notna(), by_id).astype(bool)


def stepped_back(history: pd.DataFrame, pipelines: pd.DataFrame | None) -> pd.Series:
    """Per deal, when it last went back to an earlier stage of its pipeline (by the
    pipeline's display order), for deals that did. A CRM that keeps each stage's latest
    entry only (HubSpot's ``hs_v2_date_entered_<stage>``) rewrites a stage's entry time
    when a deal returns to it, so the deal's history before then is not what was known
    then: its earlier snapshots would show no stage, or one it had already left, because
    of what happened later (a step back, often on the way to losing)."""
    if history.empty or pipelines is None or pipelines.empty or "display_order" not in pipelines:
        return pd.Series(dtype="datetime64[ns, UTC]")
    order = dict(zip(pipelines["stage"].astype(str), pipelines["display_order"], strict=True))
    rows = history.assign(
        at=_utc(history["entered_at"]), rank=history["stage"].astype(str).map(order)
    ).dropna(subset=["at", "rank"])
    rows = rows.sort_values(["deal_id", "at"])
    highest = rows.groupby("deal_id")["rank"].cummax()
    back = rows[rows["rank"] < highest]
    return back.groupby(back["deal_id"].astype(str))["at"].max()


def _open_deal_stage(
    deals: pd.DataFrame,
    history: pd.DataFrame,
    contact: pd.Series,
    moment: pd.Series,
    pipelines: pd.DataFrame | None = None,
) -> np.ndarray:
    """The stage (its label) of each contact's furthest open deal at each moment, or None.

    A won deal makes the contact a customer, so how far along its open deal is says much
    about whether a lead converts; "open_deals" alone could not tell a first meeting from a
    contract sent. Only what was known at the moment counts: deals opened by then and not
    yet closed, at the stage they had entered by then (`deal_stages`). Furthest means the
    most stages entered (pipelines are walked in order; a custom one's ids say nothing of
    their order), the latest entry breaking ties.
    """
    ns = "datetime64[ns, UTC]"  # merge_asof wants one resolution on both sides
    rows = pd.DataFrame(
        {
            "contact_id": contact.astype(object).to_numpy(),
            "at": _utc(moment).astype(ns).to_numpy(),
            "row": np.arange(len(moment)),
        }
    )
    never = pd.Timestamp("2200-01-01", tz="UTC")
    mine = pd.DataFrame(
        {
            "deal_id": deals["deal_id"].astype(str).astype(object).to_numpy(),
            "contact_id": deals["contact_id"].astype(object).to_numpy(),
            "opened": _utc(deals["created_at"]).fillna(never).to_numpy(),
            "closed": _utc(deals["closed_at"]).fillna(never).to_numpy(),
        }
    )
    for column in ("opened", "closed"):
        mine[column] = _utc(mine[column]).astype(ns)
    rows["at"] = _utc(rows["at"]).astype(ns)
    joined = rows.merge(mine, on="contact_id")
    joined = joined[(joined["opened"] <= joined["at"]) & (joined["at"] < joined["closed"])]
    out = np.full(len(moment), None, dtype=object)
    if joined.empty:
        return out
    # Closed stages stay in: a deal whose history says "closed lost" at the moment was not
    # open then, though a later reopening (or a closed flag without a close date) leaves
    # its closed_at empty.
    stages = history.assign(
        entered_at=_utc(history["entered_at"]).astype(ns),
        deal_id=history["deal_id"].astype(str).astype(object),
    ).dropna(subset=["entered_at"])
    stages = stages.sort_values("entered_at")
    shut = closed_stages(stages["stage"], pipelines, deals, history)
    stages["passed"] = (~shut).astype(int).groupby(stages["deal_id"]).cumsum().astype(float) - 1
    current = pd.merge_asof(
        joined.sort_values("at"), stages[["deal_id", "stage", "entered_at", "passed"]],
        left_on="at", right_on="entered_at", by="deal_id", allow_exact_matches=True,
    )  # fmt: skip
    current = current[~closed_stages(current["stage"], pipelines, deals, history).to_numpy()]
    if current.empty:
        return out
    current["passed"] = current["passed"].fillna(-1.0)
    current = current.sort_values(["row", "passed", "entered_at"], na_position="first")
    furthest = current.drop_duplicates("row", keep="last")
    words = furthest["stage"].map(lambda s: stage_label(s) if isinstance(s, str) else None)
    out[furthest["row"].to_numpy()] = words.fillna(UNKNOWN_STAGE).to_numpy()
    return out


def lead_training_frame(
    tables: dict[str, pd.DataFrame],
    as_of: pd.Timestamp,
    horizon_days: int = 90,
    label: str = "customer",
) -> ContactFrames:
    """Landmark snapshots of past contacts, labelled by conversion within the horizon."""
    converted, undated = conversion_times(tables, label)
    contacts = tables["contacts"].drop_duplicates("contact_id")
    contacts = contacts[~contacts["contact_id"].isin(undated) & contacts["created_at"].notna()]
    created = _utc(contacts.set_index("contact_id")["created_at"])
    horizon = pd.Timedelta(days=horizon_days)
    converted = converted.reindex(created.index)
    pieces = []
    for days in LANDMARK_DAYS:
        moment = created + pd.Timedelta(days=days)
        observable = moment <= as_of - horizon
        still_open = converted.isna() | (converted > moment)
        keep = observable & still_open
        if keep.any():
            outcome = converted[keep].notna() & (converted[keep] <= moment[keep] + horizon)
            pieces.append(
                pd.DataFrame(
                    {
                        "contact_id": moment.index[keep],
                        "snapshot_at": moment[keep].to_numpy(),
                        "converted": outcome.to_numpy(),
                    }
                )
            )
    notes = []
    if undated:
        notes.append(f"{undated_words(len(undated), label)}, and were left out of training")
    if tables["activities"].empty:
        notes.append(
            "no timestamped activities: engagement totals were left out, because they "
            "include engagement after a contact converted"
        )
    if not pieces:
        return ContactFrames(
            pd.DataFrame(columns=["contact_id", "snapshot_at", "converted"]), notes
        )
    rows = pd.concat(pieces, ignore_index=True)
    rows["snapshot_at"] = _utc(rows["snapshot_at"])
    rewritten = _before_a_step_back(tables, rows)
    if rewritten.any():
        rows = rows[~rewritten].reset_index(drop=True)
        notes.append(
            f"{int(rewritten.sum()):,} snapshots of leads whose open deal later went back to "
            "an earlier stage were left out of training: the CRM keeps each stage's latest "
            "entry only, so their stage then is not known"
        )
    pairs = pd.DataFrame({"contact_id": rows["contact_id"], "at": rows["snapshot_at"]})
    return ContactFrames(pd.concat([rows, contact_snapshot(tables, pairs)], axis=1), notes)


def _before_a_step_back(tables: dict[str, pd.DataFrame], rows: pd.DataFrame) -> np.ndarray:
    """Which training snapshots see a contact's deal open before that deal went back to an
    earlier stage (`stepped_back`): its history then was rewritten by what came later, as
    the deal model's snapshots are (review: a step back often comes on the way to losing)."""
    out = np.zeros(len(rows), dtype=bool)
    history = tables.get("deal_stages")
    if history is None or rows.empty or not has_stage_history(history):
        return out
    back = stepped_back(history, tables.get("deal_pipeline_stages"))
    if back.empty:
        return out
    deals = deals_per_contact(tables).drop_duplicates(["deal_id", "contact_id"])
    deals = deals[deals["deal_id"].astype(str).isin(back.index)]
    never = pd.Timestamp("2200-01-01", tz="UTC")
    moved = pd.DataFrame({
        "contact_id": deals["contact_id"].to_numpy(),
        "opened": _utc(deals["created_at"]).to_numpy(),
        "closed": _utc(deals["closed_at"]).fillna(never).to_numpy(),
        "back": _utc(deals["deal_id"].astype(str).map(back)).to_numpy(),
    })  # fmt: skip
    at = rows[["contact_id", "snapshot_at"]].assign(row=np.arange(len(rows)))
    joined = at.merge(moved, on="contact_id")
    hit = (
        (joined["opened"] <= joined["snapshot_at"])
        & (joined["snapshot_at"] < joined["closed"])
        & (joined["snapshot_at"] < joined["back"])
    )
    out[joined.loc[hit.to_numpy(), "row"].to_numpy()] = True
    return out


def lead_scoring_frame(
    tables: dict[str, pd.DataFrame], as_of: pd.Timestamp, label: str = "customer"
) -> pd.DataFrame:
    """Today's open leads (not yet a success) as they look at `as_of`."""
    converted, undated = conversion_times(tables, label)
    contacts = tables["contacts"].drop_duplicates("contact_id")
    done = set(converted[converted <= as_of].index) | undated
    open_ids = contacts.loc[~contacts["contact_id"].isin(done), "contact_id"]
    pairs = pd.DataFrame({"contact_id": open_ids.to_numpy(), "at": as_of})
    return pd.concat([pairs[["contact_id"]], contact_snapshot(tables, pairs)], axis=1)
