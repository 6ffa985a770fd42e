"""Turn whatever table a user brings into model features, and features back into words.

Excel and Sheets users bring their own columns: numbers typed as text ("1,234",
"$99"), yes/no columns, dates, free text, identifiers. The encoder decides once, at
fit time, what each column is and remembers it, so scoring applies exactly the same
reading. Identifiers and free text are left out (and the card says so), because a
model that memorises ids learns nothing that carries over to new rows.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from smbml_connect.analytics.shared.contract import check_fitted
from smbml_connect.coerce import MISSING_TOKENS, coerce_bool, coerce_datetime, coerce_float
from smbml_connect.value_words import category_words

__all__ = ["ColumnPlan", "Kind", "Phrase", "TabularEncoder", "format_number", "humanise"]

Kind = Literal["number", "bool", "category", "date"]
OTHER = "(other)"
_ID_NAMES = re.compile(r"(^|_)(id|uuid|guid|email|e_mail|phone|mobile|first_name|last_name|name)$")
_INFER_SAMPLE = 2000


def humanise(name: str) -> str:
    text = re.sub(r"[_\s]+", " ", str(name)).strip()
    return text[:1].upper() + text[1:] if text else "Value"


def format_number(value: float) -> str:
    if float(value).is_integer():
        return f"{int(value):,}"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


@dataclass
class Phrase:
    """How one feature's value reads as a reason. Placeholders: {n} (number), {value} (text)."""

    template: str
    one: str | None = None
    zero: str | None = None
    missing: str | None = None
    values: dict[str, str] = field(default_factory=dict)  # category value -> text
    # The number is a share (0.39) shown in % ("39%"), as every rate the tool shows is:
    # "Owner wins 0.39 of deals" read as a fraction nowhere else used.
    percent: bool = False

    def render(self, kind: Kind, value: Any) -> str:
        if value is None or (isinstance(value, float) and np.isnan(value)):
            return self.missing or self.template.format(n="unknown", value="unknown")
        if kind == "category":
            text = str(value)
            if text in self.values:
                return self.values[text]
            if text == OTHER:
                return self.template.format(value="a less common value", n="")
            return self.template.format(value=text.replace("_", " "), n="")
        number = float(value)
        if number == 0 and self.zero:
            return self.zero
        if number == 1 and self.one:
            return self.one
        if self.percent and kind == "number":
            shown = f"{round(100 * number):.0f}%"
        else:
            shown = ("yes" if number else "no") if kind == "bool" else format_number(number)
        return self.template.format(n=shown, value=shown)


def _default_phrase(name: str, kind: Kind) -> Phrase:
    label = humanise(name)
    if kind == "date":
        return Phrase(f"{label} {{n}} {_NEWEST}", missing=f"{label} unknown")
    return Phrase(f"{label}: {{value}}", missing=f"{label} unknown")


# A date feature is days before the newest date in the rows learnt from; a row to score
# is often newer than all of them, so the words say before, after or the same day.
_NEWEST = "before the newest date learnt from"


def _date_words(label: str, days: float) -> str:
    whole = round(abs(days))
    if whole == 0:
        return f"{label} on the same day as the newest date learnt from"
    count = "1 day" if whole == 1 else f"{whole:,} days"
    side = "before" if days > 0 else "after"
    return f"{label} {count} {side} the newest date learnt from"


@dataclass
class ColumnPlan:
    """What the encoder learnt about one input column."""

    name: str
    kind: Kind
    categories: list[str] = field(default_factory=list)  # last entry is OTHER
    reference_day: float | None = None  # dates: features are days before this day
    phrase: Phrase | None = None

    def describe(self, value: float) -> str:
        phrase = self.phrase or _default_phrase(self.name, self.kind)
        if self.kind == "date" and not np.isnan(value):
            # Worded here, not by the template: "-5 days before the latest" was what a
            # lead newer than every row learnt from read (and saved models keep theirs).
            return _date_words(humanise(self.name), float(value))
        if self.kind == "category" and not np.isnan(value):
            category = self.categories[int(value)]
            # A CRM's own words for its codes (a deal stage "1234567" is "Proposal reviewed")
            worded = category_words(self.name, category)
            if worded is not None:
                return phrase.template.format(value=worded, n="")
            return phrase.render(self.kind, category)
        return phrase.render(self.kind, value)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if data["phrase"] is not None and not data["phrase"]["percent"]:
            del data["phrase"]["percent"]  # a saved model's text as before the field
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ColumnPlan:
        data = dict(data)
        if data.get("phrase") is not None:
            data["phrase"] = Phrase(**data["phrase"])
        return cls(**data)


