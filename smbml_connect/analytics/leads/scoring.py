"""Lead scores: a calibrated chance that a row becomes a success, with reasons in words.

`LeadScorer` takes any table with a yes/no outcome column, because Excel users bring
their own columns; the contact-specific features (built without leaking the outcome)
live in `contact_features`. The score a person sees is the calibrated probability in
percent, so "62" means about 62 in 100 such leads convert: no arbitrary points.

How a model is chosen and checked:
- Validation is a time split when a time column is given (train on older rows, test
  on the newest), because scores are used on tomorrow's leads, not on a shuffled past.
- LightGBM needs `LGBM_MIN_ROWS` labelled rows and `LGBM_MIN_MINORITY` of the rarer
  outcome; below `TRY_BOTH_ROWS` / `TRY_BOTH_MINORITY` a regularised logistic regression
  wins or ties on held-out AUC and is far steadier (benchmarks/leads.py prints the
  learning curve behind these numbers). In between, which wins depends on the data
  (on step-like effects such as a deal's age LightGBM wins clearly), so both are fitted
  and the one with the higher AUC on the calibration slice is kept; LightGBM must win
  by `TRY_BOTH_MARGIN`, being the less steady of the two.
- Below `CROSS_FIT_ROWS` labelled rows, with a random split (no time column) and
  `model="auto"`, that rule is replaced
  by 5-fold cross-validation (`selection.choose_learner`; 10-fold where only the
  logistic regression is tried, see `LINE_ONLY_FOLDS`): the logistic regression and,
  from `CV_LGBM_MIN_ROWS` / `CV_LGBM_MIN_MINORITY`, LightGBM and log-odds blends of the two,
  the highest out-of-fold AUC kept. On real tables of that size neither learner wins
  everywhere and a blend often beats both (benchmarks/leads.py, public tables). The
  same out-of-fold chances fit the calibrator (cross-fitting), so the whole calibration
  set is used instead of a 20% slice; it is beta calibration (Platt scaling where beta's
  fit would not rise), so leads the learner told apart keep apart whenever its
  out-of-fold chances rank at all (`learners.fit_beta_calibrator`).
- Calibration is fitted on rows the learner did not train on: an inner held-out slice
  (or, below `CROSS_FIT_ROWS`, the out-of-fold chances) for the held-out estimate,
  out-of-fold predictions for the final model.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
import sklearn
from sklearn.metrics import roc_auc_score

from smbml_connect.analytics.leads.selection import (
    FOLDS,
    LINE_ONLY_FOLDS,
    choose_learner,
    group_folds,
    refit_out_of_fold,
)
from smbml_connect.analytics.shared.contract import check_fitted
from smbml_connect.analytics.shared.learners import (
    CALIBRATOR_KINDS,
    GradientBoosting,
    Learner,
    Logistic,
    apply_calibrator,
    fit_beta_calibrator,
    fit_calibrator,
    learner_from_dict,
)
from smbml_connect.analytics.shared.metrics import (
    binary_metrics,
    calibration_error,
    calibration_table,
)
from smbml_connect.analytics.shared.tabular import Kind, Phrase, TabularEncoder, humanise
from smbml_connect.coerce import coerce_bool, coerce_datetime
from smbml_connect.errors import DataValidationError, NotEnoughDataError

__all__ = [
    "CROSS_FIT_ROWS",
    "CV_LGBM_MIN_MINORITY",
    "CV_LGBM_MIN_ROWS",
    "LGBM_MIN_MINORITY",
    "LGBM_MIN_ROWS",
    "MIN_GROUP_SCORINGS",
    "PROTECTED_WORDS",
    "SHOWN_LIMITS",
    "TRY_BOTH_MINORITY",
    "TRY_BOTH_ROWS",
    "LeadScorer",
    "beats_baseline",
    "parse_target",
    "reason_words",
]

LGBM_MIN_ROWS = 3000
LGBM_MIN_MINORITY = 300
TRY_BOTH_ROWS = 1000
TRY_BOTH_MINORITY = 100
TRY_BOTH_MARGIN = 0.005
MIN_PER_CLASS = 10
# Below this many labelled rows the learner and its calibrator come from one 5-fold
# cross-validation (see the module's docstring). Above it one LightGBM fit with early
# stopping is steady enough, and the folds would cost seconds a user waits for.
# Tables split by time keep the size rule: on the sample's deals cross-fitting raised the
# card's calibration error on the newest 20% (0.047 -> 0.068; the newest closed deals are
# the quick ones, mostly won) and on its leads' 80/20 time split (9,300 training rows)
# it cost AUC 0.809 -> 0.804, though today's open deals came out better.
CROSS_FIT_ROWS = 10_000
# There LightGBM joins the candidates from this many labelled rows and of the rarer
# outcome (below, trees lose to the line: affairs, 480 rows in 5-fold, AUC 0.687 -> 0.679
# with them). Titanic (1,047 rows) needs them: the line alone left ECE 0.049.
CV_LGBM_MIN_ROWS = 1000
CV_LGBM_MIN_MINORITY = 100
# Above this many labelled rows the held-out-stage model is kept (trained on 64% of the
# rows): a refit plus out-of-fold calibration would triple the training time for a gain
# that the learning curve in benchmarks/leads.py shows is small at that size.
REFIT_LIMIT = 50_000
TIER_SHARES = (("A", 0.10), ("B", 0.30), ("C", 0.60))  # cumulative share from the top
SHOWN_LIMITS = (0.01, 0.99)  # a shown chance is never an exact 0% or 100%
PARALLEL_ROWS = 20_000  # below this, a thread costs more than it saves
SUSPICIOUS_AUC = 0.9  # real lead signals rarely pass 0.8 alone; totals counted after the outcome do
PROTECTED_WORDS = frozenset(
    "gender sex age race ethnicity ethnic religion religious nationality disability "
    "disabled marital pregnant pregnancy birthdate dob citizenship veteran orientation".split()
)
_POSITIVE_WORDS = frozenset({"won", "closedwon", "closed won", "customer", "converted", "success"})
_NEGATIVE_WORDS = frozenset({"lost", "closedlost", "closed lost", "not converted", "failure"})


def beats_baseline(card: dict[str, Any]) -> bool:
    """Whether the held-out Brier score is lower than guessing the past average rate."""
    return float(card["held_out"]["brier"]) < float(card["baseline_brier"])


def parse_target(series: pd.Series, positive: Any = None) -> pd.Series:
    """1.0 / 0.0 / NaN (no outcome yet) from whatever a user put in the outcome column."""
    name = series.name
    if positive is not None:
        present = series.notna() & (series.astype("string").str.strip() != "")
        hit = series.astype("string").str.strip().str.casefold() == str(positive).casefold()
        return hit.astype(float).where(present)
    values, invalid = coerce_bool(series.astype(object))
    if not invalid.any():
        return values.astype("Float64").astype(float)
    text = series.astype("string").str.strip().str.casefold()
    known = text.isin(_POSITIVE_WORDS | _NEGATIVE_WORDS) | series.isna() | (text == "")
    if known.all():
        return (
            text.isin(_POSITIVE_WORDS)
            .astype(float)
            .where(text.isin(_POSITIVE_WORDS | _NEGATIVE_WORDS))
        )
    seen = ", ".join(repr(v) for v in pd.unique(series[~known].dropna())[:4])
    raise DataValidationError(
        f"outcome column {name!r} must be yes/no, 1/0 or won/lost; found {seen}. "
        "Say which value means success (positive=...)."
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating | float):
        return None if np.isnan(value) else round(float(value), 6)
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value


def _fitted_and_explained(learner: Learner, X: np.ndarray, y: np.ndarray) -> Learner:
    learner.fit(X, y)
    learner.explain(X)
    return learner


def _group_keys(frame: pd.DataFrame, group_column: str | None) -> np.ndarray:
    if group_column is None:
        return np.arange(len(frame))
    return pd.factorize(frame[group_column].astype("string").fillna("(none)"))[0]


def reason_words(subject: str) -> tuple[str, str]:
    """What a reason did, in words after the fact: a sign before it read backwards ("+ No
    activity yet" looked like an absence counted as a plus), so each says which way it moved.
    (lowers, raises)."""
    what = "chance" if subject == "deal" else "score"
    return f"(lowers the {what})", f"(raises the {what})"


# Scorings a fairness group needs before its rate gap and AUC are shown: fewer are too few
# to judge (both are left blank, and the tab says why).
MIN_GROUP_SCORINGS = 25


class LeadScorer:
    """Calibrated yes/no model for any table; `score` adds 0-100, tier A-D and reasons."""

    def __init__(
        self,
        random_state: int = 0,
        model: str = "auto",
        holdout_share: float = 0.2,
        phrases: Mapping[str, Phrase] | None = None,
        protected: Sequence[str] = (),
        subject: str = "lead",
        kinds: Mapping[str, Kind] | None = None,
    ) -> None:
        self.random_state = random_state
        self.model = model
        self.holdout_share = holdout_share
        self.phrases = dict(phrases or {})
        self.kinds = dict(kinds or {})  # columns whose kind is known, not guessed (stage ids)
        self.protected = tuple(protected)
        self.subject = subject

    # -- fitting -----------------------------------------------------------------------
    def fit(
        self,
        frame: pd.DataFrame,
        target: str,
        time_column: str | None = None,
        group_column: str | None = None,
        exclude: Sequence[str] = (),
        positive: Any = None,
        fairness_column: str | None = None,
    ) -> LeadScorer:
        if self.model not in ("auto", "lightgbm", "logistic"):
            raise ValueError(f"model must be 'auto', 'lightgbm' or 'logistic', not {self.model!r}")
        for column in (target, time_column, group_column):
            if column is not None and column not in frame.columns:
                raise DataValidationError(
                    f"column {column!r} not found; columns are: {', '.join(map(str, frame.columns))}"
                )
        y_all = parse_target(frame[target], positive).to_numpy()
        labelled = ~np.isnan(y_all)
        data = frame.loc[labelled]  # original index kept: problems are reported by row
        y = y_all[labelled].astype(int)
        positives, negatives = int(y.sum()), int(len(y) - y.sum())
        if min(positives, negatives) < MIN_PER_CLASS:
            raise NotEnoughDataError(
                f"need at least {MIN_PER_CLASS} rows of each outcome to learn from; "
                f"got {positives} with {target!r} yes and {negatives} with no"
            )
        dropped = {target, *exclude} | {c for c in (time_column, group_column) if c}
        features = data.drop(columns=[c for c in data.columns if c in dropped])
        self.encoder_ = TabularEncoder().fit(features, self.phrases, self.kinds)
        if not self.encoder_.plans_:
            raise DataValidationError(
                "no usable columns to learn from: "
                + "; ".join(f"{k}: {v}" for k, v in self.encoder_.ignored_.items())
            )
        X = self.encoder_.transform(features)
        self.unreadable_ = self.encoder_.unreadable(features, X)
        times = coerce_datetime(data[time_column])[0] if time_column else None
        groups = _group_keys(data, group_column)
        rng = np.random.default_rng(self.random_state)
        train, test, split_text = self._holdout(y, times, groups, rng)
        if self.model == "auto" and len(y) < CROSS_FIT_ROWS and self.test_from_ is None:
            p_test, reference, why, refit = self._cross_fit(X, y, train, test, groups, rng)
        else:
            p_test, reference, why, refit = self._fit_by_rule(X, y, train, test, groups, rng)
        held_out = binary_metrics(y[test], p_test)
        self.tiers_ = {
            tier: float(np.quantile(reference, 1 - share)) for tier, share in TIER_SHARES
        }
        self.card_ = self._card(
            frame, target, data, y, times, features, X, train, test, groups, p_test,
            held_out, split_text, why, refit, fairness_column,
        )  # fmt: skip
        return self

    def _cross_fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        train: np.ndarray,
        test: np.ndarray,
        groups: np.ndarray,
        rng: np.random.Generator,
    ) -> tuple[np.ndarray, np.ndarray, str, str]:
        """Learner and calibrator from one cross-validation over every labelled row.

        The kept model: the candidate with the highest out-of-fold AUC, refitted on every
        row and calibrated on the same out-of-fold chances. The choice is made on every
        row because trees gain steeply with rows at this size (resume callback table:
        LightGBM's out-of-fold AUC 0.62-0.69 on 3,100 rows, 0.70 on 4,900), so a choice
        made on the training part alone kept the logistic regression too often.
        The card's estimate: that candidate with the same settings fitted on the
        training rows, calibrated on its own out-of-fold chances there, tested on the
        held-out rows (which only the choice of settings has seen).
        """
        plans, seed = self.encoder_.plans_, self.random_state
        minority = min(int(y.sum()), int(len(y) - y.sum()))
        with_trees = len(y) >= CV_LGBM_MIN_ROWS and minority >= CV_LGBM_MIN_MINORITY
        folds = FOLDS if with_trees else LINE_ONLY_FOLDS
        choice = choose_learner(plans, X, y, group_folds(groups, rng, folds), with_trees, seed)
        self.calibration_ = fit_beta_calibrator(choice.chances, y)
        # The kept model and the card's estimate share nothing, so the kept model (its
        # fit and TreeSHAP tables) is built in a second thread meanwhile: LightGBM runs
        # without the GIL (resume callback table, one thread each, fit and then build
        # run back to back on a loaded machine: 14.8 s before, 7.7 s). Same numbers.
        with ThreadPoolExecutor(1) as pool:
            kept = pool.submit(_fitted_and_explained, choice.learner(plans, seed), X, y)
            train_folds = group_folds(groups[train], rng, folds)
            oof = refit_out_of_fold(choice, plans, X[train], y[train], train_folds, seed)
            first = choice.learner(plans, seed).fit(X[train], y[train])
            p_test = apply_calibrator(fit_beta_calibrator(oof, y[train]), first.raw(X[test]))
            self.learner_ = kept.result()
        why = choice.why(len(y))
        if not with_trees:
            why += (
                f"; LightGBM is tried from {CV_LGBM_MIN_ROWS:,} labelled rows and "
                f"{CV_LGBM_MIN_MINORITY:,} of the rarer outcome (here {len(y):,} and "
                f"{minority:,})"
            )
        refit = (
            "refitted on every labelled row with the settings cross-validation chose; "
            "calibrated on its out-of-fold predictions"
        )
        return p_test, apply_calibrator(self.calibration_, choice.chances), why, refit

    def _fit_by_rule(
        self,
        X: np.ndarray,
        y: np.ndarray,
        train: np.ndarray,
        test: np.ndarray,
        groups: np.ndarray,
        rng: np.random.Generator,
    ) -> tuple[np.ndarray, np.ndarray, str, str]:
        """The learner by the size rule, checked and calibrated on held-out slices."""
        minority = min(int(y.sum()), int(len(y) - y.sum()))
        learner_kind, why = self._choose(len(y), minority)
        # Stage 1: honest held-out estimate.
        fit_rows, cal_rows = self._slice(train, groups, y, rng, 0.2)
        if learner_kind == "both":
            learner_kind, first, why = self._better_of_two(X, y, fit_rows, cal_rows, why)
        else:
            first = self._learner(learner_kind).fit(
                X[fit_rows], y[fit_rows], valid=(X[cal_rows], y[cal_rows])
            )
        calibration = fit_calibrator(first.raw(X[cal_rows]), y[cal_rows])
        p_test = apply_calibrator(calibration, first.raw(X[test]))
        # Stage 2: the model that is kept, trained on every labelled row.
        if len(y) <= REFIT_LIMIT:
            rounds = getattr(first, "rounds_", None)
            oof = self._out_of_fold(learner_kind, X, y, groups, rng, rounds)
            self.calibration_ = fit_calibrator(oof, y)
            self.learner_ = self._learner(learner_kind, rounds).fit(X, y)
            self.learner_.explain(X)
            reference = apply_calibrator(self.calibration_, oof)
            refit = "refitted on every labelled row; calibrated on out-of-fold predictions"
        else:
            rest = np.concatenate([cal_rows, test])
            self.calibration_ = fit_calibrator(first.raw(X[rest]), y[rest])
            self.learner_ = first
            self.learner_.explain(X[fit_rows])
            reference = apply_calibrator(self.calibration_, first.raw(X[rest]))
            refit = (
                f"kept the held-out-stage model ({len(fit_rows):,} rows): over "
                f"{REFIT_LIMIT:,} rows a refit adds little and costs a second training"
            )
        return p_test, reference, why, refit

    def _choose(self, rows: int, minority: int) -> tuple[str, str]:
        if self.model != "auto":
            return self.model, f"{self.model} was requested"
        if rows >= LGBM_MIN_ROWS and minority >= LGBM_MIN_MINORITY:
            return "lightgbm", (
                f"LightGBM: {rows:,} labelled rows and {minority:,} of the rarer outcome "
                f"(needs {LGBM_MIN_ROWS:,} and {LGBM_MIN_MINORITY:,})"
            )
        if rows >= TRY_BOTH_ROWS and minority >= TRY_BOTH_MINORITY:
            return "both", (
                f"{rows:,} labelled rows and {minority:,} of the rarer outcome: between the "
                f"{TRY_BOTH_ROWS:,} / {TRY_BOTH_MINORITY:,} where LightGBM may pay off and the "
                f"{LGBM_MIN_ROWS:,} / {LGBM_MIN_MINORITY:,} where it does, so both were fitted"
            )
        return "logistic", (
            f"regularised logistic regression: {rows:,} labelled rows and {minority:,} of the "
            f"rarer outcome, below the {TRY_BOTH_ROWS:,} / {TRY_BOTH_MINORITY:,} where "
            "LightGBM starts to pay off"
        )

    def _better_of_two(
        self, X: np.ndarray, y: np.ndarray, fit_rows: np.ndarray, cal_rows: np.ndarray, why: str
    ) -> tuple[str, Learner, str]:
        """Both learners on the same rows; the one that ranks the calibration slice better.

        LightGBM stops early on that slice too, which flatters it a little: part of why
        it must lead by `TRY_BOTH_MARGIN`.
        """
        fitted = {
            kind: self._learner(kind).fit(
                X[fit_rows], y[fit_rows], valid=(X[cal_rows], y[cal_rows])
            )
            for kind in ("logistic", "lightgbm")
        }
        auc = {kind: roc_auc_score(y[cal_rows], m.raw(X[cal_rows])) for kind, m in fitted.items()}
        kind = "lightgbm" if auc["lightgbm"] >= auc["logistic"] + TRY_BOTH_MARGIN else "logistic"
        name = {"lightgbm": "LightGBM", "logistic": "the regularised logistic regression"}
        return (
            kind,
            fitted[kind],
            (
                f"{name[kind]}: {why}; on the calibration slice LightGBM ranked with AUC "
                f"{auc['lightgbm']:.3f} and the logistic regression with {auc['logistic']:.3f}, "
                f"and LightGBM is kept only if it leads by {TRY_BOTH_MARGIN}"
            ),
        )

    def _learner(self, kind: str, rounds: int | None = None) -> Learner:
        plans = self.encoder_.plans_
        if kind == "lightgbm":
            return GradientBoosting(plans, self.random_state, rounds)
        return Logistic(plans, self.random_state)

    def _holdout(
        self,
        y: np.ndarray,
        times: pd.Series | None,
        groups: np.ndarray,
        rng: np.random.Generator,
    ) -> tuple[np.ndarray, np.ndarray, str]:
        unique = np.unique(groups)
        n_test = max(1, round(len(unique) * self.holdout_share))
        if times is not None and times.notna().mean() > 0.9:
            first_seen = (
                pd.Series(times.to_numpy(), index=groups).groupby(level=0).min().reindex(unique)
            )
            order = np.argsort(first_seen.fillna(first_seen.max()).to_numpy(), kind="stable")
            test_groups = unique[order[-n_test:]]
            cut = first_seen.iloc[order[-n_test]]
            text = (
                f"time split: trained on rows before {cut:%Y-%m-%d}, "
                f"tested on the newest {self.holdout_share:.0%} (from {cut:%Y-%m-%d})"
            )
            self.test_from_: pd.Timestamp | None = cut
        else:
            test_groups = rng.permutation(unique)[:n_test]
            self.test_from_ = None
            text = f"random split: {self.holdout_share:.0%} of rows held out (no time column)"
        is_test = np.isin(groups, test_groups)
        train, test = np.flatnonzero(~is_test), np.flatnonzero(is_test)
        for part, name in ((train, "training"), (test, "test")):
            if len(np.unique(y[part])) < 2:
                raise NotEnoughDataError(
                    f"the {name} part of the {text.split(':')[0]} has only one outcome; "
                    "more rows with both outcomes are needed"
                )
        return train, test, text

    @staticmethod
    def _slice(
        rows: np.ndarray, groups: np.ndarray, y: np.ndarray, rng: np.random.Generator, share: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """Random held-out slice of `rows` by group, retried until both outcomes are in it."""
        unique = np.unique(groups[rows])
        for _ in range(20):
            chosen = rng.permutation(unique)[: max(1, round(len(unique) * share))]
            inside = np.isin(groups[rows], chosen)
            if len(np.unique(y[rows[inside]])) == 2 and len(np.unique(y[rows[~inside]])) == 2:
                return rows[~inside], rows[inside]
        raise NotEnoughDataError("too few rows of one outcome to hold some out for calibration")

    def _out_of_fold(
        self,
        kind: str,
        X: np.ndarray,
        y: np.ndarray,
        groups: np.ndarray,
        rng: np.random.Generator,
        rounds: int | None,
    ) -> np.ndarray:
        folds = 3 if kind == "lightgbm" else 5
        unique = rng.permutation(np.unique(groups))
        fold_of = dict(zip(unique, np.arange(len(unique)) % folds, strict=True))
        fold = np.array([fold_of[g] for g in groups])
        oof = np.zeros(len(y))
        for k in range(folds):
            inside = fold == k
            if len(np.unique(y[~inside])) < 2:
                oof[inside] = y[~inside].mean()
                continue
            model = self._learner(kind, rounds).fit(X[~inside], y[~inside])
            oof[inside] = model.raw(X[inside])
        return oof

    # -- the model card ------------------------------------------------------------------
    def _card(
        self,
        frame: pd.DataFrame,
        target: str,
        data: pd.DataFrame,
        y: np.ndarray,
        times: pd.Series | None,
        features: pd.DataFrame,
        X: np.ndarray,
        train: np.ndarray,
        test: np.ndarray,
        groups: np.ndarray,
        p_test: np.ndarray,
        held_out: dict[str, float],
        split_text: str,
        why: str,
        refit: str,
        fairness_column: str | None,
    ) -> dict[str, Any]:
        importance = self.learner_.importance()
        plans = self.encoder_.plans_
        order = np.argsort(-importance, kind="stable")
        suspicious = self._suspicious(X[train], y[train])
        warnings = [
            f"'{s['feature']}' predicts the outcome suspiciously well on its own (AUC "
            f"{s['auc_alone']:.2f}): check it is not counted after the outcome happened"
            for s in suspicious
        ]
        protected = [
            p.name
            for p in plans
            if set(re.split(r"[^a-z0-9]+", p.name.lower())) & PROTECTED_WORDS
            or p.name in self.protected
        ]
        warnings += [
            f"column '{u['column']}' row {u['row']}: {u['value']!r} is not {u['expected']}; "
            f"{u['count']} such value(s) were treated as missing and the rows kept"
            for u in self.unreadable_
        ]
        warnings += [
            f"'{name}' looks like a protected attribute and is used as a feature: "
            "check this is lawful and fair for your use" for name in protected
        ]  # fmt: skip
        base = float(y[train].mean())
        card: dict[str, Any] = {
            "model": f"{self.subject} score",
            "learner": self.learner_.name,
            "why_this_learner": why,
            "final_model": refit,
            "random_state": self.random_state,
            "trained_at": pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds"),
            "versions": {"lightgbm": lgb.__version__, "scikit-learn": sklearn.__version__},
            "data": {
                "rows": len(frame),
                "labelled_rows": len(y),
                "unlabelled_rows": len(frame) - len(y),
                "target": target,
                "label_rate": float(y.mean()),
                "date_range": [times.min().isoformat(), times.max().isoformat()]
                if times is not None and times.notna().any()
                else None,
            },
            "split": {
                "how": split_text,
                "train_rows": len(train),
                "test_rows": len(test),
                # A lead or deal is seen at several ages: rows are not the count of leads.
                "train_groups": int(np.unique(groups[train]).size),
                "test_groups": int(np.unique(groups[test]).size),
                "test_from": self.test_from_,
            },
            "held_out": held_out,
            # Guessing the training rate for every held-out row: the same rows and the same
            # information as the model, so "better than guessing" compares like with like.
            "baseline_brier": float(np.mean((y[test] - base) ** 2)),
            "calibration": {
                "method": self.calibration_["kind"],
                "curve": calibration_table(y[test], p_test).round(4).to_dict("records"),
            },
            "features": [
                {"name": plans[j].name, "kind": plans[j].kind, "importance": float(importance[j])}
                for j in order
            ],
            "ignored_columns": self.encoder_.ignored_,
            "suspicious_features": suspicious,
            "warnings": warnings,
            "tiers": self.tiers_,
        }
        if fairness_column and fairness_column in data.columns:
            card["fairness"] = {
                "column": fairness_column,
                "groups": self._fairness_rows(
                    data[fairness_column].iloc[test], y[test], p_test, groups[test]
                ),
            }
        return _jsonable(card)

    def _suspicious(self, X: np.ndarray, y: np.ndarray) -> list[dict[str, Any]]:
        """Features that alone separate the outcomes: the usual sign of a leak."""
        rng = np.random.default_rng(self.random_state)
        rows = rng.choice(len(y), min(len(y), 50_000), replace=False)
        X, y = X[rows], y[rows]
        found = []
        for j, plan in enumerate(self.encoder_.plans_):
            x = X[:, j]
            if plan.kind == "category":
                codes = np.nan_to_num(x, nan=-1).astype(int) + 1
                rate = np.bincount(codes, y, minlength=codes.max() + 1)
                count = np.bincount(codes, minlength=codes.max() + 1)
                x = ((rate + y.mean() * 10) / (count + 10))[codes]
            else:
                x = np.where(np.isnan(x), np.nanmin(x) - 1 if (~np.isnan(x)).any() else 0, x)
            if len(np.unique(x)) < 2:
                continue
            auc = float(roc_auc_score(y, x))
            alone = max(auc, 1 - auc)
            if alone >= SUSPICIOUS_AUC:
                found.append({"feature": plan.name, "auc_alone": alone})
        return found

    @staticmethod
    def _fairness_rows(
        groups: pd.Series, y: np.ndarray, p: np.ndarray, records: np.ndarray | None = None
    ) -> list[dict[str, Any]]:
        """Per group: the rows (scorings) its rates are over, and the distinct records (leads,
        deals) among them. A lead is scored at several ages, so rows are not leads; a record
        whose group changed between its scorings counts once, in the group of its last, so
        the groups' records add up to the records held out."""
        rows = []
        labels = groups.astype("string").fillna("(unknown)").to_numpy()
        keys = np.arange(len(labels)) if records is None else np.asarray(records)
        last = pd.Series(labels).groupby(keys).last()
        for value in pd.unique(labels):
            hit = labels == value
            if hit.sum() < 1:
                continue
            yy, pp = y[hit], p[hit]
            rows.append(
                {
                    "group": str(value),
                    "rows": int(hit.sum()),
                    "records": int((last == value).sum()),
                    "mean_score": float(100 * pp.mean()),
                    "observed_rate": float(yy.mean()),
                    "mean_predicted": float(pp.mean()),
                    "calibration_error": calibration_error(yy, pp, bins=5)
                    if hit.sum() >= MIN_GROUP_SCORINGS
                    else None,
                    # an AUC of 1 from 5 leads was shown beside a gap left blank for too few
                    "auc": float(roc_auc_score(yy, pp))
                    if hit.sum() >= MIN_GROUP_SCORINGS and 0 < yy.sum() < len(yy)
                    else None,
                }
            )
        return sorted(rows, key=lambda r: -r["rows"])

    def fairness(
        self, frame: pd.DataFrame, target: str, column: str, positive: Any = None
    ) -> pd.DataFrame:
        """Score distribution and calibration per group, on rows with a known outcome."""
        y = parse_target(frame[target], positive).to_numpy()
        known = ~np.isnan(y)
        p = self.predict_proba(frame.loc[known])
        return pd.DataFrame(self._fairness_rows(frame.loc[known, column], y[known].astype(int), p))

    # -- using the model ---------------------------------------------------------------------
    def _check_fitted(self) -> None:
        check_fitted(self, "learner_", f"{self.subject} scorer")

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        self._check_fitted()
        X = self.encoder_.transform(frame)
        return apply_calibrator(self.calibration_, self.learner_.raw(X))

    def score(
        self, frame: pd.DataFrame, reasons: int = 3, always: Sequence[str] = ()
    ) -> pd.DataFrame:
        """Chance, 0-100 score, tier and reasons. A column of `always` is among a row's
        reasons wherever its value says something (not "(other)", an effect of 0.01 or
        more), in the last place when its effect is not among the largest (a lead's open
        deal stage: the one fact a sales rep checks first)."""
        self._check_fitted()
        X = self.encoder_.transform(frame)
        if len(X) >= PARALLEL_ROWS:
            # LightGBM predicts without the GIL, so the reasons (numpy and Python) are
            # worked out meanwhile: on 2 cores 100,000 rows take ~0.85 s instead of ~1.2 s.
            with ThreadPoolExecutor(1) as pool:
                raw = pool.submit(self.learner_.raw, X)
                texts = self._reasons(X, reasons, always)
                p = apply_calibrator(self.calibration_, raw.result())
        else:
            p = apply_calibrator(self.calibration_, self.learner_.raw(X))
            texts = self._reasons(X, reasons, always)
        # Calibration maps a sparse corner of the data to exactly 0 or 1; no deal or lead is
        # certain, so a shown chance stays within 1%-99%.
        p = np.clip(p, SHOWN_LIMITS[0], SHOWN_LIMITS[1])
        score = np.rint(100 * p).astype(int)
        # Tiers are cut on the score people see, so two leads showing the same score never
        # get different tiers, and "A from 45" in the tab's note is exactly true.
        tier = np.full(len(p), "D", dtype=object)
        for name, _ in reversed(TIER_SHARES):
            tier[score >= np.rint(100 * self.tiers_[name])] = name
        return pd.DataFrame(
            {
                "probability": p,
                "score": score,
                "tier": tier,
                "reasons": texts,
            },
            index=frame.index,
        )

    def _reasons(self, X: np.ndarray, count: int, always: Sequence[str] = ()) -> list[list[str]]:
        contributions = self.learner_.contributions(X)
        count = min(count, X.shape[1])
        top, size = self._top(np.abs(contributions), count)
        shown = size >= 0.01
        names = [plan.name for plan in self.encoder_.plans_]
        for j in (names.index(name) for name in always if name in names):
            plan = self.encoder_.plans_[j]
            # Not forced where it says nothing: a value training never saw enough of
            # ("a less common value") or an effect too small to have a direction.
            known = ~np.isnan(X[:, j]) & (np.abs(contributions[:, j]) >= 0.01)
            if plan.kind == "category":
                known &= X[:, j] != len(plan.categories) - 1  # the last is "(other)"
            add = known & ~((top == j) & shown).any(axis=1)
            top[add, -1], shown[add, -1] = j, True
        # Reasons grouped by column (one sort) so each column's values are put into
        # words once per distinct value rather than once per row.
        spots = np.flatnonzero(shown.ravel())  # row * count + rank
        columns = top.ravel()[spots]
        order = np.argsort(columns, kind="stable")
        spots, columns = spots[order], columns[order]
        bounds = np.searchsorted(columns, np.arange(X.shape[1] + 1))
        texts = np.full(top.size, "", dtype=object)
        for j, plan in enumerate(self.encoder_.plans_):
            where = spots[bounds[j] : bounds[j + 1]]
            if not len(where):
                continue
            rows = where // count
            values = X[rows, j]
            if plan.kind != "category":  # phrases show at most two decimals
                values = np.round(values, 2)
            distinct, inverse = np.unique(values, return_inverse=True)
            words = [plan.describe(v) for v in distinct]
            lowers, raises = reason_words(self.subject)
            phrases = np.array([f"{w} {lowers}" for w in words] + [f"{w} {raises}" for w in words],
                               dtype=object)  # fmt: skip
            up = contributions[rows, j] > 0
            texts[where] = phrases[inverse + up * len(words)]
        out = texts.reshape(top.shape).tolist()
        for i in np.flatnonzero(~shown.all(axis=1)):  # fewer reasons than asked for
            out[i] = [t for t in out[i] if t]
        return out

    @staticmethod
    def _top(size: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
        """Columns of the `count` largest effects per row, largest first (ties: leftmost),
        and those effects: `count` argmax passes beat a partial sort for a few reasons."""
        work = np.array(size, order="C")
        top = np.empty((len(work), count), dtype=np.intp)
        values = np.empty((len(work), count))
        rows = np.arange(len(work))
        for rank in range(count):
            top[:, rank] = column = work.argmax(axis=1)
            values[:, rank] = work[rows, column]
            work[rows, column] = -np.inf
        return top, values

    # -- saving as text ------------------------------------------------------------------------
    def to_text(self) -> str:
        """The fitted scorer as JSON (a LightGBM learner in its own text format inside)."""
        self._check_fitted()
        return json.dumps(
            {
                "format": "smbml-lead-scorer",
                # 3 only where an older install would misread the model (a beta
                # calibrator: read as Platt's, its chances were wrong without a word),
                # so that every other saved model keeps its exact text.
                "version": 3 if self.calibration_.get("kind") not in ("isotonic", "platt") else 2,
                "settings": {
                    "random_state": self.random_state,
                    "model": self.model,
                    "holdout_share": self.holdout_share,
                    "protected": list(self.protected),
                    "subject": self.subject,
                },
                "encoder": self.encoder_.to_dict(),
                "learner": self.learner_.to_dict(),
                "calibration": self.calibration_,
                "tiers": self.tiers_,
                "card": self.card_,
            }
        )

    @classmethod
    def from_text(cls, text: str) -> LeadScorer:
        data = json.loads(text)
        if data.get("format") != "smbml-lead-scorer" or data.get("version") not in (1, 2, 3):
            raise DataValidationError("not a saved smbml lead scorer (or from a newer version)")
        if data["calibration"].get("kind") not in CALIBRATOR_KINDS:
            raise DataValidationError(
                "this lead scorer's calibration is of a kind this version does not know "
                "(saved by a newer version): update smbml_connect or fit it again"
            )
        if data["version"] == 1 and data["learner"]["learner"] == "logistic":
            # Version 2 reads large numbers both as they are and log-scaled.
            raise DataValidationError(
                "this lead scorer was saved by an earlier version whose logistic regression "
                "reads numbers differently: fit it again"
            )
        scorer = cls(**data["settings"])
        scorer.encoder_ = TabularEncoder.from_dict(data["encoder"])
        scorer.phrases = {p.name: p.phrase for p in scorer.encoder_.plans_ if p.phrase}
        plans = scorer.encoder_.plans_
        scorer.learner_ = learner_from_dict(data["learner"], plans)
        scorer.calibration_ = data["calibration"]
        scorer.tiers_ = data["tiers"]
        scorer.card_ = data["card"]
        return scorer

    # The names the steps and saved-model code used before `to_text` / `from_text`.
    to_json = to_text
    from_json = from_text

    @property
    def feature_labels(self) -> dict[str, str]:
        self._check_fitted()
        return {p.name: humanise(p.name) for p in self.encoder_.plans_}
