"""The local store: one SQLite file (WAL) holding everything a run needs to remember.

Canonical tables are upserted by key. Every write that advances a sync cursor does so
in the same transaction as the rows it covers, so a run killed half way leaves the
store exactly as it was before that batch. Outputs are kept per run as history, and
the last value pushed to each destination lets a push send only what changed.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shlex
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import platformdirs

from smbml_connect.errors import StoreError
from smbml_connect.http.clock import SYSTEM_CLOCK, Clock
from smbml_connect.redaction import redact
from smbml_connect.schema import (
    ASSOCIATION_TYPES,
    REFERENCES,
    REJECT_COLUMNS,
    REPLACED_BY,
    ROWS_KEPT,
    SHARED_OUTPUTS,
    STORED_ROW,
    TABLES,
    KeptOnly,
    OutputColumn,
    OutputTable,
    TableSpec,
    empty_frame,
    key_values,
    system_columns,
)
from smbml_connect.secret_columns import redacted_rejects

__all__ = ["KEEP_RUNS", "SCHEMA_VERSION", "SavedModel", "Store", "default_store_path"]

_SQL_TYPES = {
    "str": "TEXT", "email": "TEXT", "int": "INTEGER", "count": "INTEGER",
    "float": "REAL", "datetime": "TEXT", "bool": "INTEGER", "consent": "TEXT",
}  # fmt: skip
_OUTPUT_SQL_TYPES = {"str": "TEXT", "float": "REAL", "int": "INTEGER", "datetime": "TEXT",
                     "json": "TEXT"}  # fmt: skip
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
# Runs whose outputs, rejects and models are kept whole; older runs keep only what is still
# the latest of its group (a step skipped since still shows its last values). Every run
# added its rows: a 20,000-customer shop's store grew 15 MB a run, 11 GB a month hourly.
KEEP_RUNS = 10
INTERRUPTED = "the process ended before the run finished"  # a 'running' run's process gone
ZONE_CURSOR = "time_zone"  # beside a source's cursors: the zone its times were read in


def default_store_path() -> Path:
    return Path(platformdirs.user_data_dir("smbml_connect", appauthor=False)) / "store.sqlite"


STORE_VARIABLE = "SMBML_STORE"  # names the worksheet functions' store
# A Windows path Command Prompt and PowerShell both take bare (PowerShell splits at ",",
# and "@" starts a splat), and the characters double quotes leave special in one of them:
# "%NAME%" in Command Prompt, "$name" and "`" in PowerShell.
_WINDOWS_SAFE = re.compile(r"[\w.:\\/-]+")
_EXPANDED_IN_QUOTES = re.compile(r"[$`%]")
_POWERSHELL_QUOTES = re.compile(r"['\u2018\u2019\u201a\u201b]")  # all close a '...' there


def worksheet_store_path() -> Path:
    """The store whose scores the worksheet functions read when no --store names one:
    SMBML_STORE (the xlwings add-in, started by Excel, has no command line to take a
    --store), else the default store that `smbml run` writes without a config's `store =`."""
    named = os.environ.get(STORE_VARIABLE, "").strip()
    return Path(named).expanduser() if named else default_store_path()


def serve_command(store: Path, windows: bool = os.name == "nt") -> str:
    """How to run the `smbml serve` that reads `store`, as the words after "run": its
    --store only where serve would not find it by itself, and the path quoted the way the
    user's shell reads it, naming the shell when the quoting is one shell's."""
    if store.resolve() == worksheet_store_path().resolve():
        return "`smbml serve`"
    return _quoted_for_shells(str(store.resolve()), windows)


def _quoted_for_shells(path: str, windows: bool) -> str:
    """`smbml serve --store PATH` with PATH as a shell reads it back whole. POSIX shells:
    ``shlex.quote`` (single quotes: "$HOME", a backtick or a '"' in a folder's name stay
    as written, where double quotes ran them). Windows: bare or in double quotes when both
    Command Prompt and PowerShell read it so, else PowerShell's single quotes (which keep
    "$" and "`") and, unless a "%" could expand there, Command Prompt's double quotes."""
    command = "smbml serve --store "
    if not windows:
        quoted = shlex.quote(path)
        said = "" if quoted == path else " (quoted for bash, zsh and other POSIX shells)"
        return f"`{command}{quoted}`{said}"
    if _WINDOWS_SAFE.fullmatch(path):
        return f"`{command}{path}`"
    if not _EXPANDED_IN_QUOTES.search(path):
        return f'`{command}"{path}"`'
    literal = _POWERSHELL_QUOTES.sub(lambda quote: quote[0] * 2, path)
    powershell = f"`{command}'{literal}'` in PowerShell"
    if "%" in path:  # Command Prompt expands %NAME% even in quotes, and has no escape there
        return powershell
    return f'{powershell} (in Command Prompt: `{command}"{path}"`)'


def now_text(clock: Clock = SYSTEM_CLOCK) -> str:
    """The clock's UTC time as the store writes it (a fake clock makes it reproducible)."""
    return clock.now().astimezone(UTC).strftime(_TIME_FORMAT)


def _canonical_ddl(spec: TableSpec) -> str:
    # SQLite lets NULL into a non-INTEGER primary key unless the column says NOT NULL.
    columns = [
        f'"{c.name}" {_SQL_TYPES[c.kind]}{" NOT NULL" if c.name in spec.key else ""}'
        + ("" if c.default is None else f" DEFAULT '{c.default}'")
        for c in spec.columns
    ]
    columns += ["source TEXT"] + (["source_row INTEGER"] if spec.name in ROWS_KEPT else [])
    columns += ["extra TEXT", "synced_at TEXT NOT NULL"]
    key = ", ".join(f'"{k}"' for k in spec.key)
    return f'CREATE TABLE IF NOT EXISTS "{spec.name}" ({", ".join(columns)}, PRIMARY KEY ({key}))'


def _output_column_sql(column: OutputColumn) -> str:
    return f"{column.name} {_OUTPUT_SQL_TYPES[column.kind]}{' NOT NULL' if column.required else ''}"


def _output_ddl(table: OutputTable) -> list[str]:
    """The table (and its index) from its declaration; harmless when both exist already."""
    columns = ", ".join(_output_column_sql(c) for c in table.columns)
    statements = [f"CREATE TABLE IF NOT EXISTS {table.name} (run_id INTEGER NOT NULL, {columns})"]
    if table.index:
        # The shipped stores named the shared tables' indexes like this; keep the names.
        name = _INDEX_NAMES.get(table.name, f"{table.name}_by_{'_'.join(table.index)}")
        statements.append(
            f"CREATE INDEX IF NOT EXISTS {name} ON {table.name} ({', '.join(table.index)}, run_id)"
        )
    return statements


_INDEX_NAMES = {"scores": "scores_by_model", "forecasts": "forecasts_by_series",
                "price_suggestions": "prices_by_product"}  # fmt: skip


def _migration_1(conn: sqlite3.Connection) -> None:
    for spec in TABLES.values():
        conn.execute(_canonical_ddl(spec))
    for table in SHARED_OUTPUTS.values():
        for statement in _output_ddl(table):
            conn.execute(statement)
    # One statement at a time: executescript() would COMMIT and break the migration's
    # all-or-nothing transaction.
    script = """
        CREATE TABLE runs (
            run_id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, source TEXT,
            started_at TEXT NOT NULL, finished_at TEXT, status TEXT NOT NULL,
            counts TEXT, error TEXT, pid INTEGER);
        CREATE TABLE sync_cursors (
            source TEXT NOT NULL, table_name TEXT NOT NULL, value TEXT NOT NULL,
            updated_at TEXT NOT NULL, PRIMARY KEY (source, table_name));
        CREATE TABLE rejects (
            id INTEGER PRIMARY KEY AUTOINCREMENT, run_id INTEGER, table_name TEXT NOT NULL,
            source TEXT, source_row INTEGER, column_name TEXT, value TEXT, reason TEXT NOT NULL,
            action TEXT NOT NULL, row_json TEXT, created_at TEXT NOT NULL);
        CREATE INDEX rejects_by_run ON rejects (run_id);
        CREATE TABLE models (
            name TEXT NOT NULL, version INTEGER NOT NULL, format TEXT NOT NULL,
            payload TEXT NOT NULL, card TEXT NOT NULL, created_at TEXT NOT NULL,
            PRIMARY KEY (name, version));
        CREATE TABLE pushed_values (
            destination TEXT NOT NULL, entity TEXT NOT NULL, entity_id TEXT NOT NULL,
            field TEXT NOT NULL, value TEXT, pushed_at TEXT NOT NULL,
            PRIMARY KEY (destination, entity, entity_id, field));
        """
    for statement in filter(str.strip, script.split(";")):
        conn.execute(statement)


def _migration_2(conn: sqlite3.Connection) -> None:
    conn.execute(_canonical_ddl(TABLES["deal_stages"]))


def _migration_3(conn: sqlite3.Connection) -> None:
    """Which output groups (a model, or the whole table) each step last filled, and which
    the tool no longer stands behind: a step skipped since (too little data) or one that
    computed no rows for a model it wrote before."""
    conn.execute(
        "CREATE TABLE step_outputs (step TEXT NOT NULL, kind TEXT NOT NULL, model TEXT NOT NULL, "
        "run_id INTEGER NOT NULL, PRIMARY KEY (step, kind, model))"
    )
    conn.execute(
        "CREATE TABLE withdrawn_outputs (kind TEXT NOT NULL, model TEXT NOT NULL, "
        "run_id INTEGER NOT NULL, step TEXT NOT NULL, reason TEXT NOT NULL, "
        "PRIMARY KEY (kind, model))"
    )
    # Consent withdrawn: rows about a person are deleted (Store.forget_outputs); the last
    # run that did so per table tells a cache of that table to reload.
    conn.execute("CREATE TABLE forgotten_outputs (kind TEXT PRIMARY KEY, run_id INTEGER NOT NULL)")
    conn.execute("CREATE INDEX IF NOT EXISTS scores_by_record ON scores (entity, entity_id)")


