"""A closed deal whose source gives only its close date closed then (find52_money item 8:
a deals file with Is Closed, Is Won and Close Date but no Closed At column had 21 closed
deals and the line "no closed deals to learn from")."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from audit import run_config
from test_deals_money import _write_shop

from smbml_connect.deal_dates import closed_on_close_date


def test_a_closed_deal_without_closed_at_closed_on_its_close_date():
    deals = pd.DataFrame(
        {
            "deal_id": ["won", "lost", "open", "dated", "undated"],
            "is_closed": [True, True, False, True, True],
            "close_date": pd.to_datetime(
                ["2026-03-01", "2026-04-02", "2026-12-01", "2026-05-05", None], utc=True
            ),
            "closed_at": pd.to_datetime([None, None, None, "2026-05-07", None], utc=True),
        }
    )
    tables, notices = closed_on_close_date({"deals": deals})
    closed_at = tables["deals"].set_index("deal_id")["closed_at"]
    assert closed_at["won"] == pd.Timestamp("2026-03-01", tz="UTC")
    assert closed_at["lost"] == pd.Timestamp("2026-04-02", tz="UTC")
    assert pd.isna(closed_at["open"])  # an open deal's close date is only planned
    assert closed_at["dated"] == pd.Timestamp("2026-05-07", tz="UTC")  # its own date kept
    assert pd.isna(closed_at["undated"])
    assert [(n.check, n.count) for n in notices] == [("closed_on_close_date", 2)]
    assert notices[0].message.startswith("2 closed deals with no 'closed at' date")
    only_open = deals.iloc[2:3]
    same, none = closed_on_close_date({"deals": only_open})
    assert same["deals"] is only_open and none == []


def test_a_deals_file_without_closed_at_still_teaches_the_deal_model(tmp_path: Path):
    config = _write_shop(tmp_path)
    deals = pd.read_csv(tmp_path / "deals.csv")
    deals.drop(columns=["Closed At"]).to_csv(tmp_path / "deals.csv", index=False)
    out = run_config(config, "no closed-at column")
    assert not [line for line in out.result.skipped if line.startswith("Deal win chances")]
    assert "deal_win" in out.result.steps
    said = [n for n in out.result.notices if n.check == "closed_on_close_date"]
    assert said and said[0].count == 45  # the shop's closed deals
