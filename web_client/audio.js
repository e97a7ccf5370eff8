// Audio for the voice session: one AudioContext at the device's own rate, a capture worklet that sends
// 20 ms PCM16 frames at the session input rate, and a playback worklet that plays the agent's PCM16
// back to back and counts what was actually rendered.

const BASE = new URL(".", import.meta.url);

// Capture constraints, chosen on purpose: echo cancellation so the agent's voice does not barge in on
// itself, noise suppression for noisy rooms, and NO automatic gain control: AGC drove speech into
// clipping in our measurements (docs: deps.md §8), which hurts speech recognition.
export const MIC_CONSTRAINTS = {
  echoCancellation: true,
  noiseSuppression: true,
  autoGainControl: false,
  channelCount: 1,
};

export class MicError extends Error {
  constructor(kind, message) {
    super(message);
    this.kind = kind; // "denied" | "not_found" | "busy" | "insecure" | "unsupported" | "failed"
  }
}

export class AudioEngine {
  constructor() {
    this.ctx = null;
    this.playback = null;
    this.capture = null;
    this.stream = null;
    this.source = null;
    this.onFrame = null; // (ArrayBuffer pcm16) => void
    this.onLevel = null; // (rms, peak) => void
    this.onPlayback = null; // (message from the playback worklet) => void
    this.inputRate = 16000;
    this.micId = ""; // the open (or last) microphone's deviceId; "" = the default
    this.speakerId = ""; // the chosen output device; "" = the default
    this._ready = null;
    // stream resampler state for the agent's audio (output rate -> context rate)
    this._rs = { id: null, rate: 0, pos: 0, last: 0 };
  }

  get sampleRate() {
    return this.ctx ? this.ctx.sampleRate : 0;
  }

  /** Create (once) and resume the AudioContext; call from a user gesture. */
  async ensure() {
    if (!this._ready) {
      this._ready = (async () => {
        const Ctx = window.AudioContext || window.webkitAudioContext;
        if (!Ctx || !("audioWorklet" in Ctx.prototype)) {
          throw new MicError("unsupported", "This browser has no AudioWorklet support.");
        }
        const ctx = new Ctx({ latencyHint: "interactive" });
        await ctx.audioWorklet.addModule(new URL("capture-worklet.js", BASE));
        await ctx.audioWorklet.addModule(new URL("playback-worklet.js", BASE));
        const node = new AudioWorkletNode(ctx, "vl-playback", { numberOfInputs: 0, outputChannelCount: [1] });
        node.port.onmessage = (e) => this.onPlayback && this.onPlayback(e.data);
        node.connect(ctx.destination);
        this.ctx = ctx;
        this.playback = node;
        if (this.speakerId && this.canChooseSpeaker) await ctx.setSinkId(this.speakerId).catch(() => {});
      })();
      this._ready.catch(() => (this._ready = null));
    }
    await this._ready;
    if (this.ctx.state === "suspended") await this.ctx.resume();
  }

  /** Whether the page can choose the output device (AudioContext.setSinkId, Chromium 110+). */
  get canChooseSpeaker() {
    const Ctx = window.AudioContext || window.webkitAudioContext;
    return !!Ctx && "setSinkId" in Ctx.prototype;
  }

  /** Play to the output device ``id`` ("" = the system default). */
  async setSpeaker(id) {
    this.speakerId = id || "";
    if (this.ctx && this.canChooseSpeaker) await this.ctx.setSinkId(this.speakerId);
  }

