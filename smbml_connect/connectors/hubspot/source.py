"""HubSpot as a source: contacts (with their companies), deals, orders, line items, products.

The first run lists every record (pages of 100, associations inline); a list killed
part way carries on from its last committed page. Later runs search on the
last-modified property from the stored cursor, sorted ascending (pages of 200). Each
page is a new query keyed on the last record taken (its time and the ids taken at that
time), never an offset into a set that moves as records change: a record changed
during the sync leaves the range (newer than the sync's start) without shifting the
others, and the next run takes it. More changes in one millisecond than a filter can
name are walked in id order. Records arrive in pages of about 1,000; the pipeline
commits each page and its cursor together. Archived records are listed every run and
marked in the store. The cursor's text is described in ``cursor.py``.
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

from smbml_connect.connectors.hubspot.cursor import (
    NOT_IN_LIMIT,
    ListMark,
    Mark,
    engagement_marks,
    engagements_cursor,
    id_order,
    iso,
    split_listed,
    to_ms,
    with_listed,
)
from smbml_connect.connectors.hubspot.engagements import (
    ACTIVITIES,
    ENGAGEMENTS,
    Engagement,
    engagement_rows,
    not_read,
)
from smbml_connect.connectors.hubspot.http import DailyLimitError, HubSpotApi, HubSpotHttpError
from smbml_connect.connectors.hubspot.mapping import (
    COMPANY_PROPERTIES,
    OBJECTS,
    PRIMARY_LINKS,
    ObjectSpec,
    association_rows,
    deal_stage_rows,
    labelled,
    option_labels,
    pipeline_stage_rows,
    records_to_frame,
    stage_properties,
)
from smbml_connect.connectors.hubspot.marketing import SETTLE_MS, MarketingReader
from smbml_connect.errors import (
    AuthError,
    ConfigError,
    SmbmlError,
    SourceRetriableError,
    TokenRejectedError,
)
from smbml_connect.ports import Notice, Page, SourceAccount
from smbml_connect.schema import KeptOnly

__all__ = ["LIST_PAGE", "SEARCH_PAGE", "HubSpotSource", "Page"]

log = logging.getLogger(__name__)
T = TypeVar("T")
LIST_PAGE = 100
SEARCH_PAGE = 200
ASSOCIATION_BATCH = 1000
READ_BATCH = 100
PIPELINES = "GET /crm/v3/pipelines/deals"
ACCOUNT = "GET /account-info/v3/details"
ACCOUNT_ME = "GET /integrations/v1/me"
# HubSpot refuses URLs past about 16,300 characters (414); half of that is left to the
# properties, the rest to the host, path, associations and paging.
LIST_QUERY_BUDGET = 8_000
STAGES_MARK = ";stages"  # ends a deals cursor whose pull read each stage's entry time
LISTED = "listed:"  # in the activities cursor: when a type was last listed whole
# A record deleted for good (GDPR delete, or 90 days in the recycle bin) is in no list and
# no search: only a listing of every id shows it is gone. It costs a request per 100
# records, so it is done once a day, not on every hourly run.
ID_CHECK_MS = 24 * 3600 * 1000
CHECKED = ("contacts", "deals", "orders", "products")  # one id per row: lines have two


def _modified_ms(record: Mapping[str, Any], prop: str) -> int:
    value = (record.get("properties") or {}).get(prop) or record.get("updatedAt")
    text = str(value)
    return int(text) if text.isdigit() else to_ms(text)


# A batch of records and the cursor that is safe once they are committed (None: not yet).
Batch = tuple[list[dict[str, Any]], str | None]


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
        entities: tuple[str, ...] | None = None,
    ) -> None:
        self.api = api
        self.mapping = mapping or {}
        self.page_rows = page_rows
        self.entities = list(entities or [*OBJECTS, ACTIVITIES])
        self.started_ms = int((started or datetime.now(tz=UTC)).timestamp() * 1000)
        self.settled_ms = self.started_ms - SETTLE_MS  # what search has surely indexed
        self._kinds: dict[str, dict[str, str]] = {}
        self._labels: dict[str, dict[str, dict[str, str]]] = {}  # per object: option_labels
        self._companies: dict[str, dict[str, Any]] = {}
        self.account_unknown = ""
        self.account_refused = False
        self._zone: str | None = None
        self._asked = False
        self._currency: str | None = None  # the portal's company currency, once asked
        self.zone_words = "the HubSpot account's"

    def available(self) -> list[str]:
        return self.entities

    def account(self) -> SourceAccount | None:
        """The portal the token reads: account-info's details, or where HubSpot refuses
        them (a token without the scope it documents for them) the older /integrations/
        v1/me. None when it cannot tell, and ``account_unknown`` says why in a sentence;
        ``account_refused`` is True when HubSpot refused (trying again will not help)."""
        self.account_refused = False
        self._asked, self._zone = True, None
        body: dict[str, Any] = {}
        try:
            try:
                body = self.api.json(ACCOUNT, self.api.account_details)
            except TokenRejectedError:
                raise
            except (AuthError, HubSpotHttpError):
                body = self.api.json(ACCOUNT_ME, self.api.account_me)
        except (TokenRejectedError, DailyLimitError):
            raise  # every further request would be refused too: say why, not "busy"
        except SourceRetriableError as exc:
            self.account_unknown = (
                "HubSpot did not answer which account the token is for (it kept failing or "
                "was too busy)"
            )
            log.warning("HubSpot account not read: %s", exc)
            return None
        except SmbmlError as exc:  # refused: HubSpot's words name the scope to add
            said = str(exc).rstrip(".")
            self.account_unknown = f"HubSpot did not say which account the token is for: {said}"
            self.account_refused = True
            log.warning("HubSpot account not read: %s", exc)
            return None
        portal = body.get("portalId")
        if not isinstance(portal, int | str) or not str(portal).strip():
            self.account_unknown = "HubSpot did not say which account the token is for"
            self.account_refused = True
            return None
        zone = body.get("timeZone")  # the portal's setting: both routes say it
        self._zone = zone.strip() if isinstance(zone, str) and zone.strip() else None
        stated = body.get("companyCurrency") or body.get("currency")  # details, or v1/me
        currency = stated.strip().upper() if isinstance(stated, str) and stated.strip() else None
        key = str(portal).strip()
        self._currency = currency
        return SourceAccount(key, f"HubSpot account {key}", currency)

    def time_zone(self) -> str | None:
        """The portal's time zone, from the account request (made now if not yet)."""
        if not self._asked:
            self.account()
        return self._zone

    def pull(self, entity: str, since: str | None = None) -> pd.DataFrame:
        """Everything at once (for callers that do not commit page by page)."""
        frames = [p.tables[entity] for p in self.pull_pages(entity, since) if entity in p.tables]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    def pull_pages(self, entity: str, since: str | None = None) -> Iterator[Page]:
        if entity == ACTIVITIES:
            yield from self._activity_pages(since)
            return
        spec = self._spec(entity)
        since, listed_ms = split_listed(since)
        check = entity in CHECKED and (
            listed_ms is None or self.started_ms - listed_ms >= ID_CHECK_MS
        )
        stage_ids: list[str] = []
        said: list[Notice] = []  # the pipelines' notice, once the deals are read
        if spec.table == "deals":
            pipelines = self._pipelines()
            # "The deals were loaded" is said only if they were: a token that cannot read
            # the pipelines often cannot read the deals either, and that is the one line.
            said, pipelines.notices = pipelines.notices, []
            yield pipelines
            read = pipelines.tables.get("deal_pipeline_stages")
            stage_ids = [] if read is None or read.empty else read["stage"].astype(str).tolist()
        kinds = self._property_kinds(spec.object_type)
        wanted = [p for p in dict.fromkeys(spec.columns.values()) if p in kinds]
        stages = stage_properties(kinds, stage_ids) if spec.table == "deals" else {}
        # The list request carries its properties in the URL; past the budget the stage
        # times are read per page by batch (properties in the body) instead.
        late = list(stages) if _query_chars([*wanted, *stages]) > LIST_QUERY_BUDGET else []
        if since is not None and stages:
            # Deals read before their stage times were (a store from before, or a run whose
            # pipelines read failed) hold each one's current stage only, and a search takes
            # only the deals changed since: list them whole once, or the history stays
            # partial for good and the models read "stage unknown" as "did not win".
            since = since[: -len(STAGES_MARK)] if since.endswith(STAGES_MARK) else None
        resumed = ListMark.parse(since) if since else None
        full = since is None or resumed is not None
        batches: Iterator[Batch]
        if full:
            started = resumed.started_ms if resumed else self.started_ms
            listed = wanted if late else [*wanted, *stages]
            after = resumed.after if resumed else None
            batches = self._full_list(spec, listed, after, started, late)
        else:
            assert since is not None
            batches = self._search(spec, [*wanted, *stages], Mark.parse(since))
        listing = check and full and resumed is None  # the list itself meets every id
        buffer: list[dict[str, Any]] = []
        cursor: str | None = None
        last = _marked(since, stages)  # the cursor to keep if this run moves nothing
        for records, resume in read_ahead(batches):
            buffer += records
            cursor = resume or cursor
            if len(buffer) >= self.page_rows:
                yield self._page(spec, buffer, kinds, cursor, full, stages, listed_ms, listing)
                last, buffer, cursor = _marked(cursor, stages) or last, [], None
        yield self._page(spec, buffer, kinds, cursor, full, stages, listed_ms, listing)
        last = _marked(cursor, stages) or last
        if said:
            yield Page(notices=said)
        if check and not full:  # a list resumed part way leaves the check to the next run
            for batch, _ in self._list(spec, [], archived=False, inline=False):
                yield Page(listed={entity: [str(r["id"]) for r in batch]})
            listing = True
        archived: list[tuple[str, str]] = []
        # An archived product is off sale, but its sales are history the steps still show
        # (Forecast, "Often bought with"): its record is read whole, so it keeps its name;
        # one archived before the first run was never in the store and showed as its id.
        retired: list[dict[str, Any]] = []
        shown = wanted if spec.table == "products" else []
        for batch, _ in self._list(spec, shown, archived=True, inline=False):
            archived += [(str(r["id"]), str(r.get("archivedAt") or r["updatedAt"])) for r in batch]
            retired += batch if shown else []
        page = Page(archived={entity: archived} if archived else {})
        if retired:
            labels = self._labels.get(spec.object_type, {})
            page.tables[spec.table] = records_to_frame(
                spec, retired, kinds, {}, self._companies, labels
            )
        if archived and spec.table == "deals":  # a deleted deal's stage history goes with it
            page.replace["deal_stages"] = [rid for rid, _ in archived]
        if listing:  # in the recycle bin is not gone for good: it can be restored
            page.listed[entity] = [rid for rid, _ in archived]
            page.listed_whole = frozenset({entity})
            page.cursor = with_listed(last, self.started_ms)
        if archived or listing:
            yield page

    # -- engagements -----------------------------------------------------------------
    def _activity_pages(self, since: str | None) -> Iterator[Page]:
        """Each engagement type in turn (``engagements.py``), then the marketing email
        opens and clicks and the form submissions (``marketing.py``), under one cursor that
        says where each stands: one HubSpot refuses (a token without its scope, a portal
        without the object) is left out with one notice, and the others still load."""
        marks = engagement_marks(since)
        for engagement in ENGAGEMENTS:
            words = engagement.noun or engagement.object_type  # "messages", as users say
            try:
                yield from _with_marks(self._engagement_pages(engagement, marks), marks)
            except (TokenRejectedError, SourceRetriableError):
                raise  # every request would be refused / try the table again next run
            except SmbmlError as exc:
                log.warning("HubSpot %s not read: %s", words, exc)
                yield Page(notices=[not_read(words, exc, "engagements_not_read")])
        reader = MarketingReader(self.api, self.started_ms, self.page_rows)
        yield from _with_marks(reader.pages(marks), marks)

    def _engagement_pages(
        self, engagement: Engagement, marks: Mapping[str, str]
    ) -> Iterator[tuple[Page, dict[str, str]]]:
        """One engagement type's records changed since its cursor, as pages with what each
        moves in the cursor; all of them the first time and once a day after.

        HubSpot dates no association change: a call moved to another contact and nothing
        else keeps its last-modified time, and one deleted for good is in no list at all.
        So once a day the type is listed whole (a request per 100, not per run: the
        hourly runs search) and its stored rows that listing did not meet go
        (``Page.kept_only``). A listing cut short carries on from its page next run, and
        its end removes nothing (the ids listed before the cut are not known): the next
        run lists the type whole again. A row goes when two listings in a row missed its
        id (a record restored while a listing ran is in none of its pages)."""
        spec = engagement.spec
        name = engagement.object_type
        since = marks.get(name)
        properties = list(spec.columns.values())
        resumed = ListMark.parse(since) if since else None
        checked = marks.get(LISTED + name, "")  # engagement_marks: ASCII digits or none
        # a mark ahead of this run (a clock that was wrong) does not put the listing off
        due = not (checked and 0 <= self.started_ms - int(checked) < ID_CHECK_MS)
        full = since is None or resumed is not None or due
        batches: Iterator[Batch]
        if full:
            started = resumed.started_ms if resumed else self.started_ms
            after = resumed.after if resumed else None
            batches = self._full_list(spec, properties, after, started)
        else:
            assert since is not None
            batches = self._search(spec, properties, Mark.parse(since))
        buffer: list[dict[str, Any]] = []
        listed: list[str] = []
        cursor: str | None = None
        for records, resume in read_ahead(batches):
            buffer += records
            cursor = resume or cursor
            if len(buffer) >= self.page_rows:
                listed += [str(r["id"]) for r in buffer]
                yield self._engagement_page(engagement, buffer, full), _moved(name, cursor)
                buffer, cursor = [], None
        listed += [str(r["id"]) for r in buffer]
        last = self._engagement_page(engagement, buffer, full)
        moved = _moved(name, cursor)
        if full and resumed is None:  # every id of the type met in this one listing
            last.kept_only[ACTIVITIES] = KeptOnly(
                name, "kind", engagement.kinds, tuple(listed), engagement.noun
            )
            moved[LISTED + name] = str(self.started_ms)
        yield last, moved

    def _engagement_page(
        self, engagement: Engagement, records: list[dict[str, Any]], inline: bool
    ) -> Page:
        links = self._links(engagement.spec, records, inline=inline)["contact_id"]
        frame, skipped = engagement_rows(engagement, records, links)
        # Read whole: an engagement now linked to other contacts, or at another time, or no
        # longer an activity of anyone's (its email bounced), gives only these rows.
        page = Page(replace={ACTIVITIES: [str(r["id"]) for r in records]}, skipped=skipped)
        page.tables[ACTIVITIES] = frame
        return page

    # -- reading ---------------------------------------------------------------------
    def _pipelines(self) -> Page:
        """The portal's deal pipelines, read whole every run (one request): a stage renamed
        in HubSpot shows by its new label in the next run's outputs.

        Reading them is not worth the run: if HubSpot refuses (a token without the scope) or
        keeps failing, the deals still load, and one notice says what to do.
        """
        try:
            body = self.api.json(
                PIPELINES,
                self.api.client.crm.pipelines.pipelines_api.get_all,
                "deals",
            )
        except TokenRejectedError:
            raise  # every further request would be refused too
        except SmbmlError as exc:
            log.warning("deal pipelines not read: %s", exc)
            return Page(notices=[Notice("pipelines_not_read", "deals", 0, _not_read(exc))])
        table = "deal_pipeline_stages"  # whole: a pipeline deleted in HubSpot is gone here too
        return Page(
            tables={table: pipeline_stage_rows(body.get("results", []))}, whole=frozenset({table})
        )

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
        """Each property's type, and each enumeration's option labels (`_labels`), read
        once a run: an option relabelled in HubSpot shows by its new words next run."""
        if object_type not in self._kinds:
            listed = self.api.property_list(object_type, fresh=True)
            self._kinds[object_type] = {p["name"]: p["type"] for p in listed}
            self._labels[object_type] = option_labels(listed)
        return self._kinds[object_type]

    def _full_list(
        self,
        spec: ObjectSpec,
        properties: list[str],
        after: str | None,
        started_ms: int,
        late: list[str] | None = None,
    ) -> Iterator[Batch]:
        """Every record in id order. Each page's end is a place to carry on from after a
        crash; the end of the list hands over to searches from when the list started, which
        then take whatever changed meanwhile, on pages read before or after. ``late``
        properties are read for each page by batch (too many for the list's URL)."""
        newest = Mark(0)
        for records, nxt in self._list(spec, properties, archived=False, after=after):
            if late:
                self._read_properties(spec, records, late)
            for record in records:
                newest.take(_modified_ms(record, spec.modified), str(record["id"]))
            if nxt:
                yield records, ListMark(nxt, started_ms).text()
            elif after is None and 0 < newest.ms <= started_ms:
                yield records, newest.text()  # read whole in one go: nothing newer is missed
            else:
                yield records, iso(started_ms)

    def _list(
        self,
        spec: ObjectSpec,
        properties: list[str],
        archived: bool,
        inline: bool = True,
        after: str | None = None,
    ) -> Iterator[tuple[list[dict[str, Any]], str | None]]:
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
            after = ((body.get("paging") or {}).get("next") or {}).get("after")
            yield body.get("results", []), after
            if not after:
                return

    def _search(self, spec: ObjectSpec, properties: list[str], mark: Mark) -> Iterator[Batch]:
        """Changed records, oldest change first, each once, however many and whatever
        changes meanwhile.

        Every page is a new query from the last record taken (its time, and the ids taken
        at that time), never an offset: a record that changes during the sync leaves the
        range (it is newer than the sync's start) without shifting the pages after it, and
        is taken by the next run. The 10,000-result cap is never reached. When more changes
        share one millisecond than a NOT_IN filter can name, that millisecond is walked in
        id order, again by key.
        """
        prop = spec.modified
        while True:
            body = self._search_page(spec, properties, self._after(prop, mark), prop)
            results = body.get("results", [])
            fresh = []
            for record in results:
                rid, when = str(record["id"]), _modified_ms(record, prop)
                if not mark.taken(when, rid):
                    fresh.append(record)
                    mark.take(when, rid)
            yield fresh, mark.text()
            if not results or not (body.get("paging") or {}).get("next"):
                return
            if not fresh or (mark.upto is None and len(mark.ids) > NOT_IN_LIMIT):
                yield from self._walk_millisecond(spec, properties, mark)

    def _after(self, prop: str, mark: Mark) -> list[list[dict[str, Any]]]:
        """Filter groups for "changed after the mark, and before the last minutes".

        HubSpot's search index lags its records (supaglue-labs/supaglue#665; Estuary's
        connector searches behind an hour, estuary/connectors#2210), unevenly: a record
        changed a moment before the run may be missing while one changed after it is
        there, and the cursor, moved to the later one, never met the first again. Changes
        of the last `SETTLE_MS` are left to the next run, as the marketing events are."""
        until = {"propertyName": prop, "operator": "LTE", "value": str(self.settled_ms)}
        at = {"propertyName": prop, "operator": "EQ", "value": str(mark.ms)}
        later = [{"propertyName": prop, "operator": "GT", "value": str(mark.ms)}, until]
        if mark.upto is not None:
            above = {"propertyName": "hs_object_id", "operator": "GT", "value": str(mark.upto)}
            if mark.ids and len(mark.ids) <= NOT_IN_LIMIT:
                return [later, [at, above, _not_in(mark.ids)]]
            if not mark.ids:
                return [later, [at, above]]
        elif mark.ids and len(mark.ids) <= NOT_IN_LIMIT:
            return [later, [at, _not_in(mark.ids)]]
        return [[{"propertyName": prop, "operator": "GTE", "value": str(mark.ms)}, until]]

    def _walk_millisecond(
        self, spec: ObjectSpec, properties: list[str], mark: Mark
    ) -> Iterator[Batch]:
        """Every record changed at ``mark.ms``, in id order from the last id taken."""
        prop, ms = spec.modified, mark.ms
        taken, last = set(mark.ids), mark.upto or 0
        while True:
            filters = [
                {"propertyName": prop, "operator": "EQ", "value": str(ms)},
                {"propertyName": "hs_object_id", "operator": "GT", "value": str(last)},
            ]
            body = self._search_page(spec, properties, [filters], "hs_object_id")
            results = body.get("results", [])
            if results:
                last = max(last, *(int(r["id"]) for r in results))
            mark.ms, mark.ids, mark.upto = ms, set(), last
            yield [r for r in results if str(r["id"]) not in taken], mark.text()
            if not results or not (body.get("paging") or {}).get("next"):
                return

    def _search_page(
        self,
        spec: ObjectSpec,
        properties: list[str],
        groups: list[list[dict[str, Any]]],
        sort: str,
    ) -> dict[str, Any]:
        request = PublicObjectSearchRequest(
            filter_groups=[{"filters": filters} for filters in groups],
            sorts=[{"propertyName": sort, "direction": "ASCENDING"}],
            properties=properties,
            limit=SEARCH_PAGE,
            after="0",  # always the first page of a query keyed on the last record taken
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
            ids = [str(r["id"]) for r in records]
            _, main = PRIMARY_LINKS.get((spec.object_type, to_type), (None, None))
            if inline:
                more = []  # over 100 links: HubSpot pages them; the rest by the batch read
                for r in records:
                    given = (r.get("associations") or {}).get(to_type) or {}
                    linked = given.get("results") or []
                    if linked:
                        first = {str(a["id"]) for a in linked if a.get("type") == main}
                        found[str(r["id"])] = primary_first({str(a["id"]) for a in linked}, first)
                    if (given.get("paging") or {}).get("next"):
                        more.append(str(r["id"]))
                ids = more
            if ids:
                found.update(self._associated(spec.object_type, to_type, ids))
            out[column] = found
        return out

    def _associated(self, from_type: str, to_type: str, ids: list[str]) -> dict[str, list[str]]:
        """Every ``to_type`` id linked to each of ``ids``, the primary first (v4 batch read,
        1,000 inputs a request; an input with more links than one answer holds is asked
        again from its ``paging.next.after``)."""
        main, _ = PRIMARY_LINKS.get((from_type, to_type), (None, None))
        found: dict[str, set[str]] = {}
        primary: dict[str, set[str]] = {}
        asked = [{"id": i} for i in ids]
        seen: set[tuple[str, str]] = set()  # a page HubSpot names again is not asked again
        while asked:
            further = []
            for start in range(0, len(asked), ASSOCIATION_BATCH):
                request = BatchInputPublicFetchAssociationsBatchRequest(
                    inputs=asked[start : start + ASSOCIATION_BATCH]
                )
                body = self.api.json(
                    f"reading {from_type}-{to_type} associations",
                    self.api.client.crm.associations.v4.batch_api.get_page,
                    from_type,
                    to_type,
                    request,
                )
                for result in body.get("results", []):
                    rid = str(result["from"]["id"])
                    linked = result.get("to", [])
                    found.setdefault(rid, set()).update(str(t["toObjectId"]) for t in linked)
                    primary.setdefault(rid, set()).update(
                        str(t["toObjectId"])
                        for t in linked
                        if any(k.get("typeId") == main for k in t.get("associationTypes") or [])
                    )
                    after = ((result.get("paging") or {}).get("next") or {}).get("after")
                    if after and (rid, str(after)) not in seen:
                        seen.add((rid, str(after)))
                        further.append({"id": rid, "after": str(after)})
            asked = further
        return {rid: primary_first(linked, primary[rid]) for rid, linked in found.items()}

    def _read_properties(
        self, spec: ObjectSpec, records: list[dict[str, Any]], properties: list[str]
    ) -> None:
        """Add ``properties`` to ``records`` by batch read (a record deleted meanwhile is
        simply not answered for)."""
        ids = [str(r["id"]) for r in records]
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(ids), READ_BATCH):
            request = BatchReadInputSimplePublicObjectId(
                inputs=[{"id": i} for i in ids[start : start + READ_BATCH]],
                properties=properties,
                properties_with_history=[],
            )
            body = self.api.json(
                f"reading {spec.object_type} stage times",
                self.api.client.crm.objects.batch_api.read,
                spec.object_type,
                request,
            )
            for record in body.get("results", []):
                found[str(record["id"])] = record.get("properties") or {}
        for record in records:
            props = found.get(str(record["id"]), {})
            record.setdefault("properties", {}).update({p: props.get(p) for p in properties})

    def _fetch_companies(self, ids: set[str]) -> None:
        """The companies' details a contact takes (its industry by its label)."""
        missing = sorted(ids - set(self._companies), key=id_order)
        if missing:
            self._property_kinds("companies")
        labels = self._labels.get("companies", {})
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
                props = record.get("properties") or {}
                self._companies[str(record["id"])] = {
                    name: labelled(value, labels.get(name)) for name, value in props.items()
                }

    def _page(
        self,
        spec: ObjectSpec,
        records: list[dict[str, Any]],
        kinds: Mapping[str, str],
        cursor: str | None,
        full: bool,
        stages: Mapping[str, str],
        listed_ms: int | None,
        listing: bool,
    ) -> Page:
        """Records as a page. Its cursor keeps when ids were last listed (a listing under
        way this run counts only once it has ended); ``listing``: its ids are listed too."""
        links = self._links(spec, records, inline=full)
        if "company_id" in links:
            self._fetch_companies({c[0] for c in links["company_id"].values() if c})
        labels = self._labels.get(spec.object_type, {})
        frame = records_to_frame(spec, records, kinds, links, self._companies, labels)
        page = Page(cursor=with_listed(_marked(cursor, stages), listed_ms))
        if listing:
            page.listed[spec.table] = [str(r["id"]) for r in records]
        if not frame.empty and spec.table == "order_lines":
            orphan = frame["order_id"].isna()
            page.skipped = int(orphan.sum())
            frame = frame[~orphan].reset_index(drop=True)
        if spec.table == "deals" and self._currency and "currency" in frame:
            # a deal without deal_currency_code is in the portal's company currency (a
            # single-currency portal's deals): it was taken to be in the orders' (EUR from a
            # shop's sync), and dollar amounts were summed as euros
            blank = frame["currency"].isna() | frame["currency"].astype(str).str.strip().eq("")
            frame.loc[blank, "currency"] = self._currency
        page.tables[spec.table] = frame
        if spec.table == "deals":
            page.tables["deal_stages"] = deal_stage_rows(records, stages)
            if stages:  # each deal's whole history: what a deal left behind goes
                page.replace["deal_stages"] = [str(r["id"]) for r in records]
        if spec.table in ("contacts", "deals"):
            self._merged(spec.table, records, page)
        if spec.table in ("contacts", "deals", "orders"):
            page.tables["associations"] = association_rows(spec, frame, links)
        return page

    @staticmethod
    def _merged(table: str, records: list[dict[str, Any]], page: Page) -> None:
        """Contacts and deals merged into these are gone from HubSpot without a trace in
        its archived list: only the kept record names them (``hs_merged_object_ids``;
        singer-io/tap-hubspot#49: the merged contact "is no longer available from
        HubSpot's API"). They are marked gone here, so a merged-away contact is no longer
        scored, shown and written back beside the one it became, and a deal's stage
        history goes with it. HubSpot moved their associations to the kept record without
        touching the associated ones (``Page.merged``): stored rows follow."""
        gone, moves = [], []
        for record in records:
            text = (record.get("properties") or {}).get("hs_merged_object_ids") or ""
            when = str(record.get("updatedAt"))
            own = str(record["id"])
            olds = [i.strip() for i in str(text).split(";") if i.strip() not in ("", own)]
            gone += [(old, when) for old in olds]
            moves += [(old, own) for old in olds]
        if gone:
            page.archived[table] = gone
            page.merged[table] = moves
            if table == "deals":
                page.replace["deal_stages"] = [
                    *page.replace.get("deal_stages", []),
                    *(rid for rid, _ in gone),
                ]


