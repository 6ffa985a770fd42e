"""Lists of opt-outs beside the contacts: applied to the contacts they name, by e-mail.

Shared by the files source and the Google Sheets source (a tab "Unsubscribes" beside
"Customers" was ignored there). A Mailchimp export of unsubscribed or cleaned members next
to a customer list gives no table of its own (the customer list gives contacts), yet every address in it said no.
Each contact whose e-mail (case and spaces aside) is listed gets the list's name in the
column ``consent.OPT_OUT_LIST``, kept in ``extra``, which the pipeline reads as it reads
every opt-out column: an opt-out whatever the contact's own consent says, or whichever
column ``[consent] column`` names. One line per list says, of its own addresses, how many
matched a contact, how many of those it alone opted out, and how many named none.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

from smbml_connect.consent import (
    OPT_OUT_LIST,
    is_consent_header,
    is_opt_out_header,
    read_consent,
    says_no,
)
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


def _says_no_itself(contacts: pd.DataFrame) -> pd.Series:
    """Per contact, whether its own columns already keep it out: its consent, a second
    consent column or an opt-out column says no (or cannot be read, which counts as no)."""
    out = pd.Series(False, index=contacts.index)
    for header in contacts.columns:
        if not isinstance(header, str) or header == OPT_OUT_LIST:
            continue
        if header == "marketing_consent" or is_consent_header(header) or is_opt_out_header(header):
            out |= contacts[header].map(lambda v, h=header: says_no(v, h)).astype(bool)
    return out


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
    # A list read with other parts of one export (orders_export_2.csv) -> those parts.
    parts: dict[str, list[str]] = field(default_factory=dict)
    _listed: dict[str, str] | None = None  # address -> the first list that holds it
    _addresses: dict[str, set[str]] = field(default_factory=dict)  # list -> its opt-outs
    _rows: dict[str, int] = field(default_factory=dict)  # list -> its rows with an address
    _unread: dict[str, list[int]] = field(default_factory=dict)  # list -> lines not read
    _matched: set[str] = field(default_factory=set)  # addresses some contact has
    _own_no: set[str] = field(default_factory=set)  # of those, whose contact said no itself
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
                self._addresses[name] = addresses
                self._rows[name] = sum(1 for a in map(_address, members.get("email", [])) if a)
                self._unread[name] = [r.row for r in rejects]
        return self._listed

    def apply(self, contacts: pd.DataFrame) -> pd.DataFrame:
        """``contacts`` with ``OPT_OUT_LIST`` naming the list for each contact it lists."""
        listed = self._load()
        found = pd.Series(None, index=contacts.index, dtype=object)
        itself = None
        for column in ("email", "contact_id"):  # a list kept by e-mail has it as its key
            if column not in contacts.columns:
                continue
            keys = contacts[column].map(_address)
            self._emails |= bool(keys.notna().any())
            hit = keys.map(listed)
            found = found.where(found.notna(), hit)
            self._matched |= set(keys[hit.notna()])
            if hit.notna().any():
                itself = _says_no_itself(contacts) if itself is None else itself
                self._own_no |= set(keys[hit.notna() & itself])
        if not found.notna().any():
            return contacts
        out = contacts.copy()
        if OPT_OUT_LIST in out.columns:  # the user's own column of that name: kept elsewhere
            found = found.where(found.notna(), out[OPT_OUT_LIST])
        out[OPT_OUT_LIST] = found
        return out

    def notices(self) -> list[Notice]:
        """One line per list, counting its own addresses (a person on two lists is counted
        on both): those that matched a contact, those it alone opted out, the others."""
        self._load()
        lines = []
        for name in self.names:
            own = self._addresses[name]
            matched = own & self._matched
            if name in self.gives and not own and not self._unread.get(name):
                continue  # an orders export whose buyers all said yes: nothing to say
            lines.append(Notice("opt_out_list", "contacts", len(matched), self._line(name)))
        return lines

    def _alone(self, name: str) -> int:
        """Contacts ``name`` opted out that nothing else did: no other list names them and
        their own consent and opt-out columns do not say no."""
        others = set().union(*(a for n, a in self._addresses.items() if n != name))
        return len((self._addresses[name] & self._matched) - self._own_no - others)

    def _line(self, name: str) -> str:
        if name in self.gives:
            return self._giver_line(name)
        total = len(self._addresses[name])
        matched = len(self._addresses[name] & self._matched)
        rows = self._rows.get(name, total)
        what = (
            "lists only people who opted out or never subscribed"
            if rows <= total
            else f"gives no table of its own, but {total:,} of its {rows:,} people said no"
        )
        text = (
            f"{self._named(name)} {what}: read as a list of opt-outs. "
            f"{matched:,} of its {total:,} address{'' if total == 1 else 'es'} matched a "
            f"contact, who is opted out whatever the contact's own consent says (column "
            f"{OPT_OUT_LIST!r}){self._alone_words(name, matched)}; {total - matched:,} "
            "named no contact"
        )
        if total - matched and not self._emails:
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

    def _giver_line(self, name: str) -> str:
        """A file read for other tables whose people said no: which, and that it counts."""
        total = len(self._addresses[name])
        matched = len(self._addresses[name] & self._matched)
        people = f"{total:,} {'person' if total == 1 else 'people'}"
        text = (
            f"{self._named(name)} gives the {self.gives[name]}, and {people} in it said no "
            f"to marketing there: {matched:,} matched a contact, who is opted out whatever "
            f"the contact's own consent says (column {OPT_OUT_LIST!r})"
            f"{self._alone_words(name, matched)}; {total - matched:,} "
            f"match{'es' if total - matched == 1 else ''} no contact"
        )
        if total - matched and not self._emails:
            text += " (the contacts have no e-mail to match them by)"
        return text + self._unread_words(name) + "."

    def _named(self, name: str) -> str:
        """The list as the user knows it, with the other parts of its export read with it
        (Shopify's orders_export_2.csv holds the "no"s as much as _1 does)."""
        parts = self.parts.get(name, [])
        if not parts:
            return f"{self.noun} {name!r} ({self.names[name]})"
        shown = [repr(p) for p in parts]
        listed = (
            ", ".join(shown[:3]) + ", ..."
            if len(shown) > 3
            else " and ".join([", ".join(shown[:-1]), shown[-1]] if len(shown) > 1 else shown)
        )
        other = "other part" if len(parts) == 1 else f"{len(parts)} other parts"
        return f"{self.noun} {name!r} ({self.names[name]}, with its {other} {listed})"

    def _alone_words(self, name: str, matched: int) -> str:
        if not matched:
            return ""
        alone = self._alone(name)
        return (
            f"; {alone:,} {'was' if alone == 1 else 'were'} opted out by this "
            f"{self.noun.lower()} alone (neither another list nor their own consent said no)"
        )

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
