"""Secrets: from keyring (service ``smbml_connect``, one entry per profile) or environment.

Resolved once at the entry point and passed down. Each secret is registered with the
redaction filter as soon as it is read, so it cannot reach a log line or an error
message that passes through logging.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

import keyring
import keyring.backend
import keyring.errors
from jaraco.classes import properties

from smbml_connect.errors import AuthError
from smbml_connect.redaction import escape_controls, redact
from smbml_connect.redaction import register as _register

__all__ = [
    "PAIRING",
    "SERVICE",
    "CredentialSpec",
    "InMemoryKeyring",
    "RedactingFilter",
    "Secret",
    "delete_secret",
    "get_secret",
    "redact",
    "store_secret",
]

SERVICE = "smbml_connect"


@dataclass(frozen=True)
class CredentialSpec:
    """A secret a connector needs: its keyring entry, its environment variable, its name.

    ``name`` is also the ``smbml auth <name>`` command; connectors declare their own.
    """

    name: str
    env_var: str
    label: str


PAIRING = CredentialSpec("excel-pairing", "SMBML_PAIRING_SECRET", "Excel pairing code")


class Secret:
    """A secret value that prints as *** everywhere but ``reveal()``."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value
        _register(value)

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__


class RedactingFilter(logging.Filter):
    """Attach to handlers: the formatted message and any traceback text are redacted, and
    their control characters escaped (a log is read in a terminal too)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = escape_controls(redact(record.getMessage()))
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            trace = logging.Formatter().formatException(record.exc_info)
            record.exc_text = escape_controls(redact(trace))
            record.exc_info = None
        return True


def _username(kind: str, profile: str) -> str:
    return f"{profile}:{kind}"


def get_secret(
    spec: CredentialSpec, profile: str = "default", env: Mapping[str, str] | None = None
) -> Secret:
    """The environment variable wins (servers, CI); otherwise keyring."""
    env = os.environ if env is None else env
    value = env.get(spec.env_var)
    if not value:
        try:
            value = keyring.get_password(SERVICE, _username(spec.name, profile))
        except keyring.errors.KeyringError:
            value = None
    if not value:
        raise AuthError(
            f"no {spec.name} credentials for profile {profile!r}: run `smbml auth {spec.name}` "
            f"or set {spec.env_var}"
        )
    return Secret(value)


def store_secret(spec: CredentialSpec, value: str, profile: str = "default") -> None:
    _register(value)
    try:
        keyring.set_password(SERVICE, _username(spec.name, profile), value)
    except keyring.errors.KeyringError as exc:
        raise AuthError(
            f"cannot save to the system keyring ({type(exc).__name__}); on a server set "
            f"{spec.env_var} instead"
        ) from None


def pairing_code(
    profile: str = "default", env: Mapping[str, str] | None = None, new: bool = False
) -> tuple[Secret, bool]:
    """The Excel add-in's pairing code, and whether it lasts beyond this process.

    Kept in keyring so a restarted server needs no new pairing; made when missing or when
    `new` is asked for (which unpairs every workbook). Without a keyring backend the code
    lasts as long as the server, unless SMBML_PAIRING_SECRET sets one.
    """
    if not new:
        try:
            return get_secret(PAIRING, profile, env), True
        except AuthError:
            pass
    code = secrets.token_urlsafe(18)
    try:
        store_secret(PAIRING, code, profile)
        return Secret(code), True
    except AuthError:
        return Secret(code), False


def delete_secret(spec: CredentialSpec, profile: str = "default") -> None:
    with contextlib.suppress(keyring.errors.PasswordDeleteError):
        keyring.delete_password(SERVICE, _username(spec.name, profile))


class InMemoryKeyring(keyring.backend.KeyringBackend):
    """A keyring for tests and headless machines: lives in the process, never on disk."""

    @classmethod
    def _never_chosen_by_keyring(cls) -> float:
        # keyring picks the best viable subclass of KeyringBackend on its own; a priority
        # that raises keeps this one out, so a headless `smbml auth` fails loudly instead
        # of "saving" a token into memory. Tests install it with keyring.set_keyring.
        raise RuntimeError("InMemoryKeyring is only used when installed with set_keyring")

    priority = properties.classproperty(_never_chosen_by_keyring)

    def __str__(self) -> str:
        return "InMemoryKeyring (tests only)"

    def __init__(self) -> None:
        super().__init__()
        self._items: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self._items.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self._items[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self._items.pop((service, username), None) is None:
            raise keyring.errors.PasswordDeleteError(f"no entry for {username}")
