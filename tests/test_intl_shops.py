"""Shops outside the US and UK: yen, yuan and won as Japanese, Chinese and Korean shops type
them (find56_intl item 3).

Each shop is a few customers' orders written the way the local Excel, keyboard or shop
system writes them, read through the files source into a store.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pandas as pd
import pytest

from smbml_connect.coerce import parse_number
from smbml_connect.connectors.files.source import FilesSource
from smbml_connect.pipeline import RunOptions, run_pipeline
from smbml_connect.ports import RunResult
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
