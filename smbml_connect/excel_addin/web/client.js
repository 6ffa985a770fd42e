// Talks to `smbml serve` for the SMB.* worksheet functions.
//
// One recalculation can ask for hundreds of cells at once, so calls made within
// BATCH_MS of each other go to the server together and each promise is settled from its
// slot in the answer. A range several of them pass (a formula filled down over the same
// rows) travels once per request. A request holds at most SMB_MAX_BATCH calls and
// SMB_MAX_BYTES of body (the server's cap), so calls that together are too big go in
// several requests: only a call too big on its own fails, with words naming it. A server
// that refuses a body with a smaller cap of its own (413 with max_bytes) has the calls
// packed again under that cap, which is then kept. The pairing code (typed once in the
// task pane) is kept in OfficeRuntime.storage. The add-in declares a shared runtime:
// this file runs in the task pane's page, served by `smbml serve` itself, so every
// request is same-origin.
//
// A failure rejects with an Excel error value (CustomFunctions.Error) that carries the
// message, shown in the cell's error flag: IFERROR catches it and no message text is
// saved into the workbook as if it were a result. The latest messages are kept for
// the task pane (smbRecentErrors).
/* global OfficeRuntime, CustomFunctions */

const SMB_BATCH_MS = 30;
const SMB_MAX_BATCH = 2000;
const SMB_MAX_BYTES = 64 * 1024 * 1024; // smbml serve's MAX_BODY_BYTES (serve.py)
const SMB_MB = 1024 * 1024;
const SMB_PAIRING_KEY = "smbml-pairing-code";
const SMB_SERVER_KEY = "smbml-server-url";

