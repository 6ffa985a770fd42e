"""Next best product: what each customer is likely to want next, from co-purchases.

Item-item similarity (cosine over who bought what, shrunk towards zero for products
few people bought) rather than matrix factorisation: a shop has tens to thousands of
products, the similarities are exact and cheap, and every suggestion comes with an
honest reason ("Often bought with House Blend"). Customers with nothing similar get
the best sellers they do not have yet, and are told so.

Only sales are bought: a cancelled, unpaid or draft order is as if never placed (its lines
count as neither bought nor bought together), and so is a refunded one. A product the
customer sent back (a refunded order, a negative total, a line of negative quantity) is
more than not bought: they tried it, so it is never suggested to them again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

from smbml_connect.analytics.shared.contract import check_fitted, read_text, write_text
from smbml_connect.coerce import coerce_datetime
from smbml_connect.errors import NotEnoughDataError
from smbml_connect.sales import NEGATIVE, REFUNDED, is_sale, why_not_sale

__all__ = [
    "CoPurchaseRecommender",
    "hit_rate_at_k",
    "marked_not_for_sale",
    "not_a_next_product",
    "off_sale",
    "purchases_by_customer",
    "returned_by_customer",
]

OFF_SALE_WEEKS = 13  # as `pricing.price_history.SILENT_WEEKS`: unsold this long, maybe off sale
SHRINK = 10.0  # pseudo-count: a pair bought together by 2 people is weak evidence
# Buyers two products must share before one is "often bought with" the other (Surprise's
# `min_support` for item similarities): one or two shared buyers are a coincidence, and a
# gift card one customer bought was suggested to 75 of 90 on the strength of one buyer.
# Best-seller fill takes only products this many people bought, or it is no best seller.
MIN_SHARED_BUYERS = 3
# A gift card, certificate, voucher or store credit is money, not a product to suggest
# next ("£20 Voucher" in "Vouchers" was suggested to 48 of 87), in the languages small
# shops most often sell in: German Gutschein (Geschenkgutschein, Gutscheine), French carte
# / bon / chèque cadeau, Spanish tarjeta / vale / cheque (de) regalo, Italian buono /
# carta regalo, Dutch cadeaubon / cadeaukaart, Scandinavian gavekort / presentkort.
GIFT_CARD = re.compile(
    r"\bgift[\s-]?(?:cards?|certificates?|vouchers?|tokens?)\b|\be-?gift\b|\bvouchers?\b"
    r"|\bstore[\s-]credit\b|gutschein|\b(?:cartes?|bons?|ch[eè]ques?)[\s-]cadeaux?\b"
    r"|\b(?:tarjetas?|vales?|cheques?)[\s-](?:de[\s-])?regalo\b|\b(?:buoni|buono|carta)[\s-]regalo\b"
    r"|\bcadeau(?:bon|kaart)|\b(?:gavekort|presentkort)",
    re.I,
)
# What holds or shows one is a product: "Gift card holder sleeve", "Voucher holder".
GIFT_CARD_ITEM = re.compile(
    r"\b(?:holders?|sleeves?|envelopes?|wallets?|cases?|stands?|display|accessor(?:y|ies))\b"
    r"|h[üu]lle|halter|umschlag|\b(?:porte|funda|sobre|busta|portabuoni)",
    re.I,
)
CELLS_PER_CHUNK = 20_000_000  # dense customers x products scores computed per chunk


def purchases_by_customer(
    orders: pd.DataFrame, order_lines: pd.DataFrame, as_of: pd.Timestamp | None = None
) -> pd.DataFrame:
    """contact_id, product_id, ordered_at, order_id for every line of a counted order."""
    counted = orders.dropna(subset=["contact_id"]).drop_duplicates("order_id")
    counted = counted[is_sale(counted).to_numpy()]
    when = coerce_datetime(counted["ordered_at"])[0]
    counted = counted.assign(ordered_at=when).dropna(subset=["ordered_at"])
    if as_of is not None:
        counted = counted[counted["ordered_at"] <= as_of]
    lines = order_lines.dropna(subset=["product_id"])
    lines = lines[pd.to_numeric(lines["quantity"], errors="coerce").fillna(1) > 0]
    frame = lines[["order_id", "product_id"]].merge(
        counted[["order_id", "contact_id", "ordered_at"]], on="order_id"
    )
    return frame.astype({"contact_id": str, "product_id": str})


def returned_by_customer(
    orders: pd.DataFrame, order_lines: pd.DataFrame, as_of: pd.Timestamp | None = None
) -> pd.DataFrame:
    """contact_id, product_id, ordered_at of every product a customer sent back.

    Sent back: a line of an order refunded, returned or charged back, or of one with a
    negative total, and a line of negative quantity in any order. A cancelled order is not
    a return (nothing was received), so its products may still be suggested.
    """
    known = orders.dropna(subset=["contact_id"]).drop_duplicates("order_id")
    why = why_not_sale(known)
    when = coerce_datetime(known["ordered_at"])[0]
    known = known.assign(ordered_at=when, returned=why.isin([REFUNDED, NEGATIVE]).to_numpy())
    known = known.dropna(subset=["ordered_at"])
    if as_of is not None:
        known = known[known["ordered_at"] <= as_of]
    lines = order_lines.dropna(subset=["product_id"])
    negative = pd.to_numeric(lines["quantity"], errors="coerce").lt(0).to_numpy()
    frame = lines.assign(negative=negative)[["order_id", "product_id", "negative"]].merge(
        known[["order_id", "contact_id", "ordered_at", "returned"]], on="order_id"
    )
    frame = frame[(frame["returned"] | frame["negative"]).to_numpy()]
    return frame[["contact_id", "product_id", "ordered_at"]].astype(
        {"contact_id": str, "product_id": str}
    )


def marked_not_for_sale(products: pd.DataFrame | None) -> set[str]:
    """Products the shop itself says are not for sale (`on_sale` no: its products list's
    words, archived in the CRM, or no longer listed while sales name them): what every
    step leaves out, where `off_sale` adds the guess from silence for suggestions."""
    if products is None or "on_sale" not in products.columns:
        return set()
    flag = products["on_sale"].astype("boolean").eq(False).fillna(False).to_numpy()
    return set(products.loc[flag, "product_id"].astype(str))


def off_sale(
    sold: pd.DataFrame, as_of: pd.Timestamp | None = None, products: pd.DataFrame | None = None
) -> set[str]:
    """Products not for sale now: marked so in the products list (`on_sale` no: Shopify's
    archived or draft), or that no one has bought for `OFF_SALE_WEEKS` weeks, longer than
    they ever went without a sale before (archived, sold out, or renamed: a product keyed
    by its name that was renamed half way looks like two, the old one silent).

    They still teach what is bought together, but are not suggested: a poster archived 57
    weeks before was the first suggestion of 11 customers, and a honey 14 people had bought
    under its new name was offered to them under the old one. ``sold`` holds every sale
    (product_id, ordered_at), whoever bought it. Measured against the longest quiet spell
    before, a seasonal product (an Advent calendar sold November to December two years
    running) is not off sale in the October before its season, nor a slow seller that
    sells every few months; a product sold on one day only is, after 13 weeks. Nor is a
    product off sale while the whole shop is quiet: it must have gone longer without a
    sale than the shop itself ever did (a Christmas shop's new line, one season old, was
    off sale in July).
    """
    gone = marked_not_for_sale(products)
    if sold.empty:
        return gone
    end = as_of if as_of is not None else sold["ordered_at"].max()
    days = sold.assign(day=sold["ordered_at"].dt.normalize())[["product_id", "day"]]
    days = days[days["day"] <= end].drop_duplicates().sort_values(["product_id", "day"])
    gaps = days.groupby("product_id")["day"].diff().dt.days
    longest = gaps.groupby(days["product_id"]).max().fillna(0)
    quiet = (end - days.groupby("product_id")["day"].max()).dt.days
    silent = (
        (quiet >= 7 * OFF_SALE_WEEKS)
        & (quiet > longest.reindex(quiet.index))
        & (quiet > _shop_quiet_spell(days["day"], end))
    )
    return gone | {str(product) for product in quiet.index[silent.to_numpy()]}


def _shop_quiet_spell(days: pd.Series, end: pd.Timestamp) -> int:
    """The longest the whole shop went without a sale, the spell up to `end` included: a
    Christmas shop sells nothing from January to November, and its products are not off
    sale for keeping the shop's own season."""
    shop = pd.Series(np.sort(days.unique()))
    spells = shop.diff().dt.days.dropna()
    return int(max(spells.max() if len(spells) else 0, (end - shop.iloc[-1]).days))


