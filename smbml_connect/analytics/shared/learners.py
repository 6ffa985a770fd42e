"""The learners behind every yes/no model, and the calibrators that make them honest.

The logistic regression, LightGBM and their blend see the encoder's float matrix and
share one small interface (fit, raw probability, per-feature contributions,
importance, to/from plain dicts), so the scorers above them never care which one was
chosen. Each knows how to cross-validate its own setting (`out_of_fold`). Everything
saves as text: the LightGBM model's own text format and JSON numbers, never pickle.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import lightgbm as lgb
import numpy as np
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
from sklearn.metrics import roc_auc_score

from smbml_connect.analytics.shared.contract import check_fitted, read_text, write_text
from smbml_connect.analytics.shared.tabular import ColumnPlan
from smbml_connect.errors import DataValidationError

__all__ = [
    "CALIBRATOR_KINDS",
    "INVERSE_L2",
    "Blend",
    "GradientBoosting",
    "Learner",
    "Logistic",
    "apply_calibrator",
    "blend_chances",
    "fit_beta_calibrator",
    "fit_calibrator",
    "learner_from_dict",
]

_EPS = 1e-6
ISOTONIC_MIN_ROWS, ISOTONIC_MIN_MINORITY = 5000, 500
CALIBRATOR_KINDS = ("isotonic", "platt", "beta")  # what `apply_calibrator` can read
# Cross-validated trees: rounds tried up to OOF_ROUNDS, the pooled AUC checked every OOF_STEP.
OOF_ROUNDS, OOF_STEP = 400, 10
INVERSE_L2 = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0)  # the logistic regression's C values tried
# The cross-validated trees (tables under 10,000 rows) use one thread each and the
# scorer runs two at once: on a few thousand rows LightGBM's threads wait on each other
# more than they work (resume callback fit, two busy cores: 92 s with LightGBM's
# default threads, 28 s with two Python threads, see benchmarks/leads.py).
_ONE_THREAD = {"num_threads": 1}


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, _EPS, 1 - _EPS)
    return np.log(p / (1 - p))


def blend_chances(weight: float, lines: np.ndarray, trees: np.ndarray) -> np.ndarray:
    """Two learners' chances averaged in log-odds, `weight` on the first."""
    z = weight * _logit(lines) + (1 - weight) * _logit(trees)
    return 1.0 / (1.0 + np.exp(-z))


