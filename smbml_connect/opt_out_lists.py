"""Lists of opt-outs beside the contacts: applied to the contacts they name, by e-mail.

Shared by the files source and the Google Sheets source (a tab "Unsubscribes" beside
"Customers" was ignored there). A Mailchimp export of unsubscribed or cleaned members next
to a customer list gives no table of its own (the customer list gives contacts), yet every address in it said no.
Each contact whose e-mail (case and spaces aside) is listed gets the list's name in the
column ``consent.OPT_OUT_LIST``, kept in ``extra``, which the pipeline reads as it reads
every opt-out column: an opt-out whatever the contact's own consent says, or whichever
column ``[consent] column`` names. One line per list says how many of its addresses
matched a contact and how many named none.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

from smbml_connect.consent import OPT_OUT_LIST, is_opt_out_header, read_consent
from smbml_connect.ports import Notice, SourceReject

__all__ = ["OptOutLists", "said_no"]

# A list's members and the lines of it that could not be read.
Reader = Callable[[str], tuple[pd.DataFrame, list[SourceReject]]]


def said_no(members: pd.DataFrame) -> list[bool]:
    """Per member, whether the list says they opted out: its consent column, or a column
    whose header is an opt-out ("Unsubscribed At" with a date, "Do Not Email" with a yes),
    as a shop owner's own unsubscribe list or a Klaviyo suppression export writes it."""
    consent = members.get("marketing_consent", pd.Series(None, index=members.index))
    no = [read_consent(v).decision == "opt-out" for v in consent]
    for header in members.columns:
        if isinstance(header, str) and is_opt_out_header(header):
            said = [read_consent(v, header).decision == "opt-out" for v in members[header]]
            no = [a or b for a, b in zip(no, said, strict=True)]
    return no


def _address(value: object) -> str | None:
    text = str(value).strip().casefold() if isinstance(value, str) else ""
    return text if "@" in text else None


@dataclass
class OptOutLists:
    """The lists (file or tab names), read once, then applied to each page of contacts."""

    names: dict[str, str]  # list -> the export it is ("Mailchimp audience export")
    read: Reader  # a list's contacts, canonical headers, with its unreadable lines
    noun: str = "File"  # what a list is to the user: a "File", a "Tab"
    # Of ``names``, those that give other tables (an orders export beside a customers
    # list) -> those tables: only their people's "no"s are applied, and said when any are.
    gives: dict[str, str] = field(default_factory=dict)
    _listed: dict[str, str] | None = None  # address -> the list that holds it
    _counts: dict[str, int] = field(default_factory=dict)  # list -> addresses in it
    _rows: dict[str, int] = field(default_factory=dict)  # list -> its rows with an address
    _unread: dict[str, list[int]] = field(default_factory=dict)  # list -> lines not read
    _matched: set[str] = field(default_factory=set)  # addresses some contact has
    _emails: bool = False  # whether any contact had an e-mail to match

    def _load(self) -> dict[str, str]:
        if self._listed is None:
            self._listed = {}
            for name in self.names:
                members, rejects = self.read(name)
                out = said_no(members)
                addresses = {
                    a
                    for a, no in zip(map(_address, members.get("email", [])), out, strict=False)
                    if a and no
                }
                for address in sorted(addresses):
                    self._listed.setdefault(address, name)
                self._counts[name] = len(addresses)
                self._rows[name] = sum(1 for a in map(_address, members.get("email", [])) if a)
                self._unread[name] = [r.row for r in rejects]
        return self._listed

    def apply(self, contacts: pd.DataFrame) -> pd.DataFrame:
        """``contacts`` with ``OPT_OUT_LIST`` naming the list for each contact it lists."""
        listed = self._load()
        found = pd.Series(None, index=contacts.index, dtype=object)
        for column in ("email", "contact_id"):  # a list kept by e-mail has it as its key
            if column not in contacts.columns:
                continue
            keys = contacts[column].map(_address)
            self._emails |= bool(keys.notna().any())
            hit = keys.map(listed)
            found = found.where(found.notna(), hit)
            self._matched |= set(keys[hit.notna()])
        if not found.notna().any():
            return contacts
        out = contacts.copy()
        if OPT_OUT_LIST in out.columns:  # the user's own column of that name: kept elsewhere
            found = found.where(found.notna(), out[OPT_OUT_LIST])
        out[OPT_OUT_LIST] = found
        return out

    def notices(self) -> list[Notice]:
        """One line per list: its addresses that matched a contact, and those that did not."""
        listed = self._load()
        lines = []
        for name in self.names:
            total = self._counts[name]
            matched = sum(1 for a in self._matched if listed.get(a) == name)
            if name in self.gives and not total and not self._unread.get(name):
                continue  # an orders export whose buyers all said yes: nothing to say
            lines.append(
                Notice("opt_out_list", "contacts", matched, self._line(name, total, matched))
            )
        return lines

    def _line(self, name: str, total: int, matched: int) -> str:
        if name in self.gives:
            return self._giver_line(name, total, matched)
        rest = total - matched
        rows = self._rows.get(name, total)
        what = (
            "lists only people who opted out or never subscribed"
            if rows <= total
            else f"gives no table of its own, but {total:,} of its {rows:,} people said no"
        )
        text = (
            f"{self.noun} {name!r} ({self.names[name]}) {what}: read as a list of opt-outs. "
            f"{matched:,} of its {total:,} address"
            f"{'' if total == 1 else 'es'} matched a contact, who is opted out whatever the "
            f"contact's own consent says (column {OPT_OUT_LIST!r}); {rest:,} named no contact"
        )
        if rest and not self._emails:
            text += " (the contacts have no e-mail to match them by)"
        if rows > total:  # a list of people, most of whom said nothing: they are not loaded
            others = rows - total
            people = f"{others:,} {'person is' if others == 1 else 'people are'}"
            text += (
                f". Its other {people} not loaded: contacts are read from "
                f"one {self.noun.lower()} only (to use this one's, name it in the config: "
                f"[source.tables] contacts = {name!r})"
            )
        return text + self._unread_words(name) + "."

    def _giver_line(self, name: str, total: int, matched: int) -> str:
        """A file read for other tables whose people said no: which, and that it counts."""
        text = (
            f"{self.noun} {name!r} ({self.names[name]}) gives the {self.gives[name]}, and "
            f"{total:,} of its people said no to marketing there: {matched:,} of them matched "
            f"a contact, who is opted out whatever the contact's own consent says (column "
            f"{OPT_OUT_LIST!r}); {total - matched:,} named no contact"
        )
        if total - matched and not self._emails:
            text += " (the contacts have no e-mail to match them by)"
        return text + self._unread_words(name) + "."

    def _unread_words(self, name: str) -> str:
        unread = self._unread.get(name, [])
        text = ""
        if unread:
            shown = ", ".join(map(str, unread[:5])) + (" ..." if len(unread) > 5 else "")
            text += (
                f"; {len(unread):,} of its lines could not be read (line {shown}), so any "
                "opt-out they hold is not applied: fix them and run again"
            )
        return text