def _migration_4(conn: sqlite3.Connection) -> None:
    conn.execute(_canonical_ddl(TABLES["deal_pipeline_stages"]))


def _migration_5_hubspot_read_again(conn: sqlite3.Connection) -> None:
    """HubSpot rows an older release misread are read again: its next run lists contacts and
    line items whole instead of asking for changes since the cursor.

    Releases before this schema stored hs_total_discount (money off the line) as the
    discount share, and a marketing contact whose legal basis is not for marketing as
    consent. The pull is incremental, so a record unchanged in HubSpot kept that reading
    for good (prices, revenue, who is scored). Dropping the cursors costs one full list.
    """
    conn.execute(
        "DELETE FROM sync_cursors WHERE source = 'hubspot' "
        "AND table_name IN ('contacts', 'order_lines')"
    )


def _migration_6_steps_of_older_outputs(conn: sqlite3.Connection) -> None:
    """Outputs stored before step_outputs (schema 3) get the step that wrote them.

    Migration 3 made step_outputs empty, so a step that, after the upgrade, computed no
    rows or was skipped for lack of data withdrew nothing: the older release's rows stayed
    the latest (a deal closed since kept its win chance in HubSpot, for good). The steps
    and models are those of the releases before schema 3, written out here, not taken
    from today's steps, as a migration must not change meaning when the steps do.
    """
    models = {
        "scores": {"rfm_segment": "rfm_segments", "cluster": "customer_clusters",
                   "churn_risk": "churn_value", "p_alive": "churn_value",
                   "next_product": "next_product", "lead_score": "lead_scores",
                   "deal_win": "deal_win"},
        "forecasts": {"deal_win": "deal_win"},
    }  # fmt: skip

    def step_of(kind: str, model: str) -> str | None:
        if kind == "scores" and model.startswith("value_"):  # value_12m, one per horizon
            return "churn_value"
        if kind == "forecasts":
            return models[kind].get(model, "sales_forecast")  # each series' chosen model
        if kind == "price_suggestions":
            return "price_suggestions"
        return models[kind].get(model)

    # A group a later release already withdrew is not claimed again (its last filling
    # would point back at a run whose values were cleared).
    claimed = {(k, m) for k, m in conn.execute("SELECT kind, model FROM step_outputs")}
    claimed |= {(k, m) for k, m in conn.execute("SELECT kind, model FROM withdrawn_outputs")}
    rows = []
    for kind, group in (("scores", "model"), ("forecasts", "model"), ("price_suggestions", "''")):
        have = {row[1] for row in conn.execute(f"PRAGMA table_info({kind})")}
        if "run_id" not in have or (group != "''" and group not in have):
            continue  # not made yet by that release: its table comes with today's columns
        found = conn.execute(
            f"SELECT COALESCE({group}, ''), MAX(run_id) FROM {kind} GROUP BY 1"
        ).fetchall()
        for model, run_id in found:
            step = step_of(kind, model)
            if step is not None and (kind, model) not in claimed:
                rows.append((step, kind, model, run_id))
    conn.executemany("INSERT OR IGNORE INTO step_outputs VALUES (?, ?, ?, ?)", rows)


_CONSENT_AS_NUMBER = re.compile(
    r'("marketing_consent"|\bmarketing_consent)\s+INTEGER\b', re.IGNORECASE
)


def _migration_7_consent_as_written(conn: sqlite3.Connection) -> None:
    """contacts.marketing_consent becomes a TEXT column where an older release made it
    INTEGER (it was a yes/no until the consent wordings were read as written).

    SQLite turns text that looks like a number into one in an INTEGER column: "1.0",
    "+1" and "0001" came back as "1", which reads as consent, while the same value in a
    store made today stays as written and reads as an unreadable value, an opt-out. The
    table is rebuilt with the one type changed (SQLite cannot alter a column's type).
    """
    row = conn.execute(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'contacts'"
    ).fetchone()
    if row is None or not _CONSENT_AS_NUMBER.search(row[0]):
        return
    indexes = [
        sql
        for (sql,) in conn.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'contacts' "
            "AND sql IS NOT NULL"
        )
    ]
    ddl = _CONSENT_AS_NUMBER.sub('"marketing_consent" TEXT', row[0], count=1)
    ddl = re.sub(r'^CREATE TABLE\s+"?contacts"?', 'CREATE TABLE "contacts_consent_text"', ddl)
    conn.execute(ddl)
    conn.execute('INSERT INTO "contacts_consent_text" SELECT * FROM "contacts"')
    conn.execute('DROP TABLE "contacts"')
    conn.execute('ALTER TABLE "contacts_consent_text" RENAME TO "contacts"')
    for sql in indexes:
        conn.execute(sql)


# Forward migrations, applied in order inside one transaction each. Never edit one that
# has shipped; append. Columns added to a canonical table in schema.py are added
# automatically by _add_new_columns, and output tables (and their new columns) come
# from their declarations (_ensure_output), so only other changes need a migration here.
def _migration_8_hubspot_merges_again(conn: sqlite3.Connection) -> None:
    """HubSpot contacts are listed whole once, so every merge is read again.

    Releases before this schema left a merged-away contact's deals, orders and
    associations naming it (HubSpot moves them to the kept contact without touching them,
    so no incremental pull re-reads them): the kept contact lost its won deal and its
    orders. A merge is seen on the kept contact (``hs_merged_object_ids``), which an
    incremental pull reads again only when it changes. Dropping the cursor costs one list.
    """
    conn.execute("DELETE FROM sync_cursors WHERE source = 'hubspot' AND table_name = 'contacts'")


def _migration_9_source_accounts(conn: sqlite3.Connection) -> None:
    """The account each source's records belong to (a HubSpot portal), so a token for
    another account is noticed before its records mix with this one's."""
    conn.execute(
        "CREATE TABLE IF NOT EXISTS source_accounts (source TEXT PRIMARY KEY, "
        "account TEXT NOT NULL, "
        "words TEXT NOT NULL, first_seen TEXT NOT NULL)"
    )


def _migration_10_activity_ids(conn: sqlite3.Connection) -> None:
    """Activities are keyed by their id too (a HubSpot engagement's; '' where a source has
    none), so two calls logged in the same second are two, and an engagement moved or
    deleted in HubSpot replaces the rows it gave. SQLite cannot change a table's key: the
    table is rebuilt with the rows it holds, each with no id."""
    row = conn.execute(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'activities'"
    ).fetchone()
    columns = [r[1] for r in conn.execute('PRAGMA table_info("activities")')]
    if row is not None and "activity_id" not in columns:
        _rebuild_activities(conn, columns)
    # An engagement read again replaces its rows by id: without an index each one is a
    # scan of the table (a daily listing of 20,000 took 35 s against 22 s for the first).
    conn.execute("CREATE INDEX IF NOT EXISTS activities_by_id ON activities (activity_id)")


def _rebuild_activities(conn: sqlite3.Connection, columns: list[str]) -> None:
    """The schema-9 table with ``activity_id`` in its key, each stored row with ''."""
    types = {r[1]: r[2] for r in conn.execute('PRAGMA table_info("activities")')}
    keyed = ("contact_id", "occurred_at", "kind")
    declared = ", ".join(
        f'"{c}" {types[c]}{" NOT NULL" if c in keyed or c == "synced_at" else ""}' for c in columns
    )
    conn.execute(
        f'CREATE TABLE "activities_with_ids" ({declared}, "activity_id" TEXT NOT NULL '
        'DEFAULT \'\', PRIMARY KEY ("contact_id", "occurred_at", "kind", "activity_id"))'
    )
    names = ", ".join(f'"{c}"' for c in columns)
    conn.execute(
        f'INSERT INTO "activities_with_ids" ({names}, "activity_id") '
        f"SELECT {names}, '' FROM \"activities\""
    )
    conn.execute('DROP TABLE "activities"')
    conn.execute('ALTER TABLE "activities_with_ids" RENAME TO "activities"')


def _migration_11_store_facts(conn: sqlite3.Connection) -> None:
    """Facts about the store itself: its writer id (`Store.writer_id`)."""
    conn.execute(
        "CREATE TABLE IF NOT EXISTS store_facts (name TEXT PRIMARY KEY, value TEXT NOT NULL)"
    )


MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [
    _migration_1,
    _migration_2,
    _migration_3,
    _migration_4,
    _migration_5_hubspot_read_again,
    _migration_6_steps_of_older_outputs,
    _migration_7_consent_as_written,
    _migration_8_hubspot_merges_again,
    _migration_9_source_accounts,
    _migration_10_activity_ids,
    _migration_11_store_facts,
]
SCHEMA_VERSION = len(MIGRATIONS)


@dataclass(frozen=True)
class SavedModel:
    name: str
    version: int
    format: str
    payload: str
    card: dict[str, Any]
    created_at: str


