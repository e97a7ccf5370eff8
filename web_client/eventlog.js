// The event log panel: the protocol messages of the session, both ways, newest last, in a collapsible card.
// Binary audio frames are not listed one by one (50 a second); they are counted per response instead.
// The log keeps the last MAX_ROWS messages; a filter box narrows it by type.

import { $, el } from "./ui.js";

const MAX_ROWS = 400;
const rows = []; // {dir, type, at, json}
let filter = "";
let audioIn = 0;

function visible(row) {
  return !filter || row.type.includes(filter);
}

function renderRow(row) {
  const li = el("li", `log-row log-${row.dir}`);
  li.dataset.type = row.type;
  const head = el("details");
  const summary = el("summary");
  summary.append(el("span", "log-dir", row.dir === "in" ? "←" : "→"), el("code", "log-type", row.type),
    el("span", "log-time", new Date(row.at).toISOString().slice(11, 23)));
  const pre = el("pre", "log-json");
  head.append(summary, pre);
  // the JSON is written into the page only when the row is opened (a long session has many rows)
  head.addEventListener("toggle", () => {
    pre.textContent = head.open ? row.json : "";
  });
  li.append(head);
  return li;
}

/** Record one message: ``dir`` "in" (server → page) or "out" (page → server). */
export function logEvent(dir, msg) {
  const type = (msg && msg.type) || "?";
  if (type === "playback.progress" || type === "pong" || type === "ping") return; // noise
  const row = { dir, type, at: Date.now(), json: JSON.stringify(msg, null, 2) };
  rows.push(row);
  const list = $("log-list");
  if (rows.length > MAX_ROWS) {
    rows.shift();
    if (list.firstChild) list.firstChild.remove();
  }
  if (visible(row)) {
    const stick = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    list.append(renderRow(row));
    if (stick) list.scrollTop = list.scrollHeight;
  }
  $("log-count").textContent = String(rows.length);
}

/** Count a binary audio frame (shown in the card's summary line, not as rows). */
export function logAudioFrame() {
  audioIn += 1;
  if (audioIn % 25 === 1) $("log-audio").textContent = `${audioIn} audio frames in`;
}

function rerender() {
  const list = $("log-list");
  list.replaceChildren(...rows.filter(visible).map(renderRow));
  list.scrollTop = list.scrollHeight;
}

$("log-filter").addEventListener("input", (e) => {
  filter = e.target.value.trim();
  rerender();
});
$("log-clear").addEventListener("click", () => {
  rows.length = 0;
  audioIn = 0;
  $("log-audio").textContent = "";
  $("log-count").textContent = "0";
  rerender();
});
