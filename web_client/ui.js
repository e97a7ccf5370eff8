// Small DOM helpers shared by the page's modules: element lookup and creation, storage, banner, toasts,
// the voice status line and the side panel (a drawer at narrow widths).

export const $ = (id) => document.getElementById(id);

export const el = (tag, cls, text) => {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
};

export const store = {
  get(k) {
    try {
      return window.localStorage.getItem(k);
    } catch (_) {
      return null;
    }
  },
  set(k, v) {
    try {
      window.localStorage.setItem(k, v);
    } catch (_) {
      /* storage disabled */
    }
  },
};

export function fmtMs(v) {
  if (v === undefined || v === null) return "–";
  return v >= 1000 ? `${(v / 1000).toFixed(2)} s` : `${Math.round(v)} ms`;
}

export function tag(icon, text, kind = "") {
  const t = el("span", `tag ${kind}`.trim());
  t.append(el("i", `ico ico-${icon}`), text);
  return t;
}

// --- banner and toasts -------------------------------------------------------------------------------
let bannerAction = null;
export function banner(kind, title, text, action) {
  const b = $("banner");
  b.dataset.kind = kind;
  $("banner-title").textContent = title;
  $("banner-text").textContent = text || "";
  const btn = $("banner-action");
  bannerAction = action ? action.run : null;
  btn.hidden = !action;
  if (action) btn.textContent = action.label;
  b.dataset.topic = (action && action.topic) || title;
  b.hidden = false;
}
export function clearBanner(topic) {
  const b = $("banner");
  if (!topic || b.dataset.topic === topic) b.hidden = true;
}
$("banner-action").addEventListener("click", () => bannerAction && bannerAction());
$("banner-close").addEventListener("click", () => ($("banner").hidden = true));

export function toast(message, { kind = "error", code = "", ms = 7000 } = {}) {
  const t = el("div", "toast");
  t.dataset.kind = kind;
  t.setAttribute("role", kind === "error" ? "alert" : "status");
  const body = el("div", "toast-body", message);
  if (code) body.append(el("span", "toast-code", code));
  const close = el("button", "", "×");
  close.type = "button";
  close.setAttribute("aria-label", "Dismiss");
  close.onclick = () => t.remove();
  t.append(body, close);
  $("toasts").append(t);
  while ($("toasts").children.length > 4) $("toasts").firstChild.remove();
  setTimeout(() => t.remove(), ms);
}

export function voiceStatus(text) {
  $("voice-status").textContent = text;
}

// --- side panel (drawer at narrow widths) -------------------------------------------------------------
export function openPanel(open) {
  $("side").classList.toggle("open", open);
  $("scrim").hidden = !open;
  $("panel-toggle").setAttribute("aria-expanded", String(open));
}
$("panel-toggle").addEventListener("click", () => openPanel(!$("side").classList.contains("open")));
$("close-side").addEventListener("click", () => openPanel(false));
$("scrim").addEventListener("click", () => openPanel(false));

/** Save text as a file the browser downloads (a Blob URL: allowed by the page's CSP). */
export function download(filename, text, type) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = el("a");
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
