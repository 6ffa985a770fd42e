"""Secrets out of text: every secret this process has read, and anything shaped like one.

The bottom of the core (it imports nothing of ours), so the error types, the log filter
and the HTTP policy can all redact without importing the keyring code.
"""

from __future__ import annotations

import re

__all__ = ["escape_controls", "redact", "register"]

_KNOWN_SECRETS: set[str] = set()
# Shapes of secrets we might see before they are registered (a token google-auth fetched,
# a key in a URL an exception echoes, a proxy's password): the first group, when there
# is one, is kept so the line still says what was there.
_VALUE = r"[^\s\"'&,;)<>]{6,}"  # a value in a URL, header or JSON, up to its end
# A value found by its name only: letters and digits, as generated secrets have, so that
# words or money after a name ("Victoria's Secret: Bombshell", "Gift token: £25.00",
# "password: changed by rep", a shop's "?key=summer-sale") stay (review); a secret we
# have read is redacted whatever it is like.
_NAMED = r"(?=[^\s\"'&,;)<>]*\d)(?=[^\s\"'&,;)<>]*[A-Za-z])" + _VALUE
_PATTERNS = [
    # HubSpot private-app tokens (pat-na1-..., pat-eu1-...)
    re.compile(r"pat-[a-z]{2,4}\d?-[0-9a-f-]{20,}", re.IGNORECASE),
    # Google: OAuth access tokens, refresh tokens, API keys, OAuth client secrets
    re.compile(r"ya29\.[A-Za-z0-9._~+/=-]{10,}"),
    re.compile(r"1//0[A-Za-z0-9._~+/=-]{20,}"),
    re.compile(r"AIza[0-9A-Za-z_-]{30,}"),
    re.compile(r"GOCSPX-[0-9A-Za-z_-]{10,}"),
    # credentials in headers: a bearer token anywhere, any scheme after Authorization
    re.compile(r"(Bearer\s+)[A-Za-z0-9._~+/=-]{8,}"),
    re.compile(r"""((?:Proxy-)?Authorization["']?\s*[:=]\s*["']?[A-Za-z]+\s+)""" + _VALUE, re.I),
    # a private key, whole or cut short (a message truncated inside it)
    re.compile(
        r"-----BEGIN [A-Z ]*PRIVATE KEY-----(?:.*?-----END [A-Z ]*PRIVATE KEY-----|.*)", re.S
    ),
    # a password in a URL (a proxy's http://user:password@host)
    re.compile(r"(\b[a-z][a-z0-9+.-]*://[^\s:/@]+:)[^\s/@]+(?=@)", re.IGNORECASE),
    # secrets by name: JSON fields, Python reprs, query parameters and header lines
    re.compile(
        r"""((?:private_key|client_secret|refresh_token|access_token|id_token|api_?key|"""
        r"""hapikey|password|passwd|secret|token)["']?\s*[:=]\s*["']?)""" + _NAMED,
        re.IGNORECASE,
    ),
    re.compile(r"([?&](?:key|sig|signature|resourcekey)=)" + _NAMED, re.IGNORECASE),
    # password hashes a shop's users export holds: WordPress's $P$, bcrypt's $2y$, crypt's
    # $1$ $5$ $6$ $y$, argon2, Django's pbkdf2_sha256$ (each as good as the password to a
    # cracker)
    re.compile(r"\$(?:2[abxy]|P|H|1|5|6|7|y|gy|argon2(?:id|i|d))\$[./A-Za-z0-9$=,+-]{8,}"),
    re.compile(
        r"\b(?:pbkdf2_sha256|pbkdf2_sha1|bcrypt_sha256|bcrypt|argon2|scrypt|sha1|md5)"
        r"\$[./A-Za-z0-9$=,+-]{8,}"
    ),
]


def register(value: str) -> None:
    if len(value) >= 6:
        _KNOWN_SECRETS.add(value)


def redact(text: str) -> str:
    """Replace every known secret and anything shaped like one with ***."""
    for secret in sorted(_KNOWN_SECRETS, key=len, reverse=True):
        text = text.replace(secret, "***")
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: (m.group(1) or "" if m.groups() else "") + "***", text)
    return text


# Characters a terminal (or a log read in one) acts on instead of showing: C0 but tab and
# line feed (ESC starts sequences that retitle, clear, rewrite or link the screen; CR
# overwrites the line), DEL, C1, and the bidirectional controls that turn text around.
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def escape_controls(text: str) -> str:
    """Text from a source as a terminal or a log should show it: each control character
    as its escape (ESC -> \\x1b), so a contact named with an escape sequence is seen, not
    obeyed."""
    return _CONTROLS.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)
