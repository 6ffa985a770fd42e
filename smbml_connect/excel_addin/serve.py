"""`smbml serve`: the local HTTPS server behind the Office.js add-in.

It serves the add-in's files and one function API over the registry. Only this
machine can reach it (127.0.0.1), only pages of the add-in's own origin may call it
(a web page elsewhere cannot, even in the same browser), the Host header must name
this machine (so a DNS-rebinding page cannot pose as it), and every API call must
carry the pairing code. Dates go out as Excel serial numbers, which is what a cell
holds.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import hmac
import logging
import os
import queue
import socket
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from smbml_connect import __version__
from smbml_connect.call_limits import CallLimit, limited
from smbml_connect.credentials import Secret
from smbml_connect.excel_addin.local_cert import CertFiles
from smbml_connect.excel_addin.officejs import DEFAULT_PORT, WEB_ROOT, manifest_xml
from smbml_connect.functions import REGISTRY, CallResult, FunctionContext, call, warm_up

__all__ = ["PAIRING_HEADER", "ServeSettings", "ServerThread", "create_app", "serve_forever"]

log = logging.getLogger(__name__)
PAIRING_HEADER = "X-SMBML-Pairing"
MAX_BODY_BYTES = 64 * 1024 * 1024
MAX_CALLS = 10_000
EXCEL_EPOCH = dt.datetime(1899, 12, 30)
# When stopping, a request in flight gets this long to finish; idle connections none.
GRACE_SECONDS = 3  # uvicorn takes whole seconds
# The longest one function call may compute (cooperatively: the loops that can run long
# look at it, `call_limits`): one FORECAST.ETS over a long history kept a worker for
# minutes, and the pool's two for every other SMB call of the workbook.
CALL_SECONDS = 60.0
STOPPING = "smbml serve stopped before answering: start it again, then recalculate"


@dataclass
class ServeSettings:
    secret: Secret
    port: int = DEFAULT_PORT
    store_path: Path | None = None
    extra_origins: Sequence[str] = ()
    web_root: Path = WEB_ROOT
    context: FunctionContext = field(default_factory=FunctionContext)

    def __post_init__(self) -> None:
        self.context.store_path = self.store_path

    @property
    def origins(self) -> set[str]:
        own = {f"https://localhost:{self.port}", f"https://127.0.0.1:{self.port}"}
        return own | {o.rstrip("/") for o in self.extra_origins}

    @property
    def hosts(self) -> set[str]:
        return {f"localhost:{self.port}", f"127.0.0.1:{self.port}"}


def _serial(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return (value - EXCEL_EPOCH) / dt.timedelta(days=1)
    if isinstance(value, dt.date):
        return float((value - EXCEL_EPOCH.date()).days)
    return value


def _answer(result: CallResult) -> dict[str, Any]:
    if result.error is not None:
        return {"error": result.error, "code": result.code}
    rows = [[_serial(v) for v in row] for row in result.value or []]
    return {
        "value": rows,
        "header": result.header,
        "formats": list(result.formats),
        "notes": list(result.notes),
        "cached": result.cached,
    }


def _with_ranges(calls: list[dict[str, Any]], ranges: Any) -> list[list[Any]] | str:
    """Each call's arguments with the shared ranges it names put back in their places.

    The add-in sends a range that several calls of a request pass once, in the body's
    `ranges` ({id: range}); a call holding it has null at that position and
    {position: id} in its `refs`. Every call gets the same parsed range (the functions
    only read their arguments). Returns the argument lists, or what is wrong."""
    if ranges is None:
        ranges = {}
    if not isinstance(ranges, dict) or not all(isinstance(r, list) for r in ranges.values()):
        return "ranges must map ids to ranges (lists)"
    resolved = []
    for i, entry in enumerate(calls):
        args = list(entry.get("args", []))
        refs = entry.get("refs", {})
        if not isinstance(refs, dict):
            return f"call {i}: refs must map argument positions to range ids"
        for position, range_id in refs.items():
            at = int(position) if position.isascii() and position.isdigit() else -1
            if not 0 <= at < len(args) or args[at] is not None:
                return f"call {i}: refs names argument {position!r}, which is not a null argument"
            if str(range_id) not in ranges:
                return f"call {i} refers to range {range_id!r}, which the request does not hold"
            args[at] = ranges[str(range_id)]
        resolved.append(args)
    return resolved


def _error(status: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse(
        {"error": message, **extra}, status_code=status, headers={"Cache-Control": "no-store"}
    )


def _too_big() -> JSONResponse:
    """The cap goes with the refusal, so the add-in packs its calls under it and tries again."""
    return _error(
        413,
        f"request over {MAX_BODY_BYTES // 2**20} MB: send fewer calls in one request",
        max_bytes=MAX_BODY_BYTES,
    )


class _Workers:
    """The threads the function calls run on: daemon threads, so a call still computing
    when the server stops cannot hold the process (a ThreadPoolExecutor's threads are
    joined at exit: Ctrl+C waited 80 s for one FORECAST.ETS, and a second Ctrl+C
    printed a traceback from that join)."""

    def __init__(self, count: int) -> None:
        self._jobs: queue.SimpleQueue[tuple[Future[Any], Callable[[], Any]] | None] = (
            queue.SimpleQueue()
        )
        self.stopping = threading.Event()
        for i in range(count):
            threading.Thread(target=self._work, name=f"smb_{i}", daemon=True).start()

    def submit(self, job: Callable[[], Any]) -> Future[Any]:
        if self.stopping.is_set():
            raise RuntimeError("cannot take calls after shutdown: smbml serve is stopping")
        future: Future[Any] = Future()
        self._jobs.put((future, job))
        return future

    def _work(self) -> None:
        while (item := self._jobs.get()) is not None:
            future, job = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(job())
            except BaseException as error:  # handed to the request that waits for it
                future.set_exception(error)

    def shutdown(self) -> None:
        """Cancel the queued calls and tell the running ones to stop (`call_limits`)."""
        self.stopping.set()
        while True:
            try:
                item = self._jobs.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                item[0].cancel()
        for _ in range(64):  # more than there are workers: each takes one and ends
            self._jobs.put(None)


class Guard:
    """Host, origin and pairing checks in front of everything (pure ASGI, so static too)."""

    def __init__(
        self,
        app: Callable[..., Awaitable[None]],
        settings: ServeSettings,
        pool: _Workers | None = None,
        stopped: asyncio.Event | None = None,
    ) -> None:
        self.app = app
        self.settings = settings
        self.pool = pool
        self.stopped = stopped

    def close(self) -> None:
        """Drop the function calls still queued, stop the running ones where they look
        (`call_limits.check`), and answer the requests waiting for them at once: a
        stopping server answers none of them (503), so none is left for uvicorn to cancel
        with a traceback after its grace."""
        if self.stopped is not None:
            self.stopped.set()
        if self.pool is not None:
            self.pool.shutdown()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        refusal = self._refusal(request)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        origin = request.headers.get("origin")

        async def send_with_headers(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"x-content-type-options", b"nosniff"))
                if origin:
                    headers.append((b"access-control-allow-origin", origin.encode()))
                    headers.append((b"vary", b"Origin"))
                message["headers"] = headers
            await send(message)

        if request.method == "OPTIONS" and origin:
            headers = {
                "Access-Control-Allow-Methods": "GET, POST",
                "Access-Control-Allow-Headers": f"Content-Type, {PAIRING_HEADER}",
                "Access-Control-Max-Age": "600",
            }
            # Chrome's Private Network Access asks before a page reaches this machine;
            # the allowed origins (checked above) may.
            if request.headers.get("access-control-request-private-network") == "true":
                headers["Access-Control-Allow-Private-Network"] = "true"
            await Response(status_code=204, headers=headers)(scope, receive, send_with_headers)
            return
        await self.app(scope, receive, send_with_headers)

    def _refusal(self, request: Request) -> Response | None:
        host = request.headers.get("host", "")
        if host not in self.settings.hosts:
            return _error(421, f"this server answers only to {sorted(self.settings.hosts)[0]}")
        origin = request.headers.get("origin")
        if origin is not None and origin.rstrip("/") not in self.settings.origins:
            log.warning("refused a request from origin %s", origin)
            return _error(403, f"origin {origin} is not allowed")
        if request.url.path.startswith("/api/") and request.method != "OPTIONS":
            given = request.headers.get(PAIRING_HEADER, "")
            if request.url.path != "/api/health" and not hmac.compare_digest(
                given.encode(), self.settings.secret.reveal().encode()
            ):
                return _error(
                    401,
                    "wrong or missing pairing code: copy the code smbml serve printed into the "
                    "SMB ML pane",
                )
        return None


def create_app(settings: ServeSettings) -> Guard:
    context = settings.context
    pool = _Workers(max(2, os.cpu_count() or 2))
    pool.submit(warm_up)  # on one of the workers: the first calls take the others
    limit = CallLimit(CALL_SECONDS, pool.stopping)
    stopped = asyncio.Event()

    def limited_call(name: str, args: list[Any]) -> CallResult:
        with limited(limit):
            return call(name, args, context)

    async def answers(names: list[str], arguments: list[list[Any]]) -> list[CallResult] | None:
        """Every call's result, or None when the server stops before they are all in."""
        try:
            futures = [
                pool.submit(functools.partial(limited_call, n, a))
                for n, a in zip(names, arguments, strict=True)
            ]
        except RuntimeError:  # the server is stopping
            return None
        results = asyncio.gather(*(asyncio.wrap_future(f) for f in futures))
        stop = asyncio.ensure_future(stopped.wait())
        waiting: list[asyncio.Future[Any]] = [results, stop]
        await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        stop.cancel()
        if stopped.is_set():  # calls told to stop said so too: one answer for them all
            results.cancel()  # nothing when they are all in
            results.add_done_callback(lambda done: done.cancelled() or done.exception())
            return None
        try:
            return list(results.result())
        except asyncio.CancelledError:  # a call the stopping server took off the queue
            return None

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"ok": True, "version": __version__})

    async def status(request: Request) -> JSONResponse:
        def store_state() -> dict[str, Any]:
            from smbml_connect.store import Store

            path = settings.store_path
            if path is None or not Path(path).exists():
                return {"path": str(path) if path else None, "scores_run": None}
            with Store.reading(path) as store:
                return {"path": str(path), "scores_run": store.latest_run_with("scores")}

        stats = context.cache.stats
        return JSONResponse(
            {
                "version": __version__,
                "functions": list(REGISTRY),
                "cache": {
                    "entries": len(context.cache),
                    "hits": stats.hits,
                    "misses": stats.misses,
                    "waits": stats.waits,
                },
                "store": await run_in_threadpool(store_state),
                "notes": list(context.recent_notes)[-20:],
            },
            headers={"Cache-Control": "no-store"},
        )

    async def functions(request: Request) -> JSONResponse:
        return JSONResponse(
            [
                {
                    "name": spec.name,
                    "help": spec.help,
                    "usage": spec.usage(),
                    "columns": list(spec.columns),
                    "args": [
                        {"name": a.name, "help": a.help, "range": a.range, "type": a.type,
                         "optional": a.optional}
                        for a in spec.args
                    ],
                }
                for spec in REGISTRY.values()
            ]
        )  # fmt: skip

    async def call_batch(request: Request) -> Response:
        size = request.headers.get("content-length")
        if size is not None and size.isascii() and size.isdigit() and int(size) > MAX_BODY_BYTES:
            return _too_big()
        body = bytearray()  # a chunked body says no size: stop reading at the cap, not after
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY_BYTES:
                return _too_big()
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError:
            return _error(400, "the body is not JSON")
        calls = payload.get("calls") if isinstance(payload, dict) else None
        if not isinstance(calls, list):
            return _error(400, 'send {"calls": [{"name": "FORECAST", "args": [...]}, ...]}')
        if len(calls) > MAX_CALLS:
            return _error(413, f"{len(calls)} calls in one request; at most {MAX_CALLS}")
        problems = [
            i for i, c in enumerate(calls)
            if not isinstance(c, dict) or not isinstance(c.get("name"), str)
            or not isinstance(c.get("args", []), list)
        ]  # fmt: skip
        if problems:
            return _error(400, f"call {problems[0]} needs a name (text) and args (a list)")
        arguments = _with_ranges(calls, payload.get("ranges"))
        if isinstance(arguments, str):
            return _error(400, arguments)
        names = [c["name"] for c in calls]
        started = time.perf_counter()
        results = await answers(names, arguments)
        if results is None:
            return _error(503, STOPPING)
        log.info(
            "served %d call(s) with %d shared range(s) in %.0f ms",
            len(calls),
            len(payload.get("ranges") or ()),
            1000 * (time.perf_counter() - started),
        )
        return Response(
            orjson.dumps({"results": [_answer(r) for r in results]}, default=str),
            media_type="application/json",
            headers={"Cache-Control": "no-store"},
        )

    async def manifest(request: Request) -> Response:
        return Response(
            manifest_xml(f"https://localhost:{settings.port}"), media_type="application/xml"
        )

    app = Starlette(
        routes=[
            Route("/api/health", health),
            Route("/api/status", status),
            Route("/api/functions", functions),
            # The add-in posts to /api/batch, which older servers lack (so an add-in
            # newer than its server is told so); /api/call, the older form with every
            # range inline, answers an add-in page loaded before an upgrade.
            Route("/api/batch", call_batch, methods=["POST"]),
            Route("/api/call", call_batch, methods=["POST"]),
            Route("/manifest.xml", manifest),
            Mount("/", StaticFiles(directory=settings.web_root, html=True)),
        ]
    )
    return Guard(app, settings, pool, stopped)


