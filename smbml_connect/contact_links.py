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
"""

from __future__ import annotations

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
