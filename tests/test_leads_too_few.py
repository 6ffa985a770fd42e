"""A lead score skipped for too few past leads says what it counted and why each other
contact did not count, so the owner knows which data would help (find51_figures item 10:
a shop whose 45 contacts were all created over 90 days ago was told it had found 33)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from audit import Outputs, run_config
from test_deals_money import AS_OF, _write_shop


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("euro-shop")
    _write_shop(folder)
    return folder


@pytest.fixture(scope="module")
def shop(folder: Path) -> Outputs:
    return run_config(folder / "smbml.toml", "euro shop")


def test_too_few_past_leads_says_what_was_counted(shop: Outputs, folder: Path):
    """A shop whose contacts were all created long ago was told 'found 33' contacts created
    more than 90 days ago: what was counted was past leads, not yet customers when created."""
    skipped = next(s for s in shop.result.skipped if s.startswith("Lead scores"))
    contacts = pd.read_csv(folder / "contacts.csv")
    created = pd.to_datetime(contacts["Created"])
    orders = pd.read_csv(folder / "orders.csv")
    deals = pd.read_csv(folder / "deals.csv")
    won = deals[deals["Is Won"].astype(str).str.lower() == "true"]
    first = (
        pd.concat(
            [
                pd.Series(
                    pd.to_datetime(orders["Order Date"]).to_numpy(), index=orders["Customer ID"]
                ),
                pd.Series(pd.to_datetime(won["Closed At"]).to_numpy(), index=won["Contact ID"]),
            ]
        )
        .groupby(level=0)
        .min()
    )
    first = contacts["Contact ID"].map(first)
    no_date = created.isna()
    recent = created > AS_OF - pd.Timedelta(days=90)
    before = ~no_date & ~recent & (first <= created)
    found = len(contacts) - int(no_date.sum() + recent.sum() + before.sum())
    assert before.sum() >= 3 and recent.sum() == 4 and no_date.sum() == 2
    assert (
        "lead scores need at least 50 past leads to learn from (contacts created more than 90 "
        "days ago that were not yet customers when created); "
        f"found {found} among {len(contacts)} contacts; of the other {len(contacts) - found}, "
        f"{before.sum()} were already customers when created (their first order or won deal "
        "came no later than their created date); "
        "4 were created in the last 90 days, too recently to see what came of them; "
        "2 have no created date"
    ) in skipped