def _missing_mask(series: pd.Series) -> pd.Series:
    if series.dtype == object or isinstance(series.dtype, pd.StringDtype):
        # Work on the distinct values: real columns repeat a lot, and this runs per column.
        codes, uniques = pd.factorize(series, use_na_sentinel=True)
        blank = np.array([str(u).strip().lower() in MISSING_TOKENS for u in uniques] + [True])
        return pd.Series(blank[codes], index=series.index)
    return series.isna()


def _sample(series: pd.Series) -> pd.Series:
    present = series[~_missing_mask(series)]
    if len(present) <= _INFER_SAMPLE:
        return present
    return present.iloc[np.linspace(0, len(present) - 1, _INFER_SAMPLE).astype(int)]


def _share_parsed(values: pd.Series, coerce: Any) -> float:
    if values.empty:
        return 0.0
    parsed, invalid = coerce(values.astype(object))
    return float((~invalid & parsed.notna()).mean())


def _to_number(series: pd.Series) -> np.ndarray:
    if pd.api.types.is_bool_dtype(series) or pd.api.types.is_numeric_dtype(series):
        return pd.to_numeric(series, errors="coerce").astype("float64").to_numpy()
    fast = pd.to_numeric(series, errors="coerce").astype("float64")
    todo = fast.isna() & ~_missing_mask(series)
    if todo.any():
        slow, _ = coerce_float(series[todo].astype(object))
        fast[todo] = slow.astype("float64")
    return fast.to_numpy()


def _to_bool(series: pd.Series) -> np.ndarray:
    if pd.api.types.is_bool_dtype(series) or pd.api.types.is_numeric_dtype(series):
        return pd.to_numeric(series, errors="coerce").astype("float64").to_numpy()
    values, _ = coerce_bool(series.astype(object))
    return values.astype("Float64").astype("float64").to_numpy()


def _to_days(series: pd.Series) -> np.ndarray:
    stamps, _ = coerce_datetime(series)
    days = (stamps - pd.Timestamp("1970-01-01", tz="UTC")).dt.total_seconds() / 86400
    return days.astype("float64").to_numpy()


def _category_key(series: pd.Series) -> pd.Series:
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    keys = np.array([str(u).strip().casefold() for u in uniques] + [None], dtype=object)
    return pd.Series(keys[codes], index=series.index, dtype=object)


