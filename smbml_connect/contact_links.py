"""Orders, deals and activities given to the contact they mean, before anything is counted.

People type a customer's id in another case ("c2" for "C2") or name the customer by
e-mail ("Anna@x.com" in an orders sheet beside a customer list keyed by id or by a
lower-cased address). Taken as written, such an order was a customer of its own: the
spend was split between two "customers", and an order of a contact who opted out was
still listed (as "c2") with a suggestion to market to them. So, when a contacts table
is there, a record whose contact id is not one of the contacts' is given to the one
contact whose id matches it case aside, else whose e-mail address does (case and spaces
aside); a match that two contacts share stays as written. What is still unknown is no
contact's: its consent cannot be known either, so it counts in sales but in no
customer's figures (``unknown_as_none``), as the data checks say.

Last, an order may name its customer by name only: WooCommerce's Analytics orders report
writes the customer's name, which its customers report writes too (both read WooCommerce's
one customer lookup, first and last name). Such an order is the one contact whose first and
last name are that name (case and spaces aside); a name two contacts share names no one
for sure, so the order stays no one's, and one notice counts both, naming each shared name
with its orders (``_by_name``). A name is
never matched to an id or an e-mail, nor one that holds digits or an '@'.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import pandas as pd

from smbml_connect.ports import Notice

__all__ = ["LINKED", "link_to_contacts", "unknown_as_none"]

LINKED = ("orders", "deals", "activities")


def _unique_keys(keys: pd.Series, ids: pd.Series) -> dict[str, str]:
    """key -> contact id, for keys only one contact has."""
    frame = pd.DataFrame({"key": keys.to_numpy(), "id": ids.to_numpy()}).dropna()
    frame = frame[frame["key"] != ""]
    counts = frame.groupby("key")["id"].nunique()
    single = counts[counts == 1].index
    return dict(frame[frame["key"].isin(single)].drop_duplicates("key").to_numpy().tolist())


def _normal(values: pd.Series) -> pd.Series:
    return values.astype("string").str.strip().str.lower()


def _name_key(value: object) -> str | None:
    """A person's name as compared: lower case, single spaces; None for what is no name."""
    if not isinstance(value, str) or re.search(r"[\d@]", value) or not re.search(r"\w", value):
        return None
    return " ".join(value.lower().split()) or None


def _full_names(contacts: pd.DataFrame) -> tuple[dict[str, str], set[str]]:
    """Full name -> the one contact of that name, and the names two or more contacts share."""
    if not {"first_name", "last_name"} <= set(contacts.columns):
        return {}, set()
    first = contacts["first_name"].astype("string").fillna("")
    last = contacts["last_name"].astype("string").fillna("")
    names = (first + " " + last).map(_name_key)
    frame = pd.DataFrame({"key": names.to_numpy(), "id": contacts["contact_id"].to_numpy()})
    frame = frame.dropna()
    counts = frame.groupby("key")["id"].nunique()
    single = frame[frame["key"].isin(counts[counts == 1].index)].drop_duplicates("key")
    return dict(single.to_numpy().tolist()), set(counts[counts > 1].index)


def _shared(written: pd.Series, key: pd.Series, contacts: pd.DataFrame, shown: int = 5) -> str:
    """The shared names as written, most orders first: "'Leo Khan' (2 orders, 2 contacts)"."""
    first = contacts["first_name"].astype("string").fillna("")
    names = (first + " " + contacts["last_name"].astype("string").fillna("")).map(_name_key)
    people = names.value_counts()
    counts = key.value_counts()
    parts = []
    for name, n in counts.head(shown).items():
        as_written = written[key == name].iloc[0]
        orders = "1 order" if n == 1 else f"{n:,} orders"
        parts.append(f"'{as_written}' ({orders}, {int(people.get(name, 0)):,} contacts)")
    rest = len(counts) - shown
    return ", ".join(parts) + (
        f" and {rest:,} more {'name' if rest == 1 else 'names'}" if rest > 0 else ""
    )


