"""Shops that do not sell in cents: a yen shop types "¥14,300" (one comma, three digits),
and yen have no decimals, so that can only be fourteen thousand three hundred. Every yen
total, line price, product price and deal amount was cleared as "could be thousands or
decimals", and the run's one line called them "text". Figures in such a currency never
show decimals; a sign several currencies share ("¥") with nothing naming the currency
is said, and the config can state the shop's currency."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from smbml_connect.coerce import read_numbers
from smbml_connect.connectors.files.source import FilesSource
from smbml_connect.errors import ConfigError
from smbml_connect.pipeline import RunOptions, run_pipeline
from smbml_connect.registry import parse_config
from smbml_connect.steps import steps_by_name

AS_OF = pd.Timestamp("2026-10-31", tz="Asia/Tokyo")


def _yen_shop(folder: Path, currency_column: bool = True) -> None:
    """A tea shop in Kyoto, as its till exports it: yen with the sign and a comma."""
    (folder / "customers.csv").write_text(
        "Customer ID,Email\nK1,aoi@example.jp\nK2,ren@example.jp\nK3,mei@example.jp\n"
    )
    rows = [
        ("S1", "K1", "2026-09-03 10:00", "¥14,300"),
        ("S2", "K2", "2026-09-10 11:00", "¥4,820"),
        ("S3", "K1", "2026-09-30 23:30", "¥690"),
        ("S4", "K3", "2026-10-01 00:30", "¥31,840"),
        ("S5", "K2", "2026-10-12 15:00", "¥1,320"),
    ]
    head = "Order ID,Customer ID,Order Date,Total" + (",Currency" if currency_column else "")
    body = [f'{o},{c},{d},"{t}"' + (",JPY" if currency_column else "") for o, c, d, t in rows]
    (folder / "orders.csv").write_text("\n".join([head, *body]) + "\n")
    (folder / "order_lines.csv").write_text(
        'order_id,line_no,product_id,quantity,unit_price\nS1,1,P1,11,"¥1,300"\n'
        'S2,1,P2,2,"¥2,410"\nS3,1,P3,1,¥690\nS4,1,P1,24,"¥1,300"\nS4,2,P3,1,"¥640"\n'
        "S5,1,P3,2,¥660\n"
    )
    (folder / "products.csv").write_text(
        'product_id,name,price\nP1,Sencha,"¥1,300"\nP2,Gyokuro,"¥2,410"\nP3,Mug,¥690\n'
    )


def _run(folder: Path, store, currency: str | None = None, steps=("rfm_segments",)):
    options = RunOptions(steps=steps_by_name(list(steps)), as_of=AS_OF, currency=currency,
                         time_zone="Asia/Tokyo")  # fmt: skip
    return run_pipeline(FilesSource(folder, {}, {}), store, options)


def test_a_yen_shops_amounts_with_one_comma_are_thousands(tmp_path, store):
    _yen_shop(tmp_path)
    result = _run(tmp_path, store)
    cleared = result.rejects[result.rejects["action"].eq("value cleared")]
    assert cleared.empty, cleared["reason"].tolist()
    orders = store.read("orders").set_index("order_id")
    assert orders["total"].to_dict() == {
        "S1": 14300.0, "S2": 4820.0, "S3": 690.0, "S4": 31840.0, "S5": 1320.0
    }  # fmt: skip
    # lines and products have no currency column: the orders' currency is theirs
    assert sorted(store.read("order_lines")["unit_price"].tolist()) == [
        640.0, 660.0, 690.0, 1300.0, 1300.0, 2410.0
    ]  # fmt: skip
    assert store.read("products").set_index("product_id")["price"].to_dict() == {
        "P1": 1300.0, "P2": 2410.0, "P3": 690.0
    }  # fmt: skip
    assert result.currency == "JPY"


def test_a_plain_one_point_three_digits_in_yen_is_thousands_too():
    """Chilean and Vietnamese shops group thousands with a point: "1.150" pesos."""
    values = pd.Series(["1.150", "12.990", "450", "3.200"])
    reading = read_numbers(values, no_cents=True)
    assert reading.values.tolist() == [1150.0, 12990.0, 450.0, 3200.0]
    assert not reading.invalid.any()
    ask = read_numbers(values)  # in euros the same could be decimals: not guessed
    assert ask.invalid.sum() == 3


def test_amounts_that_fit_either_mark_are_said_as_such_not_as_text(tmp_path, store):
    """A euro shop whose totals are all "3,000"-like: the line gives the real reason and
    the config line that settles it, not "were text"."""
    (tmp_path / "orders.csv").write_text(
        "order_id,contact_id,ordered_at,total,currency\n"
        'A1,C1,2026-09-03,"1,250",EUR\nA2,C2,2026-09-10,"2,400",EUR\n'
        "A3,C1,2026-10-02,ten,EUR\nA4,C3,2026-10-05,80,EUR\n"
    )
    result = _run(tmp_path, store)
    said = [n.message for n in result.notices if n.check == "text_in_numbers"]
    assert len(said) == 2, said
    ambiguous = next(m for m in said if "1,250" in m)
    assert ambiguous.startswith("2 values in number columns of orders could be thousands")
    assert '[source.formats.orders] total = "decimal=."' in ambiguous
    assert "were text" not in ambiguous
    text = next(m for m in said if "'ten'" in m)
    assert "1 value in number columns of orders was text" in text


def test_a_shared_sign_with_no_currency_named_is_said_once(tmp_path, store):
    """ "¥14,300" with no currency column: shown in USD, said in one line with the fix."""
    _yen_shop(tmp_path, currency_column=False)
    result = _run(tmp_path, store)
    said = [n for n in result.notices if n.check == "unnamed_currency"]
    assert len(said) == 1
    assert "marked ¥" in said[0].message and "yen or yuan" in said[0].message
    assert "shown in USD" in said[0].message and 'currency = "JPY"' in said[0].message
    assert result.currency == "USD"


def test_the_config_states_the_shops_currency(tmp_path, store):
    """Stated, the yen are read as yen (no decimals) and nothing more is said."""
    _yen_shop(tmp_path, currency_column=False)
    result = _run(tmp_path, store, currency="JPY")
    assert result.currency == "JPY"
    assert not [n for n in result.notices if n.check == "unnamed_currency"]
    assert store.read("orders")["total"].sum() == 14300 + 4820 + 690 + 31840 + 1320
    assert result.rejects[result.rejects["action"].eq("value cleared")].empty


def test_a_currency_column_wins_over_the_config(tmp_path, store):
    _yen_shop(tmp_path)
    assert _run(tmp_path, store, currency="EUR").currency == "JPY"


def test_the_config_key_takes_three_letters(tmp_path):
    base = {"source": {"kind": "files", "path": str(tmp_path)}}
    assert parse_config({"currency": " jpy ", **base}).currency == "JPY"
    with pytest.raises(ConfigError, match="'¥' is not a currency code"):
        parse_config({"currency": "¥", **base})


def test_money_words_never_give_a_yen_decimals():
    from smbml_connect.money_words import money_format, money_text

    assert money_text(1230.5, "JPY", cents=True) == "1,230 JPY"
    assert money_text(-31181.99, "krw", cents=True, sign=True) == "-31,182 KRW"
    assert money_text(12.5, "EUR", cents=True) == "€12.50"
    assert money_text(1.2345, "KWD", cents=True) == "1.234 KWD"
    assert (money_format("JPY"), money_format("EUR"), money_format("")) == (
        "#,##0", "#,##0.00", "#,##0.00"
    )  # fmt: skip


def test_one_cleared_text_value_reads_as_text():
    """One kind of reason in a table is still said in words (it read "('text',)")."""
    from smbml_connect.data_checks import _text_in_numbers
    from smbml_connect.schema import REJECT_COLUMNS

    rejects = pd.DataFrame(
        [["order_lines", "files", 7, "quantity", "two", "quantity is not a number",
          "value cleared", None]],
        columns=REJECT_COLUMNS,
    )  # fmt: skip
    (notice,) = _text_in_numbers(rejects)
    assert notice.message == (
        "1 value in number columns of order lines was text, e.g. quantity = 'two': left "
        "empty (listed in Rejects)."
    )
