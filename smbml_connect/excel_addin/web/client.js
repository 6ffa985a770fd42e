// Talks to `smbml serve` for the SMB.* worksheet functions.
//
// One recalculation can ask for hundreds of cells at once, so calls made within
// BATCH_MS of each other go to the server together and each promise is settled from its
// slot in the answer. A request holds at most SMB_MAX_BATCH calls and SMB_MAX_BYTES of
// body (the server's cap), so calls that together are too big go in several requests:
// only a call too big on its own fails, with words naming it. A server that refuses a
// body with a smaller cap of its own (413 with max_bytes) has the calls packed again
// under that cap, which is then kept. The pairing code (typed once in the task pane) is
// kept in OfficeRuntime.storage. The add-in declares a shared runtime: this file runs in
// the task pane's page, served by `smbml serve` itself, so every request is same-origin.
//
// A failure rejects with an Excel error value (CustomFunctions.Error) that carries the
// message, as Excel's own functions do: IFERROR catches it and no message text is
// saved into the workbook as if it were a result. The latest messages are kept for
// the task pane (smbRecentErrors).
/* global OfficeRuntime, CustomFunctions */

const SMB_BATCH_MS = 30;
const SMB_MAX_BATCH = 2000;
const SMB_MAX_BYTES = 64 * 1024 * 1024; // smbml serve's MAX_BODY_BYTES (serve.py)
const SMB_MB = 1024 * 1024;
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
let smbMaxBytes = SMB_MAX_BYTES;
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

function smbSize(bytes, round) {
  return bytes >= SMB_MB ? round(bytes / SMB_MB) + " MB" : round(bytes / 1024) + " KB";
}

// The words for a call whose own arguments are more than one request may carry: the
// user can act on them (a smaller range), unlike on a cap of the whole recalculation.
function smbTooBig(item, bytes, maxBytes) {
  let why = "more than the browser can send at once";
  if (bytes !== null && maxBytes !== null) {
    why = smbSize(bytes, Math.ceil) + "; it takes at most " + smbSize(maxBytes, Math.floor) + " per cell";
  } else if (bytes !== null) {
    why = smbSize(bytes, Math.ceil) + ", more than it accepts";
  }
  const words = ": its ranges are too big to send to smbml serve (" + why + "): give it smaller ranges";
  return smbError("#VALUE!", item.name + words);
}

const SMB_OPEN = '{"calls":[';
const SMB_CLOSE = "]}";
const SMB_FRAME = SMB_OPEN.length + SMB_CLOSE.length;

// Each call as it goes on the wire, UTF-8 encoded once; a call too big on its own is
// rejected here and never sent. The rest go in requests in their order, each under
// both caps, so a recalculation's size never fails a cell that fits.
function smbRequests(batch, maxBytes = SMB_MAX_BYTES, maxCalls = SMB_MAX_BATCH) {
  const encoder = new TextEncoder();
  const requests = [];
  let current = [];
  let bytes = SMB_FRAME;
  for (const item of batch) {
    try {
      item.body = item.body || encoder.encode(JSON.stringify({ name: item.name, args: item.args }));
    } catch (error) {
      // V8 caps one string near 512 MB: JSON.stringify throws a RangeError past it.
      item.reject(
        error instanceof RangeError
          ? smbTooBig(item, null, maxBytes)
          : smbError("#VALUE!", item.name + ": its arguments cannot be sent: " + error.message),
      );
      continue;
    }
    const size = item.body.length;
    if (SMB_FRAME + size > maxBytes) {
      item.reject(smbTooBig(item, size, maxBytes));
      continue;
    }
    if (current.length >= maxCalls || (current.length > 0 && bytes + 1 + size > maxBytes)) {
      requests.push(current);
      current = [];
      bytes = SMB_FRAME;
    }
    bytes += (current.length > 0 ? 1 : 0) + size; // a comma between calls
    current.push(item);
  }
  if (current.length > 0) requests.push(current);
  return requests;
}

// The body of one request, built from the calls' encoded bytes (no second encoding).
function smbBody(batch) {
  const encoder = new TextEncoder();
  const open = encoder.encode(SMB_OPEN);
  const close = encoder.encode(SMB_CLOSE);
  let size = open.length + close.length + batch.length - 1;
  for (const item of batch) size += item.body.length;
  const body = new Uint8Array(size);
  body.set(open, 0);
  let at = open.length;
  batch.forEach((item, i) => {
    if (i > 0) body[at++] = 44; // ","
    body.set(item.body, at);
    at += item.body.length;
  });
  body.set(close, at);
  return body;
}

async function smbFlush() {
  smbTimer = null;
  const batch = smbQueue.splice(0, smbQueue.length);
  if (batch.length === 0) return;
  for (const request of smbRequests(batch, smbMaxBytes)) {
    await smbSend(request);
    for (const item of request) item.body = null; // settled: its bytes can go
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
      body: smbBody(batch),
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
  if (response.status === 413) {
    await smbRefused(batch, answer);
    return;
  }
  if (!response.ok || !answer || !Array.isArray(answer.results)) {
    const why = answer && answer.error ? answer.error : "HTTP " + response.status;
    smbFail(batch, "SMB: " + why);
    return;
  }
  batch.forEach((item, i) => smbSettle(item, answer.results[i]));
}

// A 413 answered nothing. A server that names a cap below ours gets the calls packed
// again under it (and keeps it); otherwise halves go again until a call that still
// fails is alone, so it fails alone.
async function smbRefused(batch, answer) {
  const cap = answer && Number.isInteger(answer.max_bytes) ? answer.max_bytes : null;
  if (cap !== null && cap > 0 && cap < smbMaxBytes) {
    smbMaxBytes = cap;
    for (const request of smbRequests(batch, cap)) await smbSend(request);
  } else if (batch.length > 1) {
    const half = Math.ceil(batch.length / 2);
    await smbSend(batch.slice(0, half));
    await smbSend(batch.slice(half));
  } else {
    batch[0].reject(smbTooBig(batch[0], batch[0].body.length, cap));
  }
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
    smbRequests,
    smbBody,
    SMB_MAX_BATCH,
    SMB_MAX_BYTES,
    SMB_PAIRING_KEY,
    SMB_SERVER_KEY,
  };
}
