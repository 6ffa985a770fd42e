"""Which file or tab gives which table: the config, then names, then known export layouts.

A file's layout is recognised from its first rows (read here without reading the whole
file), so ``available()`` can list every table an export gives: a Shopify orders
export named ``orders_export_1.csv`` gives orders, order lines and contacts. The files
source (a folder, a workbook's sheets) and the Google Sheets source (a spreadsheet's
tabs) both place here, so one export gives the same tables wherever it is kept.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import pandas as pd

from smbml_connect.headers import (
    header_keys,
    locate_tables,
    main_part,
    part_refused,
    table_part,
)
from smbml_connect.layouts import Layout, matching, prepare
from smbml_connect.opt_out_lists import said_no
from smbml_connect.schema import SOURCE_ROW, TABLES

__all__ = [
    "HEAD_ROWS",
    "buyers_elsewhere",
    "companions",
    "opt_out_lists",
    "period_parts",
    "place",
]

HEAD_ROWS = 40  # rows read to recognise a layout


def place(
    configured: Mapping[str, str],
    names: list[str],
    head: Callable[[str], pd.DataFrame],
    where: str,
    noun: str = "sheet or file",
    mappings: Mapping[str, Mapping[str, str]] | None = None,
) -> tuple[dict[str, str], dict[str, Layout]]:
    """Table -> file or tab, and the layout of each file or tab that has a known one.

    The config's choices come first, then names that say the table ("Customers"), then
    the main table of each recognised export, then the other tables exports give, then
    names that say a table with a period ("orders_2023.csv"). A layout that does not give
    the table a name says is not used for that file. Files, workbook sheets and Google
    Sheets tabs are all placed here (``noun`` names them in a config error). A layout is
    found by the headers the user's ``mappings`` name too (a report of one row per line
    item, mapped as advised).
    """
    located = locate_tables(configured, names, where, noun)
    named = dict(located)
    layouts: dict[str, Layout] = {}
    for name in names:
        claimed = {t for t, n in located.items() if n == name}
        if not claimed and _period_copy(name, located, head):
            continue  # more rows of a located file: read with it (``period_parts``)
        for layout in matching(head(name), mappings):
            elsewhere = {t for t in layout.together if located.get(t, name) != name}
            if claimed <= set(layout.tables) and not elsewhere:
                layouts[name] = layout
                break
    # A list of opt-outs gives contacts last: beside a shop's export it is applied to the
    # buyers (``opt_out_lists``), rather than being the only contacts there are.
    last = {n for n, lay in layouts.items() if _opt_outs(n, lay, head, True, mappings)}
    # Of two files of one export, the one a name gave a table ("Orders") gives the others
    # too: an older "Copy of Orders" to its left took the buyers and lines, with their old
    # consent, while "Orders" gave the orders. One export's tables come from one file.
    offers = sorted(
        (
            layout.rank + rank + (len(TABLES) if name in last else 0),
            not any(named.get(t) == name for t in layout.tables),
            i,
            table,
            name,
        )
        for i, (name, layout) in enumerate(layouts.items())
        for rank, table in enumerate(layout.tables)
    )
    for _, _, _, table, name in offers:
        located.setdefault(table, name)
    # A file whose rows are split between tables (orders and their lines) gives them all
    # or none: with one of them taken by another export, it is read as a plain file.
    for name, layout in list(layouts.items()):
        if any(located.get(t) != name for t in layout.together):
            del layouts[name]
            for table in [t for t, n in located.items() if n == name and named.get(t) != name]:
                del located[table]
    # Last, a table no name or export gave, from names that say it with a period
    # ("Orders 2023" alone): the others are ``period_parts`` of the one chosen.
    periods: dict[str, list[str]] = {}
    for name in names:
        part = table_part(name)
        if part and part not in located and name not in {*located.values(), *layouts}:
            periods.setdefault(part, []).append(name)
    for part, candidates in periods.items():
        located[part] = main_part(
            candidates, {name: frozenset(_headers(head(name))) for name in candidates}
        )
    return located, layouts


def _period_copy(
    name: str, located: Mapping[str, str], head: Callable[[str], pd.DataFrame]
) -> bool:
    """Whether ``name`` is a period's part of a table a name gave ("orders_2023.csv" beside
    "orders.csv", same headers). Such a file takes no layout of its own: matched alone it
    may look like another export's table (a flat sales file's rows like order lines), which
    would take that table from the file it belongs with."""
    table = table_part(name)
    if table is None or table not in located or located[table] == name:
        return False
    return header_keys(_headers(head(name))) == header_keys(_headers(head(located[table])))


def companions(located: Mapping[str, str], layouts: Mapping[str, Layout]) -> dict[str, list[str]]:
    """Files or tabs of the same export as one already used: read with it, not left out.

    Shopify splits a large export into orders_export_1.csv, orders_export_2.csv, ...;
    Mailchimp writes one file per status (subscribed, unsubscribed, cleaned).
    """
    used = set(located.values())
    out: dict[str, list[str]] = {}
    for name, layout in layouts.items():
        if name in used:
            continue
        main = next((n for n in layouts if n in used and layouts[n] is layout), None)
        if main is not None:
            out.setdefault(main, []).append(name)
    return out


def opt_out_lists(
    located: Mapping[str, str],
    layouts: Mapping[str, Layout],
    used: set[str],
    head: Callable[[str], pd.DataFrame],
    mappings: Mapping[str, Mapping[str, str]] | None = None,
) -> dict[str, str]:
    """Files or tabs that give no table but list people who opted out, to be applied to
    the contacts another file gives (by e-mail; ``opt_out_lists.OptOutLists``).

    Such a file gives people with e-mails of whom some, in its first rows, said no
    (``_opt_outs``): "Mailchimp unsubscribed", a shop's own unsubscribe list or a second
    customer list with a "Do Not Email" column must not be left unread beside a customer
    list, since the customers it names said no; only their no's are applied. A table has one file, so
    these are not a second contacts table: their opt-outs join the contacts' consent.
    Returns each such name with the export it is.
    """
    if "contacts" not in located:
        return {}
    return {
        name: layout.name
        for name, layout in layouts.items()
        if name not in used and _opt_outs(name, layout, head, False, mappings)
    }


def buyers_elsewhere(located: Mapping[str, str], layouts: Mapping[str, Layout]) -> dict[str, str]:
    """Files or tabs that give other tables (a shop's orders export giving the orders)
    while another gives the contacts (a `Customers` tab): their people's "no"s still
    count, applied to the contacts by e-mail as a list's are (consent fails closed; they
    were read for the orders and their "Accepts Marketing = no" dropped). Returns each
    with the tables it gives, for the line that says which file opted whom out."""
    contacts = located.get("contacts")
    if contacts is None:
        return {}
    out: dict[str, str] = {}
    for name, layout in layouts.items():
        gives = [t for t in TABLES if located.get(t) == name]
        if name != contacts and gives and "contacts" in layout.tables:
            said = [t.replace("_", " ") for t in gives]
            out[name] = " and ".join([", ".join(said[:-1]), said[-1]] if len(said) > 1 else said)
    return out


def _opt_outs(
    name: str,
    layout: Layout,
    head: Callable[[str], pd.DataFrame],
    every: bool,
    mappings: Mapping[str, Mapping[str, str]] | None = None,
) -> bool:
    """Whether ``name`` gives people with e-mails who opted out (``every``: all of them):
    an export of one member status (Mailchimp's unsubscribed or cleaned), a suppression
    export, a shop owner's own "unsubscribes" sheet (`Email`, `Unsubscribed At`), or a
    second customer list whose "Do Not Email" says yes for some: a file left unread must
    not let its opt-outs through."""
    if "contacts" not in layout.tables:
        return False
    members, _ = prepare(head(name), layout, name, mappings).table("contacts")
    if "email" not in members or members["email"].isna().all():
        return False
    said = said_no(members)
    return bool(said) and (all(said) if every else any(said))


def period_parts(
    located: Mapping[str, str],
    names: list[str],
    used: set[str],
    head: Callable[[str], pd.DataFrame],
) -> tuple[dict[str, list[str]], dict[str, str]]:
    """More rows of a located table, split by period ("Orders 2023" beside "Orders",
    orders_2024.csv beside orders_2023.csv): the parts to read with each table's file or
    tab (same headers), and why each other such part is not read."""
    parts: dict[str, list[str]] = {}
    refused: dict[str, str] = {}
    for name in names:
        table = table_part(name)
        if name in used or table is None or table not in located:
            continue
        main = located[table]
        why = part_refused(table, main, _headers(head(name)), _headers(head(main)))
        if why is None:
            parts.setdefault(main, []).append(name)
        else:
            refused[name] = why
    return parts, refused


def _headers(head: pd.DataFrame) -> set[str]:
    return {str(c) for c in head.columns if c != SOURCE_ROW}
