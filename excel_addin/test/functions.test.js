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
