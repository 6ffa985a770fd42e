"""Which classes keep which protocol, said once so that mypy checks every signature.

The protocols are structural: a class never names the protocol it keeps, and the
``runtime_checkable`` ``isinstance`` checks see only that the method names exist. A class
whose ``pull`` or ``publish`` drifted from its protocol would surface only where mypy sees
it used as one, if anywhere. Here each is given as its protocol, so ``mypy`` (run by
``quickstart.py test``) names the class and the member that no longer fits.

Nothing imports this module at run time: its imports and lines are for the type checker.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from smbml_connect.analytics.customers.btyd import BetaGeo, GammaGamma
    from smbml_connect.analytics.customers.clusters import CustomerClusters
    from smbml_connect.analytics.customers.pareto import ParetoNBD
    from smbml_connect.analytics.customers.recommend import CoPurchaseRecommender
    from smbml_connect.analytics.customers.value import CustomerValueModel
    from smbml_connect.analytics.forecast.estimators import PanelForecaster, SeriesForecaster
    from smbml_connect.analytics.leads.deals import DealWinModel
    from smbml_connect.analytics.leads.scoring import LeadScorer
    from smbml_connect.analytics.pricing.estimators import PriceSuggester
    from smbml_connect.analytics.shared.contract import Model
    from smbml_connect.analytics.shared.learners import Blend, GradientBoosting, Learner, Logistic
    from smbml_connect.business_zone import KeepsTimeZone
    from smbml_connect.connector import Inspectable
    from smbml_connect.connectors.files.source import FilesSource
    from smbml_connect.connectors.gsheets.http import SheetsApi
    from smbml_connect.connectors.gsheets.sheets import SheetsResults, SheetsSource
    from smbml_connect.connectors.hubspot.http import HubSpotApi
    from smbml_connect.connectors.hubspot.push import HubSpotDestination
    from smbml_connect.connectors.hubspot.source import HubSpotSource
    from smbml_connect.connectors.sample.source import SampleSource
    from smbml_connect.http.caller import Service
    from smbml_connect.http.clock import Clock, SystemClock, _OwnSleep
    from smbml_connect.ports import (
        Destination,
        KnowsAccount,
        ListsNotRead,
        PagedSource,
        SaysDateOrder,
        SaysUnnamedAmounts,
        SaysWhereTablesWent,
        SkipsRows,
        Source,
    )
    from smbml_connect.report import HtmlReport, ResultsWorkbook
    from smbml_connect.testing.clock import FakeClock

    sources: list[type[Source]] = [SampleSource, FilesSource, SheetsSource, HubSpotSource]
    paged_sources: list[type[PagedSource]] = [HubSpotSource]
    account_sources: list[type[KnowsAccount]] = [HubSpotSource]
    zoned_sources: list[type[KeepsTimeZone]] = [HubSpotSource, SheetsSource, SampleSource]
    inspectable: list[type[Inspectable]] = [FilesSource, SheetsSource]
    skipping: list[type[SkipsRows]] = [FilesSource]
    listing: list[type[ListsNotRead]] = [FilesSource, SheetsSource]
    unnamed_amounts: list[type[SaysUnnamedAmounts]] = [SheetsSource, FilesSource]
    date_orders: list[type[SaysDateOrder]] = [SheetsSource]
    tables_went: list[type[SaysWhereTablesWent]] = [SheetsSource]
    destinations: list[type[Destination]] = [
        ResultsWorkbook,
        HtmlReport,
        SheetsResults,
        HubSpotDestination,
    ]
    services: list[type[Service]] = [HubSpotApi, SheetsApi]
    clocks: list[type[Clock]] = [SystemClock, _OwnSleep, FakeClock]
    learners: list[type[Learner]] = [GradientBoosting, Logistic, Blend]
    models: list[type[Model]] = [
        LeadScorer,
        DealWinModel,
        CustomerValueModel,
        BetaGeo,
        ParetoNBD,
        GammaGamma,
        CustomerClusters,
        CoPurchaseRecommender,
        SeriesForecaster,
        PanelForecaster,
        PriceSuggester,
        GradientBoosting,
        Logistic,
    ]
