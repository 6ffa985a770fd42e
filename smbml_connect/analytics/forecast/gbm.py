"""A LightGBM model trained across all series of a panel, for shops with many products.

One product's history is short; a hundred products together show how sales move after
a given run of months. Every series is divided by its own recent level, so big and small
products teach the same shapes. One direct model covers every step ahead (the step is a
feature), which avoids feeding forecasts back in as if they were sales.
"""

from __future__ import annotations

from collections.abc import Callable

import lightgbm as lgb
import numpy as np

from smbml_connect.analytics.forecast.models import Prediction
from smbml_connect.analytics.forecast.timeseries import FREQUENCIES, RegularSeries

__all__ = ["GBM_MIN_SERIES", "boosted_candidates"]

GBM_MIN_SERIES = 10  # fewer series than this give a global model too little to learn from
MAX_ROWS = 300_000
PARAMS = {
    "objective": "l1",  # sales have spikes; the median is the honest point forecast
    "learning_rate": 0.05,
    "num_leaves": 31,
    "min_data_in_leaf": 50,
    "feature_fraction": 0.9,
    "verbose": -1,
    "num_threads": 1,
}
ROUNDS = 300


def _lags(freq: str) -> int:
    return max(FREQUENCIES[freq][1], 4) + 1


def _level(y: np.ndarray, m: int) -> float:
    recent = np.abs(y[-max(m, 4) :])
    level = float(recent.mean())
    return level if level > 0 else max(float(np.abs(y).mean()), 1.0)


def _features(window: np.ndarray, level: float, step: int, position: int, m: int) -> list[float]:
    scaled = window / level
    return [*scaled, float(scaled[-m:].mean()), float(step), float(position % m)]


class _GlobalModel:
    """The model for one cut: every series shortened by the same number of periods."""

    def __init__(self, panel: dict[str, np.ndarray], horizon: int, freq: str, seed: int) -> None:
        self.lags, self.m, self.horizon = _lags(freq), max(FREQUENCIES[freq][1], 1), horizon
        rows, targets = [], []
        rng = np.random.default_rng(seed)
        per_series = max(1, MAX_ROWS // max(len(panel), 1) // horizon)
        for y in panel.values():
            origins = np.arange(self.lags - 1, len(y) - 1)
            if len(origins) > per_series:
                origins = np.sort(rng.choice(origins, per_series, replace=False))
            level = _level(y, self.m)
            for t in map(int, origins):
                window = y[t - self.lags + 1 : t + 1]
                for step in range(1, min(horizon, len(y) - 1 - t) + 1):
                    rows.append(_features(window, level, step, t + step, self.m))
                    targets.append(y[t + step] / level)
        self.fitted = len(rows) >= 200
        if self.fitted:
            data = lgb.Dataset(np.array(rows), np.array(targets))
            self.booster = lgb.train(PARAMS | {"seed": seed}, data, ROUNDS)

    def predict(self, y: np.ndarray) -> Prediction | None:
        if not self.fitted or len(y) < self.lags:
            return None
        level = _level(y, self.m)
        window = y[-self.lags :]
        rows = [_features(window, level, s, len(y) - 1 + s, self.m)
                for s in range(1, self.horizon + 1)]  # fmt: skip
        mean = np.asarray(self.booster.predict(np.array(rows))) * level
        spread = float(np.mean(np.abs(np.diff(y[-4 * self.m :])))) * 1.25
        return Prediction(mean, spread * np.sqrt(np.arange(1, self.horizon + 1)), "LightGBM")


def boosted_candidates(
    regular: dict[str, RegularSeries], horizon: int, random_state: int = 0
) -> dict[str, dict[str, Callable[[np.ndarray, int, int], Prediction]]]:
    """Per series, a `lightgbm` candidate whose backtests use models trained only on the
    periods before each cut (one model per cut, shared by all series)."""
    freqs = [s.freq for s in regular.values()]
    freq = max(set(freqs), key=freqs.count)
    panel = {uid: s.y for uid, s in regular.items() if s.freq == freq}
    models: dict[int, _GlobalModel] = {}

    def candidate(uid: str) -> Callable[[np.ndarray, int, int], Prediction]:
        full = len(panel[uid])

        def predict(y: np.ndarray, m: int, steps: int) -> Prediction:
            cut = full - len(y)
            if cut not in models:
                shortened = {k: v[: len(v) - cut] for k, v in panel.items() if len(v) > cut}
                models[cut] = _GlobalModel(shortened, horizon, freq, random_state)
            prediction = models[cut].predict(y)
            if prediction is None:  # too short for the lags: the backtest scores it out
                return Prediction(np.full(steps, np.nan), np.full(steps, np.nan), "LightGBM")
            return Prediction(prediction.mean[:steps], prediction.sd[:steps], "LightGBM")

        return predict

    return {uid: {"lightgbm": candidate(uid)} for uid in panel}