class Store:
    """The embedded store. Open one per process; it is not shared across threads."""

    def __init__(
        self,
        path: str | Path | None = None,
        clock: Clock = SYSTEM_CLOCK,
        *,
        read_only: bool = False,
    ) -> None:
        self.path = Path(path) if path is not None else default_store_path()
        self._outputs: dict[str, OutputTable] = dict(SHARED_OUTPUTS)
        self.clock = clock  # stamps runs, cursors, models and pushes
        self.read_only = read_only
        if read_only:
            self._conn = _open_for_reading(self.path)
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(self.path, isolation_level=None, timeout=30)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot open the store at {self.path}: {exc}") from exc

    @classmethod
    def reading(cls, path: str | Path) -> Store:
        """The store opened for commands that only read it (`smbml status`, the worksheet
        functions' lookups): nothing is written, no write lock is waited for, and a store
        in a folder the user cannot write (a backup, a read-only share) still opens. One
        from an older release is brought up to date first where it can be written; where
        it cannot, that is said, since its tables are not what this release reads."""
        store = cls(path, read_only=True)
        store._refuse_newer()
        if not store._behind():
            return store
        store.close()
        try:
            cls(path).close()  # the upgrade a run would do
        except StoreError as exc:
            raise StoreError(
                f"the store {path} was written by an older smbml_connect and cannot be "
                f"brought up to date here ({exc}); run smbml once where it can be written"
            ) from None
        return cls(path, read_only=True)

    # -- lifecycle -------------------------------------------------------------------
    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """All-or-nothing: BEGIN IMMEDIATE takes the write lock up front, so no deadlock.
        A store that cannot be written (a read-only copy, a full disk) is a StoreError that
        says what to do, wherever the first write happens."""
        try:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                if self._conn.in_transaction:  # SQLite rolls back itself on a full disk
                    self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            said = _cannot_write(self.path, exc)
            if said is None:
                raise
            raise said from None

    @property
    def schema_version(self) -> int:
        return int(self._conn.execute("PRAGMA user_version").fetchone()[0])

    def _refuse_newer(self) -> None:
        current = self.schema_version
        if current > SCHEMA_VERSION:
            raise StoreError(
                f"the store at {self.path} was written by a newer smbml_connect "
                f"(schema {current}, this version knows {SCHEMA_VERSION}); upgrade smbml_connect"
            )

    def _migrate(self) -> None:
        self._refuse_newer()
        current = self.schema_version
        for version in range(current + 1, SCHEMA_VERSION + 1):
            with self.transaction() as conn:
                MIGRATIONS[version - 1](conn)
                conn.execute(f"PRAGMA user_version = {version}")
        with self.transaction() as conn:
            self._add_new_columns(conn)
            for table in self._outputs.values():
                _ensure_output(conn, table)

    def _behind(self) -> bool:
        """Whether an open for writing would change this store: a migration, or a column
        a release added without one (`_add_new_columns`: the last release's store has no
        `orders_count`, and a read-only lookup of its contacts failed on it)."""
        if self.schema_version < SCHEMA_VERSION:
            return True
        for name, wanted in self._wanted_columns().items():
            have = {row[1] for row in self._conn.execute(f'PRAGMA table_info("{name}")')}
            if not wanted <= have:
                return True
        return False

    def _wanted_columns(self) -> dict[str, set[str]]:
        wanted = {spec.name: {c.name for c in spec.columns} for spec in TABLES.values()}
        for name in ROWS_KEPT:
            wanted[name].add(STORED_ROW)
        for table in self._outputs.values():
            wanted[table.name] = {c.name for c in table.columns}
        return wanted

    def _add_new_columns(self, conn: sqlite3.Connection) -> None:
        for spec in TABLES.values():
            have = {row[1] for row in conn.execute(f'PRAGMA table_info("{spec.name}")')}
            for column in spec.columns:
                if column.name not in have:
                    sql_type = _SQL_TYPES[column.kind]
                    conn.execute(f'ALTER TABLE "{spec.name}" ADD COLUMN "{column.name}" {sql_type}')
            if spec.name in ROWS_KEPT and STORED_ROW not in have:
                conn.execute(f'ALTER TABLE "{spec.name}" ADD COLUMN "{STORED_ROW}" INTEGER')

    # -- canonical tables ------------------------------------------------------------
    def upsert(
        self, table: str, frame: pd.DataFrame, *, cursor: tuple[str, str] | None = None
    ) -> int:
        """Insert or replace rows by key; ``cursor=(source, value)`` advances in the same commit."""
        with self.transaction() as conn:
            self._upsert_rows(conn, table, frame)
            if cursor is not None:
                self._set_cursor(conn, cursor[0], table, cursor[1])
        return len(frame)

    def commit_page(
        self,
        run_id: int | None,
        tables: dict[str, pd.DataFrame],
        rejects: pd.DataFrame,
        cursor: tuple[str, str, str] | None = None,
        archived: dict[str, list[tuple[str, str]]] | None = None,
        whole: frozenset[str] = frozenset(),
        replace: Mapping[str, Iterable[str]] | None = None,
        merged: Mapping[str, Sequence[tuple[str, str]]] | None = None,
        source: str | None = None,
        kept_only: Mapping[str, KeptOnly] | None = None,
    ) -> None:
        """One page of a sync in one transaction: rows, their rejects, archive marks, cursor.

        ``cursor`` is (source, entity, value). A sync killed between pages leaves the store
        as it was after the last whole page, and the cursor pointing at it. A table in
        ``whole`` is the page's source's every row of it: that source's other rows go.
        ``replace`` names, per table, keys (its first key column) whose stored rows go
        first: the page's rows of them are all there are now. ``merged`` names, per table,
        records merged into others (old id, new id): rows of ``source`` naming the old one
        name the new.
        """
        with self.transaction() as conn:
            for table, keys in (replace or {}).items():
                first = REPLACED_BY.get(table, TABLES[table].key[0])
                mine = "" if source is None else " AND source = ?"  # another's "51" is theirs
                conn.executemany(
                    f'DELETE FROM "{table}" WHERE "{first}" = ?{mine}',
                    [(str(k), *(() if source is None else (source,))) for k in dict.fromkeys(keys)],
                )
            for table, only in (kept_only or {}).items():
                _keep_only(conn, table, only, source, now_text(self.clock))
            for table, frame in tables.items():
                if table in whole and "source" in frame.columns:
                    sources = [(str(v),) for v in frame["source"].dropna().unique()]
                    conn.executemany(f'DELETE FROM "{table}" WHERE source = ?', sources)
                self._upsert_rows(conn, table, frame)
            self._insert_rejects(conn, run_id, rejects)
            for table, marks in (archived or {}).items():
                key = TABLES[table].key[-1]
                conn.executemany(
                    f'UPDATE "{table}" SET archived_at = ? WHERE "{key}" = ?',
                    [(_archived_text(when), _key_value(table, rid)) for rid, when in marks],
                )
            for table, moves in (merged or {}).items():
                _repoint(conn, table, moves, source)
            if cursor is not None:
                self._set_cursor(conn, cursor[0], cursor[1], cursor[2])

    def _upsert_rows(self, conn: sqlite3.Connection, table: str, frame: pd.DataFrame) -> None:
        spec = TABLES[table]
        names = [*spec.names, *system_columns(table)]
        stamp = now_text(self.clock)
        kinds = {c.name: c.kind for c in spec.columns}
        frame = frame.reindex(columns=names)
        for column in spec.columns:  # a caller's frame without them (not from validate)
            if column.default is not None:
                frame[column.name] = frame[column.name].astype(object).fillna(column.default)
        rows = _to_sql_rows(frame, kinds, stamp)
        quoted = ", ".join(f'"{n}"' for n in [*names, "synced_at"])
        updates = ", ".join(f'"{n}" = excluded."{n}"' for n in [*names, "synced_at"])
        keys = ", ".join(f'"{k}"' for k in spec.key)
        sql = (
            f'INSERT INTO "{table}" ({quoted}) VALUES ({", ".join("?" * (len(names) + 1))}) '
            f"ON CONFLICT ({keys}) DO UPDATE SET {updates}"
        )
        conn.executemany(sql, rows)

    def read(self, table: str) -> pd.DataFrame:
        spec = TABLES[table]
        names = [*spec.names, *system_columns(table)]
        quoted = ", ".join(f'"{n}"' for n in names)
        key = ", ".join(f'"{k}"' for k in spec.key)
        raw = pd.read_sql_query(f'SELECT {quoted} FROM "{table}" ORDER BY {key}', self._conn)
        return _typed(table, raw)

    def read_keys(self, table: str, keys: pd.DataFrame) -> pd.DataFrame:
        """The stored rows whose key is one of ``keys`` (a frame of the key columns)."""
        spec = TABLES[table]
        names = [*spec.names, *system_columns(table)]
        wanted = _to_sql_rows(keys[list(spec.key)], {c.name: c.kind for c in spec.columns})
        columns = ", ".join(f'"{k}"' for k in spec.key)
        with self.transaction() as conn:
            conn.execute(f"CREATE TEMP TABLE IF NOT EXISTS _wanted_{table} ({columns})")
            conn.execute(f"DELETE FROM _wanted_{table}")
            marks = ", ".join("?" * len(spec.key))
            conn.executemany(f"INSERT INTO _wanted_{table} VALUES ({marks})", wanted)
            quoted = ", ".join(f't."{n}"' for n in names)
            raw = pd.read_sql_query(
                f'SELECT {quoted} FROM "{table}" t JOIN _wanted_{table} USING ({columns})', conn
            )
        return _typed(table, raw)

    # -- rows gone from a source read whole ------------------------------------------
    def start_seen(self, table: str) -> None:
        """Begin listing the keys one whole read of a source meets (see `leave_out_unseen`)."""
        spec = TABLES[table]
        columns = ", ".join(f'"{k}" {_SQL_TYPES[spec.column(k).kind]}' for k in spec.key)
        self._conn.execute(f"DROP TABLE IF EXISTS temp._seen_{table}")
        self._conn.execute(f"CREATE TEMP TABLE _seen_{table} ({columns})")  # indexed at the end

    def note_seen(self, table: str, keys: pd.DataFrame) -> None:
        """Keys the read met, kept or rejected: a row rejected this time is still in the source."""
        spec = TABLES[table]
        rows = _to_sql_rows(keys[list(spec.key)], {c.name: c.kind for c in spec.columns})
        marks = ", ".join("?" * len(spec.key))
        with self.transaction() as conn:
            conn.executemany(f"INSERT INTO _seen_{table} VALUES ({marks})", rows)

    def unseen(self, table: str, sources: Sequence[str]) -> tuple[list[str], int]:
        """Keys of the live rows ``sources`` (a source's names, now and before) gave that
        the read did not meet, as text in key order, and how many live rows they gave (the
        share decides whether to trust the read)."""
        spec = TABLES[table]
        keys = ", ".join(f'"{k}"' for k in spec.key)
        self._conn.execute(
            f"CREATE INDEX IF NOT EXISTS temp._seen_{table}_keys ON _seen_{table} ({keys})"
        )
        live = " AND archived_at IS NULL" if "archived_at" in spec.names else ""
        rows = self._conn.execute(
            f'SELECT {keys} FROM "{table}" t WHERE {_unseen(table, sources)}{live} ORDER BY {keys}',
            tuple(sources),
        ).fetchall()
        marks = ", ".join("?" * len(sources))
        total = self._conn.execute(
            f'SELECT COUNT(*) FROM "{table}" WHERE source IN ({marks}){live}', tuple(sources)
        ).fetchone()[0]
        named = [key_values(spec, dict(zip(spec.key, row, strict=True))) for row in rows]
        return [" / ".join(parts.values()) for parts in named], int(total)

    def leave_out_unseen(self, table: str, sources: Sequence[str], when: str) -> None:
        """Rows ``sources`` gave before whose key the whole read just now did not meet
        (`unseen`): marked archived (kept, not used; a row back in the source is live
        again, as its upsert clears the mark), or deleted in a table without archive marks
        (a deal's stages, associations)."""
        where = _unseen(table, sources)
        with self.transaction() as conn:
            if "archived_at" in TABLES[table].names:
                conn.execute(
                    f'UPDATE "{table}" AS t SET archived_at = ? '
                    f"WHERE {where} AND archived_at IS NULL",
                    (_archived_text(when), *sources),
                )
            else:
                conn.execute(f'DELETE FROM "{table}" AS t WHERE {where}', tuple(sources))
        self.end_seen(table)

    def restore_left_out(self, table: str, sources: Sequence[str]) -> list[str]:
        """Rows ``sources`` gave that an earlier whole read left out as gone (marked
        archived, `leave_out_unseen`) count again, as ``removed_rows = "keep"`` asks; their
        keys as text, in key order (none for a table without archive marks)."""
        spec = TABLES[table]
        if "archived_at" not in spec.names:
            return []
        keys = ", ".join(f'"{k}"' for k in spec.key)
        where = f"source IN ({', '.join('?' * len(sources))}) AND archived_at IS NOT NULL"
        with self.transaction() as conn:
            rows = conn.execute(
                f'SELECT {keys} FROM "{table}" WHERE {where} ORDER BY {keys}', tuple(sources)
            ).fetchall()
            conn.execute(f'UPDATE "{table}" SET archived_at = NULL WHERE {where}', tuple(sources))
        named = [key_values(spec, dict(zip(spec.key, row, strict=True))) for row in rows]
        return [" / ".join(parts.values()) for parts in named]

    def has_rows(self, table: str, sources: Sequence[str]) -> bool:
        """Whether these sources gave the table any row before (none: nothing can be gone)."""
        marks = ", ".join("?" * len(sources))
        query = f'SELECT 1 FROM "{table}" WHERE source IN ({marks}) LIMIT 1'
        return self._conn.execute(query, tuple(sources)).fetchone() is not None

    def end_seen(self, table: str) -> None:
        self._conn.execute(f"DROP TABLE IF EXISTS temp._seen_{table}")

    def other_sources(self, table: str, like: str, mine: Sequence[str]) -> dict[str, int]:
        """Live rows per source named ``like`` + ':...' other than ``mine``: a folder or
        spreadsheet read before by this store (a path changed, a file saved as another)."""
        spec = TABLES[table]
        live = " AND archived_at IS NULL" if "archived_at" in spec.names else ""
        marks = ", ".join("?" * len(mine))
        prefix = f"{like}:"
        rows = self._conn.execute(
            f'SELECT source, COUNT(*) FROM "{table}" WHERE substr(source, 1, ?) = ? '
            f"AND source NOT IN ({marks}){live} GROUP BY source ORDER BY source",
            (len(prefix), prefix, *mine),
        ).fetchall()
        return {str(name): int(n) for name, n in rows}

    def purge_candidates(self, table: str, source: str) -> tuple[list[str], set[str], int]:
        """Ids of ``source``'s rows its listing of every id it holds did not meet, which of
        them were live (not archived: a record's 90 days in the recycle bin ending is
        expected, one live a day ago missing is not), and how many live rows it gave (the
        share decides whether to trust the listing)."""
        (key,) = TABLES[table].key
        self._conn.execute(
            f'CREATE INDEX IF NOT EXISTS temp._seen_{table}_keys ON _seen_{table} ("{key}")'
        )
        marked = "archived_at IS NULL" if "archived_at" in TABLES[table].names else "1"
        rows = self._conn.execute(
            f'SELECT "{key}", {marked} FROM "{table}" t WHERE {_unseen(table, [source])} '
            f'ORDER BY "{key}"',
            (source,),
        ).fetchall()
        total = self._conn.execute(
            f'SELECT COUNT(*) FROM "{table}" WHERE source = ? AND {marked}', (source,)
        ).fetchone()[0]
        return [str(r[0]) for r in rows], {str(r[0]) for r in rows if r[1]}, int(total)

    def unlisted_rows(
        self, table: str, only: KeptOnly, source: str
    ) -> tuple[list[str], list[str], int]:
        """What a source's listing (`KeptOnly`) would remove: the ids of its stored rows the
        listing did not meet, those of them the listing before missed too (these go), and
        how many ids it has stored (the share decides whether to trust the listing)."""
        with self.transaction() as conn:
            missing, before, total = _unlisted(conn, table, only, source)
        return missing, [i for i in missing if i in before], total

    def hold_unlisted(
        self, table: str, only: KeptOnly, source: str, missing: Sequence[str] | None
    ) -> None:
        """The ids a listing missed but too many to trust (None: it was trusted): held,
        so a run told `--accept-removals` removes them without waiting for a listing."""
        name = f"held:{table}:{only.name}"
        with self.transaction() as conn:
            if missing is None:
                conn.execute(
                    "DELETE FROM sync_cursors WHERE source = ? AND table_name = ?", (source, name)
                )
            else:  # and they count as missed once, for a listing of an accepting run
                held = {"noun": only.noun or only.name.replace("_", " "), "ids": list(missing)}
                self._set_cursor(conn, source, name, json.dumps(held))
                unlisted = f"unlisted:{table}:{only.name}"
                self._set_cursor(conn, source, unlisted, json.dumps(sorted(missing)))

    def held_unlisted(self, source: str) -> list[tuple[str, str, str, list[str]]]:
        """(table, listing, what the user calls its records, ids) of each listing whose
        misses are held (`hold_unlisted`)."""
        rows = self._conn.execute(
            "SELECT table_name, value FROM sync_cursors WHERE source = ? "
            "AND substr(table_name, 1, 5) = 'held:' ORDER BY table_name",
            (source,),
        ).fetchall()
        out = []
        for name, value in rows:
            _, table, listing = str(name).split(":", 2)
            held = json.loads(value)
            out.append((table, listing, str(held["noun"]), [str(i) for i in held["ids"]]))
        return out

    def remove_held(self, table: str, listing: str, source: str, ids: Sequence[str]) -> int:
        """Remove ``source``'s rows of these held ids (the user accepted their removal)."""
        column = REPLACED_BY.get(table, TABLES[table].key[0])
        with self.transaction() as conn:
            removed = sum(
                conn.execute(
                    f'DELETE FROM "{table}" WHERE "{column}" = ? AND source = ?', (i, source)
                ).rowcount
                for i in ids
            )
            conn.execute(
                "DELETE FROM sync_cursors WHERE source = ? AND table_name = ?",
                (source, f"held:{table}:{listing}"),
            )
        return removed

    def unlisted_before(self, table: str, source: str) -> set[str]:
        """Ids the previous listing of every id did not meet (`purge`)."""
        text = self.get_cursor(source, f"unlisted:{table}")
        return set(json.loads(text)) if text else set()

    def purge(
        self,
        table: str,
        source: str,
        ids: Sequence[str],
        unlisted: Sequence[str],
        run_id: int | None,
    ) -> None:
        """Delete ``source``'s rows of these ids, gone for good (a GDPR delete), with the
        rows of that source that name them (`_forget_named`), the values pushed for them
        and every run's outputs about them, and keep ``unlisted`` (ids this listing missed
        for the first time) for the next: all in one transaction (a run stopped later must
        not leave what was computed about a deleted person). One key column only."""
        (key,) = TABLES[table].key
        entity = ASSOCIATION_TYPES.get(table, table.rstrip("s"))
        with self.transaction() as conn:
            conn.executemany(
                f'DELETE FROM "{table}" WHERE "{key}" = ? AND source = ?',
                [(rid, source) for rid in ids],
            )
            _forget_named(conn, table, ids, source)
            conn.executemany(
                "DELETE FROM pushed_values WHERE entity = ? AND entity_id = ?",
                [(table, rid) for rid in ids],
            )
            for kind in _outputs_about_records(conn):
                _forget_outputs(conn, kind, entity, ids, run_id)
            self._set_cursor(conn, source, f"unlisted:{table}", json.dumps(sorted(unlisted)))
        self.end_seen(table)

    def count(self, table: str) -> int:
        return int(self._conn.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0])

    # -- the account a source's records belong to ----------------------------------------
    def account_of(self, source: str) -> tuple[str, str] | None:
        """(account, how the user knows it) this store's rows of ``source`` belong to."""
        row = self._conn.execute(
            "SELECT account, words FROM source_accounts WHERE source = ?", (source,)
        ).fetchone()
        return None if row is None else (str(row[0]), str(row[1]))

    def writer_id(self) -> str:
        """A random id of this store, made once. Result tabs it writes carry it, so a second
        config (another store) writing the same spreadsheet is noticed; random, so it tells
        nothing of the shop, the account or where the store is kept."""
        query = "SELECT value FROM store_facts WHERE name = 'writer_id'"
        row = self._conn.execute(query).fetchone()
        if row is None:
            with self.transaction() as conn:
                conn.execute(
                    "INSERT OR IGNORE INTO store_facts VALUES ('writer_id', ?)",
                    (secrets.token_hex(8),),
                )
            row = self._conn.execute(query).fetchone()
        return str(row[0])

    def has_rows_of(self, source: str) -> bool:
        """Whether any canonical table holds a row ``source`` gave."""
        return any(self.has_rows(table, [source]) for table in TABLES)

    def accounts(self) -> dict[str, tuple[str, str, str]]:
        """source -> (account, how the user knows it, when first seen)."""
        rows = self._conn.execute("SELECT source, account, words, first_seen FROM source_accounts")
        return {str(r[0]): (str(r[1]), str(r[2]), str(r[3])) for r in rows}

    def keep_account(self, source: str, account: str, words: str) -> None:
        with self.transaction() as conn:
            self._keep_account(conn, source, account, words)

    def _keep_account(
        self, conn: sqlite3.Connection, source: str, account: str, words: str
    ) -> None:
        conn.execute(
            "INSERT INTO source_accounts VALUES (?, ?, ?, ?) ON CONFLICT (source) DO UPDATE "
            "SET account = excluded.account, words = excluded.words, "
            "first_seen = excluded.first_seen",
            (source, account, words, now_text(self.clock)),
        )

    def switch_account(
        self, source: str, account: str, words: str, run_id: int | None
    ) -> dict[str, int]:
        """Remove everything the store holds from ``source``'s account (another one's, or
        one an older release stored without saying which): every row the source gave, its
        cursors, the values pushed for those records, its rejected rows (they may quote an
        e-mail), every run's outputs (all of them describe that account's business: scores,
        forecasts, prices) and the saved models; then note ``account`` as the source's. One
        transaction: a run stopped part way leaves either the old account whole or none of
        it. Returns rows removed per table."""
        removed: dict[str, int] = {}
        with self.transaction() as conn:
            for table, spec in TABLES.items():
                ids = [
                    str(r[0])
                    for r in conn.execute(
                        f'SELECT DISTINCT "{spec.key[0]}" FROM "{table}" WHERE source = ?',
                        (source,),
                    )
                ]
                if not ids:
                    continue
                removed[table] = conn.execute(
                    f'DELETE FROM "{table}" WHERE source = ?', (source,)
                ).rowcount
                conn.executemany(
                    "DELETE FROM pushed_values WHERE entity = ? AND entity_id = ?",
                    [(table, rid) for rid in ids],
                )
            for kind in _output_tables(conn):
                if conn.execute(f'DELETE FROM "{kind}"').rowcount and run_id is not None:
                    conn.execute(
                        "INSERT INTO forgotten_outputs VALUES (?, ?) ON CONFLICT (kind) "
                        "DO UPDATE SET run_id = excluded.run_id",
                        (kind, run_id),
                    )
            conn.execute("DELETE FROM models")
            conn.execute("DELETE FROM rejects WHERE source = ?", (source,))
            conn.execute("DELETE FROM sync_cursors WHERE source = ?", (source,))
            self._keep_account(conn, source, account, words)
        return removed

    # -- sync cursors ----------------------------------------------------------------
    def get_cursor(self, source: str, table: str) -> str | None:
        row = self._conn.execute(
            "SELECT value FROM sync_cursors WHERE source = ? AND table_name = ?", (source, table)
        ).fetchone()
        return None if row is None else str(row[0])

    def _set_cursor(self, conn: sqlite3.Connection, source: str, table: str, value: str) -> None:
        _write_cursor(conn, source, table, value, now_text(self.clock))

    # -- the zone a source's times without an offset were read in (business_zone) -------
    def zone_of(self, source: str) -> str | None:
        """Kept beside the cursors (no schema change): ``time_zone`` -> the zone's name."""
        return self.get_cursor(source, ZONE_CURSOR)

    def zones(self) -> dict[str, str]:
        """source -> the zone its times without an offset were read in."""
        rows = self._conn.execute(
            "SELECT source, value FROM sync_cursors WHERE table_name = ?", (ZONE_CURSOR,)
        )
        return {str(r[0]): str(r[1]) for r in rows}

    def run_sources(self) -> dict[int, str]:
        """run_id -> the source it read: whose zone (`zones`) its times are on."""
        rows = self._conn.execute("SELECT run_id, source FROM runs")
        return {int(r[0]): str(r[1]) for r in rows}

    def keep_zone(self, source: str, zone: str, read_again: bool = False) -> None:
        """Note ``zone`` as the one ``source``'s times are read in; ``read_again`` drops
        its tables' cursors in the same transaction, so the next pull reads every record
        (those read on another clock) again."""
        with self.transaction() as conn:
            if read_again:
                conn.executemany(
                    "DELETE FROM sync_cursors WHERE source = ? AND table_name = ?",
                    [(source, table) for table in TABLES],
                )
            self._set_cursor(conn, source, ZONE_CURSOR, zone)

    # -- complete loads: a table read to its end, for steps that may use an older copy ---
    def mark_loaded(self, source: str, table: str) -> None:
        """Kept beside the cursors (no schema change): ``complete:<table>`` -> now."""
        with self.transaction() as conn:
            self._set_cursor(conn, source, f"complete:{table}", now_text(self.clock))

    def last_loaded(self, source: str, table: str) -> pd.Timestamp | None:
        text = self.get_cursor(source, f"complete:{table}")
        return None if text is None else pd.Timestamp(text)

    # -- runs and rejects ------------------------------------------------------------
    def start_run(self, kind: str, source: str) -> int:
        with self.transaction() as conn:
            self._mark_interrupted(conn)
            cur = conn.execute(
                "INSERT INTO runs (kind, source, started_at, status, pid) "
                "VALUES (?, ?, ?, 'running', ?)",
                (kind, source, now_text(self.clock), os.getpid()),
            )
            return int(cur.lastrowid or 0)

    def _mark_interrupted(self, conn: sqlite3.Connection) -> None:
        """A 'running' run whose process is gone was killed; say so instead of 'running'."""
        for run_id, pid in conn.execute("SELECT run_id, pid FROM runs WHERE status = 'running'"):
            if pid is None or not _process_alive(int(pid)):
                conn.execute(
                    "UPDATE runs SET status = 'interrupted', error = ? WHERE run_id = ?",
                    (INTERRUPTED, run_id),
                )

    def finish_run(
        self, run_id: int, status: str, counts: dict[str, Any], error: str | None = None
    ) -> None:
        """Close a run. Its error text is redacted here, the one door to the run table: an
        exception that is not ours (a proxy's, a library's) may quote a URL or a header."""
        error = redact(error) if error else error
        with self.transaction() as conn:
            conn.execute(
                "UPDATE runs SET finished_at = ?, status = ?, counts = ?, error = ? "
                "WHERE run_id = ?",
                (now_text(self.clock), status, json.dumps(counts, sort_keys=True), error, run_id),
            )

    def note_progress(self, run_id: int | None, counts: dict[str, Any]) -> None:
        """What a run has done so far, kept while it is still running: a run ended where it
        stood (SIGKILL, a power cut) then shows what it loaded and left out in `smbml
        status`, and the next run can say again what only it knew (`said_by_stopped`)."""
        if run_id is None:
            return
        with self.transaction() as conn:
            conn.execute(
                "UPDATE runs SET counts = ? WHERE run_id = ? AND status = 'running'",
                (json.dumps(counts, sort_keys=True), run_id),
            )

    def runs(self, limit: int = 10) -> pd.DataFrame:
        if not self.read_only:
            try:
                with self.transaction() as conn:
                    self._mark_interrupted(conn)
            except StoreError:  # a read-only store still shows its runs
                pass
        frame = pd.read_sql_query(
            "SELECT run_id, kind, source, started_at, finished_at, status, counts, error, pid "
            "FROM runs ORDER BY run_id DESC LIMIT ?",
            self._conn,
            params=(limit,),
        )
        # what _mark_interrupted would have written, shown without writing it
        gone = (frame["status"] == "running") & ~frame["pid"].map(
            lambda pid: pid is not None and not pd.isna(pid) and _process_alive(int(pid))
        )
        frame.loc[gone, "status"] = "interrupted"
        frame.loc[gone, "error"] = INTERRUPTED
        return frame.drop(columns="pid")

    def add_rejects(self, run_id: int | None, rejects: pd.DataFrame) -> None:
        if rejects.empty:
            return
        with self.transaction() as conn:
            self._insert_rejects(conn, run_id, rejects)

    def _insert_rejects(
        self, conn: sqlite3.Connection, run_id: int | None, rejects: pd.DataFrame
    ) -> None:
        stamp = now_text(self.clock)
        rows = [
            (run_id, r["table"], r["source"], _int_or_none(r["source_row"]), r["column"],
             r["value"], r["reason"], r["action"], r["row"], stamp)
            for r in redacted_rejects(rejects).to_dict("records")  # a token never stored
        ]  # fmt: skip
        conn.executemany(
            "INSERT INTO rejects (run_id, table_name, source, source_row, column_name, value, "
            "reason, action, row_json, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )

    def rejects(self, run_id: int | None = None) -> pd.DataFrame:
        where, params = ("WHERE run_id = ?", (run_id,)) if run_id is not None else ("", ())
        frame = pd.read_sql_query(
            'SELECT table_name AS "table", source, source_row, column_name AS "column", value, '
            f"reason, action, row_json AS row FROM rejects {where} ORDER BY id",
            self._conn,
            params=params,
        )
        return frame.reindex(columns=REJECT_COLUMNS)

    # -- models ----------------------------------------------------------------------
    def save_model(self, name: str, payload: str, card: dict[str, Any], format: str) -> int:
        """Models are stored as text (LightGBM model text, JSON): never pickled."""
        if not isinstance(payload, str):
            raise TypeError("model payload must be text (LightGBM model text or JSON)")
        with self.transaction() as conn:
            version = 1 + int(
                conn.execute(
                    "SELECT COALESCE(MAX(version), 0) FROM models WHERE name = ?", (name,)
                ).fetchone()[0]
            )
            conn.execute(
                "INSERT INTO models VALUES (?, ?, ?, ?, ?, ?)",
                (
                    name,
                    version,
                    format,
                    payload,
                    json.dumps(card, sort_keys=True),
                    now_text(self.clock),
                ),
            )
        return version

    def load_model(self, name: str, version: int | None = None) -> SavedModel | None:
        sql = "SELECT name, version, format, payload, card, created_at FROM models WHERE name = ?"
        params: tuple[Any, ...] = (name,)
        if version is not None:
            sql, params = sql + " AND version = ?", (name, version)
        row = self._conn.execute(sql + " ORDER BY version DESC LIMIT 1", params).fetchone()
        if row is None:
            return None
        return SavedModel(row[0], int(row[1]), row[2], row[3], json.loads(row[4]), row[5])

    # -- outputs ---------------------------------------------------------------------
    def ensure_output(self, table: OutputTable) -> None:
        """Know (and create, if new) an output table a step declares: no migration needed."""
        known = self._outputs.get(table.name)
        if known == table:
            return
        if known is not None and known.names != table.names[: len(known.names)]:
            raise StoreError(
                f"output table {table.name!r} is declared twice with different columns: "
                f"{', '.join(known.names)} and {', '.join(table.names)}"
            )
        with self.transaction() as conn:
            _ensure_output(conn, table)
        self._outputs[table.name] = table

    def _output(self, kind: str) -> OutputTable:
        if kind not in self._outputs:
            raise KeyError(f"no output table {kind!r}; known: {', '.join(self._outputs)}")
        return self._outputs[kind]

    def write_outputs(self, kind: str | OutputTable, run_id: int, frame: pd.DataFrame) -> int:
        if isinstance(kind, OutputTable):
            self.ensure_output(kind)
            kind = kind.name
        table = self._output(kind)
        columns = table.names
        data = frame.reindex(columns=columns)
        for column in table.columns:
            if column.kind == "json":
                data[column.name] = data[column.name].map(_reasons_json)
            elif column.kind == "datetime" and len(data):
                stamps = pd.to_datetime(data[column.name], utc=True)
                data[column.name] = stamps.dt.strftime(_TIME_FORMAT)
        rows = [(run_id, *row) for row in _plain_rows(data)]
        marks = ", ".join("?" * (len(columns) + 1))
        with self.transaction() as conn:
            conn.executemany(
                f"INSERT INTO {kind} (run_id, {', '.join(columns)}) VALUES ({marks})", rows
            )
        return len(rows)

    def latest_outputs(self, kind: str, model_column: str | None = None) -> pd.DataFrame:
        """The rows of the most recent run for each model (the table's ``latest`` column),
        unless that model was withdrawn since (see ``settle_step``)."""
        table = self._output(kind)
        columns = ", ".join(("run_id", *table.names))
        group = model_column or table.latest
        if group not in table.names:
            newest = f"(SELECT MAX(run_id) FROM {kind})"
            model = "''"  # a table without models is withdrawn as a whole
        else:
            newest = f"(SELECT MAX(run_id) FROM {kind} AS i WHERE i.{group} = o.{group})"
            model = f"COALESCE(o.{group}, '')"
        sql = (
            f"SELECT {columns} FROM {kind} AS o WHERE run_id = {newest} AND NOT EXISTS "
            f"(SELECT 1 FROM withdrawn_outputs AS w WHERE w.kind = ? AND w.model = {model} "
            "AND w.run_id > o.run_id)"
        )
        frame = pd.read_sql_query(sql, self._conn, params=(kind,))
        for column in table.columns:
            if column.kind == "json":
                frame[column.name] = frame[column.name].map(lambda t: json.loads(t) if t else [])
        return frame

    def latest_run_with(self, kind: str) -> int | None:
        """The newest run that stored, withdrew or deleted `kind` outputs: a cheap check
        whether they changed."""
        self._output(kind)
        return self._conn.execute(
            f"SELECT MAX(r) FROM (SELECT MAX(run_id) AS r FROM {kind} UNION ALL "
            "SELECT MAX(run_id) FROM withdrawn_outputs WHERE kind = ? UNION ALL "
            "SELECT MAX(run_id) FROM forgotten_outputs WHERE kind = ?)",
            (kind, kind),
        ).fetchone()[0]

    # -- what a step stands behind ---------------------------------------------------
    def settle_step(
        self,
        step: str,
        run_id: int,
        written: Mapping[str, Iterable[str]] | None,
        reason: str,
    ) -> list[tuple[str, str]]:
        """Record what a step's run filled, and withdraw what it no longer stands behind.

        ``written``: output table -> the groups (values of its ``latest`` column; "" for a
        table without one) this run stored rows for, or None when the step was skipped on
        purpose. Groups the step filled before and did not fill now are withdrawn with
        ``reason``: their older rows stop being the latest (no destination shows them).
        A step that failed is not settled at all, so its last values stay. Returns the
        (table, group) pairs withdrawn now.
        """
        filled = {(kind, model) for kind, models in (written or {}).items() for model in models}
        with self.transaction() as conn:
            before = {
                (kind, model)
                for kind, model in conn.execute(
                    "SELECT kind, model FROM step_outputs WHERE step = ?", (step,)
                )
            }
            withdrawn = sorted(before - filled)
            conn.executemany(
                "INSERT INTO withdrawn_outputs VALUES (?, ?, ?, ?, ?) ON CONFLICT (kind, model) "
                "DO UPDATE SET run_id = excluded.run_id, step = excluded.step, "
                "reason = excluded.reason",
                [(kind, model, run_id, step, reason) for kind, model in withdrawn],
            )
            conn.executemany(
                "DELETE FROM step_outputs WHERE step = ? AND kind = ? AND model = ?",
                [(step, kind, model) for kind, model in withdrawn],
            )
            conn.executemany(
                "INSERT INTO step_outputs VALUES (?, ?, ?, ?) ON CONFLICT (step, kind, model) "
                "DO UPDATE SET run_id = excluded.run_id",
                [(step, kind, model, run_id) for kind, model in sorted(filled)],
            )
        return withdrawn

    def withdrawals(self, run_id: int | None = None, in_effect: bool = False) -> pd.DataFrame:
        """Output groups withdrawn (kind, model, run_id, step, reason); one run's, if given;
        with ``in_effect``, only those no run has filled again since (a dry run's or a run
        whose push failed still have their values to clear, for the reason given then)."""
        sql = "SELECT kind, model, run_id, step, reason FROM withdrawn_outputs AS w WHERE 1 = 1"
        params: tuple[Any, ...] = ()
        if run_id is not None:
            sql, params = sql + " AND run_id = ?", (run_id,)
        if in_effect:
            sql += (
                " AND NOT EXISTS (SELECT 1 FROM step_outputs AS s WHERE s.kind = w.kind "
                "AND s.model = w.model AND s.run_id > w.run_id)"
            )
        return pd.read_sql_query(sql + " ORDER BY kind, model", self._conn, params=params)

    def last_filled(self, step: str) -> tuple[int, str] | None:
        """The run (id, start) whose outputs of ``step`` are the ones shown now, if any."""
        row = self._conn.execute(
            "SELECT r.run_id, r.started_at FROM step_outputs AS s JOIN runs AS r "
            "ON r.run_id = s.run_id WHERE s.step = ? ORDER BY s.run_id DESC LIMIT 1",
            (step,),
        ).fetchone()
        return (int(row[0]), str(row[1])) if row else None

    def forget_outputs(self, kind: str, entity: str, ids: Iterable[str], run_id: int) -> int:
        """Delete every run's rows of ``kind`` for these records (consent withdrawn: what
        was computed about a person is not kept, shown or pushed). Returns rows deleted."""
        table = self._output(kind)
        if "entity" not in table.names:
            return 0
        with self.transaction() as conn:
            return _forget_outputs(conn, kind, entity, ids, run_id)

    def keep_recent_runs(self, keep: int = KEEP_RUNS) -> int:
        """Delete what runs older than the last ``keep`` left that nothing reads any more:
        output rows no longer the latest of their group (``latest_outputs`` is unchanged),
        their rejects (``smbml status`` shows the last run's) and model versions older than
        the last ``keep``. Returns the rows deleted. The space is reused, not returned to
        the disk (that would take a VACUUM, a copy of the whole store)."""
        row = self._conn.execute(
            "SELECT run_id FROM runs ORDER BY run_id DESC LIMIT 1 OFFSET ?", (keep - 1,)
        ).fetchone()
        if row is None:
            return 0
        cut, deleted = int(row[0]), 0
        with self.transaction() as conn:
            for kind, table in self._outputs.items():
                column = table.latest
                if column and column in table.names:
                    newest = conn.execute(
                        f"SELECT {column}, MAX(run_id) FROM {kind} GROUP BY 1"
                    ).fetchall()
                    for group, last in newest:
                        match = f"{column} IS ?"  # IS: a NULL group is a group too
                        deleted += conn.execute(
                            f"DELETE FROM {kind} WHERE {match} AND run_id < ?",
                            (group, min(cut, int(last))),
                        ).rowcount
                else:
                    last = conn.execute(f"SELECT MAX(run_id) FROM {kind}").fetchone()[0]
                    if last is not None:
                        deleted += conn.execute(
                            f"DELETE FROM {kind} WHERE run_id < ?", (min(cut, int(last)),)
                        ).rowcount
            deleted += conn.execute("DELETE FROM rejects WHERE run_id < ?", (cut,)).rowcount
            deleted += conn.execute(
                "DELETE FROM models WHERE version <= (SELECT MAX(version) FROM models AS m "
                "WHERE m.name = models.name) - ?",
                (keep,),
            ).rowcount
        return deleted

    def output_history(self, kind: str) -> pd.DataFrame:
        columns = ", ".join(("run_id", *self._output(kind).names))
        return pd.read_sql_query(f"SELECT {columns} FROM {kind} ORDER BY run_id", self._conn)

    # -- pushed values ---------------------------------------------------------------
    def changed_since_push(
        self, destination: str, entity: str, values: pd.DataFrame
    ) -> pd.DataFrame:
        """Rows of ``values`` (entity_id, field, value) that differ from what was last pushed."""
        last = {
            (row[0], row[1]): row[2]
            for row in self._conn.execute(
                "SELECT entity_id, field, value FROM pushed_values "
                "WHERE destination = ? AND entity = ?",
                (destination, entity),
            )
        }
        keep = [
            last.get((str(r.entity_id), str(r.field)), _MISSING) != _value_text(r.value)
            for r in values.itertuples(index=False)
        ]
        return values[np.array(keep, dtype=bool)].reset_index(drop=True)

    def forget_pushed(self, destination: str, entity: str, fields: Iterable[str]) -> int:
        """Forget what was pushed to these fields (a property HubSpot lost and that was
        made again holds none of it): the next push writes every value. Returns rows."""
        names = list(fields)
        if not names:
            return 0
        marks = ", ".join("?" * len(names))
        with self.transaction() as conn:
            return conn.execute(
                f"DELETE FROM pushed_values WHERE destination = ? AND entity = ? "
                f"AND field IN ({marks})",
                (destination, entity, *names),
            ).rowcount

    def pushed(self, destination: str, entity: str) -> pd.DataFrame:
        """What was last written to ``destination`` (entity_id, field, value): to clear it.
        A value of None (NULL) is unknown: a merge may have left one of ours there."""
        return pd.read_sql_query(
            "SELECT entity_id, field, value FROM pushed_values "
            "WHERE destination = ? AND entity = ?",
            self._conn,
            params=(destination, entity),
        )

    def mark_pushed(self, destination: str, entity: str, values: pd.DataFrame) -> None:
        stamp = now_text(self.clock)
        rows = [
            (destination, entity, str(r.entity_id), str(r.field), _value_text(r.value), stamp)
            for r in values.itertuples(index=False)
        ]
        with self.transaction() as conn:
            conn.executemany(
                "INSERT INTO pushed_values VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (destination, entity, entity_id, field) DO UPDATE SET "
                "value = excluded.value, pushed_at = excluded.pushed_at",
                rows,
            )


_MISSING = object()


def _open_for_reading(path: Path) -> sqlite3.Connection:
    """A read-only connection. SQLite reads a WAL store through its -shm file, which it
    must create when it is missing: in a folder the user cannot write it refuses, and the
    store is then read as a file no one changes (`immutable`), which is true only when no
    -wal file beside it holds changes not yet in the store itself."""
    if not path.is_file():
        raise StoreError(f"no store at {path}")
    target = path.resolve().as_uri()
    try:
        return _checked(sqlite3.connect(f"{target}?mode=ro", uri=True, isolation_level=None))
    except sqlite3.OperationalError as exc:
        code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
        if code not in (sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN):
            raise StoreError(f"cannot read the store at {path}: {exc}") from exc
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"cannot read the store at {path}: {exc}") from exc
    wal = path.with_name(path.name + "-wal")
    if wal.exists() and wal.stat().st_size > 0:
        raise StoreError(
            f"the store {path} has changes in {wal.name} that SQLite can read only by writing "
            "a file beside it, and that folder cannot be written: open it where it can be, "
            f"or copy {path.name} with its -wal and -shm files to a folder you can write"
        )
    try:
        return _checked(sqlite3.connect(f"{target}?immutable=1", uri=True, isolation_level=None))
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"cannot read the store at {path}: {exc}") from exc


