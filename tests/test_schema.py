import json

import pandas as pd
import pytest

from smbml_connect.errors import DataValidationError
from smbml_connect.schema import TABLES, empty_frame, system_columns, validate


def messy_contacts() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "contact_id": ["1", "2", "2", None, "5"],
            "email": ["A@X.com", "bad", "b@y.org", "c@z.io", ""],
            "page_views": ["1,234", "-3", "12", "x", ""],
            "created_at": ["2025-03-14", "03/14/2025", "1741910400000", "soon", "45730"],
            "marketing_consent": ["yes", "TRUE", 1, "no", "maybe"],
            "Favourite colour": ["red", None, "blue", "", "green"],
            "_source_row": [2, 3, 4, 5, 6],
        }
    )


def test_clean_rows_are_typed_and_problems_are_reported():
    result = validate("contacts", messy_contacts(), source="upload.csv")
    clean = result.clean.set_index("contact_id")
    assert list(clean.index) == ["1", "2", "5"]
    assert clean.loc["1", "email"] == "a@x.com"
    assert clean.loc["1", "page_views"] == 1234
    assert clean.loc["2", "email"] == "b@y.org"  # the later duplicate wins
    # Consent is kept as written: the pipeline reads it (and "maybe" counts as an opt-out).
    assert clean.loc["5", "marketing_consent"] == "maybe"
    problems = {(r.source_row, r.column): r for r in result.rejects.itertuples()}
    assert problems[(3, "contact_id")].action == "row rejected"
    assert "row 4 has the same key" in problems[(3, "contact_id")].reason
    assert problems[(5, "contact_id")].reason == "contact_id is empty but required"
    assert (6, "marketing_consent") not in problems
    assert problems[(3, "page_views")].action == "value cleared"
    assert result.rejected_rows == 2
    # The whole original row is kept with a rejected row, so nothing is lost.
    assert json.loads(problems[(5, "contact_id")].row)["email"] == "c@z.io"
    assert set(result.rejects["source"]) == {"upload.csv"}


def test_unknown_columns_go_to_extra():
    result = validate("contacts", messy_contacts())
    extra = result.clean.set_index("contact_id")["extra"]
    assert json.loads(extra["1"]) == {"Favourite colour": "red"}
    assert json.loads(extra["5"]) == {"Favourite colour": "green"}


def test_rows_are_numbered_from_one_without_a_source_row():
    frame = messy_contacts().drop(columns="_source_row")
    result = validate("contacts", frame)
    duplicate = result.rejects[result.rejects["column"] == "contact_id"].iloc[0]
    assert duplicate["source_row"] == 2 and "row 3 has the same key" in duplicate["reason"]


def test_missing_required_column_names_it():
    with pytest.raises(DataValidationError, match="ordered_at"):
        validate("orders", pd.DataFrame({"order_id": ["1"], "total": ["3"]}))


def test_unknown_table_lists_known_ones():
    with pytest.raises(DataValidationError, match="contacts, deals"):
        validate("contactz", pd.DataFrame())


@pytest.mark.parametrize("table", list(TABLES))
def test_every_table_round_trips_an_empty_frame(table):
    result = validate(table, empty_frame(table).drop(columns=system_columns(table)))
    assert result.clean.empty and result.rejects.empty
    assert list(result.clean.columns) == [*TABLES[table].names, *system_columns(table)]
    assert list(empty_frame(table).columns) == list(result.clean.columns)


