// The voice WebSocket with automatic reconnection (exponential backoff with jitter).
//
// States: "idle" → "connecting" → "open" → ("reconnecting" → "connecting" → "open")* → "idle".
// Callbacks: onState(state, info), onMessage(obj), onBinary(ArrayBuffer).

export const PROTOCOL = "voice-letta.v1";
const BACKOFF_S = [0.5, 1, 2, 4, 8, 15];

export class VoiceConnection {
  constructor({ urlFor, diagnose, onState, onMessage, onBinary }) {
    this.urlFor = urlFor; // async () => ws url (may fetch a token)
    this.diagnose = diagnose; // async (error) => human reason for a failed attempt
    this.onState = onState;
    this.onMessage = onMessage;
    this.onBinary = onBinary;
    this.ws = null;
    this.state = "idle";
    this.attempt = 0;
    this.timer = null;
    this.wanted = false;
    this.opened = false;
  }

  _set(state, info = {}) {
    this.state = state;
    this.onState(state, info);
  }

  open() {
    this.wanted = true;
    this.attempt = 0;
    clearTimeout(this.timer);
    this._connect();
  }

  close() {
    this.wanted = false;
    clearTimeout(this.timer);
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.onclose = ws.onerror = ws.onmessage = ws.onopen = null;
      try {
        ws.close(1000, "bye");
      } catch (_) {
        /* closing */
      }
    }
    this._set("idle");
  }

  /** Reconnect now (e.g. the user pressed "Retry"). */
  retryNow() {
    if (!this.wanted) return;
    clearTimeout(this.timer);
    this._connect();
  }

  get isOpen() {
    return !!this.ws && this.ws.readyState === WebSocket.OPEN;
  }

  send(obj) {
    if (!this.isOpen) return false;
    this.ws.send(JSON.stringify(obj));
    return true;
  }

  sendBinary(buf) {
    if (!this.isOpen) return false;
    // Do not let a stalled socket pile up audio: drop frames beyond ~1 s of backlog.
    if (this.ws.bufferedAmount > 32000) return false;
    this.ws.send(buf);
    return true;
  }

  async _connect() {
    this._set("connecting", { attempt: this.attempt });
    let url;
    try {
      url = await this.urlFor();
    } catch (err) {
      this._failed(err);
      return;
    }
    if (!this.wanted) return;
    let ws;
    try {
      ws = new WebSocket(url, [PROTOCOL]);
    } catch (err) {
      this._failed(err);
      return;
    }
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    this.opened = false;
    ws.onopen = () => {
      this.opened = true;
    };
    ws.onmessage = (e) => {
      if (typeof e.data === "string") {
        let msg;
        try {
          msg = JSON.parse(e.data);
        } catch (_) {
          return;
        }
        if (msg.type === "session.created") {
          this.attempt = 0;
          this._set("open", { session: msg });
        }
        this.onMessage(msg);
      } else {
        this.onBinary(e.data);
      }
    };
    ws.onclose = (e) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this._failed(null, e);
    };
  }

  async _failed(err, closeEvent) {
    if (!this.wanted) return;
    const wasOpen = this.opened;
    this.opened = false;
    let reason = "";
    try {
      reason = await this.diagnose(err, closeEvent, wasOpen);
    } catch (_) {
      reason = "The connection failed.";
    }
    if (!this.wanted) return;
    if (reason === null) {
      // a permanent problem (e.g. the API key was refused): stop retrying
      this.wanted = false;
      this._set("failed", { reason: "" });
      return;
    }
    const delay = BACKOFF_S[Math.min(this.attempt, BACKOFF_S.length - 1)] * (0.8 + Math.random() * 0.4);
    this.attempt += 1;
    this._set("reconnecting", { reason, delayMs: Math.round(delay * 1000), attempt: this.attempt, wasOpen });
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.wanted && this._connect(), delay * 1000);
  }
}
