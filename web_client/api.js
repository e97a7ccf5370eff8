// REST calls (docs/http.md) with the optional API key, and WebSocket URLs with a short-lived token.

const KEY_STORAGE = "voiceLetta.apiKey";

export class ApiError extends Error {
  constructor(status, code, message, param = null) {
    super(message);
    this.status = status; // 0 when the server could not be reached
    this.code = code;
    this.param = param; // the request field the server refused, when it named one
  }
  get unreachable() {
    return this.status === 0;
  }
  get unauthorized() {
    return this.status === 401;
  }
}

export class Api {
  constructor(origin = window.location.origin) {
    this.origin = origin;
    this.key = "";
    try {
      this.key = window.localStorage.getItem(KEY_STORAGE) || "";
    } catch (_) {
      /* storage disabled */
    }
  }

  setKey(key) {
    this.key = (key || "").trim();
    try {
      if (this.key) window.localStorage.setItem(KEY_STORAGE, this.key);
      else window.localStorage.removeItem(KEY_STORAGE);
    } catch (_) {
      /* storage disabled */
    }
  }

  async request(method, path, body) {
    const headers = { Accept: "application/json" };
    if (this.key) headers.Authorization = `Bearer ${this.key}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let res;
    try {
      res = await fetch(this.origin + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: "no-store",
      });
    } catch (err) {
      throw new ApiError(0, "unreachable", "The server cannot be reached.");
    }
    let data = null;
    try {
      data = await res.json();
    } catch (_) {
      /* not JSON */
    }
    if (!res.ok) {
      const e = (data && data.error) || {};
      throw new ApiError(res.status, e.code || `http_${res.status}`, e.message || `${res.status} ${res.statusText}`,
                         e.param || null);
    }
    return data;
  }

  async health() {
    try {
      const res = await fetch(`${this.origin}/health`, { cache: "no-store" });
      return res.ok;
    } catch (_) {
      return false;
    }
  }

  async listAgents() {
    const data = await this.request("GET", "/v1/agents");
    return (data && data.data) || [];
  }

  /** A new agent in this browser's time zone (what "yesterday" and "this morning" mean to its user), or in UTC
   * when the server's zone database does not know the browser's zone name. */
  async createAgent(name) {
    let timezone = "";
    try {
      timezone = Intl.DateTimeFormat().resolvedOptions().timeZone || "";
    } catch (_) {
      /* no Intl time zone support */
    }
    if (timezone) {
      try {
        return await this.request("POST", "/v1/agents", { name, timezone });
      } catch (err) {
        if (!(err instanceof ApiError && err.param === "timezone")) throw err;
      }
    }
    return this.request("POST", "/v1/agents", { name });
  }

  async blocks(agentId) {
    const data = await this.request("GET", `/v1/agents/${encodeURIComponent(agentId)}/blocks`);
    return Array.isArray(data) ? data : (data && data.data) || []; // {"object": "list", "data": [...]}
  }

  /** The agent's stored conversation, oldest first (GET …/messages; the newest ``limit`` messages). */
  async messages(agentId, limit = 200) {
    const data = await this.request("GET", `/v1/agents/${encodeURIComponent(agentId)}/messages?limit=${limit}`);
    const rows = Array.isArray(data) ? data : (data && data.data) || [];
    return rows.slice().sort((x, y) => (x.seq || 0) - (y.seq || 0));
  }

  /** The voice WebSocket URL for an agent; with an API key, a fresh token for this agent's voice session
   *  (valid for a minute, to connect) is added: the key itself never goes into a URL. */
  async voiceUrl(agentId) {
    const url = new URL("/v1/voice", this.origin);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    url.searchParams.set("agent", agentId);
    if (this.key) {
      const { token } = await this.request("POST", "/v1/tokens", { scopes: ["voice"], agent: agentId });
      url.searchParams.set("token", token);
    }
    return url.toString();
  }
}
