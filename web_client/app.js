// voice-letta browser client: agent picker, voice session over the native WebSocket (docs/protocol.md),
// live conversation, memory blocks and per-turn latency. Plain ES modules, no build step.
//
// This module wires the pieces: the agent picker, the connection and the routing of server messages, the
// microphone (hands-free and push to talk), playback reports, typing, and the access key. The views live in
// conversation.js (messages, captions, tool chips, history, export), panels.js (memory, latency, session),
// indicator.js (listening / thinking / speaking), eventlog.js, devices.js and settings.js.

import { ApiError } from "./api.js";
import { MicError } from "./audio.js";
import { VoiceConnection } from "./connection.js";
import * as C from "./conversation.js";
import { applySpeaker, chosenMic, initDevices, refreshDevices } from "./devices.js";
import { logAudioFrame, logEvent } from "./eventlog.js";
import { micLevel, outputLevel, setAgentState } from "./indicator.js";
import { loadBlocks, onMemoryUpdated, recordTurn, renderBlocks, renderSessionInfo, resetLatency } from "./panels.js";
import { initSettings, prefs, sessionFields } from "./settings.js";
import { AGENT_STORAGE, INPUT_RATE_HZ, MODE_STORAGE, OUTPUT_RATES_HZ, PROGRESS_EVERY_MS, S, api, audio, dbg }
  from "./state.js";
import { $, banner, clearBanner, el, openPanel, store, toast, voiceStatus } from "./ui.js";

function setStatus(state, text) {
  dbg.state = state;
  $("status").dataset.state = state;
  $("status-text").textContent = text;
  $("connect").textContent = state === "idle" || state === "failed" ? "Connect" : "Disconnect";
  $("connect").classList.toggle("danger", !(state === "idle" || state === "failed"));
  renderMic();
}

// --- agents ------------------------------------------------------------------------------------------
let startupPending = true;
let historyFor = null; // the agent whose stored conversation is on screen

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
  if (historyFor !== null && historyFor !== id) resetConversationState();
  if (conn.state !== "idle") {
    // The agent of a session is fixed after its first turn: start a new session.
    conn.close();
    resetConversationState();
    if (a) conn.open();
  }
}

