"""Behavioural customer clusters, each named from its profile in plain words.

RFM puts customers in fixed boxes; clusters find the groups this shop actually has:
recency, frequency, spend, tenure, basket size and category mix, log-scaled where a
few customers dwarf the rest, standardised, then k-means with k picked by silhouette
over 2-6. Clusters are numbered by median spend (1 = the top spenders) and named from
that rank and their own medians ("Top spenders, typically 6 orders, ..."), so a rerun
on slightly different data gives the same names even when k-means numbers its centres
differently, and a name never says what the Clusters tab's figures contradict.

Names rank the clusters against each other, not against a fixed ratio to the typical
customer: a ratio named the group with 93% of the demo's revenue "Mid spenders", because
the median customer is one of its own. The figures are medians and say so ("typically"):
a group whose median is 2 orders holds customers with 14.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score

from smbml_connect.analytics.customers.history import order_history
from smbml_connect.analytics.shared.contract import check_fitted, read_text, write_text
from smbml_connect.errors import NotEnoughDataError
from smbml_connect.sales import sale_lines

__all__ = ["MIN_CUSTOMERS", "CustomerClusters", "customer_features", "spend_rank"]

MIN_CUSTOMERS = 40
MAX_CATEGORIES = 6  # the rest are pooled as "other"
SILHOUETTE_SAMPLE = 4000
FIT_SAMPLE = 20_000  # k-means centres from this many customers; everyone is then assigned
KEEP_K_WITHIN = 0.03  # silhouette points: keep last run's k unless another is clearly better
KEEP_NAME_WITHIN = 1.0  # distance (standardised units) within which a cluster keeps its name
BEHAVIOUR = ["recency_days", "orders", "spend", "tenure_days", "avg_basket"]
LOGGED = {"recency_days", "orders", "spend", "tenure_days", "avg_basket"}


def customer_features(
    orders: pd.DataFrame,
    order_lines: pd.DataFrame | None,
    products: pd.DataFrame | None,
    as_of: pd.Timestamp,
) -> pd.DataFrame:
    """One row per customer with counted orders: behaviour plus share of spend per category.

    Orders, spend and days since the last order are `order_history`'s, so the Cluster
    members tab shows the same figures as the Segments tab for the same customer.
    """
    history = order_history(orders, as_of)
    if history.empty:
        return pd.DataFrame(columns=BEHAVIOUR)
    out = pd.DataFrame(
        {
            "recency_days": history["days_since_last_order"].astype(float),
            "orders": history["orders"].astype(float),
            "spend": history["spend"],
            "tenure_days": history["days_since_first_order"].astype(float),
        }
    )
    out["avg_basket"] = out["spend"] / out["orders"]
    mix = _category_mix(orders, order_lines, products, out.index)
    return out.join(mix) if mix is not None else out


def _category_mix(
    orders: pd.DataFrame,
    lines: pd.DataFrame | None,
    products: pd.DataFrame | None,
    customers: pd.Index,
) -> pd.DataFrame | None:
    if lines is None or products is None or lines.empty or "category" not in products:
        return None
    cats = products.drop_duplicates("product_id").set_index("product_id")["category"]
    lines = sale_lines(lines, orders)  # a refunded order's lines are not what a customer buys
    value = pd.to_numeric(lines["quantity"], errors="coerce") * pd.to_numeric(
        lines["unit_price"], errors="coerce"
    )
    who = orders.drop_duplicates("order_id").set_index("order_id")["contact_id"]
    frame = pd.DataFrame(
        {
            "contact_id": lines["order_id"].map(who).astype("string"),
            "category": lines["product_id"].map(cats).astype("string").fillna("other"),
            "value": value.clip(lower=0),
        }
    ).dropna(subset=["contact_id", "value"])
    if frame.empty:
        return None
    top = frame.groupby("category")["value"].sum().sort_values(ascending=False)
    keep = [c for c in top.index[:MAX_CATEGORIES] if c != "other"]
    frame["category"] = frame["category"].where(frame["category"].isin(keep), "other")
    wide = frame.pivot_table(index="contact_id", columns="category", values="value", aggfunc="sum")
    wide = wide.reindex(index=customers).fillna(0.0)
    # No line of known value (all in another currency): the mix is unknown, not 0 in each.
    shares = wide.div(wide.sum(axis=1).replace(0, np.nan), axis=0)
    return shares.rename(columns=lambda c: f"share:{c}")


@dataclass
class CustomerClusters:
    """k-means groups of customers (k by silhouette within `k_range`), named in words."""

    random_state: int = 0
    k_range: tuple[int, int] = (2, 6)

    def _matrix(self, features: pd.DataFrame) -> np.ndarray:
        X = features.astype(float).copy()
        for c in LOGGED & set(X.columns):
            X[c] = np.log1p(X[c].clip(lower=0))
        # An unknown (spend or mix in another currency) stays NaN: it takes no part in a
        # distance (`predict_number`) nor in the fit.
        return ((X - self.mean_) / self.scale_).to_numpy()

    def fit(
        self, features: pd.DataFrame, previous: dict[str, Any] | None = None
    ) -> CustomerClusters:
        """`previous` is an earlier fit's `to_dict()`: its k and names are kept when the
        data only changed a little, so "Big spenders, ..." does not become another name
        because one customer crossed a threshold."""
        if len(features) < MIN_CUSTOMERS:
            raise NotEnoughDataError(
                f"need at least {MIN_CUSTOMERS} customers with counted orders to find "
                f"groups; got {len(features)}"
            )
        self.columns_ = list(features.columns)
        logged = features.astype(float).copy()
        for c in LOGGED & set(logged.columns):
            logged[c] = np.log1p(logged[c].clip(lower=0))
        self.mean_ = logged.mean()
        self.scale_ = logged.std(ddof=0).replace(0, 1.0)
        X_all = self._matrix(features)
        complete = np.flatnonzero(~np.isnan(X_all).any(axis=1))
        if len(complete) < MIN_CUSTOMERS:  # too few known in full: unknowns at the mean
            X_all, complete = np.nan_to_num(X_all), np.arange(len(X_all))
        rng = np.random.default_rng(self.random_state)
        fit_rows = np.sort(rng.choice(complete, min(len(complete), FIT_SAMPLE), replace=False))
        X = X_all[fit_rows]
        sample = rng.choice(len(X), min(len(X), SILHOUETTE_SAMPLE), replace=False)
        tried: dict[int, float] = {}
        models: dict[int, KMeans] = {}
        for k in range(self.k_range[0], min(self.k_range[1], len(X) // 10) + 1):
            km = KMeans(k, n_init=10, random_state=self.random_state).fit(X)
            models[k] = km
            tried[k] = float(silhouette_score(X[sample], km.labels_[sample]))
        if not tried:
            raise NotEnoughDataError("too few customers to split into at least two groups")
        k = clearest = max(tried, key=lambda key: tried[key])
        previous_k = int(previous["k"]) if previous is not None else None
        if (
            previous_k is not None
            and previous_k in tried
            and tried[previous_k] >= tried[k] - KEEP_K_WITHIN
        ):
            k = previous_k
        km = models[k]
        # Number clusters by the median spend of everyone assigned (what the Clusters tab
        # shows), biggest first, ties by mean: independent of k-means' own order.
        self.centres_ = km.cluster_centers_
        assigned = self.predict_number(features)
        spend = pd.Series(features["spend"].to_numpy(dtype=float)).groupby(assigned)
        medians = spend.median().reindex(range(1, k + 1), fill_value=-np.inf).to_numpy()
        means = spend.mean().reindex(range(1, k + 1), fill_value=-np.inf).to_numpy()
        self.centres_ = km.cluster_centers_[np.lexsort((-means, -medians))]
        self.silhouette_ = tried
        self.k_ = k
        labels = self.predict_number(features)
        self.names_ = _names(features, labels, k)
        kept = self._keep_previous_names(previous) if previous else 0
        self.card_ = {
            "clusters": k,
            "silhouette_by_k": {str(key): round(v, 3) for key, v in tried.items()},
            "why": _why(k, clearest, tried),
            "features": self.columns_,
            "renames_avoided": kept,
        }
        return self

    def _keep_previous_names(self, previous: dict[str, Any]) -> int:
        """Match last run's centres to this run's and keep the names of close matches
        while they still say what this run's name says: the same spend rank and medians
        (only "mostly X" and "mixed baskets, most in X" may lag a share crossing a half).
        A name of an older wording ("Mid spenders, about 6 orders each") is not kept."""
        if list(previous["columns"]) != self.columns_ or int(previous["k"]) != self.k_:
            return 0
        old = np.asarray(previous["centres"]) * np.asarray(previous["scale"]) + np.asarray(
            previous["mean"]
        )
        old_here = (old - self.mean_.to_numpy()) / self.scale_.to_numpy()
        cost = np.sqrt(((old_here[:, None, :] - self.centres_[None, :, :]) ** 2).sum(axis=2))
        rows, cols = linear_sum_assignment(cost)
        kept = 0
        for r, c in zip(rows, cols, strict=True):
            name = previous["names"][str(r + 1)]
            taken = {v for n, v in self.names_.items() if n != c + 1}
            same = _figures(name) == _figures(self.names_[c + 1])
            if cost[r, c] <= KEEP_NAME_WITHIN and name not in taken and same:
                kept += self.names_[c + 1] != name
                self.names_[c + 1] = name
        return kept

    def to_dict(self) -> dict[str, Any]:
        """What `fit(previous=...)` reads to keep names; `to_text` saves the whole model."""
        check_fitted(self, "centres_", "customer clustering")
        return {
            "k": self.k_,
            "columns": self.columns_,
            "mean": self.mean_.tolist(),
            "scale": self.scale_.tolist(),
            "centres": self.centres_.tolist(),
            "names": {str(n): v for n, v in self.names_.items()},
        }

    def predict_number(self, features: pd.DataFrame) -> np.ndarray:
        check_fitted(self, "centres_", "customer clustering")
        X = self._matrix(features.reindex(columns=self.columns_, fill_value=0.0))
        # over the figures known: a customer of unknown spend is placed by the others
        distance = np.nansum((X[:, None, :] - self.centres_[None, :, :]) ** 2, axis=2)
        return distance.argmin(axis=1) + 1

    def assign(self, features: pd.DataFrame) -> pd.DataFrame:
        number = self.predict_number(features)
        return pd.DataFrame(
            {
                "contact_id": features.index.to_numpy(),
                "cluster": number,
                "cluster_name": [self.names_[n] for n in number],
            }
        )

    def profiles(self, features: pd.DataFrame) -> pd.DataFrame:
        number = self.predict_number(features)
        rows = []
        for n in range(1, self.k_ + 1):
            part = features[number == n]
            known = part["spend"].notna().any()  # else its revenue share is unknown, not 0
            row: dict[str, Any] = {
                "cluster": n,
                "name": self.names_[n],
                "customers": len(part),
                "share_of_customers": len(part) / len(features),
                "share_of_revenue": part["spend"].sum() / max(features["spend"].sum(), 1e-9)
                if known
                else np.nan,
                "median_days_since_order": part["recency_days"].median(),
                "median_orders": part["orders"].median(),
                "median_spend": part["spend"].median(),
                "median_basket": part["avg_basket"].median(),
            }
            for c in features.columns:
                if c.startswith("share:"):
                    row[f"{c[6:]} share"] = part[c].mean()
            rows.append(row)
        return pd.DataFrame(rows)

    def to_text(self) -> str:
        return write_text(
            "smbml-customer-clusters",
            1,
            {
                "settings": {"random_state": self.random_state, "k_range": list(self.k_range)},
                **self.to_dict(),
                "silhouette": {str(k): v for k, v in self.silhouette_.items()},
                "card": self.card_,
            },
        )

    @classmethod
    def from_text(cls, text: str) -> CustomerClusters:
        data = read_text(text, "smbml-customer-clusters")
        settings = data["settings"]
        model = cls(settings["random_state"], tuple(settings["k_range"]))
        model.k_ = int(data["k"])
        model.columns_ = list(data["columns"])
        model.mean_ = pd.Series(data["mean"], index=model.columns_, dtype=float)
        model.scale_ = pd.Series(data["scale"], index=model.columns_, dtype=float)
        model.centres_ = np.asarray(data["centres"], dtype=float)
        model.names_ = {int(n): v for n, v in data["names"].items()}
        model.silhouette_ = {int(k): v for k, v in data["silhouette"].items()}
        model.card_ = data["card"]
        return model


def _names(features: pd.DataFrame, labels: np.ndarray, k: int) -> dict[int, str]:
    """Clusters 1..k (numbered by median spend, biggest first) named by that rank and their
    own medians; distinct because the ranks are. A cluster whose spend is unknown (every
    amount in another currency) comes last and is named so, not ranked as spending 0, and
    a category mix of no known value names no category."""
    names: dict[int, str] = {}
    priced = [n for n in range(1, k + 1) if features.loc[labels == n, "spend"].notna().any()]
    for n in range(1, k + 1):
        part = features[labels == n]
        if n not in priced:
            rank = "Spend unknown" + ("" if n == k else f" ({n})")
        elif len(priced) == 1:
            rank = "Known spenders"
        else:
            rank = spend_rank(n, len(priced))
        words = [rank, _rhythm(part)]
        quiet = part["recency_days"].median()
        if quiet >= 180:
            words.append(f"quiet for {round(quiet / 30.4)} months")
        mix = part[[c for c in part.columns if c.startswith("share:")]].mean().dropna()
        if not mix.empty and mix.max() > 0:
            top = mix.idxmax()
            what = "other categories" if top[6:] == "other" else top[6:]
            words.append(f"mostly {what}" if mix[top] >= 0.5 else f"mixed baskets, most in {what}")
        names[n] = ", ".join(words)
    return names


def spend_rank(n: int, k: int) -> str:
    """Cluster n of k by median spend in words: the first is "Top", the last "Lowest"
    ("Lower" of two), one between them "Middle", several "2nd-highest", "3rd-highest"."""
    if n == 1:
        return "Top spenders"
    if n == k:
        return "Lower spenders" if k == 2 else "Lowest spenders"
    if k == 3:
        return "Middle spenders"
    return f"{n}{'nd' if n == 2 else 'rd' if n == 3 else 'th'}-highest spenders"


def _figures(name: str) -> str:
    """What a name says of its cluster's rank and medians: all but how "mostly" its top
    category is."""
    return name.replace("mixed baskets, most in ", "mostly ")


def _often(gap: float) -> str:
    """A median gap of 45 days or less in words that follow it: an account ordering every
    two days was "buy every few weeks", as was a weekly subscription box."""
    if gap <= 4:
        return "buy every few days"
    if gap <= 10:
        return "buy about every week"
    return "buy every few weeks" if gap <= 21 else "buy about every month"


def _rhythm(part: pd.DataFrame) -> str:
    """How often the cluster buys, from its own medians: the median number of orders, and
    a rhythm only while the median customer still keeps it (a pair of orders a month apart
    six months ago is not "buy about every month")."""
    orders = float(part["orders"].median())
    if orders <= 1:
        return "typically 1 order"
    count = f"typically {round(orders)} orders"
    repeat = part[part["orders"] > 1]
    gap = float(
        ((repeat["tenure_days"] - repeat["recency_days"]) / (repeat["orders"] - 1)).median()
    )
    if float(part["recency_days"].median()) > 1.5 * gap:  # overdue by half a cycle or more
        return count
    if gap <= 45:
        return f"{count}, {_often(gap)}"
    if gap <= 120:
        return f"{count}, buy every few months"
    return f"{count}, buy once or twice a year"


def _why(k: int, clearest: int, tried: dict[int, float]) -> str:
    """Why this many groups, true also when last run's number was kept over one that
    separates a little more clearly (find56_weeks item 2: "the clearest" beside a
    higher silhouette of another number)."""
    among = ", ".join(f"{key} ({v:.2f})" for key, v in tried.items())
    scale = "from -1 to 1, higher is clearer"
    if k == clearest:
        return (
            f"{k} groups: the clearest separation between groups (silhouette "
            f"{tried[k]:.2f}, {scale}) among {among}"
        )
    return (
        f"{k} groups, as in the last run: {clearest} would separate groups only a little "
        f"more clearly (silhouette {tried[clearest]:.2f} against {tried[k]:.2f}, {scale}; "
        f"kept while within {KEEP_K_WITHIN:.2f}, so groups do not change from run to run "
        f"for nothing) among {among}"
    )
