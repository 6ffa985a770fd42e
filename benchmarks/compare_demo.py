"""Compare two `smbml demo --out DIR` outputs: the proof that a refactor (issue 22) changed no result.

Run: .venv/bin/python benchmarks/compare_demo.py BEFORE_DIR AFTER_DIR
Each DIR holds results.xlsx, report.html and demo-store.sqlite. Prints JSON; exit code 0 when
everything matches, 1 otherwise (also for a missing file).

What is compared, and what is left out as noise (only what two runs of the same code differ in):
- workbook: tab titles and order, the header row (the first row with two or more values; a note
  row may sit above it), data row count, every cell (numbers with a relative tolerance of 1e-9;
  charts and images are not read). Up to 5 differing cells per tab.
- report: the visible text, line by line (script, style and SVG metadata left out), and each
  inline SVG chart's markup with its ids renamed by order of appearance (matplotlib salts them
  with a random uuid per run).
- store: every table's columns and row count; the content of every table as a sorted multiset of
  rows, without the bookkeeping columns (ids, run ids, pid, wall-clock *_at columns).
- in all three, a timestamp that falls inside the run's own wall-clock window (runs.started_at to
  runs.finished_at, +-1 hour) is replaced by "<run time>": the model cards' trained_at, the
  'Trained at' cells, the models' created_at. Data timestamps (the sample ends 2026-10-31) are
  never in that window, so a moved data date still shows up.
- scores.model_version: the lead and deal tags hash the model payload, which embeds trained_at,
  so they differ on every run (real non-determinism, reported under "noise"). A tag is replaced
  by the hash of its payload with the run time masked, so equal models still compare equal and
  a changed model still differs.
"""

from __future__ import annotations

import argparse
import difflib
import hashlib
import json
import math
import re
import sqlite3
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import openpyxl
from openpyxl.utils import get_column_letter

REL_TOL = 1e-9
MAX_DIFFS = 5
RUN_TIME = "<run time>"
WINDOW_SLACK = timedelta(hours=1)
TIMESTAMP = re.compile(
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?"
)
# Durations in the report (none today); masked so a faster refactor does not count as a change.
DURATION = re.compile(r"\b\d+(?:\.\d+)?\s?(?:ms|secs?|seconds?|mins?|minutes?)\b")
# Bookkeeping, not results: row ids, run ids, the process id, and when things happened. Tables
# with a synced_at column hold the source's data, where created_at etc. are data: only synced_at
# is dropped there.
BOOKKEEPING = frozenset(
    "id run_id pid created_at started_at finished_at synced_at pushed_at scored_at updated_at".split()
)
VERSION_TAG = re.compile(r"^(?P<name>.+)-(?P<hash>[0-9a-f]{10})$")

Window = tuple[datetime, datetime] | None


def _aware(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.astimezone()  # naive: the machine's local time


class Masker:
    """Replaces run-time timestamps (and counts them) so two runs of the same code compare equal."""

    def __init__(self, window: Window) -> None:
        self.window = window
        self.masked = 0

    def _in_window(self, moment: datetime) -> bool:
        if self.window is None:
            return False
        if moment.tzinfo is None:
            moment = moment.astimezone()
        return self.window[0] <= moment <= self.window[1]

    def text(self, value: str) -> str:
        def repl(match: re.Match[str]) -> str:
            moment = _aware(match.group(0).replace(" ", "T", 1))
            if moment is not None and self._in_window(moment):
                self.masked += 1
                return RUN_TIME
            return match.group(0)

        return TIMESTAMP.sub(repl, value) if "-" in value and ":" in value else value

    def value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, datetime) and self._in_window(value):
            self.masked += 1
            return RUN_TIME
        return value


def run_window(store: Path) -> Window:
    """The wall-clock span of the demo run, from the store's runs table."""
    db = _connect(store)
    try:
        row = db.execute("SELECT min(started_at), max(finished_at) FROM runs").fetchone()
    finally:
        db.close()
    start, end = (_aware(v) if v else None for v in row)
    if start is None:
        return None
    return start - WINDOW_SLACK, (end or start) + WINDOW_SLACK


def same(a: Any, b: Any) -> bool:
    """Equal, with floats (and ints against floats) within REL_TOL; NaN equals NaN."""
    numbers = (int, float)
    if isinstance(a, numbers) and isinstance(b, numbers) and not isinstance(a, bool | str):
        if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
            return True
        return math.isclose(a, b, rel_tol=REL_TOL, abs_tol=0.0)
    return a == b


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, str | int | float | bool) or value is None:
        return value if not isinstance(value, str) or len(value) <= 300 else value[:300] + "..."
    return str(value)


