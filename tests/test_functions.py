"""The worksheet-function registry: inputs as Excel sends them, short errors, the cache."""

from __future__ import annotations

import datetime as dt
import math
import re
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest
from excel_helpers import leads_table, monthly, orders
from scipy.special import betaln

from smbml_connect import functions
from smbml_connect.analytics.experiments.abtest import ab_test
from smbml_connect.analytics.forecast.engine import forecast_panel
from smbml_connect.analytics.forecast.timeseries import regularise
from smbml_connect.cell_values import as_table, paired_columns
from smbml_connect.connectors.sample.source import SampleSource
from smbml_connect.errors import DataValidationError, NotEnoughDataError
from smbml_connect.functions import REGISTRY, FunctionContext, call
from smbml_connect.pipeline import RunOptions, run_pipeline
from smbml_connect.steps import steps_by_name
from smbml_connect.store import Store


def fresh() -> FunctionContext:
    return FunctionContext()


def test_office_js_and_xlwings_inputs_give_the_same_forecast():
    dates, values = monthly(48)
    serials = [[(d[0] - dt.datetime(1899, 12, 30)).days] for d in dates]  # Office.js
    as_xlwings = call("FORECAST", [dates, values, 6], fresh())
    as_office = call("FORECAST", [serials, values, 6, "", ""], fresh())
    assert as_xlwings.error is None and as_office.error is None
    assert as_xlwings.value == as_office.value
    assert "month" in as_xlwings.notes[0]


def test_whole_column_references_drop_trailing_blank_rows():
    dates, values = monthly(36)
    padded_dates = dates + [[None]] * 500
    padded_values = values + [[""]] * 500
    result = call("FORECAST", [padded_dates, padded_values, 3], fresh())
    assert result.error is None
    assert call("FORECAST", [dates, values, 3], fresh()).value == result.value


@pytest.mark.parametrize(
    ("name", "args", "code", "message"),
    [
        ("FORECAST", [[[1], [2]], [[1]], 3], "#VALUE!", "FORECAST: the ranges differ in length (2 dates, 1 values)"),
        ("FORECAST", [*monthly(5), 3], "#VALUE!", "FORECAST: need at least 8 dates, got 5"),
        ("FORECAST", [*monthly(24), 0], "#VALUE!", "FORECAST: horizon must be a whole number of 1 or more, got 0"),
        ("FORECAST", [*monthly(24), 100_000], "#VALUE!", "FORECAST: horizon can be at most 1000 periods, got 100000"),
        ("FORECAST", [*monthly(24), 3, None, 120], "#VALUE!", "FORECAST: level must be a whole percent from 50 to 99 (or 0.5 to 0.99), got 120"),
        ("FORECAST", [[[1, 2], [3, 4]], [[1], [2]], 3], "#VALUE!", "FORECAST: dates must be one column or one row, got 2 rows x 2 columns"),
        ("ABTEST", [5, 0, 1, 10], "#VALUE!", "ABTEST: visitors_a must be more than 0"),
        ("ABTEST", ["many", 10, 1, 10], "#VALUE!", "ABTEST: conversions_a must be a number, got 'many'"),
        ("ABTEST", [[[[1]]], 10, 1, 10], "#VALUE!", "ABTEST: conversions_a must be a value or a range of cells, got nested lists"),
        ("LEADSCORE", [[["a", "b"]]], "#VALUE!", "LEADSCORE: table_with_header needs a header row and at least one row of data"),
        ("LEADSCORE", [leads_table(50, 0), "Converted"], "#VALUE!", "LEADSCORE: every row has an outcome in 'Converted'; leave it blank on the rows to score"),
        ("LEADSCORE", [leads_table(50, 10), "Nope"], "#VALUE!", "LEADSCORE: no column named 'Nope'; columns are Email, Source, Visits, Emails opened, Country, Converted"),
        ("SEGMENT", [[["C1"]], [["not a date"]], [[5]]], "#VALUE!", "SEGMENT: no rows with a customer id, a date and an amount"),
        ("PRICE", [[[10]] * 3, [[5]] * 3], "#VALUE!", "PRICE: no elasticity: "),
        ("FORECAST", [[[1]]], "#VALUE!", "FORECAST: takes 3 to 6 arguments, got 1: FORECAST(dates, values, horizon, [season_length], [level], [headers])"),
        ("NOPE", [], "#VALUE!", "no worksheet function 'NOPE'"),
    ],
)  # fmt: skip
def test_bad_input_is_an_excel_error_value_with_one_short_message(name, args, code, message):
    context = fresh()
    result = call(name, args, context)
    assert result.value is None
    assert result.code == code
    assert result.error.startswith(message)
    assert "Traceback" not in result.error and len(result.error) <= 240
    assert context.recent_notes[-1] == f"{code} {result.error}"  # the task pane lists it


def _formatted(number: float, number_format: str = "yyyy-mm-dd") -> dict:
    """A cell as Office.js hands it to an `any` parameter when it holds a formatted number
    (what client.js spills for every date and percent), allowCustomDataForDataTypeAny on."""
    return {"type": "FormattedNumber", "basicValue": number, "numberFormat": number_format}


