"""The Office.js route: `smbml serve` over real HTTPS, functions.js under node, metadata.

The function API is checked with real requests (bad input, wrong code, other origins,
large ranges, concurrent calls); functions.js runs under `node --test` with Microsoft's
office-addin-mock against the same running server; functions.json and the manifest
are checked offline, the first against Microsoft's custom-functions-metadata.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import orjson
import pytest
import requests
from excel_helpers import leads_table, monthly, orders

from smbml_connect.credentials import Secret
from smbml_connect.excel_addin import officejs
from smbml_connect.excel_addin import serve as serve_module
from smbml_connect.excel_addin.local_cert import ensure_certificate
from smbml_connect.excel_addin.serve import PAIRING_HEADER, ServerThread, ServeSettings
from smbml_connect.functions import REGISTRY, FunctionContext, call

ADDIN = Path(__file__).resolve().parents[1] / "excel_addin"  # the npm test tools
WEB = officejs.WEB_ROOT
CODE = "test-pairing-code-4f9a"
PORT = 18765 + os.getpid() % 1000  # xdist workers each get their own port


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    certs = ensure_certificate(tmp_path_factory.mktemp("certs"))
    settings = ServeSettings(secret=Secret(CODE), port=PORT, context=FunctionContext())
    with ServerThread(settings, certs) as running:
        session = requests.Session()
        session.verify = str(certs.ca)
        session.trust_env = False  # REQUESTS_CA_BUNDLE would override verify
        yield {"base": f"https://localhost:{PORT}", "session": session, "certs": certs,
               "settings": settings, "thread": running}  # fmt: skip


def post(server, calls, headers=None, **kwargs):
    headers = {PAIRING_HEADER: CODE, **(headers or {})}
    return server["session"].post(
        server["base"] + "/api/call", json={"calls": calls}, headers=headers, **kwargs
    )


def test_binds_to_this_machine_only(server):
    sockets = server["thread"].server.servers[0].sockets
    assert {s.getsockname()[0] for s in sockets} == {"127.0.0.1"}


def test_health_is_open_but_everything_else_needs_the_code(server):
    s, base = server["session"], server["base"]
    assert s.get(base + "/api/health").json()["ok"] is True
    for path in ("/api/status", "/api/functions"):
        assert s.get(base + path).status_code == 401
        assert s.get(base + path, headers={PAIRING_HEADER: "wrong"}).status_code == 401
        assert s.get(base + path, headers={PAIRING_HEADER: CODE}).status_code == 200
    refused = post(server, [{"name": "ABTEST", "args": [1, 2, 1, 2]}], {PAIRING_HEADER: "x"})
    assert refused.status_code == 401
    assert "pairing code" in refused.json()["error"]


def test_other_origins_and_hosts_are_refused(server):
    s, base = server["session"], server["base"]
    evil = post(
        server, [{"name": "ABTEST", "args": [1, 2, 1, 2]}], {"Origin": "https://evil.example"}
    )
    assert evil.status_code == 403
    assert "access-control-allow-origin" not in {k.lower() for k in evil.headers}
    own = post(server, [{"name": "ABTEST", "args": [1, 2, 1, 2]}], {"Origin": base})
    assert own.status_code == 200
    assert own.headers["access-control-allow-origin"] == base
    preflight = s.options(base + "/api/call", headers={"Origin": base,
                          "Access-Control-Request-Method": "POST"})  # fmt: skip
    assert preflight.status_code == 204
    assert PAIRING_HEADER in preflight.headers["access-control-allow-headers"]
    assert "access-control-allow-private-network" not in preflight.headers
    private = s.options(base + "/api/call", headers={"Origin": base,
                        "Access-Control-Request-Method": "POST",
                        "Access-Control-Request-Private-Network": "true"})  # fmt: skip
    assert private.headers["access-control-allow-private-network"] == "true"
    rebound = s.get(base + "/api/health", headers={"Host": f"attacker.example:{PORT}"})
    assert rebound.status_code == 421


def test_bad_requests_get_clear_errors(server, monkeypatch):
    s, base = server["session"], server["base"]
    headers = {PAIRING_HEADER: CODE, "Content-Type": "application/json"}
    assert s.post(base + "/api/call", data="{not json", headers=headers).json() == {
        "error": "the body is not JSON"
    }
    assert s.post(base + "/api/call", json={"calls": 3}, headers=headers).status_code == 400
    bad_item = s.post(base + "/api/call", json={"calls": [{"args": []}]}, headers=headers)
    assert bad_item.json()["error"] == "call 0 needs a name (text) and args (a list)"
    mixed = post(server, [{"name": "FORECAST", "args": [*series(5), 3]},
                          {"name": "ABTEST", "args": [1, 10, 2, 10]}]).json()["results"]  # fmt: skip
    assert mixed[0] == {"error": "FORECAST: need at least 8 dates, got 5", "code": "#VALUE!"}
    assert mixed[1]["value"][0][0] == "chance B beats A"
    monkeypatch.setattr(serve_module, "MAX_BODY_BYTES", 1000)
    big = post(server, [{"name": "FORECAST", "args": [*series(200), 3]}])
    assert big.status_code == 413
    assert big.json()["max_bytes"] == 1000  # the add-in packs its calls again under it


def hourly(n):
    """An hourly timeline as Excel serials and readings with a daily rhythm."""
    timeline = [[45292 + i / 24] for i in range(n)]
    values = [[round(100 + (i % 24) * 3.7 + (i * 7919 % 13) * 0.61, 2)] for i in range(n)]
    return timeline, values


def as_serials(rows):
    return [[(v - serve_module.EXCEL_EPOCH) / dt.timedelta(days=1) for v in row] for row in rows]


def filled_down_calls():
    """One sheet's recalculation: cells filled down or across over the same ranges (an hourly
    FORECAST.ETS per target hour, two products' FORECAST over one date column, SEGMENT and
    CHURN of one shop's orders as of several days), each with its ranges inline."""
    timeline, values = hourly(240)
    last = timeline[-1][0]
    calls = [
        {"name": "FORECAST.ETS", "args": [[[last + k / 24]], values, timeline, None, None, None]}
        for k in range(1, 7)
    ]
    calls.append({"name": "FORECAST.ETS.CONFINT", "args": [[[last + 1 / 24]], values, timeline]})
    calls.append({"name": "FORECAST.ETS.SEASONALITY", "args": [values, timeline]})
    dates, first = monthly(30)
    second = [[round(v[0] * 0.4 + 17 * (i % 5), 2)] for i, v in enumerate(first)]
    for product in (first, second):
        calls.append({"name": "FORECAST", "args": [dates_as_text(dates), product, 4]})
    ids, when, amounts = orders(customers=40, seed=5)
    for as_of in ("2024-12-31", "2025-03-31", "2025-06-30"):
        calls.append({"name": "SEGMENT", "args": [ids, as_serials(when), amounts, as_of, False]})
    calls.append({"name": "CHURN", "args": [ids, as_serials(when), amounts, "2025-06-30"]})
    calls.append({"name": "ABTEST", "args": [40, 1000, 60, 1000]})
    return calls


