"""The rejects as every surface shows them: the rows to act on before skipped rows, each
named by its file, and the customer-value words naming a cleared value as Rejects does
(find54_report items 2 and 3)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from smbml_connect.cli import cli
from smbml_connect.ports import RunResult
from smbml_connect.registry import load_config
from smbml_connect.runner import build_run
from smbml_connect.value_words import reject_files, rejects_to_act_on_first


def _tea_shop(folder: Path) -> Path:
    """A hand-kept tea shop: 40 customers, 230 orders over two years in one file a year.
    The 2024 file has a date no calendar has, the 2025 one a total 'lots', a block of 30
    empty rows the till left in its middle and an order dated after the run."""
    rng = np.random.default_rng(3)
    folder.mkdir(parents=True, exist_ok=True)
    names = "Ann Bob Cy Di Ed Fay Gus Hal Ivy Jo Kim Lea Max Nia Oto Pia Quin Rae Sam Tia".split()
    pd.DataFrame({
        "Customer": [f"C{i:03d}" for i in range(40)],
        "Email": [f"{names[i % 20].lower()}{i}@tea.test" for i in range(40)],
        "Name": [names[i % 20] for i in range(40)],
    }).to_csv(folder / "Customers.csv", index=False)  # fmt: skip
    days = np.sort(pd.Timestamp("2024-01-03") + pd.to_timedelta(rng.integers(0, 660, 230), "D"))
    rows = [
        {"Order #": f"T{i + 1:04d}", "Customer": f"C{int(rng.integers(0, 40)):03d}",
         "Date": f"{day:%Y-%m-%d}", "Total": f"{rng.integers(8, 90)}.50"}
        for i, day in enumerate(pd.DatetimeIndex(days))
    ]  # fmt: skip
    rows[40]["Date"] = "31/02/2024"
    rows[190]["Total"] = "lots"
    rows.append({"Order #": "T9999", "Customer": "C001", "Date": "2025-11-20", "Total": "30.00"})
    pd.DataFrame([r for r in rows if not r["Date"].startswith("2025")]).to_csv(
        folder / "Orders 2024.csv", index=False
    )
    lines = pd.DataFrame([r for r in rows if r["Date"].startswith("2025")]).to_csv(index=False)
    text = lines.splitlines()
    text[20:20] = [",,,"] * 30
    (folder / "Orders 2025.csv").write_text("\n".join(text) + "\n")
    config = folder / "smbml.toml"
    config.write_text(
        'store = "shop.sqlite"\n[source]\nkind = "files"\npath = "."\n\n'
        "[analytics]\nas_of = 2025-10-31\n\n"
        '[[destinations]]\nkind = "report"\npath = "report.html"\n'
    )
    return config


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, RunResult]:
    config = _tea_shop(tmp_path_factory.mktemp("tea"))
    result, _ = build_run(load_config(config), None, lambda message: None)
    return config, result


def _listed(result: RunResult, action: str) -> pd.Series:
    (row,) = [r for _, r in result.rejects.iterrows() if r["action"] == action]
    return row


def test_customer_value_names_a_cleared_total_as_rejects_does(shop):
    """The report said "e.g. row 168, total = <NA>" for the order Rejects lists as row 204,
    value 'lots': the model's row is its place in the frame it got, its value the cleared
    one."""
    _, result = shop
    cleared = _listed(result, "value cleared")
    assert cleared["value"] == "lots" and json.loads(cleared["row"])["order_id"] == "T0191"
    (section,) = [s for step in result.steps.values() for s in step.sections
                  if s.title == "Churn risk and customer value"]  # fmt: skip
    # counted, as a purchase of unknown value: "could not be counted" was untrue of it
    (said,) = [p for p in section.paragraphs if "no total that can be read" in p]
    row = int(cleared["source_row"])
    assert f"e.g. row {row} of Orders 2025.csv, total 'lots': total is not a number" in said
    assert not re.search(r"<NA>|\bnan\b|\bNone\b", said)
    card = result.steps["churn_value"].models["customer_value"].card  # its own lines too
    assert (
        [line for line in card["orders_left_out"] if "total" in line]
        == [
            line
            for line in card["orders_left_out"]
            if line.endswith("total empty: missing or not a number")
        ]
        != []
    )


def test_rejects_to_act_on_come_first_each_named_by_its_file(shop):
    """383 skipped copy rows filled the report's 50 and `status`'s 20, and the late order
    the data checks said was "listed in Rejects" was in neither; each row's source was the
    folder's id ("files:eu#67669f"), not the file its row number is of."""
    config, result = shop
    html = (config.parent / "report.html").read_text(encoding="utf-8")
    quality = html[html.index("<h2>Data quality</h2>") :]
    cells = re.findall(r"<tr>(.*?)</tr>", quality.split("</table>")[0], flags=re.S)[1:]
    rows = [[re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<td[^>]*>(.*?)</td>", r)]
            for r in cells]  # fmt: skip
    actions = [r[-1] for r in rows]
    assert actions[:3] == ["row rejected", "value cleared", "row not used"]
    assert set(actions[3:]) == {"row skipped"}
    assert rows[0][1] == "Orders 2024.csv" and rows[1][1] == "Orders 2025.csv"
    assert rows[0][2] == str(int(_listed(result, "row rejected")["source_row"]))
    assert "first 33 of 33" not in quality and "all 33 are shown here" in quality
    files = reject_files(result.rejects, result.files)
    assert not files[result.rejects["source_row"].notna().to_numpy()].str.startswith("files:").any()


def test_status_lists_the_rows_to_act_on_first_and_can_list_all(shop):
    config, result = shop
    runner = CliRunner()
    shown = runner.invoke(cli, ["status", "-c", str(config)])
    assert shown.exit_code == 0, shown.output
    listed = shown.output[shown.output.index("Rejects of run") :]
    assert "(first 20 of 33, the rows to act on first)" in listed
    assert "order T9999: dated after the end of 31 October 2025" in listed
    assert "Orders 2024.csv" in listed and "31/02/2024" in listed and "lots" in listed
    (rejected,) = [line for line in listed.splitlines() if "31/02/2024" in line]
    assert rejected.split()[:3] == ["orders", "Orders", "2024.csv"]
    assert "... and 13 more (13 of them skipped rows): `smbml status --all-rejects`" in listed
    every = runner.invoke(cli, ["status", "-c", str(config), "--all-rejects"])
    assert every.exit_code == 0, every.output
    tail = every.output[every.output.index("Rejects of run") :]
    assert "(all)" in tail and "more" not in tail
    assert tail.count("blank row") == int((result.rejects["action"] == "row skipped").sum())


def test_the_order_keeps_each_kind_as_found():
    rejects = pd.DataFrame({
        "table": "orders", "source": "files:x#1", "source_row": [2, 3, 9, 4, None],
        "action": ["row skipped", "column note", "row rejected", "row skipped", "row not used"],
        "row": [None, None, '{"order_id": "A", "File": "b.csv"}', None, '{"order_id": "B"}'],
    })  # fmt: skip
    ordered = rejects_to_act_on_first(rejects)
    assert ordered["action"].tolist() == ["column note", "row rejected", "row not used",
                                          "row skipped", "row skipped"]  # fmt: skip
    assert ordered["source_row"].tolist()[3:] == [2, 4]
    assert reject_files(ordered, {"orders": "a.csv"}).tolist() == [
        "a.csv", "b.csv", "a.csv", "a.csv", "a.csv"]  # fmt: skip
    assert reject_files(ordered).tolist()[1:3] == ["b.csv", "files:x#1"]


def test_the_late_order_names_its_file_and_row(shop):
    """The order dated after the run, which the data checks say is "listed in Rejects",
    named the folder's id and no row ("files:eu#6a351a", row empty; review54 item 6): the
    data checks build it from the store, which kept neither. Rejects and `status` name
    the file it was read from and its line there."""
    config, result = shop
    late = _listed(result, "row not used")
    lines = (config.parent / "Orders 2025.csv").read_text().splitlines()
    row = next(i for i, line in enumerate(lines, start=1) if line.startswith("T9999,"))
    assert int(late["source_row"]) == row
    assert reject_files(pd.DataFrame([late]), result.files).tolist() == ["Orders 2025.csv"]
    shown = CliRunner().invoke(cli, ["status", "-c", str(config)])
    (said,) = [line for line in shown.output.splitlines() if "order T9999: dated" in line]
    assert said.split()[1:4] == ["Orders", "2025.csv", str(row)], said
