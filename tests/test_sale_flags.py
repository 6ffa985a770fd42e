"""A products list says a product is no longer for sale in its own words (find53 sheets 5).

"Status" archived, "Active" FALSE, "Discontinued" yes were kept in extra, unread: the
Prices tab asked an owner to reprice products they no longer sell, and Next products
suggested them. Each is read the same from a CSV, a workbook and a Google Sheets tab; a
value that says neither counts as on sale, with one data check naming column and value.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import Workbook

from smbml_connect.connectors.files.source import FilesSource
from smbml_connect.connectors.gsheets.http import SheetsApi
from smbml_connect.connectors.gsheets.sheets import SheetsSource
from smbml_connect.credentials import Secret
from smbml_connect.schema import validate
from smbml_connect.testing.clock import FakeClock
from smbml_connect.testing.sheets_emulator import SheetsEmulator, make_service_account

sys.path.insert(0, str(Path(__file__).parent))
from audit import audit, run_config
from shops import write_tiny_shop

CLOCK = FakeClock()
# A hand-kept list: a few products, prices typed as people type them, one left blank.
PRODUCTS = [
    ["SKU", "Product", "Price", "Category"],
    ["MUG-01", "Stoneware mug", "$12.00", "Gear"],
    ["TEA-EG", "Earl Grey 100g", "6.80", "Tea"],
    ["POT-1", "Tea pot", "", "Gear"],
    ["TEA-SN", "Sencha 50g", "7.65", "Tea"],
]


@pytest.fixture(scope="module")
def emu() -> SheetsEmulator:
    with SheetsEmulator(clock=CLOCK) as emulator:
        yield emulator


@pytest.fixture
def api(emu: SheetsEmulator) -> SheetsApi:
    CLOCK.advance(61)  # a fresh minute of quota
    return SheetsApi(Secret(json.dumps(make_service_account(emu))), api_url=emu.url, clock=CLOCK)


def _sheet_cell(value: str) -> object:
    """As a workbook holds a typed TRUE/FALSE: a true/false cell."""
    return {"TRUE": True, "FALSE": False}.get(value, value)


@pytest.mark.parametrize(
    ("header", "values", "on_sale"),
    [
        ("Status", ["active", "archived", "Draft", ""], [True, False, False, None]),
        ("Active", ["TRUE", "FALSE", "TRUE", "FALSE"], [True, False, True, False]),
        ("Discontinued", ["", "yes", "", "TRUE"], [None, False, None, False]),
        ("Available", ["yes", "no", "", "No"], [True, False, None, False]),
        ("Archived", ["no", "yes", "no", "no"], [True, False, True, True]),
        ("Product status", ["Active", "Discontinued", "inactive", "active"],
         [True, False, False, True]),
    ],
)  # fmt: skip
def test_not_for_sale_is_read_alike_from_files_workbooks_and_sheets(
    emu: SheetsEmulator,
    api: SheetsApi,
    tmp_path: Path,
    header: str,
    values: list[str],
    on_sale: list[bool | None],
) -> None:
    rows = [[*PRODUCTS[0], header]] + [[*r, v] for r, v in zip(PRODUCTS[1:], values, strict=True)]
    folder = tmp_path / "csv"
    folder.mkdir()
    with (folder / "Products.csv").open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)
    book = Workbook()
    book.active.title = "Products"
    for row in rows:
        book.active.append([_sheet_cell(v) for v in row])
    book.save(tmp_path / "shop.xlsx")
    key = f"1OnSale{header.replace(' ', '')}".ljust(40, "0")
    emu.state.create(key, "Shop", {"Products": rows})  # typed in: TRUE is a checkbox value
    sources = [FilesSource(folder, {}, {}), FilesSource(tmp_path / "shop.xlsx", {}, {}),
               SheetsSource(api, key)]  # fmt: skip
    for source in sources:
        checked = validate("products", source.pull("products"), source="s")
        got = checked.clean.set_index("product_id")["on_sale"]
        assert [None if pd.isna(v) else bool(v) for v in got] == on_sale, source.name
        assert checked.rejects[checked.rejects["column"].eq("on_sale")].empty
        assert source.header_mappings["products"].columns[header] == "on_sale"


def _tiny_shop_with(folder: Path, header: str, by_sku: dict[str, str]) -> Path:
    """The tiny shop (10 customers, 20 orders, S1..S3) with a column added to its products."""
    config = write_tiny_shop(folder)
    products = pd.read_csv(folder / "Products.csv", dtype=str)
    products[header] = products["SKU"].map(by_sku)
    products.to_csv(folder / "Products.csv", index=False)
    return config


def test_a_discontinued_product_gets_no_price_and_a_word_not_understood_is_said(
    tmp_path: Path,
) -> None:
    """S3 archived: no price to change. S2 "pending": counted as on sale, said once with
    its column, value and row; not hidden."""
    config = _tiny_shop_with(
        tmp_path / "shop", "Status", {"S1": "Active", "S2": "pending", "S3": "archived"}
    )
    out = run_config(config, "tiny shop with a Status column")
    stored = out.store["products"].set_index("product_id")["on_sale"]
    assert stored["S1"] == 1 and stored["S3"] == 0 and pd.isna(stored["S2"])
    said = [n for n in out.result.notices if n.check == "unread_on_sale"]
    assert len(said) == 1 and said[0].count == 1
    assert said[0].message.startswith("Products: 'Status' = 'pending' (row 3) does not say")
    assert "counted as on sale" in said[0].message
    tally = audit(out)
    assert tally.problems == []
    assert tally.checked["no price suggested for a product marked not for sale"] >= 1


def test_a_stock_count_under_available_is_not_read_as_for_sale(tmp_path: Path) -> None:
    """A hand-kept "Available" of units in stock: 0 is sold out, not off sale."""
    config = _tiny_shop_with(tmp_path / "shop", "Available", {"S1": "12", "S2": "0", "S3": "3"})
    out = run_config(config, "tiny shop with a stock count")
    assert out.store["products"]["on_sale"].isna().all()
    said = [n.message for n in out.result.notices if n.check == "unread_on_sale"]
    assert len(said) == 1 and "3 values of 'Available' do not say" in said[0]


@pytest.mark.parametrize(
    ("columns", "on_sale", "unread"),
    [
        # "in stock" says nothing of sale; Discontinued says it plainly, both ways, and
        # where it is empty the "in stock" left is said (listed in Rejects).
        ({"Status": ["in stock", "in stock", "in stock", ""],
          "Discontinued": ["no", "yes", "", "TRUE"]}, [True, False, None, False], ["POT-1"]),
        # Either column's "not for sale" wins, whichever holds on_sale.
        ({"Status": ["active", "archived", "active", "active"],
          "Discontinued": ["yes", "no", "no", ""]}, [False, False, True, True], []),
        # A stock count says nothing of sale: its 0 is sold out, Active still reads.
        ({"Active": ["TRUE", "TRUE", "FALSE", ""], "Available": ["12", "0", "3", "0"]},
         [True, True, False, None], []),
        # A one-of-a-kind shop's stock of 0s and 1s beside Status: 0 is sold out for now,
        # not off sale (it took active products out of suggestions, review53b item 2).
        ({"Status": ["active", "active", "archived", "active"], "Available": ["1", "0", "1", "0"]},
         [True, True, False, True], []),
    ],
)  # fmt: skip
def test_every_sale_column_is_read_and_a_plain_not_for_sale_wins(
    emu: SheetsEmulator,
    api: SheetsApi,
    tmp_path: Path,
    columns: dict[str, list[str]],
    on_sale: list[bool | None],
    unread: list[str],
) -> None:
    """A list with "Status" and "Discontinued" read only Status: a discontinued product
    was the shop's top next-product suggestion (review53 4)."""
    headers = list(columns)
    rows = [[*PRODUCTS[0], *headers]] + [
        [*r, *(columns[h][i] for h in headers)] for i, r in enumerate(PRODUCTS[1:])
    ]
    folder = tmp_path / "csv"
    folder.mkdir()
    with (folder / "Products.csv").open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)
    book = Workbook()
    book.active.title = "Products"
    for row in rows:
        book.active.append([_sheet_cell(v) for v in row])
    book.save(tmp_path / "shop.xlsx")
    key = f"1Both{''.join(headers)}".ljust(40, "0")
    emu.state.create(key, "Shop", {"Products": rows})
    sources = [FilesSource(folder, {}, {}), FilesSource(tmp_path / "shop.xlsx", {}, {}),
               SheetsSource(api, key)]  # fmt: skip
    for source in sources:
        checked = validate("products", source.pull("products"), source="s")
        got = checked.clean.set_index("product_id")["on_sale"]
        assert [None if pd.isna(v) else bool(v) for v in got] == on_sale, source.name
        cleared = checked.rejects[checked.rejects["column"].eq("on_sale")]
        assert cleared["value"].str.startswith("Status: in stock").all(), source.name
        assert [json.loads(r)["product_id"] for r in cleared["row"]] == unread, source.name
        said = source.header_mappings["products"].describe()
        assert any("not for sale in either counts" in line for line in said), said


