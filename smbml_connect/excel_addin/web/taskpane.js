// The SMB ML pane: pairs the add-in with `smbml serve`, shows what the server says
// about itself, and runs an analysis on the selected range the way Excel's Forecast
// Sheet does: live SMB.* formulas beside the data, a native chart and a short
// explanation, all written into the workbook. It runs in the shared runtime, so
// smbCall (client.js) is at hand and shares the server's cache with the cells.
/* global Office, OfficeRuntime, Excel, smbCall, smbRecentErrors */

const PAIRING_KEY = "smbml-pairing-code";
const SERVER_KEY = "smbml-server-url";
const SMB_HORIZON = 12;
const SMB_BINS = 10;

function show(text, kind) {
  const box = document.getElementById("status");
  box.textContent = text;
  box.className = kind || "";
}

async function status(code) {
  const response = await fetch(location.origin + "/api/status", {
    headers: { "X-SMBML-Pairing": code },
  });
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || "HTTP " + response.status);
  return body;
}

function describe(s) {
  const lines = [
    "Paired with smbml " + s.version + ".",
    "Functions: " + s.functions.join(", ") + ".",
    "Cached results: " + s.cache.entries + " (" + s.cache.hits + " reused, " + s.cache.misses + " computed).",
  ];
  lines.push(s.store.scores_run ? "Synced scores from run " + s.store.scores_run + "." : "No synced scores yet: LEADSCORE_OF needs smbml run.");
  const here = typeof smbRecentErrors !== "undefined" ? smbRecentErrors.slice(-10) : [];
  const notes = [...(s.notes || []), ...here];
  if (notes.length) {
    // Errors, rows left out and other notes of the latest calculations (text, never HTML).
    lines.push("", "Latest messages:", ...notes.slice().reverse());
  }
  return lines.join("\n");
}

async function pair() {
  const code = document.getElementById("code").value.trim();
  if (!code) return show("Type the pairing code that smbml serve printed.", "bad");
  try {
    const s = await status(code);
    await OfficeRuntime.storage.setItem(PAIRING_KEY, code);
    await OfficeRuntime.storage.setItem(SERVER_KEY, location.origin);
    show(describe(s), "ok");
  } catch (error) {
    show("Not paired: " + error.message, "bad");
  }
}

async function refresh() {
  const code = await OfficeRuntime.storage.getItem(PAIRING_KEY);
  if (!code) return show("Not paired yet.", "");
  try {
    show(describe(await status(code)), "ok");
  } catch (error) {
    show("smbml serve is not answering (" + error.message + "). Start it and reopen this pane.", "bad");
  }
}

// -- analyses on the selected range ----------------------------------------------------

function smbColumn(index) {
  let name = "";
  for (let n = index + 1; n > 0; n = Math.floor((n - 1) / 26)) {
    name = String.fromCharCode(65 + ((n - 1) % 26)) + name;
  }
  return name;
}

// A1 address of a block, from 0-based row and column indexes.
function smbAddress(row, column, rows = 1, columns = 1) {
  const start = smbColumn(column) + (row + 1);
  if (rows === 1 && columns === 1) return start;
  return start + ":" + smbColumn(column + columns - 1) + (row + rows);
}

function smbPlain(value) {
  return value && typeof value === "object" && "basicValue" in value ? value.basicValue : value;
}

// A number or a date stored as text ("1,200.00", "2021-01-01", "$12", "12 %"): digits and
// no letter. Such a cell is data, not a column name.
const SMB_NUMBER_OR_DATE_TEXT = /^[^\p{L}]*\d[^\p{L}]*$/u;

// The first row is a header when every cell is text and none is a number or a date stored
// as text: a sheet of text dates and text amounts has no header, and taking its first row
// for one lost a month of history without a word (the server names a real header row it
// is given, so a header taken for data costs only a note).
function smbIsHeader(row) {
  return row.every(
    (v) => typeof v === "string" && v.trim() !== "" && !SMB_NUMBER_OR_DATE_TEXT.test(v.trim()),
  );
}

