// What the page shows about the session: the connection status, the microphone button, the spoken status
// line between turns and the stop button.

import { setAgentState } from "./indicator.js";
import { conn } from "./link.js";
import { S, audio, dbg } from "./state.js";
import { $, voiceStatus } from "./ui.js";

export function setStatus(state, text) {
  dbg.state = state;
  $("status").dataset.state = state;
  $("status-text").textContent = text;
  $("connect").textContent = state === "idle" || state === "failed" ? "Connect" : "Disconnect";
  $("connect").classList.toggle("danger", !(state === "idle" || state === "failed"));
  renderMic();
}

export function renderMic() {
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

export function idleStatus() {
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

export function updateStop() {
  $("stop").hidden = !S.active;
}
