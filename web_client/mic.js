// The microphone: hands-free (server VAD) or push to talk (hold the button or the space bar), its level
// meter, and the turn mode switch. Audio frames go to the server only while the microphone is wanted (and,
// in push to talk, held).

import { MicError } from "./audio.js";
import { chosenMic, refreshDevices } from "./devices.js";
import { micLevel, setAgentState } from "./indicator.js";
import { conn, ensureConnected, send, sessionUpdate } from "./link.js";
import { cancelResponse, ensureAudio } from "./playback.js";
import { INPUT_RATE_HZ, MODE_STORAGE, S, audio, dbg } from "./state.js";
import { idleStatus, renderMic } from "./status.js";
import { $, banner, clearBanner, store, voiceStatus } from "./ui.js";

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

export async function startMic() {
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

export function stopMic() {
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

export function setMode(mode) {
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
