"""Secrets in a user's own data: columns that hold them are never stored, values shaped
like them never shown.

A customers export kept by hand, or one from a membership, booking or shop tool, can carry
a `Password`, `API Token` or WordPress `user_pass` column. Columns the schema does not
know are kept with the row (`extra`) and a rejected row is shown whole in the Rejects tab
("Original row"), which a shop shares (find55 security 5). A header alone cannot tell: "Last
password change" holds dates and "Token count" numbers, but "Password (set at signup)"
holds passwords. So a column whose header names a secret is left out unless each of its
values is plainly not one (a date, a yes/no, a count under a header that counts), said in
one line naming the column and never a value; a line that cannot be split into cells
shows every cell that may sit under such a header as ***. Every reject's value, reason and
original row pass through ``redaction.redact`` (a `pat-na1-...` HubSpot token or an
`AIza...` Google key in a notes column), as do the other columns kept in `extra`.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd

from smbml_connect.coerce import is_missing, parse_bool
from smbml_connect.redaction import redact

__all__ = [
    "HIDDEN", "hidden_cells", "hidden_line", "is_plain_value", "is_secret_header",
    "left_out_columns", "redacted", "redacted_all", "redacted_rejects", "secret_note",
]  # fmt: skip

HIDDEN = "***"  # what a cell that may hold a secret shows
# Words that make a header name a secret, compared in lower case as whole words: English
# and the languages of the exports the tool reads ("Passwort", "Mot de passe", "Contraseña");
# PrestaShop's `passwd`, Magento's `password_hash` and `rp_token`.
_WORDS = frozenset(
    {
        "password", "passwd", "pwd", "passcode", "passphrase", "secret", "token", "apikey",
        "apitoken", "accesstoken", "authtoken", "privatekey", "secretkey", "passwort",
        "kennwort", "contraseña", "contrasena", "senha", "wachtwoord", "lösenord", "losenord",
        "salasana", "hasło", "haslo", "adgangskode", "passord", "apischlüssel",
    }
)  # fmt: skip
# The same in the plural ("Tokens", WordPress's `session_tokens`): a number under one is
# how many ("Loyalty tokens: 120").
_PLURALS = frozenset({"passwords", "secrets", "tokens", "passcodes", "apikeys", "apitokens"})
# Two or three words that together name a secret ("API key", "mot de passe", WordPress's
# `user_pass` and `user_activation_key`, PrestaShop's `secure_key`).
_PHRASES = (("api", "key"), ("private", "key"), ("secret", "key"), ("access", "key"),
            ("auth", "key"), ("mot", "de", "passe"), ("clave", "de", "acceso"),
            ("api", "schlüssel"), ("clé", "api"), ("cle", "api"), ("clave", "api"),
            ("chave", "api"), ("chiave", "api"), ("user", "pass"), ("activation", "key"),
            ("secure", "key"), ("session", "key"), ("reset", "key"))  # fmt: skip
# Words that make a header count something ("Token count", "Password length", "Secret
# shopper score", "Anzahl Token"): a number under it is a measure, not a PIN.
_MEASURES = frozenset(
    {
        "count", "counts", "number", "num", "length", "len", "strength", "age", "score",
        "balance", "total", "attempts", "tries", "failures", "failed", "uses", "used", "points",
        "level", "size", "days", "anzahl", "länge", "nombre", "longueur", "número", "numero",
        "cantidad", "aantal", "lengte", "antal",
    }
)  # fmt: skip
_WORD = re.compile(r"[A-Z]+(?=[A-Z][a-zà-ÿ])|[A-ZÀ-Þ]?[a-zß-ÿł]+|[A-ZÀ-ÞŁ]+|\d+")
# What each shape ``redact`` knows contains, in lower case: a cheap test before its dozen
# patterns run (a case-blind regex took 11 s per million notes, these 0.5 s).
_MARKS = ("pat-", "ya29", "1//0", "aiza", "gocspx", "bearer", "authoriz", "private", "://",
          "passw", "secret", "token", "apikey", "api_key", "key=", "sig=", "signature=",
          "$2a$", "$2b$", "$2x$", "$2y$", "$p$", "$h$", "$1$", "$5$", "$6$", "$7$", "$y$", "$gy$",
          "$argon2", "pbkdf2", "bcrypt", "sha1$", "md5$", "scrypt$")  # fmt: skip
# Values that say plainly they are no secret. Dates as exports write them: ISO with a time
# and offset, slashed or dotted, or with a month's name ("Jan 5, 2025", "5 January 2025").
_TIME = r"(?:[ T,]+\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(?:[AaPp]\.?[Mm]\.?)?)?"
_ZONE = r"\s*(?:Z|UTC|GMT|[+-]\d{2}:?\d{2})?"
_MONTH = (r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec|january|february|march|"
          r"april|june|july|august|september|october|november|december)")  # fmt: skip
_DATE = re.compile(
    r"(?:\d{4}-\d{1,2}-\d{1,2}|\d{4}/\d{1,2}/\d{1,2}|\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}"
    rf"|(?:\d{{1,2}}\.?\s+)?{_MONTH}\.?\s+(?:\d{{1,2}}(?:st|nd|rd|th)?,?\s+)?\d{{4}})"
    + _TIME
    + _ZONE,
    re.IGNORECASE,
)
# A count or measure as written: "7", "1,200", "12.5", "80%"; never with a leading zero,
# which a PIN or a code has ("0042").
_COUNT = re.compile(r"[+-]?(?:0|[1-9]\d{0,2}(?:[, '\u00a0]\d{3})+|[1-9]\d*)(?:[.,]\d+)?%?")
# Words for nothing, and states a yes/no column says besides yes and no.
_NOTHING = frozenset({"never", "none", "n/a", "na", "-", "\u2013", "\u2014", "null", "nil",
                      "unknown", "not set", "never set"})  # fmt: skip
_PLAIN_WORDS = "not only dates, yes/no or counts"  # what a kept column's values are
# (a strength meter's words too: "Password strength: weak")
_STATES = frozenset({"set", "enabled", "disabled", "active", "inactive", "expired", "valid",
                     "invalid", "required", "optional", "strong", "weak", "medium", "fair",
                     "good", "very strong", "very weak"})  # fmt: skip


def _words(header: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(header)]


def is_secret_header(header: Any) -> bool:
    """Whether ``header`` names a password, a token or a key ("Password", "API Token",
    "api_key", "Passwort", WordPress's "user_pass", "Token count"); "Card Tokenization
    Method", "Key account" or "Passport" do not. Its values decide whether it holds one
    (``left_out_columns``)."""
    if not isinstance(header, str):
        return False
    words = _words(header)
    joined = "".join(words)
    if any(w in _WORDS or w in _PLURALS for w in words) or joined in _WORDS or joined in _PLURALS:
        return True
    return any(
        tuple(words[i : i + len(p)]) == p for p in _PHRASES for i in range(len(words) - len(p) + 1)
    )


def _counts(header: str) -> bool:
    """Whether a number under ``header`` (one naming a secret) is a count or a measure."""
    words = _words(header)
    return any(w in _MEASURES or w in _PLURALS for w in words)


def _plain(value: Any, counts: bool) -> bool:
    """Whether ``value`` is plainly no secret: a date, a yes/no, a word for nothing, or a
    number when the header counts (``counts``); anything else may be one."""
    if isinstance(value, bool | np.bool_ | datetime | date | pd.Timestamp | np.datetime64):
        return True
    if isinstance(value, int | float | np.integer | np.floating):
        return counts
    text = " ".join(str(value).split()).lower()
    if text in _NOTHING or text in _STATES or _DATE.fullmatch(text):
        return True
    try:
        parse_bool(text)
        return True
    except ValueError:
        return counts and _COUNT.fullmatch(text) is not None


def is_plain_value(header: Any, value: Any) -> bool:
    """Whether ``value`` may be kept under ``header``: any value under a header that names no
    secret; under one that does, only a date, a yes/no, or a count where it counts."""
    if not is_secret_header(header) or is_missing(value):
        return True
    return _plain(value, _counts(str(header)))


def left_out_columns(*frames: pd.DataFrame) -> list[str]:
    """The columns of ``frames`` never to keep or show, in order: each whose header names a
    secret, unless it has values and each is plainly no secret (``is_plain_value``). The
    same column in several frames (the rows read and the rows skipped) is judged on all."""
    out: list[str] = []
    for column in dict.fromkeys(c for f in frames for c in f.columns):
        if not is_secret_header(column):
            continue
        counts = _counts(str(column))
        values = [v for f in frames if column in f.columns for v in pd.unique(f[column])]
        present = [v for v in values if not is_missing(v) and str(v).strip()]
        if not present or not all(_plain(v, counts) for v in present):
            out.append(column)
    return out


def hidden_cells(cells: Sequence[Any], names: Sequence[Any], shifted: bool = True) -> list[Any]:
    """The cells of a row that could not be read as its header says, each that may sit
    under a header naming a secret shown as ***. In a CSV line (``shifted``) with ``k``
    cells too many or too few, such a cell may have moved up to ``k`` places right or left;
    a spreadsheet's cells stay in their columns."""
    secret = [i for i, name in enumerate(names) if is_secret_header(name)]
    if not secret:
        return list(cells)
    extra = len(cells) - len(names) if shifted else 0
    hide = {j for i in secret for j in range(i + min(0, extra), i + max(0, extra) + 1) if j >= 0}
    return [HIDDEN if j in hide and not is_missing(c) and str(c) != "" else c
            for j, c in enumerate(cells)]  # fmt: skip


def hidden_line(line: str, names: Sequence[str], dialect: Any) -> str:
    """A CSV line that cannot be read as a record, as shown in the rejects and by ``smbml
    inspect``: the line itself unless the header names a secret, then its cells with each
    that may sit under such a header as *** (``hidden_cells``)."""
    if not any(is_secret_header(n) for n in names):
        return line
    text, delimiter = line.rstrip("\r\n"), getattr(dialect, "delimiter", ",")
    try:
        cells = next(csv.reader([text], dialect), [])
    except csv.Error:
        cells = text.split(delimiter)
    return delimiter.join(str(c) for c in hidden_cells(cells, names))


def secret_note(header: str) -> str:
    """The one line for a column left out because its header names a secret."""
    return (
        f"{header}: left out, not stored and not shown: its header names a password, token "
        f"or key and its values may be ones ({_PLAIN_WORDS}), which this tool never keeps "
        "(rename the column if it holds something else)"
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
