"""Customer steps: churn risk and value, behavioural clusters, next best product."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, ClassVar

import pandas as pd
from pydantic import Field

from smbml_connect import charts
from smbml_connect.analytics.customers.clusters import CustomerClusters, customer_features
from smbml_connect.analytics.customers.history import counted_rows, order_history
from smbml_connect.analytics.customers.recommend import (
    MIN_SHARED_BUYERS,
    OFF_SALE_WEEKS,
    CoPurchaseRecommender,
    hit_rate_at_k,
    not_a_next_product,
    off_sale,
    purchases_by_customer,
    returned_by_customer,
)
from smbml_connect.analytics.customers.seasons import Season
from smbml_connect.analytics.customers.value import (
    MODEL_LABELS,
    SPEND_WORDS,
    CustomerValueModel,
    seasons_ahead,
)
from smbml_connect.business_zone import as_of_words
from smbml_connect.data_checks import data_ends_early
from smbml_connect.errors import NotEnoughDataError
from smbml_connect.ports import ColourScale, CrmProperty, SheetsPart, StepOutputs, Tab
from smbml_connect.sales import net_total
from smbml_connect.schema import SCORES
from smbml_connect.steps.base import (
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
    percent_of,
    plural,
    score_of,
    score_rows,
)

__all__ = [
    "CHURN_VALUE",
    "CUSTOMER_CLUSTERS",
    "NEXT_PRODUCT",
    "CustomersSettings",
    "churn_value_step",
    "cluster_step",
    "next_product_step",
]


class CustomersSettings(StepSettings):
    """analytics.customers: churn risk and value."""

    key: ClassVar[str] = "customers"
    horizon_days: int = Field(365, ge=30, le=1095)  # churn risk and value look this far ahead


VALUE_TAB = Tab(
    "Customer value",
    colour_scale=ColourScale("churn_risk", 0, 1, high_is_good=False),
    # a chance, in % as the churn risk beside it (its name does not say so to the writer)
    formats={"chance_still_a_customer": "0.0%"},
    sheets=(
        SheetsPart(SCORES_SHEET, rename={"expected_value_12m": "value_12m"},
                   constants={"kind": "customer"}, order=1,
                   columns=("contact_id", "name", "email", "kind", "churn_risk", "value_12m",
                            "why")),
    ),
)  # fmt: skip
# "total" in a header would read as money: these are purchases (days with an order)
VALUE_MODEL_TAB = Tab(
    "Value model", formats={"total_actual": "#,##0", "total_predicted": "#,##0.0"}
)
CLUSTERS_TAB = Tab("Clusters")
MEMBERS_TAB = Tab("Cluster members")
NEXT_TAB = Tab(
    "Next products",
    columns=("contact_id", "name", "rank", "product_id", "product", "reason", "score"),
)

SHOWN_CHANCES = (0.001, 0.999)  # shown to one decimal in %: never 0.0% or 100.0%
PROFILE_COLUMNS = ["cluster", "name", "customers", "share_of_revenue", "median_orders",
                   "median_spend", "median_days_since_order"]  # fmt: skip


HIGH_RISK, MEDIUM_RISK = 0.7, 0.4
RISK_WORDS = (
    f"Risk level: High = churn risk {HIGH_RISK:.0%} or more, Medium = {MEDIUM_RISK:.0%} to "
    f"under {HIGH_RISK:.0%}, Low = under {MEDIUM_RISK:.0%}."
)


def _risk_label(risk: float) -> str:
    """The level of the risk as shown (to a tenth of a percent): 69.96% shows as 70.0%, and
    a level of Medium beside it would contradict the cut-off stated above it."""
    shown = round(risk, 3)
    return "High" if shown >= HIGH_RISK else ("Medium" if shown >= MEDIUM_RISK else "Low")


def _gap_words(days: int) -> str:
    """How long ago the last order was: days under a week ("0 weeks ago" said nothing), then
    weeks or months, from the same whole days the Segments and Cluster members tabs show,
    so "8 weeks" never stands beside "62 days". 0 is an order on the last day counted, "less
    than a day" before its end, not "today" (a run dated midnight counts the day before)."""
    if days < 1:
        return "less than a day"
    if days < 7:
        return plural(days, "day")
    weeks = days / 7
    return plural(round(weeks), "week") if weeks < 9 else plural(round(weeks / 4.35), "month")


