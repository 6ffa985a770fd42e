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
from smbml_connect.gone_from_source import GONE_CHECK, RESTORED_CHECK
from smbml_connect.pipeline import STILL_COUNTS, RunOptions, run_pipeline
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
    folder.mkdir(parents=True, exist_ok=True)
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
        # its reject says the old version still counts (it read as gone from every figure);
        # a new row rejected, never read before, says nothing of the kind
        _folder(tmp_path, orders=ORDERS.replace("2025-06-01,999", "next tuesday,999")
                + "O5,C1,someday,20\nO1,C2,2025-07-01,5\n")  # fmt: skip
        again = _run(folder, store).rejects
        rejected = again[again["action"] == "row rejected"].set_index("source_row")["reason"]
        assert rejected[5].endswith(STILL_COUNTS) and rejected[5].startswith("ordered_at")
        assert not rejected[6].endswith(STILL_COUNTS)  # O5: never read
        assert not rejected[2].endswith(STILL_COUNTS)  # O1 twice: the later one counts


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


def test_keep_set_after_a_row_was_left_out_brings_it_back_and_says_so(tmp_path: Path) -> None:
    """A shop that moves to "only each new export": the notice said to set removed_rows =
    "keep", and C2 (deleted from the newer contacts file) stayed out for good, silently."""
    folder = _folder(tmp_path, contacts=CONTACTS, orders=ORDERS)
    with Store(tmp_path / "s.sqlite") as store:
        _run(folder, store)
        _folder(tmp_path, contacts=CONTACTS.replace("C2,b@x.com,2025-02-03\n", ""))
        assert _gone(_run(folder, store))[0].startswith("1 contact no longer in contacts.csv")
        assert _live(store, "contacts") == ["C1"]
        kept = _run(folder, store, keep=True)
        assert _live(store, "contacts") == ["C1", "C2"]
        assert _spent(kept, "C2") == "$120 spent"  # O2 and O3 are C2's again
        (said,) = [n.message for n in kept.notices if n.check == RESTORED_CHECK]
        assert said == (
            "1 contact that earlier runs left out as gone from the source (C2) counts again, "
            'as removed_rows = "keep" in [source] asks.'
        )
        again = _run(folder, store, keep=True)
        assert not [n for n in again.notices if n.check == RESTORED_CHECK]  # said once
        assert _live(store, "contacts") == ["C1", "C2"]


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


def _shop_sheet(emu: SheetsEmulator, name: str, clock: FakeClock) -> tuple[str, SheetsApi]:
    """A spreadsheet of CONTACTS and ORDERS, and a client for it."""
    rows = [line.split(",") for line in ORDERS.strip().splitlines()]
    people = [line.split(",") for line in CONTACTS.strip().splitlines()]
    book = f"1{name}".ljust(39, "0")
    emu.state.create(book, "Shop", {"Contacts": people, "Orders": rows})
    api = SheetsApi(Secret(json.dumps(make_service_account(emu))), api_url=emu.url, clock=clock)
    return book, api


def test_a_row_deleted_from_a_google_sheet_leaves_the_results(tmp_path: Path) -> None:
    clock = FakeClock()
    rows = [line.split(",") for line in ORDERS.strip().splitlines()]
    with SheetsEmulator(clock=clock) as emu:
        book, api = _shop_sheet(emu, "GoneRows", clock)
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


def test_a_few_rows_of_a_tab_renamed_are_left_out_with_the_tab_named(tmp_path: Path) -> None:
    """Under 20 rows, a table no tab gives now is left out as before (it counts again once
    read); its line names the tab it came from and the tabs not read, not just "no file
    or tab gives orders any more" (find57_sheets item 4)."""
    clock = FakeClock()
    with SheetsEmulator(clock=clock) as emu:
        book, api = _shop_sheet(emu, "GoneRenamed", clock)
        with Store(tmp_path / "s.sqlite") as store:
            run_pipeline(SheetsSource(api, book), store, RunOptions(steps=RFM, as_of=AS_OF))
            emu.state.book(book).sheet("Orders").title = "Orders (old)"
            clock.advance(61)
            result = run_pipeline(
                SheetsSource(api, book), store, RunOptions(steps=RFM, as_of=AS_OF)
            )
            assert _live(store, "orders") == []
            (message,) = _gone(result)
            assert message == (
                "4 orders read before (O1, O2, O3, O4) left out of the results (kept in the "
                "store; they count again if they come back): no tab gives orders now; the "
                "last run read them from tab 'Orders' (tabs not read: 'Orders (old)'). If you "
                "renamed it, rename the tab back to 'Orders', or name it in the config: "
                '[source.tables] orders = "Orders (old)".'
            )


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