def shared(calls):
    """The calls as the add-in sends them: each distinct range once, named where used."""
    ranges: dict[str, list] = {}
    ids: dict[bytes, str] = {}
    sent = []
    for entry in calls:
        args, refs = [], {}
        for position, arg in enumerate(entry["args"]):
            if isinstance(arg, list) and len(arg) > 1:
                key = ids.setdefault(orjson.dumps(arg), str(len(ids)))
                ranges[key] = arg
                args.append(None)
                refs[str(position)] = int(key)
            else:
                args.append(arg)
        sent.append({"name": entry["name"], "args": args, "refs": refs})
    return {"ranges": ranges, "calls": sent}


def test_calls_that_share_ranges_answer_as_each_call_with_its_own(server):
    """/api/batch puts each shared range back in every call that names it: every answer
    is what the same call computes alone (a fresh cache, in this process) and what the
    server answers with the ranges inline (/api/call, the form older add-ins send)."""
    calls = filled_down_calls()
    body = shared(calls)
    assert len(body["ranges"]) == 8  # the hourly two, FORECAST's three, the orders' three
    response = server["session"].post(
        server["base"] + "/api/batch", data=orjson.dumps(body),
        headers={PAIRING_HEADER: CODE, "Content-Type": "application/json"}, timeout=120,
    )  # fmt: skip
    assert response.status_code == 200, response.text
    answers = response.json()["results"]
    fresh = FunctionContext()
    alone = [
        json.loads(
            orjson.dumps(serve_module._answer(call(c["name"], c["args"], fresh)), default=str)
        )
        for c in calls
    ]
    inline = post(server, calls, timeout=120).json()["results"]
    for answer, one, old in zip(answers, alone, inline, strict=True):
        assert "error" not in answer, answer
        assert {**answer, "cached": None} == {**one, "cached": None}
        assert {**answer, "cached": None} == {**old, "cached": None}
    assert len({a["value"][0][0] for a in answers[:6]}) == 6  # each target hour its own
    assert len(orjson.dumps(body)) < len(orjson.dumps({"calls": calls})) / 4