_NOT_GIVEN = {"contact_id": "no customer", "ordered_at": "no date", "total": "no total"}


def _left_out_example(
    skipped: pd.DataFrame, orders: pd.DataFrame, rejects: pd.DataFrame | None
) -> str:
    """The first order the model left out, named as the Rejects tab names it: its file and
    row and the value as written ("row 204 of Orders.csv, total 'lots': total is not a
    number"), where a value was cleared on the way in; else by its order id. The model's
    own row is its place in the frame it was given and the value it saw there is the
    cleared one: "row 168, total = <NA>" for the Rejects tab's row 204, 'lots'."""
    first = skipped.iloc[0]
    column, row = str(first["column"]), first["row"]
    known = "order_id" in orders.columns and row in orders.index
    order = str(orders.at[row, "order_id"]) if known else None
    listed = _rejected_as(rejects, order, column) if order is not None else None
    if listed is not None:
        return listed
    value = first["value"]
    said = f"{column} {value!r}" if pd.notna(value) else _NOT_GIVEN.get(column, f"no {column}")
    return f"order {order}: {said}" if order is not None else said


def _foreign(orders: pd.DataFrame, currency: str) -> pd.Series:
    """Per order, whether it names another currency than ``currency`` (its amount cleared)."""
    codes = orders.get("currency", pd.Series(pd.NA, index=orders.index))
    codes = codes.astype("string").str.strip().str.upper().replace("", pd.NA)
    return (codes.notna() & codes.ne(currency.strip().upper())).astype(bool)


def _unpriced_words(
    orders: pd.DataFrame,
    as_of: pd.Timestamp,
    currency: str,
    skipped: pd.DataFrame,
    rejects: pd.DataFrame | None,
) -> str:
    """The counted orders of no known amount, why, and where they count: "253 orders of
    these customers have no amount in AUD (253 in NZD, with no exchange rate): ...", with
    an example of a total that could not be read, named as Rejects names it. The data
    checks and the forecast count opted-out buyers' orders too (the checks also refunded
    ones), so their figures can be higher; the sentence says so."""
    keep, _ = counted_rows(orders, as_of)
    unknown = keep & net_total(orders).isna()
    if not unknown.any():
        return ""
    foreign = _foreign(orders, currency)
    codes = orders.get("currency", pd.Series(pd.NA, index=orders.index))
    codes = codes.astype("string").str.strip().str.upper()[unknown & foreign]
    parts = [f"{n:,} in {code}" for code, n in codes.value_counts().sort_index().items()]
    why = ", ".join(parts) + (", with no exchange rate" if parts else "")
    unread = unknown & ~foreign
    if unread.any():
        listed = skipped[(skipped["column"] == "total") & skipped["row"].isin(orders.index[unread])]
        example = f", e.g. {_left_out_example(listed, orders, rejects)}" if len(listed) else ""
        words = f"{int(unread.sum()):,} with no total that can be read{example}"
        why = f"{why}; {words}" if why else words
    n = int(unknown.sum())
    return (
        f"{plural(n, 'order')} of these customers {'has' if n == 1 else 'have'} no amount in "
        f"{currency} ({why}): each counts as a purchase of unknown value, and spend so far "
        "leaves it out. The data checks and the sales forecast count such orders of every "
        "buyer, those who opted out too (the data checks also orders that are not sales), "
        "so their counts can be higher."
    )


def _rejected_as(rejects: pd.DataFrame | None, order: str, column: str) -> str | None:
    """The Rejects row of ``order``'s ``column``, in words, or None."""
    if rejects is None or rejects.empty or not {"row", "column"} <= set(rejects.columns):
        return None
    mine = rejects[(rejects["table"] == "orders") & (rejects["column"] == column)]
    for r in mine.itertuples(index=False):
        try:
            written = json.loads(r.row) if isinstance(r.row, str) else {}
        except ValueError:
            continue
        if not isinstance(written, dict) or str(written.get("order_id")) != order:
            continue
        place = f"row {int(r.source_row)}" if pd.notna(r.source_row) else f"order {order}"
        where = f" of {r.source}" if isinstance(r.source, str) and r.source else ""
        return f"{place}{where}, {column} '{r.value}': {r.reason} (listed in Rejects)"
    return None


