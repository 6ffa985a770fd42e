"""A local HubSpot CRM v3 server for tests and benchmarks: the official client talks to it.

It copies what a client can tell apart: exact status codes (201 on create, 207 on partial
failure, 204 on archive), JSON shapes that pass the client's own validation, string
property values, paging tokens, the batch limit of 100, search pages of 200 and the
10,000-result cap, the rolling 10-second limit with its headers and HubSpot's 429 body,
search's own per-second limit (without headers), the daily limit's 429, a limit of
custom properties per object type (``property_limit``), a 207 for a batch update holding
invalid values (``invalid_in_207``), 401/403 bodies that name the missing scope, archived and merged records, each deal stage's "date entered" and "date exited"
properties, the 414 of a URL past about 16,000 characters, and which account a token
belongs to (GET /account-info/v3/details). Faults (429 bursts, 5xx, slow answers, dropped
connections, a refusal in HubSpot's words) are injected per test, and every request is
counted so a benchmark can compare the connector's calls with the lower bound. Time can be
scaled so rate limits bite fast.
"""

from __future__ import annotations

import bisect
import json
import re
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

from smbml_connect.http.clock import SYSTEM_CLOCK, Clock
from smbml_connect.testing.faults import Fault, RollingWindow
from smbml_connect.testing.hubspot_marketing import MarketingState, Refused
from smbml_connect.testing.hubspot_state import (
    ASSOCIATION_TYPES,
    UNLABELED_TYPES,
    ApiError,
    CrmState,
    iso_ms,
    now_ms,
    property_shape,
)
from smbml_connect.testing.local_server import LocalServer, QuietHandler, match_route

__all__ = ["Fault", "HubSpotEmulator"]

TEST_TOKEN = "pat-na1-00000000-0000-4000-8000-000000000001"
_SCOPE_OBJECT = {"line_items": "line_items", "products": "products", "orders": "orders"}
# Associations a list or get gives inline per record and type; more are paged (HubSpot's
# change of 2021-01-18): the rest are read with the associations API.
INLINE_LINKS = 100
# The v4 batch read pages each input's links too; HubSpot does not say at how many (its
# single-object read gives 500 a page): 500 here.
BATCH_LINKS = 500
# Engagements are read with the contacts' scope (HubSpot's v3 spec; emails also take
# sales-email-read, which their 2026-09 version requires beside it: ``object_scopes``).
ENGAGEMENT_SCOPES = {
    t: ("crm.objects.contacts.read",)
    for t in ("calls", "meetings", "notes", "tasks", "communications")
} | {"emails": ("crm.objects.contacts.read", "sales-email-read")}
# A refusal's category by its status, as HubSpot's error bodies give them (a "refuse"
# fault: HubSpot saying no for a reason the client could not foresee).
REFUSED = {400: "VALIDATION_ERROR", 404: "OBJECT_NOT_FOUND", 409: "CONFLICT", 423: "LOCKED"}
# The legacy marketing routes' scopes (their 403 names them as ``requiredScopes``).
MARKETING_SCOPES = {
    "email_events": ("content",),
    "forms": ("forms",),
    "form_submissions": ("forms", "forms-uploaded-files"),
}


