// The conversation column: the user's turns (with a live caption while they speak), the agent's streamed
// replies with their tool chips (click to see the arguments and the result), notes, the history reloaded
// from the server, and the transcript export (Markdown or JSON).

import { S, dbg } from "./state.js";
import { $, download, el, fmtMs, tag, voiceStatus } from "./ui.js";

const convo = $("conversation");
// Everything shown, as data, for the export: {role, text, at, source?, tools?, interrupted?, heard?, history?}
const entries = [];

export function scrollDown() {
  const near = convo.scrollHeight - convo.scrollTop - convo.clientHeight < 160;
  if (near) convo.scrollTop = convo.scrollHeight;
}

function hideEmpty() {
  $("empty").hidden = true;
}

// --- the user --------------------------------------------------------------------------------------------
let caption = null; // the live caption element of the utterance being spoken

/** The words so far of what the user is saying (transcript.partial): one bubble, rewritten in place. */
export function showCaption(text) {
  hideEmpty();
  if (!caption) {
    caption = el("div", "msg user caption");
    const b = el("div", "bubble");
    b.append(el("div", "text"));
    caption.append(b);
    convo.append(caption);
  }
  caption.querySelector(".text").textContent = text;
  convo.scrollTop = convo.scrollHeight;
}

export function clearCaption() {
  if (caption) caption.remove();
  caption = null;
}

export function addUser(text, source, { history = false, at = Date.now() } = {}) {
  clearCaption();
  hideEmpty();
  const m = el("div", history ? "msg user past" : "msg user");
  const b = el("div", "bubble");
  b.append(el("div", "text", text));
  if (source === "audio") {
    const meta = el("div", "meta");
    meta.append(tag("mic", "voice"));
    b.append(meta);
  }
  m.append(b);
  convo.append(m);
  convo.scrollTop = convo.scrollHeight;
  entries.push({ role: "user", text, at, source: source || "text", history });
}

export function addNote(text) {
  convo.append(el("div", "note", text));
  scrollDown();
}

// --- the agent -------------------------------------------------------------------------------------------
export function newResponse(id, { history = false } = {}) {
  hideEmpty();
  const m = el("div", history ? "msg agent past" : "msg agent");
  m.dataset.responseId = id;
  const avatar = el("div", "avatar", "AI");
  const b = el("div", "bubble");
  const tools = el("div", "tools");
  tools.hidden = true;
  const text = el("div", "text");
  if (!history) {
    const typing = el("span", "typing");
    typing.append(el("i"), el("i"), el("i"));
    text.append(typing);
  }
  const meta = el("div", "meta");
  meta.hidden = true;
  b.append(tools, text, meta);
  m.append(avatar, b);
  convo.append(m);
  scrollDown();
  const entry = { role: "assistant", text: "", at: Date.now(), tools: [], history };
  entries.push(entry);
  const r = { id, m, tools, textEl: text, meta, text: "", chips: new Map(), calls: new Map(), done: false, entry };
  if (!history) S.responses.set(id, r);
  return r;
}

function appendText(r, delta) {
  if (!delta) return;
  r.text += delta;
  r.entry.text = r.text;
  r.textEl.textContent = r.text;
  scrollDown();
}

export function onChunk(msg) {
  const r = S.responses.get(msg.response_id);
  if (!r) return;
  for (const choice of (msg.chunk && msg.chunk.choices) || []) {
    const d = choice.delta || {};
    if (typeof d.content === "string") appendText(r, d.content);
    for (const tc of d.tool_calls || []) {
      // tool-call fragments: the first carries the id and name, the rest pieces of the arguments
      const call = r.calls.get(tc.index) || { id: null, name: "", args: "" };
      if (tc.id) call.id = tc.id;
      if (tc.function && tc.function.name) call.name = tc.function.name;
      if (tc.function && tc.function.arguments) call.args += tc.function.arguments;
      r.calls.set(tc.index, call);
      const chip = call.id && r.chips.get(call.id);
      if (chip) setChipArgs(chip, call.args);
    }
  }
}

function prettyJson(text) {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch (_) {
    return text || "";
  }
}

