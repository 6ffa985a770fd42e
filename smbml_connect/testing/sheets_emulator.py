"""A local Sheets API v4 server (plus the OAuth token and Drive calls gspread makes).

gspread and google-api-python-client talk to it unchanged once their base URL points
here. It copies what a client can tell apart: Google's error JSON
(``{"error": {code, message, status}}``), fully percent-encoded A1 ranges with quoted
sheet names, RAW vs USER_ENTERED, values.get trimming, atomic batchUpdate, the 10
million cell cap, the 10 MB request cap, and per-minute read and write quotas per user
and per project. A service account signs a JWT; the token endpoint checks the
signature with the key registered for it, so a test exercises the real google-auth
flow. A spreadsheet not shared with the account answers 403, as Google does.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from smbml_connect.http.clock import SYSTEM_CLOCK, Clock
from smbml_connect.testing.faults import Fault, RollingWindow
from smbml_connect.testing.local_server import LocalServer, QuietHandler, match_route
from smbml_connect.testing.sheets_state import SheetsError, SheetsState

__all__ = ["Fault", "SheetsEmulator", "make_service_account"]

PAYLOAD_CAP = 10 * 1024 * 1024
SHEETS_SCOPES = (
    "https://www.googleapis.com/auth/spreadsheets",
    "https://www.googleapis.com/auth/drive",
    "https://www.googleapis.com/auth/drive.file",
)
_ID = r"(?P<id>[A-Za-z0-9_-]+)"
ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    ("POST", re.compile(r"^/token$"), "token"),
    # google-auth asks IAM which regions a service account may use (a background lookup)
    ("GET", re.compile(r"^/v1/projects/-/serviceAccounts/[^/]+/allowedLocations$"), "iam"),
    ("GET", re.compile(rf"^/drive/v3/files/{_ID}$"), "drive_get"),
    ("GET", re.compile(rf"^/v4/spreadsheets/{_ID}/values:batchGet$"), "values_batch_get"),
    ("POST", re.compile(rf"^/v4/spreadsheets/{_ID}/values:batchUpdate$"), "values_batch_update"),
    ("POST", re.compile(rf"^/v4/spreadsheets/{_ID}/values:batchClear$"), "values_batch_clear"),
    ("POST", re.compile(rf"^/v4/spreadsheets/{_ID}/values/(?P<range>.+):append$"), "append"),
    ("POST", re.compile(rf"^/v4/spreadsheets/{_ID}/values/(?P<range>.+):clear$"), "clear"),
    ("GET", re.compile(rf"^/v4/spreadsheets/{_ID}/values/(?P<range>.+)$"), "values_get"),
    ("PUT", re.compile(rf"^/v4/spreadsheets/{_ID}/values/(?P<range>.+)$"), "values_update"),
    ("POST", re.compile(rf"^/v4/spreadsheets/{_ID}:batchUpdate$"), "batch_update"),
    ("GET", re.compile(rf"^/v4/spreadsheets/{_ID}$"), "get"),
]
_READS = {"drive_get", "values_batch_get", "values_get", "get"}


def make_service_account(
    emulator: SheetsEmulator, email: str = "smbml@example.iam.gserviceaccount.com"
) -> dict[str, str]:
    """A service-account JSON key whose token URI is this emulator (a fresh RSA key)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    emulator.service_accounts[email] = key.public_key()
    return {
        "type": "service_account",
        "project_id": "smbml-test",
        "private_key_id": secrets.token_hex(20),
        "private_key": pem,
        "client_email": email,
        "client_id": "100000000000000000001",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": f"{emulator.url}/token",
    }


