"""Lead score and deal win steps: the numbers a sales team sees, and how they are explained."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal

import pandas as pd
from pydantic import Field

from smbml_connect import charts
from smbml_connect.analytics.leads.contact_features import (
    CONTACT_PHRASES,
    DEAL_STAGE,
    conversion_times,
    has_stage_history,
    lead_scoring_frame,
    lead_training_frame,
    undated_lacks,
    undated_words,
)
from smbml_connect.analytics.leads.deals import (
    DEAL_TIER_TEXT,
    NO_CLOSE_DATE,
    DealWinModel,
    expected_value,
    in_currency,
    pipeline_forecast,
    worth_in_currency,
)
from smbml_connect.analytics.leads.scoring import (
    MIN_GROUP_SCORINGS,
    MIN_PER_CLASS,
    TIER_SHARES,
    LeadScorer,
    beats_baseline,
)
from smbml_connect.analytics.shared.tabular import humanise
from smbml_connect.business_zone import clock_words, on_clock, wall_clock
from smbml_connect.errors import NotEnoughDataError
from smbml_connect.period_names import day_words
from smbml_connect.ports import (
    ColourScale,
    CrmProperty,
    SheetsPart,
    StepOutputs,
    Tab,
    WorkbookChart,
)
from smbml_connect.schema import FORECASTS, SCORES
from smbml_connect.steps.base import (
    SCORED_AT,
    SCORED_AT_LABEL,
    SCORES_SHEET,
    ReportSection,
    SavedModelText,
    Step,
    StepContext,
    StepResult,
    StepSettings,
    contact_names,
    model_version,
    money,
    plural,
    reasons_of,
    score_of,
    score_rows,
    scored_at_of,
)
from smbml_connect.value_words import lead_source_label, stage_label

__all__ = [
    "DEAL_WIN",
    "LEAD_SCORES",
    "LeadsSettings",
    "deal_step",
    "lead_step",
    "model_card_rows",
]


class LeadsSettings(StepSettings):
    """analytics.leads: what counts as a converted lead, and how far ahead."""

    key: ClassVar[str] = "leads"
    label: Literal["customer", "order", "won_deal"] = "customer"
    horizon_days: int = Field(90, ge=7, le=730)
    fairness_column: str | None = "country"
    protected: list[str] = Field(default_factory=list)  # extra columns to warn about


LEAD_TAB = Tab(
    "Lead scores",
    colour_scale=ColourScale("score", 0, 100),
    chart=WorkbookChart("histogram", "How lead scores are spread", values="score", label="leads"),
    example="lead_emails",
    sheets=(
        SheetsPart(SCORES_SHEET, rename={"score": "lead_score", "tier": "lead_tier"},
                   constants={"kind": "lead"}, order=0,
                   columns=("contact_id", "name", "email", "kind", "lead_score", "lead_tier",
                            "why")),
    ),
)  # fmt: skip
LEAD_MODEL_TAB = Tab("Lead model")
FAIRNESS_TAB = Tab("Lead fairness")
DEALS_TAB = Tab(
    "Deal win chances",
    columns=("deal_id", "name", "amount", "currency", "stage", "close_date", "win_chance",
             "tier", "expected_value", "why", "overdue"),
    colour_scale=ColourScale("win_chance", 0, 1),
)  # fmt: skip
PIPELINE_TAB = Tab("Pipeline forecast", formats={"month": "yyyy-mm"})
DEAL_MODEL_TAB = Tab("Deal model")

TIER_TEXT = ", ".join(
    f"{tier} = top {share:.0%}" if i == 0 else f"{tier} = next {share - TIER_SHARES[i - 1][1]:.0%}"
    for i, (tier, share) in enumerate(TIER_SHARES)
) + ", D = the rest"  # fmt: skip


def _joined(reasons: pd.Series) -> pd.Series:
    return reasons.map("; ".join)


_AUC_SCALE = "(0.5 = guessing, 1 = perfect)"
_PR_AUC_SCALE = "(guessing gets the success rate, 1 = perfect)"
_CALIBRATION_WORDS = {
    "isotonic": "a stepped curve fitted to past outcomes (isotonic)",
    "platt": "an S-shaped curve fitted to past outcomes (Platt scaling)",
    "beta": "a flexible S-shaped curve fitted to past outcomes (beta calibration)",
}


def _calibration_words(method: str) -> str:
    """The method's name alone ("isotonic") means nothing to a shop owner: say what it does."""
    return _CALIBRATION_WORDS.get(method, method)


