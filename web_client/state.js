// The page's shared state: the REST client, the audio engine, what the session is doing, and the debug
// counters the end-to-end tests read (window.voiceLettaDebug).

import { Api } from "./api.js";
import { AudioEngine } from "./audio.js";
import { store } from "./ui.js";

export const INPUT_RATE_HZ = 16000;
export const OUTPUT_RATES_HZ = [8000, 16000, 22050, 24000, 44100, 48000];
export const PROGRESS_EVERY_MS = 250;
export const MODE_STORAGE = "voiceLetta.mode";
export const AGENT_STORAGE = "voiceLetta.agent";

export const api = new Api();
export const audio = new AudioEngine();

export const dbg = {
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
  partials: [], // transcript.partial texts, in order
  responses: [], // {id, status, text, heard_text, timings}
  micError: null,
  micLevel: 0,
  agentState: "idle", // idle | listening | thinking | speaking
  agentStates: [], // the states it went through, in order
  history: 0, // messages shown from the stored history
};
window.voiceLettaDebug = dbg;

export const S = {
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