def _moved(name: str, cursor: str | None) -> dict[str, str]:
    return {name: cursor} if cursor is not None else {}


def _marked(cursor: str | None, stages: Mapping[str, str]) -> str | None:
    """A deals cursor says when its pull read the stage times (`STAGES_MARK`)."""
    return cursor + STAGES_MARK if cursor is not None and stages else cursor


def _query_chars(properties: list[str]) -> int:
    """What ``properties`` add to a list request's URL: the client repeats the key."""
    return sum(len("&properties=") + len(p) for p in properties)


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


def _with_marks(
    pages: Iterator[tuple[Page, dict[str, str]]], marks: dict[str, str]
) -> Iterator[Page]:
    """Each page with the activities cursor its marks allow (none: the cursor stays)."""
    for page, moved in pages:
        if moved:
            marks.update(moved)
            page.cursor = engagements_cursor(marks)
        yield page


def _not_read(exc: SmbmlError) -> str:
    """One line: which request, what HubSpot said (the error's text: status, scope, advice;
    never the token), and what the run shows instead."""
    said = str(exc).replace("; nothing after the last saved page was lost, run again later", "")
    return (
        f"Deal stage names were not read: {said.rstrip('.')}. The deals were loaded; their "
        "stages show by the names an earlier run read, else by HubSpot's default labels, else "
        "by their ids, until a run reads them."
    )


def primary_first(ids: set[str], primary: set[str]) -> list[str]:
    """Linked ids in id order, the one HubSpot marks as the primary first (a contact's
    primary company: its company, industry and size are read from it)."""
    return sorted(ids, key=lambda i: (i not in primary, id_order(i)))


def _not_in(ids: set[str]) -> dict[str, Any]:
    return {
        "propertyName": "hs_object_id",
        "operator": "NOT_IN",
        "values": sorted(ids, key=id_order),
    }
