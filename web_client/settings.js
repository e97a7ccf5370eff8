// Session settings, kept in this browser and sent with session.update when a session opens and whenever
// one changes: the end-of-turn silence, end of turn on words, barge-in, live captions, the TTS voice and
// text-only replies (output_modalities ["text"]: no speech synthesis).

import { $, store } from "./ui.js";

const STORAGE = "voiceLetta.settings";
const DEFAULTS = { silenceMs: 600, endOfTurn: "words", bargeIn: true, captions: true, voice: "", textOnly: false,
  greet: false };

export const prefs = { ...DEFAULTS, ...(JSON.parse(store.get(STORAGE) || "{}") || {}) };

/** The session.update fields for these preferences. */
export function sessionFields() {
  const fields = {
    vad: { silence_ms: prefs.silenceMs, end_of_turn: prefs.endOfTurn, barge_in: prefs.bargeIn },
    partial_transcripts: prefs.captions,
    output_modalities: [prefs.textOnly ? "text" : "audio"],
  };
  if (prefs.voice) fields.voice = prefs.voice;
  return fields;
}

function render() {
  $("set-silence").value = String(prefs.silenceMs);
  $("set-silence-value").textContent = `${prefs.silenceMs} ms`;
  $("set-eot").checked = prefs.endOfTurn === "words";
  $("set-barge").checked = prefs.bargeIn;
  $("set-captions").checked = prefs.captions;
  $("set-voice").value = prefs.voice;
  $("set-text-only").checked = prefs.textOnly;
  $("set-greet").checked = prefs.greet;
}

export function initSettings({ onChange }) {
  render();
  const save = (fields) => {
    Object.assign(prefs, fields);
    store.set(STORAGE, JSON.stringify(prefs));
    render();
    onChange(fields);
  };
  $("set-silence").addEventListener("input", (e) => ($("set-silence-value").textContent = `${e.target.value} ms`));
  $("set-silence").addEventListener("change", (e) => save({ silenceMs: Number(e.target.value) }));
  $("set-eot").addEventListener("change", (e) => save({ endOfTurn: e.target.checked ? "words" : "silence" }));
  $("set-barge").addEventListener("change", (e) => save({ bargeIn: e.target.checked }));
  $("set-captions").addEventListener("change", (e) => save({ captions: e.target.checked }));
  $("set-text-only").addEventListener("change", (e) => save({ textOnly: e.target.checked }));
  $("set-greet").addEventListener("change", (e) => save({ greet: e.target.checked }));
  $("settings-form").addEventListener("submit", (e) => {
    e.preventDefault();
    save({ voice: $("set-voice").value.trim() });
  });
}
