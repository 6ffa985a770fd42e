"""Deals from Salesforce, Pipedrive and hand-kept exports carry whether each is closed and won.

A Salesforce opportunity report says it in its Stage ("Closed Won") and "Probability (%)";
Pipedrive's deals export in "Deal - Status" (open / won / lost) and its won and lost
times. Both were loaded with no open or closed value at all, so a whole deal history read
as "no closed deals to learn from" (find52_crm item 1).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from smbml_connect.connectors.files.source import FilesSource
from smbml_connect.pipeline import RunOptions, run_pipeline
from smbml_connect.ports import RunResult
from smbml_connect.steps import STEPS
from smbml_connect.store import Store

AS_OF = pd.Timestamp("2026-06-30", tz="UTC")

# Salesforce's default opportunity report: no Closed or Won column.
SALESFORCE = """\
Opportunity ID,Opportunity Name,Account Name,Opportunity Owner,Amount,Stage,Probability (%),Close Date,Created Date,Type
0061,Acme - renewal,Acme,Ann Rep,4000,Closed Lost,0,11/21/2024,10/27/2024,New Business
0062,Birch - pilot,Birch,Bob Rep,12000,Closed Won,100,02/26/2025,02/05/2025,New Business
0063,Cobalt - rollout,Cobalt,Ann Rep,750.5,Negotiation/Review,90,07/15/2026,05/02/2026,Existing Business
0064,Delta - seats,Delta,Bob Rep,2300,Prospecting,10,08/30/2026,06/11/2026,New Business
0065,Elm - upgrade,Elm,Ann Rep,980,Closed Won,100,03/03/2025,01/20/2025,Existing Business
"""

PIPEDRIVE_DEALS = """\
Deal - ID,Deal - Title,Deal - Value,Deal - Currency,Deal - Status,Deal - Stage,Deal - Pipeline,Deal - Won time,Deal - Lost time,Deal - Expected close date,Deal - Deal created,Deal - Owner,Deal - Contact person,Person - ID
5000,Deal 5000,4000,USD,lost,Decision Maker Bought-In,Sales,,2024-11-21 23:39,,2024-10-27 15:03,Ann Rep,Chloe Wilson,1002
5001,Deal 5001,12000,USD,won,Contract Sent,Sales,2025-02-26 05:30,,,2025-02-05 19:27,Bob Rep,Ella Roberts,1004
5002,Deal 5002,650,USD,open,Qualified,Sales,,,2026-07-20,2026-06-01 09:12,Ann Rep,Ava Smith,1000
"""
PIPEDRIVE_PEOPLE = """\
Person - ID,Person - Name,Person - Email,Person - Person created,Person - Lead source
1000,Ava Smith,ava.1000@example.com,2024-11-25 14:10,Email Marketing
1002,Chloe Wilson,chloe.1002@example.com,2024-09-22 01:40,Direct Traffic
1004,Ella Roberts,ella.1004@example.com,2025-01-30 19:27,Referrals
"""


def _run(folder: Path, tmp_path: Path, steps=(), **mappings) -> tuple[RunResult, pd.DataFrame]:
    source = FilesSource(folder, {}, mappings)
    with Store(tmp_path / "store.db") as store:
        result = run_pipeline(source, store, RunOptions(steps=steps, as_of=AS_OF))
        deals = store.read("deals").set_index("deal_id")
    return result, deals


def _outcomes(deals: pd.DataFrame) -> dict[str, tuple[object, object]]:
    def read(value: object) -> object:
        return None if pd.isna(value) else bool(value)

    return {d: (read(r.is_closed), read(r.is_won)) for d, r in deals.iterrows()}


def test_a_salesforce_report_is_closed_and_won_by_its_stage_and_probability(tmp_path: Path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "opportunities.csv").write_text(SALESFORCE)
    result, deals = _run(folder, tmp_path)
    assert _outcomes(deals) == {
        "0061": (True, False), "0062": (True, True), "0063": (False, False),
        "0064": (False, False), "0065": (True, True),
    }  # fmt: skip
    assert deals.loc["0062", "owner_id"] == "Bob Rep"
    said = [n.message for n in result.notices if n.check == "derived_column"]
    assert said == [
        "5 deals without a column saying whether each is closed in the file: whether each is "
        "open, won or lost is "
        "read from the words of 'Stage' (Won, Lost) and 'Probability (%)' (100% is won, 0% "
        "lost)."
    ]


def test_without_a_probability_the_open_stages_of_a_pipeline_that_names_won_and_lost_are_open(
    tmp_path: Path,
):
    folder = tmp_path / "in"
    folder.mkdir()
    frame = pd.read_csv(pd.io.common.StringIO(SALESFORCE), dtype=str)
    frame.drop(columns=["Probability (%)"]).to_csv(folder / "opportunities.csv", index=False)
    _, deals = _run(folder, tmp_path)
    assert _outcomes(deals)["0063"] == (False, False)
    assert _outcomes(deals)["0061"] == (True, False)


def test_a_closed_flag_with_no_won_flag_takes_won_from_the_stage(tmp_path: Path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "deals.csv").write_text(
        "Deal ID,Stage,Closed,Won,Amount,Created\n"
        "D1,Closed Won,yes,,100,2025-01-02\n"
        "D2,Closed Lost,yes,,250,2025-01-09\n"
        "D3,Proposal,no,,80,2025-02-11\n"
        "D4,Proposal,,,60,2025-03-01\n"  # blank, at a stage the others show open
        "D5,,,,45,2025-03-04\n"  # nothing at all: left as the file has it
    )
    _, deals = _run(folder, tmp_path)
    assert _outcomes(deals) == {
        "D1": (True, True), "D2": (True, False), "D3": (False, False), "D4": (False, False),
        "D5": (None, None),
    }  # fmt: skip


def test_pipedrive_exports_as_downloaded_give_linked_deals_with_their_outcomes(tmp_path: Path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "deals-export.csv").write_text(PIPEDRIVE_DEALS)
    (folder / "people-export.csv").write_text(PIPEDRIVE_PEOPLE)
    source = FilesSource(folder)
    assert set(source.available()) == {"contacts", "deals"}
    result, deals = _run(folder, tmp_path)
    assert result.loaded == {"contacts": 3, "deals": 3}
    assert _outcomes(deals) == {"5000": (True, False), "5001": (True, True), "5002": (False, False)}
    assert deals["contact_id"].to_dict() == {"5000": "1002", "5001": "1004", "5002": "1000"}
    closed_at = pd.to_datetime(deals["closed_at"], utc=True, format="ISO8601")
    assert str(closed_at["5000"].date()) == "2024-11-21"
    assert str(closed_at["5001"].date()) == "2025-02-26"
    assert pd.isna(closed_at["5002"])
    assert deals["created_at"].notna().all() and deals["owner_id"].notna().all()
    with Store(tmp_path / "store.db") as store:
        people = store.read("contacts").set_index("contact_id")
    assert people.loc["1002", ["first_name", "last_name"]].tolist() == ["Chloe", "Wilson"]
    assert people.loc["1004", "email"] == "ella.1004@example.com"


def test_pipedrive_exports_renamed_are_read_by_their_headers(tmp_path: Path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "deals.csv").write_text(PIPEDRIVE_DEALS)
    (folder / "people.csv").write_text(PIPEDRIVE_PEOPLE)
    _, deals = _run(folder, tmp_path, contacts={"Person - ID": "contact_id"})
    assert _outcomes(deals)["5001"] == (True, True)
    assert deals.loc["5001", "contact_id"] == "1004"


def test_a_stage_and_probability_that_disagree_are_listed_not_guessed(tmp_path: Path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "opportunities.csv").write_text(
        SALESFORCE.replace("Closed Won,100,03/03/2025", "Closed Won,0,03/03/2025")
    )
    result, deals = _run(folder, tmp_path)
    assert _outcomes(deals)["0065"] == (None, None)
    cleared = result.rejects[result.rejects["action"] == "value cleared"]
    assert cleared[["source_row", "column", "value"]].values.tolist() == [
        [6, "is_closed", "Closed Won"]
    ]
    assert cleared["reason"].iloc[0] == (
        "deal 0065: its Stage 'Closed Won' says won but its Probability (%) 0 says lost, so "
        "whether it is open or closed cannot be told: left empty (deal win chances take it "
        "as open)"
    )


def test_when_nothing_says_which_deals_closed_the_skip_line_names_the_column_to_map(
    tmp_path: Path,
):
    folder = tmp_path / "in"
    folder.mkdir()
    text = (
        "Deal ID,Deal name,Stage,Amount,Created,Close date,Result\n"
        "D1,Acme,Proposal,1200,2025-01-03,2025-02-01,\n"
        "D2,Birch,Negotiation,800,2025-02-10,2025-03-15,\n"
        "D3,Cobalt,Proposal,300,2025-03-01,2025-04-01,\n"
    )
    (folder / "deals.csv").write_text(text)
    steps = [s for s in STEPS if s.name == "deal_win"]
    result, _ = _run(folder, tmp_path, steps=steps)
    [line] = [s for s in result.skipped if s.startswith("Deal win chances")]
    assert "no column says which of the 3 deals are open, won or lost" in line
    assert '[source.mapping.deals] "Result" = "is_closed"' in line
    assert [n.check for n in result.notices if n.table == "deals"] == ["no_outcomes"]


def test_a_status_column_mapped_to_is_closed_is_read_as_open_won_or_lost(tmp_path: Path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "deals.csv").write_text(
        "Deal ID,Stage,Outcome flag,Amount\n"
        "D1,Proposal,Won,100\n"
        "D2,Proposal,lost,250\n"
        "D3,Proposal,Open,80\n"
        "D4,Proposal,maybe,60\n"
    )
    result, deals = _run(folder, tmp_path, deals={"Outcome flag": "is_closed"})
    assert _outcomes(deals) == {
        "D1": (True, True), "D2": (True, False), "D3": (False, False), "D4": (None, None),
    }  # fmt: skip
    cleared = result.rejects[result.rejects["column"] == "is_closed"]
    assert cleared["value"].tolist() == ["maybe"]  # an unreadable value is listed, not lost


def test_pipedrive_marketing_status_is_read_for_consent(tmp_path: Path):
    """A reviewer: the people layout left "Person - Marketing status" unread, so people
    marked Unsubscribed, No consent or Archived were scored and written back."""
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "deals-export.csv").write_text(PIPEDRIVE_DEALS)
    statuses = ["Subscribed", "Unsubscribed", "No consent"]
    people = PIPEDRIVE_PEOPLE.splitlines()
    rows = [f"{people[0]},Person - Marketing status"]
    rows += [f"{line},{status}" for line, status in zip(people[1:], statuses, strict=True)]
    (folder / "people-export.csv").write_text("\n".join(rows) + "\n")
    result, _ = _run(folder, tmp_path)
    assert result.consent_skipped == 2  # Unsubscribed and No consent; Subscribed may be scored
    unread = result.rejects[result.rejects["column"].astype(str).str.contains("consent")]
    assert unread.empty  # "No consent" is a word for no, not a value that cannot be read


DAMAGED_DEALS = (
    "Deal ID,Deal Name,Amount,Deal Stage,Close Date\n"
    "D1,Candles bulk,1200,Won,2026-05-10\nD2,Soap refill,300,Lost,2026-05-20\n"
    "D3,Towels,450,Negotiation,2026-07-20\n,Damaged row,abc,Won,never\n"
)


def test_a_rejected_rows_values_are_not_counted_as_left_empty_nor_its_row_as_worked_out(
    tmp_path: Path,
):
    """find57 item 4: a row with no Deal ID, 'abc' as amount and 'never' as close date was
    '1 row rejected and 2 values left empty (the rest of their row was kept)', and '4 deals
    without a is_closed column' of the 3 loaded."""
    from smbml_connect.report import render_report, workbook_sheets

    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "Deals.csv").write_text(DAMAGED_DEALS)
    result, deals = _run(folder, tmp_path)
    assert len(deals) == 3 and result.rejected_rows == 1
    assert result.cleared_values == 0
    assert (result.rejects["action"] == "value cleared").sum() == 2  # still listed
    assert not [n for n in result.notices if n.check == "text_in_numbers"]
    said = [n.message for n in result.notices if n.check == "derived_column"]
    assert said == [
        "3 deals without a column saying whether each is closed in the file: whether each is "
        "open, won or lost is read from the words of 'Deal Stage' (Won, Lost)."
    ]
    assert "0 values were unreadable" in render_report(result)
    summary = workbook_sheets(result)[0]["Summary"].set_index("item")["value"]
    assert summary["Values left empty"] == 0