  /** Open the microphone (``deviceId``: a chosen device, "" for the default); throws MicError. A different
   *  device than the open one closes that one first. */
  async startMic(deviceId = "") {
    await this.ensure();
    if (this.stream && deviceId === this.micId) return;
    if (this.stream) this.stopMic();
    this.micId = deviceId;
    if (!window.isSecureContext) {
      throw new MicError("insecure", "The microphone needs a secure page (https or localhost).");
    }
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      throw new MicError("unsupported", "This browser cannot capture audio.");
    }
    let stream;
    try {
      const constraints = deviceId ? { ...MIC_CONSTRAINTS, deviceId: { exact: deviceId } } : MIC_CONSTRAINTS;
      stream = await navigator.mediaDevices.getUserMedia({ audio: constraints, video: false });
    } catch (err) {
      const name = err && err.name;
      if (name === "NotAllowedError" || name === "SecurityError" || name === "PermissionDeniedError") {
        throw new MicError("denied", "Microphone access was blocked.");
      }
      if (name === "NotFoundError" || name === "OverconstrainedError" || name === "DevicesNotFoundError") {
        throw new MicError("not_found", "No microphone was found.");
      }
      if (name === "NotReadableError" || name === "AbortError") {
        throw new MicError("busy", "The microphone is in use by another application.");
      }
      throw new MicError("failed", `The microphone could not be opened (${name || err}).`);
    }
    const ctx = this.ctx;
    const source = ctx.createMediaStreamSource(stream);
    const capture = new AudioWorkletNode(ctx, "vl-capture", {
      numberOfInputs: 1,
      numberOfOutputs: 1,
      outputChannelCount: [1],
      processorOptions: { targetRate: this.inputRate, frameMs: 20 },
    });
    capture.port.onmessage = (e) => {
      const m = e.data;
      if (m.type === "frame" && this.onFrame) this.onFrame(m.pcm);
      if (this.onLevel) this.onLevel(m.rms, m.peak);
    };
    // Keep the capture node pulled by the graph without making a sound.
    const mute = ctx.createGain();
    mute.gain.value = 0;
    source.connect(capture);
    capture.connect(mute).connect(ctx.destination);
    this.stream = stream;
    this.source = source;
    this.capture = capture;
    this._mute = mute;
    for (const track of stream.getAudioTracks()) {
      track.addEventListener("ended", () => this.stopMic());
    }
  }

  get micOn() {
    return !!this.stream;
  }

  /** Whether captured frames go to onFrame (levels are reported either way). */
  setSending(on) {
    if (this.capture) this.capture.port.postMessage({ type: "sending", value: !!on });
  }

  stopMic() {
    if (!this.stream) return;
    for (const t of this.stream.getTracks()) t.stop();
    try {
      this.source.disconnect();
      this.capture.disconnect();
      this._mute.disconnect();
    } catch (_) {
      /* already disconnected */
    }
    this.stream = this.source = this.capture = this._mute = null;
    if (this.onLevel) this.onLevel(0, 0);
  }

  /** Queue one binary frame of the agent's PCM16 (at `rate` Hz) for response `id`. */
  play(id, pcm16, rate) {
    if (!this.playback) return 0;
    const ints = new Int16Array(pcm16); // PCM16 little-endian; every browser platform is little-endian
    const f = new Float32Array(ints.length);
    for (let i = 0; i < ints.length; i++) f[i] = ints[i] / 32768;
    const out = rate === this.ctx.sampleRate ? f : this._resample(id, f, rate);
    if (out.length) this.playback.port.postMessage({ type: "push", id, samples: out }, [out.buffer]);
    return (ints.length * 1000) / rate;
  }

  /** Linear-interpolation stream resampler (state carried across frames of one response). */
  _resample(id, input, rate) {
    // Virtual stream s: s[0] is the previous frame's last sample, s[k + 1] = input[k].
    if (!input.length) return input;
    const rs = this._rs;
    if (rs.id !== id || rs.rate !== rate) Object.assign(rs, { id, rate, pos: 1, last: 0 });
    const step = rate / this.ctx.sampleRate;
    const out = new Float32Array(Math.max(0, Math.ceil((input.length - rs.pos) / step)) + 1);
    let n = 0;
    let pos = rs.pos;
    while (pos < input.length) {
      const i = Math.floor(pos);
      const frac = pos - i;
      const a = i === 0 ? rs.last : input[i - 1];
      out[n++] = a + (input[i] - a) * frac;
      pos += step;
    }
    rs.pos = pos - input.length;
    rs.last = input[input.length - 1];
    return out.slice(0, n);
  }

  /** No more audio for `id`: the worklet reports "ended" once it has played out. */
  endResponse(id) {
    if (this.playback) this.playback.port.postMessage({ type: "end", id });
  }

  /** Stop playback at once; the worklet answers with a "cleared" report. */
  clearPlayback() {
    if (this.playback) this.playback.port.postMessage({ type: "clear" });
  }

  /** Audio rendered but still on its way to the speaker, in ms (best effort). */
  outputLatencyMs() {
    if (!this.ctx) return 0;
    return ((this.ctx.outputLatency || 0) + (this.ctx.baseLatency || 0)) * 1000;
  }
}
