"""Column notes of a file read in pages, said once for the whole file.

``validate`` says how it read a column ("total: 3 values written as 'N/A' were read as
missing", "Password: left out ...") for the rows it is given. A large file is validated a
page at a time, so each note came once per page with that page's count: four "Password"
notes and "N/A" totals 3, 2, 49 and 52 where the data check counted 106. The pipeline
holds a file's notes back and adds these after the last page: one per table, column and
wording, its counts summed over the pages.
"""

from __future__ import annotations

import re

import pandas as pd

from smbml_connect.schema import NOTE, REJECT_COLUMNS

__all__ = ["held_notes", "merged_notes"]

# Text that is not a count: quoted values and examples ('N/A', "(like 05/11/2024)",
# `[source.formats.orders] total = "comma"`); a count is any other number.
_QUOTED = r"'[^']*'|\"[^\"]*\"|\([^)]*\)|\[[^\]]*\]"
_PIECES = re.compile(rf"({_QUOTED})|(up to )?(?<!\w)(\d[\d,]*(?:\.\d+)?)")
_STATED = "; to state it: [source.formats."  # schema._how_to_state: dates and decimal marks
_NOUNS = re.compile(r"^(distinct value|value|date)s?\b")


def held_notes(rejects: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``rejects`` without its column notes, and those notes."""
    if rejects.empty:
        return rejects, rejects.iloc[:0]
    note = rejects["action"] == NOTE
    return rejects[~note], rejects[note]


def merged_notes(notes: list[pd.DataFrame], told: bool) -> pd.DataFrame:
    """One note per table, column and wording (its counts and examples aside), each count
    the sum over the pages ("up to" figures the largest), in the order first said.

    ``told``: the pages were read knowing the whole file's votes (``schema.Evidence``), so
    a note on how dates or decimal marks were decided (one that says how to state it)
    already counts the whole file, on every page alike: said once, not summed."""
    groups: dict[tuple[str, str, str], tuple[list[str], list[list[float]], pd.Series]] = {}
    for frame in notes:
        for _, row in frame.iterrows():
            head, _, text = str(row["reason"]).partition(": ")  # the column's name
            shape, numbers = _shape(text)
            key = (str(row["table"]), f"{head}: {shape}", str(row["column"]))
            if key in groups:
                groups[key][1].append(numbers)
            else:
                groups[key] = ([head, text], [numbers], row)
    rows = []
    for (head, text), counts, row in groups.values():
        whole = told and _STATED in text
        summed = len(counts) > 1 and not whole
        reason = f"{head}: {_recounted(text, counts)}" if summed else str(row["reason"])
        rows.append({**row.to_dict(), "reason": reason})
    return pd.DataFrame(rows, columns=REJECT_COLUMNS)


def _shape(text: str) -> tuple[str, list[float]]:
    """``text`` with its counts and examples blanked and plurals made one, and its counts."""
    numbers: list[float] = []

    def blank(match: re.Match[str]) -> str:
        if match.group(1):
            return "''"
        numbers.append(float(match.group(3).replace(",", "")))
        return (match.group(2) or "") + "#"

    shape = _PIECES.sub(blank, text)
    return re.sub(r"\b(?:was|were)\b|\b(\w+?)s\b", lambda m: m.group(1) or "w", shape), numbers


def _recounted(text: str, counts: list[list[float]]) -> str:
    """``text`` (the first page's wording and examples) with each count summed over the
    pages and the noun after it (and "was"/"were") agreeing."""
    at = iter(range(len(counts[0])))
    out: list[str] = []
    last = 0
    first_count: int | None = None
    for match in _PIECES.finditer(text):
        if match.group(1):
            continue
        i = next(at)
        column = [c[i] for c in counts if i < len(c)]
        total = max(column) if match.group(2) else sum(column)
        number = f"{int(total):,}" if total == int(total) else f"{total:,g}"
        out.append(text[last : match.start(3)] + number)
        last = match.end(3)
        rest = text[last:].lstrip(" ")
        noun = _NOUNS.match(rest)
        if noun and not match.group(2):
            first_count = int(total) if first_count is None else first_count
            word = noun.group(1) + ("" if total == 1 else "s")
            out.append(" " + word)
            last += len(text[last:]) - len(rest) + noun.end()
    merged = "".join(out) + text[last:]
    if first_count is not None:
        verb = "was" if first_count == 1 else "were"
        merged = re.sub(r"\b(was|were) read as missing", f"{verb} read as missing", merged)
    return merged