def test_orders_without_a_currency_column_take_the_one_their_totals_are_written_in():
    """A German shop's own sheet, totals as "12,99 €" and no currency column: every price
    was said in USD ("Lower to USD 12.88"). A "$" says no more than the default."""
    frame = pd.DataFrame({"order_id": ["1", "2", "3"], "ordered_at": ["2025-01-02"] * 3,
                          "total": ["12,99 €", "1.299,00 €", "4,50 €"]})  # fmt: skip
    assert validate("orders", frame).clean["currency"].tolist() == ["EUR"] * 3
    codes = frame.assign(total=["GBP 12.99", "4.50 GBP", "7.00"])
    assert validate("orders", codes).clean["currency"].tolist() == ["GBP"] * 3
    # "$" beside "€": which dollars is not written, and they are no euros (review); "¥"
    # is yen or yuan
    # marks that each name one currency give each order its own ("€100.00" beside
    # "CHF 10,000.00" read as "$10,100 spent", review): the others stay out of money figures
    mixed = validate("orders", frame.assign(total=["€100.00", "CHF 10,000.00", "50"]))
    assert mixed.clean["currency"].tolist() == ["EUR", "CHF", pd.NA]
    assert mixed.clean["total"].tolist() == [100.0, 10000.0, 50.0]
    for totals in (["$12.99", "$4.50", "$1.00"], ["€12.00", "$7,50", "$9.00"],
                   ["¥88.00", "¥12", "¥5"]):  # fmt: skip
        assert validate("orders", frame.assign(total=totals)).clean["currency"].isna().all()
    # one "$" or "¥" among euros is an exception kept apart by its sign, not a reason to
    # drop the shop's currency (every figure in "$", a "¥1250" added to the euros)
    stray = validate("orders", frame.assign(total=["€12.00", "€7,50", "¥1250"])).clean
    assert stray["currency"].tolist() == ["EUR", "EUR", "¥"]
    # marks of other currencies, as spreadsheets show them (a Polish, a Brazilian, a
    # Canadian shop); "kr" is four countries' crowns
    for totals, code in ((["99,00 zł", "1 234,50 zł", "5"], "PLN"),
                         (["R$ 12,90", "R$ 1.234,56", "R$ 3,00"], "BRL"),
                         (["CA$12.50", "CA$4.00", "CA$1.00"], "CAD"),
                         (["NZ$12.50", "NZ$4.00", "7"], "NZD")):  # fmt: skip
        assert (
            validate("orders", frame.assign(total=totals)).clean["currency"].tolist() == [code] * 3
        )
        assert validate("orders", frame.assign(total=totals)).clean["total"].notna().all()
    crowns = frame.assign(total=["1 234,50 kr", "99,00 kr", "450,00 kr"])
    assert validate("orders", crowns).clean["currency"].isna().all()
    assert validate("orders", crowns).clean["total"].tolist() == [1234.5, 99.0, 450.0]
    stated = frame.assign(currency=["CHF", None, "CHF"])
    assert validate("orders", stated).clean["currency"].tolist()[0] == "CHF"


def test_a_rejected_rows_spreadsheet_date_number_shows_as_its_date():
    """Google Sheets answers date cells as numbers (45731): the Rejects tab's "Original
    row" read "ordered_at: 45731" where the sheet shows 2025-03-15 (a Sheets explorer)."""
    frame = pd.DataFrame(
        {"order_id": [None], "ordered_at": [45731.0], "total": [12.5], "note": [45731.0]}
    )
    row = validate("orders", frame, "sheet").rejects["row"].iloc[0]
    assert '"ordered_at": "2025-03-15"' in row
    assert '"note": 45731' in row  # a number in a column that is no date stays a number
    timed = frame.assign(ordered_at=[45731.5])
    assert '"ordered_at": "2025-03-15 12:00"' in validate("orders", timed).rejects["row"].iloc[0]


@pytest.mark.parametrize(
    ("shop", "written", "read"),
    [
        ("KWD", ["12.500", "3.250", "7.000", "1.125"], [12.5, 3.25, 7.0, 1.125]),  # the config's
        (None, ["KD 12.500", "KD 3.250", "KD 7.000", "KD 1.125"], [12.5, 3.25, 7.0, 1.125]),
        ("EUR", ["12.500", "3.250", "7.000", "1.125"], [None] * 4),  # a euro's: either, unread
    ],
)
def test_a_dinar_amount_with_three_decimals_is_read_as_the_functions_read_it(
    shop: str | None, written: list[str], read: list[float | None]
) -> None:
    """A Kuwaiti shop's totals "12.500" were left empty as "could be thousands or
    decimals" by a run, while the worksheet functions read them as 12.5 dinars (stop 53)."""
    orders = pd.DataFrame(
        {
            "order_id": ["K-101", "K-102", "K-103", "K-104"],
            "contact_id": [
                "fahad@shop.test",
                "noura@shop.test",
                "fahad@shop.test",
                "ali@shop.test",
            ],
            "ordered_at": ["2026-01-03", "2026-01-05", "2026-02-01", "2026-02-03"],
            "total": written,
        }
    )
    checked = validate("orders", orders, "s", currency=shop)
    assert [None if pd.isna(v) else v for v in checked.clean["total"]] == read
    (note,) = checked.rejects.loc[checked.rejects["action"].eq("column note"), "reason"]
    if shop == "EUR":
        assert "could be thousands or decimals" in note
    else:
        assert (
            "read with '.' as the decimal mark because KWD is written with three decimals" in note
        )
