// The side panel's read-only cards: the agent's memory blocks (live on memory.updated), the latency of the
// last turns (response.done timings) and the session's settings as the server reports them.

import { ApiError } from "./api.js";
import { addNote } from "./conversation.js";
import { S, api, dbg } from "./state.js";
import { $, el, fmtMs, toast } from "./ui.js";

// --- memory blocks ----------------------------------------------------------------------------------
export async function loadBlocks() {
  const id = S.agentId;
  if (!id) return;
  try {
    const blocks = await api.blocks(id);
    if (id !== S.agentId) return;
    S.blocks.clear();
    for (const b of blocks || []) S.blocks.set(b.label, { label: b.label, value: b.value, version: b.version });
    renderBlocks();
  } catch (err) {
    if (!(err instanceof ApiError && (err.unreachable || err.unauthorized))) toast(err.message, { code: err.code });
  }
}

export function renderBlocks(flash = new Set()) {
  const box = $("blocks");
  box.replaceChildren();
  if (!S.blocks.size) {
    box.append(el("p", "muted", S.agentId ? "No memory blocks." : "Pick an agent to see its memory."));
    return;
  }
  for (const b of S.blocks.values()) {
    const card = el("div", "block");
    card.dataset.label = b.label;
    const head = el("div", "block-head");
    head.append(el("strong", "", b.label), el("span", "", `v${b.version}`));
    card.append(head, el("div", "block-value", b.value || "—"));
    if (flash.has(b.label)) card.classList.add("flash");
    box.append(card);
  }
}

export function onMemoryUpdated(msg) {
  if (msg.agent_id !== S.agentId) return;
  const changed = new Set();
  for (const b of msg.blocks || []) {
    const old = S.blocks.get(b.label);
    if (!old || old.value !== b.value || old.version !== b.version) changed.add(b.label);
    S.blocks.set(b.label, { label: b.label, value: b.value, version: b.version });
  }
  renderBlocks(changed);
  const bits = [];
  if (changed.size) bits.push(`${[...changed].join(", ")} updated`);
  if (msg.passages_added) bits.push(`${msg.passages_added} ${msg.passages_added === 1 ? "passage" : "passages"} archived`);
  if (bits.length) {
    addNote(`Memory: ${bits.join(" · ")}`);
    const badge = $("memory-note");
    badge.textContent = "updated";
    badge.hidden = false;
    setTimeout(() => (badge.hidden = true), 4000);
  }
}

// --- latency ----------------------------------------------------------------------------------------
export function recordTurn(timings) {
  if (!timings || !Object.keys(timings).length) return;
  S.turns.push(timings);
  if (S.turns.length > 20) S.turns.shift();
  renderLatency();
}

export function resetLatency() {
  S.turns = [];
  $("latency").replaceChildren(el("p", "muted", "Per-turn timings appear after the first reply."));
}

function renderLatency() {
  const box = $("latency");
  const t = S.turns[S.turns.length - 1];
  if (!t) return;
  const ptt = t.key_hold_ms !== undefined; // the user ended the turn (push-to-talk release): no endpointing
  const speechToTranscript = t.endpointing_ms !== undefined || t.stt_ms !== undefined
    ? (t.endpointing_ms || 0) + (t.stt_ms || 0) : undefined;
  const firstToken = t.first_token_ms;
  const toAudio = t.transcript_to_audio_ms !== undefined && firstToken !== undefined
    ? Math.max(0, t.transcript_to_audio_ms - firstToken) : t.transcript_to_audio_ms;
  const parts = [
    ["c1", ptt ? "Release → transcript" : "End of speech → transcript", speechToTranscript],
    ["c2", "Transcript → first token", firstToken],
    ["c3", "First token → first audio", toAudio],
  ];
  const total = t.voice_to_voice_ms ?? t.transcript_to_audio_ms ?? parts.reduce((s, p) => s + (p[2] || 0), 0);
  box.replaceChildren();
  const head = el("div", "lat-total");
  const what = ptt ? "release to voice, last turn"
    : t.voice_to_voice_ms !== undefined ? "voice to voice, last turn" : "to first audio, last turn (text)";
  head.append(el("strong", "", fmtMs(total)), el("span", "muted", what));
  const bar = el("div", "lat-bar");
  const sum = parts.reduce((s, p) => s + (p[2] || 0), 0) || 1;
  const legend = el("ul", "lat-legend");
  for (const [cls, label, v] of parts) {
    if (v !== undefined) {
      const seg = el("span", cls);
      seg.style.width = `${(100 * v) / sum}%`;
      seg.title = `${label}: ${fmtMs(v)}`;
      bar.append(seg);
    }
    const li = el("li");
    li.append(el("i", cls), el("span", "", label), el("b", "", fmtMs(v)));
    legend.append(li);
  }
  box.append(head, bar, legend);
  if (ptt) box.append(el("p", "muted small", `Key held ${fmtMs(t.key_hold_ms)} after you spoke (not counted).`));
  if (S.turns.length > 2) {
    const hist = el("div", "lat-history");
    hist.title = "Last turns (voice to voice or to first audio)";
    const totals = S.turns.map((x) => x.voice_to_voice_ms ?? x.transcript_to_audio_ms ?? 0);
    const max = Math.max(...totals, 1);
    for (const v of totals) {
      const s = el("span");
      s.style.height = `${Math.max(8, (100 * v) / max)}%`;
      s.title = fmtMs(v);
      hist.append(s);
    }
    box.append(hist);
  }
}

// --- session info -------------------------------------------------------------------------------------
export function renderSessionInfo() {
  const dl = $("session-info");
  dl.replaceChildren();
  const s = S.session;
  if (!s) return;
  const vad = s.vad || {};
  const rows = [
    ["session", dbg.sessionId],
    ["input", `${s.input_sample_rate_hz} Hz PCM16`],
    ["output", (s.output_modalities || ["audio"]).includes("audio") ? `${s.output_sample_rate_hz} Hz PCM16` : "text only"],
    ["mode", s.turn_mode],
    ["vad", s.vad ? `${vad.engine}, ${vad.silence_ms} ms silence, end of turn on ${vad.end_of_turn || "silence"}` : "–"],
  ];
  for (const [k, v] of rows) dl.append(el("dt", "", k), el("dd", "", v));
}