def test_spilled_dates_and_percents_passed_on_are_read_as_their_numbers():
    """README's =SMB.FORECAST.ETS(D2, B2:B37, A2:A37), D2 a date of an =SMB.FORECAST spill,
    was #VALUE! "target_date must be a value or a range of cells, got nested lists"."""
    epoch = dt.datetime(1899, 12, 30)
    dates, values = monthly(36)
    serials = [[(row[0] - epoch) / dt.timedelta(days=1)] for row in dates]
    spill = call("FORECAST", [serials, values, 3], fresh())
    first = (dt.datetime.combine(spill.value[1][0], dt.time()) - epoch) / dt.timedelta(days=1)
    plain = call("FORECAST.ETS", [[[first]], values, serials], fresh())
    passed = call("FORECAST.ETS", [[[_formatted(first)]], values, serials], fresh())
    assert passed.error is None, passed.error
    assert passed.value == plain.value
    as_objects = [[_formatted(row[0])] for row in serials]
    percent = _formatted(0.95, "0%")  # a percent cell as the level, a scalar argument
    again = call("FORECAST", [as_objects, values, 3, None, percent], fresh())
    assert again.error is None, again.error
    assert again.value == call("FORECAST", [serials, values, 3, None, 0.95], fresh()).value
    # a stock or currency (an entity) is the text its cell shows; an error cell is blank
    ids, order_dates, amounts = orders(30)
    entities = [[{"type": "Entity", "text": row[0], "properties": {}}] for row in ids]
    errored = [[{"type": "Error", "basicValue": "#DIV/0!"}], *amounts[1:]]
    shown = call("SEGMENT", [entities, order_dates, errored], fresh())
    expected = call("SEGMENT", [ids, order_dates, [[None], *amounts[1:]]], fresh())
    assert shown.error is None, shown.error
    assert shown.value == expected.value
    image = {"type": "WebImage", "address": "https://example.com/a.png", "basicType": "Error"}
    refused = call("ABTEST", [[[image]], 10, 1, 10], fresh())
    assert refused.error == (
        "ABTEST: conversions_a holds an Excel data type (WebImage) that is not a number, "
        "text or date: give the cells' values"
    )


def test_an_unexpected_failure_is_logged_not_shown(monkeypatch, caplog):
    def broken(*args):
        raise ZeroDivisionError("inner detail")

    spec = REGISTRY["ABTEST"]
    monkeypatch.setitem(
        REGISTRY, "ABTEST", spec.__class__(**{**spec.__dict__, "implementation": broken})
    )
    result = call("ABTEST", [1, 10, 2, 10], fresh())
    assert result.error == "ABTEST: unexpected error, details are in the smbml log"
    assert "inner detail" in caplog.text


def test_identical_calls_are_computed_once_even_when_concurrent(monkeypatch):
    context = fresh()
    runs = []
    gate = threading.Event()
    real = REGISTRY["FORECAST"].implementation

    def slow(*args):
        runs.append(1)
        gate.wait(5)
        return real(*args)

    spec = REGISTRY["FORECAST"]
    monkeypatch.setitem(
        REGISTRY, "FORECAST", spec.__class__(**{**spec.__dict__, "implementation": slow})
    )
    dates, values = monthly(30)
    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(call, "FORECAST", [dates, values, 4], context) for _ in range(8)]
        threading.Timer(0.3, gate.set).start()
        results = [f.result() for f in futures]
    assert len(runs) == 1
    assert len({str(r.value) for r in results}) == 1
    assert context.cache.stats.misses == 1 and context.cache.stats.waits == 7
    again = call("FORECAST", [dates, values, 4], context)
    assert again.cached and len(runs) == 1
    changed = [row[:] for row in values]
    changed[-1][0] += 1
    call("FORECAST", [dates, changed, 4], context)
    assert len(runs) == 2  # a different input is a different answer


def test_cache_is_bounded_by_cells_too():
    context = FunctionContext()
    context.cache.max_weight = 20  # an ABTEST answer is 14 cells
    call("ABTEST", [1, 100, 5, 100], context)
    call("ABTEST", [2, 100, 5, 100], context)
    assert len(context.cache) == 1 and context.cache.weight == 14
    assert call("ABTEST", [2, 100, 5, 100], context).cached


def test_cache_keeps_only_the_most_recent_entries():
    context = FunctionContext()
    context.cache.max_entries = 3
    for n in range(5):
        call("ABTEST", [n, 100, 5, 100], context)
    assert len(context.cache) == 3
    assert not call("ABTEST", [0, 100, 5, 100], context).cached
    assert call("ABTEST", [4, 100, 5, 100], context).cached


def test_leadscore_scores_only_rows_without_an_outcome():
    table = leads_table(600, unknown=150)
    result = call("LEADSCORE", [table], fresh())
    assert result.error is None, result.error
    header, *rows = result.value
    assert header == ["score", "tier", "reasons"]
    assert len(rows) == 600
    assert all(r[0] is None and r[1] == "" for r in rows[:450])
    scored = rows[450:]
    assert all(isinstance(r[0], float) and 0 <= r[0] <= 100 for r in scored)
    assert {r[1] for r in scored} <= set("ABCD")
    assert "Converted" in result.notes[0]
    # Referral leads convert more in the data, so they should score higher on average.
    sources = [row[1] for row in table[451:]]
    referral = np.mean([r[0] for r, s in zip(scored, sources, strict=True) if s == "Referral"])
    other = np.mean([r[0] for r, s in zip(scored, sources, strict=True) if s != "Referral"])
    assert referral > other


def test_segment_and_churn_default_to_the_end_of_the_last_orders_day():
    ids, dates, amounts = orders(60)
    segments = call("SEGMENT", [ids, dates, amounts], fresh())
    assert segments.error is None
    last = max(d[0] for d in dates).date()  # a date as_of means the end of that day
    assert f"as of {last:%Y-%m-%d}" in segments.notes
    assert len(segments.value) == 61
    given = call("SEGMENT", [ids, dates, amounts, "2030-01-01"], fresh())
    assert given.value != segments.value  # recency is measured from the date given
    churn = call("CHURN", [ids, dates, amounts], fresh())
    assert churn.error is None and len(churn.value) == 61


def test_bad_order_rows_are_left_out_and_named():
    ids, dates, amounts = orders(40)
    dates[3] = ["someday"]
    result = call("SEGMENT", [ids, dates, amounts], fresh())
    assert result.error is None
    assert any(
        n.startswith("row 4, order_dates: 'someday', so the order was left out")
        for n in result.notes
    )


