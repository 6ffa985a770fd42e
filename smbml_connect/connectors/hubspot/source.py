"""HubSpot as a source: contacts (with their companies), deals, orders, line items, products.

The first run lists every record (pages of 100, associations inline). Later runs search
on the last-modified property from the stored cursor, sorted ascending (pages of 200),
and get past search's 10,000-result cap by restarting from the last timestamp seen (or,
when 10,000 records share one millisecond, by walking record ids inside it), so no
record is lost or repeated. Records arrive in pages of about 1,000; the pipeline commits
each page and its cursor together, so a killed sync resumes where it stopped. The cursor
never passes the moment the sync started. Archived records are listed every run and
marked in the store.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from queue import Full, Queue
from typing import Any, TypeVar

import pandas as pd
from hubspot.crm.associations.v4 import BatchInputPublicFetchAssociationsBatchRequest
from hubspot.crm.objects import BatchReadInputSimplePublicObjectId, PublicObjectSearchRequest

from smbml_connect.connectors.hubspot.http import HubSpotApi
from smbml_connect.connectors.hubspot.mapping import (
    COMPANY_PROPERTIES,
    OBJECTS,
    ObjectSpec,
    association_rows,
    deal_stage_rows,
    records_to_frame,
)
from smbml_connect.errors import ConfigError
from smbml_connect.ports import Page

__all__ = ["LIST_PAGE", "SEARCH_CAP", "SEARCH_PAGE", "HubSpotSource", "Page"]

log = logging.getLogger(__name__)
T = TypeVar("T")
LIST_PAGE = 100
SEARCH_PAGE = 200
SEARCH_CAP = 10_000
ASSOCIATION_BATCH = 1000
NOT_IN_LIMIT = 100  # ids a NOT_IN filter may list
READ_BATCH = 100


def _ms(text: str) -> int:
    """The cursor's time; a cursor is "<ISO time>" or "<ISO time>|<ids given at that time>"."""
    stamp = pd.Timestamp(text.split("|", 1)[0])
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return int(stamp.value // 1_000_000)


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"


def _seen(cursor: str) -> set[str]:
    """Ids the last sync already took at the cursor's millisecond."""
    _, _, ids = cursor.partition("|")
    return {i for i in ids.split(",") if i}


def _cursor(ms: int, ids: set[str]) -> str:
    """The ids ride along (when few), so the next search can leave them out instead of
    reading them again: the cursor stays inclusive (GTE) for anything else at that time."""
    if ids and len(ids) <= NOT_IN_LIMIT:
        return _iso(ms) + "|" + ",".join(sorted(ids, key=_id_order))
    return _iso(ms)


def _modified_ms(record: Mapping[str, Any], prop: str) -> int:
    value = (record.get("properties") or {}).get(prop) or record.get("updatedAt")
    text = str(value)
    return int(text) if text.isdigit() else _ms(text)


class HubSpotSource:
    """Pull canonical tables from one HubSpot account through ``HubSpotApi``."""

    name = "hubspot"
    incremental = True

    def __init__(
        self,
        api: HubSpotApi,
        mapping: Mapping[str, Mapping[str, str]] | None = None,
        page_rows: int = 1000,
        started: datetime | None = None,
        search_cap: int = SEARCH_CAP,
        entities: tuple[str, ...] | None = None,
    ) -> None:
        self.api = api
        self.mapping = mapping or {}
        self.page_rows = page_rows
        self.search_cap = search_cap
        self.entities = list(entities or OBJECTS)
        self.started_ms = int((started or datetime.now(tz=UTC)).timestamp() * 1000)
        self._kinds: dict[str, dict[str, str]] = {}
        self._companies: dict[str, dict[str, Any]] = {}
        self._newest: dict[str, tuple[int, set[str]]] = {}  # newest change seen, ids at it

    def available(self) -> list[str]:
        return self.entities

    def pull(self, entity: str, since: str | None = None) -> pd.DataFrame:
        """Everything at once (for callers that do not commit page by page)."""
        frames = [p.tables[entity] for p in self.pull_pages(entity, since) if entity in p.tables]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    def pull_pages(self, entity: str, since: str | None = None) -> Iterator[Page]:
        spec = self._spec(entity)
        kinds = self._property_kinds(spec.object_type)
        wanted = [p for p in dict.fromkeys(spec.columns.values()) if p in kinds]
        if since is None:
            batches = self._list(spec, wanted, archived=False)
        else:
            self._newest[spec.table] = (_ms(since), _seen(since))
            batches = self._search(spec, wanted, _ms(since), _seen(since))
        buffer: list[dict[str, Any]] = []
        for batch in read_ahead(batches):
            buffer += batch
            if len(buffer) >= self.page_rows:
                yield self._page(spec, buffer, kinds, final=False, full=since is None)
                buffer = []
        yield self._page(spec, buffer, kinds, final=True, full=since is None)
        archived: list[tuple[str, str]] = []
        for batch in self._list(spec, [], archived=True, inline=False):
            archived += [(str(r["id"]), str(r.get("archivedAt") or r["updatedAt"])) for r in batch]
        if archived:
            yield Page(archived={entity: archived})

    # -- reading ---------------------------------------------------------------------
    def _spec(self, entity: str) -> ObjectSpec:
        spec = OBJECTS[entity].with_mapping(self.mapping.get(entity, {}))
        kinds = self._property_kinds(spec.object_type)
        unknown = [p for c, p in self.mapping.get(entity, {}).items() if p not in kinds]
        if unknown:
            raise ConfigError(
                f"config error at source.mapping.{entity}: HubSpot has no {spec.object_type} "
                f"property {unknown[0]!r}; check its internal name in HubSpot's property settings"
            )
        return spec

    def _property_kinds(self, object_type: str) -> dict[str, str]:
        if object_type not in self._kinds:
            body = self.api.json(
                f"reading the {object_type} property list",
                self.api.client.crm.properties.core_api.get_all,
                object_type,
            )
            self._kinds[object_type] = {p["name"]: p["type"] for p in body.get("results", [])}
        return self._kinds[object_type]

    def _list(
        self, spec: ObjectSpec, properties: list[str], archived: bool, inline: bool = True
    ) -> Iterator[list[dict[str, Any]]]:
        after: str | None = None
        links = sorted(set(spec.links.values())) if inline else []
        what = f"listing {'archived ' if archived else ''}{spec.object_type}"
        while True:
            kwargs: dict[str, Any] = {"limit": LIST_PAGE, "archived": archived}
            if properties:
                kwargs["properties"] = properties
            if links:
                kwargs["associations"] = links
            if after:
                kwargs["after"] = after
            body = self.api.json(
                what, self.api.client.crm.objects.basic_api.get_page, spec.object_type, **kwargs
            )
            yield body.get("results", [])
            after = ((body.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                return

    def _search(
        self, spec: ObjectSpec, properties: list[str], since_ms: int, seen: set[str]
    ) -> Iterator[list[dict[str, Any]]]:
        """Changed records, oldest change first, each exactly once, past the 10,000 cap."""
        prop, low = spec.modified, since_ms
        at_low = set(seen)  # ids already given whose change time is ``low``
        while low <= self.started_ms:
            after, newest, at_newest = 0, low, set(at_low)
            until = {"propertyName": prop, "operator": "LTE", "value": str(self.started_ms)}
            groups: list[list[dict[str, Any]]]
            if at_low and len(at_low) <= NOT_IN_LIMIT:
                # After ``low``, or at ``low`` but not given yet: nothing is read twice.
                groups = [
                    [{"propertyName": prop, "operator": "GT", "value": str(low)}, until],
                    [
                        {"propertyName": prop, "operator": "EQ", "value": str(low)},
                        {"propertyName": "hs_object_id", "operator": "NOT_IN",
                         "values": sorted(at_low, key=_id_order)},
                    ],
                ]  # fmt: skip
            else:
                groups = [[{"propertyName": prop, "operator": "GTE", "value": str(low)}, until]]
            while True:
                body = self._search_page(spec, properties, groups, prop, after)
                results = body.get("results", [])
                fresh = []
                for record in results:
                    rid, when = str(record["id"]), _modified_ms(record, prop)
                    if when == low and rid in at_low:
                        continue  # given before the restart
                    fresh.append(record)
                    if when > newest:
                        newest, at_newest = when, {rid}
                    elif when == newest:
                        at_newest.add(rid)
                yield fresh
                got = after + len(results)
                nxt = ((body.get("paging") or {}).get("next") or {}).get("after")
                if nxt and int(nxt) + SEARCH_PAGE <= self.search_cap:
                    after = int(nxt)
                    continue
                restart = int(body.get("total", got)) > got
                break
            if not restart:
                return
            if newest == low:  # 10,000 changes in one millisecond: walk ids inside it
                yield from self._search_one_millisecond(spec, properties, low, at_newest)
                low, at_low = low + 1, set()
            else:
                low, at_low = newest, at_newest

    def _search_one_millisecond(
        self, spec: ObjectSpec, properties: list[str], ms: int, seen: set[str]
    ) -> Iterator[list[dict[str, Any]]]:
        prop, last_id = spec.modified, 0
        while True:
            after, progressed = 0, False
            while True:
                filters = [
                    {"propertyName": prop, "operator": "EQ", "value": str(ms)},
                    {"propertyName": "hs_object_id", "operator": "GT", "value": str(last_id)},
                ]
                body = self._search_page(spec, properties, [filters], "hs_object_id", after)
                results = body.get("results", [])
                if results:
                    progressed = True
                    last_id = max(last_id, *(int(r["id"]) for r in results))
                yield [r for r in results if str(r["id"]) not in seen]
                nxt = ((body.get("paging") or {}).get("next") or {}).get("after")
                if nxt and int(nxt) + SEARCH_PAGE <= self.search_cap:
                    after = int(nxt)
                    continue
                more = int(body.get("total", 0)) > after + len(results)
                break
            if not (more and progressed):
                return

    def _search_page(
        self,
        spec: ObjectSpec,
        properties: list[str],
        groups: list[list[dict[str, Any]]],
        sort: str,
        after: int,
    ) -> dict[str, Any]:
        request = PublicObjectSearchRequest(
            filter_groups=[{"filters": filters} for filters in groups],
            sorts=[{"propertyName": sort, "direction": "ASCENDING"}],
            properties=properties,
            limit=SEARCH_PAGE,
            after=str(after),
        )
        return self.api.json(
            f"searching changed {spec.object_type}",
            self.api.client.crm.objects.search_api.do_search,
            spec.object_type,
            public_object_search_request=request,
            search=True,
        )

    # -- links -----------------------------------------------------------------------
    def _links(
        self, spec: ObjectSpec, records: list[dict[str, Any]], inline: bool
    ) -> dict[str, dict[str, list[str]]]:
        out: dict[str, dict[str, list[str]]] = {}
        for column, to_type in spec.links.items():
            found: dict[str, list[str]] = {}
            if inline:
                for r in records:
                    linked = ((r.get("associations") or {}).get(to_type) or {}).get("results") or []
                    if linked:
                        found[str(r["id"])] = sorted({str(a["id"]) for a in linked}, key=_id_order)
            else:
                ids = [str(r["id"]) for r in records]
                for start in range(0, len(ids), ASSOCIATION_BATCH):
                    chunk = ids[start : start + ASSOCIATION_BATCH]
                    request = BatchInputPublicFetchAssociationsBatchRequest(
                        inputs=[{"id": i} for i in chunk]
                    )
                    body = self.api.json(
                        f"reading {spec.object_type}-{to_type} associations",
                        self.api.client.crm.associations.v4.batch_api.get_page,
                        spec.object_type,
                        to_type,
                        request,
                    )
                    for result in body.get("results", []):
                        found[str(result["from"]["id"])] = sorted(
                            (str(t["toObjectId"]) for t in result.get("to", [])), key=_id_order
                        )
            out[column] = found
        return out

    def _fetch_companies(self, ids: set[str]) -> None:
        missing = sorted(ids - set(self._companies), key=_id_order)
        for start in range(0, len(missing), READ_BATCH):
            chunk = missing[start : start + READ_BATCH]
            request = BatchReadInputSimplePublicObjectId(
                inputs=[{"id": i} for i in chunk],
                properties=list(COMPANY_PROPERTIES),
                properties_with_history=[],
            )
            body = self.api.json(
                "reading companies",
                self.api.client.crm.objects.batch_api.read,
                "companies",
                request,
            )
            for record in body.get("results", []):
                self._companies[str(record["id"])] = record.get("properties") or {}

    def _page(
        self,
        spec: ObjectSpec,
        records: list[dict[str, Any]],
        kinds: Mapping[str, str],
        final: bool,
        full: bool,
    ) -> Page:
        links = self._links(spec, records, inline=full)
        if "company_id" in links:
            self._fetch_companies({c[0] for c in links["company_id"].values() if c})
        frame = records_to_frame(spec, records, kinds, links, self._companies)
        page = Page()
        if not frame.empty and spec.table == "order_lines":
            orphan = frame["order_id"].isna()
            page.skipped = int(orphan.sum())
            frame = frame[~orphan].reset_index(drop=True)
        page.tables[spec.table] = frame
        if spec.table == "deals":
            page.tables["deal_stages"] = deal_stage_rows(frame)
        if spec.table in ("contacts", "deals", "orders"):
            page.tables["associations"] = association_rows({spec.table: frame})
        newest, at_newest = self._newest.get(spec.table, (0, set()))
        for record in records:
            when = _modified_ms(record, spec.modified)
            if when > newest:
                newest, at_newest = when, {str(record["id"])}
            elif when == newest:
                at_newest.add(str(record["id"]))
        self._newest[spec.table] = (newest, at_newest)
        # A list is in id order: only its end says everything up to now is in. A search is
        # in change order: each page may move the cursor. Never past the sync's start.
        if (final or not full) and newest:
            if newest <= self.started_ms:
                page.cursor = _cursor(newest, at_newest)
            else:
                page.cursor = _iso(self.started_ms)
        elif final and full:
            page.cursor = _iso(self.started_ms)
        return page


def read_ahead(batches: Iterator[T], depth: int = 3) -> Iterator[T]:
    """Fetch the next batches in a thread while the caller works on this one.

    Paging is sequential (each page names the next), so without this the time HubSpot
    takes to answer and the time we take to validate and commit add up. Batches fetched
    ahead but not yet committed are simply fetched again after a crash: the cursor only
    moves with committed pages. An error in the fetching thread is raised here.
    """
    queue: Queue[tuple[str, Any]] = Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: tuple[str, Any]) -> bool:
        while not stop.is_set():
            try:
                queue.put(item, timeout=0.05)
                return True
            except Full:
                continue
        return False

    def produce() -> None:
        try:
            for batch in batches:
                if not put(("batch", batch)):
                    return
            put(("done", None))
        except BaseException as exc:  # handed to the consumer, which raises it
            put(("error", exc))

    thread = threading.Thread(target=produce, name="hubspot-read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            kind, value = queue.get()
            if kind == "done":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        stop.set()
        thread.join(timeout=5)


def _id_order(value: str) -> tuple[int, str]:
    return (int(value), "") if value.isdigit() else (0, value)
