"""Consent as a user's own files write it: vendors' consent columns, lists of opt-outs
beside the customers, and one person on several rows (find51 imports items 2, 3 and 5).

Each test builds a small folder the way a shop gets it (an export, a list kept by hand)
and runs the whole pipeline: a contact who said no anywhere is not scored.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
from audit import LISTS_NAMED_WHOLE, Outputs, Tally, check_opt_out_lists_named
from openpyxl import Workbook
from test_consent import AS_OF, RFM, UNREADABLE_CONSENT, listed, mailchimp_file, orders_of, scored

from smbml_connect.connectors.files.source import FilesSource
from smbml_connect.consent import (
    OPT_OUT_LIST,
    is_consent_header,
    is_opt_out_header,
    opt_out_list_value,
    read_consent,
)
from smbml_connect.opt_out_lists import join_lists, split_lists
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
     "GDPR Consent", "Email Subscription Status", "Newsletter Opt In", "Newsletter",
     "Email Marketing", "Email Marketing Status", "Subscriber Status", "Is Subscribed",
     "Subscribed to newsletter", "Email Opt-In (Y/N)", "Marketing OK?", "E-mails OK"],
)  # fmt: skip
def test_consent_column_headers(header):
    assert is_consent_header(header)


@pytest.mark.parametrize(
    "header",
    ["Accepts SMS Marketing", "SMS Marketing Consent", "OPTIN_TIME", "Opt-in date",
     "Email Marketing Consent Timestamp", "Subscription", "Cookie consent", "Marketing",
     "Newsletter Name", "Subscription Plan"],
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


# -- item 3: a list of opt-outs beside the customers -------------------------------------
CUSTOMERS = "Customer ID,First Name,Email\nC1,Tom,tom.obrien@example.com\n" \
    "C2,Sarah, Sarah@Example.org \nC3,Ann,ann.lee@example.com\nC4,Bo,\n"  # fmt: skip


@pytest.mark.parametrize("kind", ["unsubscribed", "cleaned"])
@pytest.mark.parametrize("column", ["marketing_consent", "Newsletter"])
def test_a_mailchimp_list_of_opt_outs_opts_out_the_customers_it_names(
    tmp_path, store, kind, column
):
    (tmp_path / "customers.csv").write_text(
        CUSTOMERS.replace("First Name", "First Name,Newsletter").replace(",Tom,", ",Tom,yes,")
        .replace(",Sarah,", ",Sarah,yes,").replace(",Ann,", ",Ann,yes,").replace(",Bo,", ",Bo,yes,"),
        encoding="utf-8",
    )  # fmt: skip
    name = f"{kind}_email_audience_export_5f3a2b.csv"
    mailchimp_file(tmp_path / name, kind, ["Tom.OBrien@example.com", "sarah@example.org",
                                           "olga@example.ru"])  # fmt: skip
    orders_of(tmp_path, ["C1", "C2", "C3", "C4"])
    source = FilesSource(tmp_path)
    assert not [line for line in source.not_read() if name in line]  # it is read
    assert name in source.where("contacts")
    result = run_pipeline(source, store, RunOptions(steps=RFM, as_of=AS_OF, consent_column=column))
    assert result.status == "ok", result.errors
    assert result.loaded["contacts"] == 4  # the list is not a second contacts table
    assert scored(result, store) == {"C3", "C4"}
    (line,) = said(result, "opt_out_list")
    assert f"File {name!r}" in line
    assert "2 of its 3 addresses matched a contact" in line and "1 named no contact" in line
    extra = store.read("contacts").set_index("contact_id")["extra"]
    assert name in extra["C1"] and OPT_OUT_LIST in extra["C2"]


def test_a_list_of_subscribed_members_beside_the_customers_is_not_read(tmp_path, store):
    """Only a list of opt-outs is applied: a subscribed list gives no one consent."""
    (tmp_path / "customers.csv").write_text(CUSTOMERS, encoding="utf-8")
    mailchimp_file(tmp_path / "subscribed_members_export_1.csv", "subscribed",
                   ["tom.obrien@example.com"])  # fmt: skip
    source = FilesSource(tmp_path)
    assert [line for line in source.not_read() if "subscribed_members_export_1.csv" in line]


def test_a_list_of_opt_outs_applies_to_a_shopify_export_s_buyers(tmp_path, store):
    shopify_orders(tmp_path / "orders_export_1.csv", [("#1", "ann@shop.test", "yes", "2025-01-01"),
                                                      ("#2", "bo@shop.test", "yes", "2025-01-02")])  # fmt: skip
    mailchimp_file(
        tmp_path / "unsubscribed_members_export_1.csv", "unsubscribed", ["ANN@shop.test"]
    )
    result = run_files(tmp_path, store)
    assert result.status == "ok", result.errors
    assert scored(result, store) == {"bo@shop.test"}
    (line,) = said(result, "opt_out_list")
    assert "1 of its 1 address matched a contact" in line


def test_a_list_of_opt_outs_beside_contacts_without_e_mails_says_so(tmp_path, store):
    (tmp_path / "customers.csv").write_text("Customer ID,Name\nC1,Tom\n", encoding="utf-8")
    mailchimp_file(tmp_path / "cleaned_members_export_1.csv", "cleaned", ["tom@x.test"])
    result = run_files(tmp_path, store)
    (line,) = said(result, "opt_out_list")
    assert "0 of its 1 address matched" in line and "have no e-mail to match them by" in line


# -- item 5: one person on several rows --------------------------------------------------
@pytest.mark.parametrize("order", [("no", "yes"), ("yes", "no"), ("maybe", "yes")])
def test_a_duplicate_contact_s_opt_out_wins_whichever_row_is_kept(tmp_path, store, order):
    first, later = order
    (tmp_path / "contacts.csv").write_text(
        "Customer ID,Email,Marketing Consent,Company\n"
        f"C1,a@shop.test,{first},\nC2,b@shop.test,yes,\nC1,a@shop.test,{later},Acme\n",
        encoding="utf-8",
    )
    orders_of(tmp_path, ["C1", "C2"])
    result = run_files(tmp_path, store)
    assert result.status == "ok", result.errors
    assert scored(result, store) == {"C2"}
    stored = store.read("contacts").set_index("contact_id")
    assert stored.loc["C1", "company"] == "Acme"  # the fuller row is kept for the rest
    dropped = result.rejects[result.rejects["reason"].str.startswith("duplicate")]
    (reason,) = dropped["reason"]
    no = order[0] if order[0] != "yes" else order[1]
    if order[0] != "yes":  # the losing row said no: it says its opt-out was kept
        assert f"its opt-out (marketing_consent {no!r}) is kept on row 4" in reason
    else:
        assert "opt-out" not in reason
    assert stored.loc["C1", "marketing_consent"] == no


def test_a_duplicate_contact_s_do_not_email_is_kept(tmp_path, store):
    (tmp_path / "contacts.csv").write_text(
        "Customer ID,Email,Do Not Email,Company\n"
        "C1,a@shop.test,TRUE,\nC1,a@shop.test,,Acme\nC2,b@shop.test,,\n",
        encoding="utf-8",
    )
    orders_of(tmp_path, ["C1", "C2"])
    result = run_files(tmp_path, store)
    assert scored(result, store) == {"C2"}
    assert "its opt-out (Do Not Email 'TRUE') is kept on row 3" in " ".join(
        result.rejects["reason"]
    )


def test_a_cleaned_member_also_in_the_subscribed_file_opts_out(tmp_path, store):
    """The subscribed file's row has more values filled in (an address, a phone), so it
    is the row kept; the cleaned file's opt-out is kept on it."""
    subscribed = tmp_path / "subscribed_members_export_1.csv"
    mailchimp_file(subscribed, "subscribed", ["ann@shop.test", "bo@shop.test"])
    rows = list(csv.reader(subscribed.open(encoding="utf-8")))
    rows = [[*rows[0], "Address", "Phone Number", "Birthday", "Company", "City"]] + [
        [*r, "1 High St", "+44 1", "03/14", "Lee Ltd", "Leeds"] for r in rows[1:]
    ]
    with open(subscribed, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)
    mailchimp_file(tmp_path / "cleaned_members_export_1.csv", "cleaned", ["Ann@Shop.test"])
    orders_of(tmp_path, ["ann@shop.test", "bo@shop.test"])
    result = run_files(tmp_path, store)
    assert result.status == "ok", result.errors
    assert scored(result, store) == {"bo@shop.test"}
    assert listed(result) == {}
    (reason,) = result.rejects.loc[result.rejects["column"] == "contact_id", "reason"]
    assert "subscribed_members_export_1.csv row 2 has the same key" in reason
    assert "its opt-out (marketing_consent 'no') is kept on" in reason


