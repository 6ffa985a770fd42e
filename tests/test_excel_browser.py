"""The Office.js add-in's real request path, in headless Chromium with CORS enforced.

The add-in declares a shared runtime, so Excel loads its functions in the task pane's
page, served by `smbml serve`: the page here is a copy of the add-in's web folder plus
one harness page that stands in for what Excel provides (CustomFunctions, OfficeRuntime
storage), loads client.js and functions.js as taskpane.html does, calls the functions
and writes what they returned into the page. A second page, served from another
origin, calls the same server and must be refused by the browser. Office.js itself
comes from Microsoft's CDN, which this machine cannot reach; nothing here needs it.
"""

from __future__ import annotations

import base64
import hashlib
import http.server
import json
import os
import re
import shutil
import subprocess
import threading
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from smbml_connect.credentials import Secret
from smbml_connect.excel_addin import officejs
from smbml_connect.excel_addin import serve as serve_module
from smbml_connect.excel_addin.local_cert import ensure_certificate
from smbml_connect.excel_addin.serve import ServerThread, ServeSettings
from smbml_connect.functions import FunctionContext

CHROMIUM = Path("/usr/bin/chromium")
CODE = "browser-pairing-code-7c1d"
PORT = 19765 + os.getpid() % 1000

STUBS = """
<script>
  // What Excel provides in the shared runtime, minus the workbook itself.
  // Excel shows a custom function's message with #VALUE! and #N/A only.
  class FakeError { constructor(code, message) {
    this.code = code; this.message = ["#VALUE!", "#N/A"].includes(code) ? message : undefined;
  } }
  window.CustomFunctions = {
    Error: FakeError,
    ErrorCode: { invalidValue: "#VALUE!", notAvailable: "#N/A", invalidNumber: "#NUM!",
                 invalidName: "#NAME?", divisionByZero: "#DIV/0!",
                 invalidReference: "#REF!", nullReference: "#NULL!" },
    associated: {},
    associate(id, fn) { this.associated[id] = fn; },
  };
  window.OfficeRuntime = { storage: {
    async getItem(key) { return localStorage.getItem(key); },
    async setItem(key, value) { localStorage.setItem(key, value); },
  } };
  localStorage.setItem("smbml-pairing-code", "%CODE%");
</script>
"""

HARNESS = """<!DOCTYPE html><html><head><meta charset="UTF-8"><title>running</title>%STUBS%
<script src="client.js"></script><script src="functions.js"></script></head>
<body><pre id="out"></pre><script>
async function settle(promise) {
  try { return { value: await promise }; }
  catch (e) { return { error: { code: e.code, message: e.message, fake: e instanceof FakeError } }; }
}
(async () => {
  const f = CustomFunctions.associated;
  const dates = [], values = [];
  for (let i = 0; i < 36; i++) {
    dates.push([Date.UTC(2021, i, 1) / 86400000 + 25569]);
    values.push([200 + 3 * i + 40 * Math.sin(2 * Math.PI * i / 12)]);
  }
  const out = {
    forecast: await settle(f.FORECAST(dates, values, 3, null, null)),
    short: await settle(f.FORECAST(dates.slice(0, 5), values.slice(0, 5), 3)),
    abtest: await settle(f.ABTEST(120, 1000, 150, 1000)),
  };
  localStorage.setItem("smbml-pairing-code", "wrong-code");
  out.unpaired = await settle(f.ABTEST(1, 10, 2, 10));
  document.getElementById("out").textContent = JSON.stringify(out);
  document.title = "done";
})();
</script></body></html>"""

