"""Sales forecasts: any two columns (``forecast_series``) or a panel of series."""

from smbml_connect.analytics.forecast.engine import (
    SeriesForecast,
    forecast_panel,
    forecast_panel_results,
    forecast_series,
)

__all__ = ["SeriesForecast", "forecast_panel", "forecast_panel_results", "forecast_series"]
