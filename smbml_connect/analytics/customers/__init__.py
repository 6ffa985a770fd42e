"""Customers: RFM segments, clusters, churn risk and value, next best product."""

from smbml_connect.analytics.customers.clusters import CustomerClusters
from smbml_connect.analytics.customers.recommend import CoPurchaseRecommender
from smbml_connect.analytics.customers.segments import SEGMENTS, rfm_table
from smbml_connect.analytics.customers.value import CustomerValueModel

__all__ = [
    "SEGMENTS",
    "CoPurchaseRecommender",
    "CustomerClusters",
    "CustomerValueModel",
    "rfm_table",
]
