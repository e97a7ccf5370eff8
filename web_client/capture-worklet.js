// Microphone capture: resample the context's audio to the session rate (16 kHz), cut it into 20 ms
// PCM16 frames and post each frame (with its level) to the main thread, which sends it on the socket.
//
// Downsampling runs a windowed-sinc low-pass (Blackman, 33 taps) before linear interpolation, so a
// 48 kHz context does not alias into the speech band. `sampleRate` is the AudioWorkletGlobalScope's.

const TAPS = 33;

function lowpass(cutoff) {
  // cutoff in cycles per input sample (0 < cutoff < 0.5)
  const taps = new Float32Array(TAPS);
  const m = (TAPS - 1) / 2;
  let sum = 0;
  for (let n = 0; n < TAPS; n++) {
    const x = n - m;
    const sinc = x === 0 ? 2 * cutoff : Math.sin(2 * Math.PI * cutoff * x) / (Math.PI * x);
    const w = 0.42 - 0.5 * Math.cos((2 * Math.PI * n) / (TAPS - 1)) + 0.08 * Math.cos((4 * Math.PI * n) / (TAPS - 1));
    taps[n] = sinc * w;
    sum += taps[n];
  }
  for (let n = 0; n < TAPS; n++) taps[n] /= sum;
  return taps;
}

class CaptureProcessor extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const opts = (options && options.processorOptions) || {};
    this.outRate = opts.targetRate || 16000;
    this.frameSamples = Math.round((this.outRate * (opts.frameMs || 20)) / 1000);
    this.step = sampleRate / this.outRate; // input samples per output sample
    this.taps = this.step > 1.001 ? lowpass((0.45 * this.outRate) / sampleRate) : null;
    this.hist = new Float32Array(TAPS * 2); // doubled ring: a contiguous window without modulo
    this.h = 0;
    this.prev = 0;
    this.t = 0; // position of the next output sample, in input samples after `prev`
    this.frame = new Int16Array(this.frameSamples);
    this.fill = 0;
    this.sumSq = 0;
    this.peak = 0;
    this.sending = true;
    this.port.onmessage = (e) => {
      if (e.data && e.data.type === "sending") this.sending = !!e.data.value;
    };
  }

  emit(y) {
    if (y > 1) y = 1;
    else if (y < -1) y = -1;
    this.sumSq += y * y;
    const a = y < 0 ? -y : y;
    if (a > this.peak) this.peak = a;
    this.frame[this.fill++] = y < 0 ? y * 32768 : y * 32767;
    if (this.fill === this.frameSamples) {
      const rms = Math.sqrt(this.sumSq / this.frameSamples);
      if (this.sending) {
        const pcm = this.frame.buffer;
        this.port.postMessage({ type: "frame", pcm, rms, peak: this.peak }, [pcm]);
        this.frame = new Int16Array(this.frameSamples);
      } else {
        this.port.postMessage({ type: "level", rms, peak: this.peak });
      }
      this.fill = 0;
      this.sumSq = 0;
      this.peak = 0;
    }
  }

  process(inputs) {
    const input = inputs[0];
    const ch = input && input[0];
    if (!ch) return true;
    const taps = this.taps;
    const hist = this.hist;
    const step = this.step;
    for (let i = 0; i < ch.length; i++) {
      let x = ch[i];
      if (taps) {
        hist[this.h] = x;
        hist[this.h + TAPS] = x;
        this.h = (this.h + 1) % TAPS;
        let acc = 0;
        const base = this.h; // oldest sample first
        for (let k = 0; k < TAPS; k++) acc += taps[k] * hist[base + k];
        x = acc;
      }
      // x sits at position 1 after `prev`: emit every output sample that falls in (prev, x].
      while (this.t <= 1) {
        this.emit(this.prev + (x - this.prev) * this.t);
        this.t += step;
      }
      this.t -= 1;
      this.prev = x;
    }
    return true;
  }
}

registerProcessor("vl-capture", CaptureProcessor);
