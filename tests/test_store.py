import os
import re
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from smbml_connect.errors import StoreError
from smbml_connect.schema import validate
from smbml_connect.store import INTERRUPTED, SCHEMA_VERSION, Store


def contacts(ids, email_domain="x.com"):
    frame = pd.DataFrame(
        {
            "contact_id": [str(i) for i in ids],
            "email": [f"p{i}@{email_domain}" for i in ids],
            "created_at": ["2025-01-02"] * len(ids),
            "marketing_consent": ["yes"] * len(ids),
            "page_views": ["3"] * len(ids),
        }
    )
    return validate("contacts", frame, source="test").clean


def test_upsert_inserts_then_updates_by_key(store):
    store.upsert("contacts", contacts([1, 2, 3]))
    store.upsert("contacts", contacts([3, 4], email_domain="new.org"))
    stored = store.read("contacts").set_index("contact_id")
    assert list(stored.index) == ["1", "2", "3", "4"]
    assert stored.loc["3", "email"] == "p3@new.org"
    assert stored.loc["1", "page_views"] == 3
    assert stored.loc["1", "created_at"] == pd.Timestamp("2025-01-02", tz="UTC")
    assert bool(stored.loc["2", "marketing_consent"]) is True


def test_read_round_trips_types(store, business):
    store.upsert("orders", business.tables["orders"])
    back = store.read("orders").set_index("order_id")
    original = business.tables["orders"].set_index("order_id")
    # Values, not index dtypes: pandas 2 reads ids back as `string`, pandas 3 as `str`.
    totals = original["total"].astype(float).loc[back.index]
    assert back["total"].dtype.kind == "f"
    assert np.array_equal(back["total"].to_numpy(float), totals.to_numpy(), equal_nan=True)
    assert (
        back["ordered_at"].to_numpy() == original["ordered_at"].loc[back.index].to_numpy()
    ).all()


def test_cursor_advances_with_the_rows_it_covers(store):
    store.upsert("contacts", contacts([1]), cursor=("hubspot", "2025-01-01T00:00:00Z"))
    assert store.get_cursor("hubspot", "contacts") == "2025-01-01T00:00:00Z"
    assert store.get_cursor("hubspot", "deals") is None
    batch = pd.concat([contacts([5]), contacts([2]).assign(extra="{}")], ignore_index=True)
    batch.loc[1, "contact_id"] = None  # violates NOT NULL on the key: the whole batch rolls back
    with pytest.raises(sqlite3.IntegrityError):
        store.upsert("contacts", batch, cursor=("hubspot", "LATER"))
    assert store.get_cursor("hubspot", "contacts") == "2025-01-01T00:00:00Z"
    assert store.count("contacts") == 1


def test_runs_rejects_and_interrupted_runs(store):
    run_id = store.start_run("run", "files:x.xlsx")
    rejects = validate("orders", pd.DataFrame({"order_id": ["1"], "ordered_at": ["soon"]})).rejects
    store.add_rejects(run_id, rejects)
    store.finish_run(run_id, "partial", {"loaded": {"orders": 0}}, "1 row rejected")
    runs = store.runs()
    assert runs.loc[0, "status"] == "partial" and runs.loc[0, "error"] == "1 row rejected"
    saved = store.rejects(run_id)
    assert saved.loc[0, "reason"].startswith("ordered_at is not a date")
    with store.transaction() as conn:  # a run whose process died
        conn.execute(
            "INSERT INTO runs (kind, started_at, status, pid) VALUES ('run', 'x', 'running', 999999999)"
        )
    with Store.reading(store.path) as reader:  # status: said so without writing it
        shown = reader.runs()
    assert shown.loc[0, "status"] == "interrupted" and shown.loc[0, "error"] == INTERRUPTED
    assert "interrupted" in set(store.runs()["status"])


def test_models_are_text_with_versions(store):
    assert store.save_model("lead", "tree text", {"auc": 0.8}, "lightgbm") == 1
    assert store.save_model("lead", "tree text 2", {"auc": 0.9}, "lightgbm") == 2
    assert store.load_model("lead").payload == "tree text 2"
    assert store.load_model("lead", 1).card == {"auc": 0.8}
    assert store.load_model("nothing") is None
    with pytest.raises(TypeError):
        store.save_model("lead", b"\x80\x04pickle", {}, "pickle")


