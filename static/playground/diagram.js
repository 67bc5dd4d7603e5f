/* Playground diagrams: each flow's sequence diagram as inline SVG, built here (no library).
 *
 * The participants and arrows are the README's Mermaid diagrams ("Learn OAuth with
 * Gatehouse"), in the same order; tests/browser/test_playground_visual_browser.py compares
 * them. Each arrow names the step that makes it happen and, for HTTP, the path its request
 * goes to: the arrow takes its step's state (running, done, failed), and a click on it opens
 * that exchange below; every exchange links back to its arrow.
 */

import { S } from "./core.js";


// kind: "->>" a request (solid), "-->>" an answer (dashed). at: the request path it matches.
export const DIAGRAMS = {
  mcp: {
    title: "Authorization code with PKCE, the way an MCP client finds its way in",
    actors: [["C", "Client (the playground page)"], ["B", "Browser (you)"], ["AS", "Gatehouse"], ["API", "/api/v2/users/me"]],
    rows: [
      ["C", "->>", "API", "GET, no token", "401", "/api/v2/users/me"],
      ["API", "-->>", "C", "401 WWW-Authenticate: Bearer resource_metadata=\"…\"", "401", "/api/v2/users/me"],
      ["C", "->>", "AS", "GET /.well-known/oauth-protected-resource", "prm", "/.well-known/oauth-protected-resource"],
      ["AS", "-->>", "C", "resource, authorization_servers, scopes_supported", "prm", "/.well-known/oauth-protected-resource"],
      ["C", "->>", "AS", "GET /.well-known/oauth-authorization-server", "asm", "/.well-known/oauth-authorization-server"],
      ["AS", "-->>", "C", "metadata (issuer must equal authorization_servers[0])", "asm", "/.well-known/oauth-authorization-server"],
      ["C", "->>", "AS", "POST /oauth2/register (token_endpoint_auth_method \"none\")", "register", "/oauth2/register"],
      ["AS", "-->>", "C", "201 client_id", "register", "/oauth2/register"],
      ["C", "note", "C", "code_verifier = random, code_challenge = base64url(SHA-256(verifier))", "pkce"],
      ["C", "->>", "B", "open /oauth2/authorize?…&code_challenge&state&resource", "authorize"],
      ["B", "->>", "AS", "sign in, consent", "callback"],
      ["AS", "-->>", "B", "302 redirect_uri?code&state&iss", "callback"],
      ["B", "->>", "C", "code, state, iss (check state and iss)", "callback"],
      ["C", "->>", "AS", "POST /oauth2/token (code, code_verifier, redirect_uri, resource)", "token", "/oauth2/token"],
      ["AS", "-->>", "C", "access_token, refresh_token, id_token", "token", "/oauth2/token"],
      ["C", "->>", "API", "GET, Authorization: Bearer access_token", "api", "/api/v2/users/me"],
      ["API", "-->>", "C", "200 {\"username\": …}", "api", "/api/v2/users/me"],
    ],
  },
  stepup: {
    title: "Step-up: 403 insufficient_scope, then the union of scopes",
    actors: [["C", "Client (the playground page)"], ["B", "Browser (you)"], ["AS", "Gatehouse"], ["API", "/api/v2/users/me"]],
    rows: [
      ["C", "->>", "AS", "POST /oauth2/register (scope \"openid profile\")", "up-authorize", "/oauth2/register"],
      ["AS", "-->>", "C", "201 client_id", "up-authorize", "/oauth2/register"],
      ["C", "->>", "B", "open /oauth2/authorize?scope=openid&…", "up-authorize"],
      ["B", "->>", "AS", "sign in, consent to openid", "up-token"],
      ["AS", "-->>", "B", "302 redirect_uri?code&state&iss", "up-token"],
      ["C", "->>", "AS", "POST /oauth2/token (code, code_verifier)", "up-token", "/oauth2/token"],
      ["AS", "-->>", "C", "access_token (scope \"openid\")", "up-token", "/oauth2/token"],
      ["C", "->>", "API", "GET, Authorization: Bearer access_token", "up-403", "/api/v2/users/me"],
      ["API", "-->>", "C", "403 Bearer error=\"insufficient_scope\", scope=\"profile\"", "up-403", "/api/v2/users/me"],
      ["C", "note", "C", "scope = granted ∪ named = \"openid profile\"", "up-reauthorize"],
      ["C", "->>", "B", "open /oauth2/authorize?scope=openid profile&…", "up-reauthorize"],
      ["B", "->>", "AS", "consent: only profile is new", "up-retry"],
      ["AS", "-->>", "B", "302 redirect_uri?code&state&iss", "up-retry"],
      ["C", "->>", "AS", "POST /oauth2/token (the new code)", "up-retry", "/oauth2/token"],
      ["AS", "-->>", "C", "access_token (scope \"openid profile\")", "up-retry", "/oauth2/token"],
      ["C", "->>", "API", "GET, Authorization: Bearer new access_token", "up-retry", "/api/v2/users/me"],
      ["API", "-->>", "C", "200 {\"username\": …}", "up-retry", "/api/v2/users/me"],
    ],
  },
  refresh: {
    title: "Refresh rotation and reuse detection",
    actors: [["C", "Client"], ["T", "Thief (holds a copy of RT1)"], ["AS", "Gatehouse"]],
    rows: [
      ["C", "->>", "AS", "POST /oauth2/token grant_type=refresh_token, refresh_token=RT1", "refresh", "/oauth2/token"],
      ["AS", "-->>", "C", "AT2, RT2 (RT1 is now marked used)", "refresh", "/oauth2/token"],
      ["T", "->>", "AS", "POST /oauth2/token refresh_token=RT1", "reuse", "/oauth2/token"],
      ["AS", "-->>", "T", "400 invalid_grant, and the whole family is revoked", "reuse", "/oauth2/token"],
      ["C", "->>", "AS", "POST /oauth2/introspect token=AT2", "reuse", "/oauth2/introspect"],
      ["AS", "-->>", "C", "{\"active\": false}", "reuse", "/oauth2/introspect"],
      ["C", "->>", "AS", "POST /oauth2/revoke token=RT2", "revoke", "/oauth2/revoke"],
      ["AS", "-->>", "C", "200 (also for tokens already revoked or unknown)", "revoke", "/oauth2/revoke"],
    ],
  },
  cc: {
    title: "Client credentials",
    actors: [["A", "Administrator"], ["S", "Service (confidential client)"], ["AS", "Gatehouse"]],
    rows: [
      ["A", "->>", "AS", "POST /api/v2/oauth2-provider/apps (grant_types [\"client_credentials\"])", "cc-register", "/api/v2/oauth2-provider/apps"],
      ["AS", "-->>", "A", "201 client_id, client_secret (shown once), vetted", "cc-register", "/api/v2/oauth2-provider/apps"],
      ["A", "->>", "S", "configure client_id and client_secret", "cc-register"],
      ["S", "->>", "AS", "POST /oauth2/token grant_type=client_credentials, Authorization: Basic", "cc-token", "/oauth2/token"],
      ["AS", "-->>", "S", "access_token (no refresh_token, no id_token)", "cc-token", "/oauth2/token"],
      ["S", "->>", "AS", "POST /oauth2/introspect", "cc-introspect", "/oauth2/introspect"],
      ["AS", "-->>", "S", "active, sub = client_id (no user)", "cc-introspect", "/oauth2/introspect"],
    ],
  },
  device: {
    title: "Device flow",
    actors: [["D", "Device (the playground page)"], ["P", "You, in another tab"], ["AS", "Gatehouse"]],
    rows: [
      ["D", "->>", "AS", "POST /oauth2/device_authorization (client_id, scope)", "device-authorize", "/oauth2/device_authorization"],
      ["AS", "-->>", "D", "device_code, user_code, verification_uri(_complete), interval", "device-authorize", "/oauth2/device_authorization"],
      ["D", "->>", "P", "\"Go to /oauth2/device and enter BDFG-HJKL\"", "device-authorize"],
      ["loop", "every interval seconds"],
      ["D", "->>", "AS", "POST /oauth2/token grant_type=urn:ietf:params:oauth:grant-type:device_code", "device-poll", "/oauth2/token"],
      ["AS", "-->>", "D", "400 authorization_pending (or slow_down: wait 5 s longer from now on)", "device-poll", "/oauth2/token"],
      ["end"],
      ["P", "->>", "AS", "sign in, enter the code, Approve", "device-poll"],
      ["D", "->>", "AS", "POST /oauth2/token (device_code)", "device-poll", "/oauth2/token"],
      ["AS", "-->>", "D", "200 access_token, refresh_token, id_token", "device-poll", "/oauth2/token"],
    ],
  },
};

