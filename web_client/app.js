// voice-letta browser client: agent picker, voice session over the native WebSocket (docs/protocol.md),
// live conversation, memory blocks and per-turn latency. Plain ES modules, no build step.

import { Api, ApiError } from "./api.js";
import { AudioEngine, MicError } from "./audio.js";
import { VoiceConnection } from "./connection.js";

const INPUT_RATE_HZ = 16000;
const OUTPUT_RATES_HZ = [8000, 16000, 22050, 24000, 44100, 48000];
const PROGRESS_EVERY_MS = 250;
const MODE_STORAGE = "voiceLetta.mode";
const AGENT_STORAGE = "voiceLetta.agent";

const $ = (id) => document.getElementById(id);
const el = (tag, cls, text) => {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
};
const store = {
  get(k) {
    try {
      return window.localStorage.getItem(k);
    } catch (_) {
      return null;
    }
  },
  set(k, v) {
    try {
      window.localStorage.setItem(k, v);
    } catch (_) {
      /* storage disabled */
    }
  },
};

// --- debug counters, read by the end-to-end tests ------------------------------------------------------
const dbg = {
  state: "idle",
  sessionId: null,
  outputRate: null,
  contextRate: null,
  framesSent: 0,
  bytesSent: 0,
  framesReceived: 0,
  framesDropped: 0,
  audioMsReceived: 0,
  playedMs: 0, // total ms of agent audio rendered (finished responses + the one playing)
  progressSent: 0,
  stoppedSent: 0,
  reports: [], // final playback reports sent: {response_id, played_ms, reason}
  events: {}, // server message type -> count
  errors: [], // server error events
  transcripts: [],
  responses: [], // {id, status, text, heard_text, timings}
  micError: null,
  micLevel: 0,
};
window.voiceLettaDebug = dbg;

// --- state -------------------------------------------------------------------------------------------
const api = new Api();
const audio = new AudioEngine();
const S = {
  agents: [],
  agentId: null,
  session: null,
  mode: store.get(MODE_STORAGE) === "push_to_talk" ? "push_to_talk" : "server_vad",
  micWanted: false,
  micBlocked: false,
  pttHeld: false,
  hearing: false,
  responses: new Map(), // id -> view state
  active: null, // id of the response in progress (not done)
  audioId: null, // id whose binary frames are arriving
  audioRate: 24000,
  dropped: new Set(), // responses cancelled locally: ignore their late audio
  playing: null, // id the playback worklet is rendering
  progress: new Map(), // id -> {ms, sentMs}
  clearReason: "cleared",
  playedDone: 0,
  blocks: new Map(),
  turns: [],
};

// --- UI: banner, toasts, status --------------------------------------------------------------------
let bannerAction = null;
function banner(kind, title, text, action) {
  const b = $("banner");
  b.dataset.kind = kind;
  $("banner-title").textContent = title;
  $("banner-text").textContent = text || "";
  const btn = $("banner-action");
  bannerAction = action ? action.run : null;
  btn.hidden = !action;
  if (action) btn.textContent = action.label;
  b.dataset.topic = (action && action.topic) || title;
  b.hidden = false;
}
function clearBanner(topic) {
  const b = $("banner");
  if (!topic || b.dataset.topic === topic) b.hidden = true;
}
$("banner-action").addEventListener("click", () => bannerAction && bannerAction());
$("banner-close").addEventListener("click", () => ($("banner").hidden = true));

function toast(message, { kind = "error", code = "", ms = 7000 } = {}) {
  const t = el("div", "toast");
  t.dataset.kind = kind;
  t.setAttribute("role", kind === "error" ? "alert" : "status");
  const body = el("div", "toast-body", message);
  if (code) body.append(el("span", "toast-code", code));
  const close = el("button", "", "×");
  close.type = "button";
  close.setAttribute("aria-label", "Dismiss");
  close.onclick = () => t.remove();
  t.append(body, close);
  $("toasts").append(t);
  while ($("toasts").children.length > 4) $("toasts").firstChild.remove();
  setTimeout(() => t.remove(), ms);
}