def test_outputs_keep_history_and_latest_per_model(store):
    def scores(value):
        return pd.DataFrame(
            {"entity": ["contact"], "entity_id": ["1"], "model": ["rfm"], "value": [value],
             "label": ["Champions"], "reasons": [["a", "b"]], "model_version": ["1"],
             "scored_at": [pd.Timestamp("2025-01-01", tz="UTC")]}
        )  # fmt: skip

    store.write_outputs("scores", 1, scores(1.0))
    store.write_outputs("scores", 2, scores(2.0))
    assert len(store.output_history("scores")) == 2
    latest = store.latest_outputs("scores")
    assert latest["value"].tolist() == [2.0] and latest["reasons"].iloc[0] == ["a", "b"]


def test_only_recent_runs_are_kept_whole(store):
    """A 20,000-customer shop's store grew 15 MB a run with every run's scores kept: the
    runs before the last few keep only what is still the latest of its group."""

    def scores(model, value):
        return pd.DataFrame(
            {"entity": "contact", "entity_id": ["1", "2"], "model": model, "value": value,
             "label": "x", "reasons": [["a"], ["b"]], "model_version": "1",
             "scored_at": pd.Timestamp("2025-01-01", tz="UTC")}
        )  # fmt: skip

    rejected = pd.DataFrame(
        [{"table": "orders", "source": "f", "source_row": 2, "column": "total", "value": "x",
          "reason": "not a number", "action": "value cleared", "row": "{}"}]
    )  # fmt: skip
    for n in range(12):
        run = store.start_run("run", "files")
        store.write_outputs("scores", run, scores("churn_risk", float(n)))
        if n < 3:  # a step skipped since: its last values are still the latest
            store.write_outputs("scores", run, scores("rfm", float(n)))
        store.add_rejects(run, rejected)
        store.save_model("lead", f"text {n}", {}, "json")
        store.finish_run(run, "ok", {})
    latest = store.latest_outputs("scores").sort_values(["model", "entity_id"])
    assert store.keep_recent_runs(keep=5) > 0
    assert store.latest_outputs("scores").sort_values(["model", "entity_id"]).equals(latest)
    history = store.output_history("scores")
    runs = sorted(store.runs(limit=20)["run_id"])
    assert set(history.loc[history["model"] == "churn_risk", "run_id"]) == set(runs[-5:])
    assert set(history.loc[history["model"] == "rfm", "run_id"]) == {runs[2]}
    assert len(store.rejects()) == 5 and all(len(store.rejects(r)) == 1 for r in runs[-5:])
    assert store.load_model("lead").payload == "text 11"
    assert store.load_model("lead", 8) is not None and store.load_model("lead", 7) is None
    assert store.keep_recent_runs(keep=5) == 0  # nothing more to trim


def test_push_sends_only_what_changed(store):
    values = pd.DataFrame(
        {"entity_id": ["1", "2"], "field": ["score", "score"], "value": [10.0, 20.0]}
    )
    assert len(store.changed_since_push("hubspot", "contact", values)) == 2
    store.mark_pushed("hubspot", "contact", values)
    values.loc[1, "value"] = 21.0
    changed = store.changed_since_push("hubspot", "contact", values)
    assert changed["entity_id"].tolist() == ["2"]
    assert len(store.changed_since_push("sheets", "contact", values)) == 2


