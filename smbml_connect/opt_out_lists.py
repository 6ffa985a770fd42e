"""Lists of opt-outs beside the contacts: applied to the contacts they name, by e-mail.

Shared by the files source and the Google Sheets source (a tab "Unsubscribes" beside
"Customers" was ignored there). A Mailchimp export of unsubscribed or cleaned members next
to a customer list gives no table of its own (the customer list gives contacts), yet every address in it said no.
Each contact whose e-mail (case and spaces aside) is listed gets the names of every list
that holds it in the column ``consent.OPT_OUT_LIST`` (`join_lists`: in alphabetical order,
"; " between, each name whole), kept in ``extra``, which the pipeline reads as it reads
every opt-out column: an opt-out whatever the contact's own consent says, or whichever
column ``[consent] column`` names. One line per list says, of its own addresses, how many
matched a contact, how many of those it alone opted out, and how many named none.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import pandas as pd

from smbml_connect.consent import (
    OPT_OUT_LIST,
    is_consent_header,
    is_opt_out_header,
    opt_out_list_value,
    read_consent,
    says_no,
)
from smbml_connect.ports import Notice, SourceReject

__all__ = [
    "EXPORT_FILES",
    "ExportFiles",
    "OptOutLists",
    "join_lists",
    "merge_lists",
    "said_no",
    "split_lists",
]

# A list's members and the lines of it that could not be read.
Reader = Callable[[str], tuple[pd.DataFrame, list[SourceReject]]]
EXPORT_FILES = "export_files"  # members.attrs key: the ``ExportFiles`` they were read from


@dataclass(frozen=True)
class ExportFiles:
    """The files (or tabs) of one export read together, as the join read them: those whose
    rows were read, in order, and the copies set aside whole (a re-downloaded "orders_export_1
    (1).csv" whose every order another file holds), with the people each copy says said no.
    The list is named by the first file read, not by a copy the run set aside."""

    read: tuple[str, ...]
    copies: tuple[tuple[str, str], ...] = ()  # (copy, the file its orders are read from)
    held: tuple[tuple[str, frozenset[str]], ...] = ()  # (file, keys it alone said no in)

    def copy_no(self) -> set[str]:
        """The addresses the copies set aside say opted out."""
        copies = {c for c, _ in self.copies}
        return {a for f, keys in self.held if f in copies for a in keys if "@" in a}


LIST_SEPARATOR = "; "


def join_lists(names: Iterable[str]) -> str | None:
    """The lists ``names`` (each a list's own name, kept whole) as one value: once each, in
    alphabetical order so that a run names them alike whichever file it read first (a
    person on two lists was named by the first alone, so a count of the contacts either
    list opted out fell short of its own line's), "; " between. A name that holds ";"
    (a tab "Opt-outs; 2024") is in double quotes, as a CSV field is, so it reads back as
    one list: split at its ";", it was shown as two lists, reordered."""
    whole = {n.strip() for n in names if n.strip()}
    ordered = sorted(whole, key=lambda n: (n.casefold(), n))
    return LIST_SEPARATOR.join(map(_quoted, ordered)) or None


def merge_lists(*values: object) -> str | None:
    """Values ``join_lists`` made (or nothing) as one: every list of each, read back whole."""
    return join_lists(
        name for value in values if isinstance(value, str) for name in split_lists(value)
    )


def split_lists(value: str) -> list[str]:
    """The names of the lists ``join_lists`` joined into ``value``."""
    return [n.strip() for n in next(csv.reader([value], delimiter=";", skipinitialspace=True))]


def _quoted(name: str) -> str:
    return f'"{name.replace(chr(34), chr(34) * 2)}"' if ";" in name or name[0] == '"' else name


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


def _said_no_by(members: pd.DataFrame, files: ExportFiles | None) -> set[str]:
    """The addresses of the members who said no in the rows read. A copy set aside marked
    its people in ``OPT_OUT_LIST`` (``layouts._held_no``): those are counted as the copy's,
    the rows a part of the export set aside (an order another part holds) as the export's."""
    if files is not None and files.held:
        members = members.drop(columns=[OPT_OUT_LIST], errors="ignore")
    out = said_no(members)
    emails = map(_address, members.get("email", []))
    found = {a for a, no in zip(emails, out, strict=False) if a and no}
    if files is not None:
        found |= {a for f, keys in files.held if f in files.read for a in keys if "@" in a}
    return found


def _copies_of(files: ExportFiles | None) -> dict[str, set[str]]:
    """Address -> the copies set aside that say it opted out."""
    if files is None:
        return {}
    copies = {c for c, _ in files.copies}
    out: dict[str, set[str]] = {}
    for f, keys in files.held:
        for a in keys if f in copies else ():
            out.setdefault(a, set()).add(f)
    return out


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
    _listed: dict[str, str] | None = None  # address -> every list that holds it (`join_lists`)
    _addresses: dict[str, set[str]] = field(default_factory=dict)  # list -> its opt-outs
    _rows: dict[str, int] = field(default_factory=dict)  # list -> its rows with an address
    _unread: dict[str, list[int]] = field(default_factory=dict)  # list -> lines not read
    _matched: set[str] = field(default_factory=set)  # addresses some contact has
    _own_no: set[str] = field(default_factory=set)  # of those, whose contact said no itself
    _emails: bool = False  # whether any contact had an e-mail to match
    _files: dict[str, ExportFiles] = field(default_factory=dict)  # list -> files it was read from
    _read_no: dict[str, set[str]] = field(default_factory=dict)  # list -> its rows' own "no"s

    def _load(self) -> dict[str, str]:
        if self._listed is None:
            named: dict[str, set[str]] = {}
            for name in self.names:
                members, rejects = self.read(name)
                files = members.attrs.get(EXPORT_FILES)
                if isinstance(files, ExportFiles) and files.read:
                    self._files[name] = files
                own = _said_no_by(members, self._files.get(name))
                addresses = own | (files.copy_no() if name in self._files else set())
                copied = _copies_of(self._files.get(name))
                for address in addresses:  # a copy's own "no" names that copy
                    said = copied.get(address) if address not in own else None
                    named.setdefault(address, set()).update(said or {self.shown(name)})
                self._addresses[name] = addresses
                self._read_no[name] = own
                self._rows[name] = sum(1 for a in map(_address, members.get("email", [])) if a)
                self._unread[name] = [r.row for r in rejects]
            self._listed = {
                a: join_lists(map(opt_out_list_value, lists)) or "" for a, lists in named.items()
            }
        return self._listed

    def apply(self, contacts: pd.DataFrame) -> pd.DataFrame:
        """``contacts`` with ``OPT_OUT_LIST`` naming the lists of each contact they list."""
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
        if OPT_OUT_LIST in out.columns:  # a copy set aside (`layouts._held_no`) named some
            found = pd.Series(map(merge_lists, out[OPT_OUT_LIST], found), index=out.index)
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
        where, copies = self._copies_words(name)
        text = (
            f"{self._named(name)} gives the {self.gives[name]}, and {people} {where} said no "
            f"to marketing there{copies}: {matched:,} matched a contact, who is opted out whatever "
            f"the contact's own consent says (column {OPT_OUT_LIST!r})"
            f"{self._alone_words(name, matched)}; {total - matched:,} "
            f"match{'es' if total - matched == 1 else ''} no contact"
        )
        if total - matched and not self._emails:
            text += " (the contacts have no e-mail to match them by)"
        return text + self._unread_words(name) + "."

    def shown(self, name: str) -> str:
        """The list's file as the user should know it: the first file of its export whose
        rows were read (a copy set aside whole does not name the export it copies)."""
        files = self._files.get(name)
        return files.read[0] if files is not None else name

    def sources(self, name: str) -> list[str]:
        """Each file a list's "no"s come from, with how it was read (for `smbml inspect`)."""
        self._load()
        files = self._files.get(name)
        if files is None:
            return [f"{name} (opt-outs)", *(f"{p} (opt-outs)" for p in self.parts.get(name, []))]
        copies = [f"{c} (opt-outs; a copy of {of}, set aside)" for c, of in files.copies]
        return [*(f"{f} (opt-outs)" for f in files.read), *copies]

    def _others(self, name: str) -> list[str]:
        files = self._files.get(name)
        return list(files.read[1:]) if files is not None else self.parts.get(name, [])

    def _named(self, name: str) -> str:
        """The list as the user knows it, with the other parts of its export read with it
        (Shopify's orders_export_2.csv holds the "no"s as much as _1 does)."""
        parts, shown = self._others(name), self.shown(name)
        if not parts:
            return f"{self.noun} {shown!r} ({self.names[name]})"
        said = [repr(p) for p in parts]
        listed = (
            ", ".join(said[:3]) + ", ..."
            if len(said) > 3
            else " and ".join([", ".join(said[:-1]), said[-1]] if len(said) > 1 else said)
        )
        other = "other part" if len(parts) == 1 else f"{len(parts)} other parts"
        return f"{self.noun} {shown!r} ({self.names[name]}, with its {other} {listed})"

    def _copies_words(self, name: str) -> tuple[str, str]:
        """Where the list's people said no, and what its copies set aside add: how many of
        them a copy names, and how many only a copy names (an older state of a person whose
        "no" still counts: consent fails closed)."""
        files = self._files.get(name)
        if files is None or not files.copies:
            return "in it", ""
        one = len(files.copies) == 1
        copies = " and ".join(repr(c) for c, _ in files.copies)
        read_from = " and ".join(dict.fromkeys(repr(of) for _, of in files.copies))
        theirs = files.copy_no()
        only = theirs - self._read_no[name]
        text = (
            f", {len(theirs):,} of them in {'its copy' if one else 'its copies'} {copies}"
            f"{'' if only else ' too'} (set aside: {'its' if one else 'their'} orders are read "
            f"from {read_from})"
        )
        if only:
            text += f", {len(only):,} only there (a copy's no counts too)"
        return ("in it" if not only else f"in it or {'its copy' if one else 'its copies'}"), text

    def _alone_words(self, name: str, matched: int) -> str:
        if not matched:
            return ""
        alone = self._alone(name)
        files = self._files.get(name)
        copy = "" if files is None or not files.copies else " or its copy"
        return (
            f"; {alone:,} {'was' if alone == 1 else 'were'} opted out by this "
            f"{self.noun.lower()}{copy} alone (neither another list nor their own consent said no)"
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