def test_an_opt_out_stands_when_the_contacts_row_leaves_the_file(tmp_path: Path) -> None:
    """A customer who opted out is deleted from the list, their orders stay: the orders
    were scored under their id (review: consent failed open)."""
    people = CONTACTS.replace("created_at", "created_at,marketing_consent")
    people = people.replace("2025-01-03", "2025-01-03,no").replace("2025-02-03", "2025-02-03,yes")
    folder = _folder(tmp_path, contacts=people, orders=ORDERS)
    with Store(tmp_path / "s.sqlite") as store:
        first = _run(folder, store)
        assert set(first.steps["rfm_segments"].outputs["scores"]["entity_id"]) == {"C2"}
        _folder(tmp_path, contacts=people.replace("C1,a@x.com,2025-01-03,no\n", ""))
        result = _run(folder, store)
        assert set(result.steps["rfm_segments"].outputs["scores"]["entity_id"]) == {"C2"}
        assert result.consent_skipped == 1
        assert "C1" not in set(store.output_history("scores")["entity_id"])


def _orders(n: int) -> str:
    rows = "".join(f"O{i},C{1 + i % 2},2025-0{1 + i % 9}-01,{10 + i}\n" for i in range(n))
    return "order_id,contact_id,order_date,total\n" + rows


def test_a_file_being_replaced_or_synced_is_not_taken_for_rows_removed(tmp_path: Path) -> None:
    """An emptied folder, or over half of a table at once (a file mid-write or mid-sync):
    the rows still count this run, and the run says how to confirm (review)."""
    folder = _folder(tmp_path, contacts=CONTACTS, orders=_orders(60))
    with Store(tmp_path / "s.sqlite") as store:
        _run(folder, store)
        for path in folder.iterdir():
            path.unlink()
        empty = _run(folder, store)
        assert len(_live(store, "orders")) == 60 and not empty.archived
        assert any(
            m.startswith("No file or tab gives any table: the 60 orders") for m in _gone(empty)
        )
        _folder(tmp_path, contacts=CONTACTS, orders=_orders(25))  # 35 of 60 gone at once
        held = _run(folder, store)
        assert len(_live(store, "orders")) == 60 and not held.archived
        (message,) = _gone(held)
        assert message.startswith("35 of the 60 orders read before are not in orders.csv now")
        assert "smbml run --accept-removals" in message
        source = FilesSource(folder)
        options = RunOptions(steps=RFM, as_of=AS_OF, accept_removals=True)
        accepted = run_pipeline(source, store, options)
        assert len(_live(store, "orders")) == 25 and accepted.archived == {"orders": 35}
        _folder(tmp_path, orders=_orders(20))  # 5 of 25: a removal, not a file being written
        assert _run(folder, store).archived == {"orders": 5}


def test_a_line_that_cannot_be_read_may_hold_the_row_so_nothing_is_left_out(
    tmp_path: Path,
) -> None:
    """Its key is unknown: a stray quote on O2's line is not O2 deleted (review)."""
    folder = _folder(tmp_path, contacts=CONTACTS, orders=ORDERS)
    with Store(tmp_path / "s.sqlite") as store:
        _run(folder, store)
        broken = ORDERS.replace("O2,C2,2025-04-01,50", 'O2,C2,"2025-04-01,50').replace(
            "O4,C1,2025-06-01,999\n", ""
        )
        _folder(tmp_path, orders=broken)
        result = _run(folder, store)
        assert _live(store, "orders") == ["O1", "O2", "O3", "O4"]
        (message,) = _gone(result)
        assert message.startswith("Some lines of orders.csv could not be read")


def test_the_sample_names_itself_and_rows_without_marks_are_not_said_to_be_kept(
    tmp_path: Path,
) -> None:
    from smbml_connect.connectors.sample.source import SampleSource
    from smbml_connect.sample import SampleConfig, generate

    with Store(tmp_path / "s.sqlite") as store:
        first = SampleSource(generate(SampleConfig(contacts=100)))
        run_pipeline(first, store, RunOptions(steps=[]))
        smaller = SampleSource(generate(SampleConfig(contacts=90)))
        result = run_pipeline(smaller, store, RunOptions(steps=[], accept_removals=True))
        messages = {n.table: n.message for n in result.notices if n.check == GONE_CHECK}
        assert messages["contacts"].startswith(f"10 contacts no longer in {smaller.name} (")
        assert "kept in the store" in messages["contacts"]
        assert "kept in the store" not in messages["deal_stages"]


