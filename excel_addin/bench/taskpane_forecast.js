// The task pane's Forecast run (read the selection, call smbml serve, write the formula,
// chart and explanation) against a running server, on a mocked workbook. Prints JSON.
// benchmarks/functions.py runs it with SMBML_URL, SMBML_CODE and NODE_EXTRA_CA_CERTS.
const { OfficeMockObject } = require("office-addin-mock");
const { workbook, monthly } = require("../lib/mock_workbook.js");

const repeat = Number(process.argv[2] || 5);
const storage = { "smbml-pairing-code": process.env.SMBML_CODE, "smbml-server-url": process.env.SMBML_URL };
global.OfficeRuntime = new OfficeMockObject({
  storage: { getItem: async (key) => (key in storage ? storage[key] : null) },
});
require("../../smbml_connect/excel_addin/web/client.js");
const pane = require("../../smbml_connect/excel_addin/web/taskpane.js");

function shifted(shift) {
  return monthly(60).map((row, i) => (i === 0 ? row : [row[0], row[1] + shift]));
}

async function run(shift) {
  const book = workbook(shifted(shift), 0, 0);
  const started = process.hrtime.bigint();
  await pane.smbForecast(book.context);
  return Number(process.hrtime.bigint() - started) / 1e6;
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return Math.round(sorted[Math.floor(sorted.length / 2)] * 10) / 10;
}

(async () => {
  const cold = await run(0.25);
  const warm = [];
  for (let i = 1; i <= repeat; i++) warm.push(await run(i + 0.25));
  const cached = [];
  for (let i = 0; i < repeat; i++) cached.push(await run(repeat + 0.25));
  console.log(JSON.stringify({ cold_ms: Math.round(cold * 10) / 10, warm_ms: median(warm), cached_ms: median(cached) }));
})();
