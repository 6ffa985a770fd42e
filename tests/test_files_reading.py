"""How a CSV file is split and decoded, as shops' exports and hand-saved files come.

Each file is written here the way a program or a person saves it (find51 imports, items
1, 7, 10, 11 and 12); a run reads it through the files source and the store says what
became of every row.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from smbml_connect.connectors.files.source import FilesSource
from smbml_connect.pipeline import RunOptions, run_pipeline
from smbml_connect.ports import RunResult
from smbml_connect.store import Store

SHOPIFY_CUSTOMERS = (
    "Customer ID,First Name,Last Name,Email,Accepts Email Marketing,Default Address Company,"
    "Default Address Address1,Default Address Address2,Default Address City,"
    "Default Address Province Code,Default Address Country Code,Default Address Zip,"
    "Default Address Phone,Phone,Accepts SMS Marketing,Total Spent,Total Orders,Note,"
    "Tax Exempt,Tags\n"
)


def run(folder: Path, store: Store) -> RunResult:
    return run_pipeline(FilesSource(folder), store, RunOptions(steps=[]))


def rows_rejected(result: RunResult) -> int:
    return int((result.rejects["action"] == "row rejected").sum())


# -- 1: the quote is ", whatever apostrophes the values hold ---------------------------
def test_apostrophes_in_a_shopify_customers_export_are_values_not_quotes(
    tmp_path: Path, store: Store
):
    """Shopify writes ``'`` before an id or a zip code; a company or a phone may hold one."""
    (tmp_path / "customers_export.csv").write_text(
        SHOPIFY_CUSTOMERS
        + "'7412345678901,Sophie,Martin,sophie.martin@example.fr,no,Atelier Martin,"
        "8 Rue de Berri,,Paris,,FR,'75008,+33 1 00 00 00 01,,no,145.60,2,,no,VIP\n"
        "'7412345678902,James,Okafor,james.o@example.co.uk,yes,,1 King St,,London,,GB,"
        "EC2V 8AU,,'+44 20 0000 0002,no,200.00,2,,no,\n"
        "'7412345678904,Marco,Rossi,m.rossi@example.it,no,Jones' Bakery,Via Roma 1,,Milano,"
        "MI,IT,'20121,,,no,212.70,1,,yes,b2b\n"
        "'7412345678905,Lena,Gruber,lena@example.at,yes,,Ring 3,,Wien,,AT,'1010,,,no,97.80,"
        "1,,no,\n",
        encoding="utf-8",
    )
    result = run(tmp_path, store)
    contacts = store.read("contacts").set_index("email")
    assert (result.loaded["contacts"], rows_rejected(result)) == (4, 0)
    assert contacts.loc["m.rossi@example.it", "company"] == "Jones' Bakery"
    assert contacts.loc["sophie.martin@example.fr", "first_name"] == "Sophie"
    assert pd.isna(contacts.loc["james.o@example.co.uk", "company"])
