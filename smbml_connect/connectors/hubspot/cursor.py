"""Where an object type's sync stands, as the one text the store keeps per table.

A search cursor is a time and what was already taken at that millisecond:
- ``<ISO time>``: nothing at that millisecond yet (the next search takes it whole);
- ``<ISO time>|12,15``: those ids were taken (few: a NOT_IN filter leaves them out);
- ``<ISO time>|>1500``: every id up to 1500 was taken (a millisecond walked in id order,
  too many for a NOT_IN), so more than 100 changes in one millisecond are not re-read.
A list interrupted part way is ``list:<after>:<start ms>``: the next run carries on from
that page, and once the list ends, searches from the moment the first attempt started.
Any of them may end ``;listed=<ms>``: when every id of the object type was last listed
(records deleted for good leave no other trace; see `HubSpotSource`).

The activities table comes from several object types (calls, emails, ...): its cursor is
a JSON object of each type's own cursor (`engagement_marks`), a type not read yet absent.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import ClassVar

import pandas as pd

__all__ = [
    "NOT_IN_LIMIT",
    "ListMark",
    "Mark",
    "engagement_marks",
    "engagements_cursor",
    "iso",
    "split_listed",
    "to_ms",
    "with_listed",
]

NOT_IN_LIMIT = 100  # ids a NOT_IN filter may list
LISTED = ";listed="


def split_listed(text: str | None) -> tuple[str | None, int | None]:
    """A cursor without its ``;listed=`` end, and when that was (None: never)."""
    if text is None or LISTED not in text:
        return text, None
    core, _, when = text.rpartition(LISTED)
    return core, int(when)


def with_listed(text: str | None, listed_ms: int | None) -> str | None:
    return text if text is None or listed_ms is None else f"{text}{LISTED}{listed_ms}"


def engagement_marks(text: str | None) -> dict[str, str]:
    """Each engagement type's cursor, and when it was last listed whole (``listed:<type>``,
    epoch ms). What cannot be read (not a text this release wrote) reads as none: that
    type is listed whole again rather than skipped, and the run does not stop on it."""
    try:
        marks = json.loads(text) if text else {}
    except ValueError:
        return {}
    if not isinstance(marks, dict):
        return {}
    return {str(k): v for k, v in marks.items() if isinstance(v, str) and _readable(str(k), v)}


def _readable(key: str, value: str) -> bool:
    if ":" in key:  # "listed:<type>", "events:<type>", "forms:<guid>": epoch ms; any
        # other (an older build's) is dropped
        prefix = key.partition(":")[0] + ":"
        return prefix in ("listed:", "events:", "forms:") and value.isascii() and value.isdigit()
    try:
        if ListMark.parse(value) is None:
            Mark.parse(value)
    except (ValueError, TypeError, OverflowError):
        return False
    return True


def engagements_cursor(marks: dict[str, str]) -> str:
    return json.dumps(marks, sort_keys=True, separators=(",", ":"))


def to_ms(text: str) -> int:
    stamp = pd.Timestamp(text)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return int(stamp.value // 1_000_000)


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"


def id_order(value: str) -> tuple[int, str]:
    return (int(value), "") if value.isdigit() else (0, value)


@dataclass
class Mark:
    """Changes up to ``ms`` are in; at ``ms`` itself, ids in ``ids`` or up to ``upto`` are."""

    ms: int
    ids: set[str] = field(default_factory=set)
    upto: int | None = None

    @classmethod
    def parse(cls, text: str) -> Mark:
        when, _, taken = text.partition("|")
        if taken.startswith(">"):
            return cls(to_ms(when), upto=int(taken[1:]))
        return cls(to_ms(when), {i for i in taken.split(",") if i})

    def text(self) -> str:
        if self.upto is not None and not self.ids:
            return f"{iso(self.ms)}|>{self.upto}"
        if self.ids and len(self.ids) <= NOT_IN_LIMIT and self.upto is None:
            return iso(self.ms) + "|" + ",".join(sorted(self.ids, key=id_order))
        return iso(self.ms)  # mixed or too many to name: that millisecond is read again

    def taken(self, ms: int, rid: str) -> bool:
        if ms != self.ms:
            return ms < self.ms
        return rid in self.ids or (
            self.upto is not None and rid.isdigit() and int(rid) <= self.upto
        )

    def take(self, ms: int, rid: str) -> None:
        """Records come in change order: a later millisecond starts a new set."""
        if ms > self.ms:
            self.ms, self.ids, self.upto = ms, {rid}, None
        elif ms == self.ms:
            self.ids.add(rid)

    def copy(self) -> Mark:
        return Mark(self.ms, set(self.ids), self.upto)


@dataclass(frozen=True)
class ListMark:
    """A first full list stopped after the page that ended at ``after``."""

    after: str
    started_ms: int

    PREFIX: ClassVar[str] = "list:"

    @classmethod
    def parse(cls, text: str) -> ListMark | None:
        if not text.startswith(cls.PREFIX):
            return None
        after, _, started = text[len(cls.PREFIX) :].partition(":")
        return cls(after, int(started))

    def text(self) -> str:
        return f"{self.PREFIX}{self.after}:{self.started_ms}"
