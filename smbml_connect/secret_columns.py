"""Secrets in a user's own data: columns that hold them are never stored, values shaped
like them never shown.

A customers export kept by hand, or one from a membership or booking tool, can carry a
`Password` or `API Token` column. Columns the schema does not know are kept with the row
(`extra`) and a rejected row is shown whole in the Rejects tab ("Original row"), which a
shop shares (find55 security 5). So a column whose header names a secret is left out of
both, said in one line naming the column and never a value; and every reject's value,
reason and original row pass through ``redaction.redact`` (a `pat-na1-...` HubSpot token
or an `AIza...` Google key in a notes column), as do the other columns kept in `extra`.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

from smbml_connect.redaction import redact

__all__ = [
    "is_secret_header", "redacted", "redacted_all", "redacted_rejects", "secret_headers",
    "secret_note",
]  # fmt: skip

# Words that make a header a secret's, compared in lower case as whole words: English and
# the languages of the exports the tool reads ("Passwort", "Mot de passe", "Contraseña").
_WORDS = frozenset(
    {
        "password", "passwd", "pwd", "passcode", "passphrase", "secret", "token", "apikey",
        "apitoken", "accesstoken", "authtoken", "privatekey", "secretkey", "passwort",
        "kennwort", "contraseña", "contrasena", "senha", "wachtwoord", "lösenord", "losenord",
        "salasana", "hasło", "haslo", "adgangskode", "passord", "apischlüssel",
    }
)  # fmt: skip
# Two or three words that together name a secret ("API key", "mot de passe").
_PHRASES = (("api", "key"), ("private", "key"), ("secret", "key"), ("access", "key"),
            ("auth", "key"), ("mot", "de", "passe"), ("clave", "de", "acceso"),
            ("api", "schlüssel"), ("clé", "api"), ("cle", "api"), ("clave", "api"),
            ("chave", "api"), ("chiave", "api"), ("user", "pass"))  # fmt: skip
# Words that make a header about a secret, not the secret ("Token count", "Last password
# change", "Secret Santa"): such a column is kept (rv55b).
_ABOUT = frozenset(
    {
        "count", "number", "num", "change", "changed", "changes", "date", "last", "reset",
        "expires", "expiry", "expiration", "length", "strength", "santa", "updated",
        "created", "age", "at", "on", "type", "method", "status", "policy", "hint", "set",
        "required", "enabled", "used", "since", "sent", "when",
    }
)  # fmt: skip
_WORD = re.compile(r"[A-Z]+(?=[A-Z][a-zà-ÿ])|[A-ZÀ-Þ]?[a-zß-ÿł]+|[A-ZÀ-ÞŁ]+|\d+")
# What each shape ``redact`` knows contains, in lower case: a cheap test before its dozen
# patterns run (a case-blind regex took 11 s per million notes, these 0.5 s).
_MARKS = ("pat-", "ya29", "1//0", "aiza", "gocspx", "bearer", "authoriz", "private", "://",
          "passw", "secret", "token", "apikey", "api_key", "key=", "sig=", "signature=")  # fmt: skip


def _words(header: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(header)]


def is_secret_header(header: Any) -> bool:
    """Whether ``header`` names a password, a token or a key ("Password", "API Token",
    "api_key", "Passwort", WordPress's "user_pass"); "Card Tokenization Method", "Key
    account", "Token count" or "Last password change" do not."""
    if not isinstance(header, str):
        return False
    words = _words(header)
    if any(w in _ABOUT for w in words):
        return False
    if any(w in _WORDS for w in words) or "".join(words) in _WORDS:
        return True
    return any(
        tuple(words[i : i + len(p)]) == p for p in _PHRASES for i in range(len(words) - len(p) + 1)
    )


def secret_headers(columns: Any) -> list[str]:
    """The headers among ``columns`` that name a secret, in order."""
    return [c for c in columns if is_secret_header(c)]


def secret_note(header: str) -> str:
    """The one line for a column left out because its header names a secret."""
    return (
        f"{header}: left out, not stored and not shown: its header names a password, token "
        "or key, which this tool never keeps (rename the column if it holds something else)"
    )


def _may_hold(text: str) -> bool:
    low = text.lower()
    return any(mark in low for mark in _MARKS)


def redacted(value: Any) -> Any:
    """``value`` with anything shaped like a secret shown as ***; other values as they are."""
    if isinstance(value, str) and _may_hold(value):
        return redact(value)
    return value


def redacted_all(values: list[Any]) -> list[Any]:
    """``redacted`` of each value, the texts first tested together (most hold no mark)."""
    texts = [v for v in values if isinstance(v, str)]
    if not texts or not _may_hold("\n".join(texts)):
        return values
    return [redacted(v) for v in values]


def redacted_rejects(rejects: pd.DataFrame) -> pd.DataFrame:
    """``rejects`` with each value, reason and original row passed through ``redacted``."""
    columns = [c for c in ("value", "reason", "row") if c in rejects.columns]
    if rejects.empty or not columns:
        return rejects
    changed = {}
    for column in columns:
        values = rejects[column].tolist()
        shown = redacted_all(values)
        if shown != values:
            changed[column] = pd.Series(shown, index=rejects.index, dtype=object)
    return rejects.assign(**changed) if changed else rejects