def _day(stamps: pd.Series, zone: Any = None) -> pd.Series:
    """Dates without time or zone, on the business's calendar (``zone``; UTC when None):
    a workbook date cell has neither, and a close date is a day."""
    return wall_clock(stamps, zone).dt.normalize()


def _date_on(stamp: str, zone: Any = None) -> str:
    """A time's date on the business's calendar ('2026-12-06'); the text's own first ten
    characters when it is not a time with a zone."""
    try:
        moment = pd.Timestamp(stamp)
    except ValueError:
        return stamp[:10]
    return f"{moment.tz_convert(zone or 'UTC'):%Y-%m-%d}" if moment.tzinfo else stamp[:10]


def _moment(stamp: str, zone: Any = None) -> str:
    """'2026-12-06T12:05:15+00:00' as a person writes it on the business's clock:
    '2026-12-06 12:05 UTC', '2026-12-07 01:05 Pacific/Auckland time'."""
    try:
        moment = pd.Timestamp(stamp)
    except ValueError:
        return stamp
    if moment.tzinfo is not None:
        return f"{moment.tz_convert(zone or 'UTC'):%Y-%m-%d %H:%M} {clock_words(zone)}"
    return f"{moment:%Y-%m-%d %H:%M}"


def model_card_rows(
    card: Mapping[str, Any], what: str = "records", zone: Any = None
) -> pd.DataFrame:
    """The model card as two columns a person can read in a spreadsheet; `what` names the
    records held out ("leads", "deals"); times are on ``zone``'s clock (UTC when None)."""
    held = card["held_out"]
    rows = [
        ("Model", card["model"]),
        ("Learner", card["why_this_learner"]),
        ("Final model", card["final_model"]),
        ("Trained at", _moment(card["trained_at"], zone)),
        ("Rows used", f"{card['data']['labelled_rows']:,}"),
        ("Success rate in the data", f"{card['data']['label_rate']:.1%}"),
        ("Dates covered", " to ".join(_date_on(d, zone) for d in card["data"]["date_range"] or [])),
        ("How it was tested", card["split"]["how"]),
        *_held_out_rows(card["split"], what),
        (f"Ranks successes above the rest, AUC {_AUC_SCALE}", f"{held['auc']:.3f}"),
        (f"How often high scores were right, PR-AUC {_PR_AUC_SCALE}", f"{held['pr_auc']:.3f}"),
        ("Average squared miss, Brier score (lower is better)", f"{held['brier']:.3f} (guessing the average: {card['baseline_brier']:.3f})"),
        ("How far chances were from what happened (calibration error)", f"{held['calibration_error']:.3f} ({100 * held['calibration_error']:.1f} points on average)"),
        ("Lift in the top 10%", f"{held['lift_top_decile']:.2f}x the average rate"),
        ("How chances were matched to what happened (calibration)", _calibration_words(card["calibration"]["method"])),
    ]  # fmt: skip
    rows += [
        (f"Feature: {humanise(f['name'])}", f"importance {f['importance']:.1%}")
        for f in card["features"]
    ]
    rows += [(f"Left out: {name}", why) for name, why in card["ignored_columns"].items()]
    rows += [("Note", note) for note in card.get("notes", [])]
    rows += [("Warning", w) for w in card["warnings"]]
    return pd.DataFrame(rows, columns=["item", "value"])


def _test_counts(split: Mapping[str, Any]) -> tuple[int, int]:
    """(rows, leads or deals): cards saved before the distinct count was kept have rows only."""
    return split["test_rows"], split.get("test_groups", split["test_rows"])


def _held_out_rows(split: Mapping[str, Any], what: str) -> list[tuple[str, str]]:
    """How many records were held out, and how many scorings of them (a record is scored at
    several ages), each under its own name: the fairness tab's columns add up to these."""
    rows, groups = _test_counts(split)
    counted = [(f"{what.capitalize()} held out", f"{groups:,}")]
    if groups == rows:
        return counted
    return [
        *counted,
        ("Held-out scorings", f"{rows:,} ({what} scored at several ages, once per age)"),
    ]


