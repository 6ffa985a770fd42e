"""Consent written in the shop's own language (find56_intl item 7).

A German shop's "Accepts Marketing" column holds "Ja" and "Nein", a French one "Oui" and
"Non", a Japanese one "はい" and "いいえ"; a localised Excel writes TRUE as "WAHR" or "VRAI".
Read as unknown words, every contact was an opt-out, and the run then said "no orders
data" right after loading the orders. A word no language here knows still fails closed.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_consent import AS_OF, RFM, UNREADABLE_CONSENT, scored

from smbml_connect.connectors.files.source import FilesSource
from smbml_connect.consent import _NO, _YES, read_consent
from smbml_connect.pipeline import RunOptions, run_pipeline
from smbml_connect.store import Store

YES_NO = [
    ("Ja", "Nein"), ("ja", "nein"), ("J", "N"), ("WAHR", "FALSCH"), ("Oui", "Non"),
    ("VRAI", "FAUX"), ("Sí", "No"), ("Si", "no"), ("Sì", "No"), ("VERDADERO", "FALSO"),
    ("Sim", "Não"), ("sim", "nao"), ("VERDADEIRO", "FALSO"), ("是", "否"), ("はい", "いいえ"),
]  # fmt: skip


@pytest.mark.parametrize(("yes", "no"), YES_NO)
def test_yes_and_no_of_the_shops_language_are_read(yes: str, no: str):
    assert read_consent(yes, "Accepts Marketing").decision == "consent"
    assert read_consent(no, "Accepts Marketing").decision == "opt-out"
    # under a header that says no, a yes is an opt-out
    assert read_consent(yes, "Newsletter abbestellt / Unsubscribed").decision == "opt-out"


@pytest.mark.parametrize("word", ["Vielleicht", "peut-être", "talvez", "多分", "ok?", "Jein"])
def test_other_words_still_fail_closed(word: str):
    assert read_consent(word, "Accepts Marketing").decision == "unreadable"


# The English (and language-free) yes and no words: read under any header. Written out here
# apart from consent.py, so that the words consent.py holds to a known header are checked.
ENGLISH = {
    "true", "t", "yes", "y", "1", "on", "x", "checked",
    "false", "f", "no", "n", "0", "off", "unchecked",
}  # fmt: skip


@pytest.mark.parametrize("word", sorted(_YES | _NO))
def test_every_yes_or_no_of_another_language_needs_a_header_we_can_tell(word: str):
    """Each word of `_YES` and `_NO` but the English ones is another language's and is
    unreadable under a header that says neither consent nor an opt-out ("Kundengruppe"):
    one left out of the words held to a known header (`_FOREIGN`) read as a plain yes
    there, and scored people whose column may say they opted out (rv56 item 1)."""
    yes = word in _YES
    if word in ENGLISH:
        assert read_consent(word, "Kundengruppe").decision == ("consent" if yes else "opt-out")
        return
    reading = read_consent(word, "Kundengruppe")
    assert reading.decision == "unreadable"
    assert "a column we cannot tell" in reading.reason
    assert read_consent(word, "Newsletter-Einwilligung").decision == (
        "consent" if yes else "opt-out"
    )


def _german_shop(folder: Path, answers: list[str], header: str = "Accepts Marketing") -> None:
    """Customers of a German shop with the consent column as typed, and their orders
    (two or three each, amounts with decimal commas)."""
    folder.mkdir()
    names = ["Jürgen Müller", "Grete Weiß", "Anna Schäfer", "Lukas Bauer", "Eva Krüger",
             "Paul Vogel", "Mia Hoffmann", "Ben Koch"]  # fmt: skip
    rows = [f"Customer ID;First Name;Last Name;Email;{header}"]
    orders = ["Order ID;Customer ID;Order Date;Total"]
    for n, answer in enumerate(answers):
        first, last = names[n % len(names)].split()
        rows.append(f"K{n:03d};{first};{last};kunde{n}@beispiel.de;{answer}")
        for k in range(2 + n % 2):
            orders.append(f"B{n:03d}{k};K{n:03d};{3 + k * 9}.{1 + n % 4}.2025;{12 + n},{k}0")
    (folder / "customers.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    (folder / "orders.csv").write_text("\n".join(orders) + "\n", encoding="utf-8")


def test_a_german_shops_ja_and_nein_score_those_who_said_ja(tmp_path: Path, store: Store):
    answers = ["Ja", "Nein", "ja", "Ja", "Nein", "ja", "Ja", "Ja"]
    _german_shop(tmp_path / "shop", answers)
    result = run_pipeline(FilesSource(tmp_path / "shop"), store, RunOptions(steps=RFM, as_of=AS_OF))
    said_ja = {f"K{n:03d}" for n, a in enumerate(answers) if a.lower() == "ja"}
    assert scored(result, store) == said_ja
    assert result.consent_skipped == 2
    assert not (result.rejects["action"] == UNREADABLE_CONSENT).any()


@pytest.mark.parametrize(
    ("header", "yes_means"),
    [
        ("Newsletter abgemeldet", "opt-out"),  # "unsubscribed from the newsletter"
        ("Werbesperre", "opt-out"),
        ("Désabonné", "opt-out"),
        ("Dado de baja", "opt-out"),
        ("配信停止", "opt-out"),
        ("Newsletter-Einwilligung", "consent"),
        ("Kundengruppe", "unreadable"),  # a header we cannot tell: fails closed
    ],
)
def test_a_yes_in_the_shops_language_follows_what_the_header_says(
    tmp_path: Path, store: Store, header: str, yes_means: str
):
    """rv56 item 1: "Ja" under "Newsletter abgemeldet" scored the people who unsubscribed
    and left out the rest, since the header's no was known in English only."""
    answers = ["Ja", "Nein", "Ja", "Nein", "Nein", "Ja"]
    _german_shop(tmp_path / "shop", answers, header)
    options = RunOptions(steps=RFM, as_of=AS_OF, consent_column=header)
    result = run_pipeline(FilesSource(tmp_path / "shop"), store, options)
    said = {"Ja": set(), "Nein": set()}  # type: dict[str, set[str]]
    for n, answer in enumerate(answers):
        said[answer].add(f"K{n:03d}")
    if yes_means == "unreadable":  # no one: the step has no buyer left to score
        assert "rfm_segments" not in result.steps
    else:
        assert scored(result, store) == said["Ja" if yes_means == "consent" else "Nein"]
    unreadable = result.rejects[result.rejects["action"] == UNREADABLE_CONSENT]
    if yes_means == "unreadable":
        assert len(unreadable) == len(answers)
        assert unreadable["reason"].str.contains("a column we cannot tell").all()
        assert unreadable["value"].str.startswith(f"{header}: ").all()
    else:
        assert unreadable.empty


def test_when_every_buyer_is_left_out_the_skip_line_says_so(tmp_path: Path, store: Store):
    """Orders loaded whose buyers all opted out (or wrote a word no one can read): the
    skip line says that, not "no orders data"."""
    _german_shop(tmp_path / "shop", ["Nein", "Vielleicht", "nein", "Nein"])
    result = run_pipeline(FilesSource(tmp_path / "shop"), store, RunOptions(steps=RFM, as_of=AS_OF))
    assert result.loaded["orders"] == 10
    line = result.skipped_steps["rfm_segments"]
    assert "no orders data" not in line and "no contacts data" not in line
    assert "all 10 orders are of contacts who opted out of processing" in line


def test_a_step_of_a_shop_without_orders_still_says_no_orders_data(tmp_path: Path, store: Store):
    folder = tmp_path / "shop"
    _german_shop(folder, ["Ja", "Ja", "Nein"])
    (folder / "orders.csv").unlink()
    result = run_pipeline(FilesSource(folder), store, RunOptions(steps=RFM, as_of=AS_OF))
    assert "no orders data" in result.skipped_steps["rfm_segments"]
