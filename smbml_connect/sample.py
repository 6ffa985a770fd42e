"""A seeded, believable small business with known ground truth.

A coffee and tea roaster that sells online and to a few wholesale accounts. Contacts
arrive from lead sources with different conversion rates; a hidden interest level
drives both their engagement (timestamped activities) and whether they buy. Engagement
keeps growing after someone becomes a customer, so a model trained on today's totals
leaks the label; that trap is deliberate. Customers buy by a buy-till-you-die process
(a Poisson purchase rate and a chance to drop out after each purchase) shaped by weekly
and yearly seasonality and growth. Each product's units per visit follow a constant
elasticity in its own effective price, with occasional list-price changes and
promotions so that elasticity can be estimated. Everything drawn is returned as truth.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.special import gammainc

__all__ = [
    "SampleBusiness",
    "SampleConfig",
    "as_it_looked",
    "generate",
    "messy_export",
    "true_conversion_chance",
]

LEAD_SOURCES = {  # share of new contacts, conversion log-odds offset
    "referral": (0.10, 0.35),
    "organic_search": (0.22, -0.55),
    "paid_search": (0.20, -0.95),
    "social": (0.17, -1.55),
    "email": (0.12, -0.45),
    "event": (0.08, 0.05),
    "direct": (0.11, -0.75),
}
# Days from creation to conversion for those who will convert: 1 + Gamma(shape, scale).
DAYS_TO_CONVERT = (2.0, 11.0)
INDUSTRIES = {"Cafe": 0.35, "Restaurant": 0.1, "Office": 0.1, "Retail": -0.1, "Home": -0.25}
COUNTRIES = {"US": 0.45, "GB": 0.15, "CA": 0.10, "DE": 0.10, "AU": 0.08, "FR": 0.07, "NL": 0.05}
# kind: (daily rate before converting, daily rate as a customer, rate once gone cold)
ACTIVITY_RATES = {
    "page_view": (0.30, 0.10, 0.006),
    "email_open": (0.12, 0.06, 0.004),
    "email_click": (0.035, 0.015, 0.001),
    "form_submission": (0.012, 0.002, 0.0002),
    "meeting": (0.004, 0.0005, 0.0),
}
CATEGORIES = {  # name: (products, price range, mean elasticity, December boost)
    "Coffee beans": (9, (11.0, 24.0), -1.5, 0.25),
    "Tea": (6, (7.0, 16.0), -1.2, 0.35),
    "Brewing gear": (7, (22.0, 120.0), -2.0, 0.6),
    "Accessories": (6, (5.0, 19.0), -1.7, 0.4),
    "Gift sets": (4, (35.0, 75.0), -2.4, 1.6),
}
PRODUCT_NAMES = {
    "Coffee beans": [
        "House Blend", "Espresso Roast", "Colombia Huila", "Ethiopia Yirgacheffe",
        "Decaf Swiss Water", "Guatemala Antigua", "Sumatra Mandheling", "Kenya AA",
        "Brazil Santos",
    ],
    "Tea": ["Earl Grey", "Sencha", "Assam Breakfast", "Chamomile", "Masala Chai", "Oolong"],
    "Brewing gear": [
        "Pour-over Dripper", "French Press", "Burr Grinder", "Gooseneck Kettle",
        "Cold Brew Jar", "Moka Pot", "Espresso Tamper Kit",
    ],
    "Accessories": [
        "Paper Filters", "Travel Mug", "Milk Frother", "Coffee Scoop", "Tea Infuser",
        "Storage Canister",
    ],
    "Gift sets": ["Taster Box", "Tea Lover's Set", "Barista Starter Kit", "Holiday Hamper"],
}  # fmt: skip
FIRST_NAMES = (
    "Ava Ben Chloe Dan Ella Finn Grace Hugo Isla Jack Kara Liam Maya Noah Olga Pia "
    "Quinn Raj Sara Tom Uma Vik Wen Xena Yusuf Zoe Ana Bruno Clara Diego Emma Felix "
    "Hana Ivan Jun Lena Marco Nina Omar Priya Rosa Sam Tara Ugo Vera Will"
).split()
LAST_NAMES = (
    "Smith Jones Brown Garcia Miller Davis Wilson Taylor Clark Lewis Walker Young "
    "King Wright Lopez Hill Green Adams Baker Nelson Carter Mitchell Perez Roberts "
    "Turner Phillips Campbell Parker Evans Edwards Collins Stewart Morris Murphy "
    "Cook Rogers Morgan Cooper"
).split()
DEAL_STAGES_OPEN = ["appointmentscheduled", "qualifiedtobuy", "presentationscheduled",
                    "decisionmakerboughtin", "contractsent"]  # fmt: skip
# How many open stages a deal that will be lost reaches, closed yet or not.
LOST_REACH, LOST_P = [1, 2, 3, 4], [0.4, 0.3, 0.2, 0.1]
WEEKDAY_FACTOR = np.array([1.12, 1.05, 1.0, 1.0, 0.95, 0.86, 1.02])


@dataclass(frozen=True)
class SampleConfig:
    """Knobs of the sample; the defaults make the demo business."""

    seed: int = 7
    contacts: int = 2000
    end: str = "2026-10-31"
    years: float = 3.0
    opt_out_rate: float = 0.04
    mean_purchase_rate_per_week: float = 0.16
    units_per_visit: float = 3.0
    # Raise list prices 12% from mid-November to January, the busy season: a confounder
    # that makes a model without seasonal controls think buyers like higher prices.
    seasonal_pricing: bool = False


@dataclass
class SampleBusiness:
    """Canonical tables plus the truth they were drawn from."""

    tables: dict[str, pd.DataFrame]
    truth: dict[str, pd.DataFrame]
    as_of: pd.Timestamp
    config: SampleConfig = field(default_factory=SampleConfig)


def generate(config: SampleConfig | None = None) -> SampleBusiness:
    """Draw the whole business from ``config.seed``; the same seed gives the same frames."""
    config = config or SampleConfig()
    rng = np.random.default_rng(config.seed)
    end = pd.Timestamp(config.end, tz="UTC")
    start = end - pd.Timedelta(days=round(365.25 * config.years))
    contacts, contact_truth = _contacts(rng, config, start, end)
    activities = _activities(rng, contacts, contact_truth, end)
    products, price_book, product_truth = _products(rng, start, end, config.seasonal_pricing)
    orders, lines, customer_truth = _orders(
        rng, config, contact_truth, products, price_book, product_truth, start, end
    )
    deals, associations, deal_truth = _deals(rng, contacts, contact_truth, end)
    deal_stages = _stage_history(np.random.default_rng((config.seed, 17)), deals, deal_truth, end)
    _summarise_engagement(contacts, activities, contact_truth, deals)
    tables = {
        "contacts": contacts,
        "deals": deals,
        "deal_stages": deal_stages,
        "orders": orders,
        "order_lines": lines,
        "products": products,
        "associations": associations,
        "activities": activities,
    }
    for frame in tables.values():
        frame["source"] = "sample"
    truth = {
        "contacts": contact_truth,
        "customers": customer_truth,
        "products": product_truth,
        "deals": deal_truth,
        "prices": price_book,
    }
    return SampleBusiness(tables, truth, end, config)


def _pick(rng: np.random.Generator, options: dict[str, float] | list[str], n: int) -> np.ndarray:
    if isinstance(options, dict):
        names = list(options)
        weights = np.array(list(options.values()), dtype=float)
        return rng.choice(names, size=n, p=weights / weights.sum())
    return rng.choice(options, size=n)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _contacts(
    rng: np.random.Generator, config: SampleConfig, start: pd.Timestamp, end: pd.Timestamp
) -> tuple[pd.DataFrame, pd.DataFrame]:
    n = config.contacts
    span = (end - start).total_seconds()
    # Growth: sign-up density rises linearly by g = 50% over the period; inverse CDF.
    g, u = 0.5, rng.uniform(size=n)
    frac = np.clip((-1 + np.sqrt(1 + 2 * g * u * (1 + g / 2))) / g, 0, 1)
    created = start + pd.to_timedelta(np.sort(frac) * span * 0.995, unit="s")
    sources = _pick(rng, {k: v[0] for k, v in LEAD_SOURCES.items()}, n)
    industries = _pick(rng, dict.fromkeys(INDUSTRIES, 1.0), n)
    countries = _pick(rng, COUNTRIES, n)
    interest = rng.normal(size=n)
    logit = (
        np.array([LEAD_SOURCES[s][1] for s in sources])
        + np.array([INDUSTRIES[i] for i in industries])
        + 1.25 * interest
        - 0.2
    )
    propensity = _sigmoid(logit)
    will_convert = rng.uniform(size=n) < propensity
    days_to_convert = rng.gamma(*DAYS_TO_CONVERT, size=n) + 1.0
    # NaT by `where` rather than NaN days: pandas rounds its buffer's unset NaN slots too
    # and numpy warned "overflow encountered in multiply" on the garbage left there.
    wait = pd.to_timedelta(np.where(will_convert, days_to_convert, 0.0), "D").where(will_convert)
    converted_at = created + wait
    converted_by_end = will_convert & (converted_at <= end)
    first = _pick(rng, FIRST_NAMES, n)
    last = _pick(rng, LAST_NAMES, n)
    ids = np.array([f"C{i + 1:05d}" for i in range(n)])
    suffix = _pick(rng, ["Coffee", "Cafe", "Kitchen", "& Co", "Roasters", "Deli", "Ltd"], n)
    company = np.where(
        np.isin(industries, ["Home"]),
        np.array(None, dtype=object),
        [f"{ln} {s}" for ln, s in zip(last, suffix, strict=True)],
    )
    domains = _pick(rng, ["example.com", "mail.test", "inbox.test", "post.example"], n)
    emails = [
        f"{f.lower()}.{ln.lower()}{i % 97}@{d}"
        for i, (f, ln, d) in enumerate(zip(first, last, domains, strict=True))
    ]
    contacts = pd.DataFrame(
        {
            "contact_id": ids,
            "email": emails,
            "first_name": first,
            "last_name": last,
            "company": company,
            "lifecycle_stage": None,
            "lead_source": sources,
            "country": countries,
            "industry": industries,
            "created_at": created,
            "updated_at": pd.NaT,
            "last_activity_at": pd.NaT,
            "page_views": 0,
            "sessions": 0,
            "email_opens": 0,
            "email_clicks": 0,
            "form_submissions": 0,
            "marketing_consent": rng.uniform(size=n) >= config.opt_out_rate,
        }
    )
    truth = pd.DataFrame(
        {
            "contact_id": ids,
            "interest": interest,
            "propensity": propensity,
            "will_convert": will_convert,
            "converted_at": converted_at.where(will_convert),
            "converted_by_end": converted_by_end,
            "created_at": created,
        }
    )
    return contacts, truth


def _activities(
    rng: np.random.Generator, contacts: pd.DataFrame, truth: pd.DataFrame, end: pd.Timestamp
) -> pd.DataFrame:
    """Engagement in three phases: warming up, as a customer, and gone cold."""
    created = truth["created_at"]
    converted = truth["converted_at"].where(truth["converted_by_end"])
    warm_end = converted.fillna(created + pd.Timedelta(days=60)).clip(upper=end)
    boost = np.exp(0.8 * truth["interest"].to_numpy())
    phases = [
        (created, warm_end, 0, boost),
        (converted.fillna(end), pd.Series(end, index=created.index), 1, np.ones(len(created))),
        (
            warm_end.where(converted.isna(), end),
            pd.Series(end, index=created.index),
            2,
            np.ones(len(created)),
        ),
    ]
    pieces = []
    for begin, finish, phase, scale in phases:
        days = ((finish - begin).dt.total_seconds() / 86400).clip(lower=0).to_numpy()
        for kind, rates in ACTIVITY_RATES.items():
            counts = rng.poisson(rates[phase] * scale * days)
            who = np.repeat(np.arange(len(days)), counts)
            offsets = rng.uniform(size=who.size) * days[who]
            naive = begin.dt.tz_convert(None).to_numpy()
            times = naive[who] + pd.to_timedelta(offsets, unit="D").to_numpy()
            pieces.append(pd.DataFrame({"i": who, "occurred_at": times, "kind": kind}))
    acts = pd.concat(pieces, ignore_index=True)
    acts["occurred_at"] = pd.to_datetime(acts["occurred_at"], utc=True).dt.floor("s")
    acts["contact_id"] = contacts["contact_id"].to_numpy()[acts["i"]]
    acts = acts.drop_duplicates(["contact_id", "occurred_at", "kind"])
    acts = acts.sort_values(["contact_id", "occurred_at", "kind"], ignore_index=True)
    return acts[["contact_id", "occurred_at", "kind"]]


def _products(
    rng: np.random.Generator, start: pd.Timestamp, end: pd.Timestamp, seasonal: bool = False
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Products, their weekly price book (list price and promotion) and true elasticities."""
    weeks = pd.date_range(start.normalize(), end, freq="7D")
    rows, book, truth = [], [], []
    number = 0
    for category, (count, (low, high), mean_e, _) in CATEGORIES.items():
        for name in PRODUCT_NAMES[category][:count]:
            number += 1
            pid = f"P{number:03d}"
            base = round(float(rng.uniform(low, high))) - 0.01
            elasticity = float(np.clip(mean_e + rng.normal(0, 0.35), -3.5, -0.4))
            if number in (5, 17):  # two staples whose demand barely reacts to price
                elasticity = float(rng.uniform(-0.75, -0.45))
            varies = number % 7 != 3  # a few products never change price: thin evidence
            list_price = np.full(len(weeks), base)
            discount = np.zeros(len(weeks))
            if varies:
                for _ in range(rng.integers(1, 4)):
                    when = rng.integers(8, len(weeks) - 4)
                    list_price[when:] *= 1 + rng.choice([-1, 1]) * rng.uniform(0.04, 0.15)
                for _ in range(rng.poisson(3.5 * len(weeks) / 52)):
                    when = rng.integers(0, len(weeks) - 2)
                    discount[when : when + rng.integers(1, 3)] = rng.choice([0.1, 0.15, 0.2, 0.25])
            if varies and seasonal:
                busy = (weeks.day_of_year >= 319) | (weeks.day_of_year <= 31)
                list_price = list_price * np.where(busy, 1.12, 1.0)
            list_price = np.round(list_price) - 0.01
            book.append(
                pd.DataFrame(
                    {"product_id": pid, "week": weeks, "list_price": list_price,
                     "discount": discount}
                )
            )  # fmt: skip
            margin = rng.uniform(0.35, 0.6)
            rows.append(
                {
                    "product_id": pid,
                    "name": name,
                    "price": float(list_price[-1]),
                    "unit_cost": None if number % 11 == 4 else round(base * margin, 2),
                    "category": category,
                }
            )
            truth.append(
                {
                    "product_id": pid,
                    "category": category,
                    "elasticity": elasticity,
                    "reference_price": base,
                    "has_price_variation": varies,
                    "unit_cost": round(base * margin, 2),
                }
            )
    return pd.DataFrame(rows), pd.concat(book, ignore_index=True), pd.DataFrame(truth)