def _by_name(orders: pd.DataFrame, contacts: pd.DataFrame) -> tuple[pd.DataFrame, list[Notice]]:
    """Orders naming their customer by name, given to the one contact of that name."""
    known = set(contacts["contact_id"].astype("string").dropna())
    written = orders["contact_id"].astype("string")
    unknown = written.notna() & ~written.isin(known).fillna(False)
    if not unknown.any():
        return orders, []
    unique, shared = _full_names(contacts)
    key = written[unknown].map(_name_key)
    found = key.map(unique).dropna()
    twice = key[key.isin(shared)]
    if found.empty and twice.empty:
        return orders, []
    out = orders.copy()
    out.loc[found.index, "contact_id"] = found.astype(str).to_numpy()
    one = len(found) == 1
    said = (
        f"{len(found):,} {'order' if one else 'orders'} named {'its' if one else 'their'} "
        "customer by name only: counted as the one contact of that name"
    )
    if not twice.empty:
        said += (
            f"; {len(twice):,} {'order names' if len(twice) == 1 else 'orders name'} a customer "
            f"two or more contacts share ({_shared(written[twice.index], twice, contacts)}): "
            "kept as orders with no known buyer, given to none of them by guess (an orders "
            "export with the customer's e-mail would tell them apart)"
        )
    return out, [Notice("contact_named", "orders", len(found) + len(twice), said + ".")]


def link_to_contacts(
    tables: Mapping[str, pd.DataFrame],
) -> tuple[dict[str, pd.DataFrame], list[Notice]]:
    """The tables with each unknown contact id replaced by the contact it means, and one
    notice per table that had any, with examples as they were written."""
    out = dict(tables)
    contacts = tables.get("contacts")
    if contacts is None or contacts.empty:
        return out, []
    ids = contacts["contact_id"].astype("string")
    known = set(ids.dropna())
    by_id = _unique_keys(_normal(ids), ids)
    by_email = _unique_keys(_normal(contacts["email"]), ids) if "email" in contacts else {}
    notices = []
    for name in LINKED:
        frame = tables.get(name)
        if frame is None or frame.empty or "contact_id" not in frame:
            continue
        written = frame["contact_id"].astype("string")
        unknown = written.notna() & ~written.isin(known).fillna(False)
        if not unknown.any():
            continue
        key = _normal(written[unknown])
        found = key.map(lambda k: by_id.get(k) or by_email.get(k) if isinstance(k, str) else None)
        found = found[found.notna()]
        if found.empty:
            continue
        frame = frame.copy()
        frame.loc[found.index, "contact_id"] = found.astype(str).to_numpy()
        out[name] = frame
        n = len(found)
        shown = ", ".join(f"'{w}'" for w in pd.unique(written[found.index])[:3])
        noun = name[:-1] if n == 1 else name
        notices.append(
            Notice(
                "contact_linked",
                name,
                n,
                f"{n:,} {noun.replace('_', ' ')} named {'its' if n == 1 else 'their'} contact "
                f"in another case or by e-mail address ({shown}"
                f"{', ...' if written[found.index].nunique() > 3 else ''}): counted as that "
                "contact's.",
            )
        )
    if "orders" in out and not out["orders"].empty and "contact_id" in out["orders"]:
        out["orders"], named = _by_name(out["orders"], contacts)
        notices += named
    return out, notices


def unknown_as_none(tables: Mapping[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Orders whose contact is not among the contacts keep counting as sales, as no one's:
    nothing says whether that person agreed to be processed."""
    out = dict(tables)
    contacts, orders = tables.get("contacts"), tables.get("orders")
    if contacts is None or contacts.empty or orders is None or orders.empty:
        return out
    known = set(contacts["contact_id"].astype("string").dropna())
    ids = orders["contact_id"].astype("string")
    unknown = (ids.notna() & ~ids.isin(known).fillna(False)).to_numpy(dtype=bool)
    if unknown.any():
        orders = orders.copy()
        orders.loc[unknown, "contact_id"] = None
        out["orders"] = orders
    return out
