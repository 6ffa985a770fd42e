"""What both emulators share: a quiet HTTP server on 127.0.0.1, faults and counters.

A subclass names its request handler (``handler``) and the attribute through which the
handler reaches the emulator (``handler_attribute``); the handler implements ``_serve``.
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, Self

from smbml_connect.testing.faults import Fault

__all__ = ["LocalServer", "QuietHandler", "match_route"]

POLL_SECONDS = 0.05


class QuietHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out as two writes; with Nagle on, the second waits for the
    # client's delayed ACK (about 40 ms a response on Linux). Real servers set TCP_NODELAY.
    disable_nagle_algorithm = True

    local_server: ClassVar[LocalServer]

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read counters
        pass

    def setup(self) -> None:
        super().setup()
        self.local_server._opened(self.connection)

    def finish(self) -> None:
        self.local_server._closed(self.connection)
        super().finish()

    def handle(self) -> None:
        # The client gave up waiting (a timeout test), or stop() closed a kept-alive
        # connection: there is nobody left to answer.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError, OSError):
            super().handle()

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def _serve(self, method: str) -> None:
        raise NotImplementedError

    def _drop(self) -> None:
        """A dropped connection: no answer at all."""
        self.close_connection = True
        self.connection.shutdown(socket.SHUT_RDWR)


def match_route(
    routes: Sequence[tuple[str, re.Pattern[str], str]], method: str, path: str
) -> tuple[str, re.Match[str]] | None:
    for verb, pattern, name in routes:
        if verb == method and (found := pattern.match(path)):
            return name, found
    return None


class LocalServer:
    """Start with ``with Emulator() as emu:``; clients go to ``emu.url``."""

    handler: ClassVar[type[QuietHandler]]
    handler_attribute: ClassVar[str]

    def __init__(self) -> None:
        self.faults: list[Fault] = []
        self.requests: Counter[str] = Counter()
        self.statuses: Counter[int] = Counter()
        self._fault_lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    @property
    def url(self) -> str:
        assert self._server is not None, "start the emulator first"
        host, port = self._server.server_address[:2]
        assert isinstance(host, str), "an AF_INET address (a unix socket's would be bytes)"
        return f"http://{host}:{port}"

    def start(self) -> Self:
        attributes = {self.handler_attribute: self, "local_server": self}
        self._server = ThreadingHTTPServer(
            ("127.0.0.1", 0), type("Handler", (self.handler,), attributes)
        )
        self._server.daemon_threads = True
        # shutdown() waits for the loop to look at its flag, once per poll interval
        # (0.5 s by default: half a second lost at every stop).
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(POLL_SECONDS,), daemon=True,
            name=f"{type(self).__name__}",
        )  # fmt: skip
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop at once: clients' kept-alive connections are closed, not waited for."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        with self._connections_lock:
            still_open = list(self._connections)
        for connection in still_open:  # each handler thread, waiting to read, sees the end
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join()
        self._server = self._thread = None

    def _opened(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.add(connection)

    def _closed(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.discard(connection)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def inject(self, fault: Fault) -> None:
        with self._fault_lock:
            self.faults.append(fault)

    @contextmanager
    def offline(self) -> Iterator[None]:
        """Every request answers 503 while inside the block."""
        fault = Fault("5xx", count=10**9, status=503)
        self.inject(fault)
        try:
            yield
        finally:
            fault.count = 0

    def reset_counts(self) -> None:
        self.requests.clear()
        self.statuses.clear()

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self._fault_lock:
            for fault in self.faults:
                if fault.matches(method, path):
                    fault.count -= 1
                    return fault
        return None