# ---------------------------------------------------------------- workbook


def _sheet_rows(ws: Any, mask: Masker) -> list[tuple[Any, ...]]:
    rows = [tuple(mask.value(v) for v in row) for row in ws.iter_rows(values_only=True)]
    while rows and all(v is None for v in rows[-1]):
        rows.pop()
    width = max((max((i + 1 for i, v in enumerate(r) if v is not None), default=0) for r in rows),
                default=0)  # fmt: skip
    return [r[:width] + (None,) * (width - len(r)) for r in rows]


def _header_index(rows: Sequence[tuple[Any, ...]]) -> int:
    """The first row with two or more values; the rows above it are notes."""
    for i, row in enumerate(rows):
        if sum(v is not None for v in row) >= 2:
            return i
    return 0


def compare_workbook(before: Path, after: Path, masks: tuple[Masker, Masker]) -> dict[str, Any]:
    # Not read_only: that mode trusts the file's stored dimensions. Charts and images are dropped.
    books = [openpyxl.load_workbook(p, data_only=False) for p in (before, after)]
    titles = [b.sheetnames for b in books]
    out: dict[str, Any] = {"equal": titles[0] == titles[1], "tabs": {}}
    if titles[0] != titles[1]:
        out["titles"] = {"before": titles[0], "after": titles[1]}
    for title in [t for t in titles[0] if t in titles[1]]:
        a, b = (_sheet_rows(book[title], m) for book, m in zip(books, masks, strict=True))
        ha, hb = _header_index(a), _header_index(b)
        tab: dict[str, Any] = {"rows": len(a) - ha - 1 if a else 0}
        if (ha, a[ha : ha + 1]) != (hb, b[hb : hb + 1]):
            tab["header"] = {
                "before": {"row": ha + 1, "values": [_jsonable(v) for v in (a[ha] if a else ())]},
                "after": {"row": hb + 1, "values": [_jsonable(v) for v in (b[hb] if b else ())]},
            }
        if len(a) - ha != len(b) - hb:
            tab["rows"] = {"before": len(a) - ha - 1, "after": len(b) - hb - 1}
        diffs = [
            {"cell": f"{get_column_letter(c + 1)}{r + 1}", "before": _jsonable(x), "after": _jsonable(y)}
            for r in range(max(len(a), len(b)))
            for c in range(max(len(a[0]) if a else 0, len(b[0]) if b else 0))
            if not same(x := _cell(a, r, c), y := _cell(b, r, c))
        ]  # fmt: skip
        if diffs:
            tab["differences"] = diffs[:MAX_DIFFS]
            tab["differing_cells"] = len(diffs)
        tab["equal"] = not ({"header", "differences"} & tab.keys()) and isinstance(tab["rows"], int)
        out["equal"] &= tab["equal"]
        out["tabs"][title] = tab
    return out


def _cell(rows: Sequence[tuple[Any, ...]], r: int, c: int) -> Any:
    return rows[r][c] if r < len(rows) and c < len(rows[r]) else None


# ---------------------------------------------------------------- report


