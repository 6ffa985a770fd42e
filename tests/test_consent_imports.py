"""Consent as a user's own files write it: vendors' consent columns, lists of opt-outs
beside the customers, and one person on several rows (find51 imports items 2, 3 and 5).

Each test builds a small folder the way a shop gets it (an export, a list kept by hand)
and runs the whole pipeline: a contact who said no anywhere is not scored.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from test_consent import AS_OF, RFM, listed, orders_of, scored

from smbml_connect.connectors.files.source import FilesSource
from smbml_connect.consent import is_consent_header, is_opt_out_header, read_consent
from smbml_connect.pipeline import RunOptions, run_pipeline


def run_files(folder: Path, store, column: str = "marketing_consent", **kw):
    options = RunOptions(steps=RFM, as_of=AS_OF, consent_column=column)
    return run_pipeline(FilesSource(folder, **kw), store, options)


def said(result, check: str) -> list[str]:
    return [n.message for n in result.notices if n.check == check]


# -- item 2: the consent columns vendors write -------------------------------------------
@pytest.mark.parametrize(
    "header",
    ["Email Marketing Consent", "Marketing Opt-In", "Email Opt-In", "Accepts Email Marketing",
     "GDPR Consent", "Email Subscription Status", "Newsletter Opt In"],
)  # fmt: skip
def test_consent_column_headers(header):
    assert is_consent_header(header)


@pytest.mark.parametrize(
    "header",
    ["Accepts SMS Marketing", "SMS Marketing Consent", "OPTIN_TIME", "Opt-in date",
     "Email Marketing Consent Timestamp", "Subscription", "Cookie consent", "Marketing"],
)  # fmt: skip
def test_other_columns_are_not_consent_columns(header):
    """Another channel, a date of consent, a product plan: a no there is no no to e-mail."""
    assert not is_consent_header(header)


@pytest.mark.parametrize(
    "header", ["Unsubscribe Date", "Unsubscribed Date", "Unsubscribed At", "Opt Out Date"]
)
def test_the_date_someone_opted_out_is_an_opt_out(header):
    assert is_opt_out_header(header)
    assert read_consent("2025-03-01", header).decision == "opt-out"
    assert read_consent("01/03/2025 14:02", header).decision == "opt-out"
    assert read_consent(45717, header).decision == "opt-out"  # an Excel date serial
    assert read_consent("", header).decision == "missing"
    assert read_consent("soon", header).decision == "unreadable"  # still an opt-out


@pytest.mark.parametrize(
    ("value", "decision"),
    [("SUBSCRIBED", "consent"), ("UNSUBSCRIBED", "opt-out"), ("NEVER_SUBSCRIBED", "opt-out"),
     ("NOT_SUBSCRIBED", "opt-out"), ("PENDING", "opt-out"), ("REDACTED", "opt-out"),
     ("INVALID", "opt-out"), ("SUPPRESSED", "opt-out")],
)  # fmt: skip
def test_shopify_and_klaviyo_marketing_states(value, decision):
    assert read_consent(value, "Email Marketing Consent").decision == decision


VENDOR = [  # Klaviyo-style consent, a hand-added opt-in, an opt-out flag and date
    ("C1", "UNSUBSCRIBED", "yes", "", ""),
    ("C2", "SUBSCRIBED", "yes", "", "2025-03-01"),
    ("C3", "NEVER_SUBSCRIBED", "no", "", ""),
    ("C4", "SUBSCRIBED", "yes", "TRUE", ""),
    ("C5", "SUBSCRIBED", "yes", "n/a", ""),
    ("C6", "SUBSCRIBED", "no", "", ""),  # a second consent column says no
    ("C7", "SUBSCRIBED", "maybe", "", ""),  # ... or cannot be read
    ("C8", "SUBSCRIBED", "yes", "FALSE", ""),
    ("C9", "", "", "", ""),  # nothing said: missing_means decides (consented)
]


def vendor_export(folder: Path) -> None:
    with open(folder / "contacts.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Customer ID", "Email", "Email Marketing Consent", "Marketing Opt-In",
                         "Email Opt Out", "Unsubscribe Date"])  # fmt: skip
        writer.writerows([c, f"{c.lower()}@shop.test", *rest] for c, *rest in VENDOR)
    orders_of(folder, [r[0] for r in VENDOR])


def test_every_consent_column_of_a_vendor_export_is_read(tmp_path, store):
    vendor_export(tmp_path)
    result = run_files(tmp_path, store)
    assert result.status == "ok", result.errors
    assert scored(result, store) == {"C8", "C9"}


def test_each_second_consent_column_says_how_many_it_opted_out(tmp_path, store):
    vendor_export(tmp_path)
    result = run_files(tmp_path, store)
    lines = said(result, "opt_out_column")
    by_column = {line.split("'")[1]: line for line in lines}
    assert set(by_column) == {"Marketing Opt-In", "Email Opt Out", "Unsubscribe Date"}
    assert by_column["Unsubscribe Date"].startswith("1 contact opted out")
    assert "a date there" in by_column["Unsubscribe Date"]
    # the value it could not read is named with its column, in one line
    assert by_column["Marketing Opt-In"].startswith("2 contacts opted out")
    assert (
        "1 of them because its value cannot be read as consent, e.g. 'maybe'"
        in (by_column["Marketing Opt-In"])
    )
    assert listed(result) == {"C5": "n/a", "C7": "maybe"}


def test_an_sms_consent_no_does_not_opt_out_of_email(tmp_path, store):
    (tmp_path / "contacts.csv").write_text(
        "Customer ID,Email,Accepts Email Marketing,Accepts SMS Marketing\n"
        "C1,c1@shop.test,yes,no\nC2,c2@shop.test,no,yes\n",
        encoding="utf-8",
    )
    orders_of(tmp_path, ["C1", "C2"])
    assert scored(run_files(tmp_path, store), store) == {"C1"}
