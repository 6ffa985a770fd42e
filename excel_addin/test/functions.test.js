// functions.js and client.js against a running `smbml serve`, with Office mocked by
// Microsoft's office-addin-mock. tests/test_excel_officejs.py starts the server and runs
// this file with SMBML_URL, SMBML_CODE and NODE_EXTRA_CA_CERTS set.
const { test, before } = require("node:test");
const assert = require("node:assert/strict");
const path = require("node:path");
const fs = require("node:fs");
const { OfficeMockObject } = require("office-addin-mock");

const URL_ = process.env.SMBML_URL;
const CODE = process.env.SMBML_CODE;
const skip = !URL_ || !CODE ? "run through pytest (tests/test_excel_officejs.py)" : false;

const storage = {};
const associated = {};
let fetches = 0;

// Excel's CustomFunctions.Error: the message shows with #VALUE! and #N/A only; with any
// other code Excel drops it (Microsoft's CustomFunctions.ErrorCode reference).
const MESSAGE_CODES = new Set(["#VALUE!", "#N/A"]);
class FakeError {
  constructor(code, message) {
    this.code = code;
    this.message = MESSAGE_CODES.has(code) ? message : undefined;
  }
}

before(() => {
  global.OfficeRuntime = new OfficeMockObject({
    storage: {
      getItem: async (key) => (key in storage ? storage[key] : null),
      setItem: async (key, value) => {
        storage[key] = value;
      },
    },
  });
  global.CustomFunctions = new OfficeMockObject({
    associate: (id, fn) => {
      associated[id] = fn;
    },
  });
  // Plain members, not mock properties: Office.js constants need no load().
  global.CustomFunctions.Error = FakeError;
  global.CustomFunctions.ErrorCode = {
    notAvailable: "#N/A",
    invalidValue: "#VALUE!",
    invalidNumber: "#NUM!",
    invalidName: "#NAME?",
    divisionByZero: "#DIV/0!",
    invalidReference: "#REF!",
    nullReference: "#NULL!",
  };
  const realFetch = global.fetch;
  global.fetch = (...args) => {
    fetches += 1;
    return realFetch(...args);
  };
  require("../../smbml_connect/excel_addin/web/client.js");
  require("../../smbml_connect/excel_addin/web/functions.js");
});

function pair(code = CODE, url = URL_) {
  storage["smbml-pairing-code"] = code;
  storage["smbml-server-url"] = url;
}

function monthly(n) {
  const dates = [];
  const values = [];
  for (let i = 0; i < n; i++) {
    const d = Date.UTC(2020, i, 1);
    dates.push([d / 86400000 + 25569]); // Excel serial, as Office.js hands dates over
    values.push([200 + 3 * i + 40 * Math.sin((2 * Math.PI * i) / 12)]);
  }
  return { dates, values };
}

test("every function in functions.json is associated", { skip }, () => {
  const metadata = JSON.parse(fs.readFileSync(path.join(__dirname, "../../smbml_connect/excel_addin/web/functions.json")));
  const ids = metadata.functions.map((f) => f.id).sort();
  assert.deepEqual(Object.keys(associated).sort(), ids);
});

// What Excel shows for a rejected call: an error value whose message the cell's error
// indicator shows.
async function excelError(promise) {
  await assert.rejects(promise, (error) => error instanceof FakeError);
  return promise.catch((error) => error);
}

test("before pairing a cell is #N/A saying how to pair", { skip }, async () => {
  delete storage["smbml-pairing-code"];
  const error = await excelError(associated.ABTEST(1, 10, 2, 10));
  assert.equal(error.code, "#N/A");
  assert.match(error.message, /not paired yet/);
});

test("FORECAST spills a table with formatted Excel dates", { skip }, async () => {
  pair();
  const { dates, values } = monthly(48);
  const cells = await associated.FORECAST(dates, values, 6, null, null, null);
  assert.deepEqual(cells[0], ["date", "forecast", "low (80%)", "high (80%)"]);
  assert.equal(cells.length, 7);
  assert.deepEqual(cells[1][0], {
    type: "FormattedNumber",
    basicValue: Date.UTC(2024, 0, 1) / 86400000 + 25569,
    numberFormat: "yyyy-mm-dd",
  });
  for (const row of cells.slice(1)) assert.ok(row[2] <= row[1] && row[1] <= row[3]);
  const bare = await associated.FORECAST(dates, values, 6, null, null, false);
  assert.equal(bare.length, 6); // headers FALSE: the rows alone
  assert.deepEqual(bare[0], cells[1]);
});

