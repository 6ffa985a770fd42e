"""A key repeated across the pages of one file: the same rule as within a page.

A large file is validated and stored a page at a time, so a key whose rows sit on
different pages meets a row already in the store. The rule is the one ``validate``
applies inside a page: the row with the most values filled in wins, then the newest
``updated_at``, then the last in the file; the other row is rejected and listed with how
it differed. Only a source read whole each time (files) is tracked: an incremental one (a
CRM) may send a later version of a record in a later page, and that is an update.

Keys are kept as 64-bit hashes, not the strings (about 180 MB for 2 million rows); a
page whose hashes meet no earlier one costs one set lookup per row, and only the few rows
that do meet one are read back from the store.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd

from smbml_connect.consent import says_no
from smbml_connect.schema import (
    REJECT_COLUMNS,
    SOURCE_ROW,
    TABLES,
    Validation,
    duplicate_losers,
    duplicate_reason,
    row_json,
    shown_key,
)
from smbml_connect.store import Store


@dataclass
class Settled:
    """A page's rows to store, the rejects the rule made, and the stored rows it replaced."""

    clean: pd.DataFrame
    rejects: pd.DataFrame
    replaced: int


class KeysSeen:
    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.hashes: dict[str, set[int]] = {}
        self.rows: dict[str, dict[int, int]] = {}  # hash of a key seen -> its stored row

    def settle(
        self, table: str, frame: pd.DataFrame, checked: Validation, source: str, store: Store
    ) -> Settled:
        """Apply the rule to ``checked.clean`` (the page validated from ``frame``)."""
        none = Settled(checked.clean, pd.DataFrame(columns=REJECT_COLUMNS), 0)
        if not self.enabled or SOURCE_ROW not in frame.columns or checked.clean.empty:
            return none
        key = list(TABLES[table].key)
        kept_raw = frame.iloc[checked.kept].reset_index(drop=True)
        rows = kept_raw[SOURCE_ROW].to_numpy(dtype=np.int64)
        hashed = pd.util.hash_array(_key_text(checked.clean, key))
        seen = self.hashes.setdefault(table, set())
        listed = hashed.tolist()
        settled = none
        if not seen.isdisjoint(listed):
            settled = self._against_store(table, checked, kept_raw, rows, listed, source, store)
        keep = np.isin(np.arange(len(rows)), settled.clean.index.to_numpy())
        kept_hashes = hashed[keep].tolist()
        seen.update(kept_hashes)
        self.rows.setdefault(table, {}).update(zip(kept_hashes, rows[keep].tolist(), strict=True))
        settled.clean = settled.clean.reset_index(drop=True)
        return settled

    def kept_this_run(self, table: str, keys: pd.DataFrame) -> np.ndarray:
        """Which of ``keys`` an earlier page of this run already kept."""
        seen = self.hashes.get(table, set())
        if keys.empty or not seen:
            return np.zeros(len(keys), dtype=bool)
        hashed = pd.util.hash_array(_key_text(keys, list(TABLES[table].key))).tolist()
        return np.array([h in seen for h in hashed], dtype=bool)

    def _against_store(
        self,
        table: str,
        checked: Validation,
        raw: pd.DataFrame,
        rows: np.ndarray,
        hashed: list[int],
        source: str,
        store: Store,
    ) -> Settled:
        spec = TABLES[table]
        key = list(spec.key)
        shown = shown_key(spec, raw.columns)  # what the reason names, as validate does
        seen, earlier = self.hashes[table], self.rows[table]
        repeat = np.array([h in seen for h in hashed], dtype=bool)
        new = checked.clean[repeat]
        stored = store.read_keys(table, new[key])
        columns = list(spec.names)
        stored_rows = [earlier[h] for h in pd.util.hash_array(_key_text(stored, key)).tolist()]
        # Earlier rows sort before the page's: negative positions, then the page's own.
        rivals = pd.concat(
            [
                _whole(stored, columns).set_axis(-1 - np.arange(len(stored))),
                _whole(new, columns),
            ]
        )
        lost = duplicate_losers(shown, rivals)
        kept, rewritten = _keep_opt_outs(lost, rivals, checked.clean, stored)
        number = {-1 - i: row for i, row in enumerate(stored_rows)}
        number.update({int(i): int(rows[i]) for i in new.index})
        originals = row_json(raw, [int(i) for i in lost["loser"] if i >= 0])
        name = "+".join(shown)
        records = []
        for loser, winner, why, differed, key_text in lost.itertuples(index=False, name=None):
            records.append(
                {
                    "table": table,
                    "source": source,
                    "source_row": number[loser],
                    "column": name,
                    "value": key_text,
                    "reason": duplicate_reason(
                        shown, f"row {number[winner]}", why, differed, kept.get(loser, "")
                    ),
                    "action": "row rejected",
                    "row": originals.get(loser) if loser >= 0 else None,
                }
            )
        rejects = pd.DataFrame(records, columns=REJECT_COLUMNS)
        rejects["source_row"] = rejects["source_row"].astype("Int64")
        losers_here = [int(i) for i in lost["loser"] if i >= 0]
        return Settled(
            pd.concat([checked.clean.drop(index=losers_here), rewritten]),
            rejects.sort_values("source_row", ignore_index=True),
            replaced=int((lost["loser"] < 0).sum()) + len(rewritten),
        )


def _keep_opt_outs(
    lost: pd.DataFrame, rivals: pd.DataFrame, clean: pd.DataFrame, stored: pd.DataFrame
) -> tuple[dict[int, str], pd.DataFrame]:
    """A losing row's opt-out is kept on the winner, as ``validate`` keeps it within a page:
    on the page's row (``clean``, changed here), or on a stored row, which is then written
    again. Returns the text for each loser whose opt-out was kept, and the stored rows to
    write again (indexed below the page's rows)."""
    column = "marketing_consent"
    kept: dict[int, str] = {}
    again: dict[int, pd.Series] = {}
    if column not in rivals.columns:
        return kept, stored.iloc[:0]
    for loser, winner in zip(lost["loser"], lost["winner"], strict=True):
        mine, theirs = rivals.at[loser, column], rivals.at[winner, column]
        if not says_no(mine, column) or says_no(theirs, column):
            continue
        rivals.at[winner, column] = mine  # another loser of this winner sees it
        kept[int(loser)] = f"{column} {str(mine).strip()!r}"
        if winner >= 0:
            clean.at[winner, column] = mine
        else:
            row = stored.iloc[-1 - int(winner)].copy()
            row[column] = mine
            again[int(winner)] = row
    rewritten = pd.DataFrame(list(again.values()), index=list(again), columns=stored.columns)
    return kept, rewritten.astype(stored.dtypes.to_dict()) if again else stored.iloc[:0]


def _whole(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """The canonical columns and those kept in ``extra``, each a column of its own: two rows
    are compared over the whole row, as ``validate`` compares them within a page."""
    if "extra" not in frame.columns:
        return frame[columns]
    kept = [json.loads(t) if isinstance(t, str) and t else {} for t in frame["extra"]]
    more = pd.DataFrame(kept, index=frame.index)
    return pd.concat([frame[columns], more.drop(columns=columns, errors="ignore")], axis=1)


def _key_text(frame: pd.DataFrame, key: list[str]) -> np.ndarray:
    text = frame[key].astype(str)
    joined = text.iloc[:, 0] if len(key) == 1 else text.agg("\x1f".join, axis=1)
    return joined.to_numpy(dtype=object)
