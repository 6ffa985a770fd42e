"""Consent fails closed: every wording read the same way, unreadable values opt out and are listed.

The files tests run the whole pipeline on a small CSV export whose consent is written
in three columns: ``Consent`` (mapped onto ``marketing_consent``), and two of the
user's own headers kept in ``extra``: HubSpot's "Unsubscribed from all email" (yes
means no) and its GDPR "Legal basis for processing contact's data".
"""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from openpyxl import Workbook, load_workbook

from smbml_connect.cli import cli
from smbml_connect.connectors.files.source import FilesSource
from smbml_connect.connectors.hubspot.http import HubSpotApi, Limits
from smbml_connect.connectors.hubspot.push import HubSpotDestination
from smbml_connect.connectors.hubspot.source import HubSpotSource
from smbml_connect.consent import UNREADABLE_CONSENT, hubspot_consent, read_consent
from smbml_connect.credentials import Secret
from smbml_connect.errors import ConfigError
from smbml_connect.pipeline import RunOptions, run_pipeline
from smbml_connect.sample import SampleConfig, generate
from smbml_connect.steps import crm_properties, steps_by_name
from smbml_connect.testing.clock import FakeClock
from smbml_connect.testing.hubspot_emulator import TEST_TOKEN, HubSpotEmulator
from smbml_connect.testing.hubspot_sample import load_sample

RFM = steps_by_name(["rfm_segments"])
AS_OF = pd.Timestamp("2025-06-01", tz="UTC")

CONSENT = [
    # plain yes/no, as spreadsheets and Shopify's "Accepts (Email) Marketing" write them
    "yes", "Yes", "TRUE", "true", "1", "y", "x", "checked", True, 1, 1.0,
    "Subscribed", "opted in", "Opt-in", "granted", "consented",
    "Marketing contact",  # HubSpot "Marketing contact status"
    "Freely given consent from contact",  # HubSpot GDPR legal basis
    "Legitimate interest – prospect/lead", "Legitimate interest - existing customer",
    "Performance of a contract;Freely given consent from contact",
]  # fmt: skip
OPT_OUT = [
    "no", "No", "FALSE", "0", "n", False, 0, "unchecked",
    "Unsubscribed", "Opted out", "opt-out", "withdrawn", "revoked", "denied",
    "Do not contact", "DO NOT CONTACT", "Opted out of all email", "Unsubscribed from all email",
    "Non-marketing contact", "non-marketing",
    "cleaned", "pending", "transactional", "archived",  # Mailchimp audience status
    "not_subscribed", "never subscribed",  # Shopify's email marketing state
    "Not applicable", "Performance of a contract", "Legitimate interest – other",
    "Freely given consent from contact;Unsubscribed",  # any "no" wins
]  # fmt: skip
UNREADABLE = [
    "maybe",
    "n/a",
    "none",
    "-",
    "ask Bob",
    "2",
    0.5,
    "#N/A",
    "yes please",
    "yes;maybe",
    "null",
    "NULL",
    "missing",
    "(blank)",
    "nan",
    "N/A",
]  # written: not an empty cell


@pytest.mark.parametrize("value", CONSENT)
def test_consent_wordings(value):
    assert read_consent(value, "marketing_consent").decision == "consent"


@pytest.mark.parametrize("value", OPT_OUT)
def test_opt_out_wordings(value):
    assert read_consent(value, "marketing_consent").decision == "opt-out"


@pytest.mark.parametrize("value", UNREADABLE)
def test_anything_else_is_unreadable_and_not_allowed(value):
    reading = read_consent(value, "marketing_consent")
    assert reading.decision == "unreadable" and reading.allowed is False


@pytest.mark.parametrize("value", [None, "", "  ", float("nan"), pd.NA])
def test_blank_is_missing_for_missing_means_to_decide(value):
    assert read_consent(value).allowed is None