def _quality_sentence(card: Mapping[str, Any], what: str) -> str:
    """Counts leads or deals, not rows: each is tested at several ages, one row per age."""
    held, split = card["held_out"], card["split"]
    rows, groups = _test_counts(split)
    how = split["how"].split(":")[0]
    if groups != rows:
        how += f"; {rows:,} held-out scorings, as each was scored at several ages"
    return (
        f"Tested on {groups:,} {what} the model had not seen "
        f"({how}): the top 10% of scores succeeded "
        f"{held['lift_top_decile']:.1f} times as often as average, and predicted chances were "
        f"{100 * held['calibration_error']:.0f} points from what happened, on average "
        f"(ranking quality, AUC, {held['auc']:.2f}, where 0.5 is guessing and 1 perfect)."
    )


NO_TIERS = "-"  # the tier shown when the model did no better than guessing
# What counts as a lead's success, beside a deal's win (a deal's chance has no time limit).
_SUCCESS_WAYS = {
    "customer": "becoming a customer (by a won deal or an order)",
    "order": "placing an order (a won deal alone does not count)",
    "won_deal": "winning a deal (any of the contact's deals)",
}


def _lead_and_deal(settings: LeadsSettings, tables: Mapping[str, pd.DataFrame]) -> str:
    """Why a contact's lead score and its deal's win chance can differ, said beside both: a
    reader who saw 20 beside 88% lost trust in both. They answer different questions with
    different models: converting within the lead horizon, any way, against this deal being
    won whenever it closes, learnt from closed deals with the deal's age and its owner's
    record."""
    horizon = settings.horizon_days
    stage = (  # the lead model knows the stage only from a stage history
        ", counting how far along its open deal is"
        if has_stage_history(tables.get("deal_stages"))
        else ", knowing whether it has an open deal but not how far along it is"
    )
    return (
        # Said beside deals too when lead scoring is off or had too few contacts: the tab
        # is named as where a score is, not as if it were there.
        f"A contact's lead score, where the Lead scores tab gives one, is the chance of "
        f"{_SUCCESS_WAYS[settings.label]} within {horizon} days{stage}; a deal's win chance "
        "(Deal win chances tab) counts a win whenever it comes and is learnt from closed "
        "deals, with the deal's age and its owner's record. So the two can differ: each tab's "
        "'why' says what moved its number."
    )


def _no_better_than_guessing(card: Mapping[str, Any], what: str) -> str | None:
    """The warning for a model that did no better than guessing, or None when it did better."""
    if beats_baseline(dict(card)):
        return None
    return (
        f"On {what} it had not seen, this model did no better than guessing the past average "
        f"rate for every one (Brier score {card['held_out']['brier']:.3f} against "
        f"{card['baseline_brier']:.3f} for guessing): treat its chances as rough, and they are "
        "not sorted into tiers."
    )


def _fairness_table(fairness: Mapping[str, Any]) -> pd.DataFrame:
    """Every rate as a share of 1, named as a rate, so that the workbook and the report both
    show it in % (a mean score of 23.9 beside a predicted 0.24 and an observed 25% read as
    three different things)."""
    groups = pd.DataFrame(fairness["groups"])
    # A lead is scored at several ages and the rates are over those scorings: both counts
    # are shown, each under its own name ("Leads held out" once counted scorings).
    table = pd.DataFrame(
        {
            fairness["column"]: groups["group"],
            "held_out_leads": groups.get("records", groups["rows"]),
            "held_out_scorings": groups["rows"],
        }
    )
    shares = {"mean_predicted": "predicted_rate", "observed_rate": "observed_rate",
              "calibration_error": "average_rate_gap"}  # fmt: skip
    for column, shown in shares.items():
        table[shown] = pd.to_numeric(groups[column], errors="coerce").round(4)
    table["auc"] = pd.to_numeric(groups["auc"], errors="coerce").round(3)
    return table


MIN_PAST_LEADS = 50  # past leads (contacts) the lead model needs to learn from
# How a contact that had converted before it was created is said, per label: (what it
# was already, what dated that).
_ALREADY = {
    "customer": ("were already customers", "their first order, won deal or customer date"),
    "order": ("had already ordered", "their first order"),
    "won_deal": ("already had a won deal", "their first won deal"),
}
_NOT_YET = {"customer": "not yet customers", "order": "had not ordered yet",
            "won_deal": "had no won deal yet"}  # fmt: skip
