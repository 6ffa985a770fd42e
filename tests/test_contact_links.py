"""An order names its customer in another case ("c2" for C2) or by e-mail: it is that
contact's. Before, it was a customer of its own: spend was split, and an opted-out
contact's order was listed in Segments with a suggestion to market to them. An order of
no known contact counts in sales but in no customer's figures, as the data checks say."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from smbml_connect.connectors.files.source import FilesSource
from smbml_connect.pipeline import RunOptions, run_pipeline
from smbml_connect.steps import steps_by_name

AS_OF = pd.Timestamp("2026-12-06", tz="UTC")


def _run(folder: Path, store, mappings=None):
    options = RunOptions(
        steps=steps_by_name(["rfm_segments"]), as_of=AS_OF, consent_column="marketing_consent"
    )
    result = run_pipeline(FilesSource(folder, {}, mappings or {}), store, options)
    segments = result.steps["rfm_segments"].sheets["Segments"].set_index("contact_id")
    return result, segments


def test_an_order_naming_its_customer_in_another_case_is_that_customers(tmp_path, store):
    (tmp_path / "customers.csv").write_text(
        "Customer ID,Email,Marketing consent\nC1,anna@x.com,yes\nC2,ben@x.com,no\nC3,cy@x.com,yes\n"
    )
    (tmp_path / "orders.csv").write_text(
        "Order ID,Order Date,Customer ID,Total\nA1,2026-10-01,C1,10.00\n"
        "A2,2026-10-02,c2,20.00\nA3,2026-10-03,C9,30.00\nA4,2026-10-04,c3,40.00\n"
        "A5,2026-11-04,C3,5.00\n"
    )
    result, segments = _run(tmp_path, store)
    # Ben opted out: his order ("c2") is his, so it is in no list; C9 is no contact
    assert sorted(segments.index) == ["C1", "C3"]
    assert segments.loc["C3", "monetary"] == 45.0  # "c3" and "C3": one customer
    said = {n.check: n for n in result.notices}
    assert said["contact_linked"].count == 2 and "'c2'" in said["contact_linked"].message
    assert said["unknown_contacts"].count == 1  # C9: counted in sales, in no one's history


def test_an_order_naming_its_customer_by_email_is_that_customers(tmp_path, store):
    (tmp_path / "customers.csv").write_text(
        "Name,Email,Marketing consent\nAnna Lee,anna@x.com,yes\nBen Ott,ben@x.com,no\n"
    )
    (tmp_path / "orders.csv").write_text(
        "Order ID,Order Date,Customer Email,Total\nA1,2026-10-01,Anna@x.com,10.00\n"
        "A2,2026-10-02,Ben@X.com,20.00\nA3,2026-10-03, anna@x.com ,30.00\n"
    )
    _, segments = _run(tmp_path, store, {"orders": {"Customer Email": "contact_id"}})
    assert len(segments) == 1 and segments["monetary"].tolist() == [40.0]
