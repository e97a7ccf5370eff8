// The page's voice connection (connection.js) and sending on it. app.js attaches what happens when its state
// changes or a server message arrives (conn.onState, conn.onMessage, conn.diagnose); agent audio frames go
// straight to the audio engine here.

import { VoiceConnection } from "./connection.js";
import { logAudioFrame, logEvent } from "./eventlog.js";
import { S, api, audio, dbg } from "./state.js";
import { $, openPanel, toast } from "./ui.js";

export const conn = new VoiceConnection({
  urlFor: () => api.voiceUrl(S.agentId),
  diagnose: async () => null, // set by app.js
  onState: () => {}, // set by app.js
  onMessage: () => {}, // set by app.js
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
export function send(msg) {
  const ok = conn.send(msg);
  if (ok) logEvent("out", msg);
  return ok;
}

export function sessionUpdate(fields) {
  send({ type: "session.update", session: fields });
}

export async function ensureConnected() {
  if (!S.agentId) {
    openPanel(true);
    $("new-agent-form").hidden = false;
    toast("Create or pick an agent first.", { kind: "info", ms: 3000 });
    return false;
  }
  if (conn.state === "idle" || conn.state === "failed") conn.open();
  return true;
}

export function autoConnect() {
  if (S.agentId && (conn.state === "idle" || conn.state === "failed")) conn.open();
}
