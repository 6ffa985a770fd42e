"""Deal win probabilities and the revenue forecast they add up to.

Closed deals teach the model, but a closed deal's stage ("closed lost") and age at
close are its answer. So, as for leads, each closed deal is looked at on landmark
days while it was still open: the stage it had reached then (from the stage
history), days in that stage, the owner's win rate over deals closed before that
day (never the deal itself), the contact's recent engagement. Open deals are scored
as they are today, which is the same question asked at a later day.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd

from smbml_connect.analytics.leads.contact_features import (
    closed_stages,
    contacts_own,
    has_stage_history,
    stepped_back,
)
from smbml_connect.analytics.leads.scoring import MIN_PER_CLASS, LeadScorer
from smbml_connect.analytics.shared.contract import check_fitted
from smbml_connect.analytics.shared.tabular import Kind, Phrase, format_number
from smbml_connect.business_zone import on_clock, wall_clock
from smbml_connect.errors import DataValidationError, NotEnoughDataError
from smbml_connect.money_words import money_text
from smbml_connect.value_words import DEAL_STAGE_LABELS, LEAD_SOURCE_LABELS

__all__ = [
    "DEAL_PHRASES",
    "DEAL_TIERS",
    "DEAL_TIER_TEXT",
    "NO_CLOSE_DATE",
    "DealWinModel",
    "currency_code",
    "deal_scoring_frame",
    "deal_snapshot",
    "deal_tier",
    "deal_training_frame",
    "expected_value",
    "in_currency",
    "pipeline_forecast",
    "worth_in_currency",
]

DEAL_LANDMARK_DAYS = (0, 7, 14, 30, 60, 90, 180)
REASONS = 3  # reasons shown per deal
# A deal's tier says how likely it is to be won, read straight off its chance (a rank
# against past deals put a 92% deal in tier C). Lowest chance in % for each tier.
DEAL_TIERS = (("A", 75), ("B", 50), ("C", 25))
DEAL_TIER_TEXT = "A = 75% or more, B = 50-74%, C = 25-49%, D = under 25%"
_PRIOR_DEALS = 5.0  # an owner's win rate is shrunk towards the team's as if by 5 deals
# The close month of an open deal without a close date: it is not due in any month, so it
# is neither overdue nor counted in this month; the pipeline gives it a row of its own.
NO_CLOSE_DATE = "No close date"
DEAL_PHRASES: dict[str, Phrase] = {
    "amount": Phrase("Worth {n}"),
    "pipeline": Phrase("In the {value} pipeline"),
    "stage": Phrase(
        "At stage: {value}",
        missing="Stage history unknown",
        # open stages only: a closed deal is not scored
        values={k: v for k, v in DEAL_STAGE_LABELS.items() if not k.startswith("closed")},
    ),
    "days_in_stage": Phrase("{n} days in this stage", "1 day in this stage", "Entered this stage today"),
    "days_open": Phrase("Open for {n} days", "Open for 1 day", "Opened today"),
    "stages_passed": Phrase("Moved through {n} stages", "Moved through 1 stage", "Not moved yet"),
    "contacts": Phrase("{n} contacts involved", "1 contact involved", "No contact linked"),
    "owner_win_rate": Phrase("Owner wins {n} of deals", missing="No owner named", percent=True),
    "owner_closed_deals": Phrase("Owner closed {n} deals before", "Owner closed 1 deal before", "Owner's first deal", missing="Owner's past deals unknown"),
    "month": Phrase("Month {n} of the year"),
    "contact_activity_30d": Phrase("Contact active {n} times in 30 days", "Contact active once in 30 days", "Contact quiet for 30 days"),
    "lead_source": Phrase(
        "Contact came from {value}",
        values={c: f"Contact came from: {v}" for k, v in LEAD_SOURCE_LABELS.items()
                for c in (k, k.upper())},
    ),
}  # fmt: skip
# A stage or pipeline is a category whatever its id looks like: a HubSpot pipeline made by
# the portal numbers its stages (1234567, 1234568 ...), and read as a quantity "At stage:
# 1,234,571" raised the chance, by the order HubSpot numbered the stages in.
DEAL_KINDS: dict[str, Kind] = {"stage": "category", "pipeline": "category"}


def _utc(series: pd.Series | Any) -> Any:
    stamps = pd.to_datetime(series, utc=True)
    return stamps.astype("datetime64[ns, UTC]") if isinstance(stamps, pd.Series) else stamps


def _owner_record(deals: pd.DataFrame, owners: pd.Series, moments: pd.Series) -> pd.DataFrame:
    """Each owner's wins and closed deals strictly before each moment; unknown (missing)
    for a deal with no owner. Owner-less deals are nobody's record: lumped as one owner
    "(none)", a file without owners read "Owner closed 646 deals before" (every deal the
    team closed) and "Owner wins 0.39 of deals" (the team's rate) on every deal."""
    closed = deals[deals["is_closed"].fillna(False).astype(bool) & deals["closed_at"].notna()]
    closed = closed.assign(closed_at=_utc(closed["closed_at"])).sort_values("closed_at")
    base = float(closed["is_won"].fillna(False).astype(bool).mean()) if len(closed) else 0.5
    wins = np.zeros(len(owners))
    count = np.zeros(len(owners))
    known = _owner_key(owners)
    owner_values = known.fillna("").to_numpy()
    moment_values = _utc(pd.Series(moments.to_numpy())).to_numpy()
    for owner, mine in closed.groupby(_owner_key(closed["owner_id"]), dropna=True):
        hit = owner_values == owner
        if not hit.any():
            continue
        times = mine["closed_at"].to_numpy()
        position = np.searchsorted(times, moment_values[hit], side="left")
        cumulative = np.concatenate([[0], np.cumsum(mine["is_won"].fillna(False).astype(bool))])
        wins[hit] = cumulative[position]
        count[hit] = position
    rate = (wins + _PRIOR_DEALS * base) / (count + _PRIOR_DEALS)
    none = known.isna().to_numpy()
    return pd.DataFrame(
        {
            "owner_win_rate": np.where(none, np.nan, rate),
            "owner_closed_deals": np.where(none, np.nan, count),
        }
    )


def _one_owner_unknown(reasons: list[str]) -> list[str]:
    """A deal's reasons with "no owner" said once: both owner columns are unknown when the
    deal has no owner, and "No owner named; Owner's past deals unknown" took two of its
    three reasons to say one thing."""
    said = DEAL_PHRASES["owner_win_rate"].missing or ""
    again = DEAL_PHRASES["owner_closed_deals"].missing or ""
    if not any(r.startswith(said) for r in reasons):
        return reasons
    return [r for r in reasons if not r.startswith(again)]


def _owner_key(owners: pd.Series) -> pd.Series:
    """Each deal's owner as text, missing when blank (" " or "" is no owner either)."""
    text = owners.astype("string").str.strip()
    return text.where(text.str.len().gt(0).fillna(False)).astype(object)


def deal_snapshot(
    tables: dict[str, pd.DataFrame], rows: pd.DataFrame, zone: Any = None
) -> pd.DataFrame:
    """Features of (deal_id, snapshot_at) pairs, from what was known at that moment; the
    month is the business's (``zone``'s; UTC when None)."""
    deals = tables["deals"].drop_duplicates("deal_id").set_index("deal_id")
    ids = rows["deal_id"].to_numpy()
    moment = _utc(rows["snapshot_at"]).reset_index(drop=True)
    me = deals.reindex(ids).reset_index()
    created = _utc(me["created_at"]).fillna(moment)
    out = pd.DataFrame(
        {
            "amount": pd.to_numeric(me["amount"], errors="coerce"),
            "pipeline": me["pipeline"],
            "days_open": ((moment - created).dt.total_seconds() // 86400).clip(lower=0),
            "month": wall_clock(moment, zone).dt.month.astype(float),
        }
    )
    history = tables.get("deal_stages", pd.DataFrame(columns=["deal_id", "stage", "entered_at"]))
    if not has_stage_history(history):  # current stages only: known for open deals alone
        history = history.iloc[0:0]
    pipelines = tables.get("deal_pipeline_stages")
    shut = closed_stages(history["stage"], pipelines, tables["deals"], history)
    history = history[~shut.to_numpy()]
    if not history.empty:
        joined = pd.DataFrame(
            {"deal_id": ids.astype(str), "at": moment, "row": np.arange(len(ids))}
        )
        steps = history.assign(entered_at=_utc(history["entered_at"])).sort_values("entered_at")
        steps["passed"] = steps.groupby("deal_id").cumcount().astype(float)
        steps["deal_id"] = steps["deal_id"].astype(str).astype(object)
        joined["deal_id"] = joined["deal_id"].astype(object)
        joined = joined.sort_values("at")
        current = pd.merge_asof(
            joined, steps, left_on="at", right_on="entered_at", by="deal_id",
            allow_exact_matches=True,
        ).set_index("row").sort_index()  # fmt: skip
        out["stage"] = current["stage"].to_numpy()
        in_stage = (current["at"] - current["entered_at"]).dt.total_seconds() // 86400
        out["days_in_stage"] = in_stage.to_numpy()
        out["stages_passed"] = current["passed"].to_numpy()
    links = tables["associations"]
    linked = links[links["from_type"].eq("deal") & links["to_type"].eq("contact")]
    people = pd.concat(
        [linked[["from_id", "to_id"]].set_axis(["deal_id", "contact_id"], axis=1),
         deals["contact_id"].dropna().reset_index()]
    ).drop_duplicates()  # fmt: skip
    out["contacts"] = pd.Series(ids).map(people.groupby("deal_id").size()).fillna(0).to_numpy()
    out = pd.concat([out, _owner_record(tables["deals"], me["owner_id"], moment)], axis=1)
    contacts = tables["contacts"].drop_duplicates("contact_id").set_index("contact_id")
    out["lead_source"] = me["contact_id"].map(contacts["lead_source"]).to_numpy()
    activity = tables["activities"]
    if not activity.empty:
        # the contact's doing, as the lead's "Last active": not the rep's outreach
        out["contact_activity_30d"] = _recent_activity(
            contacts_own(activity), me["contact_id"], moment
        )
    return out


def _recent_activity(activities: pd.DataFrame, contact: pd.Series, moment: pd.Series) -> np.ndarray:
    codes = {c: i for i, c in enumerate(pd.unique(contact.dropna()))}
    shift = np.int64(1) << 35
    mine = activities[activities["contact_id"].isin(codes)]
    epoch = pd.Timestamp("1970-01-01", tz="UTC")
    keys = np.sort(
        mine["contact_id"].map(codes).to_numpy(dtype="int64") * shift
        + ((_utc(mine["occurred_at"]) - epoch) // pd.Timedelta(seconds=1)).to_numpy(dtype="int64")
    )
    who = contact.map(codes).fillna(-1).to_numpy(dtype="int64")
    now = ((moment - epoch) // pd.Timedelta(seconds=1)).to_numpy(dtype="int64")
    counts = np.searchsorted(keys, who * shift + now) - np.searchsorted(
        keys, who * shift + now - 30 * 86400
    )
    return np.where(who >= 0, counts, np.nan)


def deal_tier(score: pd.Series) -> pd.Series:
    """The tier of each win chance in % (see DEAL_TIERS): monotonic in the chance."""
    tier = pd.Series("D", index=score.index, dtype=object)
    for name, lowest in reversed(DEAL_TIERS):
        tier[score >= lowest] = name
    return tier


def deal_training_frame(tables: dict[str, pd.DataFrame], as_of: pd.Timestamp) -> pd.DataFrame:
    """Closed deals at landmark ages while they were still open, labelled won or lost."""
    deals = tables["deals"].drop_duplicates("deal_id")
    closed = deals[
        deals["is_closed"].fillna(False).astype(bool)
        & deals["closed_at"].notna()
        & deals["created_at"].notna()
    ]
    closed = closed[_utc(closed["closed_at"]) <= as_of]
    created, closed_at = _utc(closed["created_at"]), _utc(closed["closed_at"])
    pieces = []
    for days in DEAL_LANDMARK_DAYS:
        moment = created + pd.Timedelta(days=days)
        keep = (moment < closed_at) | (days == 0)
        pieces.append(
            pd.DataFrame(
                {
                    "deal_id": closed.loc[keep, "deal_id"].to_numpy(),
                    "snapshot_at": moment[keep].to_numpy(),
                    "won": closed.loc[keep, "is_won"].fillna(False).astype(bool).to_numpy(),
                }
            )
        )
    # Landmarks past every deal's close are empty; pandas warns when concatenating those.
    rows = pd.concat([p for p in pieces if len(p)] or pieces[:1], ignore_index=True)
    history = tables.get("deal_stages")
    if history is not None and has_stage_history(history):
        # Before a deal's step back its history was rewritten by what came later.
        back = stepped_back(history, tables.get("deal_pipeline_stages"))
        since = rows["deal_id"].astype(str).map(back)
        rows = rows[~(_utc(rows["snapshot_at"]) < _utc(since)).fillna(False).to_numpy()]
        rows = rows.reset_index(drop=True)
    if rows.empty:
        return rows
    return pd.concat([rows, deal_snapshot(tables, rows, _zone(as_of))], axis=1)


def _zone(as_of: pd.Timestamp) -> Any:
    return as_of.tz if as_of.tzinfo else None


def deal_scoring_frame(tables: dict[str, pd.DataFrame], as_of: pd.Timestamp) -> pd.DataFrame:
    deals = tables["deals"].drop_duplicates("deal_id")
    open_deals = deals[~deals["is_closed"].fillna(False).astype(bool)]
    rows = pd.DataFrame({"deal_id": open_deals["deal_id"].to_numpy(), "snapshot_at": as_of})
    return pd.concat([rows, deal_snapshot(tables, rows, _zone(as_of))], axis=1)


def _none_to_learn_from(deals: pd.DataFrame, as_of: pd.Timestamp) -> str:
    """Why no closed deal can be learnt from: there is none, or those there are lack the
    dates that say how long they stayed open (a Zoho export's "Closing Date" and "Created
    Time" were not read, and 155 closed deals were called none)."""
    deals = deals.drop_duplicates("deal_id")
    closed = deals[deals["is_closed"].fillna(False).astype(bool)]
    n = len(closed)
    if not n:
        return "no closed deals to learn from: win rates need won and lost deals"
    lacks = [
        (int(closed[column].isna().sum()), words)
        for column, words in (("closed_at", "no close date"), ("created_at", "no created date"))
    ]
    lacks = [(m, words) for m, words in lacks if m]
    if not lacks:
        return (
            f"no deal closed by {as_of:%Y-%m-%d} to learn from: win rates need won and lost deals"
        )
    if all(m == n for m, _ in lacks):
        said = f"the {_deals(n, 'closed')} {'have' if n > 1 else 'has'} " + " and ".join(
            w for _, w in lacks
        )
    else:
        said = f"of the {_deals(n, 'closed')}, " + " and ".join(
            f"{m:,} {'have' if m > 1 else 'has'} {w}" for m, w in lacks
        )
    return f"{said}: how long a deal stayed open, which win rates learn from, cannot be told"


def _deals(n: int, outcome: str) -> str:
    return f"{n:,} {outcome} deal{'' if n == 1 else 's'}"


def _enough_deals(frame: pd.DataFrame, as_of: pd.Timestamp) -> None:
    """The scorer needs `MIN_PER_CLASS` rows of each outcome, and a closed deal gives one
    row per age it was still open at: said in deals, as the user counts them, with the
    rows they give (its own words would count rows: "12 won" for 3 won deals)."""
    won = frame.groupby("deal_id")["won"].first()
    rows = frame["won"].astype(bool)
    looks = {True: int(rows.sum()), False: int((~rows).sum())}
    if min(looks.values()) >= MIN_PER_CLASS:
        return
    ages = ", ".join(str(d) for d in DEAL_LANDMARK_DAYS)
    raise NotEnoughDataError(
        f"too few closed deals to learn from: {_deals(int(won.sum()), 'won')} and "
        f"{_deals(int((~won).sum()), 'lost')} closed by {as_of:%Y-%m-%d}. Each counts "
        f"once for every age it was still open at ({ages} days): {looks[True]:,} and "
        f"{looks[False]:,} of those, and at least {MIN_PER_CLASS} of each outcome are needed"
    )


class DealWinModel:
    """Chance each open deal is won, learnt from closed deals; reasons as for leads."""

    def __init__(self, random_state: int = 0, model: str = "auto") -> None:
        self.random_state = random_state
        self.model = model

    def fit(self, tables: dict[str, pd.DataFrame], as_of: pd.Timestamp) -> DealWinModel:
        frame = deal_training_frame(tables, as_of)
        if frame.empty:
            raise NotEnoughDataError(_none_to_learn_from(tables["deals"], as_of))
        _enough_deals(frame, as_of)
        self.scorer_ = LeadScorer(
            random_state=self.random_state,
            model=self.model,
            phrases=DEAL_PHRASES,
            subject="deal",
            kinds=DEAL_KINDS,
        ).fit(
            frame.assign(snapshot_at=on_clock(frame["snapshot_at"], _zone(as_of))),
            "won",
            time_column="snapshot_at",
            group_column="deal_id",
            fairness_column="pipeline",
        )
        self.scorer_.card_["data"]["closed_deals"] = int(frame["deal_id"].nunique())
        return self

    @property
    def card_(self) -> dict[str, Any]:
        self._check()
        return self.scorer_.card_

    def _check(self) -> None:
        check_fitted(self, "scorer_", "deal win model")

    def predict(self, tables: dict[str, pd.DataFrame], as_of: pd.Timestamp) -> pd.DataFrame:
        """Open deals with probability, score, tier, reasons and the month they should close."""
        self._check()
        frame = deal_scoring_frame(tables, as_of)
        deals = tables["deals"].drop_duplicates("deal_id").set_index("deal_id")
        # One more reason than shown, so a deal with no owner, whose two owner columns are
        # both unknown for the one fact, still gets three reasons after they are made one.
        scored = self.scorer_.score(frame, reasons=REASONS + 1)
        scored["reasons"] = [_one_owner_unknown(r)[:REASONS] for r in scored["reasons"]]
        close = _utc(frame["deal_id"].map(deals["close_date"]))
        # Months on the business's clock (as_of's zone): a deal closing at 9 pm on 31
        # October in New York closes in October, not November as in UTC.
        zone = as_of.tz if as_of.tzinfo else None
        today = wall_clock(pd.DatetimeIndex([as_of]), zone)[0]
        this_month = today.to_period("M")
        due = wall_clock(close, zone)
        month = due.dt.to_period("M")
        # Overdue: the close date has passed, a day before today (a deal due on the 12th
        # read "No" on the 30th when months were compared). A deal with no close date is
        # not late: it is due in no month at all. A month gone by counts in this month.
        overdue = due.notna() & (due.dt.normalize() < today.normalize())
        close_month = month.where(month >= this_month, this_month).astype(str)
        close_month = close_month.where(month.notna())
        return pd.DataFrame(
            {
                "deal_id": frame["deal_id"],
                # A deal without a name is shown by its id, not as an empty or "nan" cell.
                "name": frame["deal_id"].map(deals["name"]).fillna(frame["deal_id"]),
                "amount": frame["amount"],
                "currency": currency_code(frame["deal_id"].map(deals["currency"])),
                "stage": frame["deal_id"].map(deals["stage"]),
                "close_date": close,
                "close_month": close_month.fillna(NO_CLOSE_DATE),
                "overdue": overdue.to_numpy(),
                **{c: scored[c] for c in ("probability", "score", "reasons")},
                "tier": deal_tier(scored["score"]),
            }
        )

    def to_text(self) -> str:
        self._check()
        return json.dumps(
            {"format": "smbml-deal-win", "version": 1, "scorer": self.scorer_.to_text()}
        )

    @classmethod
    def from_text(cls, text: str) -> DealWinModel:
        data = json.loads(text)
        if data.get("format") != "smbml-deal-win":
            raise DataValidationError("not a saved smbml deal win model")
        scorer = LeadScorer.from_text(data["scorer"])
        model = cls(scorer.random_state, scorer.model)
        model.scorer_ = scorer
        return model

    # The names the steps used before `to_text` / `from_text`.
    to_json = to_text
    from_json = from_text


def worth_in_currency(deals: pd.DataFrame) -> pd.Series:
    """Each deal's reasons with its amount in its currency: "Worth 2,500" read the same for
    a dollar deal among euro ones, and a yen deal's gave no currency at all."""
    return pd.Series(
        [
            _worth(list(reasons), amount, currency)
            for reasons, amount, currency in zip(
                deals["reasons"], deals["amount"], deals["currency"], strict=True
            )
        ],
        index=deals.index,
        dtype=object,
    )


def _worth(reasons: list[str], amount: Any, currency: Any) -> list[str]:
    if amount is None or pd.isna(amount):
        return reasons
    plain = DEAL_PHRASES["amount"].template.format(n=format_number(float(amount)))
    shown = DEAL_PHRASES["amount"].template.format(
        n=money_text(float(amount), "" if pd.isna(currency) else str(currency))
    )
    return [
        shown + r[len(plain) :] if r.startswith(plain) and r[len(plain) :][:1] in ("", " ") else r
        for r in reasons
    ]


def currency_code(codes: pd.Series) -> pd.Series:
    """Currency codes as one spelling ("eur ", "EUR" -> "EUR"); a blank one is missing."""
    return codes.map(_code).astype(object)


def _code(value: Any) -> str | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return str(value).strip().upper() or None


def in_currency(codes: pd.Series, currency: str) -> pd.Series:
    """Which deals' amounts are in ``currency``: those in it, and those that name none (a deal
    without a currency is in the business's). No exchange rate is known offline, so an
    amount in another currency cannot be added to these."""
    code = currency_code(codes)
    return code.isna() | (code == _code(currency))


def expected_value(amount: pd.Series | np.ndarray, chance: pd.Series | np.ndarray) -> np.ndarray:
    """Amount x chance of winning, to the cent: a deal's expected value, and the one figure
    the pipeline's months and its total are sums of, so they add up as shown."""
    return np.round(np.asarray(amount, dtype=float) * np.asarray(chance, dtype=float), 2)


def pipeline_forecast(
    scored: pd.DataFrame,
    draws: int = 4000,
    random_state: int = 0,
    levels: tuple[int, ...] = (80, 95),
    currency: str | None = None,
) -> pd.DataFrame:
    """Expected won revenue per close month, with intervals from simulating every deal.

    Each open deal is won or lost independently with its probability; the interval is
    the spread of the simulated monthly totals. Deals without an amount are left out, and
    so, given ``currency``, are deals in another one (`in_currency`): their amounts do not
    add up with these. Deals without a close date come last, in a row of their own
    (`NO_CLOSE_DATE`). A month's expected revenue is the sum of its deals'
    `expected_value` in cents, so the rows add up to the deals as shown.
    """
    usable = scored[scored["amount"].notna()]
    if currency is not None and "currency" in usable.columns:
        usable = usable[in_currency(usable["currency"], currency).to_numpy()]
    months = sorted(usable["close_month"].unique(), key=lambda m: (m == NO_CLOSE_DATE, m))
    if not months:
        return pd.DataFrame(
            columns=[
                "month",
                "deals",
                "pipeline_amount",
                "expected",
                "lo80",
                "hi80",
                "lo95",
                "hi95",
            ]
        )
    rng = np.random.default_rng(random_state)
    amount = usable["amount"].to_numpy(dtype=float)
    p = usable["probability"].to_numpy(dtype=float)
    which = usable["close_month"].map({m: i for i, m in enumerate(months)}).to_numpy()
    value = expected_value(amount, p)
    totals = np.zeros((draws, len(months)))
    for start in range(0, len(usable), 2000):  # bounded memory for big pipelines
        part = slice(start, start + 2000)
        won = rng.uniform(size=(draws, len(p[part]))) < p[part]
        onehot = np.zeros((len(p[part]), len(months)))
        onehot[np.arange(len(p[part])), which[part]] = amount[part]
        totals += won @ onehot
    frame = pd.DataFrame(
        {
            "month": months,
            "deals": np.bincount(which, minlength=len(months)),
            "pipeline_amount": np.bincount(which, amount, minlength=len(months)),
            "expected": np.bincount(which, value, minlength=len(months)).round(2),
        }
    )
    lo_before = hi_before = frame["expected"].to_numpy()
    for level in sorted(levels):
        tail = (100 - level) / 2
        lo, hi = _nested_range(totals, tail, lo_before, hi_before)
        frame[f"lo{level}"], frame[f"hi{level}"] = lo, hi
        lo_before, hi_before = lo, hi
    return frame


def _nested_range(
    totals: np.ndarray, tail: float, lo_inner: np.ndarray, hi_inner: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """A range of simulated monthly totals that holds the narrower one inside it.

    A month of few deals has few possible totals, so plain percentiles can leave out the
    expected value (one likely deal: 80% range $1,710-$1,710 around an expected $1,646)
    or give the 95% range the very bounds of the 80% one. The range is widened to hold
    the inner one and, where that left the bounds equal, out to the next total that the
    simulation produced beyond them; it then covers at least the stated share.
    """
    lo = np.minimum(np.percentile(totals, tail, axis=0), lo_inner)
    hi = np.maximum(np.percentile(totals, 100 - tail, axis=0), hi_inner)
    for j in range(totals.shape[1]):
        below, above = totals[:, j][totals[:, j] < lo[j]], totals[:, j][totals[:, j] > hi[j]]
        if lo[j] >= lo_inner[j] and below.size:
            lo[j] = below.max()
        if hi[j] <= hi_inner[j] and above.size:
            hi[j] = above.min()
    return lo, hi