/** Show the agent's stored conversation once, when its first session opens on a fresh page. */
async function loadHistory() {
  const id = S.agentId;
  if (!id || historyFor === id) return;
  historyFor = id;
  try {
    const messages = await api.messages(id);
    if (id !== S.agentId || C.entryCount()) return; // switched away, or the talk already started
    C.renderHistory(messages);
  } catch (err) {
    if (!(err instanceof ApiError && (err.unreachable || err.unauthorized))) toast(err.message, { code: err.code });
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
$("export-md").addEventListener("click", () => C.exportTranscript("md", (agentById(S.agentId) || {}).name));
$("export-json").addEventListener("click", () => C.exportTranscript("json", (agentById(S.agentId) || {}).name));

// --- playback reporting --------------------------------------------------------------------------------
function sendStopped(id, playedMs, reason) {
  const played = Math.max(0, Math.round(playedMs * 10) / 10);
  const report = { type: "playback.stopped", response_id: id, played_ms: played, reason };
  if (send(report)) {
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
    setAgentState("speaking");
    voiceStatus("Speaking…");
  } else if (m.type === "progress") {
    const p = S.progress.get(m.id) || { ms: 0, sentMs: -1 };
    p.ms = (m.frames * 1000) / rate;
    S.progress.set(m.id, p);
    dbg.playedMs = S.playedDone + p.ms;
    outputLevel(m.level || 0);
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
  onMessage: (msg) => {
    logEvent("in", msg);
    onServerMessage(msg);
  },
  onBinary: (buf) => {
    logAudioFrame();
    if (!S.audioId || S.dropped.has(S.audioId)) {
      dbg.framesDropped += 1;
      return;
    }
    dbg.framesReceived += 1;
    dbg.audioMsReceived += audio.play(S.audioId, buf, S.audioRate);
  },
});

/** Send a protocol message (and show it in the event log). */
function send(msg) {
  const ok = conn.send(msg);
  if (ok) logEvent("out", msg);
  return ok;
}

function onDisconnected() {
  // Whatever was playing belongs to a session that is gone.
  if (S.audioId || S.playing || S.progress.size) {
    S.clearReason = "cleared";
    audio.clearPlayback();
  }
  S.audioId = null;
  S.active = null;
  S.hearing = false;
  C.clearCaption();
  setAgentState("idle");
  updateStop();
  renderMic();
}

function resetConversationState() {
  C.resetConversation();
  S.progress.clear();
  S.dropped.clear();
  historyFor = null;
  resetLatency();
}

function preferredOutputRate() {
  const r = audio.sampleRate;
  return OUTPUT_RATES_HZ.includes(r) ? r : 24000;
}

/** Create/resume the AudioContext (from a user gesture) and ask for audio at its rate. */
function ensureAudio() {
  return audio.ensure().then(() => {
    dbg.contextRate = audio.sampleRate;
    applySpeaker();
    if (conn.isOpen && S.session && S.session.output_sample_rate_hz !== preferredOutputRate()) {
      sessionUpdate({ output_sample_rate_hz: preferredOutputRate() });
      S.session = { ...S.session, output_sample_rate_hz: preferredOutputRate() };
    }
  }, () => {});
}

function sessionUpdate(fields) {
  send({ type: "session.update", session: fields });
}

function onServerMessage(msg) {
  dbg.events[msg.type] = (dbg.events[msg.type] || 0) + 1;
  switch (msg.type) {
    case "session.created": {
      dbg.sessionId = msg.session_id;
      S.session = msg.session;
      const update = { input_sample_rate_hz: INPUT_RATE_HZ, turn_mode: S.mode, ...sessionFields() };
      if (audio.sampleRate) update.output_sample_rate_hz = preferredOutputRate();
      sessionUpdate(update);
      renderSessionInfo();
      loadBlocks();
      const fresh = historyFor !== S.agentId && !C.entryCount();
      loadHistory().then(() => {
        if (fresh && prefs.greet) send({ type: "response.create", greeting: true });
      });
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
      setAgentState("listening");
      voiceStatus("Listening…");
      break;
    case "speech.stopped":
      S.hearing = false;
      renderMic();
      voiceStatus("…");
      break;
    case "transcript.partial":
      dbg.partials.push(msg.text);
      C.showCaption(msg.text);
      break;
    case "transcript.final":
      dbg.transcripts.push(msg.text);
      S.hearing = false;
      renderMic();
      C.addUser(msg.text, msg.source);
      setAgentState("thinking");
      voiceStatus("Thinking…");
      break;
    case "input_audio.empty":
      C.clearCaption();
      if (S.mode === "push_to_talk") toast("Nothing was heard: hold the button while you speak.", { kind: "info", ms: 3000 });
      idleStatus();
      break;
    case "response.created":
      S.active = msg.response_id;
      C.newResponse(msg.response_id);
      updateStop();
      setAgentState("thinking");
      voiceStatus("Thinking…");
      break;
    case "response.chunk":
      C.onChunk(msg);
      break;
    case "tool.started":
      C.onToolStarted(msg);
      break;
    case "tool.finished":
      C.onToolFinished(msg);
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
  C.finishResponse(msg);
  recordTurn(msg.timings_ms);
  idleStatus();
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
  micLevel(rms);
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
  setAgentState(S.hearing ? "listening" : "idle");
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
    await audio.startMic(chosenMic());
    S.micBlocked = false;
    dbg.micError = null;
    clearBanner("mic");
    ensureAudio();
    refreshDevices(); // device names are listed once the microphone is allowed
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
  send({ type: "input_audio.clear" });
  renderMic();
  setAgentState("listening");
  voiceStatus("Listening… release to send");
  if (!audio.micOn) await startMic();
  else S.micWanted = true;
  renderMic();
}
function pttUp() {
  if (!S.pttHeld) return;
  S.pttHeld = false;
  send({ type: "input_audio.commit" });
  renderMic();
  setAgentState("thinking");
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
  send({ type: "response.cancel", response_id: id });
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
  send({ type: "input_text", text });
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
initSettings({ onChange: () => conn.isOpen && sessionUpdate(sessionFields()) });
initDevices({
  onMicChange: () => {
    if (audio.micOn && S.micWanted) startMic(); // reopen on the chosen device
  },
});
setMode(S.mode);
setStatus("idle", "Offline");
window.voiceLetta = { conn, audio, state: S, connect: ensureConnected, startMic, stopMic, cancel: cancelResponse };
function autoConnect() {
  if (S.agentId && (conn.state === "idle" || conn.state === "failed")) conn.open();
}
loadAgents();