const W = 880; // viewBox width; the SVG scales to the column
const HEAD = 44;
const ROW = 36;

/** An SVG element, in the namespace of the empty <svg> the page's HTML gives each figure. */
export function svg(tag, attrs, ...children) {
  const node = document.createElementNS(document.querySelector("figure svg").namespaceURI, tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

function text(x, y, value, cls) {
  const t = svg("text", { x, y, class: cls || "" });
  t.textContent = value;
  return t;
}

function draw(figure) {
  const name = figure.dataset.diagram;
  const d = DIAGRAMS[name];
  const col = (W - 40) / d.actors.length;
  const x = {};
  d.actors.forEach(([key], i) => { x[key] = 20 + col * (i + 0.5); });
  const height = HEAD + 16 + d.rows.filter((r) => r[0] !== "end").length * ROW + 12;
  const root = figure.querySelector("svg");
  root.replaceChildren();
  for (const [k, v] of Object.entries({ viewBox: `0 0 ${W} ${height}`, class: "pg-seq", role: "img",
    "aria-label": `Sequence diagram: ${d.title}` })) root.setAttribute(k, v);
  const bottom = height - 6;
  for (const [key, label] of d.actors) {
    root.append(svg("line", { x1: x[key], y1: HEAD, x2: x[key], y2: bottom, class: "pg-life" }),
      svg("rect", { x: x[key] - 40, y: 6, width: 80, height: HEAD - 12, rx: 5, class: "pg-actor" }),
      text(x[key], HEAD / 2 + 4, label, "pg-actor-name"));
  }
  let y = HEAD + 16;
  let n = 0;
  let notes = 0;
  let loopTop = null;
  for (const row of d.rows) {
    if (row[0] === "loop") {
      loopTop = y;
      root.append(text(28, y + 10, "loop: " + row[1], "pg-loop-label"));
      y += ROW;
      continue;
    }
    if (row[0] === "end") {
      root.append(svg("rect", { x: 16, y: loopTop - 4, width: W - 32, height: y - loopTop, rx: 4, class: "pg-loop" }));
      continue;
    }
    const [from, kind, to, label, step, at] = row;
    // Numbered as Mermaid's autonumber does: messages only, not notes.
    const id = kind === "note" ? `note-${name}-${++notes}` : `arrow-${name}-${++n}`;
    const g = svg("g", { id, class: "pg-arrow", tabindex: 0, role: "link", "data-step": step,
      "data-kind": kind === "-->>" ? "answer" : kind === "note" ? "note" : "request" });
    if (kind !== "note") g.setAttribute("data-n", n);
    if (at) g.setAttribute("data-at", at);
    const title = svg("title");
    title.textContent = `${kind === "note" ? "Note" : n + "."} ${label} (step ${stepLabel(step)}: click to see it)`;
    g.append(title);
    if (kind === "note") {
      const w = Math.min(W - 40, label.length * 6.6 + 24);
      g.append(svg("rect", { x: x[from] - 16, y: y - 2, width: w, height: ROW - 10, rx: 3, class: "pg-note-box" }),
        text(x[from] - 16 + w / 2, y + 15, label, "pg-note-text"));
    } else {
      const x1 = x[from];
      const x2 = x[to];
      const dir = x2 > x1 ? 1 : -1;
      const ly = y + 18;
      g.append(
        svg("rect", { x: Math.min(x1, x2) - 12, y: y - 4, width: Math.abs(x2 - x1) + 24, height: ROW, class: "pg-hit" }),
        text((x1 + x2) / 2, y + 10, label, "pg-label-text"),
        svg("line", { x1, y1: ly, x2: x2 - dir * 8, y2: ly, class: "pg-line" + (kind === "-->>" ? " pg-dashed" : "") }),
        svg("polygon", { points: `${x2},${ly} ${x2 - dir * 10},${ly - 5} ${x2 - dir * 10},${ly + 5}`, class: "pg-head" }),
        numberBadge(x1, ly, n));
    }
    root.append(g);
    y += ROW;
  }
  // Each participant's box fits its name, now that the text can be measured.
  for (const box of root.querySelectorAll(".pg-actor")) {
    const name = box.nextElementSibling.getBBox();
    box.setAttribute("x", name.x - 10);
    box.setAttribute("width", name.width + 20);
  }
  for (const g of root.querySelectorAll(".pg-arrow")) {
    g.addEventListener("click", () => show(g));
    g.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); show(g); } });
  }
}