def _checked(conn: sqlite3.Connection) -> sqlite3.Connection:
    """The connection once a first read worked (SQLite opens files lazily), else closed."""
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except BaseException:
        conn.close()
        raise
    return conn


def _cannot_write(path: Path, exc: sqlite3.OperationalError) -> StoreError | None:
    """What to do about a write SQLite refused for good, or None for another error."""
    code = getattr(exc, "sqlite_errorcode", 0) & 0xFF  # the primary code, without detail
    if code == sqlite3.SQLITE_READONLY:
        return StoreError(
            f"the store {path} is read-only (the file, or the folder it is in): make both "
            "writable, or set store to a file in a folder you can write"
        )
    if code == sqlite3.SQLITE_FULL:
        return StoreError(f"the disk that holds the store {path} is full: free some space")
    return None


def _ensure_output(conn: sqlite3.Connection, table: OutputTable) -> None:
    for statement in _output_ddl(table):
        conn.execute(statement)
    have = {row[1] for row in conn.execute(f"PRAGMA table_info({table.name})")}
    for column in table.columns:
        if column.name not in have:  # NOT NULL cannot be added to rows that exist
            sql_type = _OUTPUT_SQL_TYPES[column.kind]
            conn.execute(f"ALTER TABLE {table.name} ADD COLUMN {column.name} {sql_type}")


