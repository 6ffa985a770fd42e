// Bytes the add-in uploads for one recalculation of =SMB.FORECAST.ETS(D2, $B$2:$B$20001,
// $A$2:$A$20001) filled down 130 rows (20,000 hourly points), plus an ABTEST beside it:
// client.js as it is against client.js at an older commit, through a stand-in fetch that
// records every body and answers each call. No server is needed.
//   node bench/shared_ranges.js [commit]     (default: 8b14b0b, before ranges were shared)
const { execFileSync } = require("node:child_process");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");

const CLIENT = "smbml_connect/excel_addin/web/client.js";
const ROOT = path.join(__dirname, "../..");
const POINTS = 20000;
const CELLS = 130;

let sent = [];
global.OfficeRuntime = {
  storage: { getItem: async (key) => (key === "smbml-pairing-code" ? "code" : "https://localhost:1") },
};
global.fetch = async (url, init) => {
  const body = JSON.parse(new TextDecoder().decode(init.body));
  sent.push({ path: new URL(url).pathname, bytes: init.body.length, calls: body.calls.length });
  const results = body.calls.map(() => ({ value: [[1]], header: false, formats: [] }));
  return new Response(JSON.stringify({ results }), { status: 200 });
};

// The sheet: an hourly timeline as Excel serials and readings with two decimals.
const epoch = Date.UTC(1899, 11, 30);
const timeline = [];
const values = [];
for (let i = 0; i < POINTS; i++) {
  timeline.push([(Date.UTC(2023, 0, 1) + i * 3600e3 - epoch) / 86400e3]);
  values.push([Math.round(100 * (100 + (i % 24) * 3.7 + (i % 168) * 0.11)) / 100]);
}

// Excel hands every cell its own copy of each range, so the copies are made per cell.
async function recalculate(smbCall) {
  sent = [];
  const copy = (rows) => rows.map((row) => [...row]);
  const cells = [smbCall("ABTEST", [1, 10, 2, 10, undefined])];
  for (let k = 0; k < CELLS; k++) {
    const target = [[timeline[POINTS - 1][0] + (k + 1) / 24]];
    cells.push(smbCall("FORECAST.ETS", [target, copy(values), copy(timeline), undefined, undefined, undefined]));
  }
  const settled = await Promise.allSettled(cells);
  return {
    requests: sent.length,
    bytes: sent.reduce((sum, s) => sum + s.bytes, 0),
    calls: sent.map((s) => s.calls),
    paths: [...new Set(sent.map((s) => s.path))],
    failed: settled.filter((s) => s.status === "rejected").length,
  };
}

function show(label, run) {
  const mb = (run.bytes / 2 ** 20).toFixed(2);
  console.log(
    `${label}: ${run.bytes.toLocaleString("en")} bytes (${mb} MB) in ${run.requests} request(s) ` +
      `of ${run.calls.join(" + ")} calls to ${run.paths.join(", ")}; cells failed: ${run.failed}`,
  );
}

(async () => {
  const commit = process.argv[2] || "8b14b0b";
  const old = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "smb-client-")), "client.js");
  fs.writeFileSync(old, execFileSync("git", ["show", `${commit}:${CLIENT}`], { cwd: ROOT }));
  show(`before (${commit})`, await recalculate(require(old).smbCall));
  show("after (this tree)", await recalculate(require(path.join(ROOT, CLIENT)).smbCall));
})();