function setStatus(state, text) {
  dbg.state = state;
  $("status").dataset.state = state;
  $("status-text").textContent = text;
  $("connect").textContent = state === "idle" || state === "failed" ? "Connect" : "Disconnect";
  $("connect").classList.toggle("danger", !(state === "idle" || state === "failed"));
  renderMic();
}

function voiceStatus(text) {
  $("voice-status").textContent = text;
}

// --- side panel (drawer at narrow widths) -------------------------------------------------------------
function openPanel(open) {
  $("side").classList.toggle("open", open);
  $("scrim").hidden = !open;
  $("panel-toggle").setAttribute("aria-expanded", String(open));
}
$("panel-toggle").addEventListener("click", () => openPanel(!$("side").classList.contains("open")));
$("close-side").addEventListener("click", () => openPanel(false));
$("scrim").addEventListener("click", () => openPanel(false));

// --- agents ------------------------------------------------------------------------------------------
async function loadAgents() {
  try {
    S.agents = await api.listAgents();
  } catch (err) {
    handleApiError(err, loadAgents);
    return;
  }
  clearBanner("server");
  clearBanner("key");
  const sel = $("agent-select");
  sel.replaceChildren();
  for (const a of S.agents) {
    const o = el("option", "", a.name);
    o.value = a.id;
    sel.append(o);
  }
  const remembered = store.get(AGENT_STORAGE);
  const pick = S.agents.find((a) => a.id === S.agentId) || S.agents.find((a) => a.id === remembered) || S.agents[0];
  if (!S.agents.length) {
    sel.append(Object.assign(el("option", "", "No agents yet"), { value: "", disabled: true, selected: true }));
    $("new-agent-form").hidden = false;
    $("empty-title").textContent = "Create an agent to begin";
    selectAgent(null);
    return;
  }
  sel.value = pick.id;
  selectAgent(pick.id);
  if (startupPending) {
    startupPending = false;
    autoConnect();
  }
}
let startupPending = true;

let serverRetry = null;
function handleApiError(err, retry) {
  if (err instanceof ApiError && err.unauthorized) {
    banner("warn", "This server needs an API key.", "Paste it under “Server access”.", {
      label: "Enter key",
      topic: "key",
      run: () => {
        openPanel(true);
        $("api-key").focus();
      },
    });
    $("api-key").focus({ preventScroll: true });
    return;
  }
  if (err instanceof ApiError && err.unreachable) {
    banner("error", "Server unreachable.", "Check that voice-letta is running; retrying…", {
      label: "Retry",
      topic: "server",
      run: () => retry(),
    });
    clearTimeout(serverRetry);
    serverRetry = setTimeout(retry, 4000);
    return;
  }
  toast(err.message || String(err), { code: err.code || "" });
}

function agentById(id) {
  return S.agents.find((a) => a.id === id) || null;
}

function selectAgent(id) {
  const changed = id !== S.agentId;
  S.agentId = id;
  const a = agentById(id);
  $("connect").disabled = !a;
  $("agent-id-row").hidden = !a;
  $("agent-id").textContent = a ? a.id : "";
  const title = $("agent-title");
  title.replaceChildren();
  if (a) {
    title.append("Talking to ", el("strong", "", a.name));
    $("empty-title").textContent = `Talk to ${a.name}`;
    store.set(AGENT_STORAGE, a.id);
  }
  if (!changed) return;
  S.blocks.clear();
  renderBlocks();
  if (a) loadBlocks();
  if (conn.state !== "idle") {
    // The agent of a session is fixed after its first turn: start a new session.
    conn.close();
    resetConversationState();
    if (a) conn.open();
  }
}