def _write_cursor(
    conn: sqlite3.Connection, source: str, table: str, value: str, stamp: str
) -> None:
    conn.execute(
        "INSERT INTO sync_cursors VALUES (?, ?, ?, ?) ON CONFLICT (source, table_name) "
        "DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        (source, table, value, stamp),
    )


def _keep_only(
    conn: sqlite3.Connection, table: str, only: KeptOnly, source: str | None, stamp: str
) -> None:
    """Of ``source``'s rows whose ``only.column`` is one of ``only.values``, those whose id
    was missing from this listing and the one before go (`Store.unlisted_rows`); the ids
    missing for the first time are kept for the next listing."""
    missing, before, _ = _unlisted(conn, table, only, source)
    ids = REPLACED_BY.get(table, TABLES[table].key[0])
    gone = [i for i in missing if i in before]
    mine = "" if source is None else " AND source = ?"
    conn.executemany(
        f'DELETE FROM "{table}" WHERE "{ids}" = ?{mine}',
        [(i, *(() if source is None else (source,))) for i in gone],
    )
    first = sorted(set(missing) - set(gone))
    _write_cursor(conn, source or "", f"unlisted:{table}:{only.name}", json.dumps(first), stamp)


def _unlisted(
    conn: sqlite3.Connection, table: str, only: KeptOnly, source: str | None
) -> tuple[list[str], set[str], int]:
    ids = REPLACED_BY.get(table, TABLES[table].key[0])
    values = ", ".join("?" * len(only.values))
    mine = "" if source is None else " AND source = ?"
    bound = (*only.values, *(() if source is None else (source,)))
    where = f'"{only.column}" IN ({values}){mine}'
    stored = [
        str(r[0])
        for r in conn.execute(f'SELECT DISTINCT "{ids}" FROM "{table}" WHERE {where}', bound)
    ]
    kept = set(only.ids)
    missing = sorted(i for i in stored if i not in kept)
    row = conn.execute(
        "SELECT value FROM sync_cursors WHERE source = ? AND table_name = ?",
        (source or "", f"unlisted:{table}:{only.name}"),
    ).fetchone()
    before = set(json.loads(row[0])) if row else set()
    return missing, before, len(stored)