def not_a_next_product(
    products: pd.DataFrame | None, order_lines: pd.DataFrame | None = None
) -> set[str]:
    """Products no one should be offered as their next purchase: a gift card (the products
    list marks it one, as Shopify's "Gift Card" column does, whatever its name; or its name
    or category says gift card, voucher or store credit, `GIFT_CARD`, and not that it holds
    one, `GIFT_CARD_ITEM`: money, not a product), and a free product (every line of it
    sold at 0, such as a free sample, or price 0 in the products list and never sold at a
    price). A free sample one customer took was suggested to 53 of 90."""
    out: set[str] = set()
    if products is not None and len(products):
        words = (
            products["name"] if "name" in products.columns else pd.Series("", index=products.index)
        ).fillna("")
        if "category" in products.columns:
            words = words.astype(str) + " " + products["category"].fillna("").astype(str)
        words = words.astype(str)
        gift = words.str.contains(GIFT_CARD) & ~words.str.contains(GIFT_CARD_ITEM)
        if "gift_card" in products.columns:  # the list's own mark wins over any name
            gift |= products["gift_card"].astype("boolean").eq(True).fillna(False)
        price = (
            products["price"] if "price" in products.columns else pd.Series(index=products.index)
        )
        # a price of unknown value (NA in a nullable column) is not 0
        listed_free = pd.to_numeric(price, errors="coerce").eq(0).fillna(False).to_numpy(bool)
        ids = products["product_id"].astype(str)
        out |= set(ids[gift.to_numpy()])
        # Price 0 in the list is free only where no sale says otherwise: a made-to-order
        # or variable-priced product is often listed at 0 and sold at 25.
        out |= set(ids[listed_free]) - _sold_at_a_price(order_lines)
    highest = _highest_price_sold(order_lines)
    out |= set(highest.index[highest.eq(0).fillna(False).to_numpy(bool)])
    return out