def test_a_refund_row_is_named_where_it_went():
    """A sheet of sales with a refund typed as a negative amount: the customer whose only
    row was a refund was missing from SEGMENT's answer, and an order a refund took back in
    full no longer counted, with no note (find56_marketer item 7)."""
    rows = [("A", "2026-01-05", 120), ("A", "2026-01-10", -120), ("A", "2026-03-01", 40),
            ("B", "2026-02-01", 60), ("B", "2026-04-01", 60), ("C", "2026-05-20", 30),
            ("D", "2025-06-01", 80), ("E", "2026-05-01", -25), ("B", "2026-04-20", -15)]  # fmt: skip
    args = [[[r[0]] for r in rows], [[r[1]] for r in rows], [[r[2]] for r in rows]]
    result = call("SEGMENT", [*args, "2026-06-01"], fresh())
    assert result.error is None
    answered = {row[0]: row for row in result.value[1:]}
    assert set(answered) == {"A", "B", "C", "D"}
    assert answered["A"][3:5] == [1, 40.0] and answered["B"][3:5] == [2, 105.0]
    assert result.notes[:4] == (
        "row 1: A's order of 2026-01-05 (120.00) was refunded in full, so it is not counted",
        "row 2, amounts: -120.00 is a refund, taken off A's earlier orders",
        "row 8, amounts: -25.00 is a refund with no earlier order of E to take it off, so it "
        "was left out",
        "row 9, amounts: -15.00 is a refund, taken off B's earlier orders",
    )


def _exact_prob_b_beats_a(ca: int, na: int, cb: int, nb: int) -> float:
    """Evan Miller's closed form for Beta(1,1) priors."""
    a_a, b_a, a_b, b_b = ca + 1, na - ca + 1, cb + 1, nb - cb + 1
    total = 0.0
    for i in range(a_b):
        total += np.exp(
            betaln(a_a + i, b_a + b_b) - np.log(b_b + i) - betaln(1 + i, b_b) - betaln(a_a, b_a)
        )
    return float(total)


@pytest.mark.parametrize(
    ("ca", "na", "cb", "nb"), [(120, 1000, 150, 1000), (10, 100, 10, 100), (3, 40, 9, 45)]
)
def test_ab_test_matches_the_closed_form(ca, na, cb, nb):
    result = ab_test(ca, na, cb, nb)
    assert result.prob_b_beats_a == pytest.approx(_exact_prob_b_beats_a(ca, na, cb, nb), abs=1e-4)
    assert result.lift_lo95 < result.lift < result.lift_hi95


def test_ab_test_visitors_needed_follows_the_power_formula():
    # 10% vs 12%: the textbook answer (two-sided 5%, 80% power) is 3,841 per group.
    result = ab_test(10, 100, 12, 100)
    assert result.visitors_needed_a == result.visitors_needed_b == pytest.approx(3841 - 100, abs=2)
    assert "Too early" in result.verdict and "3,741 more visitors per version" in result.verdict


def _enough_by_scipy(p_big: float, p_small: float, n_big: float, n_small: float) -> bool:
    """The power of the two-proportion z test (5% two-sided) at these sizes, pooled rate
    under no difference (Fleiss), reaches 80%: computed here from scipy's normal."""
    from scipy.stats import norm

    pooled = (n_big * p_big + n_small * p_small) / (n_big + n_small)
    null_se = np.sqrt(pooled * (1 - pooled) * (1 / n_big + 1 / n_small))
    se = np.sqrt(p_big * (1 - p_big) / n_big + p_small * (1 - p_small) / n_small)
    power = norm.cdf((abs(p_big - p_small) - norm.ppf(0.975) * null_se) / se)
    return bool(power >= 0.8)


@pytest.mark.parametrize(
    ("ca", "na", "cb", "nb", "short"),
    [(450, 9000, 62, 1000, "b"), (50, 1000, 600, 10000, "a"), (1000, 20000, 60, 1000, "b")],
)
def test_ab_test_with_unequal_versions_asks_each_version_for_its_own_visitors(
    ca, na, cb, nb, short
):
    """A 90/10 holdout (9,000 and 1,000) was asked "4,762 more visitors per version", where
    about 3,100 more on the small version alone reach the power, and a version already
    holding 10,000 was asked for 7,158 more (find56_marketer item 5)."""
    result = ab_test(ca, na, cb, nb)
    more = {"a": result.visitors_needed_a, "b": result.visitors_needed_b}
    has = "a" if short == "b" else "b"
    assert more[has] == 0 and more[short] > 0
    big, small = (na, nb) if short == "b" else (nb, na)
    p_big, p_small = (ca / na, cb / nb) if short == "b" else (cb / nb, ca / na)
    assert _enough_by_scipy(p_big, p_small, big, small + more[short])
    assert not _enough_by_scipy(p_big, p_small, big, small + more[short] - 1)
    words = f"about {more[short]:,.0f} more visitors needed on {short.upper()}"
    assert words in result.verdict and f"{has.upper()} has enough" in result.verdict
    cells = call("ABTEST", [ca, na, cb, nb], fresh()).value
    row = dict(zip(cells[0], cells[1], strict=True))
    assert (row["more visitors on A"], row["more visitors on B"]) == (more["a"], more["b"])


def test_ab_test_already_big_enough_for_its_split_is_called():
    """1,000 and 1,200 visitors reach the power for 10% against 6.7% as they stand: no
    version needs more, whatever an even split of that size would have asked."""
    result = ab_test(100, 1000, 80, 1200)
    assert result.visitors_needed_a == result.visitors_needed_b == 0
    assert result.verdict.startswith("A is better (")


