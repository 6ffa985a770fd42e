// Pairs the add-in with `smbml serve` and shows what the server says about itself.
/* global Office, OfficeRuntime */

const PAIRING_KEY = "smbml-pairing-code";
const SERVER_KEY = "smbml-server-url";

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
  if (s.notes && s.notes.length) {
    // Rows left out and other notes of the latest calculations (shown as text, never HTML).
    lines.push("", "Latest notes:", ...s.notes.slice().reverse());
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

Office.onReady(() => {
  document.getElementById("pair").onclick = pair;
  refresh();
  setInterval(refresh, 30000);
});
