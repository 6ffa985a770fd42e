"""A run ended where it stood (SIGKILL, a power cut) or asked to end (SIGTERM: a shutdown,
`systemctl stop`, `kill`) still tells what it did: the rows it left out are said by the next
run, and `smbml status` shows what it loaded (find56_weeks item 1)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from smbml_connect.analytics.customers import clusters
from smbml_connect.analytics.customers.clusters import CustomerClusters
from smbml_connect.cli import cli
from smbml_connect.connectors.files.source import FilesSource
from smbml_connect.gone_from_source import GONE_CHECK
from smbml_connect.pipeline import RunOptions, run_pipeline
from smbml_connect.steps import steps_by_name
from smbml_connect.store import Store

ROOT = Path(__file__).resolve().parents[1]
AS_OF = "2025-10-31"
CONTACTS = "contact_id,email,created_at\nC1,a@x.com,2025-01-03\nC2,b@x.com,2025-02-03\n"
ORDERS = (
    "order_id,contact_id,order_date,total\n"
    "O1,C1,2025-03-01,100\nO2,C2,2025-04-01,50\nO3,C2,2025-05-01,70\nO4,C1,2025-06-01,999\n"
)

# A run in its own process that ends itself with `sig` once the analytics start, after its
# load has left O4 out: the analytics are where a real run spends its time.
ENDED = textwrap.dedent(
    """
    import os, signal, sys
    import pandas as pd
    from smbml_connect import pipeline
    from smbml_connect.connectors.files.source import FilesSource
    from smbml_connect.pipeline import RunOptions, run_pipeline
    from smbml_connect.steps import steps_by_name
    from smbml_connect.store import Store

    folder, store_path, sig = sys.argv[1], sys.argv[2], int(sys.argv[3])
    pipeline._run_step = lambda *a, **k: os.kill(os.getpid(), sig)
    with Store(store_path) as store:
        run_pipeline(
            FilesSource(folder),
            store,
            RunOptions(steps=steps_by_name(["rfm_segments"]), as_of=pd.Timestamp("{as_of}")),
        )
    """
).replace("{as_of}", AS_OF)


def _folder(tmp_path: Path, orders: str) -> Path:
    folder = tmp_path / "data"
    folder.mkdir(exist_ok=True)
    (folder / "contacts.csv").write_text(CONTACTS, encoding="utf-8")
    (folder / "orders.csv").write_text(orders, encoding="utf-8")
    return folder


def _run(folder: Path, store_path: Path):  # type: ignore[no-untyped-def]
    with Store(store_path) as store:
        options = RunOptions(steps=steps_by_name(["rfm_segments"]), as_of=pd.Timestamp(AS_OF))
        return run_pipeline(FilesSource(folder), store, options)


def _end_a_run(tmp_path: Path, sig: int) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "ended.py"
    script.write_text(ENDED, encoding="utf-8")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, str(script), str(tmp_path / "data"), str(tmp_path / "s.sqlite"),
         str(sig)],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_an_order_left_out_by_a_killed_run_is_said_by_the_next_run_and_status(
    tmp_path: Path,
) -> None:
    store_path = tmp_path / "s.sqlite"
    folder = _folder(tmp_path, ORDERS)
    _run(folder, store_path)
    _folder(tmp_path, ORDERS.replace("O4,C1,2025-06-01,999\n", ""))
    ended = _end_a_run(tmp_path, signal.SIGKILL)
    assert ended.returncode == -signal.SIGKILL, ended.stderr
    with Store.reading(store_path) as store:
        killed = store.runs(limit=1).iloc[0]
    assert killed["status"] == "interrupted"
    counts = json.loads(killed["counts"])  # what it loaded and left out, kept as it went
    assert counts["loaded"]["orders"] == 3
    assert any(n["check"] == GONE_CHECK and "(O4)" in n["message"] for n in counts["notices"])
    status = CliRunner().invoke(cli, ["status", "--store", str(store_path)])
    assert "nothing loaded" not in status.output
    assert "1 order no longer in orders.csv (O4)" in status.output

    after = _run(folder, store_path)  # finds O4 already left out: nothing of its own to say
    (said,) = [n.message for n in after.notices if n.check == GONE_CHECK]
    assert said.startswith(
        f"Said by run {killed['run_id']}, which was stopped before it finished: "
        "1 order no longer in orders.csv (O4): left out of the results"
    )
    again = _run(folder, store_path)  # said once: the run after a finished one is quiet
    assert not [n for n in again.notices if n.check == GONE_CHECK]


def test_sigterm_records_the_run_as_stopped_with_what_it_did(tmp_path: Path) -> None:
    store_path = tmp_path / "s.sqlite"
    folder = _folder(tmp_path, ORDERS)
    config = tmp_path / "smbml.toml"
    config.write_text(
        f'store = "{store_path.as_posix()}"\n[source]\nkind = "files"\n'
        f'path = "{folder.as_posix()}"\n[analytics]\nas_of = {AS_OF}\n'
        'enabled = ["rfm_segments"]\n',
        encoding="utf-8",
    )
    script = tmp_path / "term.py"
    script.write_text(
        "import os, signal, sys\nfrom smbml_connect import pipeline\nfrom smbml_connect.cli "
        "import main\npipeline._run_step = lambda *a, **k: os.kill(os.getpid(), "
        "signal.SIGTERM)\nsys.argv[1:] = ['run', '-c', sys.argv[1]]\nmain()\n",
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, str(script), str(config)],
        env=dict(os.environ, PYTHONPATH=str(ROOT)), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 143, done.stderr
    assert (
        "Stopped: the system asked smbml to end (SIGTERM): `smbml status` shows the run as "
        "stopped." in done.stderr
    )
    assert "Traceback" not in done.stderr
    with Store.reading(store_path) as store:
        run = store.runs(limit=1).iloc[0]
    assert run["status"] == "failed"
    assert "SIGTERM" in run["error"]
    assert json.loads(run["counts"])["loaded"]["orders"] == 4


def test_clusters_say_when_last_runs_number_of_groups_was_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rng = pd.Series(range(300)).sample(frac=1.0, random_state=3).to_numpy()
    orders = (rng % 3) + 1.0 + (rng % 11) // 5
    features = pd.DataFrame(
        {
            "recency_days": (rng % 7) * 40.0 + rng % 5,
            "orders": orders,
            "spend": (rng % 5) * 50.0 + rng % 13 + 5,
            "tenure_days": (rng % 7) * 40.0 + rng % 5 + orders * 30,
        },
        index=[f"C{i}" for i in range(300)],
    )
    features["avg_basket"] = features["spend"] / features["orders"]
    fresh = CustomerClusters().fit(features)
    assert fresh.card_["why"].startswith(f"{fresh.k_} groups: the clearest separation")
    other = min(k for k in fresh.silhouette_ if k != fresh.k_)
    monkeypatch.setattr(clusters, "KEEP_K_WITHIN", 1.0)  # last run's number always kept
    kept = CustomerClusters().fit(features, previous={"k": other, "columns": []})
    assert kept.k_ == other
    why = kept.card_["why"]
    assert why.startswith(f"{other} groups, as in the last run: {fresh.k_} would separate")
    assert "the clearest" not in why
    best, mine = fresh.silhouette_[fresh.k_], fresh.silhouette_[other]
    assert f"(silhouette {best:.2f} against {mine:.2f}" in why


SCHEDULED = textwrap.dedent(
    """
    import os, signal, sys, time
    from smbml_connect import pipeline, schedule
    from smbml_connect.cli import main

    def ended(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # the handler raises here

    if sys.argv[2] == "during":  # in the run's analytics
        pipeline._run_step = ended
    schedule.time.sleep = ended  # else after the first run, waiting for the next
    sys.argv[1:] = ["schedule", "-c", sys.argv[1], "--every", "1h"]
    main()
    """
)


def test_sigterm_stops_a_schedule_and_says_whether_a_run_was_going(tmp_path: Path) -> None:
    """rv56 item 3: a schedule ended by SIGTERM between runs said "`smbml status` shows the
    run as stopped", where no run was going and status shows the last run as ok."""
    folder = _folder(tmp_path, ORDERS)
    config = tmp_path / "smbml.toml"
    config.write_text(
        f'store = "{(tmp_path / "s.sqlite").as_posix()}"\n[source]\nkind = "files"\n'
        f'path = "{folder.as_posix()}"\n[analytics]\nas_of = {AS_OF}\n'
        'enabled = ["rfm_segments"]\n',
        encoding="utf-8",
    )
    script = tmp_path / "scheduled.py"
    script.write_text(SCHEDULED, encoding="utf-8")
    said = {}
    for when in ("during", "between"):
        done = subprocess.run(
            [sys.executable, str(script), str(config), when],
            env=dict(os.environ, PYTHONPATH=str(ROOT)), capture_output=True, text=True,
            timeout=180,
        )  # fmt: skip
        assert done.returncode == 143, done.stderr
        assert "Traceback" not in done.stderr
        said[when] = done.stderr
    assert "the run that was going is recorded as stopped" in said["during"]
    assert "between runs" in said["between"] and "recorded as stopped" not in said["between"]
    with Store.reading(tmp_path / "s.sqlite") as store:
        runs = store.runs(limit=5)
    # the first schedule was stopped in its run; the second ran once, then was stopped
    assert runs["status"].tolist() == ["ok", "failed"]


def test_a_stop_while_starting_up_does_not_say_status_shows_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """find57 item 6: stopped while the config was read, the run said "`smbml status` shows
    the run as stopped" and status had no store yet."""
    from smbml_connect import cli as cli_module

    def stopped(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli_module, "_read_config", stopped)
    done = CliRunner().invoke(cli, ["run", "-c", str(tmp_path / "smbml.toml")])
    assert done.exit_code == 130
    assert "Stopped by Ctrl+C: stopped before the run began; nothing was read." in done.output
    assert "shows the run as stopped" not in done.output