def test_leadscore_of_reads_the_latest_synced_scores(tmp_path, business):
    store_path = tmp_path / "store.sqlite"
    with Store(store_path) as store:
        options = RunOptions(steps=steps_by_name(["lead_scores"]), as_of=business.as_of)
        run_pipeline(SampleSource(business), store, options)
        scores = store.latest_outputs("scores")
        contacts = store.read("contacts").set_index("contact_id")
    lead = scores[scores["model"] == "lead_score"].iloc[0]
    email = contacts.loc[lead["entity_id"], "email"]
    context = FunctionContext(store_path=store_path)
    by_email = call("LEADSCORE_OF", [email.upper()], context)
    by_id = call("LEADSCORE_OF", [lead["entity_id"]], context)
    assert by_email.error is None, by_email.error
    assert by_email.value == by_id.value
    assert by_email.value[1][0] == round(lead["value"])
    assert 0 <= by_email.value[1][0] <= 100
    assert by_email.value[1][1] == lead["label"]
    missing = call("LEADSCORE_OF", ["nobody@example.com"], context)
    assert missing.error == "LEADSCORE_OF: no scored contact with email or id 'nobody@example.com'"
    assert missing.code == "#N/A"  # a lookup without a match, as VLOOKUP's
    empty = call("LEADSCORE_OF", ["x@example.com"], FunctionContext(store_path=tmp_path / "none"))
    # which store was read, and how to name another (the demo's, a config's `store =`)
    assert empty.error.startswith("LEADSCORE_OF: no lead scores: run smbml run")
    assert "smbml serve --store PATH" in empty.error and "SMBML_STORE" in empty.error
    deep = tmp_path / ("a-folder-with-a-long-name-" * 8) / "none"  # the advice is never cut
    far = call("LEADSCORE_OF", ["x@example.com"], FunctionContext(store_path=deep))
    assert "SMBML_STORE" in far.error and far.error.startswith(empty.error[:60])
    assert empty.code == "#N/A"


def test_cell_helpers_name_blank_headers_and_check_lengths():
    frame = as_table([["Email", "", "Email"], ["a@x", 1, 2], [None, None, None]])
    assert list(frame.columns) == ["Email", "column 2", "Email (2)"]
    assert len(frame) == 1
    with pytest.raises(DataValidationError, match="differ in length"):
        paired_columns(a=[[1], [2], [3]], b=[[1], [2]])
    assert paired_columns(a=[[1], [2], [None]], b=[[1], [2], [""]]) == {"a": [1, 2], "b": [1, 2]}


def test_registry_declares_what_the_docs_need():
    assert set(REGISTRY) >= {
        "LEADSCORE",
        "LEADSCORE_OF",
        "SEGMENT",
        "CHURN",
        "FORECAST",
        "PRICE",
        "ABTEST",
    }
    for spec in REGISTRY.values():
        assert spec.help and spec.columns
        optional_seen = False
        for arg in spec.args:
            assert arg.help
            assert not (optional_seen and not arg.optional), (
                f"{spec.name}: optional before required"
            )
            optional_seen |= arg.optional
    assert functions.function("smb.forecast") is REGISTRY["FORECAST"]
    assert isinstance(pd.DataFrame(), pd.DataFrame)


def test_a_name_column_is_not_taken_for_the_outcome_and_bad_cells_name_their_row():
    table = leads_table(400, unknown=50)
    table[0].insert(0, "Customer name")
    for i, row in enumerate(table[1:], start=1):
        row.insert(0, f"Shop {i}")
    table[4][3] = "lots"  # Visits on the 5th row of the range (the header is row 1)
    result = call("LEADSCORE", [table], fresh())
    assert result.error is None, result.error
    assert "outcome column: 'Converted'" in result.notes[0]
    assert any("'Visits'" in n and "row 5" in n and "'lots'" in n for n in result.notes), (
        result.notes
    )


def test_price_refuses_a_zero_step_instead_of_using_the_default():
    prices = [[p] for p in [10, 10, 11, 11, 12, 12, 10, 11, 12, 10]]
    units = [[q] for q in [100, 98, 90, 91, 80, 82, 99, 92, 79, 101]]
    result = call("PRICE", [prices, units, None, 0], fresh())
    assert result.error == "PRICE: max_change must be above 0 and at most 0.5, got 0.0"
    assert result.code == "#VALUE!"


def test_notes_are_kept_for_the_task_pane():
    ids, dates, amounts = orders(40)
    dates[3] = ["someday"]
    context = fresh()
    call("SEGMENT", [ids, dates, amounts], context)
    assert (
        "SEGMENT: row 4, order_dates: 'someday', so the order was left out" in context.recent_notes
    )


def test_whole_columns_are_cut_to_the_rows_in_use_but_unequal_ranges_stay_unequal():
    dates, values = monthly(36)
    blank_rows = [[""] for _ in range(200_000)]
    whole = call("FORECAST", [dates + blank_rows, values + blank_rows, 3], fresh())
    assert whole.value == call("FORECAST", [dates, values, 3], fresh()).value
    short = call("FORECAST", [[*dates, [None]], values[:-1], 3], fresh())
    assert short.error == "FORECAST: the ranges differ in length (36 dates, 35 values)"


def test_headers_false_leaves_the_header_row_out_and_shares_the_cached_answer():
    dates, values = monthly(36)
    context = fresh()
    full = call("FORECAST", [dates, values, 3], context)
    bare = call("FORECAST", [dates, values, 3, None, None, False], context)
    assert bare.value == full.value[1:] and bare.header is False and bare.cached
    refused = call("ABTEST", [1, 10, 2, 10, "maybe"], context)
    assert (refused.code, refused.error) == (
        "#VALUE!",
        "ABTEST: headers must be TRUE or FALSE, got 'maybe'",
    )


def test_leadscore_all_rows_scores_the_rows_with_an_outcome_too():
    table = leads_table(400, unknown=50)
    default = call("LEADSCORE", [table], fresh())
    every = call("LEADSCORE", [table, None, True], fresh())
    assert sum(r[0] is None for r in default.value[1:]) == 350
    assert all(isinstance(r[0], float) for r in every.value[1:])
    assert [r[0] for r in every.value[-50:]] == [r[0] for r in default.value[-50:]]


def test_a_totals_row_under_a_lead_table_is_not_scored_as_a_lead():
    """A "Total" row at the bottom (counts summed, the outcome blank) was scored as a lead,
    with no note (the Excel helper found it)."""
    table = leads_table(400, unknown=50)
    plain = call("LEADSCORE", [table], fresh())
    width = len(table[0])
    total = ["Total", None, 12345, 999] + [None] * (width - 4)
    result = call("LEADSCORE", [[*table, total]], fresh())
    assert result.error is None, result.error
    assert len(result.value) == len(plain.value) + 1
    assert result.value[-1] == [None, "", "a totals row: not scored"]
    assert result.value[:-1] == plain.value  # the leads scored as without it
    assert f"row {len(table) + 1}: 'Total' is a totals row, not a lead: not scored" in result.notes


