"""A row the user deletes from a file or sheet leaves the results (it kept counting before)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from smbml_connect.connectors.files.source import FilesSource
from smbml_connect.connectors.gsheets.http import SheetsApi
from smbml_connect.connectors.gsheets.sheets import SheetsSource
from smbml_connect.credentials import Secret
from smbml_connect.errors import ConfigError
from smbml_connect.gone_from_source import GONE_CHECK
from smbml_connect.pipeline import RunOptions, run_pipeline
from smbml_connect.ports import RunResult
from smbml_connect.registry import parse_config
from smbml_connect.runner import connector_context, make_source
from smbml_connect.steps import steps_by_name
from smbml_connect.store import Store
from smbml_connect.testing.clock import FakeClock
from smbml_connect.testing.sheets_emulator import SheetsEmulator, make_service_account

AS_OF = pd.Timestamp("2025-10-31", tz="UTC")
RFM = steps_by_name(["rfm_segments"])
CONTACTS = "contact_id,email,created_at\nC1,a@x.com,2025-01-03\nC2,b@x.com,2025-02-03\n"
ORDERS = (
    "order_id,contact_id,order_date,total\n"
    "O1,C1,2025-03-01,100\nO2,C2,2025-04-01,50\nO3,C2,2025-05-01,70\nO4,C1,2025-06-01,999\n"
)


def _folder(tmp_path: Path, **files: str) -> Path:
    folder = tmp_path / "data"
    folder.mkdir(exist_ok=True)
    for name, text in files.items():
        (folder / f"{name}.csv").write_text(text, encoding="utf-8")
    return folder


def _run(folder: Path, store: Store, keep: bool = False, page_rows: int = 50_000) -> RunResult:
    source = FilesSource(folder, page_rows=page_rows)
    return run_pipeline(source, store, RunOptions(steps=RFM, as_of=AS_OF, keep_removed_rows=keep))


def _live(store: Store, table: str) -> list[str]:
    frame = store.read(table)
    key = frame.columns[0]
    return sorted(frame.loc[frame["archived_at"].isna(), key].astype(str))


def _gone(result: RunResult) -> list[str]:
    return [n.message for n in result.notices if n.check == GONE_CHECK]


def _spent(result: RunResult, contact: str) -> str:
    """What C1's segment says it spent, as the user reads it."""
    scores = result.steps["rfm_segments"].outputs["scores"].set_index("entity_id")
    return next(r for r in scores.loc[contact, "reasons"] if r.endswith("spent"))


def test_an_order_deleted_from_the_file_leaves_the_results_and_comes_back_with_its_row(
    tmp_path: Path,
) -> None:
    folder = _folder(tmp_path, contacts=CONTACTS, orders=ORDERS)
    with Store(tmp_path / "s.sqlite") as store:
        assert _spent(_run(folder, store), "C1") == "$1,099 spent"
        _folder(tmp_path, orders=ORDERS.replace("O4,C1,2025-06-01,999\n", ""))
        result = _run(folder, store)
        assert _spent(result, "C1") == "$100 spent"  # the deleted $999 order counted before
        assert _live(store, "orders") == ["O1", "O2", "O3"]
        assert store.count("orders") == 4  # kept, marked, not used
        assert result.archived == {"orders": 1}
        (message,) = _gone(result)
        assert message.startswith("1 order no longer in orders.csv (O4): left out of the results")
        assert 'removed_rows = "keep"' in message
        _folder(tmp_path, orders=ORDERS)
        back = _run(folder, store)
        assert _spent(back, "C1") == "$1,099 spent"
        assert _live(store, "orders") == ["O1", "O2", "O3", "O4"]
        assert not _gone(back)