async function smbSelection(context) {
  const range = context.workbook.getSelectedRange();
  range.load(["rowIndex", "columnIndex", "rowCount", "columnCount", "values"]);
  const sheet = context.workbook.worksheets.getActiveWorksheet();
  await context.sync();
  const values = range.values;
  const header = values.length > 1 && smbIsHeader(values[0]);
  const skip = header ? 1 : 0;
  return {
    sheet,
    row: range.rowIndex,
    column: range.columnIndex,
    columns: range.columnCount,
    header: header ? values[0] : null,
    bodyRow: range.rowIndex + skip,
    body: values.slice(skip),
  };
}

function smbColumnOf(rows, c) {
  return rows.map((r) => [r[c]]);
}

// Text cells are formatted as text ("@") before their values go in: Range.values reads a
// value as if typed, so a bin label "10-20" would become 20 October and a text starting
// with "=" a formula.
function smbWrite(sheet, row, column, rows) {
  const range = sheet.getRange(smbAddress(row, column, rows.length, rows[0].length));
  range.numberFormat = rows.map((r) => r.map((v) => (typeof v === "string" ? "@" : "General")));
  range.values = rows;
}

function smbSeries(chart, name, x, y) {
  const series = chart.series.add(name);
  series.setXAxisValues(x);
  series.setValues(y);
  return series;
}

// Forecast: two columns (dates, values). Writes =SMB.FORECAST beside them, a line chart
// of the history, the forecast and its low-high band, and what was done, in words.
async function smbForecast(context) {
  const sel = await smbSelection(context);
  if (sel.columns !== 2) throw new Error("Select two columns: the dates, then the values.");
  const n = sel.body.length;
  const dates = smbAddress(sel.bodyRow, sel.column, n);
  const values = smbAddress(sel.bodyRow, sel.column + 1, n);
  const cells = await smbCall("FORECAST", [smbColumnOf(sel.body, 0), smbColumnOf(sel.body, 1), SMB_HORIZON]);
  const out = sel.column + 3;
  const sheet = sel.sheet;
  sheet.getRange(smbAddress(sel.row, out)).formulas = [[`=SMB.FORECAST(${dates}, ${values}, ${SMB_HORIZON})`]];
  const first = sel.row + 1;
  const h = cells.length - 1;
  const futureDates = sheet.getRange(smbAddress(first, out, h));
  const chart = sheet.charts.add("Line", sheet.getRange(values), "Columns");
  chart.title.text = "Forecast of " + (sel.header ? sel.header[1] : "the values");
  const history = chart.series.getItemAt(0);
  history.name = sel.header ? sel.header[1] : "history";
  history.setXAxisValues(sheet.getRange(dates));
  ["forecast", cells[0][2], cells[0][3]].forEach((name, i) => {
    smbSeries(chart, name, futureDates, sheet.getRange(smbAddress(first, out + 1 + i, h)));
  });
  chart.setPosition(smbAddress(sel.row, out + 5), smbAddress(sel.row + 15, out + 12));
  const [, last, low, high] = cells[h].map(smbPlain);
  const level = String(cells[0][2]).replace(/^low \(|\)$/g, "");
  const round = (v) => Math.round(v).toLocaleString("en-US");
  const text =
    `Forecast of ${n} points, ${h} periods ahead (SMB.FORECAST in ${smbAddress(sel.row, out)}): ` +
    `${round(last)} in the last period, ${level} likely between ${round(low)} and ${round(high)}. ` +
    "The chart and the numbers follow the data when it changes.";
  smbWrite(sheet, sel.row + cells.length + 1, out, [[text]]);
  await context.sync();
  return text;
}