def test_leadscore_warns_when_the_first_row_looks_like_data():
    table = leads_table(400, unknown=50)
    without_header = table[1:]
    result = call("LEADSCORE", [without_header], fresh())
    assert result.error is None, result.error
    assert result.notes[0].startswith("the first row holds 'lead0@example.com', which looks like")
    assert not any("looks like data" in n for n in call("LEADSCORE", [table], fresh()).notes)


def test_as_of_today_is_todays_date_and_before_every_order_is_an_error():
    ids, dates, amounts = orders(30)
    today = call("SEGMENT", [ids, dates, amounts, "today"], fresh())
    assert f"as of {dt.date.today():%Y-%m-%d}" in today.notes
    early = call("SEGMENT", [ids, dates, amounts, "2001-01-01"], fresh())
    assert early.code == "#VALUE!"
    assert early.error.startswith("SEGMENT: as_of 2001-01-01 is before every order (the first is")
    middle = call("SEGMENT", [ids, dates, amounts, "2024-01-01"], fresh())
    assert any(n.endswith("orders after as_of 2024-01-01 left out") for n in middle.notes)


# Damaged ranges as people's sheets hold them (an outsider's stress test, issue 44).


def _engine_forecast(dates: list, values: list, horizon: int) -> list:
    from smbml_connect.analytics.forecast.engine import forecast_series

    out = forecast_series([d[0] for d in dates], [v[0] for v in values], horizon, levels=(80,))
    return out["yhat"].tolist()


@pytest.mark.parametrize(
    "written",
    [
        lambda x: f"€{x:,.2f}",
        lambda x: f"$ {x:,.2f}",
        lambda x: f"{x:,.2f} EUR",
        lambda x: f"{x:,.2f}".replace(",", " ").replace(".", ","),  # 1 234,50
    ],
)
def test_forecast_reads_numbers_stored_as_text_as_the_main_job_does(written):
    """'€212.00' was not a number to the forecast (#NUM! "got 0" dates with values), while
    SEGMENT read the same cells: one reader now, coerce's, which a run uses too."""
    dates, values = monthly(36)
    as_text = [[written(v[0])] for v in values]
    result = call("FORECAST", [dates, as_text, 3], fresh())
    assert result.error is None, result.error
    forecast = [row[1] for row in result.value[1:]]
    assert forecast == pytest.approx(_engine_forecast(dates, values, 3))


def test_forecast_text_dates_on_the_first_of_each_month_are_read_day_first():
    """01/02/2020, 01/03/2020 ... fit both orders; month-first made them scattered days of
    January to December and a daily forecast from 2022-01-13. The order that gives a
    regular timeline wins, and the note says so."""
    dates, values = monthly(36)
    for form in ("%d/%m/%Y", "%d.%m.%Y", "%d-%m-%Y"):
        as_text = [[d[0].strftime(form)] for d in dates]
        result = call("FORECAST", [as_text, values, 3], fresh())
        assert result.error is None
        assert result.value[1][0] == dt.date(2023, 1, 1), form
        assert result.value == call("FORECAST", [dates, values, 3], fresh()).value
        said = (  # dots are day first wherever they are written (stop 54)
            "were read day first (day.month.year)"
            if "." in form
            else "read as day/month, which makes a regular timeline"
        )
        assert any(said in n for n in result.notes), result.notes
    us = [[d[0].strftime("%m/%d/%Y")] for d in dates]  # 01/01, 02/01 ...: month-first is regular
    assert call("FORECAST", [us, values, 3], fresh()).value[1][0] == dt.date(2023, 1, 1)


def test_forecast_names_a_totals_row_with_a_blank_date_once():
    dates, values = monthly(36)
    total = sum(v[0] for v in values)
    result = call("FORECAST", [[*dates, [None]], [*values, [total]], 3], fresh())
    assert result.value == call("FORECAST", [dates, values, 3], fresh()).value
    gap = [*dates[:5], [None], *dates[5:]], [*values[:5], [None], *values[5:]]
    assert not any("row 6" in n for n in call("FORECAST", [*gap, 3], fresh()).notes)
    named = [n for n in result.notes if "row 37" in n]
    assert named == [f"1 row could not be read and was left out (row 37, date: blank (beside "
                     f"the value {total}))"]  # fmt: skip


def test_segment_names_orders_lost_to_a_blank_date_or_amount():
    """A totals row (no date) and an #N/A amount (xlwings passes None) dropped the order
    without a word."""
    ids, dates, amounts = orders(40)
    amounts[3] = [None]
    total = sum(a[0] for a in amounts if a[0] is not None)
    args = [[*ids, ["Total"]], [*dates, [None]], [*amounts, [total]]]
    for name in ("SEGMENT", "CHURN"):
        result = call(name, args, fresh())
        assert result.error is None
        assert "row 4, amounts: blank, so the order was left out" in result.notes
        assert f"row {len(ids) + 1}, order_dates: blank, so the order was left out" in result.notes
    blank_row = [[*ids[:5], [None], *ids[5:]], [*dates[:5], [None], *dates[5:]],
                 [*amounts[:5], [""], *amounts[5:]]]  # fmt: skip
    assert not any("row 6" in n for n in call("SEGMENT", blank_row, fresh()).notes)


PRICES = [[p] for p in [10, 10, 11, 11, 12, 12, 10, 11, 12, 10]]
UNITS = [[q] for q in [100, 98, 90, 91, 80, 82, 99, 92, 79, 101]]


def test_price_reads_prices_stored_as_text():
    """'€10.00' cells were an 'unexpected error' (an IndexError in the pricing code)."""
    as_text = [[f"€{p[0]:.2f}"] for p in PRICES]
    result = call("PRICE", [as_text, UNITS, 5], fresh())
    assert result.error is None, result.error
    plain = call("PRICE", [PRICES, UNITS, 5], fresh()).value
    assert result.value[1][:3] == plain[1][:3]
    assert result.value[1][3] == plain[1][3].replace("to 11", "to €11").replace("+37", "+€37")