def fit_calibrator(raw: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """Isotonic when there is plenty to fit it on, Platt scaling otherwise.

    Isotonic regression is free-form: its steps follow noise and tie scores that the
    learner had told apart. On real tables of 600 to 1,300 rows it cost AUC and raised the
    calibration error (titanic, 5-fold: AUC 0.837 and ECE 0.034 with it, 0.842 and 0.027
    with Platt), so it waits for thousands of rows and hundreds of the rarer outcome.
    Tables that are cross-fitted use `fit_beta_calibrator` instead.
    """
    minority = min(int(y.sum()), int(len(y) - y.sum()))
    if len(y) >= ISOTONIC_MIN_ROWS and minority >= ISOTONIC_MIN_MINORITY:
        iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(raw, y)
        return {
            "kind": "isotonic",
            "x": iso.X_thresholds_.tolist(),
            "y": iso.y_thresholds_.tolist(),
        }
    return _platt(raw, y)


def fit_beta_calibrator(raw: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """Beta calibration (Kull et al. 2017): log-odds a*log(p) - b*log(1-p) + c, a, b > 0.

    For the cross-fitted chances of small tables, where one out-of-fold prediction per
    labelled row is all there is. It keeps every distinction the learner made (strictly
    increasing), as Platt scaling does, but with one more degree of freedom it can bend
    differently at the two ends, which a blend of trees and a line often needs. Platt
    scaling is the case a = b, and is used when the free fit is not increasing.
    Isotonic steps, used before on tables over 5,000 rows, left 17-57 distinct chances per
    fold (alcohol abuse, 5-fold: AUC 0.5753 isotonic, 0.5801 beta; flchain 0.8390, 0.8411).
    """
    p = np.clip(raw, _EPS, 1 - _EPS)
    both = np.column_stack([np.log(p), -np.log(1 - p)])
    beta = LogisticRegression(C=1e4).fit(both, y)
    a, b = (float(v) for v in beta.coef_[0])
    if a > 0 and b > 0:
        return {"kind": "beta", "a": a, "b": b, "c": float(beta.intercept_[0])}
    return _platt(raw, y)


def _platt(raw: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    platt = LogisticRegression(C=1e4).fit(_logit(raw).reshape(-1, 1), y)
    return {"kind": "platt", "a": float(platt.coef_[0, 0]), "b": float(platt.intercept_[0])}


def apply_calibrator(spec: dict[str, Any], raw: np.ndarray) -> np.ndarray:
    if spec["kind"] == "isotonic":
        return np.interp(raw, np.asarray(spec["x"]), np.asarray(spec["y"]))
    if spec["kind"] == "beta":
        p = np.clip(raw, _EPS, 1 - _EPS)
        z = spec["a"] * np.log(p) - spec["b"] * np.log(1 - p) + spec["c"]
    elif spec["kind"] == "platt":
        z = spec["a"] * _logit(raw) + spec["b"]
    else:  # never guess: another kind read as Platt's gives wrong chances without a word
        raise ValueError(f"unknown calibrator kind {spec['kind']!r}")
    return 1.0 / (1.0 + np.exp(-z))


class Learner(Protocol):
    name: str

    def fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        valid: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> Learner: ...

    def raw(self, X: np.ndarray) -> np.ndarray: ...

    def explain(self, X: np.ndarray) -> None: ...

    def contributions(self, X: np.ndarray) -> np.ndarray: ...

    def importance(self) -> np.ndarray: ...

    def to_dict(self) -> dict[str, Any]: ...


class GradientBoosting:
    """LightGBM with early stopping; per-row reasons from TreeSHAP effect tables.

    Exact TreeSHAP costs about a millisecond per row for a few hundred trees, far too
    slow to explain 100,000 contacts in a second. So at fit time TreeSHAP runs on a
    sample of training rows and each feature's contribution is averaged per value bin
    (per category); scoring looks contributions up. The reasons are each feature's
    main effect at this row's value, which is also what a person can act on.
    """

    name = "lightgbm"

    def __init__(
        self,
        plans: list[ColumnPlan],
        random_state: int = 0,
        rounds: int | None = None,
        leaves: int | None = None,
        fine_categories: bool = False,
    ) -> None:
        self.plans = plans
        self.random_state = random_state
        self.rounds = rounds
        self.leaves = leaves  # None: by the number of rows (see _params)
        self.fine_categories = fine_categories  # see _small_categories

    def _params(self, n: int) -> dict[str, Any]:
        small, large = n < 20_000, n >= 200_000
        bagged = 100_000 <= n < 200_000
        return {
            "objective": "binary",
            # Large tables: a faster rate, no bagging and more L2 gave a higher held-out
            # AUC with fewer trees (fewer trees = faster scoring) than rate 0.15 with
            # half-row bagging: on 800,000 synthetic rows 0.8172 with 92 trees against
            # 0.8152 with 82 and 0.8188 with 172 (bagging off, rate 0.15), for which
            # 100,000 rows no longer score in a second.
            # Stumpy trees (4 leaves) learn slowly: at 0.05 they ran into the 400-round
            # cap on the resume callback table, at 0.1 they stop in ~250.
            "learning_rate": (0.1 if (self.leaves or 15) <= 4 else 0.05)
            if small
            else (0.2 if large else 0.1),
            "num_leaves": self.leaves or (15 if small else 31),
            "min_child_samples": max(20, n // 5000),
            "feature_fraction": 0.9,
            "bagging_fraction": 0.5 if bagged else 1.0,
            "bagging_freq": 1 if bagged else 0,
            "lambda_l2": 5.0 if large else 1.0,
            "cat_smooth": 10.0,
            "verbose": -1,
            "seed": self.random_state,
            "deterministic": True,
            "force_col_wise": True,
        } | (self._small_categories(n) | _ONE_THREAD if self.fine_categories else {})

    @staticmethod
    def _small_categories(n: int) -> dict[str, Any]:
        """On small tables, split categories as scikit-learn's HistGradientBoosting does.

        That is: values sorted by their smoothed rate (smoothing 10, LightGBM's default
        too) even when there are only three or four of them (LightGBM tries one value
        against the rest up to `max_cat_to_onehot` 4), no extra L2 on categorical
        splits and no floor on a group's rows beyond every leaf's `min_child_samples`.
        A category's rarer values are often what matters in a small table (which job ad
        a resume answered): the resume callback table (4,870 rows, 5-fold) gained AUC
        0.708 -> 0.713 over the 20-row groups with smoothing 1 and categorical L2 1 used
        before, HistGradientBoosting 0.710; the other tables moved by less than 0.0005.
        """
        if n >= 20_000:
            return {}
        return {"min_data_per_group": 1, "cat_smooth": 10.0, "cat_l2": 0.0, "max_cat_to_onehot": 1}

    def fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        valid: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> GradientBoosting:
        categorical = [j for j, p in enumerate(self.plans) if p.kind == "category"]
        params = self._params(len(y))
        train = lgb.Dataset(X, y, categorical_feature=categorical, free_raw_data=True)
        if self.rounds is None and valid is not None:
            check = lgb.Dataset(valid[0], valid[1], reference=train)
            self.booster_ = lgb.train(
                params,
                train,
                num_boost_round=400 if len(y) < 200_000 else 250,  # bounds scoring time too
                valid_sets=[check],
                callbacks=[lgb.early_stopping(30, verbose=False)],
            )
            self.rounds_ = max(1, self.booster_.best_iteration or 400)
        else:
            self.rounds_ = self.rounds or 200
            self.booster_ = lgb.train(params, train, num_boost_round=self.rounds_)
        return self

    def out_of_fold(
        self, X: np.ndarray, y: np.ndarray, folds: Sequence[tuple[np.ndarray, np.ndarray]]
    ) -> tuple[np.ndarray, int]:
        """Each row's chance from the fold model that did not see it, and the number of
        rounds: one for all folds, the one whose pooled out-of-fold AUC is highest.

        AUC, not log loss, because AUC is what the candidates are chosen by and the
        calibrator fixes the scale afterwards. Log loss stops while the ranking still
        improves: on the resume callback table (8% called back) it stopped after 44-184
        rounds, where the trees' AUC kept rising to 200-400 (5-fold: scorer 0.690 -> 0.708).
        """
        categorical = [j for j, p in enumerate(self.plans) if p.kind == "category"]
        params = self._params(len(y)) | {"metric": "None"}
        data = lgb.Dataset(X, y, categorical_feature=categorical, free_raw_data=False)
        result = lgb.cv(
            params, data, num_boost_round=OOF_ROUNDS, folds=list(folds), return_cvbooster=True
        )
        boosters = result["cvbooster"]
        if not isinstance(boosters, lgb.CVBooster):  # typed as a union; never a list here
            raise TypeError("lightgbm.cv returned no fold models")
        # Log-odds summed block by block (LightGBM's first tree holds the starting
        # average), so every checkpoint costs one block of trees, not all before it.
        # A fold model stops short of OOF_ROUNDS when no leaf can be split any more (few
        # rows, one usable column): its blocks end where its trees do, and the rounds
        # returned are never more than the most any fold built.
        built = [booster.current_iteration() for booster in boosters.boosters]
        z, best_z = np.zeros(len(y)), np.zeros(len(y))
        best_auc, rounds = -1.0, 1
        for start in range(0, max(built), OOF_STEP):
            end = min(start + OOF_STEP, max(built))
            for (_, check), booster, trees in zip(folds, boosters.boosters, built, strict=True):
                if start < trees:
                    z[check] += booster.predict(
                        X[check],
                        start_iteration=start,
                        num_iteration=min(end, trees) - start,
                        raw_score=True,
                    )
            auc = float(roc_auc_score(y, z))
            if auc > best_auc:
                best_auc, rounds, best_z = auc, end, z.copy()
        return 1.0 / (1.0 + np.exp(-best_z)), rounds

    def raw(self, X: np.ndarray) -> np.ndarray:
        check_fitted(self, "booster_", "LightGBM learner")
        return np.asarray(self.booster_.predict(X, num_iteration=self.rounds_), dtype=float)

    def explain(self, X: np.ndarray) -> None:
        """Learn the effect tables behind `contributions` (only the kept model needs them)."""
        check_fitted(self, "booster_", "LightGBM learner")
        rng = np.random.default_rng(self.random_state)
        rows = X if len(X) <= 2000 else X[rng.choice(len(X), 2000, replace=False)]
        # Dense rows in, so one dense array out (the stub also allows sparse matrices and lists).
        shap = np.asarray(
            self.booster_.predict(rows, pred_contrib=True, num_iteration=self.rounds_)
        )
        self.effects_: list[dict[str, Any]] = []
        for j, plan in enumerate(self.plans):
            x, c = rows[:, j], shap[:, j]
            nan = np.isnan(x)
            table: dict[str, Any] = {"missing": float(c[nan].mean()) if nan.any() else 0.0}
            if plan.kind == "category":
                codes = np.zeros(len(plan.categories))
                for code in range(len(plan.categories)):
                    hit = x == code
                    codes[code] = c[hit].mean() if hit.any() else 0.0
                table["codes"] = codes.tolist()
            else:
                present = x[~nan]
                edges = np.unique(np.quantile(present, np.linspace(0, 1, 13)[1:-1]))
                bins = np.searchsorted(edges, present, side="right")
                sums = np.bincount(bins, c[~nan], minlength=len(edges) + 1)
                counts = np.bincount(bins, minlength=len(edges) + 1)
                table["edges"] = edges.tolist()
                table["values"] = np.where(counts > 0, sums / np.maximum(counts, 1), 0).tolist()
            self.effects_.append(table)

    def contributions(self, X: np.ndarray) -> np.ndarray:
        # Column by column on a transposed copy: each lookup then reads contiguous
        # memory, which takes 100,000 rows from ~0.16 s to ~0.1 s of the 1 s budget.
        check_fitted(self, "effects_", "LightGBM learner's effect table (call explain)")
        columns = np.ascontiguousarray(X.T)
        out = np.empty(columns.shape, dtype=float)
        for j, table in enumerate(self.effects_):
            x = columns[j]
            if "codes" in table:
                codes = np.asarray(table["codes"])
                out[j] = codes[np.clip(np.nan_to_num(x, nan=0), 0, len(codes) - 1).astype(np.intp)]
            else:  # NaN sorts last, so its bin is in range; it is overwritten just below
                bins = np.searchsorted(np.asarray(table["edges"]), x, side="right")
                out[j] = np.asarray(table["values"])[bins]
            out[j, np.isnan(x)] = table["missing"]
        return out.T

    def importance(self) -> np.ndarray:
        check_fitted(self, "booster_", "LightGBM learner")
        gain = self.booster_.feature_importance("gain", iteration=self.rounds_)
        total = gain.sum()
        return gain / total if total > 0 else gain.astype(float)

    def to_dict(self) -> dict[str, Any]:
        check_fitted(self, "booster_", "LightGBM learner")
        # The cross-validated trees' settings only when set: a size-rule model saves
        # exactly as before, so its version tag (a hash of the text) does not move.
        chosen = {"leaves": self.leaves, "fine_categories": True} if self.fine_categories else {}
        return {
            "learner": self.name,
            "random_state": self.random_state,
            "rounds": self.rounds_,
            **chosen,
            "model_text": self.booster_.model_to_string(num_iteration=self.rounds_),
            "effects": getattr(self, "effects_", None),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], plans: list[ColumnPlan]) -> GradientBoosting:
        model = cls(
            plans,
            data["random_state"],
            data["rounds"],
            data.get("leaves"),
            bool(data.get("fine_categories", False)),
        )
        model.booster_ = lgb.Booster(model_str=data["model_text"])
        model.rounds_ = int(data["rounds"])
        if data["effects"] is not None:
            model.effects_ = data["effects"]
        return model

    def to_text(self) -> str:
        return _learner_text(self)

    @classmethod
    def from_text(cls, text: str) -> GradientBoosting:
        data, plans = _read_learner_text(text, cls.name)
        return cls.from_dict(data, plans)


class Logistic:
    """L2-regularised logistic regression, strength chosen by cross-validated log loss.

    A non-negative number that reaches past 20 enters twice, as it is and log-scaled:
    for a count the log is usually right (200 page views is not 100 times keener than
    2), for a duration often the straight line (a deal's chance falls steadily with
    its age), and the fit weighs the two. Missing numbers become the median plus a
    missing flag, categories are one-hot. A number outside the range seen in training
    is read as the nearest end of it: a straight line fitted on deals open up to 60
    days says nothing trustworthy about one open for 200 (trees behave the same way).
    Contributions are exact: coefficient times distance from the mean.
    """

    name = "logistic"

    def __init__(
        self,
        plans: list[ColumnPlan],
        random_state: int = 0,
        inverse_l2: float | None = None,
        missing_flags: bool = True,
    ) -> None:
        self.plans = plans
        self.random_state = random_state
        self.inverse_l2 = inverse_l2  # sklearn's C; None: chosen by an inner cross-validation
        self.missing_flags = missing_flags  # a 0/1 column per number with blanks (see out_of_fold)

    def _learn_design(self, X: np.ndarray) -> None:
        self.columns_: list[dict[str, Any]] = []
        for j, plan in enumerate(self.plans):
            x = X[:, j]
            if plan.kind == "category":
                self.columns_.append({"kind": "onehot", "size": len(plan.categories)})
                continue
            present = x[~np.isnan(x)]
            log = bool(plan.kind != "bool" and present.min() >= 0 and present.max() > 20)
            spec: dict[str, Any] = {
                "kind": "number",
                "log": log,
                "median": float(np.median(present)),
                "low": float(present.min()),
                "high": float(present.max()),
                "flag": bool(self.missing_flags and np.isnan(x).any()),
            }
            # Centre and spread of each shape the number enters as, over the values present.
            for shape, t in (("", present), ("log_", np.log1p(present) if log else None)):
                if t is not None:
                    spec[f"{shape}mean"] = float(t.mean())
                    spec[f"{shape}std"] = float(t.std()) or 1.0
            self.columns_.append(spec)

    def _design(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        parts, owner = [], []
        for j, spec in enumerate(self.columns_):
            x = X[:, j]
            nan = np.isnan(x)
            if spec["kind"] == "onehot":
                block = np.zeros((len(x), spec["size"]))
                rows = np.flatnonzero(~nan)
                codes = np.clip(x[rows].astype(int), 0, spec["size"] - 1)
                block[rows, codes] = 1.0
            else:
                t = np.where(nan, spec["median"], np.clip(x, spec["low"], spec["high"]))
                shapes = [(t - spec["mean"]) / spec["std"]]
                if spec["log"]:
                    shapes.append((np.log1p(t) - spec["log_mean"]) / spec["log_std"])
                block = np.column_stack(shapes)
                if spec["flag"]:
                    block = np.hstack([block, nan.astype(float).reshape(-1, 1)])
            parts.append(block)
            owner.extend([j] * block.shape[1])
        return np.hstack(parts), np.asarray(owner)

    def fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        valid: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> Logistic:
        self._learn_design(X)
        Z, _ = self._design(X)
        minority = min(int(y.sum()), int(len(y) - y.sum()))
        if self.inverse_l2 is not None:
            model: LogisticRegression | LogisticRegressionCV = LogisticRegression(
                C=self.inverse_l2, max_iter=2000
            )
        elif len(y) <= 100_000 and minority >= 5:
            model = LogisticRegressionCV(
                Cs=list(INVERSE_L2),
                l1_ratios=(0.0,),  # plain L2
                use_legacy_attributes=False,
                cv=min(5, minority),
                scoring="neg_log_loss",
                max_iter=2000,
            )
        else:
            model = LogisticRegression(C=1.0, max_iter=2000)
        model.fit(Z, y)
        self.coef_ = model.coef_[0].tolist()
        self.intercept_ = float(model.intercept_[0])
        self.center_ = Z.mean(axis=0).tolist()
        self.scale_ = Z.std(axis=0).tolist()
        return self

    def out_of_fold(
        self, X: np.ndarray, y: np.ndarray, folds: Sequence[tuple[np.ndarray, np.ndarray]]
    ) -> tuple[np.ndarray, float, bool]:
        """Each row's chance from the fold model that did not see it, the penalty and
        whether blanks get their own 0/1 columns: of `INVERSE_L2`, with and without them,
        the pair with the lowest out-of-fold log loss over all folds.

        A blank can tell something (no phone given) or nothing (a cell lost at random);
        only the data can say which. Where blanks fall at random the flags are noise the
        penalty must also shrink: on the alcohol abuse table (26 columns, 10% of cells
        blank at random) they cost 0.003 AUC (5-fold, 0.586 with, 0.589 without).
        Log loss, not AUC as for the trees' rounds: the penalty chosen by out-of-fold AUC
        did no better (affairs 0.6835 -> 0.6814, alcohol abuse 0.5819 -> 0.5817, 5-fold).
        """
        numbers = [j for j, plan in enumerate(self.plans) if plan.kind != "category"]
        flags = (True, False) if np.isnan(X[:, numbers]).any() else (True,)
        settings = [(c, f) for f in flags for c in INVERSE_L2]
        tried = np.zeros((len(settings), len(y)))
        for fit_rows, check in folds:
            if len(np.unique(y[fit_rows])) < 2:  # a few leads seen many times: one outcome
                tried[:, check] = y[fit_rows].mean()
                continue
            for i, (c, f) in enumerate(settings):
                part = Logistic(self.plans, self.random_state, c, f).fit(X[fit_rows], y[fit_rows])
                tried[i, check] = part.raw(X[check])
        p = np.clip(tried, _EPS, 1 - _EPS)
        loss = -(y * np.log(p) + (1 - y) * np.log(1 - p)).mean(axis=1)
        best = int(np.argmin(loss))  # the first of equals: flags kept, the stronger penalty
        return tried[best], *settings[best]

    def explain(self, X: np.ndarray) -> None:
        """Nothing to learn: a linear model's contributions are exact."""

    def raw(self, X: np.ndarray) -> np.ndarray:
        check_fitted(self, "coef_", "logistic learner")
        Z, _ = self._design(X)
        return 1.0 / (1.0 + np.exp(-(Z @ np.asarray(self.coef_) + self.intercept_)))

    def contributions(self, X: np.ndarray) -> np.ndarray:
        check_fitted(self, "coef_", "logistic learner")
        Z, owner = self._design(X)
        parts = (Z - np.asarray(self.center_)) * np.asarray(self.coef_)
        out = np.zeros((len(X), len(self.plans)))
        np.add.at(out.T, owner, parts.T)
        return out

    def importance(self) -> np.ndarray:
        check_fitted(self, "coef_", "logistic learner")
        weight = np.abs(np.asarray(self.coef_)) * np.asarray(self.scale_)
        _, owner = self._design(np.full((1, len(self.plans)), np.nan))
        out = np.bincount(owner, weight, minlength=len(self.plans))
        return out / out.sum() if out.sum() > 0 else out

    def to_dict(self) -> dict[str, Any]:
        check_fitted(self, "coef_", "logistic learner")
        chosen = {} if self.inverse_l2 is None else {"inverse_l2": self.inverse_l2}
        if not self.missing_flags:  # only then: other saved models keep their exact text
            chosen["missing_flags"] = False
        return {
            "learner": self.name,
            "random_state": self.random_state,
            **chosen,
            "columns": self.columns_,
            "coef": self.coef_,
            "intercept": self.intercept_,
            "center": self.center_,
            "scale": self.scale_,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], plans: list[ColumnPlan]) -> Logistic:
        model = cls(
            plans, data["random_state"], data.get("inverse_l2"), data.get("missing_flags", True)
        )
        model.columns_ = data["columns"]
        model.coef_ = data["coef"]
        model.intercept_ = data["intercept"]
        model.center_ = data["center"]
        model.scale_ = data["scale"]
        return model

    def to_text(self) -> str:
        return _learner_text(self)

    @classmethod
    def from_text(cls, text: str) -> Logistic:
        data, plans = _read_learner_text(text, cls.name)
        return cls.from_dict(data, plans)


class Blend:
    """The logistic regression and LightGBM models of several shapes, averaged in log-odds.

    On real tables neither learner wins everywhere, and their average often beats both:
    the straight lines carry the smooth effects that trees approximate in steps, the
    trees the bends and interactions the lines miss. `weight` is the logistic
    regression's share (the scorer chooses it by cross-validation); the trees share the
    rest equally. Trees of two shapes (`shapes`: (leaves, rounds) pairs) are averaged
    rather than one chosen: on 3,000-5,000-row tables the cross-validated choice
    between 15 and 4 leaves flipped from fold to fold, and the average matched or beat
    the better shape (resume callback: 15 leaves 0.699, 4 leaves 0.707, both 0.709).
    Every part explains in log-odds, so a row's reasons are the same weighted sum of
    the parts' contributions.
    """

    name = "blend"

    def __init__(
        self,
        plans: list[ColumnPlan],
        random_state: int = 0,
        weight: float = 0.5,
        inverse_l2: float | None = None,
        shapes: Sequence[tuple[int | None, int]] = ((None, 200),),
        missing_flags: bool = True,
    ) -> None:
        self.plans = plans
        self.random_state = random_state
        self.weight = weight
        self.inverse_l2 = inverse_l2
        self.shapes = tuple(shapes)
        self.missing_flags = missing_flags  # the logistic regression's (see Logistic)

    def fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        valid: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> Blend:
        self.lines_ = (
            Logistic(self.plans, self.random_state, self.inverse_l2, self.missing_flags).fit(X, y)
            if self.weight > 0
            else None
        )
        self.trees_ = [
            GradientBoosting(self.plans, self.random_state, rounds, leaves, True).fit(X, y)
            for leaves, rounds in self.shapes
        ]
        return self

    def _parts(self) -> list[tuple[float, Learner]]:
        check_fitted(self, "trees_", "blended learner")
        share = (1 - self.weight) / len(self.trees_)
        parts: list[tuple[float, Learner]] = [(share, t) for t in self.trees_]
        return [(self.weight, self.lines_), *parts] if self.lines_ is not None else parts

    def raw(self, X: np.ndarray) -> np.ndarray:
        z = sum(w * _logit(part.raw(X)) for w, part in self._parts())
        return 1.0 / (1.0 + np.exp(-np.asarray(z)))

    def explain(self, X: np.ndarray) -> None:
        for _, part in self._parts():
            part.explain(X)

    def contributions(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(sum(w * part.contributions(X) for w, part in self._parts()))

    def importance(self) -> np.ndarray:
        both = np.asarray(sum(w * part.importance() for w, part in self._parts()))
        return both / both.sum() if both.sum() > 0 else both

    def to_dict(self) -> dict[str, Any]:
        check_fitted(self, "trees_", "blended learner")
        return {
            "learner": self.name,
            "random_state": self.random_state,
            "weight": self.weight,
            "logistic": self.lines_.to_dict() if self.lines_ is not None else None,
            "lightgbm": [t.to_dict() for t in self.trees_],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], plans: list[ColumnPlan]) -> Blend:
        lines = Logistic.from_dict(data["logistic"], plans) if data["logistic"] else None
        trees = [GradientBoosting.from_dict(t, plans) for t in data["lightgbm"]]
        model = cls(
            plans,
            data["random_state"],
            data["weight"],
            lines.inverse_l2 if lines is not None else None,
            [(t.leaves, t.rounds_) for t in trees],
            lines.missing_flags if lines is not None else True,
        )
        model.lines_, model.trees_ = lines, trees
        return model

    def to_text(self) -> str:
        return _learner_text(self)

    @classmethod
    def from_text(cls, text: str) -> Blend:
        data, plans = _read_learner_text(text, cls.name)
        return cls.from_dict(data, plans)


def learner_from_dict(data: dict[str, Any], plans: list[ColumnPlan]) -> Learner:
    """Any of the learners above, from its `to_dict`."""
    kinds: dict[str, type[GradientBoosting] | type[Logistic] | type[Blend]] = {
        "lightgbm": GradientBoosting, "logistic": Logistic, "blend": Blend
    }  # fmt: skip
    if data.get("learner") not in kinds:
        raise DataValidationError(f"unknown saved learner {data.get('learner')!r}")
    return kinds[data["learner"]].from_dict(data, plans)


def _learner_text(learner: GradientBoosting | Logistic | Blend) -> str:
    """A learner on its own: its dict plus the column plans it reads (the scorers save
    the plans once, in their encoder, and call `to_dict` instead)."""
    return write_text(
        "smbml-learner", 1, {"plans": [p.to_dict() for p in learner.plans], **learner.to_dict()}
    )


def _read_learner_text(text: str, name: str) -> tuple[dict[str, Any], list[ColumnPlan]]:
    data = read_text(text, "smbml-learner")
    if data["learner"] != name:
        raise DataValidationError(f"this saved learner is {data['learner']!r}, not {name!r}")
    return data, [ColumnPlan.from_dict(p) for p in data["plans"]]