class TabularEncoder:
    """Column-by-column reading of a user's table into a float matrix.

    Categories become integer codes (LightGBM reads them natively; the logistic model
    one-hot encodes them), dates become days before the newest date seen in training,
    yes/no becomes 0/1. Missing stays NaN so each learner handles it its own way.
    """

    def __init__(self, max_categories: int = 30, min_category_share: float = 0.005) -> None:
        self.max_categories = max_categories
        self.min_category_share = min_category_share

    def fit(
        self,
        frame: pd.DataFrame,
        phrases: Mapping[str, Phrase] | None = None,
        kinds: Mapping[str, Kind] | None = None,
    ) -> TabularEncoder:
        """``kinds`` fixes a column's kind whatever its values look like: a CRM's deal stage
        ids are digits ("1234567"), but a stage is a category, not a quantity."""
        phrases, kinds = phrases or {}, kinds or {}
        self.plans_: list[ColumnPlan] = []
        self.ignored_: dict[str, str] = {}
        for name in frame.columns:
            plan = self._plan(str(name), frame[name], kinds.get(str(name)))
            if isinstance(plan, str):
                self.ignored_[str(name)] = plan
            else:
                plan.phrase = phrases.get(plan.name) or _default_phrase(plan.name, plan.kind)
                self.plans_.append(plan)
        return self

    def _plan(self, name: str, series: pd.Series, declared: Kind | None = None) -> ColumnPlan | str:
        present = series[~_missing_mask(series)]
        if present.empty:
            return "empty"
        kind = declared or self._kind(series)
        # "email" or "phone" holding yes/no says whether one was given: a feature, not an
        # identifier (an address or a number never reads as yes/no).
        if _ID_NAMES.search(name.strip().lower().replace(" ", "_")) and kind != "bool":
            return "an identifier or a name: it would not carry over to new rows"
        if kind == "category":
            keys = _category_key(present)
            counts = keys.value_counts()
            if len(counts) > max(50, 0.5 * len(present)):
                return f"free text or identifiers ({len(counts):,} different values)"
            if len(counts) < 2:
                return "the same value in every row"
            floor = max(2, self.min_category_share * len(present))
            kept = counts[counts >= floor].index[: self.max_categories]
            chosen = keys.isin(kept)
            display = (
                present[chosen]
                .astype("string")
                .str.strip()
                .groupby(keys[chosen])
                .agg(lambda s: s.mode().iloc[0])
            )
            return ColumnPlan(name, "category", [str(display[k]) for k in kept] + [OTHER])
        values = {"number": _to_number, "bool": _to_bool, "date": _to_days}[kind](series)
        if np.nanmin(values) == np.nanmax(values):
            return "the same value in every row"
        plan = ColumnPlan(name, kind)
        if kind == "date":
            plan.reference_day = float(np.nanmax(values))
        return plan

    @staticmethod
    def _kind(series: pd.Series) -> Kind:
        if pd.api.types.is_bool_dtype(series):
            return "bool"
        if pd.api.types.is_datetime64_any_dtype(series):
            return "date"
        if pd.api.types.is_numeric_dtype(series):
            distinct = pd.unique(series.dropna())
            return "bool" if len(distinct) == 2 and set(distinct) <= {0, 1} else "number"
        sample = _sample(series)
        if _share_parsed(sample, coerce_bool) >= 0.98:
            return "bool"
        if _share_parsed(sample, coerce_float) >= 0.95:
            return "number"
        if _share_parsed(sample, coerce_datetime) >= 0.95:
            return "date"
        return "category"

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        check_fitted(self, "plans_", "table encoder")
        missing = [p.name for p in self.plans_ if p.name not in frame.columns]
        if missing:
            raise KeyError(f"missing column(s) the model was trained with: {', '.join(missing)}")
        out = np.empty((len(frame), len(self.plans_)), dtype="float64")
        for j, plan in enumerate(self.plans_):
            series = frame[plan.name]
            if plan.kind == "number":
                out[:, j] = _to_number(series)
            elif plan.kind == "bool":
                out[:, j] = _to_bool(series)
            elif plan.kind == "date":
                out[:, j] = float(plan.reference_day or 0.0) - _to_days(series)
            else:
                lookup = {c.strip().casefold(): i for i, c in enumerate(plan.categories[:-1])}
                other = float(len(plan.categories) - 1)
                codes, uniques = pd.factorize(series, use_na_sentinel=True)
                mapped = [
                    np.nan
                    if str(u).strip().lower() in MISSING_TOKENS
                    else float(lookup.get(str(u).strip().casefold(), other))
                    for u in uniques
                ]
                out[:, j] = np.array([*mapped, np.nan], dtype="float64")[codes]
        return out

    def unreadable(self, frame: pd.DataFrame, X: np.ndarray) -> list[dict[str, Any]]:
        """Values that were present but could not be read as the column's type.

        They are treated as missing (the row is kept); this says where, so the user can
        fix the source. Row labels are the frame's index.
        """
        found = []
        for j, plan in enumerate(self.plans_):
            if plan.kind == "category" or plan.name not in frame.columns:
                continue
            bad = np.isnan(X[:, j]) & ~_missing_mask(frame[plan.name]).to_numpy()
            if bad.any():
                first = int(np.flatnonzero(bad)[0])
                found.append(
                    {
                        "column": plan.name,
                        "row": frame.index[first].item()
                        if hasattr(frame.index[first], "item")
                        else frame.index[first],
                        "value": str(frame[plan.name].iloc[first]),
                        "count": int(bad.sum()),
                        "expected": {"number": "a number", "bool": "yes/no", "date": "a date"}[
                            plan.kind
                        ],
                    }
                )
        return found

    @property
    def feature_names(self) -> list[str]:
        check_fitted(self, "plans_", "table encoder")
        return [p.name for p in self.plans_]

    def to_dict(self) -> dict[str, Any]:
        return {
            "max_categories": self.max_categories,
            "min_category_share": self.min_category_share,
            "plans": [p.to_dict() for p in self.plans_],
            "ignored": self.ignored_,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TabularEncoder:
        encoder = cls(data["max_categories"], data["min_category_share"])
        encoder.plans_ = [ColumnPlan.from_dict(p) for p in data["plans"]]
        encoder.ignored_ = dict(data["ignored"])
        return encoder
