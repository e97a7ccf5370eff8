// What the page does with each server message of the voice protocol (docs/protocol.md): session state,
// speech and captions, responses and their audio, tools, memory updates and errors.

import { historyShownFor, loadAgents, loadHistory } from "./agents.js";
import * as C from "./conversation.js";
import { setAgentState } from "./indicator.js";
import { conn, send, sessionUpdate } from "./link.js";
import { loadBlocks, onMemoryUpdated, recordTurn, renderSessionInfo } from "./panels.js";
import { preferredOutputRate, stopPlayback } from "./playback.js";
import { prefs, sessionFields } from "./settings.js";
import { INPUT_RATE_HZ, S, audio, dbg } from "./state.js";
import { idleStatus, renderMic, updateStop } from "./status.js";
import { banner, toast, voiceStatus } from "./ui.js";

export function onServerMessage(msg) {
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
      const fresh = !historyShownFor(S.agentId) && !C.entryCount();
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
      // The server's answer to our own stop (response.cancel) may arrive before the worklet reports what it
      // played: that response was already cut here, and its report says "interrupted", not "cleared".
      if (!S.dropped.has(msg.response_id)) stopPlayback("cleared", msg.response_id);
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
