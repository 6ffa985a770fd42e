"""Shops outside the US and UK: yen, yuan and won as Japanese, Chinese and Korean shops type
them, and dates with the shop's own month names (find56_intl items 3 and 5).

Each shop is a few customers' orders written the way the local Excel, keyboard or shop
system writes them, read through the files source into a store.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pandas as pd
import pytest

from smbml_connect.coerce import ColumnFormat, parse_number, read_dates
from smbml_connect.connectors.files.source import FilesSource
from smbml_connect.errors import ConfigError
from smbml_connect.month_names import MONTHS, iso_date
from smbml_connect.pipeline import RunOptions, run_pipeline
from smbml_connect.ports import RunResult
from smbml_connect.registry import parse_config
from smbml_connect.schema import validate
from smbml_connect.store import Store

CUSTOMERS = "Customer ID,First Name,Last Name,Email\nC1,太郎,山田,t@x.jp\nC2,花子,鈴木,h@x.jp\nC3,翔,田中,s@x.jp\n"


def run(folder: Path, store: Store, **options: object) -> RunResult:
    return run_pipeline(FilesSource(folder), store, RunOptions(steps=[], **options))  # type: ignore[arg-type]


def write(folder: Path, orders: str, customers: str = CUSTOMERS) -> Path:
    folder.mkdir(exist_ok=True)
    (folder / "customers.csv").write_text(customers, encoding="utf-8")
    (folder / "orders.csv").write_text(orders, encoding="utf-8")
    return folder


# -- item 3: 1,650円, ￥1,650, １，６５０ ---------------------------------------------------
YEN_ORDERS = (
    "Order ID,Customer ID,Order Date,Total\n"
    'O1,C1,2025/08/07,"1,650円"\n'
    'O2,C1,2025/08/20,"12,800円"\n'
    "O3,C2,2025/09/02,550円\n"
    'O4,C3,2025/09/15,"1,200 円"\n'
    'O5,C2,2025/10/01,"3,800円"\n'
)


def test_amounts_written_with_en_are_yen_without_a_currency_anywhere(tmp_path: Path, store: Store):
    """`1,650円` is how a Japanese shop writes 1,650 yen: every total was "text", left
    empty. 円 names yen, so the shop is a yen shop with no config or column saying so."""
    result = run(write(tmp_path / "shop", YEN_ORDERS), store)
    orders = store.read("orders").set_index("order_id")
    assert orders["total"].to_dict() == {"O1": 1650, "O2": 12800, "O3": 550, "O4": 1200, "O5": 3800}
    assert set(orders["currency"]) == {"JPY"}
    assert result.cleared_values == 0 and result.currency == "JPY"


def test_full_width_yen_and_digits_read_as_the_plain_ones(tmp_path: Path, store: Store):
    """The yen sign a Japanese keyboard types (U+FFE5, Shift-JIS 0x818F) and digits typed
    with the input method on (`１，６５０`) read as `¥1,650`: the shop's yen (config)."""
    orders = YEN_ORDERS.replace('"1,650円"', '"￥1,650"').replace('"12,800円"', "１２，８００")
    orders = orders.replace("550円", "￥550").replace('"1,200 円"', '"（￥1,200）"')
    run(write(tmp_path / "shop", orders), store, currency="JPY")
    totals = store.read("orders").set_index("order_id")["total"].to_dict()
    assert totals == {"O1": 1650, "O2": 12800, "O3": 550, "O4": -1200, "O5": 3800}


def test_full_width_yen_with_no_currency_stated_is_said_as_the_plain_sign_is(
    tmp_path: Path, store: Store
):
    """`￥` is yen's and yuan's sign, as `¥` is: no currency stated, one line says which
    the figures are shown in and how to state it (not a silent dollar)."""
    orders = "Order ID,Customer ID,Order Date,Total\n" + "".join(
        f'O{i},C{i % 3 + 1},2025/0{i}/0{i},"￥{i}{i}0"\n' for i in range(1, 7)
    )
    result = run(write(tmp_path / "shop", orders), store)
    (said,) = [n for n in result.notices if n.check == "unnamed_currency"]
    assert "marked ¥" in said.message and "yen or yuan" in said.message


def test_yuan_and_won_suffixes_read_with_their_currency():
    """元 is the yuan (and New Taiwan dollar): a shared sign the shop's currency settles;
    원 and ₩ are won, a currency without cents."""
    frame = pd.DataFrame(
        {
            "order_id": ["K1", "K2", "K3"],
            "contact_id": ["C1", "C2", "C1"],
            "ordered_at": ["2025-03-01", "2025-03-02", "2025-03-03"],
            "total": ["12,000원", "₩3,500", "１，２００원"],
        }
    )
    won = validate("orders", frame)
    assert won.clean["total"].tolist() == [12000, 3500, 1200]
    assert set(won.clean["currency"]) == {"KRW"}
    yuan = validate("orders", frame.assign(total=["128元", "12.50元", "1,280圆"]), currency="CNY")
    assert yuan.clean["total"].tolist() == [128, 12.5, 1280]
    unknown = validate("orders", frame.assign(total=["128元", "99元", "1,280元"]))
    assert unknown.shared_sign == "元"


def test_only_full_width_forms_are_folded_into_numbers():
    """NFKC folded over the whole text would make numbers of superscripts and circled
    digits: only the full-width block and the ideographic space are folded."""
    from smbml_connect.coerce import fold_width

    assert parse_number("－１，２３４．５") == -1234.5
    for text in ("5²", "①", "½", "Ⅻ", "₁₂"):
        assert unicodedata.normalize("NFKC", text) != text  # what NFKC would have done
        with pytest.raises(ValueError):
            parse_number(text)
    assert fold_width("ｶﾀｶﾅ 5²") == "ｶﾀｶﾅ 5²"  # half-width kana and the rest as typed