def _config(settings: ServeSettings, certs: CertFiles) -> uvicorn.Config:
    return uvicorn.Config(
        create_app(settings),
        host="127.0.0.1",  # never another interface: the pairing code is not a password
        port=settings.port,
        ssl_certfile=str(certs.cert),
        ssl_keyfile=str(certs.key),
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=GRACE_SECONDS,
    )


class _Server(uvicorn.Server):
    """uvicorn's server, minus its wait on idle keep-alive connections when stopping.

    uvicorn closes an idle connection politely, which over TLS means a close_notify and
    a wait for the client's (up to asyncio's 30 s ssl_shutdown_timeout), and it stops
    only when every connection is gone. Browsers and HTTP client sessions keep
    connections open without reading them, so Ctrl+C took ~30 s and a test's server
    10 s. Nothing is in flight on an idle connection: it is dropped at once. A request
    in flight gets `GRACE_SECONDS` to finish (a second Ctrl+C cuts that short), and
    whatever is still open after that is dropped too. Calls not yet started are dropped;
    a request waiting for calls is answered 503 at once (`Guard.close`), and its
    connection, idle from then on, is dropped as soon as the answer is out.
    """

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self._drop_idle()
        # Queued calls would otherwise all run before the process could exit, and a
        # request waiting for a long call would be cancelled after the grace, with a
        # traceback (a recalculation can queue 10,000 calls).
        if isinstance(self.config.app, Guard):
            self.config.app.close()
        dropping = asyncio.ensure_future(self._keep_dropping_idle())
        try:
            await super().shutdown(sockets)
        finally:
            dropping.cancel()
        for connection in list(self.server_state.connections):
            connection.transport.abort()

    def _drop_idle(self) -> None:
        for connection in list(self.server_state.connections):
            cycle = getattr(connection, "cycle", None)
            if cycle is None or cycle.response_complete:
                connection.transport.abort()

    async def _keep_dropping_idle(self) -> None:
        """Drop each connection whose answer went out while stopping (a polite TLS close
        would wait for the client's close_notify, and uvicorn for it, the whole grace)."""
        while True:
            await asyncio.sleep(0.05)
            self._drop_idle()


def serve_forever(settings: ServeSettings, certs: CertFiles) -> None:
    _Server(_config(settings, certs)).run()


class ServerThread:
    """The server in a background thread: for tests, benchmarks and the demo."""

    def __init__(self, settings: ServeSettings, certs: CertFiles) -> None:
        self.server = _Server(_config(settings, certs))
        self.thread = threading.Thread(target=self.server.run, daemon=True, name="smbml-serve")

    def __enter__(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("smbml serve did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=GRACE_SECONDS + 2)
        if self.thread.is_alive():  # past the grace: what a second Ctrl+C does
            self.server.force_exit = True
            self.thread.join(timeout=2)
        if self.thread.is_alive():
            raise RuntimeError("smbml serve did not stop")