def _free_words(paid_share: float, currency: str) -> str:
    """Why a customer who took free orders is expected to spend less than others: the
    model counts a day of 0 as a purchase worth 0, not one of unknown value."""
    if paid_share >= 1:
        return ""
    if paid_share <= 0:
        return f": every purchase so far was {money(0.0, currency)}"
    return f": {1 - paid_share:.0%} of the days with an order so far were {money(0.0, currency)}"


def _bought_words(row: Any, season: Season | None, currency: str) -> str:
    """What the customer has bought so far: days with an order, or in a shop that sells
    in one season a year the seasons ("Bought in 2 of the last 3 seasons")."""
    if pd.isna(row.spend_so_far):  # unknown, not 0: said, not shown as "0 AUD in total"
        spent = f"spend unknown (no order with an amount in {currency})"
    else:
        spent = f"{money(float(row.spend_so_far), currency)} in total"
    if season is None:
        return f"Bought on {plural(int(row.purchases_so_far), 'day')} so far, {spent}"
    if int(row.seasons_seen) == 1:
        return f"First bought in the latest season, {spent}"
    return (
        f"Bought in {int(row.seasons_bought)} of the last {int(row.seasons_seen)} seasons, {spent}"
    )


def _usual_spend(currency: str) -> str:
    """Where an expected spend comes from when the customer's own is unknown."""
    return f", resting on other customers' spend (theirs is not known in {currency})"


def _ahead_words(horizon: int, season: Season | None) -> str:
    """How far the figures look: "the next 12 months", or "the next season"."""
    if season is None:
        return f"the next {round(horizon / 30.4)} months"
    ahead = seasons_ahead(horizon)
    return "the next season" if ahead == 1 else f"the next {ahead} seasons"


def _season_words(season: Season) -> str:
    """A seasonal shop's paragraph: what a season is, where this one stands, and what
    "chance still a customer" means where customers skip seasons and come back."""
    now = ""
    if season.counts_now and season.done < 1:
        now = (
            f" This season is {season.done:.0%} through by the orders of earlier ones: "
            "who has not bought in it yet counts as not buying this season."
        )
    elif not season.counts_now and season.done > 0:
        now = (
            f" This season has begun ({season.done:.0%} of a usual season's orders so far) "
            "and counts as the next season, still to come."
        )
    return (
        f"Your customers buy in one season a year (most orders between "
        f"{season.words('and')}), so each season counts as one chance to buy: churn risk is "
        "the chance of not buying in the coming season(s), and value what is spent in them."
        + now
        + " Chance still a customer is the chance they have not left for good: one who skips "
        "seasons and comes back may still be a customer while unlikely to buy next season."
    )


def _spend_words(model: CustomerValueModel, currency: str) -> str:
    """What a purchase is expected to be worth, learnt from what, and how the choice did on
    the held-out period: a few large accounts can make everyone's average far above what
    most customers spend, so the choice is shown, not assumed."""
    unit = "purchase" if model.season_ is None else "season"  # a season bought in is one
    words = (
        f"Spend per {unit} is learnt from {SPEND_WORDS[model.spend_basis_]}, and no customer "
        f"is expected to spend more in a {unit} than anyone's largest so far "
        f"({money(model.largest_purchase(), currency)})."
    )
    check = model.report_.get("spend", {}).get("models", {})
    if len(check) < 2:
        return words
    used, other = model.spend_basis_, next(k for k in check if k != model.spend_basis_)
    return words + (
        f" On the held-out period, priced into the purchases predicted there, this gave "
        f"{money(check[used]['total_predicted'], currency)} against "
        f"{money(check[used]['total_actual'], currency)} spent, and was closer per customer "
        f"than learning from {SPEND_WORDS[other]} "
        f"({money(check[other]['total_predicted'], currency)})."
    )