def test_a_request_naming_a_range_it_does_not_hold_is_refused(server):
    timeline, values = hourly(30)
    target = [[timeline[-1][0] + 1 / 24]]
    s, url = server["session"], server["base"] + "/api/batch"
    headers = {PAIRING_HEADER: CODE, "Content-Type": "application/json"}

    def sent(ranges, refs, args=None):
        etc = {"name": "FORECAST.ETS", "args": args or [target, None, None], "refs": refs}
        return s.post(url, data=orjson.dumps({"ranges": ranges, "calls": [etc]}), headers=headers)

    held = {"0": values, "1": timeline}
    assert sent(held, {"1": 0, "2": 1}).status_code == 200
    missing = sent({"0": values}, {"1": 0, "2": 1})
    assert missing.status_code == 400
    assert missing.json()["error"] == "call 0 refers to range 1, which the request does not hold"
    given = sent(held, {"0": 0, "1": 0, "2": 1})  # position 0 holds the target
    assert given.json()["error"] == "call 0: refs names argument '0', which is not a null argument"
    beyond = sent(held, {"1": 0, "2": 1, "3": 1})
    assert beyond.json()["error"] == "call 0: refs names argument '3', which is not a null argument"
    assert (
        sent(held, [1, 0]).json()["error"]
        == "call 0: refs must map argument positions to range ids"
    )
    assert sent([values], {}).json()["error"] == "ranges must map ids to ranges (lists)"
    # Digits that are not 0-9: "²" was a 500 and a traceback (str.isdigit is True for it,
    # int() refuses it), "١" (Arabic-Indic one) stood for position 1.
    for position in ("²", "١", "1 ", "-1"):
        odd = sent(held, {position: 0, "2": 1})
        assert odd.status_code == 400, position
        assert odd.json()["error"] == (
            f"call 0: refs names argument {position!r}, which is not a null argument"
        )


def test_one_bad_call_is_one_error_cell_not_a_failed_batch(server):
    nested: list = [1]
    for _ in range(253):
        nested = [nested]
    dates, values = series(24)
    results = post(server, [
        {"name": "FORECAST", "args": [dates, values, 100_000]},
        {"name": "ABTEST", "args": [nested, 10, 1, 10]},
        {"name": "ABTEST", "args": [1, 10, 2, 10]},
    ]).json()["results"]  # fmt: skip
    assert results[0] == {
        "error": "FORECAST: horizon can be at most 1000 periods, got 100000",
        "code": "#VALUE!",
    }
    assert results[1]["code"] == "#VALUE!" and "nested lists" in results[1]["error"]
    assert results[2]["value"][0][0] == "chance B beats A"