@pytest.mark.parametrize(
    ("row", "price", "units", "note"),
    [
        (10, 10, -3, "row 10, quantities: -3 is below 0 (returns are not units sold at a price)"),
        (10, 0, 101, "row 10, prices: 0 is not a price above 0"),
        (4, 11, None, "row 4, quantities: blank"),
        (11, "Total", 912, "row 11, prices: 'Total' is not a number"),
    ],
)
def test_price_names_the_rows_it_cannot_use(row, price, units, note):
    """Such rows were dropped without a word; a dropped last row silently changed the
    current price the suggestion starts from."""
    prices, quantities = [*PRICES, [None]], [*UNITS, [None]]
    prices[row - 1], quantities[row - 1] = [price], [units]
    result = call("PRICE", [prices, quantities, 5], fresh())
    assert result.error is None
    assert f"{note}, so the row was left out" in result.notes


def test_price_writes_its_confidence_as_the_prices_tab_does_never_100_percent():
    """find57_pricing item 3: the confidence cell was a bare fraction, 1 (read as 100%,
    certainty) where the Prices tab writes "high (over 99%)", and 0.89 beside "medium (89%)";
    a kept price left it empty (#N/A in Office.js) where the tab says "keep". Both add-ins
    answer from `call`, so each shows these words."""
    from smbml_connect.analytics.pricing.suggest import suggest_price

    weeks = [[dt.datetime(2025, 1, 6) + dt.timedelta(weeks=i)] for i in range(20)]
    sure_units = [[u] for u in [100, 98, 101, 99, 102, 100, 97, 103, 99, 101]]
    sure_units += [[u] for u in [80, 82, 79, 81, 80, 78, 83, 80, 79, 81]]
    sure = call("PRICE", [[[10.0]] * 10 + [[11.0]] * 10, sure_units, 2, None, None, weeks], fresh())
    assert sure.value[1][2] == "high (over 99%)"
    prices = [10.0, 11.0] * 8
    units = [50, 40, 58, 45, 56, 41, 46, 36, 43, 49, 51, 44, 53, 46, 49, 47]
    columns = [[p] for p in prices], [[u] for u in units]
    assert suggest_price(prices, units)["confidence"] == pytest.approx(0.89, abs=0.005)
    assert call("PRICE", [*columns], fresh()).value[1][2] == "medium (89%)"
    kept = call("PRICE", [*columns, 4], fresh()).value[1]
    assert kept[0] == 11.0 and kept[2] == "keep"


def test_price_keeps_to_the_grid_its_prices_keep_to():
    """PRICE suggested 14.41 for a product always priced at .99, where the Prices tab
    (which reads the shop's grid) would say 14.99."""
    from smbml_connect.analytics.pricing.suggest import Guardrails, suggest_price

    prices = [[p] for p in [14.99, 15.99, 16.99, 14.99, 15.99, 16.99, 15.99, 14.99, 16.99, 15.99]]
    units = [[q] for q in [30, 26, 21, 31, 25, 22, 27, 29, 20, 26]]
    anywhere = suggest_price([p for [p] in prices], [q for [q] in units], 5, Guardrails())
    assert anywhere["suggested_price"] < 14.99  # off the grid without it
    result = call("PRICE", [prices, units, 5], fresh())
    assert result.error is None, result.error
    assert result.value[1][0] == 14.99, result.value
    assert "Lower to 14.99" in result.value[1][3]
    assert "suggested prices end in .99, as all 3 prices given do" in result.notes
    whole = call("PRICE", [PRICES, UNITS, 5], fresh())  # 10, 11, 12: by chance 1 in 8
    assert "suggested prices are multiples of 0.50, as all 3 prices given do" in whole.notes


def test_price_with_no_usable_row_says_why():
    result = call("PRICE", [[["€0"]] * 3, [[5]] * 3], fresh())
    assert result.code == "#VALUE!"
    assert result.error == (
        "PRICE: no row has a price above 0 and units sold (row 1, prices: 0 is not a price "
        "above 0, so the row was left out)"
    )


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("PRICE", [PRICES, UNITS, "5 EUR", "10%"]),
        ("FORECAST", [*monthly(24), "3", None, "80%"]),
    ],
)
def test_number_arguments_typed_as_text_read_like_cells(name, args):
    """'10%' and '5 EUR' were refused, and '12,5' was read as 125."""
    result = call(name, args, fresh())
    assert result.error is None, result.error
    plain = [a if not isinstance(a, str) else {"5 EUR": 5, "10%": 0.1, "3": 3, "80%": 0.8}[a]
             for a in args]  # fmt: skip
    assert result.value == call(name, plain, fresh()).value
    assert functions.function_impls.as_number("12,5", "unit_cost") == 12.5


def test_ab_test_calls_no_winner_before_the_visitors_it_needs():
    # 12% against 15% on 1,000 visitors each: 97.5% sure B is ahead, but a test sized for
    # that lift needs about 2,000 a version; stopped at the first 95%, a test checked daily
    # calls a winner that is not one far more often than 1 time in 20.
    early = ab_test(120, 1000, 150, 1000)
    assert early.prob_b_beats_a > 0.95 and early.visitors_needed_a > 0
    assert early.verdict.startswith("B leads (97.5% sure so far)")
    assert f"{early.visitors_needed_a:,.0f} more visitors per version" in early.verdict
    # the same rates on the visitors the plan asked for: now it is called
    done = ab_test(360, 3000, 450, 3000)
    assert done.visitors_needed_a == done.visitors_needed_b == 0
    assert done.verdict.startswith("B is better (") and "sure)" in done.verdict
    # A ahead reads the same way round, and the chance is written as its cell shows it
    behind = ab_test(150, 1000, 120, 1000)
    assert behind.verdict.startswith("A leads (97.5% sure so far)")


