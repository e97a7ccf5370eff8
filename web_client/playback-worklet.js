// Agent audio playback: a queue of Float32 chunks (already at the context rate) played back to back.
// The processor counts, per response, the samples it actually rendered, so the page can tell the
// server exactly how much of a reply was heard.
//
// In:  {type:"push", id, samples}   audio of response `id`
//      {type:"end", id}             no more audio for `id`: report "ended" once it has played out
//      {type:"clear"}               stop now, drop everything, report "cleared" for unfinished responses
// Out: {type:"started", id}
//      {type:"progress", id, frames, level}   about every 50 ms while playing
//      {type:"ended", id, frames}
//      {type:"cleared", reports:[{id, frames}]}

const PREBUFFER_S = 0.06; // wait for this much audio (or the end) before a response starts playing

class PlaybackProcessor extends AudioWorkletProcessor {
  constructor() {
    super();
    this.queue = []; // {id, data, off}
    this.frames = new Map(); // id -> rendered samples
    this.ended = new Set(); // ids whose end was announced
    this.current = null; // id playing now
    this.started = new Set();
    this.sinceReport = 0;
    this.sumSq = 0;
    this.n = 0;
    this.prebuffer = Math.round(PREBUFFER_S * sampleRate);
    this.port.onmessage = (e) => this.onMessage(e.data);
  }

  queuedFor(id) {
    let n = 0;
    for (const c of this.queue) if (c.id === id) n += c.data.length - c.off;
    return n;
  }

  onMessage(msg) {
    if (msg.type === "push") {
      if (!this.frames.has(msg.id)) this.frames.set(msg.id, 0);
      this.queue.push({ id: msg.id, data: msg.samples, off: 0 });
    } else if (msg.type === "end") {
      if (!this.frames.has(msg.id)) this.frames.set(msg.id, 0);
      this.ended.add(msg.id);
      this.checkEnded();
    } else if (msg.type === "clear") {
      const reports = [];
      for (const [id, frames] of this.frames) reports.push({ id, frames });
      this.queue = [];
      this.frames.clear();
      this.ended.clear();
      this.started.clear();
      this.current = null;
      this.port.postMessage({ type: "cleared", reports });
    }
  }

  checkEnded() {
    for (const id of this.ended) {
      if (!this.queue.some((c) => c.id === id)) {
        this.port.postMessage({ type: "ended", id, frames: this.frames.get(id) || 0 });
        this.ended.delete(id);
        this.frames.delete(id);
        this.started.delete(id);
        if (this.current === id) this.current = null;
      }
    }
  }

  process(_inputs, outputs) {
    const out = outputs[0][0];
    if (!out) return true;
    let i = 0;
    while (i < out.length && this.queue.length) {
      const chunk = this.queue[0];
      if (!this.started.has(chunk.id)) {
        if (!this.ended.has(chunk.id) && this.queuedFor(chunk.id) < this.prebuffer) break;
        this.started.add(chunk.id);
        this.port.postMessage({ type: "started", id: chunk.id });
      }
      this.current = chunk.id;
      const n = Math.min(out.length - i, chunk.data.length - chunk.off);
      for (let k = 0; k < n; k++) {
        const v = chunk.data[chunk.off + k];
        out[i + k] = v;
        this.sumSq += v * v;
      }
      this.n += n;
      chunk.off += n;
      i += n;
      this.frames.set(chunk.id, (this.frames.get(chunk.id) || 0) + n);
      if (chunk.off >= chunk.data.length) this.queue.shift();
    }
    for (; i < out.length; i++) out[i] = 0; // underrun or idle: silence (not counted as played)
    for (let c = 1; c < outputs[0].length; c++) outputs[0][c].set(out);
    if (this.ended.size) this.checkEnded();
    this.sinceReport += out.length;
    if (this.sinceReport >= sampleRate * 0.05) {
      this.sinceReport = 0;
      if (this.current !== null && this.frames.has(this.current)) {
        const level = this.n ? Math.sqrt(this.sumSq / this.n) : 0;
        this.port.postMessage({ type: "progress", id: this.current, frames: this.frames.get(this.current), level });
      }
      this.sumSq = 0;
      this.n = 0;
    }
    return true;
  }
}

registerProcessor("vl-playback", PlaybackProcessor);