def test_a_product_discontinued_beside_its_status_is_suggested_to_no_one(tmp_path: Path) -> None:
    """S3 "in stock" but discontinued: no price suggested, and no Next product names it."""
    config = write_tiny_shop(tmp_path / "shop")
    products = pd.read_csv(tmp_path / "shop" / "Products.csv", dtype=str)
    products["Status"] = "in stock"
    products["Discontinued"] = products["SKU"].map({"S3": "yes"}).fillna("no")
    products.to_csv(tmp_path / "shop" / "Products.csv", index=False)
    out = run_config(config, "tiny shop with Status and Discontinued")
    stored = out.store["products"].set_index("product_id")["on_sale"]
    assert stored["S3"] == 0 and stored["S1"] == 1 and stored["S2"] == 1
    assert not [n for n in out.result.notices if n.check == "unread_on_sale"]
    tally = audit(out)
    assert tally.problems == []
    assert tally.checked["no price suggested for a product marked not for sale"] >= 1


def _serial(day: str) -> int:
    """A date as a Google sheet or a workbook keeps it: days since 30 December 1899."""
    return (pd.Timestamp(day) - pd.Timestamp("1899-12-30")).days


@pytest.mark.parametrize("with_word", [True, False])
def test_a_date_under_discontinued_is_the_day_the_product_stopped(
    emu: SheetsEmulator, api: SheetsApi, tmp_path: Path, with_word: bool
) -> None:
    """`Discontinued` holding the day each product was dropped, beside `Status` active:
    the date was passed over without a word and a discontinued product stayed the top
    suggestion (review53b item 3). A day on or before the run's date is not for sale, a
    later one not yet; a word still not understood is said, naming column, value and row."""
    days = ["", "2025-11-30", "2026-03-01", "soon" if with_word else "2026-01-15"]
    rows = [[*PRODUCTS[0], "Status", "Discontinued"]] + [
        [*r, "active", day] for r, day in zip(PRODUCTS[1:], days, strict=True)
    ]
    folder = tmp_path / "csv"
    folder.mkdir()
    with (folder / "Products.csv").open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)
    book = Workbook()
    book.active.title = "Products"
    for row in rows:  # a workbook's dates are date cells
        book.active.append([pd.Timestamp(v).to_pydatetime() if v[:2] == "20" else v for v in row])
    book.save(tmp_path / "shop.xlsx")
    key = f"1DiscontinuedOn{with_word}".ljust(40, "0")
    sheet = [rows[0]] + [
        [*r[:-1], _serial(r[-1]) if r[-1][:2] == "20" else r[-1]] for r in rows[1:]
    ]
    emu.state.create(key, "Shop", {"Products": sheet})  # a sheet's dates are date numbers
    sources = [FilesSource(folder, {}, {}), FilesSource(tmp_path / "shop.xlsx", {}, {}),
               SheetsSource(api, key)]  # fmt: skip
    as_of = pd.Timestamp("2026-01-15 12:00", tz="UTC")
    for source in sources:
        checked = validate("products", source.pull("products"), source="s", as_of=as_of)
        got = checked.clean.set_index("product_id")["on_sale"]
        assert [bool(v) for v in got] == [True, False, True, with_word], source.name
        cleared = checked.rejects[checked.rejects["column"].eq("on_sale")]
        if not with_word:
            assert cleared.empty, source.name
            continue
        (value,) = cleared["value"]
        assert value == "Discontinued: soon", source.name
        (reason,) = cleared["reason"]
        assert reason.endswith("'Status' decides for this row"), source.name
        assert [json.loads(r)["product_id"] for r in cleared["row"]] == ["TEA-SN"]