def _season(
    times: pd.DatetimeIndex, start: pd.Timestamp, december_boost: float = 0.0
) -> np.ndarray:
    """Yearly shape (summer dip, December peak), weekly shape and 18%-a-year growth."""
    doy = times.day_of_year.to_numpy()
    yearly = (
        1
        + 0.18 * np.cos(2 * np.pi * (doy - 15) / 365.25)
        - 0.12 * np.exp(-(((doy - 200) / 30) ** 2))
    )
    yearly = yearly + december_boost * np.exp(-(((doy - 350) / 14) ** 2))
    weekly = WEEKDAY_FACTOR[times.day_of_week.to_numpy()]
    growth = 1 + 0.18 * (times - start).days.to_numpy() / 365.25
    return yearly * weekly * growth


def _orders(
    rng: np.random.Generator,
    config: SampleConfig,
    contact_truth: pd.DataFrame,
    products: pd.DataFrame,
    price_book: pd.DataFrame,
    product_truth: pd.DataFrame,
    start: pd.Timestamp,
    end: pd.Timestamp,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    buyers = contact_truth[contact_truth["converted_by_end"]].reset_index(drop=True)
    shape = 1.6
    rate = rng.gamma(shape, config.mean_purchase_rate_per_week / shape, size=len(buyers))
    dropout = rng.beta(0.9, 7.0, size=len(buyers))
    bound = 1.6 * 1.12 * 1.6  # upper bound of the seasonal factor, for thinning
    visits, customer_rows = [], []
    for i, row in buyers.iterrows():
        first = row["converted_at"]
        weeks = (end - first).total_seconds() / 604800
        n = rng.poisson(rate[i] * bound * weeks)
        times = first + pd.to_timedelta(np.sort(rng.uniform(0, weeks, n)) * 7, unit="D")
        keep = rng.uniform(size=n) < _season(pd.DatetimeIndex(times), start) / bound
        times = pd.DatetimeIndex([first]).append(pd.DatetimeIndex(times[keep]))
        lifetime = rng.geometric(dropout[i])  # purchases before dropping out, first included
        alive = lifetime > len(times)
        times = times[:lifetime]
        visits.append(pd.DataFrame({"contact_id": row["contact_id"], "ordered_at": times}))
        customer_rows.append(
            {
                "contact_id": row["contact_id"],
                "purchase_rate_per_week": rate[i],
                "dropout_probability": dropout[i],
                "alive_at_end": bool(alive),
                "dropped_out_at": pd.NaT if alive else times[-1],
            }
        )
    trips = pd.concat(visits, ignore_index=True)
    trips["ordered_at"] = pd.to_datetime(trips["ordered_at"], utc=True).dt.floor("s")
    lines = _basket_lines(rng, config, trips, buyers, price_book, product_truth, start)
    trips["order_id"] = [f"O{i + 1:06d}" for i in range(len(trips))]
    lines["order_id"] = trips["order_id"].to_numpy()[lines["trip"]]
    lines = lines[["order_id", "product_id", "quantity", "unit_price", "discount"]]
    lines["line_no"] = lines.groupby("order_id").cumcount() + 1
    value = lines["quantity"] * lines["unit_price"] * (1 - lines["discount"])
    totals = value.groupby(lines["order_id"]).sum().round(2)
    orders = trips[trips["order_id"].isin(totals.index)].copy()  # empty baskets: no order
    orders["total"] = orders["order_id"].map(totals)
    orders["currency"] = "USD"
    orders["status"] = rng.choice(
        ["completed", "refunded", "cancelled"], size=len(orders), p=[0.975, 0.015, 0.01]
    )
    orders = orders[["order_id", "contact_id", "ordered_at", "total", "currency", "status"]]
    line_cols = ["order_id", "line_no", "product_id", "quantity", "unit_price", "discount"]
    return (
        orders.reset_index(drop=True),
        lines[line_cols].reset_index(drop=True),
        pd.DataFrame(customer_rows),
    )


def _basket_lines(
    rng: np.random.Generator,
    config: SampleConfig,
    trips: pd.DataFrame,
    buyers: pd.DataFrame,
    price_book: pd.DataFrame,
    product_truth: pd.DataFrame,
    start: pd.Timestamp,
) -> pd.DataFrame:
    """Units of each product per visit: Poisson with constant elasticity in effective price."""
    pids = product_truth["product_id"].to_numpy()
    categories = product_truth["category"].to_numpy()
    cat_names = list(CATEGORIES)
    taste = rng.dirichlet(np.full(len(cat_names), 1.5), size=len(buyers)) * len(cat_names)
    taste_index = dict(zip(buyers["contact_id"], range(len(buyers)), strict=True))
    popularity = rng.lognormal(0, 0.5, size=len(pids))
    kappa = config.units_per_visit * popularity / popularity.sum()
    stamps = pd.DatetimeIndex(trips["ordered_at"])
    week = np.clip(((stamps - start).days.to_numpy() // 7), 0, None)
    book = price_book.pivot(index="week", columns="product_id")
    list_price = book["list_price"][pids].to_numpy()
    discount = book["discount"][pids].to_numpy()
    week = np.clip(week, 0, len(list_price) - 1)
    effective = list_price[week] * (1 - discount[week])
    reference = product_truth["reference_price"].to_numpy()
    elasticity = product_truth["elasticity"].to_numpy()
    cat_col = np.array([cat_names.index(c) for c in categories])
    boosts = np.array([CATEGORIES[c][3] for c in cat_names])
    doy = stamps.day_of_year.to_numpy()
    december = np.exp(-(((doy - 350) / 14) ** 2))
    seasonal = 1 + boosts[cat_col][None, :] * december[:, None]
    who = trips["contact_id"].map(taste_index).to_numpy()
    mean = (
        kappa[None, :]
        * taste[who][:, cat_col]
        * seasonal
        * (effective / reference[None, :]) ** elasticity[None, :]
    )
    units = rng.poisson(mean)
    trip, product = np.nonzero(units)
    return pd.DataFrame(
        {
            "trip": trip,
            "product_id": pids[product],
            "quantity": units[trip, product].astype(float),
            "unit_price": list_price[week[trip], product],
            "discount": discount[week[trip], product],
        }
    )


def _deal_owner_name(contacts: pd.DataFrame, i: int | np.integer) -> str:
    """The company, or for a home buyer (no company) the last name: never "nan"."""
    company = contacts["company"].iloc[i]
    return (
        str(company) if isinstance(company, str) and company else str(contacts["last_name"].iloc[i])
    )


def _deals(
    rng: np.random.Generator, contacts: pd.DataFrame, truth: pd.DataFrame, end: pd.Timestamp
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Wholesale-style deals: won when the contact converts, lost for keen non-buyers and
    some warm ones.

    The same process runs over the whole period, so the deals open at the end are the
    ones whose close falls after it and look like past deals did at their age: a model
    learnt from closed deals can be checked against `will_win` on them.
    """
    n = len(truth)
    u = rng.uniform(size=n)
    converted = truth["converted_by_end"].to_numpy()
    will_convert = truth["will_convert"].to_numpy()
    keen = (truth["interest"].to_numpy() > 0.6) & ~will_convert
    warm = (truth["interest"].to_numpy() > -0.2) & ~keen & ~will_convert
    has_deal = (will_convert & (u < 0.55)) | (keen & (u < 0.75))
    has_deal |= warm & (u < 0.12)
    rows: list[dict[str, object]] = []
    truth_rows: list[dict[str, object]] = []
    for i in np.flatnonzero(has_deal):
        created_contact = truth["created_at"].iloc[i]
        amount = float(np.round(rng.lognormal(7.4, 0.6), -1))
        pipeline = "wholesale" if rng.uniform() < 0.2 else "default"
        if pipeline == "wholesale":
            amount *= 3
        if will_convert[i]:  # won when the contact converts, which may be after the end
            closed = truth["converted_at"].iloc[i]
            opened = max(created_contact, closed - pd.Timedelta(days=float(rng.uniform(7, 45))))
            if converted[i]:
                stage, is_closed, won = "closedwon", True, True
            else:  # still open: _stage_history sets how far along it is
                stage, is_closed, won = DEAL_STAGES_OPEN[0], False, False
        else:
            opened = created_contact + pd.Timedelta(days=float(rng.uniform(3, 30)))
            closed = opened + pd.Timedelta(days=float(rng.uniform(14, 70)))
            if rng.uniform() < 0.3:  # left to go stale until someone tidies the pipeline
                closed += pd.Timedelta(days=float(rng.uniform(30, 150)))
            if closed <= end:
                stage, is_closed, won = "closedlost", True, False
            else:  # still open: _stage_history sets how far along it is
                stage, is_closed, won = DEAL_STAGES_OPEN[0], False, False
        if opened > end:
            continue
        deal_id = f"D{len(rows) + 1:05d}"
        rows.append(
            {
                "deal_id": deal_id,
                "name": f"{_deal_owner_name(contacts, i)} order",
                "amount": amount,
                "currency": "USD",
                "pipeline": pipeline,
                "stage": stage,
                "is_closed": is_closed,
                "is_won": won,
                "created_at": opened.floor("s"),
                "close_date": closed.normalize() if is_closed else (end + pd.Timedelta(
                    days=float(rng.uniform(10, 60)))).normalize(),
                "closed_at": closed.floor("s") if is_closed else pd.NaT,
                "owner_id": f"owner-{rng.integers(1, 6)}",
                "contact_id": contacts["contact_id"].iloc[i],
            }
        )  # fmt: skip
        truth_rows.append(
            {
                "deal_id": deal_id,
                "will_win": bool(truth["will_convert"].iloc[i]),
                "closes_at": closed,  # for open deals: after the end
            }
        )
    deals = pd.DataFrame(rows)
    associations = pd.DataFrame(
        {
            "from_type": "deal",
            "from_id": deals["deal_id"],
            "to_type": "contact",
            "to_id": deals["contact_id"],
        }
    )
    return deals, associations, pd.DataFrame(truth_rows)


def _stage_history(
    rng: np.random.Generator, deals: pd.DataFrame, truth: pd.DataFrame, end: pd.Timestamp
) -> pd.DataFrame:
    """When each deal entered each stage: won deals pass every stage, lost ones stall early.

    Stages are spread over a deal's whole life, to its close, whether that is before the
    end or after it: an open deal shows the stages it has entered so far (and its
    `stage` is set to the last of them), so it looks as a closed deal did at its age.
    """
    closes = truth.set_index("deal_id")["closes_at"]
    wins = truth.set_index("deal_id")["will_win"]
    rows, current = [], {}
    for deal in deals.itertuples(index=False):
        if wins[deal.deal_id]:
            reached = len(DEAL_STAGES_OPEN)
        else:
            reached = int(rng.choice(LOST_REACH, p=LOST_P))
        span = (closes[deal.deal_id] - deal.created_at).total_seconds()
        offsets = np.sort(rng.uniform(0.05, 0.95, reached - 1)) * span
        moments = [deal.created_at] + [
            deal.created_at + pd.Timedelta(seconds=float(o)) for o in offsets
        ]
        stages = DEAL_STAGES_OPEN[:reached]
        if deal.is_closed:
            stages, moments = [*stages, deal.stage], [*moments, deal.closed_at]
        else:
            seen = sum(m <= end for m in moments)
            stages, moments = stages[:seen], moments[:seen]
            current[deal.deal_id] = stages[-1]
        rows += [
            {"deal_id": deal.deal_id, "stage": stage, "entered_at": moment.floor("s")}
            for stage, moment in zip(stages, moments, strict=True)
        ]
    still_open = deals["deal_id"].isin(current)
    deals.loc[still_open, "stage"] = deals.loc[still_open, "deal_id"].map(current)
    return pd.DataFrame(rows, columns=["deal_id", "stage", "entered_at"])


def _summarise_engagement(
    contacts: pd.DataFrame, activities: pd.DataFrame, truth: pd.DataFrame, deals: pd.DataFrame
) -> None:
    """Fill the CRM-style totals as of the end date: exactly the leaky 'today' numbers."""
    counts = activities.pivot_table(
        index="contact_id", columns="kind", values="occurred_at", aggfunc="count", fill_value=0
    )
    ids = contacts["contact_id"]
    for column, kind in (
        ("page_views", "page_view"),
        ("email_opens", "email_open"),
        ("email_clicks", "email_click"),
        ("form_submissions", "form_submission"),
    ):
        contacts[column] = ids.map(counts.get(kind, pd.Series(dtype=int))).fillna(0).astype(int)
    days = (
        activities[activities["kind"] == "page_view"]
        .assign(day=lambda f: f["occurred_at"].dt.floor("D"))
        .groupby("contact_id")["day"]
        .nunique()
    )
    contacts["sessions"] = ids.map(days).fillna(0).astype(int)
    last = activities.groupby("contact_id")["occurred_at"].max()
    contacts["last_activity_at"] = ids.map(last)
    created = contacts["created_at"]
    contacts["updated_at"] = contacts["last_activity_at"].astype(created.dtype).fillna(created)
    open_deal = set(deals.loc[~deals["is_closed"], "contact_id"])
    stage = np.select(
        [
            truth["converted_by_end"].to_numpy(),
            ids.isin(open_deal).to_numpy(),
            (contacts["form_submissions"] >= 2).to_numpy(),
            (contacts["form_submissions"] >= 1).to_numpy(),
        ],
        ["customer", "opportunity", "salesqualifiedlead", "marketingqualifiedlead"],
        default="lead",
    )
    contacts["lifecycle_stage"] = stage


def messy_export(
    business: SampleBusiness, seed: int = 0
) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """The tables as a spreadsheet or CRM export would hand them over, with known faults.

    Values become text in the formats people use ("$1,234.50", "03/14/2025", "yes"),
    and a handful of rows get faults that validation must catch. Returns the raw tables
    and the list of injected faults (table, key, column, value, expected action).
    """
    rng = np.random.default_rng(seed)
    raw = {name: frame.copy() for name, frame in business.tables.items()}
    contacts, orders, lines = raw["contacts"], raw["orders"], raw["order_lines"]
    contacts["created_at"] = contacts["created_at"].dt.strftime("%m/%d/%Y %H:%M")
    contacts["marketing_consent"] = contacts["marketing_consent"].map({True: "yes", False: "no"})
    epoch = pd.Timestamp("1970-01-01", tz="UTC")
    orders["ordered_at"] = ((orders["ordered_at"] - epoch) // pd.Timedelta(milliseconds=1)).astype(
        str
    )  # epoch milliseconds, as HubSpot sends them
    orders["total"] = orders["total"].map(lambda v: f"${v:,.2f}")
    lines["unit_price"] = lines["unit_price"].map(lambda v: f"{v:.2f}")
    faults: list[dict[str, object]] = []

    def spoil(table: str, frame: pd.DataFrame, column: str, value: str, action: str) -> None:
        position = int(rng.integers(0, len(frame)))
        while frame[column].iloc[position] == value:  # pragma: no cover - vanishingly rare
            position = int(rng.integers(0, len(frame)))
        key = frame.iloc[position, 0]
        frame[column] = frame[column].astype(object)  # an export is text; ints can't hold "lots"
        frame.iloc[position, frame.columns.get_loc(column)] = value
        faults.append({"table": table, "key": key, "column": column, "value": value,
                       "action": action})  # fmt: skip

    for value in ("31/02/2025", "next Tuesday", "2025-13-01"):
        spoil("orders", orders, "ordered_at", value, "row rejected")
    for value in ("ava at example.com", "no-email", "bob@"):
        spoil("contacts", contacts, "email", value, "value cleared")
    spoil("contacts", contacts, "page_views", "lots", "value cleared")
    spoil("order_lines", lines, "quantity", "two", "value cleared")
    duplicate = contacts.sample(2, random_state=seed)
    raw["contacts"] = pd.concat([contacts, duplicate], ignore_index=True)
    for key in duplicate["contact_id"]:
        faults.append({"table": "contacts", "key": key, "column": "contact_id", "value": key,
                       "action": "row rejected"})  # fmt: skip
    return raw, pd.DataFrame(faults)


def as_it_looked(business: SampleBusiness, days_after_creation: float) -> dict[str, pd.DataFrame]:
    """Every contact as the CRM showed it `days_after_creation` days after it was created.

    Activities, deals and orders after each contact's own cut-off are dropped and the
    CRM totals and lifecycle stage are recounted, which is what a lead looked like
    when someone first had to decide whether to call it. Tests use it to show that a
    model trained on today's totals does worse on such leads than its held-out score.
    """
    tables = {name: frame.copy() for name, frame in business.tables.items()}
    contacts = tables["contacts"]
    cutoff = contacts.set_index("contact_id")["created_at"] + pd.Timedelta(days=days_after_creation)

    def before(frame: pd.DataFrame, column: str) -> pd.DataFrame:
        limit = frame["contact_id"].map(cutoff)
        return frame[frame[column] < limit].reset_index(drop=True)

    activities = before(tables["activities"], "occurred_at")
    orders = before(tables["orders"], "ordered_at")
    deals = before(tables["deals"], "created_at")
    closed_later = deals["closed_at"].isna() | (
        deals["closed_at"] >= deals["contact_id"].map(cutoff)
    )
    deals.loc[closed_later, ["is_closed", "is_won"]] = False
    deals.loc[closed_later, "closed_at"] = pd.NaT
    deals.loc[closed_later & deals["stage"].str.startswith("closed"), "stage"] = (
        "appointmentscheduled"
    )
    truth = business.truth["contacts"].copy()
    truth["converted_by_end"] = truth["converted_at"] < truth["contact_id"].map(cutoff)
    _summarise_engagement(contacts, activities, truth, deals)
    lines = tables["order_lines"]
    tables.update(
        contacts=contacts,
        activities=activities,
        orders=orders,
        deals=deals,
        order_lines=lines[lines["order_id"].isin(orders["order_id"])].reset_index(drop=True),
    )
    return tables


def true_conversion_chance(
    business: SampleBusiness,
    contact_ids: pd.Series,
    days_since_created: pd.Series,
    horizon_days: float = 90,
) -> np.ndarray:
    """The generator's own chance that a contact not yet converted `days_since_created`
    days after creation converts within the next `horizon_days`.

    This is what a perfect model that could see each contact's hidden interest would
    say. It is calibrated by construction, so its calibration error on a test set is the
    part of any model's error that is chance in which outcomes that test set drew.
    It uses the conversion time the generator drew; the CRM dates about 2% of
    conversions later (no won deal, and the first order came after a quiet spell), so
    it runs slightly low on contacts 60 or more days old.
    """
    shape, scale = DAYS_TO_CONVERT
    truth = business.truth["contacts"].set_index("contact_id")
    unknown = pd.Index(contact_ids).difference(truth.index)
    if len(unknown):
        raise ValueError(
            f"{len(unknown)} contact ids are not in this sample business, e.g. "
            + ", ".join(map(repr, unknown[:3]))
        )
    propensity = truth["propensity"].reindex(contact_ids).to_numpy()
    days = np.asarray(days_since_created, dtype=float)

    def by(day: np.ndarray) -> np.ndarray:  # P(converted by `day` | will convert)
        return np.asarray(gammainc(shape, np.maximum(day - 1.0, 0.0) / scale))

    converted_so_far = propensity * by(days)
    return propensity * (by(days + horizon_days) - by(days)) / (1 - converted_so_far)