def churn_value_step(tables: Mapping[str, pd.DataFrame], context: StepContext) -> StepResult:
    horizon = context.settings_for(CustomersSettings).horizon_days
    model = CustomerValueModel().fit(tables["orders"], context.as_of)
    table = model.predict(horizon)
    season = model.season_
    # A chance shown as 100.0% or 0.0% reads as certain; a customer quiet for years is
    # very likely, not surely, gone.
    for column in ("churn_risk", "p_alive"):
        table[column] = table[column].clip(SHOWN_CHANCES[0], SHOWN_CHANCES[1])
    cur = context.currency
    months = round(horizon / 30.4)
    ahead = _ahead_words(horizon, season)
    history = order_history(tables["orders"], context.as_of)
    quiet = history["days_since_last_order"]
    # Spend so far is unknown, not 0, for a customer with no amount in the shop's currency.
    known = table["contact_id"].map(history["spend"]).notna().to_numpy()
    table["spend_so_far"] = table["spend_so_far"].where(known)
    # The models count a day with orders as one purchase (several orders on a day are one
    # shopping trip); the words say days, as the Segments tab counts every order.
    reasons = [
        [
            f"Last bought {_gap_words(int(quiet[r.contact_id]))} ago",
            _bought_words(r, season, cur),
            f"Expected to spend {money(float(r.expected_value), cur)} in {ahead} "
            f"(80% range {money(float(r.value_lo80), cur)}-"
            f"{money(float(r.value_hi80), cur)})"
            + (_free_words(r.paid_share, cur) if pd.notna(r.spend_so_far) else _usual_spend(cur)),
        ]
        for r in table.itertuples(index=False)
    ]
    # The CRM property and the Sheets column hold the 12-month value whatever the horizon
    # setting: their names and labels say 12 months.
    by_months = {months: table}
    if months != 12:
        by_months[12] = model.predict(365)
    card = model.card()
    payload = json.dumps(card, sort_keys=True, default=str)
    version = model_version(payload, "customer_value")
    result = StepResult()
    result.models["customer_value"] = SavedModelText(payload, card, "smbml-customer-value-1")
    ids = table["contact_id"]
    result.outputs["scores"] = pd.concat(
        [
            score_rows("contact", ids, "churn_risk", table["churn_risk"],
                       table["churn_risk"].map(_risk_label), reasons, version, context.as_of),
            *(
                score_rows("contact", ids, f"value_{m}m", t["expected_value"],
                           [f"{money(lo, cur)}-{money(hi, cur)}" for lo, hi in
                            zip(t["value_lo80"], t["value_hi80"], strict=True)],
                           reasons, version, context.as_of)
                for m, t in by_months.items()
            ),
            score_rows("contact", ids, "p_alive", table["p_alive"],
                       table["p_alive"].map(lambda p: f"{p:.0%}"), reasons, version,
                       context.as_of),
        ],
        ignore_index=True,
    )  # fmt: skip
    people = tables["contacts"].drop_duplicates("contact_id").set_index("contact_id")
    sheet = pd.DataFrame(
        {
            "contact_id": ids,
            "name": ids.map(contact_names(tables["contacts"])),
            "email": ids.map(people["email"]),
            "churn_risk": table["churn_risk"].round(3),
            "risk": table["churn_risk"].map(_risk_label),
            "chance_still_a_customer": table["p_alive"].round(3),
            # a seasonal shop's purchases are seasons bought in
            ("expected_purchases" if season is None else "expected_seasons"): table[
                "expected_purchases"
            ].round(2),
            **{f"expected_value_{m}m": t["expected_value"].round(2) for m, t in by_months.items()},
            "value_low_80": table["value_lo80"].round(2),
            "value_high_80": table["value_hi80"].round(2),
            "purchases_so_far": table["purchases_so_far"],
            **({} if season is None else {"seasons_bought": table["seasons_bought"]}),
            "spend_so_far": table["spend_so_far"].round(2),
            "why": ["; ".join(r) for r in reasons],
        }
    ).sort_values(f"expected_value_{months}m", ascending=False)
    result.add_tab(
        VALUE_TAB,
        sheet,
        f"Churn risk = chance of no purchase in {ahead}; value = expected "
        f"spend in that time with an 80% range; as of {as_of_words(context.as_of)}. "
        + (
            "Several orders on one day count as one day with an order (the Segments tab "
            "counts every order). "
            if season is None
            else f"Most orders fall between {season.words('and')} each year: each season "
            "counts as one chance to buy, and all of a customer's orders in it as one. "
        )
        + RISK_WORDS,
    )
    validation = card["validation"]
    rows = [
        {"model": MODEL_LABELS[name], "chosen": name == model.chosen_, **scores}
        for name, scores in validation.get("models", {}).items()
    ]
    if rows:
        result.add_tab(
            VALUE_MODEL_TAB,
            pd.DataFrame(rows).round(3),
            (
                "Each candidate predicted purchases (days with an order) in "
                f"{validation['holdout']} from the history before it; of the models that "
                "can be used, the one with the lowest root mean squared error per customer "
                "is. Naive (past rate) is a baseline shown beside them, never used: it gives "
                "no churn risk, no chance a customer is still there and no range."
                if season is None
                else "Each candidate predicted who would buy in "
                f"{validation['holdout']} from the seasons before it (a purchase is a season "
                "bought in); BG/BB is used, the naive share of seasons bought is shown beside "
                "it."
            )
            + "".join(f" {why}." for why in validation.get("barred", {}).values())
            + (f" {validation['baseline']}." if "baseline" in validation else ""),
        )
    high = table["churn_risk"].map(_risk_label) == "High"
    at_stake = float(table.loc[high, "spend_so_far"].sum())
    total_value = float(table["expected_value"].sum())
    ended = data_ends_early(tables["orders"], context.as_of)
    stale = (
        f" (the orders end on {ended:%Y-%m-%d}, long before {context.as_of:%Y-%m-%d}: these are "
        "risks and values as the data left them, not of today)"
        if ended is not None
        else ""
    )
    result.summary.append(
        f"Customer value: {money(total_value, cur)} expected from {plural(len(table), 'customer')} "
        f"in {f'{months} months' if season is None else ahead}; {int(high.sum())} at high "
        f"churn risk{stale}"
    )
    paragraphs = [
        f"Over {ahead} the {plural(len(table), 'customer')} are expected to "
        f"spend {money(total_value, cur)} in total. {int(high.sum()):,} "
        f"{'is' if int(high.sum()) == 1 else 'are'} at high risk of "
        f"not buying again (churn risk {HIGH_RISK:.0%} or more; they have spent "
        f"{money(at_stake, cur)} so far).{stale}",
        f"Model used: {validation['why']}.",
        *([] if season is None else [_season_words(season)]),
    ]
    # A missing total is counted, as a purchase of unknown value: said apart, with why.
    lost = model.skipped_[model.skipped_["column"] != "total"]
    if len(lost):
        paragraphs.append(
            f"{plural(len(lost), 'order')} could not be counted (no customer or date), e.g. "
            f"{_left_out_example(lost, tables['orders'], context.rejects)}."
        )
    unpriced = _unpriced_words(
        tables["orders"], context.as_of, cur, model.skipped_, context.rejects
    )
    if unpriced:
        paragraphs.append(unpriced)
    chosen = validation.get("models", {}).get(model.chosen_)
    if chosen:
        paragraphs.append(
            f"On that held-out period it predicted {chosen['total_predicted']:,.0f} purchases "
            + ("(days with an order)" if season is None else "(customers buying in that season)")
            + f" against {chosen['total_actual']:,.0f} that happened "
            f"({chosen['total_error_pct']:+.0f}%), and told buyers from non-buyers with an "
            f"AUC of {chosen['churn_auc']:.2f}."
        )
    if model.spend_ is not None:
        paragraphs.append(_spend_words(model, cur))
    result.sections.append(
        ReportSection(
            "Churn risk and customer value",
            paragraphs,
            [
                charts.histogram(
                    table["expected_value"].clip(upper=table["expected_value"].quantile(0.99)),
                    f"Expected spend per customer, {ahead.removeprefix('the ')} ({cur})",
                    cur,
                ),
                charts.histogram(
                    table["churn_risk"], "Churn risk per customer", "chance of no purchase"
                ),
            ],
            result.sheets.get(VALUE_MODEL_TAB.title),
        )
    )
    return result