/** A tool chip: a <details> whose summary is the name and state, and whose body shows arguments and result. */
function makeChip(r, { name, state, filler }) {
  const chip = el("details", "tool");
  chip.dataset.state = state;
  const summary = el("summary");
  chip.append(summary);
  const body = el("div", "tool-body");
  if (filler) body.append(el("div", "tool-filler", `Said meanwhile: “${filler}”`));
  body.append(el("div", "tool-label", "Arguments"), el("pre", "tool-args", "…"));
  body.append(el("div", "tool-label", "Result"), el("pre", "tool-result", state === "running" ? "running…" : ""));
  chip.append(body);
  chip.dataset.name = name;
  renderChipSummary(chip, name, state);
  r.tools.hidden = false;
  r.tools.append(chip);
  return chip;
}

function renderChipSummary(chip, name, state, durationMs) {
  const summary = chip.querySelector("summary");
  const icon = state === "running" ? el("span", "spin") : el("span", "", state === "ok" ? "✓" : "✕");
  summary.replaceChildren(icon, el("code", "", name));
  if (durationMs !== undefined) summary.append(el("span", "", `${Math.round(durationMs)} ms`));
}

function setChipArgs(chip, args) {
  chip.querySelector(".tool-args").textContent = prettyJson(args);
}

function setChipResult(chip, output) {
  chip.querySelector(".tool-result").textContent = output === undefined || output === null ? "" : prettyJson(output);
}

export function onToolStarted(msg) {
  const r = S.responses.get(msg.response_id);
  if (!r) return;
  const chip = makeChip(r, { name: msg.name, state: "running", filler: msg.filler });
  r.chips.set(msg.call_id, chip);
  const call = [...r.calls.values()].find((c) => c.id === msg.call_id);
  if (call) setChipArgs(chip, call.args);
  r.entry.tools.push({ call_id: msg.call_id, name: msg.name, filler: msg.filler || null });
  voiceStatus(`Running ${msg.name}…`);
  scrollDown();
}

export function onToolFinished(msg) {
  const r = S.responses.get(msg.response_id);
  const chip = r && r.chips.get(msg.call_id);
  if (!chip) return;
  chip.dataset.state = msg.ok ? "ok" : "failed";
  renderChipSummary(chip, msg.name, msg.ok ? "ok" : "failed", msg.duration_ms);
  setChipResult(chip, msg.output);
  const t = r.entry.tools.find((x) => x.call_id === msg.call_id);
  const call = [...r.calls.values()].find((c) => c.id === msg.call_id);
  if (t) Object.assign(t, { ok: msg.ok, duration_ms: msg.duration_ms, output: msg.output ?? null,
    arguments: call ? call.args : null });
}

/** The end of a response, as the user sees it: what was heard of a cut reply, failures, its latency. */
export function finishResponse(msg) {
  const r = S.responses.get(msg.response_id);
  if (!r) return;
  r.done = true;
  const typing = r.textEl.querySelector(".typing");
  if (typing) typing.remove();
  const meta = r.meta;
  meta.replaceChildren();
  if (msg.status === "cancelled") {
    const heard = (msg.heard_text || "").trim();
    const full = r.text;
    r.textEl.replaceChildren();
    if (heard && full.startsWith(heard)) {
      r.textEl.append(document.createTextNode(heard), el("span", "unheard", full.slice(heard.length)));
    } else if (!heard && full) {
      r.textEl.append(el("span", "unheard", full));
    } else {
      r.textEl.textContent = heard || full;
    }
    meta.append(tag("cut", msg.finish_reason === "barge_in" ? "interrupted by you" : "stopped", "warn"));
    if (heard !== full.trim()) meta.append(el("span", "tag", "memory keeps only what was heard"));
    Object.assign(r.entry, { interrupted: true, heard });
  } else if (msg.status === "failed") {
    meta.append(tag("cut", "reply failed", "err"));
    if (!r.text) r.textEl.textContent = "…";
  }
  const t = msg.timings_ms || {};
  const total = t.voice_to_voice_ms ?? t.transcript_to_audio_ms;
  if (total !== undefined) {
    const label = t.key_hold_ms !== undefined ? "from release to voice"
      : t.voice_to_voice_ms !== undefined ? "voice to voice" : "to first audio";
    meta.append(tag("clock", `${fmtMs(total)} ${label}`));
  } else if (t.first_token_ms !== undefined) {
    meta.append(tag("clock", `${fmtMs(t.first_token_ms)} to first token`));
  }
  meta.hidden = !meta.childElementCount;
  r.m.classList.remove("speaking");
}