_BECAME = {"customer": "became customers", "order": "ordered", "won_deal": "won a deal"}


def _one(words: str) -> str:
    """The words of a count said of one contact ("1 was created ...", not "1 were")."""
    for many, one in (("were already customers", "was already a customer"),
                      ("were ", "was "), ("have ", "has "), ("had their ", "had its ")):  # fmt: skip
        if words.startswith(many):
            words = one + words[len(many) :]
            break
    return words.replace("than their created date", "than its created date")


def _too_few_leads(
    tables: dict[str, pd.DataFrame], as_of: pd.Timestamp, horizon: int, label: str, found: int
) -> str:
    """Why there are too few past leads, with what was counted and why each other contact
    was not, so the owner knows which data would fix it. A past lead is a contact created
    more than `horizon` days ago and not yet converted when created: only those show what
    came of a lead (the count once read "contacts created more than 90 days ago", and a
    shop whose 45 contacts were all that old was told it had 33)."""
    contacts = tables["contacts"].drop_duplicates("contact_id").set_index("contact_id")
    created = pd.to_datetime(contacts["created_at"], utc=True)
    converted, undated = conversion_times(tables, label)
    first = pd.to_datetime(converted.reindex(created.index), utc=True)
    already, dated_by = _ALREADY[label]
    no_date = created.isna()
    no_conversion_date = ~no_date & created.index.isin(list(undated))
    recent = ~no_date & ~no_conversion_date & (created > as_of - pd.Timedelta(days=horizon))
    before = ~no_date & ~no_conversion_date & ~recent & (first <= created).fillna(False)
    rest = len(contacts) - found - int((no_date | no_conversion_date | recent | before).sum())
    why = [
        (int(before.sum()), f"{already} when created ({dated_by} came no later than "
                            "their created date)"),
        (int(recent.sum()), f"were created in the last {horizon} days, too recently to "
                            "see what came of them"),
        (int(no_date.sum()), "have no created date"),
        (int(no_conversion_date.sum()), _undated_reason(int(no_conversion_date.sum()), label)),
        (rest, "had their open deal go back to an earlier stage, so what they looked like "
               "then is not known"),
    ]  # fmt: skip
    said = [(n, _one(words) if n == 1 else words) for n, words in why if n > 0]
    other = len(contacts) - found
    if len(said) == 1:
        told = f"; the other {other:,} {said[0][1]}"
    else:
        told = f"; of the other {other:,}, " + "; ".join(f"{n:,} {w}" for n, w in said)
    return (
        f"lead scores need at least {MIN_PAST_LEADS} past leads to learn from (contacts "
        f"created more than {horizon} days ago that were {_NOT_YET[label]} when created); "
        f"found {found:,} among {plural(len(contacts), 'contact')}" + (told if said else "")
    )


def _undated_reason(count: int, label: str) -> str:
    """The undated customers' words after their count ("are customers with no order ...")."""
    return f"{'is a customer' if count == 1 else 'are customers'} with {undated_lacks(label)}"


def _one_outcome(
    training: pd.DataFrame, tables: dict[str, pd.DataFrame], horizon: int, label: str
) -> str | None:
    """Why the lead model cannot learn when past leads nearly all went one way, counted in
    past leads (contacts), not in the snapshots the model takes of each (a HubSpot export
    of 1,248 leads and no dated customer read "got 0 with 'converted' yes and 8566 with
    no"), with the customers left out for want of a date, and what would date them."""
    converted = training.groupby("contact_id")["converted"].any()
    yes, no = int(converted.sum()), int((~converted).sum())
    if min(yes, no) >= MIN_PER_CLASS:
        return None
    undated = len(conversion_times(tables, label)[1])
    return (
        f"need at least {MIN_PER_CLASS} past leads that {_BECAME[label]} and "
        f"{MIN_PER_CLASS} that did not, to learn from; of the {len(converted):,} past leads "
        f"(contacts created more than {horizon} days ago that were {_NOT_YET[label]} when "
        f"created), {yes:,} {_BECAME[label]} within {horizon} days of a moment looked at "
        f"and {no:,} did not"
        + (f"; {undated_words(undated, label)}, and were left out" if undated else "")
    )