class SheetsEmulator(LocalServer):
    """Start with ``with SheetsEmulator() as emu:``; point clients at ``emu.url``."""

    def __init__(
        self,
        *,
        per_user_per_minute: int = 60,
        per_project_per_minute: int = 300,
        time_scale: float = 1.0,
        quotas: bool = True,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        super().__init__()
        self.state = SheetsState()
        self.service_accounts: dict[str, Any] = {}  # client_email -> RSA public key
        self.tokens: dict[str, str] = {}  # access token -> who
        self.quotas = quotas
        self.busy_seconds = 0.0  # time spent applying requests (benchmarks subtract it)
        self.time_scale = time_scale
        self.clock = clock  # rate windows only; share a FakeClock with the client under test
        self.per_user = per_user_per_minute
        self._windows: dict[tuple[str, str], RollingWindow] = {}
        self._project = {
            kind: RollingWindow(60.0 * time_scale, per_project_per_minute)
            for kind in ("read", "write")
        }
        self._lock = threading.Lock()  # one request changes state at a time, as in a transaction

    # -- test controls ---------------------------------------------------------------
    def issue_token(self, who: str = "tester@example.com") -> str:
        token = "ya29.emu-" + secrets.token_urlsafe(24)
        self.tokens[token] = who
        return token

    def total(self, prefix: str = "") -> int:
        """Sheets and Drive requests so far; token and IAM calls are not Sheets API calls."""
        return sum(
            n
            for k, n in self.requests.items()
            if k.startswith(prefix) and k.split()[-1] not in ("token", "iam")
        )

    def reset_counts(self) -> None:
        super().reset_counts()
        self.busy_seconds = 0.0

    def _admit(self, who: str, kind: str) -> str | None:
        """None when admitted, else the quota that is used up."""
        if not self.quotas:
            return None
        with self._lock:
            now = self.clock.monotonic()
            user = self._windows.setdefault(
                (who, kind), RollingWindow(60.0 * self.time_scale, self.per_user)
            )
            project = self._project[kind]
            label = "Read" if kind == "read" else "Write"
            if not user.admit(now):
                return f"{label} requests per minute per user"
            if not project.admit(now):
                user.times.pop()
                return f"{label} requests per minute"
            return None


class _Handler(QuietHandler):
    emu: SheetsEmulator

    def _serve(self, method: str) -> None:
        emu = self.emu
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        if length > PAYLOAD_CAP:
            self.rfile.read(length)
            self._error(
                SheetsError(400, f"Request payload size exceeds the limit: {PAYLOAD_CAP} bytes.")
            )
            return
        raw = self.rfile.read(length) if length else b""
        route = match_route(ROUTES, method, parts.path)
        emu.requests[f"{method} {route[0] if route else parts.path}"] += 1
        fault = emu._take_fault(method, parts.path)
        applied_then_dropped = fault is not None and fault.kind == "drop" and fault.after
        if fault is not None and not applied_then_dropped and self._fault(fault):
            return
        if route is None:
            self._error(SheetsError(404, f"Unknown route {method} {parts.path}"))
            return
        name, match = route
        query = parse_qs(parts.query, keep_blank_values=True)
        if name == "token":
            self._token(raw)
            return
        if name == "iam":
            self._send(200, {"locations": [], "encodedLocations": "0x0"})
            return
        who = self._caller()
        if who is None:
            return
        exhausted = emu._admit(who, "read" if name in _READS else "write")
        if exhausted:
            self._error(
                SheetsError(
                    429,
                    f"Quota exceeded for quota metric '{exhausted.split(' per')[0]}' and limit "
                    f"'{exhausted}' of service 'sheets.googleapis.com' for consumer "
                    "'project_number:100000000001'.",
                    "RESOURCE_EXHAUSTED",
                )
            )
            return
        try:
            args = {k: v for k, v in match.groupdict().items() if v is not None}
            book = emu.state.book(args["id"])
            if book.shared_with is not None and who not in book.shared_with:
                raise SheetsError(403, "The caller does not have permission")
            started = time.perf_counter()
            body = json.loads(raw) if raw else {}
            with emu._lock:
                payload = getattr(self, f"_{name}")(args, query, body)
                emu.busy_seconds += time.perf_counter() - started
        except SheetsError as exc:
            self._error(exc)
            return
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            self._error(SheetsError(400, f"Invalid JSON payload received. {exc}"))
            return
        if applied_then_dropped:
            self._drop()
            return
        self._send(200, payload)

    # -- plumbing --------------------------------------------------------------------
    def _fault(self, fault: Fault) -> bool:
        if fault.kind == "drop":
            self._drop()
            return True
        if fault.kind == "slow":
            time.sleep(fault.delay)
            return False
        if fault.kind == "429":
            self._error(
                SheetsError(
                    429,
                    "Quota exceeded for quota metric 'Write requests' and limit 'Write requests "
                    "per minute per user' of service 'sheets.googleapis.com' for consumer "
                    "'project_number:100000000001'.",
                    "RESOURCE_EXHAUSTED",
                ),
                retry_after=fault.retry_after,
            )
            return True
        status = "UNAVAILABLE" if fault.status == 503 else "INTERNAL"
        message = (
            "The service is currently unavailable."
            if fault.status == 503
            else "Internal error encountered."
        )
        self._error(SheetsError(fault.status, message, status))
        return True

    def _send(self, status: int, payload: Any, headers: Mapping[str, str] | None = None) -> None:
        self.emu.statuses[status] += 1
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _error(self, exc: SheetsError, retry_after: float | None = None) -> None:
        extra = {} if retry_after is None else {"Retry-After": f"{retry_after:g}"}
        self._send(exc.code, exc.body(), extra)

    def _caller(self) -> str | None:
        token = self.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        who = self.emu.tokens.get(token)
        if who is None:
            self._error(
                SheetsError(
                    401,
                    "Request had invalid authentication credentials. Expected OAuth 2 access "
                    "token, login cookie or other valid authentication credential. See "
                    "https://developers.google.com/identity/sign-in/web/devconsole-project.",
                    "UNAUTHENTICATED",
                )
            )
        return who

    def _token(self, raw: bytes) -> None:
        """The OAuth 2.0 JWT-bearer grant a service account uses."""
        form = parse_qs(raw.decode())
        try:
            assertion = form["assertion"][0]
            header_b64, payload_b64, signature_b64 = assertion.split(".")
            claims = json.loads(_b64(payload_b64))
            key = self.emu.service_accounts[claims["iss"]]
            from cryptography.hazmat.primitives import hashes
            from cryptography.hazmat.primitives.asymmetric import padding

            key.verify(
                _b64(signature_b64),
                f"{header_b64}.{payload_b64}".encode(),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
        except Exception:
            self._send(
                400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}
            )
            return
        if claims.get("exp", 0) < time.time():
            self._send(400, {"error": "invalid_grant", "error_description": "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe."})  # fmt: skip
            return
        scopes = str(claims.get("scope", "")).split()
        if not any(s in SHEETS_SCOPES for s in scopes):
            self._send(400, {"error": "invalid_scope", "error_description": "Invalid OAuth scope or ID token audience provided."})  # fmt: skip
            return
        token = self.emu.issue_token(claims["iss"])
        self._send(200, {"access_token": token, "expires_in": 3599, "token_type": "Bearer"})

    # -- routes ----------------------------------------------------------------------
    def _get(self, args: dict[str, str], query: dict[str, list[str]], _: Any) -> Any:
        book = self.emu.state.book(args["id"])
        if _one(query, "includeGridData", "false").lower() == "true":
            return book.grid_body(query.get("ranges", []), _one(query, "fields", ""))
        return book.metadata_body()

    def _values_get(self, args: dict[str, str], query: dict[str, list[str]], _: Any) -> Any:
        return self.emu.state.values_get(
            args["id"],
            unquote(args["range"]),
            _one(query, "valueRenderOption", "FORMATTED_VALUE"),
            _one(query, "dateTimeRenderOption", "SERIAL_NUMBER"),
            _one(query, "majorDimension", "ROWS"),
        )

    def _values_batch_get(self, args: dict[str, str], query: dict[str, list[str]], _: Any) -> Any:
        ranges = query.get("ranges", [])
        return {
            "spreadsheetId": args["id"],
            "valueRanges": [
                self.emu.state.values_get(
                    args["id"],
                    text,
                    _one(query, "valueRenderOption", "FORMATTED_VALUE"),
                    _one(query, "dateTimeRenderOption", "SERIAL_NUMBER"),
                    _one(query, "majorDimension", "ROWS"),
                )
                for text in ranges
            ],
        }

    def _values_update(self, args: dict[str, str], query: dict[str, list[str]], body: Any) -> Any:
        text = unquote(args["range"])
        if body.get("range") and body["range"] != text:
            raise SheetsError(
                400,
                f"Requested writing within range [{text}], but tried writing to [{body['range']}]",
            )
        return self.emu.state.values_update(
            args["id"],
            text,
            body.get("values"),
            _one(query, "valueInputOption", None),
            body.get("majorDimension"),
        )

    def _values_batch_update(self, args: dict[str, str], _: Any, body: Any) -> Any:
        return self.emu.state.values_batch_update(args["id"], body)

    def _append(self, args: dict[str, str], query: dict[str, list[str]], body: Any) -> Any:
        return self.emu.state.values_append(
            args["id"],
            unquote(args["range"]),
            body.get("values"),
            _one(query, "valueInputOption", None),
            _one(query, "insertDataOption", "OVERWRITE"),
        )

    def _clear(self, args: dict[str, str], *_: Any) -> Any:
        return self.emu.state.values_clear(args["id"], unquote(args["range"]))

    def _values_batch_clear(self, args: dict[str, str], _: Any, body: Any) -> Any:
        cleared = [
            self.emu.state.values_clear(args["id"], text)["clearedRange"]
            for text in body.get("ranges") or []
        ]
        return {"spreadsheetId": args["id"], "clearedRanges": cleared}

    def _batch_update(self, args: dict[str, str], _: Any, body: Any) -> Any:
        return self.emu.state.batch_update(args["id"], body)

    def _drive_get(self, args: dict[str, str], *_: Any) -> Any:
        book = self.emu.state.book(args["id"])
        modified = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=book.modified)
        return {
            "kind": "drive#file",
            "id": book.spreadsheet_id,
            "name": book.title,
            "mimeType": "application/vnd.google-apps.spreadsheet",
            "createdTime": "2026-01-01T00:00:00.000Z",
            "modifiedTime": modified.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        }


def _one(query: Mapping[str, list[str]], key: str, default: Any) -> Any:
    values = query.get(key)
    return values[0] if values else default


def _b64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


SheetsEmulator.handler = _Handler
SheetsEmulator.handler_attribute = "emu"