def _repoint(
    conn: sqlite3.Connection, table: str, moves: Sequence[tuple[str, str]], source: str | None
) -> None:
    """Rows of ``source`` that name a record merged away name the one it became (another
    source's ids are its own). Where the name is part of a key and the new name's row is
    there already, the old row goes. One statement per table, not per merge: a store
    upgraded by migration 8 may meet thousands of merges at once. What was pushed to
    either record may now be on the kept one (HubSpot keeps the primary's value of each
    property, the other's where it had none; articles before 2024 said the newest), so
    each such field is remembered on the kept record as unknown (`_pushed_merged`)."""
    pairs = [(old, new) for old, new in moves if old != new]
    if not pairs:
        return
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS _moves (old TEXT PRIMARY KEY, new TEXT)")
    conn.execute("DELETE FROM _moves")
    conn.executemany("INSERT OR REPLACE INTO _moves VALUES (?, ?)", pairs)
    mine = "" if source is None else " AND source = ?"
    bound = () if source is None else (source,)
    targets = [(other, column, "") for other, column in REFERENCES.get(table, ())]
    kind = ASSOCIATION_TYPES.get(table)
    if kind:
        targets += [("associations", f"{side}_id", f" AND {side}_type = '{kind}'")
                    for side in ("from", "to")]  # fmt: skip
    for other, column, also in targets:
        moved = f'(SELECT new FROM _moves WHERE old = "{other}"."{column}")'
        where = f'"{column}" IN (SELECT old FROM _moves){also}{mine}'
        keyed = column in TABLES[other].key
        verb = "UPDATE OR IGNORE" if keyed else "UPDATE"
        conn.execute(f'{verb} "{other}" SET "{column}" = {moved} WHERE {where}', bound)
        if keyed:
            conn.execute(f'DELETE FROM "{other}" WHERE {where}', bound)
    _pushed_merged(conn, table)