def lead_step(tables: Mapping[str, pd.DataFrame], context: StepContext) -> StepResult:
    settings = context.settings_for(LeadsSettings)
    horizon, label, fairness = settings.horizon_days, settings.label, settings.fairness_column
    data = dict(tables)
    training = lead_training_frame(data, context.as_of, horizon, label)
    learnt_from = int(training.frame["contact_id"].nunique())
    if learnt_from < MIN_PAST_LEADS:
        raise NotEnoughDataError(_too_few_leads(data, context.as_of, horizon, label, learnt_from))
    one_way = _one_outcome(training.frame, data, horizon, label)
    if one_way:
        raise NotEnoughDataError(one_way)
    scorer = LeadScorer(phrases=CONTACT_PHRASES, protected=tuple(settings.protected)).fit(
        training.frame.assign(
            snapshot_at=on_clock(training.frame["snapshot_at"], context.as_of.tz)
        ),
        "converted",
        time_column="snapshot_at",
        group_column="contact_id",
        fairness_column=fairness,
    )
    scorer.card_["notes"] = [
        f"label: became a {label.replace('_', ' ')} within {horizon} days of the moment scored",
        *training.notes,
    ]
    leads = lead_scoring_frame(data, context.as_of, label)
    # A lead's open deal stage is among its reasons where the model learnt from it: a rep
    # who sees the deal's own win chance elsewhere needs what the lead score made of it.
    scored = scorer.score(leads, always=(DEAL_STAGE,))
    untiered = _no_better_than_guessing(scorer.card_, "past leads")
    if untiered:
        scored["tier"] = NO_TIERS
    payload = scorer.to_json()
    version = model_version(payload, "lead_score")
    result = StepResult()
    result.models["lead_score"] = SavedModelText(payload, scorer.card_, "smbml-lead-scorer-1")
    result.outputs["scores"] = score_rows(
        "contact", leads["contact_id"], "lead_score", scored["score"], scored["tier"],
        scored["reasons"], version, context.as_of,
    )  # fmt: skip
    people = tables["contacts"].drop_duplicates("contact_id").set_index("contact_id")
    names = contact_names(tables["contacts"])
    sheet = pd.DataFrame(
        {
            "contact_id": leads["contact_id"],
            "name": leads["contact_id"].map(names),
            "email": leads["contact_id"].map(people["email"]),
            "score": scored["score"],
            "tier": scored["tier"],
            "why": _joined(scored["reasons"]),
            "lead_source": leads["lead_source"].map(lead_source_label),
            # whole days: a count reads 18, not 18.00
            "days_as_lead": leads["days_since_created"].round().astype("Int64"),
        }
    ).sort_values(["score", "days_as_lead"], ascending=[False, True])
    result.add_tab(
        LEAD_TAB,
        sheet,
        f"Score = chance in % of an open lead {_SUCCESS_WAYS[label].split(' (')[0]} within "
        f"{horizon} days. "
        + (
            untiered
            or f"Tiers rank against past leads ({TIER_TEXT}): "
            + ", ".join(f"{t} from {100 * v:.0f}" for t, v in scorer.tiers_.items())
            + "."
        )
        + " Each reason in 'why' says whether it raises or lowers the score"
        + (
            "; a lead with an open deal has its deal's stage among them, unless the "
            "model learnt nothing from that stage."
            if DEAL_STAGE in {plan.name for plan in scorer.encoder_.plans_}
            else "."
        )
        + (f" {_lead_and_deal(settings, tables)}" if "open_deals" in leads.columns else ""),
    )
    result.add_tab(
        LEAD_MODEL_TAB,
        model_card_rows(scorer.card_, "leads", context.as_of.tz),
        "How the lead score was built and how well it did on leads it had not seen.",
    )
    card = scorer.card_
    top = int((scored["tier"] == "A").sum())
    result.summary.append(
        f"Lead scores: {plural(len(leads), 'open lead')} scored; {top:,} in tier A "
        f"(ranking quality on leads it had not seen, AUC, {card['held_out']['auc']:.2f}: "
        "0.5 is guessing, 1 perfect)"
    )
    paragraphs = [
        f"{plural(len(leads), 'open lead')} scored as of {day_words(context.as_of)}. A score is the "
        f"chance in % of becoming a {label.replace('_', ' ')} within {horizon} days. "
        + (
            untiered
            or f"{plural(top, 'lead')} {'is' if top == 1 else 'are'} in tier A: call them first."
        ),
        _quality_sentence(card, "past leads"),
        *card["warnings"],
    ]
    curve = card["calibration"]["curve"]
    features = card["features"][:8]
    figures = [
        charts.histogram(scored["score"].tolist(), LEAD_TAB.title, "score (chance in %)", bins=20, ylabel="leads"),
        charts.bar_chart(
            [humanise(f["name"]) for f in features],
            [round(100 * f["importance"], 1) for f in features],
            "What drives the score (share of importance, %)",
            "%",
        ),
        charts.calibration_chart(
            [c["predicted"] for c in curve], [c["observed"] for c in curve], "Are the chances honest?"
        ),
    ]  # fmt: skip
    fairness_table = None
    if "fairness" in card:
        fairness_table = _fairness_table(card["fairness"])
        result.add_tab(
            FAIRNESS_TAB,
            fairness_table,
            f"Held-out leads per {card['fairness']['column']}: a lead is scored at several "
            "ages, once per age, and the rates, all in %, are over those scorings: the average "
            "predicted chance, how many became customers, and how far the chances were off on "
            "average (the average gap). Large differences in that gap deserve a look. A group "
            f"with fewer than {MIN_GROUP_SCORINGS} scorings shows no gap or AUC: too few to judge.",
        )
        paragraphs.append(
            f"The table compares scores and outcomes per {card['fairness']['column']} on held-out "
            "leads (the rates over their scorings); a group whose predicted and observed rates "
            "differ a lot is served worse. A group with fewer than "
            f"{MIN_GROUP_SCORINGS} scorings shows no gap or AUC: too few to judge."
        )
    result.sections.append(ReportSection(LEAD_TAB.title, paragraphs, figures, fairness_table))
    return result