// --- history ---------------------------------------------------------------------------------------------
/** Show the agent's stored conversation (GET …/messages), oldest first, before anything said now. */
export function renderHistory(messages) {
  const results = new Map();
  for (const m of messages) if (m.role === "tool" && m.tool_call_id) results.set(m.tool_call_id, m);
  let shown = 0;
  let turn = null; // the agent bubble of the current turn: its filler lines, tool calls and answer
  for (const m of messages) {
    const at = (m.created_at || 0) * 1000;
    if (m.role === "user") {
      addUser(m.content || "", null, { history: true, at });
      turn = null;
      shown += 1;
    } else if (m.role === "assistant") {
      if (!turn || turn.turnId !== m.turn_id) {
        turn = newResponse(`history-${m.id}`, { history: true });
        turn.turnId = m.turn_id;
        turn.entry.at = at;
        shown += 1;
      }
      if (m.content) {
        turn.text += (turn.text ? " " : "") + m.content;
        turn.entry.text = turn.text;
        turn.textEl.textContent = turn.text;
      }
      for (const call of m.tool_calls || []) {
        const res = results.get(call.id);
        const failed = res && /^Error\b/.test(res.content || "");
        const chip = makeChip(turn, { name: call.name, state: failed ? "failed" : "ok" });
        setChipArgs(chip, call.arguments);
        setChipResult(chip, res ? res.content : "(no result)");
        turn.entry.tools.push({ call_id: call.id, name: call.name, arguments: call.arguments,
          output: res ? res.content : null, ok: !failed });
      }
      if (m.interrupted) {
        turn.meta.replaceChildren(tag("cut", "interrupted", "warn"));
        turn.meta.hidden = false;
        turn.entry.interrupted = true;
      }
    }
  }
  if (shown) {
    const note = el("div", "note history-end", "Earlier conversation above");
    convo.append(note);
    convo.scrollTop = convo.scrollHeight;
  }
  dbg.history = shown;
  return shown;
}

/** Remove everything shown (a new agent, a new session). */
export function resetConversation() {
  clearCaption();
  entries.length = 0;
  S.responses.clear();
  convo.querySelectorAll(".msg, .note").forEach((n) => n.remove());
  $("empty").hidden = false;
}

// --- export ----------------------------------------------------------------------------------------------
export function transcriptMarkdown(agentName) {
  const lines = [`# Conversation with ${agentName || "the agent"}`, "", `Exported ${new Date().toISOString()}`, ""];
  for (const e of entries) {
    const when = e.at ? new Date(e.at).toISOString().replace("T", " ").slice(0, 19) : "";
    const who = e.role === "user" ? `**You**${e.source === "audio" ? " (voice)" : ""}` : "**Agent**";
    lines.push(`${who} · ${when}${e.history ? " · earlier" : ""}`, "");
    for (const t of e.tools || []) {
      lines.push(`> tool \`${t.name}\`${t.ok === false ? " (failed)" : ""}: ${t.arguments || ""}`);
      if (t.output) lines.push(`> → ${String(t.output).replace(/\n/g, " ")}`);
    }
    if (e.interrupted && e.heard !== undefined) {
      lines.push(e.heard ? `${e.heard} *[interrupted]*` : "*[interrupted before any of it was heard]*");
    } else {
      lines.push(e.text || "");
    }
    lines.push("");
  }
  return lines.join("\n");
}

export function exportTranscript(format, agentName) {
  const stamp = new Date().toISOString().slice(0, 19).replace(/[:T]/g, "-");
  if (format === "json") {
    download(`conversation-${stamp}.json`, JSON.stringify({ agent: agentName, entries }, null, 2), "application/json");
  } else {
    download(`conversation-${stamp}.md`, transcriptMarkdown(agentName), "text/markdown");
  }
}

export function entryCount() {
  return entries.length;
}