def test_a_product_discontinued_on_a_past_day_is_suggested_to_no_one(tmp_path: Path) -> None:
    """The tiny shop (run on 2026-11-01) with `Status` active and `Discontinued` dates:
    S3 stopped in October is out of suggestions and prices, S2 stopping in December is
    still sold, and S1's "soon" gets the data check with column, value and row."""
    config = write_tiny_shop(tmp_path / "shop")
    products = pd.read_csv(tmp_path / "shop" / "Products.csv", dtype=str)
    products["Status"] = "active"
    products["Discontinued"] = products["SKU"].map(
        {"S1": "soon", "S2": "2026-12-01", "S3": "2026-10-01"}
    )
    products.to_csv(tmp_path / "shop" / "Products.csv", index=False)
    out = run_config(config, "tiny shop with Status and the day each was discontinued")
    stored = out.store["products"].set_index("product_id")["on_sale"]
    assert stored["S3"] == 0 and stored["S2"] == 1 and stored["S1"] == 1
    (said,) = [n for n in out.result.notices if n.check == "unread_on_sale"]
    assert said.count == 1
    assert said.message.startswith("Products: 'Discontinued' = 'soon' (row 2) does not say")
    assert "another sale column that says decides" in said.message
    tally = audit(out)
    assert tally.problems == []
    assert tally.checked["no price suggested for a product marked not for sale"] >= 1