# One recalculation of a workbook with a sheet per region: SEGMENT on each region's
# orders, an A/B test, and SEGMENT on the whole company's orders. The test lowers the
# server's body cap to 1 MB, so the regions together pass it and the company alone does.
# The page counts the requests and their sizes as the browser sends them.
SIZES = """<!DOCTYPE html><html><head><meta charset="UTF-8"><title>running</title>%STUBS%
<script src="client.js"></script><script src="functions.js"></script></head>
<body><pre id="out"></pre><script>
const sent = [];
const realFetch = window.fetch;
window.fetch = async (url, init) => {
  const response = await realFetch(url, init);
  if (String(url).endsWith("/api/batch")) sent.push([init.body.byteLength, response.status]);
  return response;
};
async function settle(promise) {
  try { return { value: await promise }; }
  catch (e) { return { error: { code: e.code, message: e.message } }; }
}
let seed = 7;
function random() {  // mulberry32: the same shop every run
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
function orders(n, customers, prefix) {
  const ids = [], dates = [], amounts = [];
  for (let i = 0; i < n; i++) {
    const who = Math.floor(customers * random() ** 1.6);  // a few regulars buy most
    ids.push([prefix + String(who).padStart(4, "0")]);
    dates.push([45292 + Math.floor(700 * random())]);  // 2024-01-01 on, Excel serials
    amounts.push([Math.round(100 * (8 + 90 * random() ** 2)) / 100]);
  }
  return [ids, dates, amounts];
}
async function recalculate(f, regions, company) {
  const cells = regions.map((r) => settle(f.SEGMENT(...r, "2025-12-31")));
  cells.push(settle(f.ABTEST(40, 1000, 60, 1000)));
  cells.push(settle(f.SEGMENT(...company, "2025-12-31")));
  return Promise.all(cells);
}
(async () => {
  const f = CustomFunctions.associated;
  const regions = ["N", "S", "E", "W", "C", "X", "Y", "Z"].map((p) => orders(6000, 400, p));
  const company = orders(60000, 2400, "K");
  const first = await recalculate(f, regions, company);
  const firstSent = sent.splice(0);
  const again = await recalculate(f, regions, company);
  document.getElementById("out").textContent = JSON.stringify(
    { first, firstSent, again, againSent: sent });
  document.title = "done";
})();
</script></body></html>"""

# A sheet whose formulas are filled down over the same ranges: FORECAST.ETS and its
# CONFINT per target hour over one hourly history, and FORECAST per product over one date
# column. The page first sends each call alone with its ranges inline, as add-ins before
# shared ranges did (to /api/call), then lets the add-in recalculate them all. The test
# lowers the server's cap to 10 KB, under what the recalculation sends in all.
FILLED = """<!DOCTYPE html><html><head><meta charset="UTF-8"><title>running</title>%STUBS%
<script src="client.js"></script><script src="functions.js"></script></head>
<body><pre id="out"></pre><script>
const sent = [];
const realFetch = window.fetch;
window.fetch = async (url, init) => {
  const response = await realFetch(url, init);
  if (String(url).endsWith("/api/batch")) {
    const ranges = Object.keys(JSON.parse(new TextDecoder().decode(init.body)).ranges).length;
    sent.push([init.body.byteLength, response.status, ranges]);
  }
  return response;
};
async function settle(promise) {
  try { return { value: await promise }; }
  catch (e) { return { error: { code: e.code, message: e.message } }; }
}
const timeline = [], values = [];
for (let i = 0; i < 240; i++) {
  timeline.push([45292 + i / 24]);
  values.push([Math.round(100 * (100 + (i % 24) * 3.7 + ((i * 7919) % 13) * 0.61)) / 100]);
}
const months = [], products = [[], [], [], []];
for (let i = 0; i < 36; i++) {
  months.push([Date.UTC(2022, i, 1) / 86400000 + 25569]);
  products.forEach((p, j) => p.push([Math.round(100 * ((j + 2) * 60 + 3 * i + 30 * Math.sin(i / 2 + j))) / 100]));
}
const copy = (rows) => rows.map((row) => [...row]);  // each cell its own copy, as Excel does
const cells = [];
for (let k = 1; k <= 30; k++) {
  const target = [[timeline[239][0] + k / 24]];
  cells.push(["FORECAST.ETS", [target, copy(values), copy(timeline), null, null, null]]);
  cells.push(["FORECAST.ETS.CONFINT", [target, copy(values), copy(timeline), 0.9, null, null, null]]);
}
for (const p of products) cells.push(["FORECAST", [copy(months), copy(p), 6, null, null, null]]);
(async () => {
  const f = CustomFunctions.associated;
  const alone = [];
  for (const [name, args] of cells) {
    const response = await realFetch("/api/call", { method: "POST",
      headers: { "Content-Type": "application/json", "X-SMBML-Pairing": "%CODE%" },
      body: JSON.stringify({ calls: [{ name, args }] }) });
    const result = (await response.json()).results[0];
    alone.push(result.error ? { error: result.error } : { value: smbCells(result) });
  }
  const together = await Promise.all(cells.map(([name, args]) => settle(f[name](...args))));
  const inlineBytes = cells.reduce((n, [name, args]) => n + JSON.stringify({ name, args }).length, 0);
  document.getElementById("out").textContent = JSON.stringify({ alone, together, sent, inlineBytes });
  document.title = "done";
})();
</script></body></html>"""

