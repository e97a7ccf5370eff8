// The agent's audio on this side: playback reports to the server (playback.progress while it plays,
// playback.stopped with what was heard when it ends or is cut), the output sample rate, and stopping it
// (the stop button, Escape, a barge-in or the server's playback.clear).

import { applySpeaker } from "./devices.js";
import { outputLevel, setAgentState } from "./indicator.js";
import { conn, send, sessionUpdate } from "./link.js";
import { OUTPUT_RATES_HZ, PROGRESS_EVERY_MS, S, audio, dbg } from "./state.js";
import { idleStatus } from "./status.js";
import { $, voiceStatus } from "./ui.js";

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

export function stopPlayback(reason, id) {
  S.clearReason = reason;
  if (id) S.dropped.add(id);
  if (S.audioId && (!id || S.audioId === id)) {
    S.dropped.add(S.audioId);
    S.audioId = null;
  }
  audio.clearPlayback();
}

export function preferredOutputRate() {
  const r = audio.sampleRate;
  return OUTPUT_RATES_HZ.includes(r) ? r : 24000;
}

/** Create/resume the AudioContext (from a user gesture) and ask for audio at its rate. */
export function ensureAudio() {
  return audio.ensure().then(() => {
    dbg.contextRate = audio.sampleRate;
    applySpeaker();
    if (conn.isOpen && S.session && S.session.output_sample_rate_hz !== preferredOutputRate()) {
      sessionUpdate({ output_sample_rate_hz: preferredOutputRate() });
      S.session = { ...S.session, output_sample_rate_hz: preferredOutputRate() };
    }
  }, () => {});
}

export function cancelResponse() {
  const id = S.active;
  if (!id) return;
  send({ type: "response.cancel", response_id: id });
  stopPlayback("interrupted", id);
}
$("stop").addEventListener("click", cancelResponse);
window.addEventListener("keydown", (e) => {
  if (e.key === "Escape" && S.active) cancelResponse();
});