def cluster_step(tables: Mapping[str, pd.DataFrame], context: StepContext) -> StepResult:
    features = customer_features(
        tables["orders"], tables.get("order_lines"), tables.get("products"), context.as_of
    )
    previous_text = context.previous_model("customer_clusters")
    previous = json.loads(previous_text) if previous_text else None
    model = CustomerClusters().fit(features, previous=previous)
    assigned = model.assign(features)
    profiles = model.profiles(features)
    payload = json.dumps(model.to_dict(), sort_keys=True)
    version = model_version(payload, "customer_clusters")
    result = StepResult()
    result.models["customer_clusters"] = SavedModelText(
        payload, model.card_, "smbml-customer-clusters-1"
    )
    result.outputs["scores"] = score_rows(
        "contact", assigned["contact_id"], "cluster", assigned["cluster"],
        assigned["cluster_name"], [[n] for n in assigned["cluster_name"]], version, context.as_of,
    )  # fmt: skip
    shown = profiles.copy()
    for c in shown.columns:
        if c.startswith("share") or c.endswith(" share"):
            shown[c] = shown[c].round(3)
    shown = shown.round({"median_days_since_order": 0, "median_spend": 2, "median_basket": 2})
    result.add_tab(
        CLUSTERS_TAB,
        shown,
        f"Customers grouped by behaviour as of {as_of_words(context.as_of)}; {model.card_['why']}.",
    )
    names = assigned.set_index("contact_id")["cluster_name"]
    members = pd.DataFrame(
        {
            "contact_id": features.index,
            "name": features.index.map(contact_names(tables["contacts"])),
            "cluster": names.reindex(features.index).to_numpy(),
            "orders": features["orders"].astype(int).to_numpy(),
            "spend": features["spend"].round(2).to_numpy(),
            "days_since_order": features["recency_days"].astype(int).to_numpy(),
        }
    ).sort_values(["cluster", "spend"], ascending=[True, False])
    result.add_tab(MEMBERS_TAB, members)
    top = profiles.sort_values("share_of_revenue", ascending=False).iloc[0]
    result.summary.append(
        f'Customer clusters: {plural(model.k_, "group")}; "{top["name"]}" bring '
        f"{top['share_of_revenue']:.0%} of revenue"
    )
    paragraphs = [
        f"Grouping customers by how recently, how often and how much they buy, how long they "
        f"have been customers and what they buy gives {model.k_} groups ({model.card_['why']}).",
        *[
            f"{r.name}: {plural(int(r.customers), 'customer')} "
            f"({r.share_of_customers:.0%}), "
            + (
                f"{r.share_of_revenue:.0%} of revenue."
                if pd.notna(r.share_of_revenue)
                else f"revenue unknown (no order with an amount in {context.currency})."
            )
            for r in profiles.itertuples(index=False)
        ],
    ]
    result.sections.append(
        ReportSection(
            "Customer clusters",
            paragraphs,
            [
                charts.bar_chart(
                    profiles["name"].tolist(),
                    profiles["customers"].tolist(),
                    "Customers per cluster",
                    "customers",
                )
            ],
            shown[PROFILE_COLUMNS],
        )
    )
    return result


