// Microphone and speaker selection: the audio devices the browser lists (their names appear once the
// microphone was allowed), the choice kept in this browser, applied to the audio engine (the microphone
// opens with that deviceId; the AudioContext plays to that sink with setSinkId where the browser has it).

import { audio } from "./state.js";
import { $, el, store, toast } from "./ui.js";

const MIC_STORAGE = "voiceLetta.micDevice";
const SPEAKER_STORAGE = "voiceLetta.speakerDevice";

export const devices = { mics: [], speakers: [] };

function fill(select, list, chosen, fallback) {
  select.replaceChildren(Object.assign(el("option", "", fallback), { value: "" }));
  list.forEach((d, i) => {
    const o = el("option", "", d.label || `${d.kind === "audioinput" ? "Microphone" : "Speaker"} ${i + 1}`);
    o.value = d.deviceId;
    select.append(o);
  });
  select.value = list.some((d) => d.deviceId === chosen) ? chosen : "";
}

/** Read the device lists again (after the microphone was allowed, or when a device comes or goes). */
export async function refreshDevices() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.enumerateDevices) return;
  const all = await navigator.mediaDevices.enumerateDevices();
  devices.mics = all.filter((d) => d.kind === "audioinput" && d.deviceId !== "default" && d.deviceId);
  devices.speakers = all.filter((d) => d.kind === "audiooutput" && d.deviceId !== "default" && d.deviceId);
  fill($("mic-select"), devices.mics, store.get(MIC_STORAGE) || "", "Default microphone");
  fill($("speaker-select"), devices.speakers, store.get(SPEAKER_STORAGE) || "", "Default speaker");
  $("speaker-select").disabled = !audio.canChooseSpeaker;
  $("speaker-select").title = audio.canChooseSpeaker ? "" : "This browser cannot choose the audio output";
}

/** The chosen microphone ("" = the default one), for AudioEngine.startMic. */
export function chosenMic() {
  return store.get(MIC_STORAGE) || "";
}

/** Apply the chosen speaker to the audio engine (once its AudioContext exists). */
export async function applySpeaker() {
  const id = store.get(SPEAKER_STORAGE) || "";
  try {
    await audio.setSpeaker(id);
  } catch (err) {
    toast(`The speaker could not be selected: ${err.message || err}`, { kind: "warn" });
  }
}

export function initDevices({ onMicChange }) {
  $("mic-select").addEventListener("change", (e) => {
    store.set(MIC_STORAGE, e.target.value);
    onMicChange(e.target.value);
  });
  $("speaker-select").addEventListener("change", (e) => {
    store.set(SPEAKER_STORAGE, e.target.value);
    applySpeaker();
  });
  if (navigator.mediaDevices && navigator.mediaDevices.addEventListener) {
    navigator.mediaDevices.addEventListener("devicechange", () => refreshDevices());
  }
  refreshDevices();
}