SHOPIFY = ["Name", "Email", "Financial Status", "Paid at", "Accepts Marketing", "Currency",
           "Subtotal", "Shipping", "Taxes", "Total", "Discount Amount", "Created at",
           "Lineitem quantity", "Lineitem name", "Lineitem price", "Lineitem sku",
           "Billing Name", "Billing Country"]  # fmt: skip


def shopify_orders(path: Path, orders: list[tuple[str, str, str, str]]) -> None:
    """A Shopify orders export, one line item per order: (name, e-mail, accepts, day)."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(SHOPIFY)
        for name, email, accepts, day in orders:
            when = f"{day} 10:00:00 +0000"
            writer.writerow([name, email, "paid", when, accepts, "EUR", "10.00", "0.00", "0.00",
                             "10.00", "0.00", when, "1", "Mug", "10.00", "MUG", "Ann Lee", "DE"])  # fmt: skip


@pytest.mark.parametrize("newest_first", [False, True])
def test_a_shopify_buyer_who_said_no_on_any_order_opts_out(tmp_path, store, newest_first):
    orders = [("#1001", "ann@shop.test", "yes", "2025-01-10"),
              ("#1002", "bo@shop.test", "yes", "2025-01-11"),
              ("#1003", "Ann@Shop.test", "no", "2025-03-01"),
              ("#1004", "bo@shop.test", "", "2025-03-02")]  # fmt: skip
    shopify_orders(tmp_path / "orders_export_1.csv", orders[::-1] if newest_first else orders)
    result = run_files(tmp_path, store)
    assert result.status == "ok", result.errors
    assert scored(result, store) == {"bo@shop.test"}
    stored = store.read("contacts").set_index("contact_id")["marketing_consent"]
    assert stored["ann@shop.test"] == "no"  # whichever order is first in the file
    assert UNREADABLE_CONSENT not in set(result.rejects["action"])


@pytest.mark.parametrize(
    ("first", "later", "carried"),
    [
        (("no", ""), ("yes", "Acme"), True),  # the later page's row is kept; the stored said no
        (("yes", "Acme"), ("no", ""), True),  # the stored row is kept; the later page's said no
        (("yes", ""), ("no", "Acme"), False),  # the row kept says no itself
    ],
)
def test_a_contact_on_two_pages_of_a_large_file_keeps_its_opt_out(
    tmp_path, store, first, later, carried
):
    """A large file is stored a page at a time: the row on the earlier page is stored
    before the later one meets it, and the opt-out still wins whichever row is kept."""
    (tmp_path / "contacts.csv").write_text(
        "Customer ID,Email,Marketing Consent,Company\n"
        f"C1,a@shop.test,{first[0]},{first[1]}\nC2,b@shop.test,yes,\nC3,c@shop.test,yes,\n"
        f"C1,a@shop.test,{later[0]},{later[1]}\n",
        encoding="utf-8",
    )
    orders_of(tmp_path, ["C1", "C2", "C3"])
    source = FilesSource(tmp_path)
    source.page_rows = 2
    result = run_pipeline(source, store, RunOptions(steps=RFM, as_of=AS_OF))
    assert result.status == "ok", result.errors
    assert result.loaded["contacts"] == 3
    assert scored(result, store) == {"C2", "C3"}
    stored = store.read("contacts").set_index("contact_id")
    assert stored.loc["C1", "marketing_consent"] == "no"
    assert stored.loc["C1", "company"] == "Acme"  # the fuller row is kept for the rest
    (reason,) = result.rejects.loc[result.rejects["column"] == "contact_id", "reason"]
    assert ("its opt-out (marketing_consent 'no') is kept" in reason) == carried


def test_opt_outs_under_headers_people_type_by_hand_are_read(tmp_path, store):
    """A review found "Email Opt Out (Y/N)", "Unsubscribed (yes/no)", "Newsletter" and
    "Email Marketing" left in extra, unread, and C1-C4 segmented."""
    (tmp_path / "contacts.csv").write_text(
        "Customer ID,Email,Email Opt Out (Y/N),Unsubscribed (yes/no),Email Marketing,Newsletter\n"
        "C1,a@x.com,Y,,,\nC2,b@x.com,,yes,,\nC3,c@x.com,,,UNSUBSCRIBED,\nC4,d@x.com,,,,no\n"
        "C5,e@x.com,N,no,SUBSCRIBED,yes\n"
    )
    (tmp_path / "orders.csv").write_text(
        "Order ID,Order Date,Customer ID,Total\n"
        + "".join(f"A{i},2025-0{i}-02,C{i},{10 * i}.00\n" for i in range(1, 6))
    )
    result = run_files(tmp_path, store)
    assert result.consent_skipped == 4
    segments = result.steps["rfm_segments"].sheets["Segments"]
    assert segments["contact_id"].tolist() == ["C5"]


def test_a_shop_owners_own_unsubscribe_list_opts_out_the_customers_it_names(tmp_path, store):
    """Only Mailchimp's unsubscribed export was read as a list of opt-outs: an
    'unsubscribes.csv' (Email, Unsubscribed At) beside the customers was "not read", and
    Tom got "Send a personal win-back message"."""
    (tmp_path / "customers.csv").write_text(
        "Customer ID,First Name,Email\nC1,Tom,Tom.OBrien@example.com\nC2,Sarah,sarah@example.org\n"
        "C3,Ann,ann@example.com\n"
    )
    (tmp_path / "orders.csv").write_text(
        "Order ID,Order Date,Customer ID,Total\nA1,2025-03-01,C1,10\nA2,2025-03-02,C2,20\n"
        "A3,2025-03-03,C3,30\n"
    )
    (tmp_path / "unsubscribes.csv").write_text(
        "Email,Unsubscribed At\ntom.obrien@example.com,2025-04-01\nsarah@example.org,2025-05-02\n"
    )
    result = run_files(tmp_path, store)
    assert result.consent_skipped == 2
    assert result.steps["rfm_segments"].sheets["Segments"]["contact_id"].tolist() == ["C3"]
    assert any("2 of its 2 addresses matched" in m for m in said(result, "opt_out_list"))
    # a second customer list whose "Do Not Email" says yes for some: its opt-outs still
    # count (a file left unread must not let them through), its yeses grant nothing
    (tmp_path / "unsubscribes.csv").write_text(
        "Email,Do Not Email\ntom.obrien@example.com,yes\nsarah@example.org,no\n"
    )
    again = run_files(tmp_path, store)
    assert again.consent_skipped == 1
    assert any("1 of its 2 people said no" in m for m in said(again, "opt_out_list"))
    # its other people are not loaded, and the line says so and how to load them (an
    # explorer's HubSpot export of 15,000 leads said only that 3,030 of them said no)
    assert any(
        "Its other 1 person is not loaded: contacts are read from one file only (to use "
        "this one's, name it in the config: [source.tables] contacts = 'unsubscribes.csv')" in m
        for m in said(again, "opt_out_list")
    )


def test_inspect_says_an_opt_out_column_kept_in_extra_is_read_for_consent():
    """`smbml inspect` showed "Email Opt Out (Y/N)" as "-> extra (no canonical column)",
    as if it were ignored; it is read, and an opt-out there counts."""
    from smbml_connect.headers import map_headers

    lines = map_headers("contacts", ["Email", "Email Opt Out (Y/N)", "Shoe size"]).describe()
    assert "'Email Opt Out (Y/N)' -> extra (no canonical column; read for consent: an " \
        "opt-out there counts)" in lines  # fmt: skip
    assert "'Shoe size' -> extra (no canonical column)" in lines


def test_a_no_newsletter_column_says_no_with_a_yes():
    """A hand-kept sheet's "No newsletter" column was not read, and everyone counted as
    consenting (a Sheets explorer): its header says no, so a yes or a tick there is one."""
    assert is_opt_out_header("No newsletter") and is_opt_out_header("No e-mails")
    assert read_consent("yes", "No newsletter").decision == "opt-out"
    assert read_consent("no", "No newsletter").decision == "consent"
    assert not is_opt_out_header("Notes") and not is_opt_out_header("Nonprofit")


# -- find53 vendors 5: Klaviyo's suppressed profiles ---------------------------------------
KLAVIYO = (
    "Email,Klaviyo ID,First Name,Last Name,Source,Email Marketing Consent,"
    "Email Marketing Consent Timestamp,Profile Created On,Email Suppressions\n"
)


def test_a_suppressed_klaviyo_profile_is_an_opt_out_whatever_its_consent_says(tmp_path, store):
    """Klaviyo: "A suppressed profile cannot receive marketing messages, even if they have
    provided consent". The export's form of a suppression is not published, so anything
    written under Email Suppressions says no; an empty cell or empty list says nothing."""
    suppressions = {
        "ana@shop.test": "",
        "ben@shop.test": '[{"reason": "HARD_BOUNCE", "timestamp": "2026-02-03T10:00:00+00:00"}]',
        "cy@shop.test": "SPAM_COMPLAINT",
        "di@shop.test": "USER_SUPPRESSED 2026-05-01",
        "ed@shop.test": "[]",
        "fay@shop.test": "Unsubscribed",
    }
    rows = [
        f"{email},01H{n:05d},{email.split('@')[0].title()},Ng,Shopify,SUBSCRIBED,"
        f'2025-01-0{n + 1}T12:00:00+00:00,2025-01-0{n + 1} 10:00:00,"{said.replace(chr(34), chr(34) * 2)}"'
        for n, (email, said) in enumerate(suppressions.items())
    ]
    (tmp_path / "Klaviyo_profiles_export.csv").write_text(
        KLAVIYO + "\n".join(rows) + "\n", encoding="utf-8"
    )
    orders_of(tmp_path, list(suppressions))
    result = run_files(tmp_path, store)
    assert result.status == "ok", result.errors
    assert scored(result, store) == {"ana@shop.test", "ed@shop.test"}
    (line,) = said(result, "opt_out_column")
    assert line.startswith("4 contacts opted out by the column 'Email Suppressions'")
    assert "anything written there is an opt-out" in line
    assert read_consent("HARD_BOUNCE", "Email Suppressions").decision == "opt-out"
    assert is_opt_out_header("Email Suppressions") and is_opt_out_header("Suppressed")


def test_each_opt_out_line_counts_its_own_people_and_names_the_export_s_parts(tmp_path, store):
    """A person in both a Mailchimp list and a Shopify export was counted under the first
    list only, so the export's line said its buyers "named no contact" although they were
    contacts; and the export in two parts was named by its first part alone, which held
    none of the "no"s (review53b item 6)."""
    (tmp_path / "customers.csv").write_text(
        "Email,First Name,Accepts Marketing\nann@shop.test,Ann,yes\nbo@shop.test,Bo,yes\n"
        "cy@shop.test,Cy,no\ndee@shop.test,Dee,yes\neve@shop.test,Eve,yes\n",
        encoding="utf-8",
    )
    shopify_orders(tmp_path / "orders_export_1.csv", [("#1001", "ann@shop.test", "yes", "2025-01-02"),
                                                      ("#1002", "bo@shop.test", "yes", "2025-01-03")])  # fmt: skip
    shopify_orders(tmp_path / "orders_export_2.csv", [("#1003", "cy@shop.test", "no", "2025-02-01"),
                                                      ("#1004", "Dee@Shop.test", "no", "2025-02-02"),
                                                      ("#1005", "eve@shop.test", "no", "2025-02-03"),
                                                      ("#1006", "zed@shop.test", "no", "2025-02-04")])  # fmt: skip
    mailchimp_file(tmp_path / "unsubscribed_members_export_1.csv", "unsubscribed",
                   ["DEE@shop.test", "olga@example.ru"])  # fmt: skip
    result = run_files(tmp_path, store)
    assert result.status == "ok", result.errors
    assert result.consent_skipped == 3  # Cy by her own consent, Dee and Eve by the lists
    lines = said(result, "opt_out_list")
    (export,) = [line for line in lines if "orders_export_1.csv" in line]
    assert "with its other part 'orders_export_2.csv')" in export
    assert "4 people in it said no to marketing there: 3 matched a contact" in export
    assert "1 was opted out by this file alone" in export  # Eve: Cy and Dee said no elsewhere
    assert "1 matches no contact" in export  # Zed bought, but the customer list lacks him
    (mailchimp,) = [line for line in lines if "unsubscribed_members_export_1.csv" in line]
    assert "1 of its 2 addresses matched a contact" in mailchimp
    assert "0 were opted out by this file alone" in mailchimp and "1 named no contact" in mailchimp


def test_an_export_with_one_opt_out_says_one_person(tmp_path, store):
    (tmp_path / "customers.csv").write_text(
        "Email,First Name\nann@shop.test,Ann\nbo@shop.test,Bo\n", encoding="utf-8"
    )
    shopify_orders(tmp_path / "orders_export_1.csv", [("#1001", "ann@shop.test", "no", "2025-01-02"),
                                                      ("#1002", "bo@shop.test", "yes", "2025-01-03")])  # fmt: skip
    (line,) = said(run_files(tmp_path, store), "opt_out_list")
    assert line.startswith("File 'orders_export_1.csv' (Shopify orders export) gives the orders")
    assert "1 person in it said no to marketing there: 1 matched a contact" in line
    assert "1 was opted out by this file alone" in line and "0 match no contact" in line


def test_a_contact_on_several_lists_of_opt_outs_names_every_one(tmp_path, store):
    """A contact named by two lists of opt-outs had only the first in its 'Opt-out list':
    a count of the contacts a list opted out fell short of that list's own line. Every
    list that says no is named, alphabetically, and each line's count is its contacts'."""
    (tmp_path / "customers.csv").write_text(
        "Customer ID,First Name,Email,Accepts Marketing\nC1,Ann,ann@shop.test,yes\n"
        "C2,Bo,bo@shop.test,yes\nC3,Dee,Dee@Shop.test,yes\nC4,Eve,eve@shop.test,yes\n"
        "C5,Fay,fay@shop.test,no\n"
    )
    orders_of(tmp_path, ["C1", "C2", "C3", "C4", "C5"])
    mailchimp_file(tmp_path / "unsubscribed_members_export_1.csv", "unsubscribed",
                   ["dee@shop.test", "eve@shop.test"])  # fmt: skip
    mailchimp_file(tmp_path / "cleaned_members_export_1.csv", "cleaned",
                   ["DEE@shop.test", "fay@shop.test", "zed@shop.test"])  # fmt: skip
    (tmp_path / "unsubscribes.csv").write_text(
        "Email,Unsubscribed At\neve@shop.test,2025-04-01\ndee@shop.test,2025-05-02\n"
    )
    result = run_files(tmp_path, store)
    assert result.status == "ok", result.errors
    assert scored(result, store) == {"C1", "C2"}
    extra = store.read("contacts").set_index("contact_id")["extra"].dropna().map(json.loads)
    named = {who: values[OPT_OUT_LIST] for who, values in extra.items()}
    assert named == {
        "C3": "cleaned_members_export_1.csv; unsubscribed_members_export_1.csv; unsubscribes.csv",
        "C4": "unsubscribed_members_export_1.csv; unsubscribes.csv",
        "C5": "cleaned_members_export_1.csv",
    }
    lines = [n for n in result.notices if n.check == "opt_out_list"]
    assert len(lines) == 3
    for line in lines:
        (name,) = re.findall(r"^File '([^']+)'", line.message)
        matched = int(re.search(r"(\d+) of its \d+ address", line.message)[1])
        theirs = [who for who, lists in named.items() if name in lists.split("; ")]
        assert matched == line.count == len(theirs), (line.message, theirs)


def test_a_list_whose_name_holds_a_semicolon_is_named_whole(tmp_path, store):
    """review55 item 6: a file of opt-outs named "Opt-outs; 2024.csv" was shown in 'Opt-out
    list' as two lists, reordered ("2024.csv; Opt-outs"), as the names were joined and then
    split again at ";". Each name is kept whole (in quotes when it holds ";"), a contact
    named by it still opts out, and a list's name is never read as an answer: one named
    "Opt-in" or "No" gave its people consent."""
    (tmp_path / "customers.csv").write_text(
        "Customer ID,First Name,Email,Accepts Marketing\nC1,Ann,ann@shop.test,yes\n"
        "C2,Bo,bo@shop.test,yes\nC3,Dee,dee@shop.test,yes\nC4,Eve,eve@shop.test,yes\n"
    )
    orders_of(tmp_path, ["C1", "C2", "C3", "C4"])
    (tmp_path / "Opt-outs; 2024.csv").write_text(
        "Email,Unsubscribed At\nDee@shop.test,2024-11-02\neve@shop.test,2024-12-24\n"
    )
    (tmp_path / "unsubscribes.csv").write_text("Email,Unsubscribed At\neve@shop.test,2025-03-01\n")
    result = run_files(tmp_path, store)
    assert result.status == "ok", result.errors
    assert scored(result, store) == {"C1", "C2"}
    extra = store.read("contacts").set_index("contact_id")["extra"].dropna().map(json.loads)
    named = {who: values[OPT_OUT_LIST] for who, values in extra.items() if OPT_OUT_LIST in values}
    assert named == {"C3": '"Opt-outs; 2024.csv"', "C4": '"Opt-outs; 2024.csv"; unsubscribes.csv'}
    assert {who: split_lists(lists) for who, lists in named.items()} == {
        "C3": ["Opt-outs; 2024.csv"],
        "C4": ["Opt-outs; 2024.csv", "unsubscribes.csv"],
    }
    lines = said(result, "opt_out_list")
    assert any(line.startswith("File 'Opt-outs; 2024.csv'") for line in lines), lines
    # a list named "No" is kept as "No (a list of opt-outs)": a bare no under that header
    # is a user's own yes/no column saying "not on it" (s55-secfiles)
    kept = (opt_out_list_value("No"), join_lists(["Opt-in", "Yes; please", "No"]))
    for name in ("Opt-in", "Subscribed", *kept):
        assert read_consent(name, OPT_OUT_LIST).decision == "opt-out", name
    # The audit's invariant holds here, and finds the value as it was shown before.
    contacts = store.read("contacts")
    audited = Outputs("lists", result, {}, {"contacts": contacts}, {}, {}, {}, "", [], [], {}, {})
    tally = Tally()
    check_opt_out_lists_named(audited, tally)
    assert tally.checked[LISTS_NAMED_WHOLE] == 3 and not tally.problems
    before = '"Opt-outs; 2024.csv"', "2024.csv; Opt-outs"  # as the old join showed it
    inside = [json.dumps(text)[1:-1] for text in before]  # as it is inside the JSON of extra
    split = contacts.assign(extra=contacts["extra"].str.replace(*inside))
    check_opt_out_lists_named(replace(audited, store={"contacts": split}), tally)
    assert len(tally.problems) == 4  # "2024.csv" and "Opt-outs", for each of the two


# -- find55 security item 1: a list's name never grants consent ----------------------------
@pytest.mark.parametrize("tab", ["Opt-in", "Subscribed", "Opted in", "Granted", "Consented", "No"])
def test_a_tab_of_unsubscribes_named_like_consent_still_opts_them_out(tmp_path, store, tab):
    """A shop keeps its newsletter sign-ups on a tab "Opt-in" with the date each person
    unsubscribed: the list's name was read as consent, so the two who unsubscribed were
    segmented while the data check said they were opted out (an explorer)."""
    book = Workbook()
    customers = book.active
    customers.title = "Customers"
    customers.append(["Customer ID", "First Name", "Email"])
    for n, name in enumerate(["Ann", "Bo", "Cy", "Di"], start=1):
        customers.append([f"C{n}", name, f"{name.lower()}@shop.test"])
    orders = book.create_sheet("Orders")
    orders.append(["Order ID", "Customer ID", "Order Date", "Total"])
    for n, (contact, day) in enumerate([("C1", 3), ("C1", 40), ("C2", 9), ("C3", 12),
                                        ("C3", 70), ("C4", 20), ("C4", 90)]):  # fmt: skip
        orders.append([f"O{n}", contact, pd.Timestamp("2025-01-01") + pd.Timedelta(days=day), 25])
    signups = book.create_sheet(tab)
    signups.append(["Email", "Signed up", "Unsubscribed At"])
    signups.append(["ANN@shop.test ", "2024-01-02", "2025-03-01"])
    signups.append(["bo@shop.test", "2024-02-11", "2025-04-01"])
    signups.append(["cy@shop.test", "2024-03-05", None])
    book.save(tmp_path / "shop.xlsx")
    result = run_files(tmp_path / "shop.xlsx", store)
    assert scored(result, store) == {"C3", "C4"}
    assert result.consent_skipped == 2
    (line,) = said(result, "opt_out_list")
    assert "2 of its 2 addresses matched" in line and "2 were opted out by this file alone" in line


@pytest.mark.parametrize("name", ["Opt-in", "Subscribed", "opted in", "GRANTED", "Consented",
                                  "No", "0", "False", "Unsubscribed: no", "x.csv"])  # fmt: skip
def test_a_list_s_name_under_the_opt_out_list_column_is_always_an_opt_out(name):
    """What a source writes for a listed contact says no whatever the list is called; only a
    bare no in a user's own column of that name says they are not on it."""
    from smbml_connect.consent import opt_out_list_value

    assert read_consent(opt_out_list_value(name), OPT_OUT_LIST).decision == "opt-out"
    assert read_consent(name, OPT_OUT_LIST).decision == "opt-out" or name in ("No", "0", "False")
    assert opt_out_list_value("Opt-in") == "Opt-in"  # the name stays as the user knows it
    assert read_consent(True, OPT_OUT_LIST).decision == "opt-out"
