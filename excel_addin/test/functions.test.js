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

class FakeError {
  constructor(code, message) {
    this.code = code;
    this.message = message;
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
  assert.equal(swapped.code, "#NUM!");
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
  assert.equal(short.code, "#NUM!");
  assert.equal(short.message, "FORECAST: need at least 8 dates, got 5");
  const text = await excelError(associated.ABTEST("many", 10, 1, 10));
  assert.equal(text.code, "#VALUE!");
  assert.equal(text.message, "ABTEST: conversions_a must be a number, got 'many'");
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
  const sent = requests.flat();
  assert.deepEqual(sent, [...items.slice(0, 6), items[7]]);
  assert.ok(requests.length >= 3);
  for (const request of requests) {
    assert.ok(request.length <= 3);
    const body = smbBody(request);
    assert.ok(body.length <= cap, body.length);
    const wire = JSON.stringify({ calls: request.map((i) => ({ name: i.name, args: i.args })) });
    assert.equal(new TextDecoder().decode(body), wire); // the server reads the same calls
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
  assert.deepEqual(requests, [[items[1]]]);
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