$("agent-select").addEventListener("change", (e) => selectAgent(e.target.value || null));
$("new-agent-toggle").addEventListener("click", () => {
  const f = $("new-agent-form");
  f.hidden = !f.hidden;
  if (!f.hidden) $("new-agent-name").select();
});
$("new-agent-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const name = $("new-agent-name").value.trim();
  if (!name) return;
  try {
    const agent = await api.createAgent(name);
    $("new-agent-form").hidden = true;
    S.agentId = null;
    store.set(AGENT_STORAGE, agent.id);
    await loadAgents();
    toast(`Agent “${agent.name}” created.`, { kind: "info", ms: 3000 });
  } catch (err) {
    handleApiError(err, () => {});
  }
});
$("copy-id").addEventListener("click", async () => {
  try {
    await navigator.clipboard.writeText(S.agentId || "");
    toast("Agent id copied.", { kind: "info", ms: 2000 });
  } catch (_) {
    window.getSelection().selectAllChildren($("agent-id"));
  }
});

// --- memory blocks ----------------------------------------------------------------------------------
async function loadBlocks() {
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

function renderBlocks(flash = new Set()) {
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

function onMemoryUpdated(msg) {
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

// --- conversation ------------------------------------------------------------------------------------
const convo = $("conversation");
function scrollDown() {
  const near = convo.scrollHeight - convo.scrollTop - convo.clientHeight < 160;
  if (near) convo.scrollTop = convo.scrollHeight;
}
function hideEmpty() {
  $("empty").hidden = true;
}

function addUser(text, source) {
  hideEmpty();
  const m = el("div", "msg user");
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
}

function tag(icon, text, kind = "") {
  const t = el("span", `tag ${kind}`.trim());
  t.append(el("i", `ico ico-${icon}`), text);
  return t;
}

function addNote(text) {
  convo.append(el("div", "note", text));
  scrollDown();
}

function newResponse(id) {
  hideEmpty();
  const m = el("div", "msg agent");
  m.dataset.responseId = id;
  const avatar = el("div", "avatar", "AI");
  const b = el("div", "bubble");
  const tools = el("div", "tools");
  tools.hidden = true;
  const text = el("div", "text");
  const typing = el("span", "typing");
  typing.append(el("i"), el("i"), el("i"));
  text.append(typing);
  const meta = el("div", "meta");
  meta.hidden = true;
  b.append(tools, text, meta);
  m.append(avatar, b);
  convo.append(m);
  scrollDown();
  const r = { id, m, tools, textEl: text, meta, text: "", toolChips: new Map(), done: false };
  S.responses.set(id, r);
  return r;
}

function appendText(r, delta) {
  if (!delta) return;
  r.text += delta;
  r.textEl.textContent = r.text;
  scrollDown();
}

function onChunk(msg) {
  const r = S.responses.get(msg.response_id);
  if (!r) return;
  for (const choice of (msg.chunk && msg.chunk.choices) || []) {
    const d = choice.delta || {};
    if (typeof d.content === "string") appendText(r, d.content);
  }
}

function onToolStarted(msg) {
  const r = S.responses.get(msg.response_id);
  if (!r) return;
  const chip = el("span", "tool");
  chip.dataset.state = "running";
  chip.append(el("span", "spin"), el("code", "", msg.name));
  chip.title = msg.filler ? `Filler: “${msg.filler}”` : "Running…";
  r.tools.hidden = false;
  r.tools.append(chip);
  r.toolChips.set(msg.call_id, chip);
  voiceStatus(`Running ${msg.name}…`);
  scrollDown();
}

function onToolFinished(msg) {
  const r = S.responses.get(msg.response_id);
  const chip = r && r.toolChips.get(msg.call_id);
  if (!chip) return;
  chip.dataset.state = msg.ok ? "ok" : "failed";
  chip.replaceChildren(
    el("span", "", msg.ok ? "✓" : "✕"),
    el("code", "", msg.name),
    el("span", "", `${Math.round(msg.duration_ms)} ms`),
  );
}

function fmtMs(v) {
  if (v === undefined || v === null) return "–";
  return v >= 1000 ? `${(v / 1000).toFixed(2)} s` : `${Math.round(v)} ms`;
}

function onResponseDone(msg) {
  const r = S.responses.get(msg.response_id);
  dbg.responses.push({
    id: msg.response_id,
    status: msg.status,
    finish_reason: msg.finish_reason,
    text: r ? r.text : "",
    heard_text: msg.heard_text,
    timings: msg.timings_ms,
  });
  if (S.active === msg.response_id) S.active = null;
  updateStop();
  if (r) {
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
    } else if (msg.status === "failed") {
      meta.append(tag("cut", "reply failed", "err"));
      if (!r.text) r.textEl.textContent = "…";
    }
    const t = msg.timings_ms || {};
    const total = t.voice_to_voice_ms ?? t.transcript_to_audio_ms;
    if (total !== undefined) {
      meta.append(tag("clock", `${fmtMs(total)} ${t.voice_to_voice_ms !== undefined ? "voice to voice" : "to first audio"}`));
    } else if (t.first_token_ms !== undefined) {
      meta.append(tag("clock", `${fmtMs(t.first_token_ms)} to first token`));
    }
    meta.hidden = !meta.childElementCount;
    r.m.classList.remove("speaking");
  }
  if (msg.timings_ms && Object.keys(msg.timings_ms).length) {
    S.turns.push(msg.timings_ms);
    if (S.turns.length > 20) S.turns.shift();
    renderLatency();
  }
  idleStatus();
}

// --- latency panel ----------------------------------------------------------------------------------
function renderLatency() {
  const box = $("latency");
  const t = S.turns[S.turns.length - 1];
  if (!t) return;
  const speechToTranscript = t.endpointing_ms !== undefined || t.stt_ms !== undefined
    ? (t.endpointing_ms || 0) + (t.stt_ms || 0) : undefined;
  const firstToken = t.first_token_ms;
  const toAudio = t.transcript_to_audio_ms !== undefined && firstToken !== undefined
    ? Math.max(0, t.transcript_to_audio_ms - firstToken) : t.transcript_to_audio_ms;
  const parts = [
    ["c1", "End of speech → transcript", speechToTranscript],
    ["c2", "Transcript → first token", firstToken],
    ["c3", "First token → first audio", toAudio],
  ];
  const total = t.voice_to_voice_ms ?? t.transcript_to_audio_ms ?? parts.reduce((s, p) => s + (p[2] || 0), 0);
  box.replaceChildren();
  const head = el("div", "lat-total");
  head.append(el("strong", "", fmtMs(total)),
    el("span", "muted", t.voice_to_voice_ms !== undefined ? "voice to voice, last turn" : "to first audio, last turn (text)"));
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

function renderSessionInfo() {
  const dl = $("session-info");
  dl.replaceChildren();
  const s = S.session;
  if (!s) return;
  const rows = [
    ["session", dbg.sessionId],
    ["input", `${s.input_sample_rate_hz} Hz PCM16`],
    ["output", `${s.output_sample_rate_hz} Hz PCM16`],
    ["mode", s.turn_mode],
    ["vad", s.vad ? `${s.vad.engine}, ${s.vad.silence_ms} ms silence` : "–"],
  ];
  for (const [k, v] of rows) dl.append(el("dt", "", k), el("dd", "", v));
}

// --- playback reporting --------------------------------------------------------------------------------
function sendStopped(id, playedMs, reason) {
  const played = Math.max(0, Math.round(playedMs * 10) / 10);
  const report = { type: "playback.stopped", response_id: id, played_ms: played, reason };
  if (conn.send(report)) {
    dbg.stoppedSent += 1;
    dbg.reports.push({ response_id: id, played_ms: played, reason });
  }
  S.progress.delete(id);
}

audio.onPlayback = (m) => {
  const rate = audio.sampleRate || 48000;
  if (m.type === "started") {
    S.playing = m.id;
    const r = S.responses.get(m.id);
    if (r) r.m.classList.add("speaking");
    voiceStatus("Speaking…");
  } else if (m.type === "progress") {
    const p = S.progress.get(m.id) || { ms: 0, sentMs: -1 };
    p.ms = (m.frames * 1000) / rate;
    S.progress.set(m.id, p);
    dbg.playedMs = S.playedDone + p.ms;
  } else if (m.type === "ended") {
    const ms = (m.frames * 1000) / rate;
    S.playedDone += ms;
    dbg.playedMs = S.playedDone;
    if (S.playing === m.id) S.playing = null;
    const r = S.responses.get(m.id);
    if (r) r.m.classList.remove("speaking");
    sendStopped(m.id, ms, "finished");
    idleStatus();
  } else if (m.type === "cleared") {
    // Rendered but still in the output device's buffer was not heard: subtract the output latency.
    const lag = audio.outputLatencyMs();
    for (const rep of m.reports) {
      const ms = (rep.frames * 1000) / rate;
      S.playedDone += ms;
      sendStopped(rep.id, Math.max(0, ms - lag), S.clearReason);
      const r = S.responses.get(rep.id);
      if (r) r.m.classList.remove("speaking");
    }
    dbg.playedMs = S.playedDone;
    S.playing = null;
    idleStatus();
  }
};

setInterval(() => {
  for (const [id, p] of S.progress) {
    if (p.ms !== p.sentMs && conn.isOpen) {
      const played = Math.round(p.ms * 10) / 10;
      if (conn.send({ type: "playback.progress", response_id: id, played_ms: played })) dbg.progressSent += 1;
      p.sentMs = p.ms;
    }
  }
}, PROGRESS_EVERY_MS);

function stopPlayback(reason, id) {
  S.clearReason = reason;
  if (id) S.dropped.add(id);
  if (S.audioId && (!id || S.audioId === id)) {
    S.dropped.add(S.audioId);
    S.audioId = null;
  }
  audio.clearPlayback();
}

// --- the connection ------------------------------------------------------------------------------------
const conn = new VoiceConnection({
  urlFor: () => api.voiceUrl(S.agentId),
  diagnose: async (err, closeEvent, wasOpen) => {
    if (err instanceof ApiError && err.unauthorized) {
      handleApiError(err);
      return null;
    }
    const up = await api.health();
    if (!up) return "Server unreachable.";
    if (!wasOpen) {
      try {
        await api.listAgents();
      } catch (e) {
        if (e instanceof ApiError && e.unauthorized) {
          handleApiError(e);
          return null;
        }
      }
      return "The voice connection was refused.";
    }
    return closeEvent && closeEvent.code === 1001 ? "The server restarted." : "Connection lost.";
  },
  onState: (state, info) => {
    if (state === "connecting") {
      setStatus("connecting", info.attempt ? "Reconnecting…" : "Connecting…");
    } else if (state === "open") {
      setStatus("open", "Connected");
      clearBanner("conn");
    } else if (state === "reconnecting") {
      const secs = Math.max(1, Math.round(info.delayMs / 1000));
      setStatus("reconnecting", `Reconnecting in ${secs} s`);
      banner(info.reason.startsWith("Server unreachable") ? "error" : "warn", info.reason,
        `Reconnecting in ${secs} s…`, { label: "Retry now", topic: "conn", run: () => conn.retryNow() });
      onDisconnected();
    } else if (state === "failed") {
      setStatus("failed", "Disconnected");
      onDisconnected();
    } else {
      setStatus("idle", "Offline");
      onDisconnected();
      clearBanner("conn");
    }
  },
  onMessage: (msg) => onServerMessage(msg),
  onBinary: (buf) => {
    if (!S.audioId || S.dropped.has(S.audioId)) {
      dbg.framesDropped += 1;
      return;
    }
    dbg.framesReceived += 1;
    dbg.audioMsReceived += audio.play(S.audioId, buf, S.audioRate);
  },
});

function onDisconnected() {
  // Whatever was playing belongs to a session that is gone.
  if (S.audioId || S.playing || S.progress.size) {
    S.clearReason = "cleared";
    audio.clearPlayback();
  }
  S.audioId = null;
  S.active = null;
  S.hearing = false;
  updateStop();
  renderMic();
}

function resetConversationState() {
  S.responses.clear();
  S.progress.clear();
  S.dropped.clear();
  S.turns = [];
  convo.querySelectorAll(".msg, .note").forEach((n) => n.remove());
  $("empty").hidden = false;
  $("latency").replaceChildren(el("p", "muted", "Per-turn timings appear after the first reply."));
}

function preferredOutputRate() {
  const r = audio.sampleRate;
  return OUTPUT_RATES_HZ.includes(r) ? r : 24000;
}

/** Create/resume the AudioContext (from a user gesture) and ask for audio at its rate. */
function ensureAudio() {
  return audio.ensure().then(() => {
    dbg.contextRate = audio.sampleRate;
    if (conn.isOpen && S.session && S.session.output_sample_rate_hz !== preferredOutputRate()) {
      sessionUpdate({ output_sample_rate_hz: preferredOutputRate() });
      S.session = { ...S.session, output_sample_rate_hz: preferredOutputRate() };
    }
  }, () => {});
}

function sessionUpdate(fields) {
  conn.send({ type: "session.update", session: fields });
}

function onServerMessage(msg) {
  dbg.events[msg.type] = (dbg.events[msg.type] || 0) + 1;
  switch (msg.type) {
    case "session.created": {
      dbg.sessionId = msg.session_id;
      S.session = msg.session;
      const update = { input_sample_rate_hz: INPUT_RATE_HZ, turn_mode: S.mode };
      if (audio.sampleRate) update.output_sample_rate_hz = preferredOutputRate();
      sessionUpdate(update);
      renderSessionInfo();
      loadBlocks();
      idleStatus();
      break;
    }
    case "session.updated":
      S.session = msg.session;
      dbg.outputRate = msg.session.output_sample_rate_hz;
      renderSessionInfo();
      break;
    case "speech.started":
      S.hearing = true;
      renderMic();
      voiceStatus("Listening…");
      break;
    case "speech.stopped":
      S.hearing = false;
      renderMic();
      voiceStatus("…");
      break;
    case "transcript.final":
      dbg.transcripts.push(msg.text);
      S.hearing = false;
      renderMic();
      addUser(msg.text, msg.source);
      voiceStatus("Thinking…");
      break;
    case "response.created":
      S.active = msg.response_id;
      newResponse(msg.response_id);
      updateStop();
      voiceStatus("Thinking…");
      break;
    case "response.chunk":
      onChunk(msg);
      break;
    case "tool.started":
      onToolStarted(msg);
      break;
    case "tool.finished":
      onToolFinished(msg);
      break;
    case "response.audio.start":
      S.audioId = msg.response_id;
      S.audioRate = msg.sample_rate_hz;
      dbg.outputRate = msg.sample_rate_hz;
      break;
    case "response.audio.done":
      if (!S.dropped.has(msg.response_id)) audio.endResponse(msg.response_id);
      if (S.audioId === msg.response_id) S.audioId = null;
      break;
    case "playback.clear":
      stopPlayback("cleared", msg.response_id);
      break;
    case "response.done":
      onResponseDone(msg);
      break;
    case "memory.updated":
      onMemoryUpdated(msg);
      break;
    case "error":
      onServerError(msg);
      break;
    default:
      break; // pong and future messages
  }
}

const warnedOnce = new Set();
function onServerError(msg) {
  dbg.errors.push({ code: msg.code, message: msg.message });
  if (msg.code === "agent_not_found") {
    banner("error", "Agent not found.", msg.message, { label: "Reload agents", topic: "agent", run: loadAgents });
    conn.close();
    return;
  }
  if (msg.code === "tts_unavailable" || msg.code === "stt_unavailable") {
    if (warnedOnce.has(msg.code)) return;
    warnedOnce.add(msg.code);
    const what = msg.code === "tts_unavailable" ? "Replies are text only" : "Speech input is unavailable; type instead";
    toast(`${what}: ${msg.message}`, { kind: "warn", code: msg.code, ms: 9000 });
    return;
  }
  toast(msg.message, { kind: msg.retryable ? "warn" : "error", code: msg.code + (msg.retryable ? " · retryable" : "") });
}

// --- microphone ---------------------------------------------------------------------------------------
audio.inputRate = INPUT_RATE_HZ;
audio.onFrame = (pcm) => {
  if (!conn.isOpen || !S.micWanted) return;
  if (S.mode === "push_to_talk" && !S.pttHeld) return;
  if (conn.sendBinary(pcm)) {
    dbg.framesSent += 1;
    dbg.bytesSent += pcm.byteLength;
  }
};
let levelRaf = 0;
let levelValue = 0;
audio.onLevel = (rms) => {
  // perceptual level: -60 dBFS → 0, -10 dBFS → 1
  const db = 20 * Math.log10(Math.max(rms, 1e-6));
  levelValue = Math.min(1, Math.max(0, (db + 60) / 50));
  dbg.micLevel = rms;
  if (!levelRaf) {
    levelRaf = requestAnimationFrame(() => {
      levelRaf = 0;
      $("mic").style.setProperty("--level", levelValue.toFixed(3));
    });
  }
};

function renderMic() {
  const mic = $("mic");
  let state = "idle";
  if (S.micBlocked) state = "blocked";
  else if (audio.micOn && S.micWanted) {
    state = S.mode === "push_to_talk" ? (S.pttHeld ? "held" : "ready") : "live";
  }
  mic.dataset.state = state;
  mic.dataset.hearing = String(S.hearing && state === "live");
  mic.setAttribute("aria-pressed", String(state === "live" || state === "held"));
  const label = {
    idle: S.mode === "push_to_talk" ? "Hold to talk" : "Start the microphone",
    live: "Mute the microphone",
    ready: "Hold to talk",
    held: "Release to send",
    blocked: "Microphone blocked",
  }[state];
  mic.setAttribute("aria-label", label);
  mic.title = label;
}

function idleStatus() {
  if (S.active || S.playing) return;
  if (conn.state !== "open") {
    voiceStatus(S.agentId ? "Tap the microphone to start" : "Create an agent to start");
    return;
  }
  if (S.micBlocked) voiceStatus("Microphone blocked: type instead");
  else if (!audio.micOn || !S.micWanted) voiceStatus(S.mode === "push_to_talk" ? "Hold to talk" : "Mic off: tap to talk");
  else voiceStatus(S.mode === "push_to_talk" ? "Hold the button or space to talk" : "Listening");
}

async function ensureConnected() {
  if (!S.agentId) {
    openPanel(true);
    $("new-agent-form").hidden = false;
    toast("Create or pick an agent first.", { kind: "info", ms: 3000 });
    return false;
  }
  if (conn.state === "idle" || conn.state === "failed") conn.open();
  return true;
}

async function startMic() {
  S.micWanted = true;
  try {
    await audio.startMic();
    S.micBlocked = false;
    dbg.micError = null;
    clearBanner("mic");
    ensureAudio();
  } catch (err) {
    S.micWanted = false;
    const kind = err instanceof MicError ? err.kind : "failed";
    dbg.micError = kind;
    if (kind === "denied") {
      S.micBlocked = true;
      banner("error", "Microphone access was blocked.",
        "Allow the microphone for this site in the browser's address bar or settings, then try again. You can still type.",
        { label: "Try again", topic: "mic", run: () => startMic() });
    } else {
      banner("error", err.message || "The microphone could not be opened.", "You can still type your messages.",
        { label: "Try again", topic: "mic", run: () => startMic() });
    }
  }
  renderMic();
  idleStatus();
}

function stopMic() {
  S.micWanted = false;
  S.pttHeld = false;
  audio.stopMic();
  renderMic();
  idleStatus();
}

$("mic").addEventListener("click", async () => {
  if (S.mode === "push_to_talk") return; // press and release handle it
  if (!(await ensureConnected())) return;
  if (audio.micOn && S.micWanted) stopMic();
  else await startMic();
});

async function pttDown() {
  if (S.mode !== "push_to_talk" || S.pttHeld) return;
  if (!(await ensureConnected())) return;
  if (S.active) cancelResponse();
  S.pttHeld = true;
  conn.send({ type: "input_audio.clear" });
  renderMic();
  voiceStatus("Listening… release to send");
  if (!audio.micOn) await startMic();
  else S.micWanted = true;
  renderMic();
}
function pttUp() {
  if (!S.pttHeld) return;
  S.pttHeld = false;
  conn.send({ type: "input_audio.commit" });
  renderMic();
  voiceStatus("Thinking…");
}
$("mic").addEventListener("pointerdown", (e) => {
  if (S.mode !== "push_to_talk") return;
  e.preventDefault();
  $("mic").setPointerCapture(e.pointerId);
  pttDown();
});
$("mic").addEventListener("pointerup", pttUp);
$("mic").addEventListener("pointercancel", pttUp);
const typingTarget = (t) => t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.isContentEditable);
window.addEventListener("keydown", (e) => {
  if (e.code !== "Space" || e.repeat || typingTarget(e.target) || S.mode !== "push_to_talk") return;
  e.preventDefault();
  pttDown();
});
window.addEventListener("keyup", (e) => {
  if (e.code !== "Space" || typingTarget(e.target)) return;
  if (S.pttHeld) {
    e.preventDefault();
    pttUp();
  }
});
window.addEventListener("blur", pttUp);

function setMode(mode) {
  S.mode = mode;
  store.set(MODE_STORAGE, mode);
  for (const b of document.querySelectorAll(".segmented button")) {
    b.setAttribute("aria-checked", String(b.dataset.mode === mode));
  }
  S.pttHeld = false;
  if (conn.isOpen) sessionUpdate({ turn_mode: mode });
  renderMic();
  idleStatus();
}
for (const b of document.querySelectorAll(".segmented button")) {
  b.addEventListener("click", () => setMode(b.dataset.mode));
}

// --- cancel ---------------------------------------------------------------------------------------------
function cancelResponse() {
  const id = S.active;
  if (!id) return;
  conn.send({ type: "response.cancel", response_id: id });
  stopPlayback("interrupted", id);
}
function updateStop() {
  $("stop").hidden = !S.active;
}
$("stop").addEventListener("click", cancelResponse);
window.addEventListener("keydown", (e) => {
  if (e.key === "Escape" && S.active) cancelResponse();
});

// --- text input ---------------------------------------------------------------------------------------
$("text-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const input = $("text-input");
  const text = input.value.trim();
  if (!text) return;
  if (!(await ensureConnected())) return;
  ensureAudio(); // a user gesture: let the agent's audio play
  if (!conn.isOpen) {
    await waitOpen(8000);
    if (!conn.isOpen) {
      toast("Not connected yet. Your message was kept; try again in a moment.", { kind: "warn" });
      return;
    }
  }
  if (S.active) cancelResponse();
  conn.send({ type: "input_text", text });
  input.value = "";
});

function waitOpen(ms) {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const tick = () => (conn.isOpen && S.session) || Date.now() - t0 > ms ? resolve() : setTimeout(tick, 50);
    tick();
  });
}

// --- connect button and API key -------------------------------------------------------------------------
$("connect").addEventListener("click", () => {
  if (conn.state === "idle" || conn.state === "failed") {
    ensureAudio();
    conn.open();
  } else {
    conn.close();
  }
});

$("api-key").value = api.key;
$("key-form").addEventListener("submit", (e) => {
  e.preventDefault();
  api.setKey($("api-key").value);
  toast(api.key ? "API key saved in this browser." : "API key removed.", { kind: "info", ms: 2500 });
  if (conn.state !== "idle") conn.close();
  loadAgents().then(autoConnect);
});
$("clear-key").addEventListener("click", () => {
  api.setKey("");
  $("api-key").value = "";
  toast("API key removed from this browser.", { kind: "info", ms: 2500 });
});

// --- start ----------------------------------------------------------------------------------------------
setMode(S.mode);
setStatus("idle", "Offline");
window.voiceLetta = { conn, audio, state: S, connect: ensureConnected, startMic, stopMic, cancel: cancelResponse };
function autoConnect() {
  if (S.agentId && (conn.state === "idle" || conn.state === "failed")) conn.open();
}
loadAgents();
