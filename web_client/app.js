// voice-letta browser client: agent picker, voice session over the native WebSocket (docs/protocol.md),
// live conversation, memory blocks and per-turn latency. Plain ES modules, no build step.
//
// This module wires the pieces and starts the page: what the connection's state changes do, typing, the
// connect button and the access key. The rest lives along its seams: link.js (the connection and sending),
// messages.js (what each server message does), agents.js (the agent picker, history), mic.js (hands-free and
// push to talk), playback.js (playback reports, stopping the agent's audio), status.js (connection status,
// mic and stop buttons); the views in conversation.js (messages, captions, tool chips, history, export),
// panels.js (memory, latency, session), indicator.js (listening / thinking / speaking), eventlog.js,
// devices.js and settings.js.

import { handleApiError, loadAgents } from "./agents.js";
import { ApiError } from "./api.js";
import * as C from "./conversation.js";
import { initDevices } from "./devices.js";
import { logEvent } from "./eventlog.js";
import { setAgentState } from "./indicator.js";
import { autoConnect, conn, ensureConnected, send, sessionUpdate } from "./link.js";
import { onServerMessage } from "./messages.js";
import { setMode, startMic, stopMic } from "./mic.js";
import { cancelResponse, ensureAudio } from "./playback.js";
import { initSettings, sessionFields } from "./settings.js";
import { S, api, audio } from "./state.js";
import { renderMic, setStatus, updateStop } from "./status.js";
import { $, banner, clearBanner, toast } from "./ui.js";

// --- the connection ------------------------------------------------------------------------------------
Object.assign(conn, {
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
  C.clearCaption();
  setAgentState("idle");
  updateStop();
  renderMic();
}

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
loadAgents();