def _off_sale_words(retired: set[str], names: Mapping[str, str]) -> str:
    shown = sorted(names.get(p, p) for p in retired)
    listed = ", ".join(shown[:5]) + (f" and {len(shown) - 5} more" if len(shown) > 5 else "")
    return (
        f"{plural(len(retired), 'product')} not for sale now ({listed}): marked so in your "
        "products list (archived, a draft, discontinued or inactive), or not bought by "
        f"anyone for {OFF_SALE_WEEKS} weeks or more, longer than ever before"
    )


def _sold_out(products: pd.DataFrame) -> set[str]:
    """Products the shop's own list says cannot be ordered now (`in_stock` no: Shopify's
    stock at 0 with its inventory policy "deny"): suggested to no one until they are back."""
    if "in_stock" not in products.columns:
        return set()
    flag = products["in_stock"].astype("boolean").eq(False).fillna(False).to_numpy()
    return set(products.loc[flag, "product_id"].astype(str))


def _nothing_to_suggest(model: CoPurchaseRecommender, left_out: set[str]) -> str:
    """Why no customer got a suggestion, in the shop's own counts: where no product has
    `MIN_SHARED_BUYERS` buyers, that (a shop of 12 customers each buying one of 6
    products was told everyone had bought every product)."""
    offered = ~model.products_.isin(list(left_out))
    buyers = model.popularity_[offered]
    enough = int((buyers >= MIN_SHARED_BUYERS).sum())
    if not enough:
        most = int(buyers.max()) if len(buyers) else 0
        return (
            f"no product still selling was bought by {MIN_SHARED_BUYERS} or more customers "
            f"(the most any was bought by is {most}), and a suggestion needs "
            f"{MIN_SHARED_BUYERS} customers who bought both products, or a best seller "
            f"{MIN_SHARED_BUYERS} buyers; fewer are a coincidence"
        )
    return (
        f"every customer has already bought (or sent back) every one of the "
        f"{plural(enough, 'product')} still selling that {MIN_SHARED_BUYERS} or more "
        "customers bought, so there is nothing new to suggest"
    )


