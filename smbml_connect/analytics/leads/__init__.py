"""Lead scores and deal win chances: calibrated chances with reasons in words."""

from smbml_connect.analytics.leads.deals import DealWinModel, pipeline_forecast
from smbml_connect.analytics.leads.scoring import LeadScorer

__all__ = ["DealWinModel", "LeadScorer", "pipeline_forecast"]