def _european_list(folder: Path, days: list[str]) -> FilesSource:
    """A hand-kept products list of a shop in France: prices with decimal commas, the
    day each product stops under `Discontinued`, one still undecided (blank)."""
    folder.mkdir()
    rows = [["product_id", "name", "price", "Status", "Discontinued"]] + [
        [f"P{i}", name, price, "active", day]
        for i, (name, price, day) in enumerate(
            zip(
                ["Rose Soap", "Clay Soap", "Oat Soap"], ["12,50", "7,25", "3,10"], days, strict=True
            ),
            start=1,
        )
    ]
    with (folder / "products.csv").open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)
    return FilesSource(folder, {}, {})


def test_discontinued_days_are_read_in_the_columns_own_order(tmp_path: Path) -> None:
    """ "25/11/2025" in the column proves day/month, so its "10/11/2025" is 10 November,
    a day after the run's date (31 October): Clay Soap is still for sale. It was read
    alone, month/day, as 11 October, and the product was silently taken out of
    suggestions, prices and the forecast (review54 item 1)."""
    source = _european_list(tmp_path / "eu", ["25/11/2025", "10/11/2025", ""])
    as_of = pd.Timestamp("2025-10-31 12:00", tz="UTC")
    checked = validate("products", source.pull("products"), source="s", as_of=as_of)
    got = checked.clean.set_index("product_id")["on_sale"]
    assert [bool(v) for v in got] == [True, True, True]
    assert checked.rejects.empty


def test_discontinued_days_no_value_decides_are_said_in_a_note(tmp_path: Path) -> None:
    """Only days that fit both orders: the table's decimal commas decide day/month, as
    they do for any date column, and a note says so and how to state it (the README's
    promise; there was none). A day that fits only the order the column is not is left
    out, named with its row, not swapped."""
    as_of = pd.Timestamp("2025-10-31 12:00", tz="UTC")
    source = _european_list(tmp_path / "eu", ["10/11/2025", "03/04/2025", ""])
    checked = validate("products", source.pull("products"), source="s", as_of=as_of)
    got = checked.clean.set_index("product_id")["on_sale"]
    assert got["P1"] and not got["P2"]  # 10 November is to come, 3 April is past
    (note,) = checked.rejects["reason"]
    # the example is one of the column's own dates (the note shows a value of its column)
    assert note.startswith("on_sale: the days under 'Discontinued': 2 dates (like 10/11/2025)")
    assert "read as day/month because the table's numbers use decimal commas" in note
    assert 'to state it: [source.formats.products] on_sale = "dayfirst"' in note
    source = _european_list(tmp_path / "mixed", ["25/11/2025", "13/11/2025", "11/25/2025"])
    checked = validate("products", source.pull("products"), source="s", as_of=as_of)
    assert pd.isna(checked.clean.set_index("product_id")["on_sale"]["P3"])  # counted on sale
    cleared = checked.rejects[checked.rejects["action"].eq("value cleared")]
    assert list(cleared["value"]) == ["Discontinued: 11/25/2025"]
    assert list(cleared["source_row"]) == [4]
    assert "fits only month/day but this column is day/month" in cleared["reason"].iloc[0]


def test_a_discontinued_time_with_an_offset_is_a_day_on_the_business_clock(
    tmp_path: Path,
) -> None:
    """ "2025-11-30T23:30:00-08:00" is 30 November in Los Angeles, the shop's zone: on
    the run of 30 November the product has stopped. Moved to UTC first, it was taken as
    1 December, a day still to come, and the product stayed for sale."""
    source = _european_list(tmp_path / "la", ["2025-11-30T23:30:00-08:00", "", ""])
    as_of = pd.Timestamp("2025-11-30 20:00", tz="UTC")  # noon in Los Angeles
    checked = validate(
        "products", source.pull("products"), source="s", as_of=as_of, zone="America/Los_Angeles"
    )
    assert not checked.clean.set_index("product_id")["on_sale"]["P1"]