test("FORECAST.ETS takes Excel's argument order and returns bare values", { skip }, async () => {
  pair();
  const { dates, values } = monthly(48);
  const next = Date.UTC(2024, 0, 1) / 86400000 + 25569;
  const cells = await associated["FORECAST.ETS"]([[next]], values, dates, 1, 1, 1);
  assert.equal(cells.length, 1);
  assert.equal(typeof cells[0][0], "number");
  const swapped = await excelError(associated["FORECAST.ETS"]([[next]], dates, values));
  assert.equal(swapped.code, "#VALUE!");
  assert.match(swapped.message, /^FORECAST.ETS: timeline: no constant step/);
});

test("a whole-column reference sends only the rows in use", { skip }, async () => {
  pair();
  const { dates, values } = monthly(48);
  const blank = (n) => Array.from({ length: n }, () => [""]);
  const sent = [];
  const realFetch = global.fetch;
  global.fetch = (url, init) => {
    sent.push(init.body.length);
    return realFetch(url, init);
  };
  try {
    const exact = await associated.FORECAST(dates, values, 3, null, null, null);
    const whole = await associated.FORECAST(
      [...dates, ...blank(1048576 - 48)],
      [...values, ...blank(1048576 - 48)],
      3, null, null, null,
    );
    assert.deepEqual(whole, exact);
  } finally {
    global.fetch = realFetch;
  }
  assert.equal(sent[0], sent[1]); // the same request as the exact range
  const { smbTrim } = require("../../smbml_connect/excel_addin/web/client.js");
  const uneven = smbTrim([[[1], [2], [3]], [[1], [2]], 5]);
  assert.deepEqual(uneven, [[[1], [2], [3]], [[1], [2]], 5]); // unequal stays unequal
});

test("a recalculation of 500 cells goes to the server in one request", { skip }, async () => {
  pair();
  const before = fetches;
  const calls = [];
  for (let i = 0; i < 500; i++) calls.push(associated.ABTEST(40 + (i % 50), 1000, 60, 1000));
  const results = await Promise.all(calls);
  assert.equal(fetches - before, 1);
  assert.equal(results.length, 500);
  for (const cells of results) {
    assert.equal(cells[0][0], "chance B beats A");
    assert.equal(cells[1][0].numberFormat, "0.0%"); // a probability shows as a percent
    assert.ok(cells[1][0].basicValue > 0 && cells[1][0].basicValue < 1);
  }
});

test("bad input is an Excel error value with a short message", { skip }, async () => {
  pair();
  const { dates, values } = monthly(5);
  const short = await excelError(associated.FORECAST(dates, values, 3));
  assert.equal(short.code, "#VALUE!"); // #NUM! would show no message
  assert.equal(short.message, "FORECAST: need at least 8 dates, got 5");
  const text = await excelError(associated.ABTEST("many", 10, 1, 10));
  assert.equal(text.code, "#VALUE!");
  assert.equal(text.message, "ABTEST: conversions_a must be a number, got 'many'");
});

test("every error answer keeps its message in the cell, whatever code the server sent", () => {
  // A server of before stop 57 answered #NUM! (too few dates, horizon too long): Excel
  // shows no message with #NUM!, so the cell is #VALUE! with it.
  const { smbCells } = require("../../smbml_connect/excel_addin/web/client.js");
  for (const code of ["#NUM!", "#NAME?", "#DIV/0!", "#VALUE!", undefined]) {
    assert.throws(
      () => smbCells({ error: "FORECAST: need at least 8 dates, got 5", code }),
      (error) => error.code === "#VALUE!" && error.message === "FORECAST: need at least 8 dates, got 5",
    );
  }
  assert.throws(
    () => smbCells({ error: "SMB: not paired yet", code: "#N/A" }),
    (error) => error.code === "#N/A" && error.message === "SMB: not paired yet",
  );
});

test("a missing number shows as #N/A", { skip }, async () => {
  pair();
  const table = [["Visits", "Source", "Converted"]];
  for (let i = 0; i < 200; i++) {
    const outcome = i >= 180 ? "" : (i * 7) % 10 < 3 + (i % 4) ? "yes" : "no";
    table.push([i % 9, ["Ads", "Referral", "Event"][i % 3], outcome]);
  }
  const cells = await associated.LEADSCORE(table, null);
  assert.deepEqual(cells[0], ["score", "tier", "reasons"]);
  assert.equal(cells.length, 201);
  assert.ok(cells[1][0] instanceof FakeError);
  assert.equal(cells[1][0].code, "#N/A");
  assert.equal(typeof cells[200][0], "number");
});