def _not_stale(orders: pd.DataFrame, as_of: pd.Timestamp, selling: bool) -> None:
    """Data that stopped long before the run's date makes every product look off sale
    (no one bought it for weeks): said as that, not as the products list's doing."""
    ended = data_ends_early(orders, as_of)
    if ended is None or selling:
        return
    weeks = int((as_of - ended) / pd.Timedelta(weeks=1))
    raise NotEnoughDataError(
        f"the newest sale is dated {ended:%Y-%m-%d}, {weeks} weeks before the run's date "
        f"({as_of:%Y-%m-%d}), so every product counts as off sale and none can be suggested. "
        f"Load newer orders, or set as_of in [analytics] to {ended:%Y-%m-%d}"
    )


def next_product_step(tables: Mapping[str, pd.DataFrame], context: StepContext) -> StepResult:
    if tables.get("order_lines") is None or tables["order_lines"].empty:
        raise NotEnoughDataError("no order lines: next best product needs what people bought")
    purchases = purchases_by_customer(tables["orders"], tables["order_lines"], context.as_of)
    returned = returned_by_customer(tables["orders"], tables["order_lines"], context.as_of)
    products = tables.get("products", pd.DataFrame(columns=["product_id", "name"]))
    names = {
        str(k): str(v)
        for k, v in products.dropna(subset=["name"]).set_index("product_id")["name"].items()
    }
    # Gift cards and free products (samples) are no one's next purchase, nor what one is
    # "often bought with": a $0 sticker in every first order was the reason given for half
    # of a shop's suggestions, though it says nothing of what goes with what.
    free = not_a_next_product(products, tables["order_lines"])
    purchases = purchases[~purchases["product_id"].isin(list(free))]
    model = CoPurchaseRecommender().fit(purchases)
    sold = context.sold if context.sold is not None else purchases
    retired = off_sale(sold, context.as_of, tables.get("products"))
    _not_stale(tables["orders"], context.as_of, bool(set(model.products_) - retired))
    unsuggested = free - retired
    sold_out = _sold_out(products) - retired - unsuggested
    left_out = retired | unsuggested | sold_out
    picks = model.recommend(3, names, never=returned, retired=left_out, variants=products)
    if picks.empty:
        raise NotEnoughDataError(
            _nothing_to_suggest(model, left_out)
            + (f" ({_off_sale_words(retired, names)})" if retired else "")
        )
    result = StepResult()
    first = picks[picks["rank"] == 1].set_index("contact_id")
    lists = picks.groupby("contact_id")["product"].agg(list)
    reasons = [[first.loc[c, "reason"], *[f"Also: {p}" for p in lists[c][1:]]] for c in first.index]
    version = model_version(
        json.dumps({"products": list(model.products_), "customers": len(model.customers_)}),
        "next_product",
    )
    result.outputs["scores"] = score_rows(
        "contact", pd.Series(first.index), "next_product", first["score"].fillna(0.0),
        first["product"], reasons, version, context.as_of,
    )  # fmt: skip
    shown = picks.assign(
        name=picks["contact_id"].map(contact_names(tables["contacts"])),
        score=picks["score"].round(3),
    )
    result.add_tab(
        NEXT_TAB,
        NEXT_TAB.select(shown),
        "Up to three products each customer has not bought yet, from what people who bought "
        f"the same things also bought (by {MIN_SHARED_BUYERS} or more of the same customers, "
        "and more often than other customers did); best sellers where there is no such "
        "signal. A product the customer returned is never suggested to them, nor another "
        "size or colour of a product they bought (only another value of an option they "
        "already bought several of, such as a third colour), nor a gift card or voucher or a "
        "free product (never sold at a price; neither is a reason either), one out of stock "
        "that the shop does not sell out of stock (Shopify's stock at 0 with inventory "
        "policy deny), or one not for sale "
        "now (marked so in the products list: archived, a draft, discontinued or inactive; or "
        "bought by no one for 13 weeks, longer than ever before and longer than the whole "
        "shop went without a sale); cancelled orders count as not placed.",
    )
    paragraphs = [
        f"Suggestions for {plural(picks['contact_id'].nunique(), 'customer')} from "
        f"{plural(len(model.products_), 'product')} bought together."
    ]
    if retired:
        paragraphs.append(f"Not suggested: {_off_sale_words(retired, names)}.")
    if sold_out:
        shown = sorted(names.get(p, p) for p in sold_out)
        paragraphs.append(
            f"Not suggested while out of stock: {', '.join(shown[:5])}"
            + (f" and {len(shown) - 5} more" if len(shown) > 5 else "")
            + " (no stock, and your products list says not to sell them without)."
        )
    if unsuggested:
        shown = sorted(names.get(p, p) for p in unsuggested)
        paragraphs.append(
            f"Not suggested as anyone's next product: {', '.join(shown[:5])}"
            + (f" and {len(shown) - 5} more" if len(shown) > 5 else "")
            + " (gift cards, vouchers and free products)."
        )
    try:
        check = hit_rate_at_k(purchases, returned=returned)
        paragraphs.append(
            f"Checked on each customer's last order: a top-3 suggestion was among the new "
            f"products they bought {check['hit_rate']:.0%} of the time, against "
            f"{check['most_popular_hit_rate']:.0%} for simply suggesting best sellers "
            f"({plural(check['customers'], 'customer')})."
        )
    except NotEnoughDataError as why:
        paragraphs.append(f"Not checked on past orders: {why}.")
    counts = picks[picks["rank"] == 1]["product"].value_counts().head(10)
    result.summary.append(
        f"Next best product: suggestions for {plural(len(first), 'customer')}; most often "
        f"{counts.index[0]}"
    )
    result.sections.append(
        ReportSection(
            "Next best product",
            paragraphs,
            [
                charts.bar_chart(
                    counts.index.tolist(),
                    counts.to_numpy(dtype=float).tolist(),
                    "Most suggested first products",
                    "customers",
                )
            ],
            None,
        )
    )
    return result


