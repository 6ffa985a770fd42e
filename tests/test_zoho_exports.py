"""Zoho CRM's exports (find56_intl item 6).

Zoho writes one CSV per module, "Leads_001.csv" and "Deals_001.csv", with "Record Id",
an owner column, "Created Time", "Modified Time" and a deal's "Closing Date". Its leads
were taken for a HubSpot contacts export with no created date, and 155 closed deals were
"no closed deals to learn from" since their dates stayed in extra. When the dates are
under headers no one knows, the skip line names the column to map.
"""

from __future__ import annotations

import csv
import random
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd

from smbml_connect.connectors.files.source import FilesSource
from smbml_connect.pipeline import RunOptions, run_pipeline
from smbml_connect.steps import steps_by_name
from smbml_connect.store import Store

AS_OF = pd.Timestamp("2025-12-31 23:00", tz="UTC")
DEAL_WIN = steps_by_name(["deal_win"])
LEADS = ["Record Id", "Lead Owner", "Company", "First Name", "Last Name", "Email",
         "Lead Source", "Lead Status", "Email Opt Out", "Created Time", "Modified Time",
         "Country"]  # fmt: skip
DEALS = ["Record Id", "Deal Owner", "Deal Name", "Account Name", "Contact Name", "Type",
         "Lead Source", "Amount", "Closing Date", "Stage", "Probability (%)",
         "Expected Revenue", "Created Time", "Modified Time", "Currency"]  # fmt: skip
OPEN = ["Qualification", "Needs Analysis", "Proposal/Price Quote", "Negotiation/Review"]


def _write(path: Path, header: list[str], rows: list[list[object]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(header)
        writer.writerows(rows)


def _zoho(folder: Path, deals_header: list[str] = DEALS) -> None:
    """A Berlin agency's leads and deals as Zoho exports them: two owners, won, lost and
    open deals of varied size and length, a few leads who opted out."""
    rng = random.Random(56)
    folder.mkdir()
    leads = []
    for i in range(40):
        made = datetime(2024, 6, 3, 9) + timedelta(days=rng.randint(0, 400), hours=i % 8)
        leads.append([
            f"zcrm_3152079000{i:06d}", rng.choice(["Anna Schmidt", "Jonas Weber"]),
            f"Firma {i} GmbH", rng.choice(["Lukas", "Mia", "Élodie", "Søren"]), f"Name{i}",
            f"l{i}@firma{i}.de", rng.choice(["Cold Call", "Web Download", "Partner"]),
            rng.choice(["Contacted", "Not Contacted", "Pre-Qualified", "Junk Lead"]),
            "true" if i % 9 == 0 else "false", f"{made:%Y-%m-%d %H:%M:%S}",
            f"{made + timedelta(days=2):%Y-%m-%d %H:%M:%S}", "Germany",
        ])  # fmt: skip
    _write(folder / "Leads_001.csv", LEADS, leads)
    deals = []
    for i in range(90):
        made = datetime(2024, 5, 6, 10) + timedelta(days=rng.randint(0, 420))
        close = made + timedelta(days=rng.randint(12, 110))
        if close < datetime(2025, 11, 1) and i % 5:
            stage = ["Closed Won", "Closed Lost", "Closed-Lost to Competition"][i % 3]
        else:
            stage = rng.choice(OPEN)
        chance = {"Closed Won": 100}.get(stage, 0 if stage.startswith("Closed") else 40)
        amount = round(rng.uniform(800, 18_000), 2)
        deals.append([
            f"zcrm_3152079001{i:06d}", rng.choice(["Anna Schmidt", "Jonas Weber"]),
            f"Projekt {i}", f"Firma {i % 30} GmbH", f"Mia Name{i % 40}", "New Business",
            "Partner", f"{amount:.2f}", f"{close:%Y-%m-%d}", stage, chance,
            f"{amount * chance / 100:.2f}", f"{made:%Y-%m-%d %H:%M:%S}",
            f"{made + timedelta(days=4):%Y-%m-%d %H:%M:%S}", "EUR",
        ])  # fmt: skip
    _write(folder / "Deals_001.csv", deals_header, deals)


def test_zoho_leads_and_deals_are_read_as_zoho_exports(tmp_path: Path, store: Store):
    _zoho(tmp_path / "zoho")
    source = FilesSource(tmp_path / "zoho")
    result = run_pipeline(source, store, RunOptions(steps=DEAL_WIN, as_of=AS_OF))
    assert source.header_mappings["contacts"].layout == "Zoho CRM leads export"
    assert source.header_mappings["deals"].layout == "Zoho CRM deals export"
    contacts = store.read("contacts")
    deals = store.read("deals")
    assert len(contacts) == 40 and contacts["created_at"].notna().all()
    assert contacts["updated_at"].notna().all()
    assert deals["close_date"].notna().all() and deals["created_at"].notna().all()
    closed = deals["is_closed"].astype("boolean").fillna(False)
    assert int(closed.sum()) > 40
    assert "deal_win" not in result.skipped_steps, result.skipped_steps.get("deal_win")
    assert result.steps["deal_win"].outputs["scores"]["entity_id"].nunique() == int((~closed).sum())
    assert result.consent_skipped == 5  # "Email Opt Out" true


def test_dates_under_unknown_headers_are_named_in_the_skip_line(tmp_path: Path, store: Store):
    """The same deals with their dates under headers no synonym knows: the closed deals
    are said to lack a close date, not to be none, and the skip line names the header
    to map; a "Modified Time" is not offered as the created date."""
    header = [{"Closing Date": "Date Closed On", "Created Time": "Opened"}.get(h, h)
              for h in DEALS]  # fmt: skip
    _zoho(tmp_path / "zoho", header)
    result = run_pipeline(
        FilesSource(tmp_path / "zoho"), store, RunOptions(steps=DEAL_WIN, as_of=AS_OF)
    )
    line = result.skipped_steps["deal_win"]
    assert "no closed deals" not in line
    assert "closed deals have no close date and no created date" in line
    assert '[source.mapping.deals] "Date Closed On" = "close_date"' in line
    assert '"Your column" = "created_at"' in line
    assert not [n for n in result.notices if "Your column" in n.message]  # a skip line's
