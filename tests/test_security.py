"""An outsider's attacks on the product (docs/ARCHITECTURE.md, "Security review"): each
test names the attack, the output it reached and what must hold there."""

from __future__ import annotations

import pytest

from smbml_connect.redaction import redact

# Secrets in the shapes the services really hand out, as a message could carry them
# before anything registered them: what must go, and what must stay.
SHAPED = [
    ("Authorization: Bearer ya29.a0AfH6SMBxABCDEFGHIJ", "ya29.a0AfH6SMBx", "Bearer"),
    ("token ya29.a0AfH6SMBx-abcdefghijk_lmnop expired", "ya29.", "expired"),
    ('{"access_token": "ya29.a0AfH6SMBxabcdefghijk"}', "ya29.", "access_token"),
    ('{"refresh_token": "1//0gAbCdEfGhIjKlMnOpQrStUvWxYz-abc"}', "1//0gAbC", "refresh_token"),
    ("refresh with 1//0gAbCdEfGhIjKlMnOpQrStUvWxYz-abc failed", "1//0gAbC", "failed"),
    (
        "GET /crm/v3/objects/contacts?hapikey=1234abcd-90ab-cdef-1234-567890abcdef&limit=10",
        "1234abcd",
        "limit=10",
    ),
    ("GET /v4/spreadsheets/1AbC?key=AIzaSyA-1234567890abcdefghijklmnopqrstu", "AIzaSy", "1AbC"),
    ("Cannot connect to proxy http://alice:s3cretP4ss@proxy.example:3128", "s3cret", "alice"),
    ("{'client_secret': 'GOCSPX-abcdefghijklmnopqrstuvwxyz12'}", "GOCSPX-abc", "client_secret"),
    ("{'Authorization': 'Basic YWxpY2U6czNjcmV0UDRzcw=='}", "YWxpY2U6", "Authorization"),
    # a message cut short inside a service-account key (no END line)
    ("key {'private_key': '-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBgkqh", "MIIEvQ", "key"),
    ("pat-eu1-12345678-90ab-cdef-1234-567890abcdef refused", "12345678-90ab", "refused"),
]


@pytest.mark.parametrize(("text", "secret", "kept"), SHAPED)
def test_secret_shapes_are_redacted_before_anything_registers_them(text, secret, kept):
    cleaned = redact(text)
    assert secret not in cleaned and "***" in cleaned and kept in cleaned


@pytest.mark.parametrize(
    "text",
    [
        "the token endpoint https://oauth2.googleapis.com/token gave no token (x): check "
        "token_uri in the key, or set [google] token_url",
        "Basic information: the bearer of news asked for a password reset; secret sauce",
        "config key hubspot.token looks like a secret",
        "https://docs.google.com/spreadsheets/d/1AbCdEfGh/edit#gid=0",
    ],
)
def test_plain_words_about_secrets_stay(text):
    assert redact(text) == text
