// Talks to `smbml serve` for the SMB.* worksheet functions.
//
// One recalculation can ask for hundreds of cells at once, so calls made within
// BATCH_MS of each other go to the server in one request and each promise is settled
// from its slot in the answer. The pairing code (typed once in the task pane) is kept
// in OfficeRuntime.storage. The add-in declares a shared runtime: this file runs in the
// task pane's page, served by `smbml serve` itself, so every request is same-origin.
//
// A failure rejects with an Excel error value (CustomFunctions.Error) that carries the
// message, as Excel's own functions do: IFERROR catches it and no message text is
// saved into the workbook as if it were a result. The latest messages are kept for
// the task pane (smbRecentErrors).
/* global OfficeRuntime, CustomFunctions */

const SMB_BATCH_MS = 30;
const SMB_MAX_BATCH = 2000;
const SMB_PAIRING_KEY = "smbml-pairing-code";
const SMB_SERVER_KEY = "smbml-server-url";

// The server's error values, as names of CustomFunctions.ErrorCode.
const SMB_ERROR_CODES = {
  "#VALUE!": "invalidValue",
  "#N/A": "notAvailable",
  "#NUM!": "invalidNumber",
  "#NAME?": "invalidName",
  "#DIV/0!": "divisionByZero",
  "#REF!": "invalidReference",
  "#NULL!": "nullReference",
};
const SMB_RECENT_MAX = 50;

let smbQueue = [];
let smbTimer = null;
const smbRecentErrors = [];

function smbServerUrl(stored) {
  if (stored) return stored;
  if (typeof location !== "undefined" && location.origin && location.origin !== "null") {
    return location.origin;
  }
  return "https://localhost:8765";
}

async function smbSettings() {
  const storage = typeof OfficeRuntime !== "undefined" ? OfficeRuntime.storage : null;
  if (!storage) return { code: null, url: smbServerUrl(null) };
  const [code, url] = await Promise.all([
    storage.getItem(SMB_PAIRING_KEY),
    storage.getItem(SMB_SERVER_KEY),
  ]);
  return { code, url: smbServerUrl(url) };
}

// A missing number shows as #N/A, as Excel's own functions do; text stays text.
function smbCell(value) {
  if (value !== null && value !== undefined) return value;
  if (typeof CustomFunctions !== "undefined" && CustomFunctions.Error) {
    return new CustomFunctions.Error(CustomFunctions.ErrorCode.notAvailable);
  }
  return "";
}

// An Excel error value with its message; a plain Error where Office is absent.
function smbError(code, message) {
  smbRecentErrors.push(code + " " + message);
  if (smbRecentErrors.length > SMB_RECENT_MAX) smbRecentErrors.shift();
  if (typeof CustomFunctions !== "undefined" && CustomFunctions.Error) {
    const name = SMB_ERROR_CODES[code] || "invalidValue";
    return new CustomFunctions.Error(CustomFunctions.ErrorCode[name], message);
  }
  const error = new Error(message);
  error.code = code;
  return error;
}

// A number with its Excel number format (dates, percents) where the server gave one.
function smbFormatted(value, format) {
  if (!format || typeof value !== "number") return value;
  return { type: "FormattedNumber", basicValue: value, numberFormat: format };
}

function smbCells(result) {
  if (result.error) throw smbError(result.code || "#VALUE!", result.error);
  const formats = result.formats || [];
  const header = result.header === false ? 0 : 1;
  return result.value.map((row, r) =>
    row.map((value, c) => smbCell(r < header ? value : smbFormatted(value, formats[c]))),
  );
}

function smbSettle(item, result) {
  try {
    item.resolve(smbCells(result));
  } catch (error) {
    item.reject(error);
  }
}

function smbFail(batch, message) {
  for (const item of batch) item.reject(smbError("#N/A", message));
}

async function smbFlush() {
  smbTimer = null;
  const batch = smbQueue.splice(0, smbQueue.length);
  if (batch.length === 0) return;
  for (let start = 0; start < batch.length; start += SMB_MAX_BATCH) {
    await smbSend(batch.slice(start, start + SMB_MAX_BATCH));
  }
}

async function smbSend(batch) {
  const settings = await smbSettings();
  if (!settings.code) {
    smbFail(batch, "SMB: not paired yet: open the SMB ML pane and enter the pairing code");
    return;
  }
  let response;
  try {
    response = await fetch(settings.url + "/api/call", {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-SMBML-Pairing": settings.code },
      body: JSON.stringify({ calls: batch.map((item) => ({ name: item.name, args: item.args })) }),
    });
  } catch (error) {
    smbFail(batch, "SMB: cannot reach smbml serve at " + settings.url + ": is it running?");
    return;
  }
  let answer = null;
  try {
    answer = await response.json();
  } catch (error) {
    answer = null;
  }
  if (!response.ok || !answer || !Array.isArray(answer.results)) {
    const why = answer && answer.error ? answer.error : "HTTP " + response.status;
    smbFail(batch, "SMB: " + why);
    return;
  }
  batch.forEach((item, i) => smbSettle(item, answer.results[i]));
}

function smbBlankRow(row) {
  return row.every((v) => v === "" || v === null || v === undefined);
}

// A whole-column reference (A:A) hands over a million rows, nearly all blank. Rows
// below the last one any range argument fills are cut before sending (only rows blank
// in every range go, so ranges of unequal size stay unequal), as the server does too.
function smbTrim(args) {
  const ranges = args.filter((a) => Array.isArray(a) && a.length && Array.isArray(a[0]));
  if (ranges.length === 0) return args;
  let used = 0;
  for (const rows of ranges) {
    let end = rows.length;
    while (end > used && smbBlankRow(rows[end - 1])) end -= 1;
    used = Math.max(used, end);
  }
  return args.map((a) => (ranges.includes(a) && a.length > used ? a.slice(0, used) : a));
}

// Excel passes an omitted optional argument as null or undefined: both go as null.
function smbCall(name, args) {
  const cleaned = smbTrim(args.map((value) => (value === undefined ? null : value)));
  return new Promise((resolve, reject) => {
    smbQueue.push({ name, args: cleaned, resolve, reject });
    if (smbQueue.length >= SMB_MAX_BATCH) {
      if (smbTimer) clearTimeout(smbTimer);
      smbFlush();
    } else if (!smbTimer) {
      smbTimer = setTimeout(smbFlush, SMB_BATCH_MS);
    }
  });
}

if (typeof globalThis !== "undefined") {
  globalThis.smbCall = smbCall;
  globalThis.smbRecentErrors = smbRecentErrors;
}
if (typeof module !== "undefined") {
  module.exports = {
    smbCall,
    smbCells,
    smbSettings,
    smbRecentErrors,
    smbTrim,
    SMB_PAIRING_KEY,
    SMB_SERVER_KEY,
  };
}
