/* Playground view: rendering recorded exchanges, checks and masked secrets; running a step. */

import { S, STEPS, StepError, save } from "./core.js";
import { backLink, paint } from "./diagram.js";
import { timeParts } from "./times.js";

/**
 * reveal: whether secrets show in clear (the "Reveal secrets" box); masked by default.
 * open: the steps run last; only their exchanges are open, the others fold to one line.
 */
export const view = { reveal: false, open: new Set() };

// -- rendering -----------------------------------------------------------------------------

export function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") node.className = v;
    else if (k.startsWith("data-")) node.setAttribute(k, v);
    else node[k] = v;
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

function maskOf(value) {
  const m = /^([a-z]{2,4}_)/.exec(value);
  return (m ? m[1] : value.slice(0, 3)) + "•••••••• (hidden)";
}

function secretNode(value) {
  const node = el("button", { type: "button", class: "pg-secret", title: "Click to show or hide" });
  const show = (visible) => {
    node.textContent = visible ? value : maskOf(value);
    node.classList.toggle("masked", !visible);
  };
  show(view.reveal);
  node.addEventListener("click", () => show(node.classList.contains("masked")));
  return node;
}

/** Text with every known secret in it replaced by a masked, clickable node. */
function masked(text) {
  text = String(text === undefined || text === null ? "" : text);
  const frag = document.createDocumentFragment();
  const found = S.secrets.filter((s) => text.includes(s)).sort((a, b) => b.length - a.length);
  let i = 0;
  while (i < text.length) {
    let at = -1;
    let hit = null;
    for (const s of found) {
      const j = text.indexOf(s, i);
      if (j !== -1 && (at === -1 || j < at)) { at = j; hit = s; }
    }
    if (hit === null) { frag.append(text.slice(i)); break; }
    frag.append(text.slice(i, at), secretNode(hit));
    i = at + hit.length;
  }
  return frag;
}

/** masked(), and beside each epoch time or lifetime in it, the same in words. */
function annotated(text) {
  const frag = document.createDocumentFragment();
  for (const [part, said] of timeParts(String(text === undefined || text === null ? "" : text))) {
    frag.append(masked(part));
    if (said) frag.append(el("span", { class: "pg-time" }, ` (${said})`));
  }
  return frag;
}

function requestText(req) {
  const u = new URL(req.url, location.href);
  const lines = [`${req.method} ${u.pathname}${u.search} HTTP/1.1`, `Host: ${u.host}`];
  for (const [k, v] of req.headers) lines.push(`${k}: ${v}`);
  return lines.join("\n") + "\n" + (req.body ? "\n" + req.body : "");
}

function responseText(res) {
  const lines = [`HTTP/1.1 ${res.status} ${res.reason}`];
  for (const [k, v] of res.headers) lines.push(`${k}: ${v}`);
  return lines.join("\n") + "\n" + (res.body ? "\n" + res.body : "");
}

const MEANING = {
  response_type: "code: ask for an authorization code, the only response type of OAuth 2.1.",
  client_id: "Who is asking: the client_id from registration.",
  redirect_uri: "Where to send the browser back; must match a registered URI exactly.",
  scope: "What access is asked for; offline_access asks for a refresh token.",
  state: "Random; the client checks it comes back unchanged (CSRF protection).",
  code_challenge: "base64url(SHA-256(code_verifier)), from step 5.",
  code_challenge_method: "S256: how the challenge was made (plain is refused).",
  resource: "The API the token is for (RFC 8707); it becomes the token's audience.",
  prompt: "consent: show the consent page even if approved before (MCP sends it with offline_access).",
  grant_type: "Which grant this token request uses.",
  code: "The authorization code from the callback: single use, minutes to live.",
  code_verifier: "The PKCE secret from step 5; the server hashes it and compares.",
  refresh_token: "The refresh token to trade for new tokens.",
  token: "The token to introspect or revoke.",
  token_type_hint: "Which kind of token it is; only a hint.",
  device_code: "The device's secret handle from the device authorization response.",
};

