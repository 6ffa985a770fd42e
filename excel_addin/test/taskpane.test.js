// The task pane's analyses against a running `smbml serve`, with the workbook mocked by
// Microsoft's office-addin-mock: what each one writes (formulas, tables, charts, the
// explanation). tests/test_excel_officejs.py runs this with SMBML_URL and SMBML_CODE.
const { test, before } = require("node:test");
const assert = require("node:assert/strict");
const { OfficeMockObject } = require("office-addin-mock");
const { workbook, monthly } = require("../lib/mock_workbook.js");

const URL_ = process.env.SMBML_URL;
const CODE = process.env.SMBML_CODE;
const skip = !URL_ || !CODE ? "run through pytest (tests/test_excel_officejs.py)" : false;

let pane;

before(() => {
  const storage = { "smbml-pairing-code": CODE, "smbml-server-url": URL_ };
  global.OfficeRuntime = new OfficeMockObject({
    storage: { getItem: async (key) => (key in storage ? storage[key] : null) },
  });
  require("../../smbml_connect/excel_addin/web/client.js");
  pane = require("../../smbml_connect/excel_addin/web/taskpane.js");
});

test("Forecast writes the formula, a chart of history, forecast and band, and words", { skip }, async () => {
  const book = workbook(monthly(36), 1, 0); // A2:B38, header in row 2
  const text = await pane.smbForecast(book.context);
  assert.deepEqual(book.written.D2.formulas, [["=SMB.FORECAST(A3:A38, B3:B38, 12)"]]);
  assert.equal(book.charts.length, 1);
  const chart = book.charts[0];
  assert.equal(chart.type, "Line");
  assert.equal(chart.title.text, "Forecast of Revenue");
  assert.deepEqual(
    chart.series.map((s) => [s.name, s.x, s.values]),
    [
      ["Revenue", "A3:A38", "B3:B38"],
      ["forecast", "D3:D14", "E3:E14"],
      ["low (80%)", "D3:D14", "F3:F14"],
      ["high (80%)", "D3:D14", "G3:G14"],
    ],
  );
  assert.match(text, /^Forecast of 36 points, 12 periods ahead \(SMB.FORECAST in D2\): [\d,]+ in the last period, 80% likely between [\d,]+ and [\d,]+\./);
  assert.deepEqual(book.written.D16.values, [[text]]);
  assert.deepEqual(book.written.D16.numberFormat, [["@"]]); // text, never a formula
  assert.deepEqual(book.written.D16.order, ["numberFormat", "values"]);
});

test("Lead scores write the spill formula beside the table and a histogram", { skip }, async () => {
  const table = [["Visits", "Source", "Converted"]];
  for (let i = 0; i < 200; i++) {
    const outcome = i >= 170 ? "" : (i * 7) % 10 < 3 + (i % 4) ? "yes" : "no";
    table.push([i % 9, ["Ads", "Referral", "Event"][i % 3], outcome]);
  }
  const book = workbook(table, 0, 0); // A1:C201
  const text = await pane.smbLeadScores(book.context);
  assert.deepEqual(book.written.E1.formulas, [["=SMB.LEADSCORE(A1:C201)"]]);
  const bins = book.written["I1:J11"].values;
  assert.deepEqual(bins[0], ["score", "leads"]);
  assert.equal(bins[1][0], "0\u201310"); // an en dash: "10-20" would be read as 20 October
  const formats = book.written["I1:J11"].numberFormat;
  assert.deepEqual(formats[0], ["@", "@"]);
  assert.deepEqual(formats[1], ["@", "General"]); // labels as text, counts as numbers
  assert.deepEqual(book.written["I1:J11"].order, ["numberFormat", "values"]); // format first
  assert.equal(bins.slice(1).reduce((sum, row) => sum + row[1], 0), 30); // the 30 unscored leads
  assert.equal(book.charts[0].type, "ColumnClustered");
  assert.equal(book.charts[0].source, "I1:J11");
  assert.match(text, /^30 leads scored 0-100 \(SMB.LEADSCORE in E1\)/);
});

test("Segments write the formula, a summary table and a bar chart", { skip }, async () => {
  const rows = [["Customer", "Date", "Amount"]];
  for (let c = 0; c < 40; c++) {
    for (let k = 0; k <= c % 5; k++) {
      rows.push([`C${c}`, Date.UTC(2023, (c * 3 + k * 5) % 24, 1 + k) / 86400000 + 25569, 20 + ((c * 13 + k * 7) % 90)]);
    }
  }
  const book = workbook(rows, 0, 0);
  const last = rows.length;
  const text = await pane.smbSegments(book.context);
  assert.deepEqual(book.written.E1.formulas, [[`=SMB.SEGMENT(A2:A${last}, B2:B${last}, C2:C${last})`]]);
  const address = Object.keys(book.written).find((a) => a.startsWith("L1:N"));
  const summary = book.written[address].values;
  assert.deepEqual(summary[0], ["segment", "customers", "spend"]);
  assert.equal(summary.slice(1).reduce((sum, row) => sum + row[1], 0), 40);
  assert.equal(book.charts[0].type, "BarClustered");
  assert.match(text, /^40 customers in \d+ segments \(SMB.SEGMENT in E1\); the largest is /);
});

test("a selection of the wrong shape is refused with what to select", { skip }, async () => {
  const book = workbook([["a", "b", "c"], [1, 2, 3]]);
  await assert.rejects(pane.smbForecast(book.context), /Select two columns: the dates, then the values/);
  assert.deepEqual(Object.keys(book.written), []); // nothing written
});

test("Forecast of text dates and text amounts keeps the first row as data", { skip }, async () => {
  // Dates and values both stored as text, no header: the first row was taken for one, so
  // a month of history was lost and the chart was titled "Forecast of 1,200.00".
  const rows = [];
  for (let i = 0; i < 24; i++) {
    const month = String((i % 12) + 1).padStart(2, "0");
    const amount = (1200 + 30 * i).toLocaleString("en-US", { minimumFractionDigits: 2 });
    rows.push([`${2021 + Math.floor(i / 12)}-${month}-01`, amount]);
  }
  const book = workbook(rows, 0, 0); // A1:B24
  const text = await pane.smbForecast(book.context);
  assert.deepEqual(book.written.D1.formulas, [["=SMB.FORECAST(A1:A24, B1:B24, 12)"]]);
  assert.equal(book.charts[0].title.text, "Forecast of the values");
  assert.match(text, /^Forecast of 24 points, 12 periods ahead/);
  // A header of words over the same rows is still a header.
  const named = workbook([["Month", "Revenue"], ...rows], 0, 0);
  await pane.smbForecast(named.context);
  assert.deepEqual(named.written.D1.formulas, [["=SMB.FORECAST(A2:A25, B2:B25, 12)"]]);
  assert.equal(named.charts[0].title.text, "Forecast of Revenue");
});