def _close_dates(deals: pd.DataFrame, zone: Any) -> pd.Series:
    """Each deal's close date as a day, or the words "No close date": a blank cell read as
    a date nobody filled in, and such a deal is due in no month (not overdue)."""
    days = _day(deals["close_date"], zone)
    return days.astype(object).where(days.notna(), NO_CLOSE_DATE)


def _left_out(deals: pd.DataFrame, counted: pd.Series, currency: str) -> str | None:
    """One sentence for the open deals in other currencies than the business's, or None:
    their amounts cannot be added to the totals without an exchange rate, which the tool
    does not have (it works offline), so they are scored but not summed."""
    other = deals[~counted.to_numpy()]
    if other.empty:
        return None
    code, one = currency.strip().upper(), len(other) == 1
    worth = {
        unit: money(float(mine["amount"].sum()), unit) if mine["amount"].notna().any() else None
        for unit, mine in other.groupby("currency", sort=True)
    }
    counts = other["currency"].value_counts()
    if len(worth) == 1:
        unit, amount = next(iter(worth.items()))
        what = f"{plural(len(other), 'open deal')} in {unit}" + (f" ({amount})" if amount else "")
    else:
        each = "; ".join(
            f"{counts[unit]:,} in {unit}" + (f", {amount}" if amount else "")
            for unit, amount in worth.items()
        )
        what = f"{plural(len(other), 'open deal')} in other currencies ({each})"
    return (
        f"{what} {'is' if one else 'are'} left out of the {code} totals and the Pipeline "
        f"forecast: {'its amount' if one else 'their amounts'} cannot be added to {code} "
        "without an exchange rate, and none is available offline. "
        f"{'Its win chance is' if one else 'Their win chances are'} shown as usual, "
        f"{'its amount and expected value' if one else 'their amounts and expected values'} "
        f"in {'its' if one else 'their'} own currency."
    )


def _currencies_left_out(deals: pd.DataFrame, counted: pd.Series) -> str:
    """The run line's few words for the deals in other currencies ("" when none)."""
    other = deals.loc[~counted.to_numpy(), "currency"]
    if other.empty:
        return ""
    units = " and ".join(sorted(other.unique()))
    return f" ({plural(len(other), 'deal')} in {units} left out: no exchange rate)"


