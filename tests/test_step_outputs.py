"""Each step owns its outputs: one step module and one registry line reach all four outputs.

A step defined here, and registered for this test only, declares its own output table,
a tab for the workbook and Google Sheets, a report section and a CRM property on
contacts; one run writes it to the store, the results workbook, the HTML report, a
spreadsheet in the Sheets emulator and contacts in the HubSpot emulator.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar

import pandas as pd
import pytest
from openpyxl import load_workbook
from pydantic import Field

import smbml_connect
import smbml_connect.steps as registry
from smbml_connect.connectors.gsheets.http import SheetsApi, SheetsLimits
from smbml_connect.connectors.gsheets.sheets import SheetsResults
from smbml_connect.connectors.hubspot.http import HubSpotApi, Limits
from smbml_connect.connectors.hubspot.push import HubSpotDestination
from smbml_connect.connectors.hubspot.source import HubSpotSource
from smbml_connect.credentials import Secret
from smbml_connect.errors import ConfigError
from smbml_connect.pipeline import RunOptions, run_pipeline
from smbml_connect.ports import (
    ColourScale,
    CrmProperty,
    OutputColumn,
    OutputTable,
    SheetsPart,
    SheetsTab,
    StepOutputs,
    Tab,
)
from smbml_connect.registry import parse_config
from smbml_connect.report import HtmlReport, ResultsWorkbook
from smbml_connect.sample import SampleConfig, generate
from smbml_connect.schema import REJECTS_TAB
from smbml_connect.steps import STEPS, ReportSection, Step, StepContext, StepResult, steps_by_name
from smbml_connect.steps.base import StepSettings
from smbml_connect.store import SCHEMA_VERSION, Store
from smbml_connect.testing.hubspot_emulator import TEST_TOKEN, HubSpotEmulator
from smbml_connect.testing.hubspot_sample import load_sample
from smbml_connect.testing.sheets_emulator import SheetsEmulator, make_service_account

BOOK = "1StepOutputsSpreadsheet000000000000000"
MARKER = "flagged by the test step"

FLAGS = OutputTable(
    "test_flags",
    (
        OutputColumn("contact_id", "str", required=True),
        OutputColumn("flag", "float"),
        OutputColumn("flagged_at", "datetime"),
    ),
)
FLAG_TAB = Tab(
    "Test flags",
    columns=("contact_id", "flag"),
    formats={"flag": "0.0"},
    colour_scale=ColourScale("flag", 0, 96),
    sheets=(SheetsPart(SheetsTab("test_flags")),),
)


class FlagSettings(StepSettings):
    """analytics.test_flags: declared by the step, validated by the config like the others."""

    key: ClassVar[str] = "test_flags"
    modulus: int = Field(97, ge=2)


def _flags(tables: Mapping[str, pd.DataFrame], context: StepContext) -> StepResult:
    modulus = context.settings_for(FlagSettings).modulus
    ids = tables["contacts"]["contact_id"].astype(str)
    frame = pd.DataFrame({"contact_id": ids, "flag": ids.map(lambda i: float(int(i) % modulus))})
    result = StepResult()
    result.outputs["test_flags"] = frame.assign(flagged_at=context.as_of)
    result.add_tab(FLAG_TAB, FLAG_TAB.select(frame), "One number per contact, for the test.")
    result.sections.append(ReportSection("Test flags", [f"{len(frame)} contacts {MARKER}."]))
    result.summary.append(f"Test flags: {len(frame)} contacts")
    return result


FLAG_STEP = Step(
    "test_flags",
    needs=("contacts",),
    personal=True,
    run=_flags,
    settings=FlagSettings,
    outputs=StepOutputs(
        tables=(FLAGS,),
        tabs=(FLAG_TAB,),
        properties=(
            CrmProperty("contacts", "smbml_test_flag", "Test flag (SMB ML)", "number", "number",
                        "A number only the test step writes.", "test_flags",
                        lambda rows: rows.set_index("contact_id")["flag"]),
        ),
    ),
)  # fmt: skip


@pytest.fixture
def hub() -> HubSpotEmulator:
    with HubSpotEmulator(time_scale=0.01) as emulator:
        load_sample(emulator.state, generate(SampleConfig(contacts=120, seed=5)))
        yield emulator


@pytest.fixture
def sheets() -> SheetsEmulator:
    with SheetsEmulator() as emulator:
        emulator.state.create(BOOK, "Results")
        yield emulator


def _hubspot_api(hub: HubSpotEmulator) -> HubSpotApi:
    limits = Limits(window_seconds=0.1, search_window_seconds=0.01, backoff_base=0.01,
                    backoff_cap=0.05, read_timeout=2.0)  # fmt: skip
    return HubSpotApi(Secret(TEST_TOKEN), host=hub.url, limits=limits)


def _sheets_api(sheets: SheetsEmulator) -> SheetsApi:
    key = Secret(json.dumps(make_service_account(sheets)))
    limits = SheetsLimits(backoff_base=0.01, backoff_cap=0.05, attempts=6)
    return SheetsApi(key, api_url=sheets.url, limits=limits)


def test_a_step_defined_here_reaches_store_workbook_report_sheets_and_hubspot(
    hub: HubSpotEmulator, sheets: SheetsEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as patch:
        patch.setattr(registry, "STEPS", (*STEPS, FLAG_STEP))  # the one registry line
        config = parse_config(
            {"source": {"kind": "sample"}, "analytics": {"test_flags": {"modulus": 89}}}
        )
        with pytest.raises(ConfigError, match=r"analytics\.test_flags\.modulus"):
            parse_config(
                {"source": {"kind": "sample"}, "analytics": {"test_flags": {"modulus": 1}}}
            )
        destinations = [
            ResultsWorkbook(tmp_path / "results.xlsx"),
            HtmlReport(tmp_path / "report.html"),
            SheetsResults(_sheets_api(sheets), BOOK),
            HubSpotDestination(_hubspot_api(hub)),
        ]
        with Store(tmp_path / "store.sqlite") as store:
            result = run_pipeline(
                HubSpotSource(_hubspot_api(hub)),
                store,
                RunOptions(steps=steps_by_name(["test_flags"]), settings=config.analytics.settings),
                destinations,
            )
            assert result.status == "ok", result.errors
            assert store.schema_version == SCHEMA_VERSION  # a new table, no migration
            stored = store.latest_outputs("test_flags").set_index("contact_id")["flag"]
    assert [s.name for s in registry.STEPS] == [s.name for s in STEPS]  # nothing leaked
    assert len(stored) > 50
    contact, flag = str(stored.index[0]), float(stored.iloc[0])
    assert (stored == stored.index.map(lambda i: float(int(i) % 89))).all()  # the config's 89

    workbook = load_workbook(tmp_path / "results.xlsx")
    tab = workbook[FLAG_TAB.title]
    assert tab["A1"].value == "One number per contact, for the test."
    assert [c.value for c in tab[3]] == ["Contact ID", "Flag"]
    rows = {str(r[0]): r[1] for r in tab.iter_rows(min_row=4, values_only=True)}
    assert rows[contact] == flag and len(rows) == len(stored)
    assert tab["B4"].number_format == "0.0"  # the declared format
    assert len(tab.conditional_formatting) == 1  # the declared colour scale

    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert f"{len(stored)} contacts {MARKER}." in html

    book = sheets.state.book(BOOK)
    mine = book.sheet(FLAG_TAB.title)
    roles = [m["metadataValue"] for m in mine.metadata if m["metadataKey"] == "smbml_connect.tab"]
    assert roles == ["test_flags"]
    values = sheets.state.values_get(BOOK, f"'{FLAG_TAB.title}'!A2:B400", "UNFORMATTED_VALUE")
    assert values["values"][0] == ["Contact ID", "Flag"]
    published = {str(r[0]): float(r[1]) for r in values["values"][1:]}
    assert published[contact] == flag and len(published) == len(stored)

    record = hub.state.objects["contacts"][contact].properties
    assert float(record["smbml_test_flag"]) == flag
    prop = hub.state.properties["contacts"]["smbml_test_flag"]
    assert (prop["groupName"], prop["type"], prop["label"]) == (
        "smbml",
        "number",
        "Test flag (SMB ML)",
    )
    hubspot = result.pushes[-1]
    assert hubspot.failed == [] and hubspot.written == len(stored)


def _string_constants() -> list[str]:
    package = Path(smbml_connect.__file__).parent
    found = []
    for path in package.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        found += [
            n.value
            for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, str)
        ]
    return found


def test_tab_titles_and_property_names_are_typed_once() -> None:
    tabs = [t for step in STEPS for t in step.outputs.tabs]
    titles = [t.title for t in tabs]
    sheets = {p.tab.role: p.tab.title for t in tabs for p in t.sheets if p.tab.title}
    assert len(set(titles)) == len(titles), "two steps declare the same tab"
    declared = [(p.object_type, p.name) for step in STEPS for p in step.outputs.properties]
    assert len(set(declared)) == len(declared), "two steps declare the same property"
    names = list(dict.fromkeys(name for _, name in declared))  # one name may serve two objects
    constants = _string_constants()
    for text in [*titles, *sheets.values(), REJECTS_TAB, *names]:
        assert constants.count(text) == 1, f"{text!r} is typed {constants.count(text)} times"


def test_every_step_declares_its_settings_tables_and_tabs() -> None:
    for step in STEPS:
        assert step.outputs.tables, f"{step.name} declares no output table"
        assert step.outputs.tabs, f"{step.name} declares no tab"
        assert (step.settings is None) == (step.settings_key is None), step.name
    models = registry.settings_models()
    assert set(models) == {"leads", "customers", "forecast", "pricing"}
    config = parse_config(
        {"source": {"kind": "sample"}, "analytics": {"leads": {"horizon_days": 30}}}
    )
    assert set(config.analytics.settings) == set(models)
    for key, model in models.items():
        assert isinstance(config.analytics.settings[key], model), key
    assert config.analytics.settings["leads"].model_dump()["horizon_days"] == 30
    with pytest.raises(ConfigError, match=r"analytics\.leads\.horizon_days"):
        parse_config({"source": {"kind": "sample"}, "analytics": {"leads": {"horizon_days": 1}}})
    with pytest.raises(ConfigError, match=r"analytics\.leeds: unknown key"):
        parse_config({"source": {"kind": "sample"}, "analytics": {"leeds": {}}})