# The number held, with its horizon: read as "has stopped buying", a 56% beside an 85%
# chance still a customer told a rep the odds that the customer had already left.
CHURN_RISK_MEANS = (
    "Chance, in percent, that this customer buys nothing in the next 12 months (the "
    "horizon_days setting; the next season in a shop that sells in one season a year): "
    "Churn risk on the Customer value tab. Not the chance they have already stopped buying."
)
CHURN_VALUE = Step(
    "churn_value", title="Churn risk and customer value", needs=("orders",), personal=True,
    needs_amounts=True, run=churn_value_step, reads=("contacts",),
    outputs=StepOutputs(
        tables=(SCORES,),
        tabs=(VALUE_TAB, VALUE_MODEL_TAB),
        properties=(
            CrmProperty("contacts", "smbml_churn_risk", "Churn risk % (SMB ML)", "number",
                        "number", CHURN_RISK_MEANS,
                        "scores", percent_of("contact", "churn_risk")),
            CrmProperty("contacts", "smbml_value_12m", "Expected 12-month value (SMB ML)",
                        "number", "number",
                        "What this customer is expected to spend in the next 12 months.",
                        "scores", score_of("contact", "value_12m"), money=True),
        ),
    ),
    settings=CustomersSettings,
)  # fmt: skip
CUSTOMER_CLUSTERS = Step(
    "customer_clusters", title="Customer clusters", needs=("orders",), personal=True,
    needs_amounts=True, run=cluster_step, reads=("order_lines", "products", "contacts"),
    outputs=StepOutputs(tables=(SCORES,), tabs=(CLUSTERS_TAB, MEMBERS_TAB)),
)  # fmt: skip
NEXT_PRODUCT = Step(
    "next_product", title="Next best product", needs=("orders", "order_lines"), personal=True,
    run=next_product_step, reads=("products", "contacts"),
    outputs=StepOutputs(
        tables=(SCORES,),
        tabs=(NEXT_TAB,),
        properties=(
            CrmProperty("contacts", "smbml_next_product", "Next best product (SMB ML)", "string",
                        "text", "The product this customer is most likely to buy next.",
                        "scores", score_of("contact", "next_product", "label")),
        ),
    ),
)  # fmt: skip
