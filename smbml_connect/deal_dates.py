"""When a closed deal closed, where the source gives only its close date.

A CRM's close date is the expected date while a deal is open and the date it closed once
it is (HubSpot moves `closedate` to the moment a deal is won or lost; Pipedrive's export
names it "Won time"/"Lost time" or keeps the close date). A deals file with `Is Closed`,
`Is Won` and `Close Date` but no "Closed at" column had 21 closed deals the deal model
could not learn from ("no closed deals to learn from"), while the HubSpot reader already
took the close date. So every source gets the HubSpot rule, once, before anything is
counted: a closed deal without `closed_at` closed on its `close_date`, and a notice says
how many.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from smbml_connect.ports import Notice

__all__ = ["closed_on_close_date"]


def closed_on_close_date(
    tables: Mapping[str, pd.DataFrame],
) -> tuple[dict[str, pd.DataFrame], list[Notice]]:
    """The tables with each closed deal's missing `closed_at` taken from its `close_date`."""
    out = dict(tables)
    deals = tables.get("deals")
    if deals is None or deals.empty or not {"is_closed", "closed_at", "close_date"} <= set(deals):
        return out, []
    closed = deals["is_closed"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    taken = closed & deals["closed_at"].isna().to_numpy() & deals["close_date"].notna().to_numpy()
    if not taken.any():
        return out, []
    filled = deals.copy()
    filled["closed_at"] = deals["closed_at"].where(~taken, deals["close_date"])
    out["deals"] = filled
    count = int(taken.sum())
    deal_words = f"{count:,} closed deal{'s' if count != 1 else ''}"
    return out, [
        Notice(
            "closed_on_close_date",
            "deals",
            count,
            f"{deal_words} with no 'closed at' date: each is taken to have closed on its "
            "close date (add a closed-at column if the close date was only ever planned).",
        )
    ]
