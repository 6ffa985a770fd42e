"""`forecast_series` and `forecast_panel` as estimators, for code that wants the model
contract (settings in `__init__`, `fit -> self`, `predict`, `to_text` / `from_text`).

The functions stay the two-column API. The horizon is a setting rather than an argument
of `predict` because the backtests that choose each series' model are scored over it; a
shorter forecast is the first rows of the fitted one. What is saved is the forecast and
its story (the chosen models are closures over the history, not parameters).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any, ClassVar, Literal, Self

import pandas as pd

from smbml_connect.analytics.forecast.engine import forecast_panel, forecast_series
from smbml_connect.analytics.shared.contract import (
    check_fitted,
    frame_from_dict,
    frame_to_dict,
    read_text,
    write_text,
)
from smbml_connect.errors import DataValidationError

__all__ = ["PanelForecaster", "SeriesForecaster"]


def _first_rows(
    frame: pd.DataFrame, fitted: int, horizon: int | None, per: str | None
) -> pd.DataFrame:
    steps = fitted if horizon is None else horizon
    if not 1 <= steps <= fitted:
        raise DataValidationError(
            f"this forecaster was fitted for {fitted} periods ahead, so it can predict 1 to "
            f"{fitted}, not {steps}: fit it again with horizon={steps}"
        )
    out = (frame.head(steps) if per is None else frame.groupby(per, sort=False).head(steps)).copy()
    out.attrs = copy.deepcopy(frame.attrs)
    return out


class _Forecaster:
    """What both forecasters share: the settings, the saved forecast and its text form."""

    _kind: ClassVar[str]
    forecast_: pd.DataFrame  # set by `fit` or `from_text`

    def __init__(
        self,
        horizon: int,
        season_length: int | None,
        levels: Sequence[int],
        gaps: Literal["interpolate", "zero"],
    ) -> None:
        self.horizon = horizon
        self.season_length = season_length
        self.levels = levels
        self.gaps = gaps

    def _settings(self) -> dict[str, Any]:
        return {
            "horizon": self.horizon,
            "season_length": self.season_length,
            "levels": list(self.levels),
            "gaps": self.gaps,
        }

    def to_text(self) -> str:
        check_fitted(self, "forecast_", "series forecaster")
        body = {"settings": self._settings(), "forecast": frame_to_dict(self.forecast_)}
        return write_text(self._kind, 1, body)

    @classmethod
    def from_text(cls, text: str) -> Self:
        data = read_text(text, cls._kind)
        model = cls(**{**data["settings"], "levels": tuple(data["settings"]["levels"])})
        model.forecast_ = frame_from_dict(data["forecast"])
        return model


class SeriesForecaster(_Forecaster):
    """One series forecast `horizon` periods ahead (see `forecast_series`)."""

    _kind = "smbml-series-forecast"

    def __init__(
        self,
        horizon: int = 12,
        season_length: int | None = None,
        levels: Sequence[int] = (80, 95),
        gaps: Literal["interpolate", "zero"] = "interpolate",
    ) -> None:
        super().__init__(horizon, season_length, levels, gaps)

    def fit(self, dates: Any, values: Any) -> SeriesForecaster:
        self.forecast_ = forecast_series(
            dates, values, self.horizon, self.season_length, tuple(self.levels), self.gaps
        )
        return self

    def predict(self, horizon: int | None = None) -> pd.DataFrame:
        """`ds, yhat, lo/hi per level, model`, with the story in `attrs`."""
        check_fitted(self, "forecast_", "series forecaster")
        return _first_rows(self.forecast_, self.horizon, horizon, None)


class PanelForecaster(_Forecaster):
    """Every series of a long frame `unique_id, ds, y` (see `forecast_panel`)."""

    _kind = "smbml-panel-forecast"

    def __init__(
        self,
        horizon: int = 12,
        season_length: int | None = None,
        levels: Sequence[int] = (80, 95),
        gaps: Literal["interpolate", "zero"] = "zero",
        boosted: bool | None = False,
        random_state: int = 0,
    ) -> None:
        super().__init__(horizon, season_length, levels, gaps)
        self.boosted = boosted
        self.random_state = random_state

    def fit(self, frame: pd.DataFrame) -> PanelForecaster:
        self.forecast_ = forecast_panel(
            frame, self.horizon, self.season_length, tuple(self.levels), self.gaps,
            self.boosted, self.random_state,
        )  # fmt: skip
        return self

    def predict(self, horizon: int | None = None) -> pd.DataFrame:
        """`unique_id, ds, yhat, lo/hi per level, model, season_length, note`; series
        that could not be forecast are in `attrs["skipped"]` with the reason."""
        check_fitted(self, "forecast_", "panel forecaster")
        per = "unique_id" if "unique_id" in self.forecast_.columns else None
        return _first_rows(self.forecast_, self.horizon, horizon, per)

    def _settings(self) -> dict[str, Any]:
        return super()._settings() | {"boosted": self.boosted, "random_state": self.random_state}
