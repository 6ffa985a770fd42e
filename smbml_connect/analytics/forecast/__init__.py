"""Sales forecasts: any two columns (``forecast_series``) or a panel of series."""

from smbml_connect.analytics.forecast.engine import (
    SeriesForecast,
    forecast_panel,
    forecast_panel_results,
    forecast_series,
)
from smbml_connect.analytics.forecast.estimators import PanelForecaster, SeriesForecaster

__all__ = [
    "PanelForecaster",
    "SeriesForecast",
    "SeriesForecaster",
    "forecast_panel",
    "forecast_panel_results",
    "forecast_series",
]