def test_dates_go_out_as_excel_serials(server):
    dates, values = monthly(36)
    result = post(server, [{"name": "FORECAST", "args": [dates_as_text(dates), values, 2]}])
    answer = result.json()["results"][0]
    rows = answer["value"]
    assert rows[1][0] == 44927.0  # 2023-01-01
    assert rows[2][0] == 44958.0  # 2023-02-01
    assert answer["formats"] == ["yyyy-mm-dd", None, None, None]  # shown as dates
    assert answer["header"] is True


def dates_as_text(dates):
    return [[d[0].strftime("%Y-%m-%d")] for d in dates]


def series(n):
    dates, values = monthly(n)
    return dates_as_text(dates), values


def test_large_ranges_and_the_cache(server):
    table = leads_table(10_000, unknown=2_000)
    first = post(server, [{"name": "LEADSCORE", "args": [table]}], timeout=120).json()
    result = first["results"][0]
    assert len(result["value"]) == 10_001 and not result["cached"]
    again = post(server, [{"name": "LEADSCORE", "args": [table]}], timeout=120).json()
    assert again["results"][0]["cached"] and again["results"][0]["value"] == result["value"]
    padded = monthly(60)[1] + [[""]] * 100_000  # a whole-column reference
    dates = dates_as_text(monthly(60)[0]) + [[""]] * 100_000
    whole = post(server, [{"name": "FORECAST", "args": [dates, padded, 3]}], timeout=60).json()
    assert len(whole["results"][0]["value"]) == 4


def test_concurrent_calls_each_get_their_own_answer(server):
    def one(i):
        return post(server, [{"name": "ABTEST", "args": [i, 100, 10, 100]}]).json()["results"][0]

    with ThreadPoolExecutor(12) as pool:
        answers = list(pool.map(one, range(24)))
    for i, answer in enumerate(answers):
        assert answer["value"][1][0] == pytest.approx(
            post(server, [{"name": "ABTEST", "args": [i, 100, 10, 100]}]).json()["results"][0][
                "value"
            ][1][0]
        )
    # the same recalculation from two workbooks at once is computed once
    context = server["settings"].context
    before = context.cache.stats.misses
    dates, values = monthly(40)
    calls = [{"name": "FORECAST", "args": [dates_as_text(dates), values, 5]}]
    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(lambda _: post(server, calls).json(), range(6)))
    assert len({json.dumps(r["results"][0]["value"]) for r in results}) == 1
    assert context.cache.stats.misses == before + 1


def test_status_shows_what_the_latest_calls_left_out(server):
    dates, values = series(30)
    dates[2] = ["not a date"]
    post(server, [{"name": "FORECAST", "args": [dates, values, 3]}])
    status = server["session"].get(server["base"] + "/api/status",
                                   headers={PAIRING_HEADER: CODE}).json()  # fmt: skip
    named = [n for n in status["notes"] if "row 3, date: 'not a date'" in n]
    assert len(named) == 1 and named[0].startswith("FORECAST: "), status  # once, not twice


def test_the_pairing_code_never_reaches_the_log(server, caplog):
    caplog.set_level(logging.DEBUG)
    post(server, [{"name": "ABTEST", "args": [1, 10, 2, 10]}])
    post(server, [{"name": "ABTEST", "args": [1, 10, 2, 10]}], {"Origin": "https://evil.example"})
    assert CODE not in caplog.text


def test_add_in_files_are_served(server):
    s, base = server["session"], server["base"]
    assert s.get(base + "/functions.json").json() == officejs.functions_metadata()
    assert s.get(base + "/taskpane.html").status_code == 200
    manifest = s.get(base + "/manifest.xml").text
    assert f"https://localhost:{PORT}/functions.js" in manifest


# -- offline checks of the generated files ------------------------------------------------


def test_generated_files_are_up_to_date():
    assert (WEB / "functions.json").read_text() == json.dumps(
        officejs.functions_metadata(), indent=4
    ) + "\n", "run: python -m smbml_connect.excel_addin.officejs"
    assert (WEB / "functions.js").read_text() == officejs.functions_js()
    assert (WEB / "manifest.xml").read_text() == officejs.manifest_xml()