@pytest.mark.parametrize(
    "column",
    ["Unsubscribed from all email", "Do not contact", "Opted out of all email", "DNC",
     "hs_email_optout", "Email opt-out"],
)  # fmt: skip
def test_yes_under_a_negative_header_is_an_opt_out(column):
    assert read_consent("yes", column).decision == "opt-out"
    assert read_consent("true", column).decision == "opt-out"
    assert read_consent("No", column).decision == "consent"
    # words keep their meaning whatever the header says
    assert read_consent("Unsubscribed", column).decision == "opt-out"


@pytest.mark.parametrize(
    ("value", "decision"),
    [("Unsubscribed: TRUE", "opt-out"), ("Unsubscribed: FALSE", "consent"),
     ("Do Not Email: yes", "opt-out"), ("Do Not Email: 0", "consent"),
     ("Unsubscribed: N/A", "unreadable"), ("Opted out of email: Newsletter: true", "opt-out")],
)  # fmt: skip
def test_a_value_stored_with_its_negative_header_is_read_under_it(value, decision):
    """What ``keep_header_meaning`` stores for a header that says no mapped onto consent."""
    assert read_consent(value, "marketing_consent").decision == decision


@pytest.mark.parametrize("column", ["Accepts Marketing", "Accepts Email Marketing", "GDPR ok"])
def test_yes_under_a_positive_header_is_consent(column):
    assert read_consent("yes", column).decision == "consent"
    assert read_consent("no", column).decision == "opt-out"


# id, Consent, Unsubscribed from all email, Legal basis for processing contact's data
ROWS = [
    ("c01", "Yes", "false", "Freely given consent from contact"),
    ("c02", "No", "true", "Not applicable"),
    ("c03", "Do not contact", "TRUE", "Performance of a contract"),
    ("c04", "Opted out of all email", "yes", "Legitimate interest – prospect/lead"),
    ("c05", "Marketing contact", "no", "Legitimate interest – existing customer"),
    ("c06", "Non-marketing contact", "", ""),
    ("c07", "Unsubscribed", "1", "Legitimate interest – other"),
    ("c08", "subscribed", "0", "Performance of a contract;Freely given consent from contact"),
    ("c09", "", "", ""),
    ("c10", "maybe later", "perhaps", "Because we can"),
    ("c11", "cleaned", "false", "Not applicable;Legitimate interest – prospect/lead"),
    ("c12", "pending", "FALSE", "Legitimate interest - other"),
]
EVERYONE = {r[0] for r in ROWS}


