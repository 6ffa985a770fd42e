"""Secrets out of text: every secret this process has read, and anything shaped like one.

The bottom of the core (it imports nothing of ours), so the error types, the log filter
and the HTTP policy can all redact without importing the keyring code.
"""

from __future__ import annotations

import re

__all__ = ["redact", "register"]

_KNOWN_SECRETS: set[str] = set()
# Shapes of secrets we might see before they are registered: HubSpot private-app tokens,
# bearer headers, and the private key inside a Google service-account JSON.
_PATTERNS = [
    re.compile(r"pat-[a-z]{2,4}\d?-[0-9a-f-]{20,}", re.IGNORECASE),
    re.compile(r"(Bearer\s+)[A-Za-z0-9._~+/=-]{8,}"),
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.S),
    re.compile(r'("private_key"\s*:\s*")[^"]+'),
]


def register(value: str) -> None:
    if len(value) >= 6:
        _KNOWN_SECRETS.add(value)


def redact(text: str) -> str:
    """Replace every known secret and anything shaped like one with ***."""
    for secret in sorted(_KNOWN_SECRETS, key=len, reverse=True):
        text = text.replace(secret, "***")
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: (m.group(1) if m.groups() else "") + "***", text)
    return text