def test_functions_json_lists_every_function_with_stable_ids():
    metadata = json.loads((WEB / "functions.json").read_text())
    ids = [f["id"] for f in metadata["functions"]]
    assert ids == list(REGISTRY)  # ids are the registry names: they never change
    for entry in metadata["functions"]:
        spec = REGISTRY[entry["id"]]
        assert entry["name"] == spec.name and entry["id"].isupper()
        assert [p["name"] for p in entry["parameters"]] == [a.name for a in spec.args]
        assert [p.get("optional", False) for p in entry["parameters"]] == [
            a.optional for a in spec.args
        ]
        # Typed `number`, Excel would read typed text itself ("1.000" visitors as 1 in
        # en-US, "5 EUR" a bare #VALUE!) before the server's readers could.
        typed = {p["name"]: p["type"] for p in entry["parameters"]}
        assert "number" not in typed.values(), (entry["id"], typed)


def test_manifest_is_well_formed_and_points_at_this_machine():
    ns = {"o": "http://schemas.microsoft.com/office/appforoffice/1.1",
          "bt": "http://schemas.microsoft.com/office/officeappbasictypes/1.0",
          "ov": "http://schemas.microsoft.com/office/taskpaneappversionoverrides"}  # fmt: skip
    root = ET.fromstring((WEB / "manifest.xml").read_text())
    assert root.find("o:Id", ns).text == officejs.ADDIN_ID
    strings = {e.get("id"): e.get("DefaultValue") for e in root.iter(f"{{{ns['bt']}}}String")}
    assert strings["Functions.Namespace"] == "SMB"
    urls = {e.get("id"): e.get("DefaultValue") for e in root.iter(f"{{{ns['bt']}}}Url")}
    assert urls["Functions.Metadata.Url"] == "https://localhost:8765/functions.json"
    resids = {e.get("resid") for e in root.iter() if e.get("resid")}
    defined = set(urls) | set(strings) | {e.get("id") for e in root.iter(f"{{{ns['bt']}}}Image")}
    assert resids <= defined, resids - defined
    for value in [*urls.values(), root.find("o:IconUrl", ns).get("DefaultValue")]:
        assert value.startswith("https://localhost:8765/")
        assert (WEB / value.removeprefix("https://localhost:8765/")).exists(), value
    for resid in resids:
        assert len(resid) <= 32  # the manifest schema's limit


def _node_tools() -> Path:
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node and npm are not installed")
    modules = ADDIN / "node_modules"
    if not (modules / "custom-functions-metadata").exists():
        pytest.fail("the add-in's npm tools are missing: python3 quickstart.py test installs them")
    return modules