def export(folder: Path) -> Path:
    lines = [
        'ID,Email,Consent,Unsubscribed from all email,"Legal basis for processing contact\'s data"'
    ]
    lines += [f"{i},{i}@shop.test,{c},{u},{b}" for i, c, u, b in ROWS]
    (folder / "Customers.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    orders = ["Order ID,Customer ID,Order Date,Total"]
    for n, (contact, *_) in enumerate(ROWS):
        orders += [f"o{n}a,{contact},2025-01-{n + 1:02d},{10 + n}",
                   f"o{n}b,{contact},2025-03-{n + 1:02d},{20 + n}"]  # fmt: skip
    (folder / "Orders.csv").write_text("\n".join(orders) + "\n", encoding="utf-8")
    return folder


def run(folder: Path, store, column: str, missing: str = "consented", keep: bool = False):
    options = RunOptions(
        steps=RFM, as_of=AS_OF, consent_column=column, missing_consent_means=missing,
        keep_removed_rows=keep,
    )  # fmt: skip
    return run_pipeline(FilesSource(folder), store, options)


def scored(result, store) -> set[str]:
    step = set(result.steps["rfm_segments"].outputs["scores"]["entity_id"])
    assert set(store.latest_outputs("scores")["entity_id"]) == step
    return step


def listed(result) -> dict[str, str]:
    """Contact id -> value of each unreadable consent value listed in the rejects."""
    rows = result.rejects[result.rejects["action"] == UNREADABLE_CONSENT]
    return {r.reason.split(":")[0].removeprefix("contact "): r.value for r in rows.itertuples()}


@pytest.mark.parametrize(
    ("column", "missing", "allowed", "unreadable"),
    [
        ("marketing_consent", "consented", {"c01", "c05", "c08", "c09"}, {"c10": "maybe later"}),
        ("marketing_consent", "opted_out", {"c01", "c05", "c08"}, {"c10": "maybe later"}),
        # Another column named in the config: the Consent column the headers gave still
        # says no for c06 ("Non-marketing contact"), c11 ("cleaned") and c12 ("pending"),
        # as any second consent column does (they were scored before a review)
        (
            "Unsubscribed from all email",
            "consented",
            {"c01", "c05", "c08", "c09"},
            {"c10": "perhaps"},
        ),
        (  # c04's basis allows marketing, but "Unsubscribed from all email" says yes: a
            # column whose header is an opt-out says no whichever column the config names
            "Legal basis for processing contact's data",
            "consented",
            {"c01", "c05", "c08", "c09"},
            {"c10": "Because we can"},
        ),
    ],
)
def test_files_export_scores_only_the_consented(
    tmp_path, store, column, missing, allowed, unreadable
):
    result = run(export(tmp_path), store, column, missing)
    assert result.status == "ok", result.errors
    assert result.loaded["contacts"] == len(ROWS)
    assert scored(result, store) == allowed
    assert result.consent_skipped == len(EVERYONE - allowed)
    assert listed(result) == unreadable
    assert result.consent_unreadable == len(unreadable)
    # Listed, not counted as rejected rows nor as cleared values.
    assert result.rejected_rows == 0 and result.cleared_values == 0
    saved = store.rejects(result.run_id)
    mine = saved[saved["action"] == UNREADABLE_CONSENT]
    assert mine["value"].tolist() == list(unreadable.values())
    assert set(mine["column"]) == {column}
    assert "counts as an opt-out" in mine["reason"].iloc[0]
    counts = store.runs().iloc[0]["counts"]
    assert f'"consent_unreadable": {len(unreadable)}' in counts


def test_an_unreadable_consent_names_the_row_and_source_of_its_contact(tmp_path, store):
    """Consent is decided over every stored contact, yet each line names where its contact
    came from: row 11 of the customers file is c10's "maybe later", in every later run too."""
    folder = export(tmp_path)
    for _ in range(2):
        result = run(folder, store, "marketing_consent")
        saved = store.rejects(result.run_id)
        mine = saved[saved["action"] == UNREADABLE_CONSENT]
        assert mine[["source_row", "column", "value"]].values.tolist() == [
            [11, "marketing_consent", "maybe later"]
        ]
        assert mine["source"].tolist() == [FilesSource(folder).name]  # as its other rejects
        (folder / "Orders.csv").unlink(missing_ok=True)  # the second run reads contacts only
    # A contact stored before rows were kept (an older store) still gets its line, no row
    # (its file gone, and kept by removed_rows = "keep").
    store._conn.execute("UPDATE contacts SET source_row = NULL")
    (folder / "Customers.csv").unlink()
    (folder / "Other.csv").write_text("Order ID,Customer ID,Order Date,Total\nz,c01,2025-01-01,1\n")
    result = run(folder, store, "marketing_consent", keep=True)
    mine = result.rejects[result.rejects["action"] == UNREADABLE_CONSENT]
    assert mine["value"].tolist() == ["maybe later"] and mine["source_row"].isna().all()


def test_the_original_wording_is_kept_in_the_store(tmp_path, store):
    run(export(tmp_path), store, "marketing_consent")
    stored = store.read("contacts").set_index("contact_id")["marketing_consent"]
    assert stored["c03"] == "Do not contact" and stored["c10"] == "maybe later"
    assert pd.isna(stored["c09"])


def test_a_consent_column_no_contact_has_is_a_config_error(tmp_path, store):
    with pytest.raises(ConfigError, match=r"consent\.column"):
        run(export(tmp_path), store, "Legal basis")  # a typo must not consent everyone


def test_shopify_and_mailchimp_exports(tmp_path, store):
    # Shopify names the file customers_export.csv; recognising that name is another point.
    (tmp_path / "Customers.csv").write_text(
        "Customer ID,First Name,Email,Accepts Email Marketing,Member Status\n"
        "s1,Ann,s1@shop.test,yes,subscribed\n"
        "s2,Bob,s2@shop.test,no,unsubscribed\n"
        "s3,Cy,s3@shop.test,yes,cleaned\n"
        "s4,Di,s4@shop.test,NO,pending\n"
        "s5,Ed,s5@shop.test,Yes,transactional\n",
        encoding="utf-8",
    )
    orders = [
        f"{c}{k},{c},2025-0{k}-10,{k}0" for c in ("s1", "s2", "s3", "s4", "s5") for k in (1, 3)
    ]
    (tmp_path / "Orders.csv").write_text(
        "Order ID,Customer ID,Order Date,Total\n" + "\n".join(orders) + "\n", encoding="utf-8"
    )
    shopify = run(tmp_path, store, "marketing_consent")
    assert scored(shopify, store) == {"s1", "s3", "s5"}
    mailchimp = run(tmp_path, store, "Member Status")
    assert scored(mailchimp, store) == {"s1"}
    assert mailchimp.consent_skipped == 4 and mailchimp.consent_unreadable == 0


def make_api(hub: HubSpotEmulator) -> HubSpotApi:
    hub.clock.advance(10)  # a new client starts after HubSpot's 10-second window
    return HubSpotApi(Secret(TEST_TOKEN), host=hub.url, limits=Limits(read_timeout=2.0),
                      client_side_validation=True, clock=hub.clock)  # fmt: skip


def test_hubspot_opt_outs_get_no_score_and_no_push(store):
    business = generate(SampleConfig(contacts=200, seed=5))
    buyers = list(dict.fromkeys(business.tables["orders"]["contact_id"]))[:10]
    consent = business.tables["contacts"].set_index("contact_id")["marketing_consent"]
    buyers = [c for c in buyers if consent[c]][:7]
    with HubSpotEmulator(clock=FakeClock()) as hub:
        ids = load_sample(hub.state, business)
        changes = [
            {"hs_marketable_status": "false"},  # a non-marketing contact
            {"hs_email_optout": "true", "hs_marketable_status": "true"},
            {"hs_email_optout": "maybe"},  # not a value HubSpot sends: unreadable
            {"hs_legal_basis": "Not applicable"},  # no lawful basis for marketing
            # a marketing contact (a billing flag) with no lawful basis for marketing
            {"hs_marketable_status": "true", "hs_legal_basis": "Performance of a contract"},
            {"hs_marketable_status": "true", "hs_legal_basis": "Freely given consent from contact"},
            {},  # hs_email_optout false: consent, as before
        ]
        for contact, props in zip(buyers, changes, strict=True):
            hub.state.objects["contacts"][ids["contacts"][contact]].properties.update(props)
        destination = HubSpotDestination(make_api(hub), properties=crm_properties())
        result = run_pipeline(
            HubSpotSource(make_api(hub)),
            store,
            RunOptions(steps=RFM, as_of=business.as_of),
            destinations=[destination],
        )
        assert result.status == "ok", result.errors
        hub_ids = [ids["contacts"][c] for c in buyers]
        scores = set(store.latest_outputs("scores")["entity_id"])
        pushed = {
            h for h in hub_ids if hub.state.objects["contacts"][h].properties.get("smbml_segment")
        }
        assert {h for h in hub_ids if h in scores} == set(hub_ids[5:])
        assert pushed == set(hub_ids[5:])
        assert listed(result) == {hub_ids[2]: "Unsubscribed from all email: maybe"}
        stored = store.read("contacts").set_index("contact_id")["marketing_consent"]
        assert stored[hub_ids[0]].endswith("non-marketing contact")


def test_the_user_sees_them_in_the_run_output_the_workbook_and_status(tmp_path):
    export(tmp_path)
    (tmp_path / "smbml.toml").write_text(
        '[source]\nkind = "files"\npath = "."\n'
        '[consent]\ncolumn = "marketing_consent"\n'
        '[analytics]\nenabled = ["rfm_segments"]\nas_of = 2025-06-01\n'
        '[[destinations]]\nkind = "workbook"\npath = "results.xlsx"\n'
    )
    store = ["--store", str(tmp_path / "s.sqlite")]
    ran = CliRunner().invoke(
        cli, ["--log-file", str(tmp_path / "log.txt"), "run", "-c", str(tmp_path / "smbml.toml"),
              *store, "--quiet"],
    )  # fmt: skip
    assert ran.exit_code == 0, ran.output
    assert "8 contacts opted out of processing: not scored." in ran.output
    assert "1 of them have a consent value that could not be read" in ran.output
    assert "rows rejected" not in ran.output  # an opt-out is not a rejected row
    rejects = load_workbook(tmp_path / "results.xlsx")["Rejects"]
    cells = [str(c.value) for row in rejects.iter_rows() for c in row]
    assert UNREADABLE_CONSENT in cells and "maybe later" in cells
    status = CliRunner().invoke(cli, ["status", *store])
    assert "8 contacts opted out, 1 unreadable consent value" in status.output
    assert "treated as opt-out" in status.output and "maybe later" in status.output


# -- values real exports write that must not consent ------------------------------------
# (probe42: each of these let a contact through as "empty, so consented" or as "yes")


def orders_of(folder: Path, contacts: list[str]) -> None:
    """Two orders per contact, so a contact who reaches the analytics gets a score."""
    rows = ["Order ID,Customer ID,Order Date,Total"]
    for n, contact in enumerate(contacts):
        rows += [f"o{n}a,{contact},2025-01-{n + 1:02d},{10 + n}",
                 f"o{n}b,{contact},2025-03-{n + 1:02d},{20 + n}"]  # fmt: skip
    (folder / "Orders.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")


def run_files(folder: Path, store, column: str = "marketing_consent", missing="consented", **kw):
    options = RunOptions(
        steps=RFM, as_of=AS_OF, consent_column=column, missing_consent_means=missing
    )
    return run_pipeline(FilesSource(folder, **kw), store, options)


# What spreadsheets and exports write for "nothing": each is written, so not an empty cell.
TOKENS = ["N/A", "n/a", "-", "none", "null", "#N/A", "missing", "(blank)"]


@pytest.mark.parametrize("missing", ["consented", "opted_out"])
def test_a_written_placeholder_in_the_consent_column_is_an_opt_out_and_listed(
    tmp_path, store, missing
):
    ids = [f"c{n}" for n in range(len(TOKENS) + 2)]
    values = ["yes", *TOKENS, ""]  # the last one is a truly empty cell
    (tmp_path / "Customers.csv").write_text(
        "Customer ID,Email,First Name,Marketing Consent\n"
        + "".join(f"{i},{i}@shop.test,P{i},{v}\n" for i, v in zip(ids, values, strict=True)),
        encoding="utf-8",
    )
    orders_of(tmp_path, ids)
    result = run_files(tmp_path, store, missing=missing)
    assert result.status == "ok", result.errors
    empty = ids[-1]
    assert scored(result, store) == ({"c0", empty} if missing == "consented" else {"c0"})
    tokens = dict(zip(ids[1:-1], TOKENS, strict=True))
    assert listed(result) == tokens  # one line each, naming the contact and the value
    saved = store.rejects(result.run_id)
    mine = saved[saved["action"] == UNREADABLE_CONSENT]
    assert set(mine["column"]) == {"marketing_consent"}
    stored = store.read("contacts").set_index("contact_id")["marketing_consent"]
    assert stored[list(tokens)].tolist() == TOKENS and pd.isna(stored[empty])


def test_a_placeholder_in_a_consent_column_of_your_own_is_an_opt_out(tmp_path, store):
    """[consent] column = "Newsletter OK": the header is kept in extra, with its values."""
    (tmp_path / "Customers.csv").write_text(
        "Customer ID,Email,Newsletter OK\n"
        "a,a@shop.test,yes\nb,b@shop.test,N/A\nc,c@shop.test,-\nd,d@shop.test,\n",
        encoding="utf-8",
    )
    orders_of(tmp_path, ["a", "b", "c", "d"])
    result = run_files(tmp_path, store, "Newsletter OK")
    assert scored(result, store) == {"a", "d"}
    assert listed(result) == {"b": "N/A", "c": "-"}
    saved = store.rejects(result.run_id)
    assert set(saved.loc[saved["action"] == UNREADABLE_CONSENT, "column"]) == {"Newsletter OK"}


def test_a_consent_column_of_your_own_that_is_all_placeholders_is_no_config_error(tmp_path, store):
    """It is there, and says nothing that allows marketing: every contact opts out."""
    (tmp_path / "Customers.csv").write_text(
        "Customer ID,Email,Newsletter OK\na,a@shop.test,N/A\nb,b@shop.test,N/A\n",
        encoding="utf-8",
    )
    orders_of(tmp_path, ["a", "b"])
    result = run_files(tmp_path, store, "Newsletter OK")
    assert result.status == "ok", result.errors
    assert result.consent_skipped == 2  # no one to score: every order is an opt-out's
    assert "all 4 orders are of contacts who opted out" in result.skipped[0]
    assert listed(result) == {"a": "N/A", "b": "N/A"}


def test_placeholders_and_formula_errors_in_a_workbook_opt_out(tmp_path, store):
    """A hand-kept workbook: "N/A" typed in, "#N/A" left by a VLOOKUP (its cached value)."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Customers"
    sheet.append(["Customer ID", "Email", "First Name", "Opt-in"])
    for row in [("C1", "yes"), ("C2", "N/A"), ("C3", "#N/A"), ("C4", None), ("C5", "-")]:
        sheet.append([row[0], f"{row[0].lower()}@shop.test", "Ann", row[1]])
    orders = workbook.create_sheet("Orders")
    orders.append(["Order ID", "Customer ID", "Order Date", "Total"])
    for n, contact in enumerate(["C1", "C2", "C3", "C4", "C5"]):
        orders.append([f"A{n}", contact, f"2025-01-0{n + 1}", 10 + n])
        orders.append([f"B{n}", contact, f"2025-03-0{n + 1}", 20 + n])
    workbook.save(tmp_path / "shop.xlsx")
    result = run_files(tmp_path / "shop.xlsx", store)
    assert result.status == "ok", result.errors
    assert scored(result, store) == {"C1", "C4"}
    assert listed(result) == {"C2": "N/A", "C3": "#N/A", "C5": "-"}


# A HubSpot CRM export of a contacts view (property labels as headers), with opt-out
# cells a hand edit or a merge left unreadable.
HUBSPOT_HEADERS = [
    "Record ID", "First Name", "Last Name", "Email", "Contact owner", "Lifecycle Stage",
    "Marketing contact status", "Unsubscribed from all email",
    "Legal basis for processing contact's data", "Create Date",
]  # fmt: skip
HUBSPOT_ROWS = {  # record id: (marketing contact status, unsubscribed, legal basis)
    "101": ("Marketing contact", "N/A", ""),
    "102": ("Marketing contact", "maybe", ""),
    "103": ("", "-", ""),
    "104": ("Marketing contact", "true", ""),
    "105": ("Non-marketing contact", "false", ""),
    "106": ("Marketing contact", "false", ""),
    "107": ("Marketing contact", "false", "Performance of a contract"),
    "108": ("ask Bob", "false", ""),
    "109": ("Marketing contact", "unknown", ""),
    "110": ("Marketing contact", "false", "Legitimate interest – prospect/lead"),
    "111": ("", "false", ""),  # nothing said but not unsubscribed: consent, as from the API
}


def test_a_hubspot_contacts_export_reads_consent_as_the_api_does(tmp_path, store):
    with open(tmp_path / "hubspot-crm-exports-all-contacts-2025-03-01.csv", "w",
              newline="", encoding="utf-8") as handle:  # fmt: skip
        writer = csv.writer(handle)
        writer.writerow(HUBSPOT_HEADERS)
        for record, (status, unsubscribed, basis) in HUBSPOT_ROWS.items():
            writer.writerow([record, "Ann", "Lee", f"h{record}@shop.test", "Sam", "lead",
                             status, unsubscribed, basis, "2024-01-05 10:00"])  # fmt: skip
    orders_of(tmp_path, list(HUBSPOT_ROWS))
    result = run_files(tmp_path, store, missing="opted_out")
    assert result.status == "ok", result.errors
    assert scored(result, store) == {"106", "110", "111"}
    # a value that cannot be read names the HubSpot property that holds it (the line named
    # marketing_consent, which no portal has)
    assert listed(result) == {
        "101": "Unsubscribed from all email: N/A; Marketing contact",
        "102": "Unsubscribed from all email: maybe; Marketing contact",
        "103": "Unsubscribed from all email: -",
        "108": "Marketing contact status: ask Bob",
        "109": "Unsubscribed from all email: unknown; Marketing contact",
    }
    # The API's reading of the same values gives the same words.
    stored = store.read("contacts").set_index("contact_id")["marketing_consent"]
    api = {"N/A": "N/A", "maybe": "maybe", "-": "-", "unknown": "unknown", "true": "true",
           "false": "false", "Marketing contact": "true", "Non-marketing contact": "false"}  # fmt: skip
    for record, (status, unsubscribed, basis) in HUBSPOT_ROWS.items():
        if status in api:
            assert (
                stored[record].lower()
                == (hubspot_consent(api[unsubscribed], api[status], basis or None) or "").lower()
            )


MAILCHIMP_HEADERS = [
    "Email Address", "First Name", "Last Name", "MEMBER_RATING", "OPTIN_TIME", "OPTIN_IP",
    "CONFIRM_TIME", "CONFIRM_IP", "GMTOFF", "DSTOFF", "TIMEZONE", "CC", "REGION",
    "LAST_CHANGED", "LEID", "EUID", "NOTES", "TAGS",
]  # fmt: skip
MAILCHIMP_MORE = {
    "unsubscribed": ["UNSUB_TIME", "UNSUB_CAMPAIGN_TITLE", "UNSUB_CAMPAIGN_ID", "UNSUB_REASON",
                     "UNSUB_REASON_OTHER"],
    "cleaned": ["CLEAN_TIME", "CLEAN_CAMPAIGN_TITLE", "CLEAN_CAMPAIGN_ID"],
}  # fmt: skip


def mailchimp_file(path: Path, kind: str, emails: list[str]) -> None:
    """One file of an audience export's zip, as Mailchimp writes it for ``kind``."""
    more = MAILCHIMP_MORE.get(kind, [])
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(MAILCHIMP_HEADERS + more)
        left = ["2024-02-01 10:00:00", "March news", "abc", "NORMAL", ""][: len(more)]
        for n, email in enumerate(emails):
            writer.writerow(
                [email, "Ann", "Lee", "2", "2023-04-01 10:00:00", "", "2023-04-01 10:05:00", "",
                 "", "", "", "US", "", "2024-01-02 10:00:00", str(n), f"e{n}", "", "", *left]
            )  # fmt: skip


def test_a_mailchimp_audience_export_consents_only_its_subscribed_members(tmp_path, store):
    people = {kind: [f"{kind}{n}@shop.test" for n in range(2)]
              for kind in ("subscribed", "unsubscribed", "cleaned", "nonsubscribed")}  # fmt: skip
    for kind, emails in people.items():
        mailchimp_file(tmp_path / f"{kind}_members_export_3f2a1b.csv", kind, emails)
    orders_of(tmp_path, [e for emails in people.values() for e in emails])
    result = run_files(tmp_path, store)
    assert result.status == "ok", result.errors
    assert result.loaded["contacts"] == 8
    assert scored(result, store) == set(people["subscribed"])  # non-subscribed never opted in
    assert listed(result) == {}


@pytest.mark.parametrize("name", ["members.csv", "audience_2025.csv"])
def test_a_mailchimp_file_whose_status_cannot_be_told_opts_out(tmp_path, store, name):
    """Renamed, a file of subscribed members looks just like one of non-subscribed ones."""
    mailchimp_file(tmp_path / name, "subscribed", ["a@shop.test", "b@shop.test"])
    orders_of(tmp_path, ["a@shop.test", "b@shop.test"])
    result = run_files(tmp_path, store)
    assert result.status == "ok", result.errors
    assert result.consent_skipped == 2  # no one to score: every order is an opt-out's
    assert "all 4 orders are of contacts who opted out" in result.skipped[0]
    shown = listed(result)
    assert set(shown) == {"a@shop.test", "b@shop.test"}
    assert name in shown["a@shop.test"] and "Mailchimp status unknown" in shown["a@shop.test"]


NEGATIVE = "Customer ID,Email,First Name,Unsubscribed\nC1,c1@shop.test,Ann,TRUE\n" \
    "C2,c2@shop.test,Bob,FALSE\nC3,c3@shop.test,Cy,yes\nC4,c4@shop.test,Di,\n"  # fmt: skip


@pytest.mark.parametrize("pages", [None, 2])  # read whole, and streamed in pages of two rows
def test_a_header_that_says_no_mapped_onto_consent_keeps_its_meaning(tmp_path, store, pages):
    (tmp_path / "Customers.csv").write_text(NEGATIVE, encoding="utf-8")
    orders_of(tmp_path, ["C1", "C2", "C3", "C4"])
    mappings = {"contacts": {"Unsubscribed": "marketing_consent"}}
    source = FilesSource(tmp_path, mappings=mappings)
    if pages:
        source.page_rows = pages
    options = RunOptions(steps=RFM, as_of=AS_OF, missing_consent_means="opted_out")
    result = run_pipeline(source, store, options)
    assert result.status == "ok", result.errors
    assert scored(result, store) == {"C2"}  # FALSE under "Unsubscribed": not unsubscribed
    stored = store.read("contacts").set_index("contact_id")["marketing_consent"]
    assert stored["C1"] == "Unsubscribed: TRUE" and pd.isna(stored["C4"])


def test_the_same_header_named_in_the_config_reads_the_same(tmp_path, store):
    (tmp_path / "Customers.csv").write_text(NEGATIVE, encoding="utf-8")
    orders_of(tmp_path, ["C1", "C2", "C3", "C4"])
    result = run_files(tmp_path, store, "Unsubscribed", missing="opted_out")
    assert scored(result, store) == {"C2"}


@pytest.mark.parametrize(
    ("consent", "allowed"),
    [
        ("", {"C2", "C4"}),  # no consent column at all: "Do Not Email" is the only word
        (",Accepts Marketing", {"C2"}),  # C1 said yes there and no in "Do Not Email"
    ],
)
def test_a_do_not_email_column_is_read_as_opt_outs(tmp_path, store, consent, allowed):
    rows = [("C1", "TRUE", "yes"), ("C2", "FALSE", "yes"), ("C3", "maybe", "yes"),
            ("C4", "", "no")]  # fmt: skip
    (tmp_path / "Customers.csv").write_text(
        f"Customer ID,Email,Do Not Email{consent}\n"
        + "".join(
            f"{c},{c.lower()}@shop.test,{dne}{',' + ok if consent else ''}\n" for c, dne, ok in rows
        ),
        encoding="utf-8",
    )
    orders_of(tmp_path, [r[0] for r in rows])
    result = run_files(tmp_path, store)
    assert result.status == "ok", result.errors
    assert scored(result, store) == allowed
    assert listed(result) == {"C3": "maybe"}  # unreadable there: an opt-out, listed
    saved = store.rejects(result.run_id)
    assert set(saved.loc[saved["action"] == UNREADABLE_CONSENT, "column"]) == {"Do Not Email"}
    said = [n for n in result.notices if n.check == "opt_out_column"]
    assert [n.count for n in said] == [2] and "'Do Not Email'" in said[0].message
