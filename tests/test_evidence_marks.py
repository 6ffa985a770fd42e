"""The whole-file read of a large file (``schema.evidence``) looks for a currency mark
only in totals that can hold one: a per-value look over every plain total was a large
share of that second read (find57_bigfiles 4: 350,000 calls), and plain numbers name no
currency anyway."""

from __future__ import annotations

import pandas as pd
import pytest

from smbml_connect import schema


def test_plain_totals_are_not_looked_at_one_by_one(monkeypatch: pytest.MonkeyPatch):
    looked: list[str] = []
    real = schema._mark_of

    def counting(value: str) -> str | None:
        looked.append(value)
        return real(value)

    monkeypatch.setattr(schema, "_mark_of", counting)
    totals = [f"{i}.{i % 100:02d}" for i in range(1, 200)]
    totals += ["12,99 €", "EUR 4.50", "$3.00", " 1 234,50 ", "-7.25", "１２.５０"]
    frame = pd.DataFrame(
        {
            "order_id": [f"O{i}" for i in range(len(totals))],
            "total": totals,
            "currency": ["EUR"] * len(totals),
        }
    )
    found = schema.evidence("orders", frame)
    assert found.totals == len(totals)
    assert found.marks == {"EUR": 2, "?": 1}
    assert sorted(looked) == sorted(["12,99 €", "EUR 4.50", "$3.00", "１２.５０"])