const RENDER = {
  http(b, step) {
    const u = new URL(b.req.url, location.href);
    const summary = el("summary", {}, el("code", {}, `${b.req.method} ${u.pathname}`), " → ",
      b.res ? el("span", { class: "pg-code-" + String(b.res.status)[0] }, `${b.res.status} ${b.res.reason}`) : "no response");
    const back = backLink(step, u.pathname);
    if (back) summary.append(" ", back);
    const box = el("details", { class: "pg-http", "data-path": u.pathname }, summary);
    box.open = view.open.has(step);
    box.append(el("div", { class: "pg-label" }, "Request"),
      el("pre", { class: "pg-req" }, masked(requestText(b.req))));
    if (b.params) {
      const table = el("table", { class: "pg-params" },
        el("tr", {}, el("th", {}, "Parameter"), el("th", {}, "Value"), el("th", {}, "Meaning")));
      for (const [name, value] of b.params) {
        table.append(el("tr", {}, el("td", {}, el("code", {}, name)),
          el("td", {}, el("code", {}, masked(value))), el("td", {}, MEANING[name] || "")));
      }
      box.append(table);
    }
    if (b.res) {
      box.append(el("div", { class: "pg-label" }, "Response"),
        el("pre", { class: "pg-res", "data-status": String(b.res.status) }, annotated(responseText(b.res))));
    } else {
      box.append(el("p", { class: "error-message" }, "No response."));
    }
    return box;
  },
  params(b) {
    const table = el("table", { class: "pg-params" },
      el("tr", {}, el("th", {}, "Parameter"), el("th", {}, "Value"), el("th", {}, "Meaning")));
    for (const [name, value] of b.rows) {
      table.append(el("tr", {}, el("td", {}, el("code", {}, name)),
        el("td", {}, el("code", {}, masked(value))), el("td", {}, MEANING[name] || "")));
    }
    return el("div", {}, b.title ? el("div", { class: "pg-label" }, b.title) : null, table);
  },
  kv(b) {
    const table = el("table", { class: "pg-kv" });
    for (const [k, v] of b.rows) {
      const row = el("tr", {}, el("th", {}, k), el("td", {}, el("code", {}, masked(v))));
      if (b.mark === k) row.className = "pg-mark"; // the row the step is about
      table.append(row);
    }
    return el("div", {}, b.title ? el("div", { class: "pg-label" }, b.title) : null, table);
  },
  json(b) {
    return el("div", {}, el("div", { class: "pg-label" }, b.title),
      el("pre", { class: "pg-json" }, annotated(JSON.stringify(b.value, null, 2))));
  },
  checks(b) {
    const list = el("ul", { class: "pg-checks" });
    for (const c of b.rows) {
      list.append(el("li", { class: c.ok ? "pass" : "fail", "data-check": c.id },
        el("span", { class: "pg-verdict" }, c.ok ? "pass" : "fail"), " ", c.label,
        c.detail ? el("div", { class: "pg-detail" }, masked(c.detail)) : null));
    }
    return list;
  },
  note(b) {
    return el("p", { class: "pg-note " + (b.tone || "info") }, masked(b.text));
  },
  usercode(b) {
    return el("div", { class: "pg-usercode" },
      el("div", { class: "pg-label" }, "What the device shows"),
      el("p", {}, "Go to ", el("code", {}, b.uri), " and enter"),
      el("p", { class: "pg-code", id: "pg-user-code" }, b.code),
      el("p", {}, el("a", { href: b.complete, target: "_blank", rel: "noopener", id: "pg-device-link", class: "button" },
        "Open the approval page in a new tab"),
        " ", el("span", { class: "muted" }, "(verification_uri_complete: the code is filled in)")));
  },
  polls(b) {
    const list = el("ol", { class: "pg-polls", id: "pg-polls" });
    for (const p of b.rows) {
      list.append(el("li", { class: "pg-poll " + p.kind, "data-poll": p.kind },
        el("code", {}, `+${p.at} s`), ` HTTP ${p.status} `, el("strong", {}, p.outcome),
        p.detail ? el("span", { class: "muted" }, " " + p.detail) : null));
    }
    return el("div", {}, el("div", { class: "pg-label" }, "Polls"), list);
  },
};

export function section(id) {
  return document.getElementById("step-" + id);
}

export function render(id) {
  const sec = section(id);
  if (!sec) return;
  const output = sec.querySelector("[data-output]");
  output.replaceChildren(...(S.out[id] || []).map((b) => RENDER[b.t](b, id)));
  const st = S.state[id];
  sec.dataset.state = st ? st.state : "";
  paint(id);
  sec.querySelector("[data-status]").textContent = st ? st.text : "";
  sec.querySelector(".pg-run").textContent =
    st && st.state !== "running" ? "Re-run" : sec.querySelector(".pg-run").dataset.label;
  const go = sec.querySelector(".pg-go"); // a step that sends you to sign in and consent
  if (go) {
    const url = (S.v.goUrls || {})[id];
    go.closest(".pg-go-row").hidden = !url;
    if (url) go.href = url;
  }
}

export function renderAll() {
  for (const sec of document.querySelectorAll(".pg-step")) render(sec.dataset.step);
}

// -- running a step ---------------------------------------------------------------------------

/** Run a step; it folds the exchanges of the steps before it, unless it runs alongside them. */
export async function run(id, opts) {
  if (!(opts && opts.alongside)) {
    const before = [...view.open].filter((other) => other !== id);
    view.open.clear();
    for (const other of before) render(other);
  }
  view.open.add(id);
  S.out[id] = [];
  S.state[id] = { state: "running", text: "running…" };
  render(id);
  const out = (block) => { S.out[id].push(block); render(id); };
  try {
    const text = await STEPS[id](out);
    S.state[id] = { state: "done", text: text || "done" };
  } catch (e) {
    const message = e instanceof StepError ? e.message : "Script error: " + e;
    out({ t: "note", tone: "error", text: message });
    S.state[id] = { state: "failed", text: "stopped" };
    if (!(e instanceof StepError)) console.error(e);
  }
  save();
  render(id);
}

export function checks(out, rows) {
  out({ t: "checks", rows });
  return rows.every((r) => r.ok);
}