def test_a_row_rejected_this_run_keeps_its_last_good_version(tmp_path: Path) -> None:
    folder = _folder(tmp_path, contacts=CONTACTS, orders=ORDERS)
    with Store(tmp_path / "s.sqlite") as store:
        _run(folder, store)
        _folder(tmp_path, orders=ORDERS.replace("2025-06-01,999", "next tuesday,999"))
        result = _run(folder, store)
        assert _live(store, "orders") == ["O1", "O2", "O3", "O4"]  # still in the file
        assert not _gone(result)
        assert "O4" in set(result.rejects["row"].astype(str).str.extract(r"(O\d)")[0].dropna())


def test_an_emptied_file_leaves_out_every_row_and_a_file_gone_its_table(tmp_path: Path) -> None:
    products = "product_id,name,price\nP1,Mug,9\nP2,Cup,7\n"
    folder = _folder(tmp_path, contacts=CONTACTS, orders=ORDERS, products=products)
    with Store(tmp_path / "s.sqlite") as store:
        _run(folder, store)
        _folder(tmp_path, orders="order_id,contact_id,order_date,total\n")
        (folder / "products.csv").unlink()
        result = _run(folder, store)
        assert _live(store, "orders") == [] and _live(store, "products") == []
        messages = sorted(_gone(result))
        assert messages[0].startswith("4 orders no longer in orders.csv (O1, O2, O3, O4)")
        assert messages[1].startswith("No file or tab gives products any more: 2 products read")
        assert _live(store, "contacts") == ["C1", "C2"]


def test_a_table_that_could_not_be_read_leaves_nothing_out(tmp_path: Path) -> None:
    folder = _folder(tmp_path, contacts=CONTACTS, orders=ORDERS)
    with Store(tmp_path / "s.sqlite") as store:
        _run(folder, store)
        _folder(tmp_path, orders=ORDERS.replace("order_id,", "reference,", 1))  # no id column
        result = _run(folder, store)
        assert "orders" in result.incomplete
        assert _live(store, "orders") == ["O1", "O2", "O3", "O4"]
        assert not _gone(result)


def test_keys_across_pages_of_a_large_file_are_all_met(tmp_path: Path) -> None:
    folder = _folder(tmp_path, contacts=CONTACTS, orders=ORDERS)
    with Store(tmp_path / "s.sqlite") as store:
        _run(folder, store, page_rows=1)
        _folder(tmp_path, orders=ORDERS.replace("O2,C2,2025-04-01,50\n", ""))
        result = _run(folder, store, page_rows=1)
        assert _live(store, "orders") == ["O1", "O3", "O4"]
        assert result.archived == {"orders": 1}


def test_keep_counts_rows_a_newer_export_no_longer_has(tmp_path: Path) -> None:
    folder = _folder(tmp_path, contacts=CONTACTS, orders=ORDERS)
    with Store(tmp_path / "s.sqlite") as store:
        _run(folder, store)
        _folder(tmp_path, orders="order_id,contact_id,order_date,total\nO5,C2,2025-07-01,20\n")
        result = _run(folder, store, keep=True)
        assert _live(store, "orders") == ["O1", "O2", "O3", "O4", "O5"]
        assert not _gone(result) and not result.archived


def test_only_this_sources_rows_and_tables_without_marks_lose_their_rows(tmp_path: Path) -> None:
    lines = "order_id,line_no,product_id,quantity,unit_price\nO1,1,P1,2,9\nO1,2,P2,1,7\n"
    stages = "deal_id,stage,entered_at\nD1,new,2025-01-01\nD1,won,2025-02-01\n"
    deals = "deal_id,amount,stage,created_at\nD1,500,won,2025-01-01\n"
    folder = _folder(
        tmp_path, contacts=CONTACTS, orders=ORDERS, order_lines=lines, deals=deals,
        deal_stages=stages,
    )  # fmt: skip
    with Store(tmp_path / "s.sqlite") as store:
        other = pd.DataFrame({"order_id": ["X9"], "ordered_at": [AS_OF], "source": ["crm"]})
        store.upsert("orders", other)
        _run(folder, store)
        _folder(tmp_path, order_lines=lines.replace("O1,2,P2,1,7\n", ""),
                deal_stages=stages.replace("D1,new,2025-01-01\n", ""))  # fmt: skip
        result = _run(folder, store)
        frame = store.read("order_lines")
        assert frame.loc[frame["archived_at"].isna(), "line_no"].tolist() == [1]
        assert store.read("deal_stages")["stage"].tolist() == ["won"]  # no marks: deleted
        assert "X9" in _live(store, "orders")  # another source's row is not this file's
        assert result.archived == {"order_lines": 1, "deal_stages": 1}
        assert any(m.startswith("1 order line no longer in order_lines.csv (O1 / 2)")
                   for m in _gone(result))  # fmt: skip


