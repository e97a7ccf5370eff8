// The agent picker: the list of agents (and what to do when the server is unreachable or needs a key),
// creating one, choosing one (a new choice starts a new session), the agent's stored conversation shown once
// when its first session opens, and the transcript export.

import { ApiError } from "./api.js";
import * as C from "./conversation.js";
import { autoConnect, conn } from "./link.js";
import { loadBlocks, renderBlocks, resetLatency } from "./panels.js";
import { AGENT_STORAGE, S, api } from "./state.js";
import { $, banner, clearBanner, el, openPanel, store, toast } from "./ui.js";

let startupPending = true;
let historyFor = null; // the agent whose stored conversation is on screen

export async function loadAgents() {
  try {
    S.agents = await api.listAgents();
  } catch (err) {
    handleApiError(err, loadAgents);
    return;
  }
  clearBanner("server");
  clearBanner("key");
  const sel = $("agent-select");
  sel.replaceChildren();
  for (const a of S.agents) {
    const o = el("option", "", a.name);
    o.value = a.id;
    sel.append(o);
  }
  const remembered = store.get(AGENT_STORAGE);
  const pick = S.agents.find((a) => a.id === S.agentId) || S.agents.find((a) => a.id === remembered) || S.agents[0];
  if (!S.agents.length) {
    sel.append(Object.assign(el("option", "", "No agents yet"), { value: "", disabled: true, selected: true }));
    $("new-agent-form").hidden = false;
    $("empty-title").textContent = "Create an agent to begin";
    selectAgent(null);
    return;
  }
  sel.value = pick.id;
  selectAgent(pick.id);
  if (startupPending) {
    startupPending = false;
    autoConnect();
  }
}

let serverRetry = null;
export function handleApiError(err, retry) {
  if (err instanceof ApiError && err.unauthorized) {
    banner("warn", "This server needs an API key.", "Paste it under “Server access”.", {
      label: "Enter key",
      topic: "key",
      run: () => {
        openPanel(true);
        $("api-key").focus();
      },
    });
    $("api-key").focus({ preventScroll: true });
    return;
  }
  if (err instanceof ApiError && err.unreachable) {
    banner("error", "Server unreachable.", "Check that voice-letta is running; retrying…", {
      label: "Retry",
      topic: "server",
      run: () => retry(),
    });
    clearTimeout(serverRetry);
    serverRetry = setTimeout(retry, 4000);
    return;
  }
  toast(err.message || String(err), { code: err.code || "" });
}

function agentById(id) {
  return S.agents.find((a) => a.id === id) || null;
}

function selectAgent(id) {
  const changed = id !== S.agentId;
  S.agentId = id;
  const a = agentById(id);
  $("connect").disabled = !a;
  $("agent-id-row").hidden = !a;
  $("agent-id").textContent = a ? a.id : "";
  const title = $("agent-title");
  title.replaceChildren();
  if (a) {
    title.append("Talking to ", el("strong", "", a.name));
    $("empty-title").textContent = `Talk to ${a.name}`;
    store.set(AGENT_STORAGE, a.id);
  }
  if (!changed) return;
  S.blocks.clear();
  renderBlocks();
  if (a) loadBlocks();
  if (historyFor !== null && historyFor !== id) resetConversationState();
  if (conn.state !== "idle") {
    // The agent of a session is fixed after its first turn: start a new session.
    conn.close();
    resetConversationState();
    if (a) conn.open();
  }
}

/** Show the agent's stored conversation once, when its first session opens on a fresh page. */
export async function loadHistory() {
  const id = S.agentId;
  if (!id || historyFor === id) return;
  historyFor = id;
  try {
    const messages = await api.messages(id);
    if (id !== S.agentId || C.entryCount()) return; // switched away, or the talk already started
    C.renderHistory(messages);
  } catch (err) {
    if (!(err instanceof ApiError && (err.unreachable || err.unauthorized))) toast(err.message, { code: err.code });
  }
}

$("agent-select").addEventListener("change", (e) => selectAgent(e.target.value || null));
$("new-agent-toggle").addEventListener("click", () => {
  const f = $("new-agent-form");
  f.hidden = !f.hidden;
  if (!f.hidden) $("new-agent-name").select();
});
$("new-agent-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const name = $("new-agent-name").value.trim();
  if (!name) return;
  try {
    const agent = await api.createAgent(name);
    $("new-agent-form").hidden = true;
    S.agentId = null;
    store.set(AGENT_STORAGE, agent.id);
    await loadAgents();
    toast(`Agent “${agent.name}” created.`, { kind: "info", ms: 3000 });
  } catch (err) {
    handleApiError(err, () => {});
  }
});
$("copy-id").addEventListener("click", async () => {
  try {
    await navigator.clipboard.writeText(S.agentId || "");
    toast("Agent id copied.", { kind: "info", ms: 2000 });
  } catch (_) {
    window.getSelection().selectAllChildren($("agent-id"));
  }
});
$("export-md").addEventListener("click", () => C.exportTranscript("md", (agentById(S.agentId) || {}).name));
$("export-json").addEventListener("click", () => C.exportTranscript("json", (agentById(S.agentId) || {}).name));

/** Whether the agent's stored conversation was already shown (or asked for) on this page. */
export function historyShownFor(id) {
  return historyFor === id;
}

function resetConversationState() {
  C.resetConversation();
  S.progress.clear();
  S.dropped.clear();
  historyFor = null;
  resetLatency();
}
