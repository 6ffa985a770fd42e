"""A HubSpot deals export from a portal whose stages were renamed: closed and won are read
from the export itself (HubSpot's flags, the stage's words, its probability, the close
date), and a deal none of them settles is said, row, column and value, not called open."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from click.testing import CliRunner

from smbml_connect.cli import cli
from smbml_connect.connectors.files.source import FilesSource
from smbml_connect.pipeline import RunOptions, run_pipeline

HEADER = (
    "Record ID,Deal Name,Deal Stage,Pipeline,Amount,Close Date,Create Date,Deal owner,"
    "Associated Contact IDs"
)
NAME = "hubspot-crm-exports-all-deals-2024-03-01.csv"


def _run(tmp_path: Path, store, text: str):
    (tmp_path / NAME).write_text(text)
    result = run_pipeline(FilesSource(tmp_path, {}, {}), store, RunOptions(steps=[]))
    assert result.status == "ok"
    deals = store.read("deals").set_index("deal_id")
    return result, deals


def _state(deals: pd.DataFrame) -> dict[str, tuple[object, object]]:
    def shown(v: object) -> object:
        return None if pd.isna(v) else bool(v)

    return {i: (shown(r.is_closed), shown(r.is_won)) for i, r in deals.iterrows()}


def test_renamed_won_and_lost_stages_are_closed_not_pipeline(tmp_path: Path, store):
    result, deals = _run(
        tmp_path,
        store,
        HEADER + "\n"
        '9001,Cafe Nord,Closed Won,Sales Pipeline,"1,250.00",2024-02-01 10:00,2024-01-05 10:00,Sam,101\n'
        "9002,Bistro Sud,Closed Lost,Sales Pipeline,800,2024-02-03 10:00,2024-01-06 10:00,Sam,102\n"
        "9003,Roastery West,Won,Wholesale,5000,2024-02-10 10:00,2024-01-07 10:00,Sam,103\n"
        "9004,Hotel East,Lost - price,Wholesale,3000,2024-02-11 10:00,2024-01-08 10:00,Sam,104\n"
        "9005,Deli Mitte,Proposal sent,Wholesale,2000,2024-04-11 10:00,2024-01-09 10:00,Sam,105;106\n"
        "9006,Bar Ost,Negotiation,Wholesale,900,2024-01-20 10:00,2024-01-02 10:00,Sam,107\n",
    )
    assert _state(deals) == {
        "9001": (True, True), "9002": (True, False), "9003": (True, True),
        "9004": (True, False),
        "9005": (False, False),  # its close date is ahead of the export
        "9006": (False, False),  # overdue, but Wholesale names its won and lost stages
    }  # fmt: skip
    # A closed deal closed on its close date (HubSpot sets it then): the win model learns
    # from closed deals that say when they closed.
    assert deals.loc["9003", "closed_at"] == pd.Timestamp("2024-02-10 10:00", tz="UTC")
    assert pd.isna(deals.loc["9005", "closed_at"])
    assert result.cleared_values == 0


def test_probability_and_hubspots_flags_settle_stages_whose_words_do_not(tmp_path: Path, store):
    header = HEADER + ",Deal probability,Is Deal Closed?,Is Closed Won"
    _, deals = _run(
        tmp_path,
        store,
        header + "\n"
        "1,A,Signed,P,10,2024-02-01,2024-01-01,Sam,1,1,,\n"  # 100%: closed won
        "2,B,Dead,P,10,2024-02-01,2024-01-01,Sam,2,0,,\n"  # 0%: closed lost
        "3,C,Demo booked,P,10,2024-02-01,2024-01-01,Sam,3,0.4,,\n"  # open
        "4,D,Done,P,10,2024-02-01,2024-01-01,Sam,4,,true,true\n"  # HubSpot's own flags
        "5,E,Parked,P,10,2024-02-01,2024-01-01,Sam,5,,true,false\n"
        "6,F,Won,P,10,2024-02-01,2024-01-01,Sam,6,,false,false\n",  # the flags win
    )
    assert _state(deals) == {
        "1": (True, True), "2": (True, False), "3": (False, False),
        "4": (True, True), "5": (True, False), "6": (False, False),
    }  # fmt: skip


def test_a_stage_that_cannot_be_told_is_said_with_row_column_and_value(tmp_path: Path, store):
    result, deals = _run(
        tmp_path,
        store,
        HEADER + ",Deal probability\n"
        "1,A,Signed off,P,10,2024-02-01 10:00,2024-01-01 10:00,Sam,1,\n"
        "2,B,Proposal,P,10,2024-09-01 10:00,2024-02-01 10:00,Sam,2,\n"
        "3,C,Won,P,10,2024-02-01 10:00,2024-01-01 10:00,Sam,3,0.4\n",
    )
    assert _state(deals) == {"1": (None, None), "2": (False, False), "3": (None, None)}
    lines = result.rejects[result.rejects["action"] == "value cleared"]
    assert lines[["source_row", "column", "value"]].values.tolist() == [
        [2, "is_closed", "Signed off"],
        [4, "is_closed", "Won"],
    ]
    first, conflict = lines["reason"].tolist()
    assert first.startswith("deal 1: its Deal Stage 'Signed off' says neither won nor lost")
    assert "says won but its Deal probability 0.4 says open" in conflict
    assert all("add the Deal probability column" in r for r in lines["reason"])
    assert result.cleared_values == 2


def test_inspect_shows_the_deals_it_cannot_tell_before_a_run(tmp_path: Path):
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / NAME).write_text(
        HEADER + "\n1,A,Signed off,P,10,2024-02-01 10:00,2024-01-01 10:00,Sam,1\n"
        "2,B,Won,P,10,2024-02-01 10:00,2024-01-01 10:00,Sam,2\n"
    )
    config = tmp_path / "smbml.toml"
    config.write_text(f'store = "s.sqlite"\n[source]\nkind = "files"\npath = "{folder}"\n')
    shown = CliRunner().invoke(cli, ["inspect", "-c", str(config)])
    assert shown.exit_code == 0, shown.output
    assert "1 row has a value that cannot be read; it will be left empty:" in shown.output
    assert "row 2: deal 1: its Deal Stage 'Signed off' says neither won nor lost" in shown.output
    assert "hold no record" not in shown.output