def test_two_folders_of_one_name_are_two_sources_and_a_changed_path_is_said(
    tmp_path: Path,
) -> None:
    """The name was the folder's base name: two shops' "data" folders sharing a store
    left out each other's rows; a config moved to another folder kept the old rows
    counting without a word (review)."""
    shop_a = _folder(tmp_path / "a", contacts=CONTACTS, orders=ORDERS)
    other = "order_id,contact_id,order_date,total\nB1,C1,2025-03-01,5\n"
    shop_b = _folder(tmp_path / "b", contacts=CONTACTS, orders=other)
    assert shop_a.name == shop_b.name == "data"
    with Store(tmp_path / "s.sqlite") as store:
        _run(shop_a, store)
        result = _run(shop_b, store)
        assert _live(store, "orders") == ["B1", "O1", "O2", "O3", "O4"]
        assert not _gone(result)
        said = [n.message for n in result.notices if n.check == "other_source"]
        assert f"4 orders in this store came from {FilesSource(shop_a).name}" in said[-1]
        assert "give it a new store" in said[-1]


def test_rows_stored_under_the_older_name_are_still_this_folders(tmp_path: Path) -> None:
    folder = _folder(tmp_path, contacts=CONTACTS, orders=ORDERS)
    with Store(tmp_path / "s.sqlite") as store:
        _run(folder, store)
        store._conn.execute("UPDATE orders SET source = 'files:data'")  # as before the upgrade
        _folder(tmp_path, orders=ORDERS.replace("O4,C1,2025-06-01,999\n", ""))
        result = _run(folder, store)
        assert _live(store, "orders") == ["O1", "O2", "O3"]
        assert not [n for n in result.notices if n.check == "other_source"]


def test_a_complete_copy_stored_under_the_older_name_still_stands_in(tmp_path: Path) -> None:
    """incomplete_inputs = "last_complete" after the upgrade: the last complete load was
    marked under the folder's older name."""
    folder = _folder(tmp_path, contacts=CONTACTS, orders=ORDERS)
    options = RunOptions(steps=RFM, as_of=AS_OF, incomplete_inputs="last_complete")
    with Store(tmp_path / "s.sqlite") as store:
        run_pipeline(FilesSource(folder), store, options)
        store._conn.execute(
            "UPDATE sync_cursors SET source = 'files:data' WHERE table_name LIKE 'complete:%'"
        )  # as an older release marked it
        _folder(tmp_path, orders=ORDERS.replace("order_id,", "reference,", 1))  # fails to load
        result = run_pipeline(FilesSource(folder), store, options)
        assert "orders" in result.incomplete and "rfm_segments" not in result.held_back
        assert any(n.check == "older_input" for n in result.notices)


def test_a_row_with_a_note_beside_it_is_still_in_the_workbook(tmp_path: Path) -> None:
    """A note typed right of the last named column rejects the row, but its cells under
    the headers are read: its key is met, and a row deleted elsewhere still leaves
    (review: one note held every deletion of the tab, a person's too)."""
    from openpyxl import Workbook

    def book(people: list[str], note: bool) -> Path:
        workbook = Workbook()
        sheet = workbook.active
        sheet.title = "Customers"
        sheet.append(["contact_id", "email", "created_at"])
        for p in people:
            sheet.append([p, f"{p.lower()}@x.com", "2025-01-03"])
        if note:
            sheet["F3"] = "call back re refund"  # beside the second person's row
        orders = workbook.create_sheet("Orders")
        orders.append(["order_id", "contact_id", "order_date", "total"])
        for i, p in enumerate(people):
            orders.append([f"O{i}", p, "2025-03-01", 100])
        workbook.save(tmp_path / "shop.xlsx")
        return tmp_path / "shop.xlsx"

    with Store(tmp_path / "s.sqlite") as store:
        _run(book(["C1", "C2", "C3", "C4"], note=False), store)
        result = _run(book(["C2", "C3", "C4"], note=True), store)  # C1 deleted; a note by C3
        assert _live(store, "contacts") == ["C2", "C3", "C4"]
        assert _gone(result)[0].startswith("1 contact no longer in Customers (C1)")