# -- item 5: 3 févr. 2025, 15. März 2025, 12 de dezembro de 2025, 2025年3月20日 ------------
def test_local_month_names_and_cjk_dates_are_read():
    """The long date forms Excel and shop systems write in those locales: each one was
    "not a date we can read", so every row of a shop writing them was rejected."""
    written = {
        "3 févr. 2025": "2025-02-03", "17 mars 2025": "2025-03-17",
        "lundi 3 février 2025": "2025-02-03", "le 1er mars 2025": "2025-03-01",
        "15. März 2025": "2025-03-15", "Montag, 3. Februar 2025 14:30": "2025-02-03 14:30",
        "12 de dezembro de 2025": "2025-12-12", "3 de febrero de 2025": "2025-02-03",
        "3 marzo 2025": "2025-03-03", "3 maart 2025": "2025-03-03", "3 mars 2025": "2025-03-03",
        "3 marca 2025": "2025-03-03", "3 марта 2025 г.": "2025-03-03", "04-mars-25": "2025-03-04",
        "2025. március 20.": "2025-03-20", "2025年3月20日": "2025-03-20",
        "2025年3月20日(木) 14:30": "2025-03-20 14:30", "２０２５年３月２０日": None,
        "2025년 3월 20일": "2025-03-20", "2025. 3. 20.": "2025-03-20",
    }  # fmt: skip
    for text, iso in written.items():
        assert iso_date(text) == iso or iso is None, text
    values = read_dates(pd.Series(list(written)), zone="Asia/Tokyo").values
    days = values.dt.tz_convert("Asia/Tokyo").dt.strftime("%Y-%m-%d")
    expected = [(iso or "2025-03-20")[:10] for iso in written.values()]
    assert days.tolist() == expected


def test_a_month_name_is_read_whole_and_in_one_month_only():
    """No word names two months (Croatian "listopad" is October, Czech and Polish
    November: left out); a word that is not a month, or a leading word that is not a
    weekday, is no date of ours; an impossible day is no date."""
    assert MONTHS["listopad"] == 11 and "lipanj" not in MONTHS
    for text in ("3 foo 2025", "about 3 mars 2025", "31 février 2025", "3 mars à 14h30"):
        reading = read_dates(pd.Series([text]))
        assert reading.invalid.tolist() == [True], text


def test_a_shop_writing_its_own_month_names_loads_every_order(tmp_path: Path, store: Store):
    """find56_intl item 5's orders: five rows, five rejected before."""
    orders = (
        "Order ID;Customer ID;Order Date;Total\n"
        'O1;C1;3 févr. 2025;"104,85 €"\nO2;C2;17 mars 2025;"12,50 €"\n'
        'O3;C1;15. März 2025;"12,50 €"\nO4;C3;2025年3月20日;"9,00 €"\n'
        'O5;C3;12 de dezembro de 2025;"9,00 €"\n'
    )
    result = run(write(tmp_path / "shop", orders), store, time_zone="Europe/Paris")
    assert result.rejected_rows == 0 and result.status == "ok"
    days = store.read("orders").set_index("order_id")["ordered_at"].dt.tz_convert("Europe/Paris")
    assert days.dt.strftime("%Y-%m-%d").to_dict() == {
        "O1": "2025-02-03", "O2": "2025-03-17", "O3": "2025-03-15", "O4": "2025-03-20",
        "O5": "2025-12-12",
    }  # fmt: skip


def test_the_config_states_a_date_format_a_column_cannot_tell():
    """`[source.formats.orders] ordered_at = "date=DD/MM/YY"`: every date read with it (no
    order guessed, no note); one that does not fit is left out and says why."""
    dates = pd.Series(["03/04/25", "05/06/25", "3.4.25", "2025-01-02"])
    reading = read_dates(dates, ColumnFormat.parse("date=DD/MM/YY"))
    assert reading.values.dt.strftime("%Y-%m-%d").tolist()[:2] == ["2025-04-03", "2025-06-05"]
    assert reading.invalid.tolist() == [False, False, True, False] and not reading.notes
    assert "does not fit the date format date=DD/MM/YY" in reading.reasons["3.4.25"]
    named = read_dates(pd.Series(["3 de fev 2025"]), ColumnFormat.parse("utc date=D de MMM YYYY"))
    assert str(named.values[0]) == "2025-02-03 00:00:00+00:00"


def test_a_date_format_that_names_no_date_is_a_config_error(tmp_path: Path):
    """A pattern without a year, a month or a day is refused when the config is read."""
    source = {
        "kind": "files",
        "path": str(tmp_path),
        "formats": {"orders": {"ordered_at": "date=DD/MM"}},
    }
    with pytest.raises(ConfigError, match="year, the month and the day"):
        parse_config({"source": source}, tmp_path)


def test_a_run_that_rejects_every_order_is_not_recorded_ok(tmp_path: Path, store: Store):
    """531 orders lost to dates none of which could be read left a run "ok": it is
    "partial", with one line naming the table, how many rows and the first reason."""
    orders = (
        "Order ID,Customer ID,Order Date,Total\nO1,C1,3 foo 2025,12.50\nO2,C2,4 bar 2025,9.00\n"
    )
    result = run(write(tmp_path / "shop", orders), store)
    assert result.status == "partial"
    (line,) = [e for e in result.errors if "orders" in e]
    assert "all 2 rows of orders read were rejected" in line and "'3 foo 2025'" in line
    (recorded,) = store.runs()["status"].tolist()
    assert recorded == "partial"