def test_removed_rows_is_refused_for_a_source_that_says_what_it_deleted(tmp_path: Path) -> None:
    config = parse_config(
        {"source": {"kind": "hubspot", "removed_rows": "keep"}, "store": str(tmp_path / "s")}
    )
    with pytest.raises(ConfigError, match="removed_rows is for sources read whole"):
        make_source(connector_context(config, clients={"hubspot": object()}))
    with pytest.raises(ConfigError, match="removed_rows: Input should be 'leave_out' or 'keep'"):
        parse_config({"source": {"kind": "files", "path": str(tmp_path), "removed_rows": "drop"}})


def test_a_row_deleted_from_a_google_sheet_leaves_the_results(tmp_path: Path) -> None:
    clock = FakeClock()
    rows = [line.split(",") for line in ORDERS.strip().splitlines()]
    people = [line.split(",") for line in CONTACTS.strip().splitlines()]
    with SheetsEmulator(clock=clock) as emu:
        book = "1GoneRows".ljust(39, "0")
        emu.state.create(book, "Shop", {"Contacts": people, "Orders": rows})
        api = SheetsApi(Secret(json.dumps(make_service_account(emu))), api_url=emu.url,
                        clock=clock)  # fmt: skip
        with Store(tmp_path / "s.sqlite") as store:
            run_pipeline(SheetsSource(api, book), store, RunOptions(steps=RFM, as_of=AS_OF))
            emu.state.values_clear(book, "Orders!A1:Z")
            emu.state.values_update(book, "Orders!A1", rows[:3] + rows[4:], "USER_ENTERED")
            clock.advance(61)
            result = run_pipeline(
                SheetsSource(api, book), store, RunOptions(steps=RFM, as_of=AS_OF)
            )
            assert _live(store, "orders") == ["O1", "O2", "O4"]
            (message,) = _gone(result)
            assert message.startswith("1 order no longer in Orders (O3)")


def test_the_config_key_reaches_the_run(tmp_path: Path) -> None:
    """`smbml run` as a user runs it: the key in smbml.toml, both settings."""
    from click.testing import CliRunner

    from smbml_connect.cli import cli

    folder = _folder(tmp_path, contacts=CONTACTS, orders=ORDERS)
    for setting, left in [('removed_rows = "keep"', ["O1", "O2", "O3", "O4"]), ("", ["O1"])]:
        store = tmp_path / f"store{len(setting)}.sqlite"
        config = tmp_path / "smbml.toml"
        config.write_text(
            f'store = "{store}"\n[source]\nkind = "files"\npath = "{folder}"\n{setting}\n'
            '[analytics]\nenabled = ["rfm_segments"]\nas_of = 2025-10-31\n',
            encoding="utf-8",
        )
        _folder(tmp_path, orders=ORDERS)
        first = CliRunner().invoke(
            cli, ["--log-file", str(tmp_path / "log"), "run", "-c", str(config)]
        )
        assert first.exit_code == 0, first.output
        _folder(tmp_path, orders=ORDERS.split("O2,")[0])  # only O1 is left
        second = CliRunner().invoke(
            cli, ["--log-file", str(tmp_path / "log"), "run", "-c", str(config)]
        )
        assert second.exit_code == 0, second.output
        with Store(store) as opened:
            assert _live(opened, "orders") == left
        assert ("3 orders no longer in orders.csv (O2, O3, O4)" in second.output) == (not setting)
