"""Scores for probability models, in the forms a model card and a benchmark report them.

Calibration error is the adaptive kind (equal-count bins): lead scores are skewed
towards zero, so equal-width bins would leave most of them in the first bin and hide
miscalibration where the decisions are made.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

__all__ = ["binary_metrics", "calibration_error", "calibration_table", "lift_at"]


def calibration_table(y: np.ndarray, p: np.ndarray, bins: int = 10) -> pd.DataFrame:
    """Mean predicted vs observed rate in equal-count bins of the prediction."""
    order = np.argsort(p, kind="stable")
    groups = np.array_split(order, min(bins, max(len(p), 1)))
    rows = [
        {"predicted": float(p[g].mean()), "observed": float(y[g].mean()), "rows": len(g)}
        for g in groups
        if len(g)
    ]
    return pd.DataFrame(rows, columns=["predicted", "observed", "rows"])


def calibration_error(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    table = calibration_table(y, p, bins)
    if table.empty:
        return float("nan")
    gap = (table["predicted"] - table["observed"]).abs()
    return float((gap * table["rows"]).sum() / table["rows"].sum())


def lift_at(y: np.ndarray, p: np.ndarray, share: float = 0.1) -> float:
    """How many times the base rate the top `share` of scores converts at."""
    base = y.mean()
    if base == 0 or len(y) == 0:
        return float("nan")
    top = np.argsort(-p, kind="stable")[: max(1, round(len(p) * share))]
    return float(y[top].mean() / base)


def binary_metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    y = np.asarray(y, dtype=int)
    p = np.asarray(p, dtype=float)
    both = 0 < y.sum() < len(y)
    return {
        "rows": len(y),
        "positive_rate": float(y.mean()) if len(y) else float("nan"),
        "auc": float(roc_auc_score(y, p)) if both else float("nan"),
        "pr_auc": float(average_precision_score(y, p)) if both else float("nan"),
        "brier": float(brier_score_loss(y, p)) if len(y) else float("nan"),
        "calibration_error": calibration_error(y, p),
        "lift_top_decile": lift_at(y, p, 0.1),
    }