def test_newer_store_is_refused(tmp_path):
    path = tmp_path / "s.sqlite"
    Store(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(StoreError, match="newer smbml_connect"):
        Store(path)


def test_new_schema_columns_are_added_to_an_old_store(tmp_path):
    path = tmp_path / "s.sqlite"
    Store(path).close()
    conn = sqlite3.connect(path)
    conn.execute('ALTER TABLE products DROP COLUMN "category"')  # as an older release had it
    conn.close()
    with Store(path) as store:
        store.upsert("products", validate("products", pd.DataFrame(
            {"product_id": ["P1"], "category": ["Tea"]})).clean)  # fmt: skip
        assert store.read("products")["category"].tolist() == ["Tea"]


def test_store_is_wal(store):
    assert store._conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


CHILD = textwrap.dedent(
    """
    import sys, time
    import pandas as pd
    from smbml_connect.store import Store
    store = Store(sys.argv[1])
    n = int(sys.argv[2])
    rows = pd.DataFrame({"contact_id": [f"c{i}" for i in range(n)],
                         "email": [f"p{i}@x.com" for i in range(n)]})
    store.upsert("contacts", rows.iloc[:1000], cursor=("src", "first-batch"))
    steps = [0]
    def report():  # runs inside SQLite's VM while the big upsert is in progress
        steps[0] += 1
        if steps[0] == 200:
            print("midway", flush=True)
            time.sleep(60)
        return 0
    store._conn.set_progress_handler(report, 1000)
    store.upsert("contacts", rows, cursor=("src", "second-batch"))
    print("finished", flush=True)
    """
)


def test_killed_mid_upsert_leaves_the_store_as_it_was(tmp_path):
    path = tmp_path / "crash.sqlite"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path), "200000"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parents[1],
    )
    try:
        assert child.stdout.readline().strip() == "midway"
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(timeout=60)
    with Store(path) as store:
        assert store._conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert store.count("contacts") == 1000  # the first batch, none of the second
        assert store.get_cursor("src", "contacts") == "first-batch"
        store.upsert("contacts", contacts([1]))  # and it is writable again


def test_a_store_from_before_deal_pipelines_gains_their_table(tmp_path):
    """Migration 4: a store at schema 3 (as the last release left it) gets
    deal_pipeline_stages, keeps its rows, and takes the portal's stage labels."""
    path = tmp_path / "s.sqlite"
    with Store(path) as store:
        deals = validate("deals", pd.DataFrame({"deal_id": ["9"], "stage": ["1234567"]}))
        store.upsert("deals", deals.clean)
    conn = sqlite3.connect(path)
    conn.execute("DROP TABLE deal_pipeline_stages")
    conn.execute("PRAGMA user_version = 3")
    conn.commit()
    conn.close()
    with Store(path) as store:
        assert store.schema_version == SCHEMA_VERSION >= 4
        assert store.read("deals")["stage"].tolist() == ["1234567"]
        labels = pd.DataFrame({"stage": ["1234567"], "stage_label": ["Proposal reviewed"]})
        store.upsert("deal_pipeline_stages", validate("deal_pipeline_stages", labels).clean)
        assert store.read("deal_pipeline_stages")["stage_label"].tolist() == ["Proposal reviewed"]


def test_rows_naming_a_merged_record_name_the_one_it_became(tmp_path: Path) -> None:
    """Deals, orders, activities and associations; where the new name's row is there
    already (the same activity on both contacts), the old row goes, not the key's rule."""
    day = pd.Timestamp("2026-01-05", tz="UTC")
    with Store(tmp_path / "s.sqlite") as store:
        hub = {"source": "hubspot"}
        store.upsert("deals", pd.DataFrame({"deal_id": ["d1", "d2"], "contact_id": ["c1", "c3"],
                                            **hub}))  # fmt: skip
        store.upsert("orders", pd.DataFrame({"order_id": ["o1"], "contact_id": ["c1"],
                                             "ordered_at": [day], **hub}))  # fmt: skip
        store.upsert("activities", pd.DataFrame({"contact_id": ["c1", "c2", "c1"],
                     "occurred_at": [day, day, day + pd.Timedelta(days=1)],
                     "kind": ["email_open"] * 3, **hub}))  # fmt: skip
        store.upsert("associations", pd.DataFrame({
            "from_type": ["deal", "deal", "contact"], "from_id": ["d1", "d1", "c1"],
            "to_type": ["contact", "contact", "company"], "to_id": ["c1", "c2", "k9"], **hub}))  # fmt: skip
        store.upsert("deals", pd.DataFrame({"deal_id": ["f7"], "contact_id": ["c1"],
                                            "source": ["files:crm.xlsx"]}))  # fmt: skip
        store.mark_pushed("hubspot:default", "contacts", pd.DataFrame(
            {"entity_id": ["c2", "c3"], "field": ["smbml_segment"] * 2, "value": ["A", "B"]}))  # fmt: skip
        store.commit_page(
            None, {}, pd.DataFrame(), merged={"contacts": [("c1", "c2")]}, source="hubspot"
        )
        deals = store.read("deals").set_index("deal_id")["contact_id"]
        assert deals.to_dict() == {"d1": "c2", "d2": "c3", "f7": "c1"}  # f7: another source's c1
        pushed = "SELECT entity_id, field, value FROM pushed_values ORDER BY 1, 2"
        # c1 was never written to: c2 holds what it was sent, nothing needs writing again
        assert store._conn.execute(pushed).fetchall() == [
            ("c2", "smbml_segment", "A"), ("c3", "smbml_segment", "B")]  # fmt: skip
        store.mark_pushed("hubspot:default", "contacts", pd.DataFrame(
            {"entity_id": ["c4"], "field": ["smbml_lead_score"], "value": ["3"]}))  # fmt: skip
        store.commit_page(
            None, {}, pd.DataFrame(), merged={"contacts": [("c4", "c2")]}, source="hubspot"
        )  # a lead written to merged in: either record's value may be on c2 now, unknown
        assert store._conn.execute(pushed).fetchall() == [
            ("c2", "smbml_lead_score", None), ("c2", "smbml_segment", None),
            ("c3", "smbml_segment", "B")]  # fmt: skip
        assert store.read("orders")["contact_id"].tolist() == ["c2"]
        acts = store.read("activities")
        assert acts["contact_id"].tolist() == ["c2", "c2"] and acts["occurred_at"].nunique() == 2
        links = store.read("associations")
        assert sorted(map(tuple, links[["from_id", "to_id"]].to_numpy())) == [
            ("c2", "k9"),
            ("d1", "c2"),
        ]