def test_microsofts_metadata_tool_agrees_with_functions_json(tmp_path):
    modules = _node_tools()
    out = tmp_path / "functions.json"
    subprocess.run(
        ["node", str(modules / "custom-functions-metadata" / "cli.js"), "generate",
         str(WEB / "functions.js"), str(out)],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    assert json.loads(out.read_text()) == json.loads((WEB / "functions.json").read_text())


def test_functions_js_under_node_against_the_server(server):
    _node_tools()
    env = {**os.environ, "SMBML_URL": server["base"], "SMBML_CODE": CODE,
           "NODE_EXTRA_CA_CERTS": str(server["certs"].ca)}  # fmt: skip
    done = subprocess.run(
        ["node", "--test", "test/"], cwd=ADDIN, env=env, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "# fail 0" in done.stdout and "# skipped 0" in done.stdout
    assert "# pass 24" in done.stdout


def test_the_add_in_packs_its_requests_under_the_servers_cap():
    """client.js splits a recalculation by size at the cap the server reads up to."""
    _node_tools()
    done = subprocess.run(
        ["node", "-e", f"console.log(require({json.dumps(str(WEB / 'client.js'))}).SMB_MAX_BYTES)"],
        check=True, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert int(done.stdout) == serve_module.MAX_BODY_BYTES


def test_a_renewed_authority_reissues_the_server_certificate(tmp_path):
    first = ensure_certificate(tmp_path)
    old_cert = first.cert.read_bytes()
    assert ensure_certificate(tmp_path).cert.read_bytes() == old_cert  # kept while valid
    first.ca.unlink()  # the authority is made again: same name, new key
    second = ensure_certificate(tmp_path)
    assert second.cert.read_bytes() != old_cert
    from cryptography import x509

    cert = x509.load_pem_x509_certificate(second.cert.read_bytes())
    cert.verify_directly_issued_by(x509.load_pem_x509_certificate(second.ca.read_bytes()))


def test_the_local_authority_can_vouch_for_this_machine_only(tmp_path):
    from cryptography import x509

    from smbml_connect.excel_addin.local_cert import CA_DAYS

    files = ensure_certificate(tmp_path)
    ca = x509.load_pem_x509_certificate(files.ca.read_bytes())
    constraints = ca.extensions.get_extension_for_class(x509.NameConstraints)
    assert constraints.critical
    permitted = {str(n.value) for n in constraints.value.permitted_subtrees}
    assert permitted == {"localhost", "127.0.0.1/32", "::1/128"}
    assert ca.not_valid_after_utc - ca.not_valid_before_utc <= dt.timedelta(days=731)
    assert CA_DAYS <= 731
    for key in (tmp_path / "ca-key.pem", files.key):
        assert key.stat().st_mode & 0o777 == 0o600  # readable by the user alone
    server = x509.load_pem_x509_certificate(files.cert.read_bytes())
    names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {str(n.value) for n in names} == {"localhost", "127.0.0.1", "::1"}


def test_an_authority_made_under_the_old_rules_is_replaced(tmp_path):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "smbml_connect local CA")])
    now = dt.datetime.now(dt.UTC)
    old = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(1)
        .not_valid_before(now).not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    (tmp_path / "ca.pem").write_bytes(old.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "ca-key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    files = ensure_certificate(tmp_path)
    ca = x509.load_pem_x509_certificate(files.ca.read_bytes())
    assert ca.serial_number != 1
    ca.extensions.get_extension_for_class(x509.NameConstraints)


def test_a_server_warms_the_forecast_up_when_it_starts(monkeypatch):
    """The first monthly forecast would otherwise import CES's library (about 0.4 s)."""
    import threading

    ran = threading.Event()
    monkeypatch.setattr(serve_module, "warm_up", ran.set)
    serve_module.create_app(
        ServeSettings(secret=Secret(CODE), port=PORT, context=FunctionContext())
    )
    assert ran.wait(10)


def test_a_chunked_body_is_refused_at_the_cap_not_read_to_its_end(monkeypatch):
    """A body sent in chunks says no size up front: reading stops at the cap."""
    import asyncio

    monkeypatch.setattr(serve_module, "MAX_BODY_BYTES", 10_000)
    settings = ServeSettings(secret=Secret(CODE), port=PORT, context=FunctionContext())
    app = serve_module.create_app(settings)
    read, sent = [0], []

    async def receive():
        read[0] += 1
        if read[0] > 1000:  # a server that reads on gives up here, 1 MB in
            return {"type": "http.disconnect"}
        return {"type": "http.request", "body": b"x" * 1000, "more_body": True}

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http", "method": "POST", "path": "/api/call", "raw_path": b"/api/call",
        "query_string": b"", "scheme": "https", "server": ("127.0.0.1", PORT),
        "headers": [(b"host", f"localhost:{PORT}".encode()), (PAIRING_HEADER.lower().encode(),
                    CODE.encode()), (b"transfer-encoding", b"chunked")],
    }  # fmt: skip
    try:
        asyncio.run(asyncio.wait_for(app(scope, receive, send), timeout=10))
    finally:
        app.close()
    assert sent[0]["status"] == 413
    assert read[0] == 11  # 11,000 bytes read: over the cap, and no further