// The server's error values, as names of CustomFunctions.ErrorCode: the only two whose
// custom message Excel shows (Microsoft's ErrorCode reference: #NUM!, #DIV/0! and #NULL!
// take none, #NAME? and #REF! cannot be a function's answer). Any other code a server
// sends is #VALUE!, so its message still reaches the cell.
const SMB_ERROR_CODES = {
  "#VALUE!": "invalidValue",
  "#N/A": "notAvailable",
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

// The request body: {"ranges": {"0": [[...]], ...}, "calls": [{"name", "args", "refs"}]}.
// A range that several calls of a request pass (a formula filled down over $B$2:$B$20001)
// is in `ranges` once; each call holding it has null in its place and {"position": id} in
// refs, and the server puts it back before the call runs. Older servers have no
// SMB_CALL_PATH and answer 404 or 405: the cells then say the server is older.
const SMB_CALL_PATH = "/api/batch";
const SMB_SHARE_MIN = 64; // bytes: a shorter range costs less inline than by reference
const SMB_ENCODER = new TextEncoder();
const SMB_OPEN = SMB_ENCODER.encode('{"ranges":{');
const SMB_MIDDLE = SMB_ENCODER.encode('},"calls":[');
const SMB_CLOSE = SMB_ENCODER.encode("]}");
const SMB_COMMA = SMB_ENCODER.encode(",");
const SMB_NULL = SMB_ENCODER.encode("null");
const SMB_FRAME = SMB_OPEN.length + SMB_MIDDLE.length + SMB_CLOSE.length;

// A call's arguments as wire pieces, each encoded once: a range (any array) is the entry
// of `ranges` for its JSON text, one per distinct text, so equal values in the same shape
// are one entry however many cells pass them; any other argument is its own bytes.
function smbPieces(item, ranges) {
  if (item.pieces) return;
  item.pieces = item.args.map((arg) => {
    const text = JSON.stringify(arg);
    if (!Array.isArray(arg)) return SMB_ENCODER.encode(text);
    let range = ranges.get(text);
    if (!range) {
      range = { id: ranges.size, bytes: SMB_ENCODER.encode(text) };
      ranges.set(text, range);
    }
    return range;
  });
}

// The ranges that travel once: passed more than once in the batch, and long enough that
// a reference is shorter than the range written out again.
function smbShared(items) {
  const uses = new Map();
  for (const item of items) {
    for (const piece of item.pieces) {
      if (!(piece instanceof Uint8Array)) uses.set(piece, (uses.get(piece) || 0) + 1);
    }
  }
  const shared = new Set();
  for (const [range, count] of uses) {
    if (count > 1 && range.bytes.length >= SMB_SHARE_MIN) shared.add(range);
  }
  return shared;
}

// One call as it goes on the wire, in chunks: a range in `shared` is null in its place.
function smbCallChunks(item, shared) {
  const chunks = [SMB_ENCODER.encode('{"name":' + JSON.stringify(item.name) + ',"args":[')];
  const refs = [];
  item.pieces.forEach((piece, i) => {
    if (i > 0) chunks.push(SMB_COMMA);
    if (piece instanceof Uint8Array) {
      chunks.push(piece);
    } else if (shared.has(piece)) {
      chunks.push(SMB_NULL);
      refs.push('"' + i + '":' + piece.id);
    } else {
      chunks.push(piece.bytes);
    }
  });
  chunks.push(SMB_ENCODER.encode(refs.length ? '],"refs":{' + refs.join(",") + "}}" : "]}"));
  return chunks;
}

function smbEntryHead(range) {
  return SMB_ENCODER.encode('"' + range.id + '":');
}

function smbLength(chunks) {
  return chunks.reduce((total, chunk) => total + chunk.length, 0);
}

// What a call adds to a request: its own text, and the shared ranges it needs that the
// request does not hold yet (a comma before every entry but the first).
function smbAdded(request, item, shared) {
  let bytes = smbLength(smbCallChunks(item, shared)) + (request.items.length > 0 ? 1 : 0);
  let held = request.shared.size;
  for (const piece of new Set(item.pieces)) {
    if (!shared.has(piece) || request.shared.has(piece)) continue;
    bytes += (held > 0 ? 1 : 0) + smbEntryHead(piece).length + piece.bytes.length;
    held += 1;
  }
  return bytes;
}

function smbTake(request, item, shared, bytes) {
  request.items.push(item);
  request.bytes += bytes;
  for (const piece of item.pieces) if (shared.has(piece)) request.shared.add(piece);
}

function smbNewRequest() {
  return { items: [], shared: new Set(), bytes: SMB_FRAME };
}

// The calls in requests, in their order, each under both caps; every request holds the
// shared ranges its own calls refer to (a range goes in each request that needs it). A
// call too big on its own (with its ranges) is rejected here and never sent, so a
// recalculation's size never fails a cell that fits.
function smbRequests(batch, maxBytes = SMB_MAX_BYTES, maxCalls = SMB_MAX_BATCH) {
  const ranges = new Map();
  const live = [];
  for (const item of batch) {
    try {
      smbPieces(item, ranges);
      live.push(item);
    } catch (error) {
      // V8 caps one string near 512 MB: JSON.stringify throws a RangeError past it.
      item.reject(
        error instanceof RangeError
          ? smbTooBig(item, null, maxBytes)
          : smbError("#VALUE!", item.name + ": its arguments cannot be sent: " + error.message),
      );
    }
  }
  const shared = smbShared(live);
  const requests = [];
  let current = smbNewRequest();
  for (const item of live) {
    const alone = SMB_FRAME + smbAdded(smbNewRequest(), item, shared);
    if (alone > maxBytes) {
      item.reject(smbTooBig(item, alone, maxBytes));
      continue;
    }
    let bytes = smbAdded(current, item, shared);
    if (current.items.length >= maxCalls || (current.items.length > 0 && current.bytes + bytes > maxBytes)) {
      requests.push(current);
      current = smbNewRequest();
      bytes = alone - SMB_FRAME;
    }
    smbTake(current, item, shared, bytes);
  }
  if (current.items.length > 0) requests.push(current);
  return requests;
}

// Some of a request's calls as a request of their own, with only the ranges they use.
function smbPart(request, items) {
  const used = new Set(items.flatMap((item) => item.pieces));
  const shared = new Set([...request.shared].filter((range) => used.has(range)));
  return { items, shared, bytes: null };
}

// The body of one request, built from the encoded pieces (no second encoding).
function smbBody(request) {
  const chunks = [SMB_OPEN];
  let first = true;
  for (const range of request.shared) {
    if (!first) chunks.push(SMB_COMMA);
    chunks.push(smbEntryHead(range), range.bytes);
    first = false;
  }
  chunks.push(SMB_MIDDLE);
  request.items.forEach((item, i) => {
    if (i > 0) chunks.push(SMB_COMMA);
    chunks.push(...smbCallChunks(item, request.shared));
  });
  chunks.push(SMB_CLOSE);
  const body = new Uint8Array(smbLength(chunks));
  let at = 0;
  for (const chunk of chunks) {
    body.set(chunk, at);
    at += chunk.length;
  }
  return body;
}

async function smbFlush() {
  smbTimer = null;
  const batch = smbQueue.splice(0, smbQueue.length);
  if (batch.length === 0) return;
  for (const request of smbRequests(batch, smbMaxBytes)) {
    await smbSend(request);
    for (const item of request.items) item.pieces = null; // settled: its bytes can go
  }
}

async function smbSend(request) {
  const batch = request.items;
  const settings = await smbSettings();
  if (!settings.code) {
    smbFail(batch, "SMB: not paired yet: open the SMB ML pane and enter the pairing code");
    return;
  }
  let response;
  try {
    response = await fetch(settings.url + SMB_CALL_PATH, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-SMBML-Pairing": settings.code },
      body: smbBody(request),
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
    await smbRefused(request, answer);
    return;
  }
  if (response.status === 404 || response.status === 405) {
    const words = " is older than this add-in (it has no " + SMB_CALL_PATH + "): ";
    smbFail(batch, "SMB: smbml serve at " + settings.url + words + "update smbml_connect and start it again");
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
async function smbRefused(request, answer) {
  const batch = request.items;
  const cap = answer && Number.isInteger(answer.max_bytes) ? answer.max_bytes : null;
  if (cap !== null && cap > 0 && cap < smbMaxBytes) {
    smbMaxBytes = cap;
    for (const again of smbRequests(batch, cap)) await smbSend(again);
  } else if (batch.length > 1) {
    const half = Math.ceil(batch.length / 2);
    await smbSend(smbPart(request, batch.slice(0, half)));
    await smbSend(smbPart(request, batch.slice(half)));
  } else {
    batch[0].reject(smbTooBig(batch[0], smbBody(request).length, cap));
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
    SMB_CALL_PATH,
    SMB_MAX_BATCH,
    SMB_MAX_BYTES,
    SMB_PAIRING_KEY,
    SMB_SERVER_KEY,
  };
}
