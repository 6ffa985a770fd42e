"""What counts as consent: the wordings of real exports, read one way, failing closed.

A consent value is read as consent, as an opt-out, or as missing (blank). Anything
else is unreadable, and an unreadable value is an opt-out too: a contact is scored
only on a value that says yes. Blank values are the user's choice (``missing_means``).

Yes/no values are read against the column's own wording: ``true`` under "Accepts
Marketing" is consent, ``true`` under "Unsubscribed from all email" or "Do not
contact" is an opt-out. Lists (HubSpot multiple checkboxes, "a;b") count as consent
when one part is consent and no part is an opt-out or unreadable.

Only an empty cell is blank: a written "n/a", "-", "null" or "#N/A" says nothing that
allows marketing, so it is unreadable. A value a source took from under a header that
says no keeps that header ("Unsubscribed: TRUE", ``under_header``), so it is read the
same way wherever it is stored.

A date under a header that says when someone opted out ("Unsubscribe Date") is an
opt-out. Other columns whose header is itself an opt-out list or a consent column
(``is_opt_out_header``, ``is_consent_header``) are read beside the consent column, and
any opt-out among them wins. ``OPT_OUT_LIST`` holds the names of the lists of opt-outs
that name a contact: anything written there is an opt-out.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd

__all__ = [
    "CONSENT_WORDS",
    "NEGATIVE_HEADERS",
    "OPT_OUT_LIST",
    "OPT_OUT_WORDS",
    "UNREADABLE_CONSENT",
    "Reading",
    "hubspot_consent",
    "is_consent_header",
    "is_negative_header",
    "is_opt_out_date",
    "is_opt_out_header",
    "is_suppression_header",
    "keep_header_meaning",
    "opt_out_list_value",
    "read_column",
    "read_consent",
    "says_no",
    "under_header",
]

Decision = Literal["consent", "opt-out", "missing", "unreadable"]

# Yes and no as written in the languages whose deal stages the layouts read (German,
# French, Spanish, Italian, Portuguese), with Chinese and Japanese, and TRUE and FALSE as
# a localised Excel writes them ("WAHR", "VRAI", "VERDADERO"): a German shop's "Ja" read
# as an unknown word made every contact an opt-out. Any other word still fails closed.
_ENGLISH_YES = frozenset({"true", "t", "yes", "y", "1", "on", "x", "checked"})
_ENGLISH_NO = frozenset({"false", "f", "no", "n", "0", "off", "unchecked"})
_YES = _ENGLISH_YES | frozenset(
    {
        "ja", "j", "wahr", "oui", "vrai", "sí", "si", "sì", "verdadero", "vero", "sim",
        "verdadeiro", "是", "はい",
    }
)  # fmt: skip
_NO = _ENGLISH_NO | frozenset(
    {"nein", "falsch", "non", "faux", "falso", "não", "nao", "否", "いいえ"}
)  # fmt: skip
# The yes and no words of other languages: read only under a header whose meaning is
# known (`keep_header_meaning`). Under "Newsletter abgemeldet" ("unsubscribed") a German
# "Ja" is a no; read as a plain yes under a header we could not tell, it scored the people
# who opted out (rv56 item 1). Worked out from `_YES` and `_NO`, so that a word added to
# either is held to a known header unless it is English.
_FOREIGN = (_YES | _NO) - _ENGLISH_YES - _ENGLISH_NO
# Wordings that say yes whatever the column is called.
CONSENT_WORDS = frozenset(
    {
        "opted in", "opt-in", "opt in", "opted-in", "subscribed", "granted", "consented",
        "consent given", "accepts marketing", "accepts email marketing",
        "marketing contact",  # HubSpot "Marketing contact status"
        "freely given consent from contact",  # HubSpot GDPR legal basis
        "legitimate interest - prospect/lead",
        "legitimate interest - existing customer",
    }
)  # fmt: skip
# Wordings that say no (or that say nothing that allows marketing) whatever the column.
OPT_OUT_WORDS = frozenset(
    {
        "opted out", "opt-out", "opt out", "opted-out", "unsubscribed", "denied", "revoked",
        "withdrawn", "declined", "refused", "do not contact", "do not email", "do not market",
        "do not call", "dnc", "opted out of all email", "unsubscribed from all email",
        "non-marketing contact", "non-marketing", "not a marketing contact",
        "not subscribed", "not_subscribed", "never subscribed",  # Shopify
        "cleaned", "pending", "transactional", "archived",  # Mailchimp audience status
        "bounced", "complained", "spam", "redacted", "invalid",
        "suppressed",  # Klaviyo: a profile that cannot be e-mailed
        "no consent",  # Pipedrive's "Marketing status"
    }
)  # fmt: skip
# GDPR lawful bases that do not cover marketing; they say no unless another part says yes.
_NO_MARKETING_BASIS = frozenset(
    {
        "not applicable", "performance of a contract", "legitimate interest - other",
        "legal obligation", "vital interest", "public task",
    }
)  # fmt: skip
# Column names under which yes means "do not market to them".
NEGATIVE_HEADERS = re.compile(
    r"do.?not|\bdnc\b|unsubscri|opt(ed)?.?out|optout|non.?marketing|suppress|blacklist|"
    r"block(ed|list)|bounced|^\s*no[\s_-]*(e-?mails?|newsletters?|marketing|contact)\b|"
    # the same in the languages whose yes and no are read (`_FOREIGN`)
    r"abgemeldet|abbestellt|abmeldung|austragung|ausgetragen|werbesperre|sperrliste|"
    r"keine.?(werbung|e-?mails?|newsletter|kontakt)|nicht.?(kontaktieren|anschreiben)|"
    r"d[ée]sabonn|d[ée]sinscri|ne.?pas.?(contacter|solliciter)|liste.?rouge|"
    r"\bbaja\b|no.?contactar|no.?enviar|darse.?de.?baja|"
    r"disiscri|non.?contattare|"
    r"descadastr|n[ãa]o.?(contatar|enviar)|"
    r"配信停止|配信拒否|購読解除|退会|退订|取消订阅|拒收",
)
# Headers in those languages that name consent (compared lowercased, accents kept).
_FOREIGN_CONSENT_HEADERS = re.compile(
    r"einwillig|zustimm|newsletter|consentement|abonn[ée]|inscri|consentimiento|suscri|"
    r"consenso|iscri|consentimento|同意|購読|订阅|許諾",
)
# Headers that are themselves an opt-out list ("Do Not Email", "Unsubscribed", "Email Opt
# Out", Salesforce's HasOptedOutOfEmail), compared as letters only. Such a column says no
# for the contacts it marks whatever the consent column says. Kept narrow on purpose: a
# partial opt-out ("Opted out of email: Newsletter"), "Bounced" or "Archived" is not one.
# A date there is the day they opted out ("Unsubscribe Date", "Opted Out At"), and "list"
# names a list of them ("Opt-out list").
_OPT_OUT_HEADER = re.compile(
    r"(is|has)?(e?mails?|marketing)*"
    r"(do ?not(e?mails?|contact|mail|market|call)|dnc|(unsubscribed?|opt(ed)?out)((of|from)(all)?)?|"
    r"no(e?mails?|newsletters?|marketing|contact))"
    r"(e?mails?|marketing|list)*(?P<dated>date|time|timestamp|datetime|at|on)?"
)
# Headers that are themselves a consent column ("Email Marketing Consent", Klaviyo's and
# Shopify's; "Marketing Opt-In", "Email Opt-In", "Accepts Email Marketing"), compared as
# letters only. A second such column is read too, and an opt-out there wins. Narrow on
# purpose: another channel ("SMS Marketing Consent", a no there is not a no to e-mail), a
# date or time of consent ("OPTIN_TIME"), a product "Subscription" are not one.
_CONSENT_HEADER = re.compile(
    r"(is|has|may)?(e?mails?|marketing|newsletter|gdpr)*"
    r"(consent|opt(ed)?in|subscribed|accepts(e?mails?)?marketing|"
    r"(e?mails?|newsletter|marketing)(subscription|subscriber)|subscriber|"
    r"newsletter|e?mails?marketing)"
    r"(to|for)?(e?mails?|marketing|newsletter|status|state)*"
    r"|(e?mails?|marketing|newsletter|contact)+(ok|okay|allowed|yes)"  # "Marketing OK?"
)
# Headers of a column saying why e-mail to a person is suppressed (Klaviyo's profile export
# "Email Suppressions": a hard bounce, a spam complaint, an unsubscribe, or by hand; "A
# suppressed profile cannot receive marketing messages, even if they have provided
# consent"), compared as letters only. The values' form is not published: anything written
# there says no (fails closed); only an empty cell or an empty list ("[]") says nothing.
_SUPPRESSION_HEADER = re.compile(
    r"(is|has|been)?(e?mails?|marketing|profile)*suppress(ed|ions?)"
    r"(e?mails?|list|reasons?)*(date|time|timestamp|at|on)?"
)
_NO_ENTRIES = frozenset({"[]", "{}"})  # an empty list of suppressions
# An answer hint people add to a header by hand ("Email Opt Out (Y/N)", "Unsubscribed
# (yes/no)"): left out before the header is compared.
_ANSWER_HINT = re.compile(r"\(\s*[a-z0-9]{1,5}\s*/\s*[a-z0-9]{1,5}\s*\)", re.IGNORECASE)
# The column a source adds to contacts named in a list of opt-outs (a Mailchimp export of
# unsubscribed members beside a customer list): the list's name, which says no whatever
# it is called (``opt_out_list_value``, ``_list_reading``).
OPT_OUT_LIST = "Opt-out list"
_LISTED = " (a list of opt-outs)"  # added to a list's name that alone would read as "not on it"
UNREADABLE_CONSENT = "treated as opt-out"  # the rejects action of an unreadable consent value
_DASHES = str.maketrans({"\u2013": "-", "\u2014": "-", "\u2012": "-", "\u2212": "-"})


@dataclass(frozen=True)
class Reading:
    decision: Decision
    value: str  # the value as the source wrote it
    reason: str  # why, in words that follow the value: "is an opt-out"

    @property
    def allowed(self) -> bool | None:
        """True or False, or None when blank (the user's ``missing_means`` decides)."""
        return None if self.decision == "missing" else self.decision == "consent"


def _normal(text: str) -> str:
    text = text.translate(_DASHES).strip().lower().rstrip(".")
    text = re.sub(r"\s*-\s*", " - ", text)  # "Legitimate interest–prospect" spacing varies
    return re.sub(r"\s+", " ", text)


def _word(text: str, negative: bool) -> Literal["consent", "opt-out", "no-basis"] | None:
    for variant in (text, text.replace(" - ", "-"), text.replace("_", " ")):
        if variant in _YES:
            return "opt-out" if negative else "consent"
        if variant in _NO:
            return "consent" if negative else "opt-out"
        if variant in CONSENT_WORDS:
            return "consent"
        if variant in OPT_OUT_WORDS:
            return "opt-out"
        if variant in _NO_MARKETING_BASIS:
            return "no-basis"
    return None


def is_negative_header(header: str) -> bool:
    """Whether a yes under ``header`` means no ("Unsubscribed from all email", "DNC")."""
    return bool(NEGATIVE_HEADERS.search(header.lower()))


def _letters(header: str) -> str:
    return re.sub(r"[^a-z]", "", _ANSWER_HINT.sub("", header).lower())


def is_opt_out_header(header: str) -> bool:
    """Whether ``header`` names a list of opt-outs ("Do Not Email"): see ``_OPT_OUT_HEADER``;
    or of suppressions ("Email Suppressions"): see ``is_suppression_header``."""
    return _OPT_OUT_HEADER.fullmatch(_letters(header)) is not None or is_suppression_header(header)


def is_suppression_header(header: str) -> bool:
    """Whether ``header`` lists why e-mail is suppressed: see ``_SUPPRESSION_HEADER``."""
    return _SUPPRESSION_HEADER.fullmatch(_letters(header)) is not None


def is_consent_header(header: str) -> bool:
    """Whether ``header`` names a consent column ("Marketing Opt-In"): see ``_CONSENT_HEADER``."""
    return _CONSENT_HEADER.fullmatch(_letters(header)) is not None


def is_opt_out_date(header: str) -> bool:
    """Whether ``header`` holds the date someone opted out ("Unsubscribe Date")."""
    matched = _OPT_OUT_HEADER.fullmatch(_letters(header))
    return matched is not None and matched.group("dated") is not None


def under_header(value: Any, header: str) -> Any:
    """``value`` as read under ``header``: a value under a header that says no
    ("Unsubscribed", "Do Not Email") becomes "Unsubscribed: TRUE", so that the header's
    meaning survives when the value is stored as ``marketing_consent``."""
    if not is_negative_header(header) or is_blank(value):
        return value
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # Excel's 1.0
    return f"{header.strip()}: {str(value).strip()}"


def keep_header_meaning(frame: pd.DataFrame, columns: Mapping[str, str]) -> pd.DataFrame:
    """``frame``, whose headers ``columns`` (source header -> canonical column) mapped, with
    a ``marketing_consent`` taken from a header that says no written ``under_header``'s way:
    renamed, "TRUE" under "Unsubscribed" would read as consent."""
    header = next((h for h, c in columns.items() if c == "marketing_consent" and h != c), None)
    if header is None or "marketing_consent" not in frame:
        return frame
    if is_negative_header(header):
        values = frame["marketing_consent"].map(lambda v: under_header(v, header))
        return frame.assign(marketing_consent=values)
    # Another language's yes or no under a header we cannot tell: kept with the header, so
    # that it reads as unreadable (an opt-out) and the Rejects tab names the column.
    values = frame["marketing_consent"].map(lambda v: _with_unknown_header(v, header))
    return frame.assign(marketing_consent=values)


def _with_unknown_header(value: Any, header: str) -> Any:
    """``value`` with ``header`` before it when it is another language's yes or no and the
    header says neither consent nor an opt-out (read so as unreadable: an opt-out)."""
    if not isinstance(value, str) or _normal(value) not in _FOREIGN:
        return value
    if is_consent_header(header) or _FOREIGN_CONSENT_HEADERS.search(header.lower()):
        return value
    return f"{header.strip()}: {value.strip()}"


def is_blank(value: Any) -> bool:
    """No answer at all: None, NaN, NA or spaces (a cell no one filled in)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def opt_out_list_value(name: str) -> str:
    """What ``OPT_OUT_LIST`` holds for a contact a list of opt-outs names: the list's name,
    so the user can tell which list it was, made never to read as "not on it" (a tab named
    "No" or "0" gets ``_LISTED`` added; ``_list_reading``)."""
    return name + _LISTED if _list_reading(name).decision != "opt-out" else name


def _list_reading(value: Any) -> Reading:
    """A value under ``OPT_OUT_LIST``: an opt-out whatever it says. A list's name never
    grants consent: a tab of unsubscribe dates kept on "Opt-in" or "Subscribed" let its
    people through (find55 security 1). Only a bare no ("no", "false", "0"), as a user's
    own yes/no column of that name writes it, says the contact is not on it."""
    if isinstance(value, bool) or (isinstance(value, int | float) and value in (0, 1)):
        value = "true" if value else "false"
    shown = str(value).strip()
    if _normal(shown) in _NO:
        return Reading("consent", shown, "says they are not on a list of opt-outs")
    if _normal(shown) in _YES:
        return Reading("opt-out", shown, "is an opt-out")
    return Reading("opt-out", shown, "is the list of opt-outs that names them")


def read_consent(value: Any, column: str = "") -> Reading:
    """Read one consent value of ``column``; see the module docstring for the rules."""
    negative, dated = is_negative_header(column), is_opt_out_date(column)
    if is_blank(value):
        return Reading("missing", "", "is empty")
    if _normal(column) == _normal(OPT_OUT_LIST):
        return _list_reading(value)
    if column and not negative:  # another language's yes or no needs a header we know
        value = _with_unknown_header(value, column)
    shown = str(value).strip()
    suppressed = _suppression(shown, column)
    if suppressed is not None:
        return suppressed
    if isinstance(value, bool) or (isinstance(value, int | float) and value in (0, 1)):
        value = "true" if value else "false"
    elif isinstance(value, str):
        # "Unsubscribed: TRUE" (``under_header``): read under the header it names. The last
        # ": " splits it, as a header may hold one ("Opted out of email: Newsletter").
        header, said, rest = value.rpartition(": ")
        if said and is_negative_header(header):
            negative, dated, value = True, is_opt_out_date(header), rest
    text = _normal(str(value))
    parts = [p.strip() for p in text.split(";")] if ";" in text else [text]
    words = [_word(p, negative) for p in parts if p]
    if dated and None in words and re.search(r"\d", text):
        return Reading("opt-out", shown, "is the date they opted out")
    if not words or None in words:
        said = shown.rpartition(": ")[2]
        if shown != said and _normal(said) in _FOREIGN:
            return Reading(
                "unreadable",
                shown,
                "is a yes or no under a column we cannot tell says consent or an opt-out "
                "(name it in your config's [source.mapping] with a header such as "
                '"Newsletter consent" or "Unsubscribed")',
            )
        return Reading("unreadable", shown, "is not a consent wording we know")
    if "opt-out" in words:
        return Reading("opt-out", shown, "is an opt-out")
    if "consent" in words:
        return Reading("consent", shown, "is consent")
    return Reading("opt-out", shown, "is not a lawful basis for marketing")


def _suppression(shown: str, column: str) -> Reading | None:
    """A value under a suppression header (or stored with one, ``under_header``): an
    opt-out whatever it holds, or nothing said for an empty list; None for other columns."""
    header, said, rest = shown.rpartition(": ")
    if said and is_suppression_header(header):
        column, shown = header, rest.strip()
    if not is_suppression_header(column):
        return None
    if shown.replace(" ", "") in _NO_ENTRIES:
        return Reading("missing", "", "is an empty list of suppressions")
    return Reading("opt-out", shown, "is a suppression: e-mail to them is blocked")


def says_no(value: Any, column: str = "") -> bool:
    """Whether ``value`` keeps a contact out: an opt-out or a value that cannot be read."""
    return read_consent(value, column).decision in ("opt-out", "unreadable")


def read_column(values: pd.Series, column: str = "") -> pd.Series:
    """``read_consent`` for a whole column (once per distinct value), as Readings."""
    readings: dict[Any, Reading] = {}
    out = []
    for value in values.astype(object):
        key = ("nan",) if isinstance(value, float) and math.isnan(value) else value
        try:
            reading = readings[key]
        except KeyError:
            reading = readings[key] = read_consent(value, column)
        except TypeError:  # an unhashable value from JSON (a list): read it every time
            reading = read_consent(";".join(map(str, value)), column)
        out.append(reading)
    return pd.Series(out, index=values.index, dtype=object)


_MARKETABLE_WORDS = {"true": "marketing contact", "false": "non-marketing contact"}


def _given(value: Any) -> str | None:
    """A cell or property as text; None only when it is empty."""
    return None if is_blank(value) else str(value).strip()


def hubspot_consent(optout: Any, marketable: Any, legal_basis: Any) -> str | None:
    """HubSpot's consent properties as one value of words the consent reader knows, the
    same for the API (``hs_email_optout``, ``hs_marketable_status``, ``hs_legal_basis``)
    and a CRM export (their labels "Unsubscribed from all email", "Marketing contact
    status", "Legal basis for processing contact's data").

    Any opt-out among them wins: "Unsubscribed from all email", a non-marketing contact,
    and legal bases none of which covers marketing ("Performance of a contract"; the
    marketing status, a billing flag, does not make up for it). Not being unsubscribed
    (every contact's default) counts as consent only when neither the marketing contact
    status nor a legal basis says more. A value we do not know ("N/A", "maybe") is passed
    on after the name of the property that holds it ("Unsubscribed from all email: N/A"),
    so it is read as unreadable (an opt-out) and listed where the user can find it.
    """
    optout, marketable, legal_basis = _given(optout), _given(marketable), _given(legal_basis)
    said = read_consent(optout, "Unsubscribed from all email").decision
    status = _MARKETABLE_WORDS.get(marketable.lower(), marketable) if marketable else None
    if read_consent(legal_basis).decision == "opt-out" and read_consent(status).allowed:
        status = None  # "Marketing contact; Performance of a contract" would read as consent

    def named(label: str, value: str | None) -> str | None:
        # a value that cannot be read says which property holds it: the reject names
        # marketing_consent, which no portal has (a HubSpot explorer)
        unread = value and read_consent(value).decision == "unreadable"
        return f"{label}: {value}" if unread else value

    parts = [
        "unsubscribed from all email" if said == "opt-out"
        else named("Unsubscribed from all email", optout) if said == "unreadable" else None,
        named("Marketing contact status", status),
        named("Legal basis for processing contact's data", legal_basis),  # "a;b" allowed
    ]  # fmt: skip
    present = [p for p in parts if p]
    if not present and said == "consent":
        return "subscribed"
    return "; ".join(present) if present else None