def test_a_broken_line_of_an_export_holds_every_table_the_export_gives(tmp_path: Path) -> None:
    """A Shopify export gives orders, their lines and buyers; a line that cannot be read
    held only the orders, and lines still in the file were left out (review)."""
    fixture = Path(__file__).parent / "fixtures" / "layouts" / "shopify_orders_export_1.csv"
    lines = fixture.read_text(encoding="utf-8").splitlines(keepends=True)
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "orders_export.csv").write_text("".join(lines), encoding="utf-8")
    with Store(tmp_path / "s.sqlite") as store:
        _run(folder, store)
        before = {t: _live(store, t) for t in ("orders", "order_lines")}
        broken = [lines[0], *lines[1:4], '#1011,"broken\n', *lines[5:]]  # #1011's first row
        (folder / "orders_export.csv").write_text("".join(broken), encoding="utf-8")
        result = _run(folder, store)
        assert {t: _live(store, t) for t in ("orders", "order_lines")} == before
        assert not [m for m in _gone(result) if "no longer in" in m]


def test_a_broken_line_keeps_the_numbers_of_the_lines_after_it(tmp_path: Path) -> None:
    """Lines were numbered by their place among the lines that could be read: with #1010's
    second line broken, its third became line 2, so line 2 held the third's product and
    line 3 kept it too (the table was held): one product counted twice until the line was
    fixed (stops 46 and 47 left it alone)."""
    fixture = Path(__file__).parent / "fixtures" / "layouts" / "shopify_orders_export_1.csv"
    lines = fixture.read_text(encoding="utf-8").splitlines(keepends=True)
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "orders_export.csv").write_text("".join(lines), encoding="utf-8")

    def products() -> dict[tuple[str, int], str]:
        rows = store.read("order_lines")
        rows = rows[rows["archived_at"].isna()]
        return {(o, int(n)): p for o, n, p in zip(rows["order_id"], rows["line_no"],
                                                  rows["product_id"], strict=True)}  # fmt: skip

    with Store(tmp_path / "s.sqlite") as store:
        _run(folder, store)
        before = products()
        assert [before[("#1010", n)] for n in (1, 2, 3)] == ["SOAP-CLAY", "BUNDLE-2", "LIP-01"]
        broken = [*lines[:6], '#1010,"broken\n', *lines[7:]]  # #1010's second line
        (folder / "orders_export.csv").write_text("".join(broken), encoding="utf-8")
        _run(folder, store)
        assert products() == before
        (folder / "orders_export.csv").write_text("".join(lines), encoding="utf-8")
        _run(folder, store)
        assert products() == before


def test_a_product_removed_from_the_list_is_kept_off_sale_while_its_sales_name_it() -> None:
    """Archived (a HubSpot archive, a row gone from products.csv) is not for sale now, but
    the orders still sold it: it keeps its name, off sale, for the steps that show its
    history. One no order line names is left out; a products list no longer given at all
    (every row archived) says nothing about what is for sale."""
    from smbml_connect.pipeline import _live, _with_retired

    gone = pd.Timestamp("2025-09-01", tz="UTC")
    stored = pd.DataFrame(
        {
            "product_id": ["P1", "P2", "P3", "P4"],
            "name": ["Moka Pot", "House Blend", "Gift Card", "Old Mug"],
            "price": [57.99, 15.99, 25.0, 9.5],
            "on_sale": [None, True, None, None],
            "archived_at": [gone, pd.NaT, pd.NaT, gone],
        }
    )
    lines = pd.DataFrame({"order_id": ["O1", "O1", "O2"], "product_id": ["P1", "P2", "P2"]})
    tables = {"order_lines": lines}
    kept = _with_retired(_live(stored), stored, tables).set_index("product_id")
    assert sorted(kept.index) == ["P1", "P2", "P3"]  # P4: archived, and never sold
    assert kept.loc["P1", "name"] == "Moka Pot" and kept.loc["P1", "on_sale"] is False
    assert kept.loc["P2", "on_sale"] is True and pd.isna(kept.loc["P3", "on_sale"])
    every = stored.assign(archived_at=gone)
    assert _with_retired(_live(every), every, tables).empty