@pytest.mark.parametrize(
    ("ca", "na", "cb", "nb"), [(0, 10, 5, 10), (5, 10, 0, 10), (1, 10, 0, 10), (5, 100, 0, 100)]
)
def test_ab_test_lift_sits_inside_its_range_when_a_version_has_not_converted(ca, na, cb, nb):
    # the raw ratio said -100% beside a range of [-99.6%, -32.1%] (5 of 10 against 0 of 10)
    result = ab_test(ca, na, cb, nb)
    assert result.lift_lo95 <= result.lift <= result.lift_hi95
    assert result.lift > -1


def test_ab_test_with_no_conversions_anywhere_calls_no_winner():
    # 0 of 10 against 0 of 1,000 read "A is better (99% sure)", and its cells "chance B
    # beats A 98.9%, lift +8,401%" the other way round: the prior alone spoke
    assert ab_test(0, 10, 0, 1000).verdict == "No conversions yet on either version"
    cells = call("ABTEST", [0, 1000, 0, 10], FunctionContext())
    assert cells.error is None
    assert cells.value[1][:4] == [None, None, None, None]
    assert cells.value[1][6] == "No conversions yet on either version"


def _signed_up(table: list[list], start: dt.datetime, seed: int = 3) -> list[list]:
    """The leads table with a "Signed up" date column, as xlwings sends it (datetimes)."""
    rng = np.random.default_rng(seed)
    days = [int(d) for d in np.sort(rng.integers(0, 300, len(table) - 1))]
    return [table[0] + ["Signed up"]] + [
        [*row, start + dt.timedelta(days=d, hours=9 * (i % 2))]
        for i, (row, d) in enumerate(zip(table[1:], days, strict=True))
    ]


def _as_serials(table: list[list]) -> list[list]:
    """The same table as Office.js sends it: a date cell is its serial number."""
    epoch = dt.datetime(1899, 12, 30)
    return [table[0]] + [
        [(c - epoch) / dt.timedelta(days=1) if isinstance(c, dt.datetime) else c for c in row]
        for row in table[1:]
    ]


def test_leadscore_reads_a_date_column_the_same_from_either_add_in():
    """Office.js sends dates as serials: LEADSCORE read them as plain numbers, so 28 of 300
    scores differed from the xlwings add-in's and a reason said "Signed up: 45,342"."""
    table = _signed_up(leads_table(300, unknown=40), dt.datetime(2024, 1, 1))
    xlwings = call("LEADSCORE", [table], fresh())
    officejs = call("LEADSCORE", [_as_serials(table)], fresh())
    assert xlwings.error is None and officejs.error is None, (xlwings.error, officejs.error)
    assert officejs.value == xlwings.value
    assert "Signed up: Excel date numbers read as dates" in officejs.notes
    reasons = " ".join(r[2] for r in officejs.value[1:])
    assert "Signed up:" not in reasons
    # other ways people head a date column (a review found "First contact: 45,342")
    for header in ("First contact", "Added", "Lead since", "Customer since"):
        named = [[*table[0][:-1], header], *table[1:]]
        same = call("LEADSCORE", [_as_serials(named)], fresh())
        assert same.value == call("LEADSCORE", [named], fresh()).value, header
    # Genuine numbers stay numbers: a count whose header names a date, or numbers that
    # cannot be dates of this century.
    counted = [[*table[0][:-1], "Days since sign-up"]] + [
        [*row[:-1], 20_000 + i % 40] for i, row in enumerate(table[1:])
    ]
    small = [table[0]] + [[*row[:-1], float(i % 50)] for i, row in enumerate(table[1:])]
    for kept in (counted, small):
        result = call("LEADSCORE", [kept], fresh())
        assert not any("read as dates" in n for n in result.notes)


def test_an_empty_row_inside_a_lead_table_is_left_out_not_scored():
    """An empty row (a gap between two blocks of leads) was scored as a tier-C lead."""
    table = leads_table(200, unknown=30)
    plain = call("LEADSCORE", [table], fresh())
    for empty in ([None] * 6, [""] * 6):  # as xlwings and as Office.js send it
        gapped = [*table[:100], empty, *table[100:180], empty, *table[180:]]
        result = call("LEADSCORE", [gapped], fresh())
        assert result.error is None, result.error
        assert len(result.value) == len(gapped)
        assert result.value[100] == [None, "", ""]
        assert result.value[181] == [None, "", ""]
        kept = [row for i, row in enumerate(result.value) if i not in (100, 181)]
        assert kept == plain.value  # the leads scored as without the gaps
        assert "2 empty rows in the table left out, not scored (row 101, 182)" in result.notes


def test_leadscore_says_how_much_newer_a_lead_is_in_plain_words():
    """Leads newer than every row learnt from read "Signed up -5 days before the latest"."""
    base = leads_table(120, unknown=20)
    start = dt.date(2024, 1, 1)
    table = [base[0] + ["Signed up"]] + [
        [*row, start + dt.timedelta(days=i)] for i, row in enumerate(base[1:])
    ]
    result = call("LEADSCORE", [table, None, True], fresh())
    assert result.error is None, result.error
    words = [
        next(r for r in row[2].split("; ") if r.startswith("Signed up"))
        for row in result.value[1:]
        if "Signed up" in row[2]
    ]
    assert words, "the date column should give some reasons"
    assert not any(re.search(r"-\d", w) for w in words), words
    newest_learnt = 99  # rows 2..101 have an outcome: 2024-01-01 .. 2024-04-09
    for i, row in enumerate(result.value[1:]):
        said = next((r for r in row[2].split("; ") if r.startswith("Signed up")), None)
        if said is None:
            continue
        days = i - newest_learnt
        expected = (
            "Signed up on the same day as the newest date learnt from"
            if days == 0
            else f"Signed up {abs(days)} day{'s' if abs(days) != 1 else ''} "
            f"{'after' if days > 0 else 'before'} the newest date learnt from"
        )
        assert said.startswith(expected), (i, said)