def _undated_words(forecast: pd.DataFrame, currency: str) -> str | None:
    """What the deals without a close date add to the total, which no month of the chart
    shows; None when every counted deal has one."""
    row = forecast[forecast["month"] == NO_CLOSE_DATE]
    if row.empty:
        return None
    deals, expected = int(row["deals"].iloc[0]), float(row["expected"].iloc[0])
    return (
        f"{money(expected, currency)} of it is from {plural(deals, 'deal')} with no close "
        "date, which no month of the chart holds: the Pipeline forecast tab shows "
        f"{'it' if deals == 1 else 'them'} in a row 'No close date'."
    )


def deal_step(tables: Mapping[str, pd.DataFrame], context: StepContext) -> StepResult:
    data = dict(tables)
    model = DealWinModel().fit(data, context.as_of)
    deals = model.predict(data, context.as_of)
    untiered = _no_better_than_guessing(model.card_, "closed deals")
    if untiered:
        deals["tier"] = NO_TIERS
    payload = model.to_json()
    result = StepResult()
    result.models["deal_win"] = SavedModelText(payload, model.card_, "smbml-deal-win-1")
    cur = context.currency
    # A deal that names no currency is in the business's; only amounts in it are summed.
    deals["currency"] = deals["currency"].fillna(cur.strip().upper())
    deals["reasons"] = worth_in_currency(deals)
    result.outputs["scores"] = score_rows(
        "deal", deals["deal_id"], "deal_win", deals["score"], deals["tier"], deals["reasons"],
        model_version(payload, "deal_win"), context.as_of,
    )  # fmt: skip
    counted = in_currency(deals["currency"], cur)
    # Expected values and the pipeline use the win chance as shown (whole %), so that each
    # deal's expected value is its amount x the chance beside it, and the months and the
    # total are sums of those cents.
    shown = deals.assign(probability=deals["score"] / 100)
    forecast = pipeline_forecast(shown, currency=cur).round(2)
    dated = forecast[forecast["month"] != NO_CLOSE_DATE]  # the store's series is by month
    result.outputs["forecasts"] = pd.DataFrame(
        {
            "series_id": "deal_pipeline",
            "ds": pd.to_datetime(dated["month"]).dt.tz_localize("UTC"),
            "yhat": dated["expected"],
            **{c: dated[c] for c in ("lo80", "hi80", "lo95", "hi95")},
            "model": "deal_win",
        }
    )
    sheet = deals.assign(
        win_chance=deals["score"],
        why=_joined(deals["reasons"]),
        expected_value=expected_value(shown["amount"], shown["probability"]),
        stage=deals["stage"].map(stage_label),
        close_date=_close_dates(deals, context.as_of.tz),
    )
    sheet = DEALS_TAB.select(sheet)
    left_out = _left_out(deals, counted, cur)
    undated = (deals["close_month"] == NO_CLOSE_DATE).any()
    result.add_tab(
        DEALS_TAB,
        sheet.sort_values("expected_value", ascending=False),
        "Chance in % that each open deal is won, whenever it closes, learnt from closed deals as "
        f"they looked while still open. {untiered or f'Tier by chance: {DEAL_TIER_TEXT}.'} "
        "Expected value = amount x win chance, in the deal's currency"
        + (
            f"; only those in {cur.strip().upper()} add up to the Pipeline forecast. "
            if left_out
            else ". "
        )
        + ("A deal with no close date says so and is not overdue. " if undated else "")
        + "Each reason in 'why' says whether it raises or lowers the chance. "
        f"{_lead_and_deal(context.settings_for(LeadsSettings), tables)}",
    )
    result.add_tab(
        PIPELINE_TAB,
        # the month as a real date (shown as a month), so it sorts and filters as one
        forecast.assign(
            month=forecast["month"].map(lambda m: m if m == NO_CLOSE_DATE else pd.Timestamp(m))
        ),
        f"Revenue ({cur}) expected from open deals by the month they should close (overdue "
        "deals count in this month"
        + ("; deals with no close date in the row 'No close date'" if undated else "")
        + "): the sum of their expected values in the Deal win chances tab; the low and "
        "high ends of the 80% range: 8 in 10 outcomes fall between them if deals close as "
        "scored." + (f" {left_out}" if left_out else ""),
    )
    result.add_tab(
        DEAL_MODEL_TAB,
        model_card_rows(model.card_, "deals", context.as_of.tz),
        "How the deal win chance was built and how well it did on deals it had not seen.",
    )
    expected = float(forecast["expected"].sum()) if len(forecast) else 0.0
    others = int((~counted).sum())
    result.summary.append(
        f"Deal win chances: {plural(len(deals), 'open deal')}, "
        f"{money(expected, cur)} expected to be won{_currencies_left_out(deals, counted)}"
    )
    summed = float(deals.loc[counted.to_numpy(), "amount"].sum())
    paragraphs = [
        (
            f"{plural(len(deals), 'open deal')} worth {money(summed, cur)} in total"
            if not others
            else f"{plural(len(deals), 'open deal')}; the {int(counted.sum()):,} in "
            f"{cur.strip().upper()} are worth {money(summed, cur)} in total"
        )
        + f"; weighted by their chances, {money(expected, cur)} is expected to be won.",
        *[words for words in (_undated_words(forecast, cur), left_out) if words],
        untiered or f"Deal tiers follow the win chance: {DEAL_TIER_TEXT}.",
        _lead_and_deal(context.settings_for(LeadsSettings), tables),
        _quality_sentence(model.card_, "closed deals"),
        *model.card_["warnings"],
    ]
    figures = []
    if len(dated):
        figures.append(
            charts.band_chart(
                dated["month"].tolist(), dated["expected"].tolist(), dated["lo80"].tolist(),
                dated["hi80"].tolist(), f"Expected won revenue by close month ({cur}, 80% range)",
                cur,
            )
        )  # fmt: skip
    table = sheet.sort_values("expected_value", ascending=False).head(15)[
        ["name", "amount", "currency", "stage", "win_chance", "expected_value", "why"]
    ]
    result.sections.append(ReportSection("Deals and pipeline", paragraphs, figures, table))
    return result