// Lead scores: a table with its header. Writes =SMB.LEADSCORE beside it (one row per
// lead) and a histogram of the scores (a bin table and a column chart).
async function smbLeadScores(context) {
  const sel = await smbSelection(context);
  if (!sel.header) throw new Error("Select the leads table with its header row.");
  const table = [sel.header, ...sel.body];
  const cells = await smbCall("LEADSCORE", [table]);
  const out = sel.column + sel.columns + 1;
  const sheet = sel.sheet;
  const address = smbAddress(sel.row, sel.column, table.length, sel.columns);
  sheet.getRange(smbAddress(sel.row, out)).formulas = [[`=SMB.LEADSCORE(${address})`]];
  const scores = cells.slice(1).map((r) => smbPlain(r[0])).filter((v) => typeof v === "number");
  const counts = new Array(SMB_BINS).fill(0);
  for (const score of scores) counts[Math.min(SMB_BINS - 1, Math.floor(score / (100 / SMB_BINS)))] += 1;
  const width = 100 / SMB_BINS;
  const bins = counts.map((count, i) => [`${i * width}\u2013${(i + 1) * width}`, count]); // en dash: no date
  const binColumn = out + 4;
  smbWrite(sheet, sel.row, binColumn, [["score", "leads"], ...bins]);
  const chart = sheet.charts.add("ColumnClustered", sheet.getRange(smbAddress(sel.row, binColumn, bins.length + 1, 2)), "Columns");
  chart.title.text = "Lead scores";
  chart.setPosition(smbAddress(sel.row, binColumn + 3), smbAddress(sel.row + 15, binColumn + 10));
  const top = counts.slice(-3).reduce((a, b) => a + b, 0);
  const text =
    `${scores.length} leads scored 0-100 (SMB.LEADSCORE in ${smbAddress(sel.row, out)}); ` +
    `${top} score 70 or more. Rows with an outcome taught the model and are left blank.`;
  smbWrite(sheet, sel.row + bins.length + 2, binColumn, [[text]]);
  await context.sync();
  return text;
}

// Segments: three columns (customer, order date, amount). Writes =SMB.SEGMENT beside
// them, a summary table (customers and spend per segment) and a bar chart.
async function smbSegments(context) {
  const sel = await smbSelection(context);
  if (sel.columns !== 3) throw new Error("Select three columns: customer, order date, amount.");
  const n = sel.body.length;
  const ranges = [0, 1, 2].map((c) => smbAddress(sel.bodyRow, sel.column + c, n));
  const cells = await smbCall("SEGMENT", [0, 1, 2].map((c) => smbColumnOf(sel.body, c)));
  const out = sel.column + 4;
  const sheet = sel.sheet;
  sheet.getRange(smbAddress(sel.row, out)).formulas = [[`=SMB.SEGMENT(${ranges.join(", ")})`]];
  const summary = new Map();
  for (const row of cells.slice(1)) {
    const entry = summary.get(row[1]) || [0, 0];
    entry[0] += 1;
    entry[1] += smbPlain(row[4]) || 0;
    summary.set(row[1], entry);
  }
  const rows = [...summary.entries()]
    .sort((a, b) => b[1][0] - a[1][0])
    .map(([segment, [customers, spend]]) => [segment, customers, Math.round(spend * 100) / 100]);
  const tableColumn = out + 7;
  smbWrite(sheet, sel.row, tableColumn, [["segment", "customers", "spend"], ...rows]);
  const chart = sheet.charts.add("BarClustered", sheet.getRange(smbAddress(sel.row, tableColumn, rows.length + 1, 2)), "Columns");
  chart.title.text = "Customers per segment";
  chart.setPosition(smbAddress(sel.row, tableColumn + 4), smbAddress(sel.row + 15, tableColumn + 11));
  const text =
    `${cells.length - 1} customers in ${rows.length} segments (SMB.SEGMENT in ${smbAddress(sel.row, out)}); ` +
    `the largest is ${rows[0][0]} with ${rows[0][1]}.`;
  smbWrite(sheet, sel.row + rows.length + 2, tableColumn, [[text]]);
  await context.sync();
  return text;
}

const SMB_ANALYSES = { forecast: smbForecast, leads: smbLeadScores, segments: smbSegments };

async function runAnalysis(name) {
  try {
    const text = await Excel.run((context) => SMB_ANALYSES[name](context));
    show(text, "ok");
  } catch (error) {
    show(error.message, "bad");
  }
}

if (typeof Office !== "undefined") {
  Office.onReady(() => {
    document.getElementById("pair").onclick = pair;
    for (const name of Object.keys(SMB_ANALYSES)) {
      document.getElementById("run-" + name).onclick = () => runAnalysis(name);
    }
    refresh();
    setInterval(refresh, 30000);
  });
}
if (typeof module !== "undefined") {
  module.exports = { smbForecast, smbLeadScores, smbSegments, smbAddress, describe };
}