def _highest_price_sold(order_lines: pd.DataFrame | None) -> pd.Series:
    """The highest unit price each product was sold at, by product_id (as text)."""
    if order_lines is None or not len(order_lines) or "unit_price" not in order_lines.columns:
        return pd.Series(dtype=float)
    price = pd.to_numeric(order_lines["unit_price"], errors="coerce")
    sold = order_lines.assign(price=price).dropna(subset=["product_id", "price"])
    return sold.groupby(sold["product_id"].astype(str))["price"].max()


def _sold_at_a_price(order_lines: pd.DataFrame | None) -> set[str]:
    """Products with at least one line sold above 0: whatever the list says, not free."""
    highest = _highest_price_sold(order_lines)
    return set(highest.index[(highest > 0).to_numpy()])


class _Variants:
    """Which products are variants (sizes, colours) of one product, and which of them a
    customer would take as new: a variant of a product the customer bought is another
    size or colour of something they have, not a next product ("you bought the tee in S
    in every colour; here it is in M"). Only where they already chose several values of
    an option (tees in three colours, lip balms in two flavours) is another value of that
    option a suggestion, and then only in the values they kept to for the others (their
    size): one who bought the same balm in the same flavour every time keeps to it.
    """

    def __init__(self, products: pd.Index, variants: pd.DataFrame | None) -> None:
        self.groups = np.full(len(products), -1)
        self.known = np.zeros(len(products), dtype=bool)
        self.options: list[np.ndarray] = []
        if variants is None or variants.empty or "variant_of" not in variants.columns:
            return
        listed = variants.dropna(subset=["variant_of"]).drop_duplicates("product_id")
        listed = listed.set_index(listed["product_id"].astype(str))
        of = listed["variant_of"].astype(str).reindex(products)
        sizes = of.map(of.value_counts())
        of = of.where(sizes.gt(1))  # a product of one variant is just itself
        codes, _ = pd.factorize(of)
        self.groups = np.asarray(codes)
        words = (
            listed["variant"].reindex(products)
            if "variant" in listed.columns
            else pd.Series(None, index=products, dtype=object)
        )
        split = [str(w).split(" / ") if isinstance(w, str) and w.strip() else [] for w in words]
        width = max((len(v) for v in split), default=0)
        self.known = np.array([bool(v) for v in split])
        for at in range(width):  # each option's value, numbered within the whole list
            values = pd.Series([v[at] if at < len(v) else "" for v in split])
            self.options.append(np.asarray(pd.factorize(values)[0]))

    def other(self, owned: np.ndarray) -> np.ndarray:
        """customers x products: a variant of a product the customer owns, in an option
        value they never took where they kept to one value of it (or whose options are not
        known)."""
        out = np.zeros_like(owned, dtype=bool)
        if (self.groups < 0).all():
            return out
        for group in np.unique(self.groups[self.groups >= 0]):
            members = np.flatnonzero(self.groups == group)
            mine = owned[:, members]
            has = mine.any(axis=1)
            if not has.any():
                continue
            fits = np.ones(mine.shape, dtype=bool) & self.known[members]
            for values in self.options:
                value = values[members]
                taken = np.stack([(mine & (value == v)).any(axis=1) for v in value], axis=1)
                kinds = np.stack([(mine & (value == v)) for v in np.unique(value)], axis=2)
                varied = np.asarray(kinds.any(axis=1).sum(axis=1) >= 2)
                fits &= taken | varied[:, None]
            out[:, members] = np.asarray(has)[:, None] & ~fits
        return out


