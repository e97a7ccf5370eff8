// What the agent is doing, shown under the microphone: idle, listening (the user is speaking), thinking
// (the turn is being answered) or speaking (its audio is playing), with a level meter: the microphone's
// level while listening, the agent's voice while speaking.

import { dbg } from "./state.js";
import { $ } from "./ui.js";

const LABELS = { idle: "Ready", listening: "Listening", thinking: "Thinking", speaking: "Speaking" };
let state = "idle";
let raf = 0;
let pending = 0;

export function setAgentState(next) {
  if (next === state) return;
  state = next;
  dbg.agentState = next;
  dbg.agentStates.push(next);
  if (dbg.agentStates.length > 200) dbg.agentStates.shift();
  const box = $("agent-state");
  box.dataset.state = next;
  $("agent-state-label").textContent = LABELS[next] || next;
  if (next === "idle" || next === "thinking") meter(0);
}

export function agentState() {
  return state;
}

/** Show a level (RMS of [-1, 1] audio) on the meter; perceptual scale: -60 dBFS → 0, -10 dBFS → full. */
export function meter(rms) {
  const db = 20 * Math.log10(Math.max(rms, 1e-6));
  pending = Math.min(1, Math.max(0, (db + 60) / 50));
  if (!raf) {
    raf = requestAnimationFrame(() => {
      raf = 0;
      $("agent-state").style.setProperty("--level", pending.toFixed(3));
    });
  }
}

/** A microphone level: shown while the user is the one talking (or nobody is). */
export function micLevel(rms) {
  if (state === "listening" || state === "idle") meter(state === "idle" ? rms * 0.5 : rms);
}

/** The agent's output level (from the playback worklet): shown while it speaks. */
export function outputLevel(rms) {
  if (state === "speaking") meter(rms);
}