ELSEWHERE = """<!DOCTYPE html><html><head><meta charset="UTF-8"></head>
<body><pre id="out"></pre><script>
fetch("%BASE%/api/call", { method: "POST",
  headers: { "Content-Type": "application/json", "X-SMBML-Pairing": "%CODE%" },
  body: JSON.stringify({ calls: [{ name: "ABTEST", args: [1, 10, 2, 10] }] }) })
  .then((r) => r.text()).then((t) => { document.getElementById("out").textContent = "READ " + t; })
  .catch((e) => { document.getElementById("out").textContent = "BLOCKED " + e.name; });
</script></body></html>"""


PANE_STUBS = """
<script>
  // Office.js itself is on Microsoft's CDN; its onReady waits for the page, as this does.
  window.Office = { onReady(callback) { addEventListener("DOMContentLoaded", callback); } };
</script>
"""


def _chromium() -> Path:
    if not CHROMIUM.exists():
        print("skipped: /usr/bin/chromium is not installed")
        pytest.skip("/usr/bin/chromium is not installed")
    return CHROMIUM


def _spki_hash(cert_path: Path) -> str:
    """Chromium trusts exactly this certificate's key, not every certificate."""
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    der = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


def dump_dom(url: str, cert: Path, profile: Path) -> str:
    done = subprocess.run(
        [str(_chromium()), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", f"--user-data-dir={profile}",
         f"--ignore-certificate-errors-spki-list={_spki_hash(cert)}",
         "--virtual-time-budget=20000", "--dump-dom", url],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def _out(dom: str) -> str:
    start = dom.index('<pre id="out">') + len('<pre id="out">')
    return dom[start : dom.index("</pre>", start)].replace("&quot;", '"').replace("&amp;", "&")


@pytest.fixture(scope="module")
def browser_server(tmp_path_factory):
    _chromium()
    root = tmp_path_factory.mktemp("web")
    web = root / "web"
    shutil.copytree(officejs.WEB_ROOT, web)
    stubs = STUBS.replace("%CODE%", CODE)
    (web / "harness.html").write_text(HARNESS.replace("%STUBS%", stubs))
    (web / "sizes.html").write_text(SIZES.replace("%STUBS%", stubs))
    (web / "filled.html").write_text(FILLED.replace("%STUBS%", stubs).replace("%CODE%", CODE))
    pane = (web / "taskpane.html").read_text()
    office_js = '<script src="https://appsforoffice.microsoft.com/lib/1/hosted/office.js" type="text/javascript"></script>'
    assert office_js in pane
    (web / "pane.html").write_text(pane.replace(office_js, stubs + PANE_STUBS))
    certs = ensure_certificate(tmp_path_factory.mktemp("certs"))
    settings = ServeSettings(
        secret=Secret(CODE), port=PORT, web_root=web, context=FunctionContext()
    )
    with ServerThread(settings, certs):
        yield {"base": f"https://localhost:{PORT}", "certs": certs, "root": root}


def test_functions_called_from_the_add_ins_page_in_chromium(browser_server, tmp_path):
    base = browser_server["base"]
    dom = dump_dom(base + "/harness.html", browser_server["certs"].cert, tmp_path / "profile")
    out = json.loads(_out(dom))
    forecast = out["forecast"]["value"]
    assert forecast[0] == ["date", "forecast", "low (80%)", "high (80%)"]
    assert len(forecast) == 4
    assert out["abtest"]["value"][0][0] == "chance B beats A"
    assert out["abtest"]["value"][1][0]["numberFormat"] == "0.0%"
    # a failure is an Excel error value with its message, not text in the cell
    assert out["short"]["error"] == {
        "code": "#VALUE!",
        "message": "FORECAST: need at least 8 dates, got 5",
        "fake": True,
    }
    assert out["unpaired"]["error"]["code"] == "#N/A"
    assert out["unpaired"]["error"]["message"].startswith("SMB: wrong or missing pairing code")


def test_a_recalculation_too_big_for_one_request_fails_only_the_cell_too_big_alone(
    browser_server, tmp_path, monkeypatch
):
    """The calls go in requests under the server's cap; the one call over it alone is
    refused with its function's name, and the small cells beside it are answered."""
    cap = 2**20
    monkeypatch.setattr(serve_module, "MAX_BODY_BYTES", cap)
    base = browser_server["base"]
    dom = dump_dom(base + "/sizes.html", browser_server["certs"].cert, tmp_path / "profile")
    out = json.loads(_out(dom))
    *regions, abtest, company = out["first"]
    for region in regions:
        table = region["value"]
        assert table[0][:2] == ["customer", "segment"], region
        assert 300 < len(table) <= 401  # a row per customer of the region
    assert abtest["value"][0][0] == "chance B beats A"
    error = company["error"]
    assert error["code"] == "#VALUE!"
    assert re.fullmatch(
        r"SEGMENT: its ranges are too big to send to smbml serve \(\d MB; it takes at most 1 MB "
        r"per cell\): give it smaller ranges",
        error["message"],
    ), error
    # The first request learns the server's cap from its 413; every one after is under it.
    first = out["firstSent"]
    assert first[0][1] == 413 and first[0][0] > cap
    assert len(first) >= 3 and all(size <= cap and status == 200 for size, status in first[1:])
    # The next recalculation packs under the learnt cap at once: no request is refused.
    assert out["again"] == out["first"]
    assert out["againSent"] and all(s <= cap and st == 200 for s, st in out["againSent"])


def test_cells_filled_down_over_the_same_ranges_send_them_once_per_request(
    browser_server, tmp_path, monkeypatch
):
    """Each call answers as it did alone with its ranges inline; the ranges travel once in
    each request that needs them, and every request stays under the server's cap."""
    cap = 10 * 1024
    monkeypatch.setattr(serve_module, "MAX_BODY_BYTES", cap)
    base = browser_server["base"]
    dom = dump_dom(base + "/filled.html", browser_server["certs"].cert, tmp_path / "profile")
    out = json.loads(_out(dom))
    assert out["together"] == out["alone"]
    assert all("value" in cell for cell in out["together"]), out["together"]
    assert len({json.dumps(c["value"]) for c in out["together"][:60:2]}) == 30  # each hour
    # All of it in one request is 14 KB (inline 388 KB): over the cap, learnt from the 413.
    # Packed again under it, each request holds the ranges its own calls use: the hourly
    # two in both requests the 60 hourly cells fill, the months with the FORECASTs.
    sent = out["sent"]
    assert sent[0][1] == 413 and sent[0][0] > cap
    assert all(size <= cap and status == 200 for size, status, _ in sent[1:])
    assert [ranges for *_, ranges in sent] == [3, 2, 3, 1]
    assert sum(size for size, *_ in sent[1:]) < out["inlineBytes"] / 10


def test_a_page_from_another_origin_is_refused_by_the_browser(browser_server, tmp_path):
    base = browser_server["base"]
    other = tmp_path / "other"
    other.mkdir()
    (other / "elsewhere.html").write_text(ELSEWHERE.replace("%BASE%", base).replace("%CODE%", CODE))
    handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(  # noqa: E731
        *a, directory=str(other), **k
    )
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/elsewhere.html"
        dom = dump_dom(url, browser_server["certs"].cert, tmp_path / "profile")
    finally:
        httpd.shutdown()
    assert _out(dom).startswith("BLOCKED TypeError"), _out(dom)


def test_the_task_pane_in_chromium(browser_server, tmp_path):
    """The pane as Excel shows it, paired: a screenshot for the docs, and its text.

    SMBML_SCREENS=folder keeps the screenshot (the README's is made that way)."""
    base = browser_server["base"]
    dom = dump_dom(base + "/pane.html", browser_server["certs"].cert, tmp_path / "profile")
    status = dom[dom.index('<div id="status"') : dom.index("</div>", dom.index('<div id="status"'))]
    assert "Paired with smbml" in status, status
    for button in ("run-forecast", "run-leads", "run-segments"):
        assert f'id="{button}"' in dom
    shot = tmp_path / "taskpane.png"
    done = subprocess.run(
        [str(_chromium()), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", f"--user-data-dir={tmp_path / 'shot-profile'}",
         f"--ignore-certificate-errors-spki-list={_spki_hash(browser_server['certs'].cert)}",
         "--hide-scrollbars", "--window-size=380,720", "--virtual-time-budget=20000",
         f"--screenshot={shot}", base + "/pane.html"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 5000
    keep = os.environ.get("SMBML_SCREENS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(keep) / "excel-taskpane.png")