class HubSpotEmulator(LocalServer):
    """Start with ``with HubSpotEmulator() as hub:`` and point the client at ``hub.url``."""

    def __init__(
        self,
        *,
        token: str = TEST_TOKEN,
        ten_second_limit: int = 100,
        search_per_second: int = 5,
        daily_limit: int | None = None,
        time_scale: float = 1.0,
        send_retry_after: bool = False,
        search_cap: int = 10_000,
        batch_limit: int = 100,
        rate_limits: bool = True,
        url_limit: int = 16_000,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        super().__init__()
        self.state = CrmState()
        self.tokens = {token}
        self.token = token
        self.scopes: set[str] | None = None  # None: the token has every scope
        # HubSpot reads a type's pipelines with any one of many scopes; the object's read
        # scope is the one a private app for deals has. A test narrows it to refuse them.
        self.pipeline_scopes: dict[str, tuple[str, ...]] = {"deals": ("crm.objects.deals.read",)}
        # The scopes any one of which reads an object type, where not its own
        # crm.objects.<type>.read (engagements); a test narrows one to refuse it.
        self.object_scopes: dict[str, tuple[str, ...]] = dict(ENGAGEMENT_SCOPES)
        self.send_retry_after = send_retry_after
        self.search_cap = search_cap
        self.batch_limit = batch_limit
        self.rate_limits = rate_limits
        # HubSpot refuses a request line longer than about 16,300 characters (414): a
        # list asked for too many properties in its query.
        self.url_limit = url_limit
        self.time_scale = time_scale
        self.clock = clock  # rate windows only; share a FakeClock with the client under test
        self.daily_limit = daily_limit
        self._daily_used = 0
        self._burst = RollingWindow(10.0 * time_scale, ten_second_limit)
        self._search = RollingWindow(1.0 * time_scale, search_per_second)
        self._limit_lock = threading.Lock()
        # Called once each request's answer is made with its route ("POST search" ...): a test
        # changes records between the pages of a sync, as users do while it runs.
        self.after_request: Callable[[str], None] | None = None
        # False: a 207's errors name no record ids (HubSpot does this for some errors),
        # so a client cannot tell which records of the batch failed.
        self.error_ids = True
        # True: GET /account-info/v3/details answers 403 (HubSpot documents the "oauth"
        # scope for it); ``account_me_refused``: the older GET /integrations/v1/me too
        # (HubSpot lists no scope for it; a test makes both refuse).
        self.account_info_refused = False
        self.account_me_refused = False
        # Custom properties an object type may have (HubSpot's limit depends on the
        # subscription; GET /crm/v3/limits/custom-properties reports it). None: no limit.
        self.property_limit: int | None = None
        # True: a batch update whose inputs hold invalid values writes the valid inputs and
        # answers 207 with one VALIDATION_ERROR per invalid input that names no record,
        # as the 207 quoted in hubspot-api-ruby#403. False: the whole batch is a 400.
        self.invalid_in_207 = False

    # -- test controls (start, stop, inject, offline, reset_counts: LocalServer) --------
    def total_requests(self) -> int:
        return sum(self.requests.values())

    def _admit(self, search: bool) -> tuple[bool, str]:
        if not self.rate_limits:
            return True, ""
        with self._limit_lock:
            if self.daily_limit is not None and self._daily_used >= self.daily_limit:
                return False, "DAILY"
            window = self._search if search else self._burst
            if not window.admit(self.clock.monotonic()):
                return False, "SECONDLY" if search else "TEN_SECONDLY_ROLLING"
            self._daily_used += 1
            return True, ""

    def burst(self, requests: int | None = None) -> None:
        """Another client on the same token fills the 10-second window now: requests the
        connector's limiter never saw (a second process, a run killed a moment ago)."""
        with self._limit_lock:
            now = self.clock.monotonic()
            for _ in range(self._burst.limit if requests is None else requests):
                self._burst.times.append(now)

    def rate_headers(self) -> dict[str, str]:
        headers = {
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(int(self._burst.seconds * 1000)),
            "X-HubSpot-RateLimit-Max": str(self._burst.limit),
            "X-HubSpot-RateLimit-Remaining": str(self._burst.remaining()),
        }
        if self.daily_limit is not None:
            headers["X-HubSpot-RateLimit-Daily"] = str(self.daily_limit)
            headers["X-HubSpot-RateLimit-Daily-Remaining"] = str(
                self.daily_limit - self._daily_used
            )
        return headers


# -- HTTP ------------------------------------------------------------------------------
Route = tuple[str, re.Pattern[str], str]
_T = r"(?P<type>[a-z_]+|\d+-\d+)"
ROUTES: list[Route] = [
    ("POST", re.compile(rf"^/crm/v3/objects/{_T}/search$"), "search"),
    (
        "POST",
        re.compile(rf"^/crm/v3/objects/{_T}/batch/(?P<op>read|create|update|upsert|archive)$"),
        "batch",
    ),
    ("GET", re.compile(rf"^/crm/v3/objects/{_T}$"), "list"),
    ("POST", re.compile(rf"^/crm/v3/objects/{_T}$"), "create"),
    ("GET", re.compile(rf"^/crm/v3/objects/{_T}/(?P<id>[^/]+)$"), "get"),
    ("PATCH", re.compile(rf"^/crm/v3/objects/{_T}/(?P<id>[^/]+)$"), "patch"),
    ("DELETE", re.compile(rf"^/crm/v3/objects/{_T}/(?P<id>[^/]+)$"), "delete"),
    ("GET", re.compile(rf"^/crm/v3/pipelines/{_T}$"), "pipelines"),
    ("GET", re.compile(rf"^/crm/v3/pipelines/{_T}/(?P<pipeline>[^/]+)$"), "pipeline_get"),
    ("GET", re.compile(rf"^/crm/v3/properties/{_T}/groups$"), "groups"),
    ("POST", re.compile(rf"^/crm/v3/properties/{_T}/groups$"), "group_create"),
    ("GET", re.compile(rf"^/crm/v3/properties/{_T}/groups/(?P<name>[^/]+)$"), "group_get"),
    ("POST", re.compile(rf"^/crm/v3/properties/{_T}/batch/create$"), "property_batch_create"),
    ("GET", re.compile(rf"^/crm/v3/properties/{_T}$"), "properties"),
    ("POST", re.compile(rf"^/crm/v3/properties/{_T}$"), "property_create"),
    ("GET", re.compile(rf"^/crm/v3/properties/{_T}/(?P<name>[^/]+)$"), "property_get"),
    ("PATCH", re.compile(rf"^/crm/v3/properties/{_T}/(?P<name>[^/]+)$"), "property_patch"),
    ("DELETE", re.compile(rf"^/crm/v3/properties/{_T}/(?P<name>[^/]+)$"), "property_delete"),
    (
        "POST",
        re.compile(rf"^/crm/v4/associations/{_T}/(?P<to>[a-z_]+|\d+-\d+)/batch/read$"),
        "assoc_batch_read",
    ),
    (
        "GET",
        re.compile(rf"^/crm/v4/objects/{_T}/(?P<id>[^/]+)/associations/(?P<to>[a-z_]+|\d+-\d+)$"),
        "assoc_list",
    ),
    ("GET", re.compile(r"^/account-info/v3/details$"), "account_details"),
    ("GET", re.compile(r"^/integrations/v1/me$"), "account_me"),
    ("GET", re.compile(r"^/email/public/v1/events$"), "email_events"),
    ("GET", re.compile(r"^/marketing/v3/forms/?$"), "forms"),
    (
        "GET",
        re.compile(r"^/form-integrations/v1/submissions/forms/(?P<form>[^/]+)$"),
        "form_submissions",
    ),
]


class _Handler(QuietHandler):
    hub: HubSpotEmulator

    def _serve(self, method: str) -> None:
        hub = self.hub
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        route = match_route(ROUTES, method, parts.path)
        key = f"{method} {route[0] if route else parts.path}"
        hub.requests[key] += 1
        fault = hub._take_fault(method, parts.path)
        if fault is not None:
            if fault.kind == "drop":
                self._drop()
                return
            if fault.kind == "slow":
                time.sleep(fault.delay)
            elif fault.kind == "429":
                self._rate_limited("TEN_SECONDLY_ROLLING", fault.retry_after)
                return
            elif fault.kind == "refuse":  # for good: what the client cannot foresee
                self._send(fault.status, ApiError(
                    fault.status, fault.message or f"HTTP {fault.status}",
                    REFUSED.get(fault.status, "VALIDATION_ERROR")).body)  # fmt: skip
                return
            elif fault.kind == "5xx":
                self._send(
                    fault.status,
                    {
                        "status": "error",
                        "message": "internal error",
                        "correlationId": "fault",
                        "category": "INTERNAL_ERROR",
                    },
                )
                return
        if len(self.path) > hub.url_limit:
            self._send(
                414,
                {
                    "status": "error",
                    "message": "URI Too Long",
                    "correlationId": "none",
                    "category": "VALIDATION_ERROR",
                },
            )
            return
        if not self._authorised():
            return
        if route is None:
            self._send(
                404,
                {
                    "status": "error",
                    "message": f"Unknown route {method} {parts.path}",
                    "correlationId": "none",
                    "category": "OBJECT_NOT_FOUND",
                },
            )
            return
        name, match = route
        search = name == "search"
        admitted, policy = hub._admit(search)
        if not admitted:
            self._rate_limited(policy, 1.0 * hub.time_scale if hub.send_retry_after else None)
            return
        try:
            args = match.groupdict()
            if "type" in args:
                args["type"] = hub.state.object_type(args["type"])
            if "to" in args:
                args["to"] = hub.state.object_type(args["to"])
            self._check_scope(name, args.get("type", ""), method)
            body = json.loads(raw) if raw else {}
            query = _query(parts.query)
            status, payload = getattr(self, f"_{name}")(args, query, body)
        except ApiError as exc:
            self._send(exc.status, exc.body, rate=not search)
            return
        except (ValueError, KeyError, TypeError) as exc:
            self._send(
                400,
                {
                    "status": "error",
                    "message": f"Invalid input JSON: {exc}",
                    "correlationId": "bad",
                    "category": "VALIDATION_ERROR",
                },
            )
            return
        if hub.after_request is not None:  # before the answer leaves: no race with the next
            hub.after_request(key)
        self._send(status, payload, rate=not search)

    # -- plumbing --------------------------------------------------------------------
    def _send(
        self,
        status: int,
        payload: Any,
        *,
        rate: bool = False,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.hub.statuses[status] += 1
        data = b"" if payload is None else json.dumps(payload).encode()
        self.send_response(status)
        if payload is not None:
            self.send_header("Content-Type", "application/json;charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        if rate and self.hub.rate_limits:
            for k, v in self.hub.rate_headers().items():
                self.send_header(k, v)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if data:
            self.wfile.write(data)

    def _rate_limited(self, policy: str, retry_after: float | None) -> None:
        messages = {
            "TEN_SECONDLY_ROLLING": "You have reached your ten_secondly_rolling limit.",
            "SECONDLY": "You have reached your secondly limit.",
            "DAILY": "You have reached your daily limit.",
        }
        body = {
            "status": "error",
            "message": messages[policy],
            "errorType": "RATE_LIMIT",
            "correlationId": "c93e06a4-0000-4000-8000-000000000429",
            "policyName": policy,
            "groupName": f"publicapi:private-app-api-calls-{policy.lower()}:1234567",
        }
        if policy == "DAILY":  # HubSpot's own example of the daily 429 carries a requestId
            body["requestId"] = "3d3e35b7-0000-4000-8000-000000000429"
        extra = {} if retry_after is None else {"Retry-After": f"{retry_after:g}"}
        self._send(429, body, rate=policy != "SECONDLY", headers=extra)

    def _authorised(self) -> bool:
        header = self.headers.get("Authorization", "")
        token = header.removeprefix("Bearer ").strip()
        if token in self.hub.tokens:
            return True
        self._send(
            401,
            {
                "status": "error",
                "message": "Authentication credentials not found. This API supports OAuth 2.0 "
                "authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
                "correlationId": "00000000-0000-4000-8000-000000000401",
                "category": "INVALID_AUTHENTICATION",
            },
        )
        return False

    def _check_scope(self, route: str, object_type: str, method: str) -> None:
        scopes = self.hub.scopes
        if scopes is not None and route in MARKETING_SCOPES:
            allowed = MARKETING_SCOPES[route]
            if not scopes.intersection(allowed):
                raise _missing_scopes(list(allowed), legacy=True)
            return
        if scopes is None or not object_type:
            return
        if route.startswith("pipeline"):
            allowed = self.hub.pipeline_scopes.get(object_type, ())
            if not scopes.intersection(allowed):
                raise _missing_scopes(list(allowed))
            return
        access = "read" if method == "GET" or route in ("search", "assoc_batch_read") else "write"
        if route == "batch" and self._op_is_read():
            access = "read"
        if route.startswith(("property", "group", "properties", "groups")):
            needed = f"crm.schemas.{object_type}.{access}"
        elif access == "read" and object_type in self.hub.object_scopes:
            allowed = self.hub.object_scopes[object_type]
            if not scopes.intersection(allowed):
                raise _missing_scopes(list(allowed))
            return
        else:
            needed = f"crm.objects.{_SCOPE_OBJECT.get(object_type, object_type)}.{access}"
        if needed not in scopes:
            raise _missing_scopes([needed])

    def _op_is_read(self) -> bool:
        return self.path.split("?")[0].endswith("/batch/read")

    # -- objects ---------------------------------------------------------------------
    def _list(
        self, args: dict[str, str], query: Mapping[str, list[str]], _: Any
    ) -> tuple[int, Any]:
        state, object_type = self.hub.state, args["type"]
        limit = int(_one(query, "limit", "10"))
        if limit > 100:
            raise ApiError(400, "limit must be less than or equal to 100", "VALIDATION_ERROR")
        archived = _one(query, "archived", "false").lower() == "true"
        after = _one(query, "after", "")
        ids, rows = state.in_id_order(object_type, archived)
        start = bisect.bisect_left(ids, int(after)) if after else 0
        page, rest = rows[start : start + limit], rows[start + limit : start + limit + 1]
        wanted = query.get("properties", [])
        linked = query.get("associations", [])
        results = []
        for record in page:
            shaped = record.shape(object_type, wanted)
            links: dict[str, dict[str, Any]] = {}
            for to in linked:
                to_type = state.object_type(to)
                linked_ids = state.associated(object_type, record.id, to_type)
                if linked_ids:
                    shown = linked_ids[:INLINE_LINKS]
                    links[to] = {
                        "results": [
                            {"id": i, "type": label}
                            for i in shown
                            for label in _inline_types(state, object_type, record.id, to_type, i)
                        ]
                    }
                    if len(linked_ids) > INLINE_LINKS:  # paged since January 2021
                        after = shown[-1]
                        path = f"/crm/v4/objects/{object_type}/{record.id}/associations/{to}"
                        links[to]["paging"] = {
                            "next": {"after": after, "link": f"{self.hub.url}{path}?after={after}"}
                        }
            if links:
                shaped["associations"] = links
            results.append(shaped)
        out: dict[str, Any] = {"results": results}
        if rest:
            nxt = rest[0].id
            out["paging"] = {
                "next": {
                    "after": nxt,
                    "link": f"{self.hub.url}{urlsplit(self.path).path}?after={nxt}",
                }
            }
        return 200, out

    def _get(self, args: dict[str, str], query: Mapping[str, list[str]], _: Any) -> tuple[int, Any]:
        record = self.hub.state.live(args["type"], args["id"])
        if record is None:
            raise ApiError(
                404, "Object not found.  objectId are usually numeric.", "OBJECT_NOT_FOUND"
            )
        return 200, record.shape(args["type"], query.get("properties", []))

    def _create(self, args: dict[str, str], _: Any, body: Mapping[str, Any]) -> tuple[int, Any]:
        return 201, self._create_one(args["type"], body)

    def _create_one(self, object_type: str, body: Mapping[str, Any]) -> dict[str, Any]:
        state = self.hub.state
        values = body.get("properties") or {}
        state.validate(object_type, values)
        record = state.add(object_type, {})
        state.update(object_type, record, values)
        for link in body.get("associations") or []:
            type_id = link["types"][0]["associationTypeId"]
            unlabeled = {(f, t): i for (f, t), i in UNLABELED_TYPES.items() if i == type_id}
            to_type = next(
                t
                for (f, t), i in (ASSOCIATION_TYPES | unlabeled).items()
                if f == object_type and i == type_id
            )
            # a contact-company link of the primary type (1 or 2) moves the primary there
            primary = False if unlabeled else (object_type, to_type) in UNLABELED_TYPES or None
            state.associate(object_type, record.id, to_type, str(link["to"]["id"]), primary)
        return record.shape(object_type, values)

    def _patch(self, args: dict[str, str], _: Any, body: Mapping[str, Any]) -> tuple[int, Any]:
        state = self.hub.state
        record = state.live(args["type"], args["id"])
        if record is None:
            raise ApiError(404, "Object not found.", "OBJECT_NOT_FOUND")
        state.update(args["type"], record, body.get("properties") or {})
        return 200, record.shape(args["type"], body.get("properties"))

    def _delete(self, args: dict[str, str], _: Any, __: Any) -> tuple[int, Any]:
        self.hub.state.archive(args["type"], [args["id"]])
        return 204, None

    def _search(self, args: dict[str, str], _: Any, body: Mapping[str, Any]) -> tuple[int, Any]:
        return 200, self.hub.state.search(args["type"], body, self.hub.search_cap)

    def _batch(
        self, args: dict[str, str], query: Mapping[str, list[str]], body: Mapping[str, Any]
    ) -> tuple[int, Any]:
        state, object_type, op = self.hub.state, args["type"], args["op"]
        inputs = body.get("inputs") or []
        if len(inputs) > self.hub.batch_limit:
            raise ApiError(
                400,
                f"The maximum number of inputs supported in a batch is {self.hub.batch_limit}. "
                "Please reduce the number of items and try again",
                "VALIDATION_ERROR",
            )
        started = iso_ms(now_ms())
        if op == "archive":
            state.archive(object_type, [str(i["id"]) for i in inputs])
            return 204, None
        if op == "create":
            for item in inputs:  # all-or-nothing, as HubSpot validates the whole batch
                state.validate(object_type, item.get("properties") or {})
            results = [self._create_one(object_type, item) for item in inputs]
            return 201, _batch_body(results, [], started)
        invalid: list[ApiError] = []
        if op in ("update", "upsert"):
            inputs, invalid = self._valid_inputs(object_type, inputs)
        results, missing = [], []
        id_property = body.get("idProperty") if op == "read" else None
        by_property = self._by_property(object_type, id_property)
        for item in inputs:
            rid = str(item["id"])
            if (
                id_property and id_property != "hs_object_id"
            ):  # a read by a unique property (email): its value is the input id
                found_id = by_property.get(rid.strip().lower())
                if found_id is None:
                    missing.append(rid)
                else:
                    results.append(state.objects[object_type][found_id].shape(
                        object_type, body.get("properties")))  # fmt: skip
                continue
            if op == "upsert" and item.get("idProperty"):
                found = next(
                    (
                        r
                        for r in state.objects[object_type].values()
                        if r.archived_ms is None and r.properties.get(item["idProperty"]) == rid
                    ),
                    None,
                )
                created = found is None
                found = found or state.add(object_type, {item["idProperty"]: rid})
                state.update(object_type, found, item.get("properties") or {})
                results.append(found.shape(object_type, item.get("properties")) | {"new": created})
                continue
            record = state.live(object_type, rid)
            if record is None:
                missing.append(rid)
                continue
            if op == "read":
                results.append(record.shape(object_type, body.get("properties")))
            else:
                state.update(object_type, record, item.get("properties") or {})
                results.append(record.shape(object_type, item.get("properties")))
        errors = [_item_error(exc) for exc in invalid]
        if missing:
            errors.append(
                {
                    "status": "error",
                    "category": "OBJECT_NOT_FOUND",
                    "message": f"Could not get some {_singular(object_type).upper()} objects, they may "
                    "be deleted or not exist. Check that ids are valid.",
                    "context": {"ids": missing} if self.hub.error_ids else {},
                    "errors": [],
                    "links": {},
                }
            )
        return (207 if errors else 200), _batch_body(results, errors, started)

    def _valid_inputs(
        self, object_type: str, inputs: list[Any]
    ) -> tuple[list[Any], list[ApiError]]:
        """The inputs to write, and the refusals of the invalid ones for a 207. Without
        ``invalid_in_207`` the first invalid input refuses the batch as a whole (400)."""
        valid, invalid = [], []
        for item in inputs:
            try:
                self.hub.state.validate(object_type, item.get("properties") or {})
            except ApiError as exc:
                if not self.hub.invalid_in_207:
                    raise
                invalid.append(exc)
                continue
            valid.append(item)
        return valid, invalid

    def _by_property(self, object_type: str, name: str | None) -> dict[str, str]:
        """Live records by a unique property's value, as HubSpot matches it (emails in any
        case); none for no property or ``hs_object_id`` (the ids themselves)."""
        if not name or name == "hs_object_id":
            return {}
        with self.hub.state.lock:
            return {
                str(r.properties[name]).strip().lower(): rid
                for rid, r in self.hub.state.objects[object_type].items()
                if r.archived_ms is None and r.properties.get(name)
            }

    # -- marketing events (hubspot_marketing.py) ---------------------------------------
    def _email_events(self, _: Any, query: Mapping[str, list[str]], __: Any) -> tuple[int, Any]:
        return self._marketing(lambda m: m.email_events(query))

    def _forms(self, _: Any, query: Mapping[str, list[str]], __: Any) -> tuple[int, Any]:
        return self._marketing(lambda m: m.form_list(query))

    def _form_submissions(
        self, args: dict[str, str], query: Mapping[str, list[str]], _: Any
    ) -> tuple[int, Any]:
        return self._marketing(lambda m: m.form_submissions(args["form"], query))

    def _marketing(self, answer: Callable[[MarketingState], Any]) -> tuple[int, Any]:
        try:
            return 200, answer(self.hub.state.marketing)
        except Refused as exc:
            raise ApiError(exc.status, str(exc), exc.category) from exc

    # -- the account -----------------------------------------------------------------
    def _account_details(self, *_: Any) -> tuple[int, Any]:
        """Which account the token belongs to, as GET /account-info/v3/details says it."""
        if self.hub.account_info_refused:
            raise _missing_scopes(["oauth"])
        return self._account_details_of(self.hub.state)

    @staticmethod
    def _account_details_of(state: CrmState) -> tuple[int, Any]:
        offset = datetime.now(ZoneInfo(state.time_zone)).utcoffset() or timedelta(0)
        minutes = int(offset.total_seconds()) // 60
        sign = "-" if minutes < 0 else "+"
        return 200, {
            "portalId": state.portal_id,
            "accountType": "STANDARD",
            "timeZone": state.time_zone,
            "companyCurrency": state.currency,
            "additionalCurrencies": [],
            "utcOffset": f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}",
            "utcOffsetMilliseconds": minutes * 60_000,
            "uiDomain": "app.hubspot.com",
            "dataHostingLocation": "na1",
        }

    def _account_me(self, *_: Any) -> tuple[int, Any]:
        """The older GET /integrations/v1/me: the portal id, time zone and currency."""
        if self.hub.account_me_refused:
            raise _missing_scopes(["oauth"])
        status, details = self._account_details_of(self.hub.state)
        keep = ("portalId", "timeZone", "utcOffset", "utcOffsetMilliseconds")
        return status, {**{k: details[k] for k in keep}, "currency": details["companyCurrency"]}

    # -- pipelines -------------------------------------------------------------------
    def _pipelines(
        self, args: dict[str, str], query: Mapping[str, list[str]], _: Any
    ) -> tuple[int, Any]:
        """Every pipeline of the type, stages inside; no paging (HubSpot sends none here)."""
        archived = _one(query, "archived", "false").lower() == "true"
        pipelines = self.hub.state.pipelines.get(args["type"])
        if pipelines is None:
            raise ApiError(400, f"Object type {args['type']} has no pipelines.", "VALIDATION_ERROR")
        return 200, {"results": [p for p in pipelines if p["archived"] == archived]}

    def _pipeline_get(self, args: dict[str, str], *_: Any) -> tuple[int, Any]:
        for pipeline in self.hub.state.pipelines.get(args["type"], []):
            if pipeline["id"] == args["pipeline"] and not pipeline["archived"]:
                return 200, pipeline
        raise ApiError(404, f"Unable to find pipeline {args['pipeline']}.", "OBJECT_NOT_FOUND")

    # -- properties ------------------------------------------------------------------
    def _properties(
        self, args: dict[str, str], query: Mapping[str, list[str]], _: Any
    ) -> tuple[int, Any]:
        """The live properties, or with ``archived=true`` the archived ones alone."""
        archived = _one(query, "archived", "false").lower() == "true"
        props = self.hub.state.properties[args["type"]].values()
        return 200, {"results": [p for p in props if bool(p["archived"]) == archived]}

    def _property_get(
        self, args: dict[str, str], query: Mapping[str, list[str]], _: Any
    ) -> tuple[int, Any]:
        prop = self.hub.state.properties[args["type"]].get(args["name"])
        archived = _one(query, "archived", "false").lower() == "true"
        if prop is None or bool(prop["archived"]) != archived:
            raise ApiError(404, f"Unable to find property {args['name']}", "OBJECT_NOT_FOUND")
        return 200, prop

    def _property_delete(self, args: dict[str, str], *_: Any) -> tuple[int, Any]:
        """DELETE archives the property (HubSpot's "Archive a property": to the recycling
        bin, restorable for 90 days); 204 whatever its state was."""
        self.hub.state.archive_property(args["type"], args["name"])
        return 204, None

    def _property_create(
        self, args: dict[str, str], _: Any, body: Mapping[str, Any]
    ) -> tuple[int, Any]:
        return 201, self._make_property(args["type"], body)

    def _make_property(self, object_type: str, body: Mapping[str, Any]) -> dict[str, Any]:
        state = self.hub.state
        with state.lock:
            if body.get("name") in state.properties[object_type]:
                raise ApiError(
                    409,
                    f"Property named '{body['name']}' already exists.",
                    "OBJECT_ALREADY_EXISTS",
                    context={"name": [body["name"]]},
                )
            self._within_property_limit(object_type)
            prop = property_shape(body, object_type, state.groups[object_type])
            state.properties[object_type][prop["name"]] = prop
            return prop

    def _within_property_limit(self, object_type: str) -> None:
        """HubSpot documents the limit and where to read it, not the answer to a create past
        it: the 400 VALIDATION_ERROR and its words here are the emulator's, in HubSpot's
        shape. A batch create then answers 207 with the properties it did make (HubSpot does
        not say whether it is all-or-nothing; a client must handle both)."""
        limit = self.hub.property_limit
        if limit is None:
            return
        props = self.hub.state.properties[object_type].values()
        custom = sum(1 for p in props if not p.get("hubspotDefined") and not p.get("archived"))
        if custom >= limit:
            raise ApiError(
                400,
                f"You have reached your limit of {limit} custom properties for {object_type}.",
                "VALIDATION_ERROR",
            )

    def _property_batch_create(
        self, args: dict[str, str], _: Any, body: Mapping[str, Any]
    ) -> tuple[int, Any]:
        started, results, errors = iso_ms(now_ms()), [], []
        for item in body.get("inputs") or []:
            try:
                results.append(self._make_property(args["type"], item))
            except ApiError as exc:
                errors.append(
                    {k: v for k, v in exc.body.items() if k != "correlationId"}
                    | {"context": exc.body.get("context", {}), "errors": [], "links": {}}
                )
        return (207 if errors else 201), _batch_body(results, errors, started)

    def _property_patch(
        self, args: dict[str, str], _: Any, body: Mapping[str, Any]
    ) -> tuple[int, Any]:
        state = self.hub.state
        prop = state.properties[args["type"]].get(args["name"])
        if prop is None:
            raise ApiError(404, f"Unable to find property {args['name']}", "OBJECT_NOT_FOUND")
        if prop["modificationMetadata"]["readOnlyDefinition"]:
            raise ApiError(
                400,
                f"Property {args['name']} is a HubSpot defined property and cannot be changed.",
                "VALIDATION_ERROR",
            )
        merged = {**prop, **{k: v for k, v in body.items() if v is not None}}
        updated = property_shape(merged, args["type"], state.groups[args["type"]])
        updated["createdAt"] = prop["createdAt"]
        state.properties[args["type"]][args["name"]] = updated
        return 200, updated

    def _groups(self, args: dict[str, str], *_: Any) -> tuple[int, Any]:
        return 200, {"results": list(self.hub.state.groups[args["type"]].values())}

    def _group_get(self, args: dict[str, str], *_: Any) -> tuple[int, Any]:
        group = self.hub.state.groups[args["type"]].get(args["name"])
        if group is None:
            raise ApiError(404, f"Unable to find property group {args['name']}", "OBJECT_NOT_FOUND")
        return 200, group

    def _group_create(
        self, args: dict[str, str], _: Any, body: Mapping[str, Any]
    ) -> tuple[int, Any]:
        groups = self.hub.state.groups[args["type"]]
        if not body.get("name") or not body.get("label"):
            raise ApiError(400, "Property group name and label are required.", "VALIDATION_ERROR")
        if body["name"] in groups:
            raise ApiError(
                409,
                f"Property group named '{body['name']}' already exists.",
                "OBJECT_ALREADY_EXISTS",
            )
        group = {
            "name": body["name"],
            "label": body["label"],
            "displayOrder": int(body.get("displayOrder", -1)),
            "archived": False,
        }
        groups[body["name"]] = group
        return 201, group

    # -- associations v4 -------------------------------------------------------------
    def _assoc_batch_read(
        self, args: dict[str, str], _: Any, body: Mapping[str, Any]
    ) -> tuple[int, Any]:
        state, from_type, to_type = self.hub.state, args["type"], args["to"]
        inputs = body.get("inputs") or []
        if len(inputs) > 1000:
            raise ApiError(
                400,
                "The maximum number of inputs supported in a batch is 1000.",
                "VALIDATION_ERROR",
            )
        started, results, errors = iso_ms(now_ms()), [], []
        for item in inputs:
            rid = str(item["id"])
            ids = state.associated(from_type, rid, to_type)
            after = str(item.get("after") or "")
            if after:  # a page after the first: the ids past the one it names
                ids = [i for i in ids if _id_after(i, after)]
            page, more = ids[:BATCH_LINKS], ids[BATCH_LINKS:]
            if not ids:
                errors.append(
                    {
                        "status": "error",
                        "category": "OBJECT_NOT_FOUND",
                        "subCategory": "crm.associations.NO_ASSOCIATIONS_FOUND",
                        "message": f"No {to_type} is associated with {_singular(from_type)} {rid}.",
                        "context": {"fromObjectId": [rid]},
                        "errors": [],
                        "links": {},
                    }
                )
                continue
            result: dict[str, Any] = {
                "from": {"id": rid},
                "to": [
                    {
                        "toObjectId": int(i),
                        "associationTypes": _v4_types(state, from_type, rid, to_type, i),
                    }
                    for i in page
                ],
            }
            if more:
                result["paging"] = {"next": {"after": page[-1]}}
            results.append(result)
        return (207 if errors else 200), _batch_body(results, errors, started)

    def _assoc_list(self, args: dict[str, str], *_: Any) -> tuple[int, Any]:
        state, from_type, rid, to_type = self.hub.state, args["type"], args["id"], args["to"]
        ids = state.associated(from_type, rid, to_type)
        return 200, {
            "results": [
                {
                    "toObjectId": int(i),
                    "associationTypes": _v4_types(state, from_type, rid, to_type, i),
                }
                for i in ids
            ]
        }


def _v4_types(
    state: CrmState, from_type: str, from_id: str, to_type: str, to_id: str
) -> list[dict[str, Any]]:
    """A link's types as v4 gives them: a primary company's "Primary" beside its unlabeled."""
    primary = ASSOCIATION_TYPES.get((from_type, to_type))
    return [
        {
            "category": "HUBSPOT_DEFINED",
            "typeId": type_id,
            "label": "Primary"
            if type_id == primary and (from_type, to_type) in UNLABELED_TYPES
            else None,
        }
        for type_id in state.link_types(from_type, from_id, to_type, to_id)
    ]


def _inline_types(
    state: CrmState, from_type: str, from_id: str, to_type: str, to_id: str
) -> list[str]:
    """A link's types as a v3 list gives them inline, one entry each: a contact's primary
    company twice (``contact_to_company`` and ``contact_to_company_unlabeled``), its
    other companies once (unlabeled)."""
    name = f"{_singular(from_type)}_to_{_singular(to_type)}"
    unlabeled = UNLABELED_TYPES.get((from_type, to_type))
    return [
        f"{name}_unlabeled" if type_id == unlabeled else name
        for type_id in state.link_types(from_type, from_id, to_type, to_id)
    ]


def _id_after(rid: str, after: str) -> bool:
    if rid.isdigit() and after.isdigit():
        return int(rid) > int(after)
    return rid > after


def _missing_scopes(needed: list[str], legacy: bool = False) -> ApiError:
    """HubSpot's 403; the legacy APIs name the scopes as ``requiredScopes``."""
    key = "requiredScopes" if legacy else "requiredGranularScopes"
    return ApiError(
        403,
        "This app hasn't been granted all required scopes to make this call. Read more "
        "about required scopes here: https://developers.hubspot.com/scopes.",
        "MISSING_SCOPES",
        errors=[
            {
                "message": "One or more of the following scopes are required.",
                "context": {key: needed},
            }
        ],
        links={"scopes": "https://developers.hubspot.com/scopes"},
    )


def _item_error(exc: ApiError) -> dict[str, Any]:
    """One refused input of a 207, as hubspot-api-ruby#403 quotes it: no record id."""
    body = {k: v for k, v in exc.body.items() if k != "correlationId"}
    return body | {"context": {}, "errors": [], "links": {}}


def _batch_body(results: list[Any], errors: list[Any], started: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "status": "COMPLETE",
        "results": results,
        "startedAt": started,
        "completedAt": iso_ms(now_ms()),
    }
    if errors:
        body["numErrors"] = len(errors)
        body["errors"] = errors
    return body


def _query(text: str) -> dict[str, list[str]]:
    """Repeated keys (the Python client) and comma lists (dlt, Singer) mean the same."""
    out: dict[str, list[str]] = {}
    for key, values in parse_qs(text, keep_blank_values=True).items():
        out[key] = [part for v in values for part in v.split(",") if part]
    return out


def _one(query: Mapping[str, list[str]], key: str, default: str) -> str:
    values = query.get(key)
    return values[0] if values else default


def _singular(object_type: str) -> str:
    return object_type[:-3] + "y" if object_type.endswith("ies") else object_type.rstrip("s")


HubSpotEmulator.handler = _Handler
HubSpotEmulator.handler_attribute = "hub"