class _ReportText(HTMLParser):
    """Visible text lines and the inline SVG charts of the report."""

    SKIP = frozenset({"script", "style", "metadata"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self.skipping = 0
        self.svg_depth = 0
        self.svgs: list[list[str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "svg":
            self.svg_depth += 1
            if self.svg_depth == 1:
                self.svgs.append([])
        if self.svg_depth:
            self.svgs[-1].append(self.get_starttag_text() or "")
        self.skipping += tag in self.SKIP

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.svg_depth:
            self.svgs[-1].append(self.get_starttag_text() or "")

    def handle_endtag(self, tag: str) -> None:
        self.skipping -= tag in self.SKIP and self.skipping > 0
        if self.svg_depth:
            self.svgs[-1].append(f"</{tag}>")
        if tag == "svg":
            self.svg_depth -= 1

    def handle_data(self, data: str) -> None:
        if self.skipping:
            return
        if self.svg_depth:
            self.svgs[-1].append(data)
        text = " ".join(data.split())
        if text:
            self.lines.append(text)


def _svg_fingerprint(parts: Iterable[str]) -> str:
    """sha256 of the SVG with ids renamed in order of appearance (metadata already left out)."""
    markup = "".join(parts)
    names: dict[str, str] = {}

    def rename(match: re.Match[str]) -> str:
        return names.setdefault(match.group(0), f"id{len(names)}")

    markup = re.sub(r'(?<=id=")[^"]+|(?<=#)[A-Za-z_][\w.-]*(?=[)"])', rename, markup)
    return hashlib.sha256(markup.encode()).hexdigest()[:16]


def _first_line_differences(a: list[str], b: list[str]) -> list[dict[str, Any]]:
    out = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op != "equal":
            out.append({"line_before": i1 + 1, "before": [_jsonable(x) for x in a[i1:i2][:3]],
                        "line_after": j1 + 1, "after": [_jsonable(x) for x in b[j1:j2][:3]]})  # fmt: skip
        if len(out) == MAX_DIFFS:
            break
    return out


def compare_report(before: Path, after: Path, masks: tuple[Masker, Masker]) -> dict[str, Any]:
    parsed = []
    durations = 0
    for path, mask in zip((before, after), masks, strict=True):
        parser = _ReportText()
        parser.feed(path.read_text(encoding="utf-8"))
        lines = []
        for line in parser.lines:
            line, n = DURATION.subn("<duration>", mask.text(line))
            durations += n
            lines.append(line)
        parsed.append((lines, [_svg_fingerprint(s) for s in parser.svgs]))
    (a, charts_a), (b, charts_b) = parsed
    out: dict[str, Any] = {"lines": len(a), "charts": len(charts_a), "durations_masked": durations}
    if a != b:
        out["lines"] = {"before": len(a), "after": len(b)}
        out["first_differences"] = _first_line_differences(a, b)
    if charts_a != charts_b:
        out["charts"] = {"before": len(charts_a), "after": len(charts_b)}
        out["differing_charts"] = [
            i + 1 for i, (x, y) in enumerate(zip(charts_a, charts_b, strict=False)) if x != y
        ]
    out["equal"] = a == b and charts_a == charts_b
    return out


# ---------------------------------------------------------------- store


def _connect(path: Path) -> sqlite3.Connection:
    """Read-only, and leaving nothing beside the store: a read-only connection to a WAL
    store makes -wal and -shm files it cannot remove, so a store with no -wal (closed
    cleanly) is opened as immutable."""
    closed_cleanly = not path.with_name(path.name + "-wal").exists()
    return sqlite3.connect(
        f"file:{path}?{'immutable=1' if closed_cleanly else 'mode=ro'}", uri=True
    )


def _version_map(db: sqlite3.Connection, mask: Masker) -> dict[str, str]:
    """Payload hash prefix -> hash prefix of the payload with the run time masked."""
    out = {}
    for (payload,) in db.execute("SELECT payload FROM models"):
        raw = hashlib.sha256(payload.encode()).hexdigest()[:10]
        out[raw] = hashlib.sha256(mask.text(payload).encode()).hexdigest()[:10]
    return out


def _store_rows(
    db: sqlite3.Connection, table: str, columns: list[str], mask: Masker, versions: dict[str, str]
) -> tuple[list[tuple[Any, ...]], int]:
    remapped = 0
    rows = []
    q = ", ".join(f'"{c}"' for c in columns)
    version_at = columns.index("model_version") if "model_version" in columns else -1
    for row in db.execute(f'SELECT {q} FROM "{table}"'):  # names from the schema
        row = tuple(mask.value(v) for v in row)
        if version_at >= 0 and isinstance(tag := row[version_at], str):
            m = VERSION_TAG.match(tag)
            if m and m["hash"] in versions and versions[m["hash"]] != m["hash"]:
                remapped += 1
                tag = f"{m['name']}-{versions[m['hash']]}~"
                row = (*row[:version_at], tag, *row[version_at + 1 :])
        rows.append(row)
    rows.sort(key=_sort_key)
    return rows, remapped


def _sort_key(row: tuple[Any, ...]) -> tuple[Any, ...]:
    # Floats rounded so values within the tolerance sort together; None first; types kept apart.
    return tuple(
        (0, "", 0)
        if v is None
        else (1, "n", float(f"{v:.9g}"))
        if isinstance(v, int | float)
        else (1, type(v).__name__, v)
        for v in row
    )


def compare_store(before: Path, after: Path, masks: tuple[Masker, Masker]) -> dict[str, Any]:
    dbs = [_connect(p) for p in (before, after)]
    schemas = []
    for db in dbs:
        names = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        schemas.append(
            {
                n: [(c[1], c[2]) for c in db.execute(f'PRAGMA table_info("{n}")')]
                for n in sorted(names)
            }
        )
    versions = [_version_map(db, m) for db, m in zip(dbs, masks, strict=True)]
    out: dict[str, Any] = {"equal": schemas[0].keys() == schemas[1].keys(), "tables": {}}
    if not out["equal"]:
        out["table_names"] = {"before": sorted(schemas[0]), "after": sorted(schemas[1])}
    remapped = [0, 0]
    for name in [n for n in schemas[0] if n in schemas[1]]:
        cols_a, cols_b = schemas[0][name], schemas[1][name]
        entry: dict[str, Any] = {}
        if cols_a != cols_b:
            entry["columns"] = {"before": cols_a, "after": cols_b}
        all_cols = [c for c, _ in cols_a]
        if name == "sqlite_sequence":  # autoincrement counters: ids, not results
            dropped = {"seq"}
        else:
            dropped = {"synced_at"} if "synced_at" in all_cols else BOOKKEEPING
        common = [c for c in all_cols if c in {c for c, _ in cols_b} and c not in dropped]
        results = [
            _store_rows(db, name, common, m, v)
            for db, m, v in zip(dbs, masks, versions, strict=True)
        ]
        (a, ra), (b, rb) = results
        remapped[0] += ra
        remapped[1] += rb
        entry["rows"] = len(a) if len(a) == len(b) else {"before": len(a), "after": len(b)}
        entry["compared_columns"] = len(common)
        if len(a) == len(b):
            diffs = [(x, y) for x, y in zip(a, b, strict=True)
                     if not all(same(p, q) for p, q in zip(x, y, strict=True))]  # fmt: skip
            if diffs:
                entry["differing_rows"] = len(diffs)
                entry["differences"] = [
                    {c: {"before": _jsonable(p), "after": _jsonable(q)}
                     for c, p, q in zip(common, x, y, strict=True) if not same(p, q)}
                    for x, y in diffs[:MAX_DIFFS]
                ]  # fmt: skip
        else:
            keyed = {_sort_key(r): r for r in (*a, *b)}
            ca, cb = Counter(map(_sort_key, a)), Counter(map(_sort_key, b))
            for side, extra in (("only_before", ca - cb), ("only_after", cb - ca)):
                entry[side] = [list(map(_jsonable, keyed[k])) for k in list(extra)[:MAX_DIFFS]]
        entry["equal"] = not (
            {"columns", "differences", "only_before", "only_after"} & entry.keys()
        )
        entry["equal"] &= isinstance(entry["rows"], int)
        out["equal"] &= entry["equal"]
        out["tables"][name] = entry
    out["model_versions_from_wall_clock"] = {"before": remapped[0], "after": remapped[1]}
    for db in dbs:
        db.close()
    return out


# ---------------------------------------------------------------- main


def compare(before: Path, after: Path) -> dict[str, Any]:
    masks = (
        Masker(run_window(before / "demo-store.sqlite")),
        Masker(run_window(after / "demo-store.sqlite")),
    )
    result: dict[str, Any] = {"before": str(before), "after": str(after)}
    result["workbook"] = compare_workbook(before / "results.xlsx", after / "results.xlsx", masks)
    result["report"] = compare_report(before / "report.html", after / "report.html", masks)
    result["store"] = compare_store(
        before / "demo-store.sqlite", after / "demo-store.sqlite", masks
    )
    versions = result["store"].pop("model_versions_from_wall_clock")
    result["noise"] = {
        "run_timestamps_masked": {"before": masks[0].masked, "after": masks[1].masked},
        "durations_masked": result["report"].pop("durations_masked"),
        # Real non-determinism, kept visible: see the module docstring.
        "scores_model_version_from_wall_clock": versions,
    }
    result["equal"] = all(result[k]["equal"] for k in ("workbook", "report", "store"))
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    args = parser.parse_args(argv)
    names = ("results.xlsx", "report.html", "demo-store.sqlite")
    missing = [
        str(d / n) for d in (args.before, args.after) for n in names if not (d / n).is_file()
    ]
    if missing:
        print(json.dumps({"error": "missing files", "missing": missing}, indent=2))
        return 1
    result = compare(args.before, args.after)
    print(json.dumps(result, indent=2, ensure_ascii=False, default=str))
    return 0 if result["equal"] else 1


if __name__ == "__main__":
    sys.exit(main())