def _pushed_merged(conn: sqlite3.Connection, table: str) -> None:
    """Every field pushed a value to a record merged away, or to the one it became, is
    remembered on the kept record with no value (NULL: "something of ours may be there").
    The next push then writes it, or clears it when the run has no value for it (the lead
    merged into a customer, the merged contact who opted out): forgetting the fields left
    the merged-away lead's score on the customer for good. Only merges that bring values
    of ours count: a kept record HubSpot lists again (it names its merged ids for good)
    or one merged with a record we never wrote to keeps what it was sent."""
    brought = (
        "SELECT 1 FROM _moves m JOIN pushed_values o ON o.entity_id = m.old "
        "WHERE m.new = pushed_values.entity_id AND o.entity = pushed_values.entity "
        "AND o.destination = pushed_values.destination AND (o.value IS NULL OR o.value != '')"
    )
    conn.execute(
        f"UPDATE pushed_values SET value = NULL WHERE entity = ? AND value != '' "
        f"AND EXISTS ({brought})",
        (table,),
    )
    conn.execute(
        "INSERT INTO pushed_values SELECT p.destination, p.entity, m.new, p.field, NULL, "
        "p.pushed_at FROM pushed_values p JOIN _moves m ON p.entity_id = m.old "
        "WHERE p.entity = ? AND (p.value IS NULL OR p.value != '') "
        "ON CONFLICT (destination, entity, entity_id, field) DO UPDATE SET value = NULL",
        (table,),
    )
    conn.execute(
        "DELETE FROM pushed_values WHERE entity = ? AND entity_id IN (SELECT old FROM _moves) "
        "AND entity_id NOT IN (SELECT new FROM _moves)",
        (table,),
    )