function numberBadge(cx, cy, n) {
  return svg("g", { class: "pg-badge" }, svg("circle", { cx, cy, r: 9 }), text(cx, cy + 4, String(n), "pg-badge-text"));
}

function stepLabel(id) {
  const num = document.querySelector(`#step-${CSS.escape(id)} .pg-num`);
  return num ? num.textContent : id;
}

/** The request/response block an arrow stands for: the step's exchange with that path. */
function exchangeOf(g) {
  const sec = document.getElementById("step-" + g.dataset.step);
  if (!sec || !g.dataset.at) return null;
  const blocks = [...sec.querySelectorAll("details.pg-http")];
  return blocks.find((b) => b.dataset.path === g.dataset.at) || null;
}

/** A click on an arrow: open its exchange (or its step, if it has not run) and go there. */
function show(g) {
  const block = exchangeOf(g);
  const sec = document.getElementById("step-" + g.dataset.step);
  let target = sec;
  if (block) {
    block.open = true;
    target = block.querySelector(g.dataset.kind === "answer" ? ".pg-res" : ".pg-req") || block;
  }
  if (!target) return;
  target.scrollIntoView({ block: "center" });
  flash(target);
}

export function flash(node) {
  node.classList.remove("pg-flash");
  void node.getBoundingClientRect(); // restart the animation
  node.classList.add("pg-flash");
}

/** The link from an exchange back to its arrow (the request arrow with the same path). */
export function backLink(step, path) {
  const g = [...document.querySelectorAll(`.pg-arrow[data-step="${CSS.escape(step)}"]`)]
    .find((a) => a.dataset.at === path && a.dataset.kind === "request");
  if (!g) return null;
  const link = document.createElement("a");
  link.href = "#" + g.id;
  link.className = "pg-back";
  link.textContent = `↑ arrow ${g.dataset.n}`;
  link.title = "Show this exchange in the sequence diagram";
  link.addEventListener("click", (e) => {
    e.preventDefault();
    g.scrollIntoView({ block: "center" });
    flash(g);
  });
  return link;
}

/** Give every arrow of a step that step's state (running, done or failed). */
export function paint(step) {
  const st = S.state[step];
  for (const g of document.querySelectorAll(`.pg-arrow[data-step="${CSS.escape(step)}"]`)) {
    g.setAttribute("data-state", st ? st.state : "");
  }
}

export function drawAll() {
  for (const figure of document.querySelectorAll("figure.pg-diagram[data-diagram]")) draw(figure);
}