@pytest.mark.parametrize(
    "folder", ["$HOME shop", 'a"b c', "x`id`y", "Bob's shop", "plain", "50% off; & more"]
)
def test_the_demos_serve_command_names_its_store_in_a_posix_shell(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, folder: str
):
    """review55 item 4: the printed `smbml serve --store "..."` put a folder named with "$",
    a backtick or '"' in double quotes, where the shell expanded, ran or ended them. The
    command is run here by the shells a user pastes it into, with printf for smbml."""
    from smbml_connect.store import serve_command

    monkeypatch.setenv("SMBML_STORE", str(tmp_path / "elsewhere.sqlite"))
    store = tmp_path / folder / "demo-store.sqlite"
    store.parent.mkdir()
    store.touch()
    said = serve_command(store, windows=False)
    shown = re.fullmatch(r"`(smbml serve --store .*)`( \(quoted for [^)]*\))?", said)
    assert shown is not None, said
    command = shown[1]
    assert ("POSIX shells" in said) == (command != f"smbml serve --store {store}")
    for shell in ("sh", "bash"):
        echo = command.replace("smbml serve --store ", "printf '%s' ", 1)
        read = subprocess.run([shell, "-c", echo], capture_output=True, text=True, check=True)
        assert read.stdout == str(store.resolve())


@pytest.mark.parametrize(
    ("path", "said"),
    [
        (r"C:\Users\ann\demo\d.sqlite", r"`smbml serve --store C:\Users\ann\demo\d.sqlite`"),
        (r"C:\My Shop\d.sqlite", r'`smbml serve --store "C:\My Shop\d.sqlite"`'),
        (r"C:\a,b\d.sqlite", r'`smbml serve --store "C:\a,b\d.sqlite"`'),
        (
            r"C:\$ales\Bob's\d.sqlite",
            r"`smbml serve --store 'C:\$ales\Bob''s\d.sqlite'` in PowerShell"
            r' (in Command Prompt: `smbml serve --store "C:\$ales\Bob' + "'" + r's\d.sqlite"`)',
        ),
        (r"C:\50%OFF%\d.sqlite", r"`smbml serve --store 'C:\50%OFF%\d.sqlite'` in PowerShell"),
        (
            "C:\\Bob\u2019s `x`\\d.sqlite",
            "`smbml serve --store 'C:\\Bob\u2019\u2019s `x`\\d.sqlite'` in PowerShell (in Command Prompt: `smbml serve --store \"C:\\Bob\u2019s `x`\\d.sqlite\"`)",
        ),
    ],
)
def test_on_windows_the_serve_command_is_quoted_for_the_shell_it_names(path: str, said: str):
    """Command Prompt expands %NAME% in double quotes, PowerShell "$name" and "`" there, and
    PowerShell splits a bare path at ",": each path comes out in a form its shell keeps."""
    from smbml_connect.store import _quoted_for_shells

    assert _quoted_for_shells(path, windows=True) == said