def test_forecast_counts_the_dates_it_can_read_not_the_cells_filled():
    """7 months with their header, a totals row or a value beside a blank date were
    forecast; the same 7 months alone were refused."""
    dates, values = monthly(7)
    total = sum(v[0] for v in values)
    shapes = {
        "alone": (dates, values),
        "header": ([["Month"], *dates], [["Revenue"], *values]),
        "totals": ([*dates, ["Total"]], [*values, [total]]),
        "blank date": ([*dates, [None]], [*values, [999.0]]),
        "as Office.js": ([*dates, [""]], [*values, [999.0]]),
        "repeated month": ([*dates, dates[-1]], [*values, [5.0]]),
    }
    for name, (d, v) in shapes.items():
        result = call("FORECAST", [d, v, 3], fresh())
        assert result.code == "#VALUE!", name
        assert result.error.startswith("FORECAST: need at least 8 dates, got 7"), (
            name,
            result.error,
        )
    assert (
        "(1 row left out: dates: 'Month' (row 1) is not a date)"
        in call("FORECAST", [*shapes["header"], 3], fresh()).error
    )
    eight_dates, eight_values = monthly(8)
    with_header = call("FORECAST", [[["Month"], *eight_dates], [["Revenue"], *eight_values], 3], fresh())  # fmt: skip
    assert with_header.error is None, with_header.error
    assert with_header.value == call("FORECAST", [eight_dates, eight_values, 3], fresh()).value


def test_forecast_dates_it_cannot_read_are_named_with_their_row():
    """'Jan-20' (Excel's mmm-yy pasted as text) gave #NUM! 'need at least 4 dates with
    values, got 0': no row, no value, and a minimum that is not FORECAST's."""
    _, values = monthly(24)
    labels = [[dt.date(2020 + i // 12, i % 12 + 1, 1).strftime("%b-%y")] for i in range(24)]
    result = call("FORECAST", [labels, values, 3], fresh())
    assert (result.code, result.error) == (
        "#VALUE!",
        "FORECAST: dates: 'Jan-20' (row 1) is not a date; 23 more rows cannot be read either",
    )
    words = [["soon"], ["later"], *[[v[0]] for v in monthly(3)[0]]]
    assert (
        "got 3 (2 rows left out: dates: 'soon' (row 1)"
        in call("FORECAST", [words, values[:5], 3], fresh()).error
    )
    with pytest.raises(DataValidationError, match=r"row 1, date: 'Jan-20' is not a date; 23 more"):
        regularise([r[0] for r in labels], [v[0] for v in values])
    with pytest.raises(NotEnoughDataError, match="need at least 2 dates with values, got 1"):
        regularise(["2024-01-01", "Jan-20"], [5.0, 6.0])


def test_forecast_dates_never_wrap_past_2262():
    """300 years ahead of yearly data from 2000 ran past pandas' last date (2262-04-11)
    and the dates wrapped to 1678, within the documented 1,000 periods."""
    years = [[dt.datetime(2000 + i, 1, 1)] for i in range(20)]
    values = [[100.0 + i + (3 if i % 3 else 0)] for i in range(20)]
    refused = call("FORECAST", [years, values, 300], fresh())
    assert refused.code == "#VALUE!"
    assert refused.error == (
        "FORECAST: horizon 300 reaches past 2262-04-11, the last date a forecast can give; "
        "from this history at most 243 years ahead"
    )
    longest = call("FORECAST", [years, values, 243], fresh())
    dates = [row[0] for row in longest.value[1:]]
    assert dates[-1] == dt.date(2262, 1, 1)
    assert dates == sorted(set(dates))  # each year once, in order
    quarters = [[dt.datetime(2015 + i // 4, 1 + 3 * (i % 4), 1)] for i in range(20)]
    assert call("FORECAST", [quarters, values, 1000], fresh()).code == "#VALUE!"
    panel = pd.DataFrame(
        {"unique_id": "shop", "ds": [y[0] for y in years], "y": [v[0] for v in values]}
    )
    with pytest.raises(DataValidationError, match="reaches past 2262-04-11"):
        forecast_panel(panel, 300, levels=(80,))
    assert forecast_panel(panel, 243, levels=(80,))["ds"].is_monotonic_increasing


@pytest.mark.parametrize("freq, count", [("MS", 24), ("W-MON", 110), ("QS", 30), ("YS", 16)])
def test_forecast_shows_the_same_periods_whatever_the_horizon(freq, count):
    """Chosen on backtests of the horizon asked, =FORECAST(d, v, 3) and =FORECAST(d, v, 12)
    on one history showed different first periods (24 months: January 249.97 [226.3,
    273.7] against 249.72 [224.6, 274.9]); each period both show is now the same."""
    rng = np.random.default_rng(5)
    days = pd.date_range("2019-01-07", periods=count, freq=freq)
    dates = [[day.to_pydatetime()] for day in days]
    season = {"MS": 12, "W-MON": 52, "QS": 4, "YS": 1}[freq]
    values = [
        [round(200 + 3 * i + 25 * math.sin(2 * math.pi * i / season) + rng.normal(0, 9), 2)]
        for i in range(count)
    ]
    answers = [
        call("FORECAST", [dates, values, h, None, 95], fresh()).value for h in (1, 3, 12, 30)
    ]
    longest = answers[-1]
    for answer in answers[:-1]:
        assert answer == longest[: len(answer)]


def test_abtest_where_a_converts_above_half_and_b_below_gives_a_chance():
    """The complement turn for rates near 1 turned A above a half and B below back and
    forth without end: ABTEST(60, 100, 40, 100) was "unexpected error" (a RecursionError
    in the log). The two chances of one test add up to 1 whichever way round."""
    from smbml_connect.analytics.experiments.abtest import ab_test

    ahead, behind = ab_test(60, 100, 40, 100), ab_test(40, 100, 60, 100)
    assert 0 < ahead.prob_b_beats_a < 0.01 < 0.99 < behind.prob_b_beats_a < 1
    assert ahead.prob_b_beats_a + behind.prob_b_beats_a == pytest.approx(1, abs=1e-6)
    result = call("ABTEST", [60, 100, 40, 100], fresh())
    assert result.error is None, result.error
