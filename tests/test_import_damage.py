"""Real-shaped exports that lost or bent data on the way in (review probe42).

Each file is written here, as people save them; a run reads it through the files source
and the pipeline, and the store and the rejects say what happened to every row.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from smbml_connect.analytics.forecast.sales_series import sales_series
from smbml_connect.connectors.files.source import FilesSource
from smbml_connect.pipeline import RunOptions, run_pipeline
from smbml_connect.ports import RunResult
from smbml_connect.store import Store


def run(path: Path, store: Store, tables: dict[str, str] | None = None) -> RunResult:
    return run_pipeline(FilesSource(path, tables or {}), store, RunOptions(steps=[]))


def rejects(result: RunResult, action: str) -> pd.DataFrame:
    return result.rejects[result.rejects["action"] == action].reset_index(drop=True)


# -- 1: a "Discount %" column typed as 10 for 10% ------------------------------------
def _shop(tmp_path: Path, header: str, discounts: tuple[str, str]) -> Path:
    folder = tmp_path / "shop"
    folder.mkdir()
    (folder / "orders.csv").write_text(
        "Order ID,Customer ID,Order Date,Total\nO1,C1,2024-02-10,90.00\nO2,C2,2024-03-10,75.00\n"
    )
    (folder / "order lines.csv").write_text(
        f"Order ID,Line,SKU,Qty,Unit Price,{header}\n"
        f"O1,1,TEA,2,50.00,{discounts[0]}\nO2,1,TEA,1,100.00,{discounts[1]}\n"
    )
    return folder


def test_a_percent_header_with_whole_numbers_is_read_as_percentages(tmp_path: Path, store: Store):
    result = run(_shop(tmp_path, "Discount %", ("10", "25")), store)
    lines = store.read("order_lines").set_index("order_id")
    assert lines["discount"].to_dict() == {"O1": 0.10, "O2": 0.25}
    note = rejects(result, "column note")
    assert note["column"].tolist() == ["discount"] and "percentages" in note["reason"][0]
    series = sales_series(store.read("orders"), store.read("order_lines"),
                          pd.Timestamp("2024-04-15", tz="UTC"), freq="M")  # fmt: skip
    frame = series.frame if hasattr(series, "frame") else series
    tea = frame[frame["unique_id"] == "revenue:TEA"]["y"].tolist()
    assert tea == [90.0, 75.0]  # was -900 and -2400


def test_a_percent_header_holding_shares_stays_shares(tmp_path: Path, store: Store):
    """An Excel cell formatted as 10% holds 0.1: values all within 0..1 are not divided."""
    run(_shop(tmp_path, "Discount %", ("0.1", "12%")), store)
    lines = store.read("order_lines").set_index("order_id")
    assert lines["discount"].to_dict() == {"O1": 0.10, "O2": 0.12}


def test_a_discount_outside_0_to_1_is_left_empty_with_one_line(tmp_path: Path, store: Store):
    """Without a "%" header a 10 cannot be a share: cleared, the row kept, the line says how."""
    result = run(_shop(tmp_path, "Discount", ("10", "0.25")), store)
    lines = store.read("order_lines").set_index("order_id")
    assert pd.isna(lines.loc["O1", "discount"]) and lines.loc["O2", "discount"] == 0.25
    cleared = rejects(result, "value cleared")
    assert cleared[["source_row", "column", "value"]].values.tolist() == [[2, "discount", "10"]]
    assert "outside 0 to 1" in cleared["reason"][0] and '"percent"' in cleared["reason"][0]
    assert result.loaded["order_lines"] == 2 and result.rejected_rows == 0


def test_the_config_states_percent_for_a_header_without_it(tmp_path: Path, store: Store):
    from smbml_connect.coerce import ColumnFormat

    source = FilesSource(_shop(tmp_path, "Discount", ("10", "25")))
    formats = {"order_lines": {"discount": ColumnFormat.parse("percent")}}
    run_pipeline(source, store, RunOptions(steps=[], formats=formats))
    lines = store.read("order_lines").set_index("order_id")
    assert lines["discount"].to_dict() == {"O1": 0.10, "O2": 0.25}


# -- 2: products named "Total ..." ---------------------------------------------------
def test_products_named_total_load_and_real_total_rows_are_still_skipped(
    tmp_path: Path, store: Store
):
    path = tmp_path / "products.csv"
    path.write_text(
        "Product Name,SKU,Price,Cost\n"
        "House Blend 1kg,10021,24.00,9.50\n"
        "Total Body Lotion,10023,12.50,4.00\n"
        "Totals Tea Sampler,10024,18.00,6.00\n"
        "Sum Sum Snack Box,10025,8.00,3.00\n"
        "Total 2025,,62.50,22.50\n"  # adds up the four rows above (and has no SKU)
    )
    result = run(path, store, {"products": path.name})
    names = store.read("products")["name"].tolist()
    assert names == ["House Blend 1kg", "Total Body Lotion", "Totals Tea Sampler",
                     "Sum Sum Snack Box"]  # fmt: skip
    skipped = rejects(result, "row skipped")
    assert skipped[["source_row", "reason"]].values.tolist() == [[6, "total row ('Total 2025')"]]


def test_a_total_row_is_one_that_adds_up_or_identifies_nothing():
    from smbml_connect.layouts import prepare
    from smbml_connect.schema import SOURCE_ROW

    rows = [
        ["Total Care Kit", "10001", "10.00", "4"],
        ["Blue Mug", "10002", "6.00", "2"],
        ["Total Tea", "10003", "16.00", "6"],  # price and stock add up, its SKU does not...
        ["Totals", "", "32.00", "12"],  # ... this one's words say total
        ["Total Shine", "10004", "5.00", "1"],
        ["Total stock value", "", "", "999"],  # adds up nothing, but no SKU: not a product
        ["Total EUR", "", "37.00", "13"],  # everything above: a grand total
    ]
    frame = pd.DataFrame(rows, columns=["Product", "SKU", "Price", "Stock"], dtype=object)
    frame[SOURCE_ROW] = pd.Series(range(2, 2 + len(rows)), dtype="Int64")
    prepared = prepare(frame, None)
    assert prepared.frame["Product"].tolist() == ["Total Care Kit", "Blue Mug", "Total Tea",
                                                  "Total Shine"]  # fmt: skip
    assert prepared.skipped[SOURCE_ROW].tolist() == [5, 7, 8]