@dataclass
class CoPurchaseRecommender:
    """Item-item co-purchase similarity; deterministic, so it takes no random_state."""

    shrink: float = SHRINK

    def fit(self, purchases: pd.DataFrame) -> CoPurchaseRecommender:
        pairs = purchases.groupby(["contact_id", "product_id"], as_index=False).size()
        if pairs["product_id"].nunique() < 4 or pairs["contact_id"].nunique() < 10:
            raise NotEnoughDataError(
                "need at least 4 products and 10 customers with order lines to suggest a "
                f"next product; got {pairs['product_id'].nunique()} and "
                f"{pairs['contact_id'].nunique()}"
            )
        return self._learn(pairs)

    def _learn(self, pairs: pd.DataFrame) -> CoPurchaseRecommender:
        """Everything from (contact_id, product_id, size): also how `from_text` rebuilds."""
        self.customers_ = pd.Index(np.sort(pairs["contact_id"].unique()))
        self.products_ = pd.Index(np.sort(pairs["product_id"].unique()))
        rows = self.customers_.get_indexer(pairs["contact_id"])
        cols = self.products_.get_indexer(pairs["product_id"])
        shape = (len(self.customers_), len(self.products_))
        self.bought_ = sparse.csr_matrix(
            (np.ones(len(pairs), dtype=np.float32), (rows, cols)), shape=shape
        )
        # How often a customer bought a product says more about taste than once did.
        self.weight_ = sparse.csr_matrix(
            (np.log1p(pairs["size"].to_numpy(np.float32)), (rows, cols)), shape=shape
        )
        buyers = np.asarray(self.bought_.sum(axis=0)).ravel()
        co = (self.bought_.T @ self.bought_).toarray()
        norm = np.sqrt(np.outer(buyers, buyers))
        # A link only where buying one makes the other likelier than among the rest (lift
        # above 1: co * customers > buyers x * buyers y): "Often bought with Book 11" was
        # said where Book 11's buyers bought the suggestion less often than everyone else.
        above_chance = co * len(self.customers_) > np.outer(buyers, buyers)
        sim = np.where((co >= MIN_SHARED_BUYERS) & above_chance, co / (norm + self.shrink), 0.0)
        np.fill_diagonal(sim, 0.0)
        self.similarity_ = sim.astype(np.float32)
        self.popularity_ = buyers
        return self

    def to_text(self) -> str:
        """Who bought what how often: the similarities are rebuilt from it exactly."""
        check_fitted(self, "similarity_", "next-product recommender")
        counts = self.weight_.tocoo()
        return write_text(
            "smbml-co-purchase",
            1,
            {
                "shrink": self.shrink,
                "customers": list(self.customers_),
                "products": list(self.products_),
                "rows": counts.row.tolist(),
                "cols": counts.col.tolist(),
                "times": np.rint(np.expm1(counts.data.astype(np.float64))).astype(int).tolist(),
            },
        )

    @classmethod
    def from_text(cls, text: str) -> CoPurchaseRecommender:
        data = read_text(text, "smbml-co-purchase")
        customers, products = np.asarray(data["customers"]), np.asarray(data["products"])
        pairs = pd.DataFrame(
            {
                "contact_id": customers[np.asarray(data["rows"], dtype=int)],
                "product_id": products[np.asarray(data["cols"], dtype=int)],
                "size": np.asarray(data["times"], dtype=np.int64),
            }
        )
        return cls(data["shrink"])._learn(pairs)

    def recommend(
        self,
        k: int = 3,
        names: dict[str, str] | None = None,
        customers: Any = None,
        never: pd.DataFrame | None = None,
        retired: set[str] | None = None,
        variants: pd.DataFrame | None = None,
    ) -> pd.DataFrame:
        """contact_id, rank, product_id, product, score, reason: k per known customer.

        ``never`` holds (contact_id, product_id) pairs not to suggest besides what the
        customer bought: what they sent back (`returned_by_customer`). ``retired`` holds
        products suggested to no one (`off_sale`). ``variants`` (product_id, variant_of,
        variant) says which products are sizes or colours of one (`other_variants`).
        """
        check_fitted(self, "similarity_", "next-product recommender")
        names = names or {}
        wanted = self.customers_ if customers is None else pd.Index(customers)
        index = self.customers_.get_indexer(wanted)
        known = index >= 0
        wanted, index = wanted[known], index[known]
        barred = self._pairs(never)
        n_products = len(self.products_)
        chunk = max(1, CELLS_PER_CHUNK // max(n_products, 1))
        popular_order = np.argsort(-self.popularity_, kind="stable")
        gone = self.products_.isin(list(retired or ()))
        family = _Variants(self.products_, variants)
        out: list[pd.DataFrame] = []
        for start in range(0, len(index), chunk):
            rows = index[start : start + chunk]
            owned = self.bought_[rows].toarray().astype(bool)
            skip = owned | barred[rows].toarray().astype(bool) | gone | family.other(owned)
            scores = (self.weight_[rows] @ self.similarity_).astype(np.float64)
            scores[skip] = -np.inf
            top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
            top_scores = np.take_along_axis(scores, top, axis=1)
            for j in range(min(k, n_products)):
                cand = top[:, j]
                score = top_scores[:, j]
                # The owned product that pulls hardest towards this one is the reason.
                pull = np.where(owned, self.similarity_[:, cand].T, -1.0)
                because = pull.argmax(axis=1)
                similar = np.isfinite(score) & (score > 0)
                out.append(
                    pd.DataFrame(
                        {
                            "contact_id": wanted[start : start + chunk],
                            "rank": j + 1,
                            "product_id": self.products_[cand],
                            "score": np.where(similar, score, np.nan),
                            "because": np.where(similar, self.products_[because], None),
                            "skip": list(skip),
                        }
                    )
                )
        if not out:
            return pd.DataFrame(columns=["contact_id", "rank", "product_id", "product", "score",
                                         "reason"])  # fmt: skip
        frame = pd.concat(out, ignore_index=True)
        frame = self._fill_with_best_sellers(frame, popular_order, k)
        frame["product"] = frame["product_id"].map(lambda p: names.get(p, p))
        frame["reason"] = [
            f"Often bought with {names.get(b, b)}" if isinstance(b, str) else "A best seller"
            for b in frame["because"]
        ]
        return frame.drop(columns=["because", "skip"]).sort_values(
            ["contact_id", "rank"], ignore_index=True
        )

    def _pairs(self, pairs: pd.DataFrame | None) -> sparse.csr_matrix:
        """(contact_id, product_id) pairs as a customers x products mask; others ignored."""
        shape = (len(self.customers_), len(self.products_))
        if pairs is None or pairs.empty:
            return sparse.csr_matrix(shape, dtype=bool)
        rows = self.customers_.get_indexer(pairs["contact_id"].astype(str))
        cols = self.products_.get_indexer(pairs["product_id"].astype(str))
        ok = (rows >= 0) & (cols >= 0)
        mask = sparse.csr_matrix(
            (np.ones(int(ok.sum()), dtype=bool), (rows[ok], cols[ok])), shape=shape
        )
        mask.sum_duplicates()
        return mask

    def _fill_with_best_sellers(
        self, frame: pd.DataFrame, popular_order: np.ndarray, k: int
    ) -> pd.DataFrame:
        """Where similarity has nothing to say, suggest the best sellers not yet bought
        (nor sent back)."""
        weak = frame["score"].isna()
        if not weak.any():
            return frame
        fixed = []
        for contact, group in frame.groupby("contact_id", sort=False):
            if not group["score"].isna().any():
                fixed.append(group)
                continue
            skip = group["skip"].iloc[0]
            strong = group[group["score"].notna()]
            taken = set(strong["product_id"])
            extra = [
                self.products_[p]
                for p in popular_order
                if not skip[p]
                and self.products_[p] not in taken
                and self.popularity_[p] >= MIN_SHARED_BUYERS
            ][: k - len(strong)]
            filler = pd.DataFrame(
                {
                    "contact_id": contact,
                    "rank": np.arange(len(strong) + 1, len(strong) + 1 + len(extra)),
                    "product_id": extra,
                    "score": np.nan,
                    "because": None,
                    "skip": [skip] * len(extra),
                }
            )
            fixed.append(pd.concat([strong, filler], ignore_index=True))
        return pd.concat(fixed, ignore_index=True)


def hit_rate_at_k(
    purchases: pd.DataFrame, k: int = 3, returned: pd.DataFrame | None = None
) -> dict[str, Any]:
    """Leave the last order out: did a top-k suggestion appear among its new products?

    Judged on customers with an earlier order whose last order holds a product they had
    not bought before; compared with suggesting the k most popular products they lack.
    Products sent back before the last order (``returned``) are barred from both, as
    the suggestions of a run bar them.
    """
    last_time = purchases.groupby("contact_id")["ordered_at"].transform("max")
    first_time = purchases.groupby("contact_id")["ordered_at"].transform("min")
    is_last = (purchases["ordered_at"] == last_time) & (last_time > first_time)
    train, last = purchases[~is_last], purchases[is_last]
    before = train.groupby("contact_id")["product_id"].agg(set)
    new = {c: set(g) - before.get(c, set()) for c, g in last.groupby("contact_id")["product_id"]}
    new = {c: s for c, s in new.items() if s and c in before.index}
    if not new:
        raise NotEnoughDataError("no customer has a last order with a product new to them")
    barred = pd.DataFrame(columns=["contact_id", "product_id"])
    if returned is not None and len(returned):
        cut = purchases.groupby("contact_id")["ordered_at"].max()
        barred = returned[returned["ordered_at"] < returned["contact_id"].map(cut)]
    model = CoPurchaseRecommender().fit(train)
    suggested = model.recommend(k, customers=list(new), never=barred)
    ours = suggested.groupby("contact_id")["product_id"].agg(set)
    sent_back = barred.groupby("contact_id")["product_id"].agg(set)
    ranked = list(model.products_[np.argsort(-model.popularity_, kind="stable")])
    hits = popular_hits = 0
    for contact, wanted in new.items():
        hits += bool(ours.get(contact, set()) & wanted)
        have = before[contact] | sent_back.get(contact, set())
        popular = [p for p in ranked if p not in have][:k]
        popular_hits += bool(set(popular) & wanted)
    return {
        "customers": len(new),
        "hit_rate": hits / len(new),
        "most_popular_hit_rate": popular_hits / len(new),
        "k": k,
    }