# What the lead and deal models read besides what they need (and the contacts, for
# opt-outs): never order lines or products, so a damaged order-lines file no longer holds
# back the sales team's scores. The deal model reads no orders either.
_DEALS_READ = ("deal_stages", "deal_pipeline_stages", "activities", "associations")
LEAD_SCORES = Step(
    "lead_scores", title=LEAD_TAB.title, needs=("contacts",), personal=True, run=lead_step,
    reads=("orders", "deals", *_DEALS_READ),
    outputs=StepOutputs(
        tables=(SCORES,),
        tabs=(LEAD_TAB, LEAD_MODEL_TAB, FAIRNESS_TAB),
        properties=(
            CrmProperty("contacts", "smbml_lead_score", "Lead score (SMB ML)", "number", "number",
                        "Chance this contact becomes a customer, 0-100.", "scores",
                        score_of("contact", "lead_score")),
            CrmProperty("contacts", "smbml_lead_tier", "Lead tier (SMB ML)", "enumeration",
                        "select", "A: call first ... D: not now.", "scores",
                        score_of("contact", "lead_score", "label"), ("A", "B", "C", "D")),
            CrmProperty("contacts", "smbml_lead_reasons", "Lead score reasons (SMB ML)", "string",
                        "textarea", "The three things that moved the score most.", "scores",
                        reasons_of("contact", "lead_score")),
            CrmProperty("contacts", SCORED_AT, SCORED_AT_LABEL, "datetime", "date",
                        "When this contact's SMB ML values were last computed.", "scores",
                        scored_at_of("contact")),
        ),
    ),
    settings=LeadsSettings,
)  # fmt: skip
DEAL_WIN = Step(
    "deal_win", title=DEALS_TAB.title, needs=("deals",), personal=True, run=deal_step,
    reads=_DEALS_READ,
    outputs=StepOutputs(
        tables=(SCORES, FORECASTS),
        tabs=(DEALS_TAB, PIPELINE_TAB, DEAL_MODEL_TAB),
        properties=(
            CrmProperty("deals", "smbml_win_probability", "Win probability % (SMB ML)", "number",
                        "number", "Chance this open deal is won, in percent.", "scores",
                        score_of("deal", "deal_win")),  # the stored value is already in %
            CrmProperty("deals", "smbml_win_reasons", "Win probability reasons (SMB ML)",
                        "string", "textarea", "What moved the win probability most.", "scores",
                        reasons_of("deal", "deal_win")),
            CrmProperty("deals", SCORED_AT, SCORED_AT_LABEL, "datetime", "date",
                        "When this deal's win probability was last computed.", "scores",
                        scored_at_of("deal")),
        ),
    ),
)  # fmt: skip
