"""A cold LEADSCORE on 10,000 rows, made faster with the same answers (stop 54).

Lead scoring's logistic fits keep BLAS to one thread while LightGBM's folds run beside
them: OpenBLAS split their small products over every core and then waited for the core
the trees held (5.2-7.5 CPU seconds, 2.6 with one thread). The scores are the same to the
last digit; the limit is put back however calls overlap. A totals row is found reading
the words of three cells a row, not ten, with the same rule. Nothing here times
anything: the work is measured by hand, not asserted.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from smbml_connect.analytics.leads import selection
from smbml_connect.analytics.shared import learners
from smbml_connect.analytics.shared.threads import one_blas_thread
from smbml_connect.functions import FunctionContext, call
from smbml_connect.headers import normalise
from smbml_connect.layouts import _text, _total_label, total_row_label


def _blas_threads() -> set[int]:
    return {lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"}


def _leads(rows: int = 1_500, seed: int = 3) -> list[list[object]]:
    """A lead list as a shop keeps it: where the lead came from, a few counts, a country,
    a blank here and there, outcomes for the older leads only."""
    rng = np.random.default_rng(seed)
    table: list[list[object]] = [
        ["Email", "Source", "Visits", "Emails opened", "Company size", "Country", "Won"]
    ]
    for i in range(rows):
        source = ["Referral", "Ads", "Organic", "Event"][int(rng.integers(0, 4))]
        visits, opens = int(rng.poisson(4)), int(rng.poisson(3))
        chance = 1 / (1 + np.exp(2.0 - 1.2 * (source == "Referral") - 0.25 * visits))
        won = "yes" if rng.random() < chance else "no"
        size = "" if i % 9 == 0 else int(rng.integers(1, 400))
        table.append([f"lead{i}@shop.example", source, visits, opens, size,
                      "NL" if i % 3 else "BE", "" if i >= rows - 200 else won])  # fmt: skip
    return table


@pytest.mark.skipif(not _blas_threads(), reason="no BLAS library loaded")
@pytest.mark.parametrize("where", ["main thread", "a server worker"])
def test_the_logistic_fits_beside_the_trees_use_one_blas_thread(
    monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    seen: list[set[int]] = []
    folds = learners.Logistic.out_of_fold

    def watching(self: learners.Logistic, *args: object) -> object:
        seen.append(_blas_threads())
        return folds(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(learners.Logistic, "out_of_fold", watching)
    with threadpool_limits(limits=2, user_api="blas"):
        if where == "main thread":
            result = call("LEADSCORE", [_leads()], FunctionContext())
        else:  # `smbml serve` runs each call on one of its pool's threads
            with ThreadPoolExecutor(2) as pool:
                result = pool.submit(call, "LEADSCORE", [_leads()], FunctionContext()).result()
        assert result.error is None
        assert seen == [{1}]  # the trees ran beside it (1,300 rows with an outcome)
        assert _blas_threads() == {2}  # and the limit is back


def test_the_scores_are_the_same_with_one_blas_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    one = call("LEADSCORE", [_leads(seed=8)], FunctionContext())
    monkeypatch.setattr(selection, "one_blas_thread", nullcontext)
    every = call("LEADSCORE", [_leads(seed=8)], FunctionContext())
    assert one.error is None and every.error is None
    assert one.value == every.value  # every score, tier and reason, to the last digit
    assert one.notes == every.notes


@pytest.mark.skipif(not _blas_threads(), reason="no BLAS library loaded")
def test_overlapping_holders_put_the_limit_back() -> None:
    """Two calls on the server's workers: the first in leaves first. A plain limit would
    put back the one it found (1) when the second leaves; here the last one out puts
    back what was there before either."""
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    while_second_alone: list[set[int]] = []

    def first() -> None:
        with one_blas_thread():
            first_in.set()
            second_in.wait(5)
        first_out.set()

    def second() -> None:
        first_in.wait(5)
        with one_blas_thread():
            second_in.set()
            first_out.wait(5)
            while_second_alone.append(_blas_threads())

    with threadpool_limits(limits=2, user_api="blas"):
        threads = [threading.Thread(target=first), threading.Thread(target=second)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        assert while_second_alone == [{1}]  # still held by the second
        assert _blas_threads() == {2}  # put back by the last one out


@pytest.mark.parametrize(
    "row",
    [
        ["Total", "", 1200, 40, "", None],
        ["", "Grand total", 5400.5, "", "NL"],
        ["Total for Acme", 3, 4],
        ["Subtotal Leeds", "", 310],
        ["Total 2025", 100, 200],  # words alone do not say: left to the numbers
        ["Total Body Lotion", "Skincare", 12.5],  # a product
        ["ann@shop.example", "Total", 3],  # a lead with an e-mail is never a total
        ["Referral", "Ads", "Organic", "Total"],  # the fourth filled cell: not read
        ["", None, "  ", "total", 7],
        ["Summe", 10, 20],
        [None, None, None],
        ["lead9@example.com", "Referral", 4, 3, "NL", 120, "Retail", 1, 14, ""],
    ],
)
def test_a_totals_row_is_found_by_the_same_rule(row: list[object]) -> None:
    every_cell = [(i, normalise(v)) for i, v in enumerate(row) if _text(v)]
    found = _total_label(tuple(row), every_cell)
    expected = found[0] if found is not None and found[2] else None
    assert total_row_label(row) == expected