test("a wrong pairing code is refused", { skip }, async () => {
  pair("not-the-code");
  const error = await excelError(associated.ABTEST(1, 10, 2, 10));
  assert.equal(error.code, "#N/A");
  assert.match(error.message, /^SMB: wrong or missing pairing code/);
});

test("a stopped server is named in the error", { skip }, async () => {
  pair(CODE, "https://localhost:9");
  const error = await excelError(associated.ABTEST(1, 10, 2, 10));
  assert.equal(error.code, "#N/A");
  assert.match(error.message, /^SMB: cannot reach smbml serve at https:\/\/localhost:9/);
  const { smbRecentErrors } = require("../../smbml_connect/excel_addin/web/client.js");
  assert.match(smbRecentErrors[smbRecentErrors.length - 1], /^#N\/A SMB: cannot reach/);
});

// A call as smbCall queues it, with what it settled to.
function queued(name, args) {
  const item = { name, args, settled: null };
  item.resolve = (value) => (item.settled = { value });
  item.reject = (error) => (item.settled = { error });
  return item;
}

// Orders of one region, as a sheet holds them: ids, Excel serial dates, amounts.
function regionOrders(n, prefix) {
  const ids = [], dates = [], amounts = [];
  for (let i = 0; i < n; i++) {
    ids.push([prefix + String((i * 7919) % 37).padStart(3, "0")]);
    dates.push([45292 + ((i * 131) % 400)]);
    amounts.push([Math.round(100 * (9 + ((i * 37) % 83) * 1.13)) / 100]);
  }
  return [ids, dates, amounts];
}

// A request as the server reads it: each call with the shared ranges it names put back.
// Fails when a call names a range its own request does not hold.
function onTheWire(body) {
  const payload = JSON.parse(new TextDecoder().decode(body));
  const ranges = payload.ranges;
  const calls = payload.calls.map((call) => {
    const args = [...call.args];
    for (const [position, id] of Object.entries(call.refs || {})) {
      assert.ok(String(id) in ranges, "a call names range " + id + " its request does not hold");
      assert.equal(args[Number(position)], null);
      args[Number(position)] = ranges[String(id)];
    }
    return { name: call.name, args };
  });
  return { calls, ranges: Object.values(ranges).map((range) => JSON.stringify(range)) };
}

// An hourly timeline (Excel serials) and readings with a daily rhythm, as a sheet holds them.
function hourly(n) {
  const timeline = [];
  const values = [];
  for (let i = 0; i < n; i++) {
    timeline.push([45292 + i / 24]);
    values.push([Math.round(100 * (100 + (i % 24) * 3.7 + ((i * 7919) % 13) * 0.61)) / 100]);
  }
  return { timeline, values };
}

// =SMB.FORECAST.ETS(D2, $B$2:$B$n, $A$2:$A$n) filled down `cells` rows: Excel hands each
// cell its own copy of the ranges, so equal ranges are never the same object.
function filledDown(cells, { timeline, values }) {
  const copy = (rows) => rows.map((row) => [...row]);
  const last = timeline[timeline.length - 1][0];
  return Array.from({ length: cells }, (_, k) => [[[last + (k + 1) / 24]], copy(values), copy(timeline)]);
}

test("a range many calls pass travels once per request, and each call reads its own arguments", () => {
  const { smbRequests, smbBody } = require("../../smbml_connect/excel_addin/web/client.js");
  const series = hourly(150);
  const items = filledDown(12, series).map((args) => queued("FORECAST.ETS", [...args, null, null, null]));
  const [ids, dates, amounts] = regionOrders(30, "N");
  items.splice(3, 0, queued("SEGMENT", [ids, dates, amounts, "2025-12-31"]));
  const copy = (rows) => rows.map((row) => [...row]);
  const more = amounts.map((row) => [row[0] + 1]);
  items.splice(5, 0, queued("CHURN", [copy(ids), copy(dates), more, null])); // the same ids and dates
  items.push(queued("ABTEST", [40, 1000, 60, 1000]));
  // The same numbers in a row instead of a column are another range.
  items.push(queued("FORECAST.ETS", [[[45300]], [series.values.map((r) => r[0])], series.timeline]));
  const inline = items.reduce((n, i) => n + JSON.stringify({ name: i.name, args: i.args }).length + 1, 0);

  const one = smbRequests(items, 1 << 20, 100);
  assert.equal(one.length, 1);
  const wire = onTheWire(smbBody(one[0]));
  assert.deepEqual(wire.calls, items.map((i) => ({ name: i.name, args: i.args })));
  const texts = [series.values, series.timeline, ids, dates].map((r) => JSON.stringify(r));
  assert.deepEqual([...wire.ranges].sort(), [...texts].sort()); // each once, nothing else
  assert.ok(smbBody(one[0]).length < inline / 5, [smbBody(one[0]).length, inline]);

  // Under a cap that holds a few calls, every request carries the ranges its calls use.
  const cap = 5200;
  const requests = smbRequests(items, cap, 100);
  assert.ok(requests.length >= 3, requests.length);
  assert.deepEqual(requests.flatMap((r) => r.items), items);
  for (const request of requests) {
    const body = smbBody(request);
    assert.ok(body.length <= cap, body.length);
    const read = onTheWire(body);
    assert.deepEqual(read.calls, request.items.map((i) => ({ name: i.name, args: i.args })));
    assert.equal(new Set(read.ranges).size, read.ranges.length); // none twice in a request
  }
  assert.equal(items.filter((i) => i.settled).length, 0); // all wait for their answers
});

test("a request of shared ranges exactly at the cap goes as one; a byte less makes two that both hold them", () => {
  const { smbRequests, smbBody } = require("../../smbml_connect/excel_addin/web/client.js");
  const three = () => filledDown(3, hourly(60)).map((args) => queued("FORECAST.ETS", args));
  const exact = smbBody(smbRequests(three(), 1 << 20, 10)[0]).length;
  assert.equal(smbRequests(three(), exact, 10).length, 1);
  const split = smbRequests(three(), exact - 1, 10);
  assert.equal(split.length, 2);
  for (const request of split) {
    assert.ok(smbBody(request).length <= exact - 1);
    assert.equal(onTheWire(smbBody(request)).ranges.length, 2); // values and timeline
  }
});

test("cells filled down over the same ranges get what each got with its ranges inline", { skip }, async () => {
  pair();
  const series = hourly(240);
  const cells = filledDown(24, series);
  // The way an add-in before shared ranges sent them: every range in every call.
  const calls = cells.map((args) => ({ name: "FORECAST.ETS", args: [...args, null, null, null] }));
  calls.push({ name: "FORECAST.ETS.SEASONALITY", args: [series.values, series.timeline, null, null] });
  const inline = await fetch(URL_ + "/api/call", {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-SMBML-Pairing": CODE },
    body: JSON.stringify({ calls }),
  }).then((r) => r.json());
  const { smbCells } = require("../../smbml_connect/excel_addin/web/client.js");
  const before = inline.results.map((result) => smbCells(result));

  const sent = [];
  const realFetch = global.fetch;
  global.fetch = (url, init) => {
    sent.push({ url, wire: onTheWire(init.body), bytes: init.body.length });
    return realFetch(url, init);
  };
  let after;
  try {
    after = await Promise.all([
      ...cells.map((args) => associated["FORECAST.ETS"](...args)),
      associated["FORECAST.ETS.SEASONALITY"](series.values, series.timeline),
    ]);
  } finally {
    global.fetch = realFetch;
  }
  assert.deepEqual(after, before);
  assert.equal(sent.length, 1);
  assert.ok(sent[0].url.endsWith("/api/batch"));
  assert.equal(sent[0].wire.ranges.length, 2); // the values and the timeline, once
  assert.ok(sent[0].bytes < JSON.stringify({ calls }).length / 10);
  assert.equal(new Set(after.slice(0, 24).map((c) => c[0][0])).size, 24); // each its own hour
});

test("an add-in newer than its server says so in every cell", { skip }, async () => {
  pair();
  const realFetch = global.fetch;
  // What a server before /api/batch answers: its static files take the path, not POST.
  global.fetch = async () => new Response("Method Not Allowed", { status: 405 });
  try {
    const cells = await Promise.allSettled([associated.ABTEST(1, 10, 2, 10), associated.ABTEST(2, 10, 2, 10)]);
    for (const cell of cells) {
      assert.equal(cell.reason.code, "#N/A");
      assert.equal(
        cell.reason.message,
        "SMB: smbml serve at " + URL_ + " is older than this add-in (it has no /api/batch): " +
          "update smbml_connect and start it again",
      );
    }
  } finally {
    global.fetch = realFetch;
  }
});

test("calls that together pass the size cap go in requests under it, in order", () => {
  const { smbRequests, smbBody } = require("../../smbml_connect/excel_addin/web/client.js");
  const items = [queued("ABTEST", [40, 1000, 60, 1000])];
  for (const [i, p] of ["N", "S", "E", "W", "Ö"].entries()) {
    items.push(queued("SEGMENT", [...regionOrders(8 + 3 * i, p), "2025-12-31"]));
  }
  items.push(queued("SEGMENT", [...regionOrders(120, "K"), "2025-12-31"])); // alone too big
  items.push(queued("ABTEST", [1, 10, 2, 10]));
  const cap = 1200;
  const requests = smbRequests(items, cap, 3);
  const sent = requests.flatMap((r) => r.items);
  assert.deepEqual(sent, [...items.slice(0, 6), items[7]]);
  assert.ok(requests.length >= 3);
  for (const request of requests) {
    assert.ok(request.items.length <= 3);
    const body = smbBody(request);
    assert.ok(body.length <= cap, body.length);
    const wire = onTheWire(body).calls;
    assert.deepEqual(wire, request.items.map((i) => ({ name: i.name, args: i.args }))); // the server reads the same calls
  }
  const big = items[6].settled.error;
  assert.equal(big.code, "#VALUE!");
  assert.match(
    big.message,
    /^SEGMENT: its ranges are too big to send to smbml serve \(\d+ KB; it takes at most 1 KB per cell\): give it smaller ranges$/,
  );
  assert.equal(sent.filter((i) => i.settled).length, 0); // the rest wait for their answers
});

test("a request exactly at the cap goes as one; a byte more makes two", () => {
  const { smbRequests, smbBody } = require("../../smbml_connect/excel_addin/web/client.js");
  const two = () => [queued("ABTEST", [40, 1000, 60, 1000]), queued("ABTEST", [41, 1000, 60, 1000])];
  const exact = smbBody(smbRequests(two(), 1 << 20, 10)[0]).length;
  assert.equal(smbRequests(two(), exact, 10).length, 1);
  assert.equal(smbRequests(two(), exact - 1, 10).length, 2);
});

test("a range too big for the browser to write out fails alone, named", () => {
  const { smbRequests } = require("../../smbml_connect/excel_addin/web/client.js");
  // What JSON.stringify throws once the text would pass V8's longest string (~512 MB).
  const huge = {
    toJSON() {
      throw new RangeError("Invalid string length");
    },
  };
  const items = [queued("FORECAST.ETS", [45000, [[huge]], [[1]]]), queued("ABTEST", [1, 10, 2, 10])];
  const requests = smbRequests(items, 1 << 20, 10);
  assert.deepEqual(requests.map((r) => r.items), [[items[1]]]);
  assert.equal(items[0].settled.error.code, "#VALUE!");
  assert.match(
    items[0].settled.error.message,
    /^FORECAST.ETS: its ranges are too big to send to smbml serve \(more than the browser can send at once\): give/,
  );
});

test("a server that refuses a body without naming its cap gets halves until one call fails alone", { skip }, async () => {
  pair();
  const realFetch = global.fetch;
  const sizes = [];
  const cap = 6000;
  global.fetch = async (url, init) => {
    sizes.push(init.body.length);
    if (init.body.length > cap) {
      const said = JSON.stringify({ error: "request over 0 MB: send fewer cells" }); // no max_bytes
      return new Response(said, { status: 413 });
    }
    return realFetch(url, init);
  };
  try {
    const cells = [];
    for (const [i, p] of ["N", "S", "E", "W"].entries()) {
      cells.push(associated.SEGMENT(...regionOrders(40 + 10 * i, p), "2025-12-31"));
    }
    cells.push(associated.SEGMENT(...regionOrders(400, "K"), "2025-12-31"));
    cells.push(associated.ABTEST(40, 1000, 60, 1000));
    const settled = await Promise.allSettled(cells);
    for (const cell of settled.slice(0, 4)) {
      assert.deepEqual(cell.value[0].slice(0, 2), ["customer", "segment"]);
    }
    assert.equal(settled[5].value[0][0], "chance B beats A");
    const big = settled[4].reason;
    assert.equal(big.code, "#VALUE!");
    assert.match(
      big.message,
      /^SEGMENT: its ranges are too big to send to smbml serve \(\d+ KB, more than it accepts\): give/,
    );
  } finally {
    global.fetch = realFetch;
  }
  assert.ok(sizes.filter((s) => s <= cap).length >= 2);
});