def _unseen(table: str, sources: Sequence[str]) -> str:
    """Rows of these sources whose key is not in the table's temp list of keys met."""
    match = " AND ".join(f't."{k}" = s."{k}"' for k in TABLES[table].key)
    marks = ", ".join("?" * len(sources))
    return f"source IN ({marks}) AND NOT EXISTS (SELECT 1 FROM _seen_{table} s WHERE {match})"


def _forget_named(conn: sqlite3.Connection, table: str, ids: Sequence[str], source: str) -> None:
    """Rows of ``source`` that name records deleted for good (another source's "51" is
    another record): a row that exists only as the link (an activity, an association, a
    stage of the deal) goes; one that is a record of its own (a deal, an order) stays, no
    longer naming them."""
    olds = [(rid, source) for rid in ids]
    for other, column in REFERENCES.get(table, ()):
        if column in TABLES[other].key:
            conn.executemany(f'DELETE FROM "{other}" WHERE "{column}" = ? AND source = ?', olds)
        else:
            conn.executemany(
                f'UPDATE "{other}" SET "{column}" = NULL WHERE "{column}" = ? AND source = ?',
                olds,
            )
    kind = ASSOCIATION_TYPES.get(table)
    for side in ("from", "to") if kind else ():
        conn.executemany(
            f"DELETE FROM associations WHERE {side}_type = '{kind}' AND {side}_id = ? "
            "AND source = ?",
            olds,
        )


def _forget_outputs(
    conn: sqlite3.Connection, kind: str, entity: str, ids: Iterable[str], run_id: int | None
) -> int:
    """Delete every run's rows of output table ``kind`` about these records, and note the
    run that did (`latest_run_with` tells readers the outputs changed). Returns rows deleted."""
    keys = sorted({str(i) for i in ids})
    deleted = 0
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        marks = ", ".join("?" * len(chunk))
        deleted += conn.execute(
            f"DELETE FROM {kind} WHERE entity = ? AND entity_id IN ({marks})", (entity, *chunk)
        ).rowcount
    if deleted and run_id is not None:
        conn.execute(
            "INSERT INTO forgotten_outputs VALUES (?, ?) ON CONFLICT (kind) "
            "DO UPDATE SET run_id = excluded.run_id",
            (kind, run_id),
        )
    return deleted


def _output_tables(conn: sqlite3.Connection) -> list[str]:
    """Every output table as the database holds it (declared ones too): each starts with
    the run that wrote the row (`_output_ddl`); `runs` itself does not count."""
    names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    found = []
    for name in names:
        first = conn.execute(f'PRAGMA table_info("{name}")').fetchone()
        if name != "runs" and first is not None and first[1] == "run_id":
            found.append(name)
    return found


def _outputs_about_records(conn: sqlite3.Connection) -> list[str]:
    """Output tables (every run's rows) that name a record by entity and id: the shared
    ones and any a step declared, as the database holds them."""
    names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    found = []
    for name in names:
        columns = {r[1] for r in conn.execute(f'PRAGMA table_info("{name}")')}
        if {"run_id", "entity", "entity_id"} <= columns and name != "pushed_values":
            found.append(name)
    return sorted(found)


def _archived_text(when: str) -> str:
    return pd.Timestamp(when).tz_convert("UTC").strftime(_TIME_FORMAT)


def _key_value(table: str, value: str) -> Any:
    kind = TABLES[table].column(TABLES[table].key[-1]).kind
    return int(value) if kind == "int" else value


def _value_text(value: Any) -> str | None:
    if value is None or (not isinstance(value, list | dict) and pd.isna(value)):
        return None
    if isinstance(value, float):
        return repr(round(value, 10))
    if isinstance(value, list | dict):
        return json.dumps(value, sort_keys=True)
    return str(value)


def _reasons_json(value: Any) -> str | None:
    if isinstance(value, list | tuple):
        return json.dumps(list(value))
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    return json.dumps([str(value)])


def _int_or_none(value: Any) -> int | None:
    return None if value is None or pd.isna(value) else int(value)


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:  # Windows raises OSError for an unknown pid
        return False
    return True


def _typed(table: str, raw: pd.DataFrame) -> pd.DataFrame:
    """Stored text and numbers back to the table's typed columns."""
    typed = empty_frame(table)
    out = pd.DataFrame(index=raw.index)
    for name in raw.columns:
        dtype = typed[name].dtype
        if isinstance(dtype, pd.DatetimeTZDtype):
            out[name] = pd.to_datetime(raw[name], format=_TIME_FORMAT, utc=True).astype(dtype)
        else:
            out[name] = raw[name].astype(dtype)
    return out


def _plain_rows(frame: pd.DataFrame) -> list[tuple[Any, ...]]:
    """Python values with None for missing, which is what sqlite3 binds."""
    columns = [_plain_values(frame[name]) for name in frame.columns]
    return list(zip(*columns, strict=True)) if columns else []


def _plain_values(series: pd.Series) -> list[Any]:
    """A typed column converts in one step; only a column of mixed objects goes value by value
    (numpy scalars there, which sqlite3 cannot bind, become Python ones)."""
    if series.dtype != object or pd.api.types.infer_dtype(series) in ("string", "empty"):
        return series.to_numpy(dtype=object, na_value=None).tolist()
    values = series.where(series.notna(), None).tolist()
    return [v.item() if isinstance(v, np.generic) else v for v in values]


def _to_sql_rows(
    frame: pd.DataFrame, kinds: Mapping[str, str], *extra: Any
) -> list[tuple[Any, ...]]:
    """Rows as sqlite3 binds them, each ending with the constants ``extra`` (a stamp)."""
    columns = []
    for name in frame.columns:
        series, kind = frame[name], kinds.get(str(name))
        if kind == "datetime":
            columns.append(_time_texts(pd.to_datetime(series, utc=True)).tolist())
        elif kind == "bool":
            columns.append(_plain_values(series.astype("boolean").astype("Int64")))
        else:
            columns.append(_plain_values(series))
    columns += [[value] * len(frame) for value in extra]
    return list(zip(*columns, strict=True)) if columns else []


def _time_texts(stamps: pd.Series) -> pd.Series:
    """``_TIME_FORMAT`` text of UTC times, formatted by numpy in C (strftime is per value)."""
    naive = stamps.dt.tz_localize(None).to_numpy("datetime64[us]")
    text = np.datetime_as_string(naive, unit="us").astype(object) + "Z"
    text[stamps.isna().to_numpy()] = None
    return pd.Series(text, index=stamps.index, dtype=object)
