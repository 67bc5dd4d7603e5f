/* Gatehouse playground: the browser as an OAuth client, with every exchange shown.
 *
 * The page (templates/playground/index.html) holds the explanations; this script runs each
 * step against the real endpoints of this server with fetch(), and renders what was sent and
 * what came back. What the client learns is kept in sessionStorage, so the page survives the
 * trip to the sign-in and consent pages; /playground/callback hands the authorization response
 * back the same way. No inline scripts or styles (CSP), nothing loaded from elsewhere.
 */
"use strict";

(function () {
  const STORE = "gatehouse.playground";
  const CALLBACK = "gatehouse.playground.callback";
  const DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code";

  // -- the callback page: hand the query to the playground and go back ----------------------

  const callbackPage = document.getElementById("playground-callback");
  if (callbackPage) {
    const params = {};
    for (const [name, value] of new URLSearchParams(location.search)) params[name] = value;
    const path = location.pathname + location.search;
    sessionStorage.setItem(CALLBACK, JSON.stringify({ path, params }));
    location.replace(callbackPage.dataset.return); // replace: the code leaves the history
    return;
  }

  const root = document.getElementById("playground");
  if (!root) return;
  const cfg = root.dataset;

  // -- state kept in this tab ------------------------------------------------------------

  let S = load();
  let reveal = false;

  function fresh() {
    return { v: {}, out: {}, state: {}, secrets: [] };
  }

  function load() {
    try {
      const saved = JSON.parse(sessionStorage.getItem(STORE));
      return saved && saved.v ? saved : fresh();
    } catch (e) {
      return fresh();
    }
  }

  function save() {
    sessionStorage.setItem(STORE, JSON.stringify(S));
  }

  /** Remember a value as secret: it is masked wherever it appears. */
  function secret(value) {
    if (typeof value === "string" && value.length >= 8 && !S.secrets.includes(value)) {
      S.secrets.push(value);
    }
    return value;
  }

  const SECRET_FIELDS = [
    "access_token", "refresh_token", "id_token", "device_code", "client_secret",
    "registration_access_token", "code", "code_verifier", "token",
  ];

  class StepError extends Error {}

  function need(value, what) {
    if (value === undefined || value === null) throw new StepError(what);
    return value;
  }

  // -- small encoders ----------------------------------------------------------------------

  function b64url(bytes) {
    let s = "";
    for (const b of new Uint8Array(bytes)) s += String.fromCharCode(b);
    return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function b64urlBytes(text) {
    const s = atob(text.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(text.length / 4) * 4, "="));
    return Uint8Array.from(s, (c) => c.charCodeAt(0));
  }

  function hex(bytes) {
    return Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function randomB64url(n) {
    return b64url(crypto.getRandomValues(new Uint8Array(n)));
  }

  /** application/x-www-form-urlencoded, as RFC 6749 §2.3.1 asks for Basic credentials. */
  function formEncode(s) {
    return encodeURIComponent(s).replace(/%20/g, "+");
  }

  function basicAuth(id, pass) {
    return "Basic " + secret(btoa(formEncode(id) + ":" + formEncode(pass)));
  }

  function decodeJwtPart(part) {
    return JSON.parse(new TextDecoder().decode(b64urlBytes(part)));
  }

  /** The auth-params of a WWW-Authenticate challenge (RFC 9110 §11.6.1). */
  function parseChallenge(header) {
    const params = {};
    const scheme = /^\s*(\S+)/.exec(header || "");
    const re = /([A-Za-z0-9_-]+)=("((?:[^"\\]|\\.)*)"|[^,\s]*)/g;
    let m;
    while ((m = re.exec(header || "")) !== null) {
      params[m[1]] = m[3] !== undefined ? m[3].replace(/\\(.)/g, "$1") : m[2];
    }
    return { scheme: scheme ? scheme[1] : "", params };
  }

  // -- HTTP, recorded -----------------------------------------------------------------------

  const STATUS_TEXT = {
    200: "OK", 201: "Created", 204: "No Content", 400: "Bad Request", 401: "Unauthorized",
    403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 429: "Too Many Requests",
    500: "Internal Server Error", 503: "Service Unavailable",
  };
  const HEADER_NAMES = {
    "content-type": "Content-Type", "cache-control": "Cache-Control", "pragma": "Pragma",
    "www-authenticate": "WWW-Authenticate", "retry-after": "Retry-After", "location": "Location",
    "access-control-allow-origin": "Access-Control-Allow-Origin",
  };
  const SHOWN_HEADERS = Object.keys(HEADER_NAMES); // the ones that matter to a client

  /** fetch() one request, record it as a block of `out`, return status, headers and JSON. */
  async function http(out, method, url, opts) {
    opts = opts || {};
    const headers = (opts.headers || []).slice();
    let body;
    if (opts.form) {
      body = new URLSearchParams(opts.form).toString();
      headers.push(["Content-Type", "application/x-www-form-urlencoded"]);
      for (const [name, value] of Object.entries(opts.form)) {
        if (SECRET_FIELDS.includes(name)) secret(value);
      }
    } else if (opts.json) {
      body = JSON.stringify(opts.json, null, 2);
      headers.push(["Content-Type", "application/json"]);
    }
    const block = { t: "http", req: { method, url, headers, body }, res: null };
    if (opts.form) block.params = Object.entries(opts.form);
    let response;
    try {
      response = await fetch(url, { method, headers, body, credentials: "omit", cache: "no-store" });
    } catch (e) {
      out(block);
      throw new StepError("The browser could not send the request (" + e.message + ").");
    }
    const text = await response.text();
    let json = null;
    if ((response.headers.get("content-type") || "").includes("json")) {
      try { json = JSON.parse(text); } catch (e) { json = null; }
    }
    if (json && typeof json === "object") {
      for (const name of SECRET_FIELDS) if (typeof json[name] === "string") secret(json[name]);
    }
    const shown = SHOWN_HEADERS.filter((h) => response.headers.has(h))
      .map((h) => [HEADER_NAMES[h], response.headers.get(h)]);
    block.res = {
      status: response.status,
      reason: STATUS_TEXT[response.status] || response.statusText,
      headers: shown,
      body: json !== null ? JSON.stringify(json, null, 2) : text.slice(0, 1500),
    };
    out(block);
    return { status: response.status, headers: response.headers, json: json || {}, text };
  }

  // -- rendering -----------------------------------------------------------------------------

  function el(tag, attrs, ...children) {
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
    show(reveal);
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
    http(b) {
      const box = el("div", { class: "pg-http" });
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
          el("pre", { class: "pg-res", "data-status": String(b.res.status) }, masked(responseText(b.res))));
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
        table.append(el("tr", {}, el("th", {}, k), el("td", {}, el("code", {}, masked(v)))));
      }
      return el("div", {}, b.title ? el("div", { class: "pg-label" }, b.title) : null, table);
    },
    json(b) {
      return el("div", {}, el("div", { class: "pg-label" }, b.title),
        el("pre", { class: "pg-json" }, masked(JSON.stringify(b.value, null, 2))));
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

  function section(id) {
    return document.getElementById("step-" + id);
  }

  function render(id) {
    const sec = section(id);
    if (!sec) return;
    const output = sec.querySelector("[data-output]");
    output.replaceChildren(...(S.out[id] || []).map((b) => RENDER[b.t](b)));
    const st = S.state[id];
    sec.dataset.state = st ? st.state : "";
    sec.querySelector("[data-status]").textContent = st ? st.text : "";
    sec.querySelector(".pg-run").textContent =
      st && st.state !== "running" ? "Re-run" : sec.querySelector(".pg-run").dataset.label;
    if (id === "authorize") {
      const go = document.getElementById("pg-authorize-go");
      go.closest(".pg-go-row").hidden = !S.v.authUrl;
      if (S.v.authUrl) go.href = S.v.authUrl;
    }
  }

  function renderAll() {
    for (const sec of root.querySelectorAll(".pg-step")) render(sec.dataset.step);
  }

  // -- running a step ---------------------------------------------------------------------------

  async function run(id) {
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

  function checks(out, rows) {
    out({ t: "checks", rows });
    return rows.every((r) => r.ok);
  }

  /** The AS metadata, fetched now if step 3 has not run (the other flows start here). */
  async function metadata(out) {
    if (S.v.asm) return S.v.asm;
    out({ t: "note", text: "Discovering the authorization server first (as in step 3)." });
    const r = await http(out, "GET", cfg.issuer + "/.well-known/oauth-authorization-server");
    if (r.status !== 200) throw new StepError("No authorization server metadata.");
    S.v.asm = r.json;
    return r.json;
  }

  async function register(out, body) {
    const asm = await metadata(out);
    const endpoint = need(asm.registration_endpoint,
      "This server does not offer dynamic registration (no registration_endpoint).");
    const r = await http(out, "POST", endpoint, { json: body });
    if (r.status !== 201 && r.status !== 200) {
      throw new StepError(`Registration refused: ${r.json.error || r.status} ${r.json.error_description || ""}`);
    }
    return r.json;
  }

  /** The confidential client the page uses to introspect, registered on first need. */
  async function resourceServer(out) {
    if (S.v.rs) return S.v.rs;
    out({ t: "note", text: "Registering a confidential client, \"Playground resource server\", to introspect with." });
    S.v.rs = await register(out, {
      client_name: "Playground resource server",
      token_endpoint_auth_method: "client_secret_basic",
      grant_types: [],
    });
    return S.v.rs;
  }

  async function introspect(out, token, caller) {
    const asm = await metadata(out);
    caller = caller || (await resourceServer(out));
    const r = await http(out, "POST", asm.introspection_endpoint, {
      headers: [["Authorization", basicAuth(caller.client_id, caller.client_secret)]],
      form: { token, token_type_hint: "access_token" },
    });
    if (r.status !== 200) throw new StepError("Introspection failed: " + (r.json.error || r.status));
    return r.json;
  }

  async function callApi(out, token) {
    const headers = token ? [["Authorization", "Bearer " + token]] : [];
    return http(out, "GET", cfg.apiUrl, { headers });
  }

  // -- the MCP chain ---------------------------------------------------------------------------

  const STEPS = {};

  STEPS["401"] = async function (out) {
    const r = await callApi(out, null);
    const header = r.headers.get("www-authenticate");
    const challenge = parseChallenge(header);
    out({ t: "kv", title: "WWW-Authenticate, parsed", rows: [["scheme", challenge.scheme],
      ...Object.entries(challenge.params)] });
    const rm = challenge.params.resource_metadata;
    S.v.resourceMetadata = rm || new URL(cfg.apiUrl).origin + "/.well-known/oauth-protected-resource";
    checks(out, [
      { id: "status", ok: r.status === 401, label: "The API answers 401 Unauthorized", detail: `got ${r.status}` },
      { id: "resource_metadata", ok: !!rm, label: "The challenge names resource_metadata", detail: rm || "absent: fall back to the well-known URL" },
    ]);
    return "401 received";
  };

  STEPS.prm = async function (out) {
    const url = need(S.v.resourceMetadata, "Run step 1 first: it finds the metadata URL.");
    const r = await http(out, "GET", url);
    if (r.status !== 200) throw new StepError("No protected resource metadata at " + url);
    const prm = r.json;
    const called = new URL(cfg.apiUrl);
    let belongs = false;
    try {
      const res = new URL(prm.resource);
      belongs = res.origin === called.origin && called.pathname.startsWith(res.pathname.replace(/\/$/, ""));
    } catch (e) { belongs = false; }
    const servers = Array.isArray(prm.authorization_servers) ? prm.authorization_servers : [];
    checks(out, [
      { id: "resource", ok: belongs, label: "resource belongs to the URL we called", detail: `${prm.resource} ⊇ ${cfg.apiUrl}` },
      { id: "authorization_servers", ok: servers.length > 0, label: "It names an authorization server", detail: servers[0] || "none" },
    ]);
    S.v.prm = prm;
    return "resource " + prm.resource;
  };

  STEPS.asm = async function (out) {
    const prm = need(S.v.prm, "Run step 2 first: it names the authorization server.");
    const issuer = prm.authorization_servers[0];
    const u = new URL(issuer);
    const path = u.pathname === "/" ? "" : u.pathname;
    const url = u.origin + "/.well-known/oauth-authorization-server" + path; // RFC 8414 §3.1
    out({ t: "note", text: `Metadata URL: the issuer ${issuer} with /.well-known/oauth-authorization-server inserted after the host.` });
    const r = await http(out, "GET", url);
    if (r.status !== 200) throw new StepError("No authorization server metadata at " + url);
    const asm = r.json;
    const ok = checks(out, [
      { id: "issuer", ok: asm.issuer === issuer, label: "issuer equals authorization_servers[0], character for character",
        detail: `${JSON.stringify(asm.issuer)} === ${JSON.stringify(issuer)}` },
      { id: "s256", ok: (asm.code_challenge_methods_supported || []).includes("S256"), label: "PKCE S256 is supported (code_challenge_methods_supported)" },
      { id: "registration", ok: !!asm.registration_endpoint, label: "registration_endpoint is advertised", detail: asm.registration_endpoint || "absent" },
      { id: "iss", ok: asm.authorization_response_iss_parameter_supported === true, label: "iss will come back in the authorization response (RFC 9207)" },
    ]);
    S.v.asm = asm;
    if (!asm.issuer || asm.issuer !== issuer) throw new StepError("Issuer mismatch: a client must stop here.");
    return ok ? "issuer check passed" : "issuer ok, see the checks";
  };

  STEPS.register = async function (out) {
    const asm = need(S.v.asm, "Run step 3 first.");
    const prm = need(S.v.prm, "Run step 2 first.");
    const scopes = (prm.scopes_supported || []).slice();
    if ((asm.scopes_supported || []).includes("offline_access")) scopes.push("offline_access");
    S.v.scope = scopes.join(" ");
    const info = await register(out, {
      client_name: "Gatehouse playground",
      redirect_uris: [cfg.redirectUri],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
      scope: S.v.scope,
    });
    S.v.client = info;
    checks(out, [
      { id: "public", ok: info.token_endpoint_auth_method === "none" && !info.client_secret, label: "A public client: no client_secret to keep" },
      { id: "client_id", ok: !!info.client_id, label: "client_id issued", detail: info.client_id },
    ]);
    return "client_id " + info.client_id;
  };

  STEPS.pkce = async function (out) {
    if (!window.crypto || !crypto.subtle) {
      throw new StepError("crypto.subtle needs a secure context (https, or http on 127.0.0.1/localhost).");
    }
    const verifier = secret(randomB64url(32));
    const bytes = new TextEncoder().encode(verifier);
    const digest = await crypto.subtle.digest("SHA-256", bytes);
    const challenge = b64url(digest);
    S.v.verifier = verifier;
    S.v.challenge = challenge;
    S.v.state = randomB64url(32);
    out({ t: "kv", title: "Computed in this browser, just now", rows: [
      ["1. code_verifier = base64url(32 random bytes)", verifier],
      ["2. its ASCII bytes", `${bytes.length} bytes`],
      ["3. SHA-256 of those bytes (hex)", hex(digest)],
      ["4. code_challenge = base64url(digest), no padding", challenge],
      ["state = base64url(32 random bytes)", S.v.state],
    ] });
    checks(out, [
      { id: "verifier", ok: /^[A-Za-z0-9._~-]{43,128}$/.test(verifier), label: "The verifier is 43-128 characters of [A-Za-z0-9-._~] (RFC 7636 §4.1)" },
      { id: "challenge", ok: challenge.length === 43, label: "The challenge is 43 characters (a 32-byte digest in base64url)" },
    ]);
    return "challenge " + challenge;
  };

  STEPS.authorize = async function (out) {
    const asm = need(S.v.asm, "Run step 3 first.");
    const client = need(S.v.client, "Run step 4 first: the request needs a client_id.");
    need(S.v.challenge, "Run step 5 first: the request carries the code challenge.");
    const params = [
      ["response_type", "code"],
      ["client_id", client.client_id],
      ["redirect_uri", cfg.redirectUri],
      ["scope", S.v.scope],
      ["state", S.v.state],
      ["code_challenge", S.v.challenge],
      ["code_challenge_method", "S256"],
      ["resource", S.v.prm.resource],
    ];
    if (S.v.scope.split(" ").includes("offline_access")) params.push(["prompt", "consent"]);
    const url = asm.authorization_endpoint + "?" + new URLSearchParams(params).toString();
    S.v.authUrl = url;
    S.v.callback = null;
    out({ t: "params", title: "The query parameters", rows: params });
    out({ t: "kv", title: "The URL the browser will open (GET)", rows: [["URL", url]] });
    out({ t: "note", text: "Press \"Sign in and approve\" below: the server's own pages take over, then the callback brings you back to step 7." });
    return "ready: open it";
  };

  STEPS.callback = async function (out) {
    const cb = need(S.v.callback, "No authorization response yet: open the request in step 6 first.");
    const p = cb.params;
    out({ t: "kv", title: "The redirect the browser followed", rows: [["GET", cb.path],
      ...Object.entries(p)] });
    const asm = S.v.asm || {};
    const issMissing = p.iss === undefined;
    const ok = checks(out, [
      { id: "state", ok: p.state !== undefined && p.state === S.v.state, label: "state is the one we sent",
        detail: `received ${JSON.stringify(p.state)}, sent ${JSON.stringify(S.v.state)}` },
      { id: "iss", ok: !issMissing && p.iss === asm.issuer, label: "iss equals the issuer from step 3",
        detail: issMissing ? "iss is missing, but the metadata promised it" : `${JSON.stringify(p.iss)} === ${JSON.stringify(asm.issuer)}` },
      { id: "code", ok: !!p.code, label: "A code came back", detail: p.error ? `error=${p.error}: ${p.error_description || ""}` : "" },
    ]);
    S.v.code = ok ? secret(p.code) : null;
    if (!ok) throw new StepError("A client must stop here and not use this response.");
    return "all checks pass";
  };

  STEPS.token = async function (out) {
    const asm = need(S.v.asm, "Run step 3 first.");
    const code = need(S.v.code, "No checked code: run steps 6 and 7 first.");
    const r = await http(out, "POST", asm.token_endpoint, { form: {
      grant_type: "authorization_code",
      code,
      redirect_uri: cfg.redirectUri,
      client_id: S.v.client.client_id,
      code_verifier: S.v.verifier,
      resource: S.v.prm.resource,
    } });
    if (r.status !== 200) {
      throw new StepError(`${r.json.error}: ${r.json.error_description || ""}` +
        (r.json.error === "invalid_grant" ? " A code works once; get a new one with steps 5 to 7." : ""));
    }
    const t = r.json;
    S.v.tokens = t;
    S.v.prevRefresh = null;
    checks(out, [
      { id: "bearer", ok: String(t.token_type).toLowerCase() === "bearer", label: "token_type is Bearer" },
      { id: "expires_in", ok: Number.isInteger(t.expires_in), label: "expires_in is an integer", detail: `${t.expires_in} s` },
      { id: "no-store", ok: (r.headers.get("cache-control") || "").includes("no-store"), label: "Cache-Control: no-store (RFC 6749 §5.1)" },
      { id: "refresh", ok: !!t.refresh_token, label: "A refresh token came (offline_access)" },
      { id: "id_token", ok: !!t.id_token, label: "An id_token came (openid)" },
    ]);
    return "tokens received";
  };

  STEPS.inspect = async function (out) {
    const t = need(S.v.tokens, "Run step 8 first.");
    const asm = S.v.asm;
    if (t.id_token) {
      const [h, p, sig] = t.id_token.split(".");
      const header = decodeJwtPart(h);
      const claims = decodeJwtPart(p);
      out({ t: "json", title: "id_token header (base64url-decoded)", value: header });
      out({ t: "json", title: "id_token payload (base64url-decoded)", value: claims });
      const jwks = await http(out, "GET", asm.jwks_uri);
      const jwk = (jwks.json.keys || []).find((k) => k.kid === header.kid);
      let valid = false;
      if (jwk && crypto.subtle) {
        const alg = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
        const key = await crypto.subtle.importKey("jwk", jwk, alg, false, ["verify"]);
        valid = await crypto.subtle.verify(alg, key, b64urlBytes(sig), new TextEncoder().encode(h + "." + p));
      }
      const aud = [].concat(claims.aud);
      checks(out, [
        { id: "kid", ok: !!jwk, label: "The header's kid names a key in jwks_uri", detail: `kid ${header.kid}` },
        { id: "signature", ok: valid, label: "The RS256 signature verifies (crypto.subtle.verify)" },
        { id: "id-iss", ok: claims.iss === asm.issuer, label: "iss is the issuer", detail: claims.iss },
        { id: "id-aud", ok: aud.includes(S.v.client.client_id), label: "aud is our client_id", detail: aud.join(" ") },
        { id: "exp", ok: claims.exp * 1000 > Date.now(), label: "exp is in the future", detail: new Date(claims.exp * 1000).toISOString() },
      ]);
    } else {
      out({ t: "note", text: "No id_token: openid was not granted." });
    }
    const info = await introspect(out, t.access_token);
    out({ t: "kv", title: "The access token's audience", rows: [["aud", info.aud], ["resource asked for", S.v.prm.resource]] });
    checks(out, [
      { id: "active", ok: info.active === true, label: "The access token is active" },
      { id: "aud", ok: !!info.aud && info.aud.replace(/\/$/, "") === S.v.prm.resource.replace(/\/$/, ""), label: "Its audience is the resource from step 6", detail: info.aud },
    ]);
    return "aud " + info.aud;
  };

  STEPS.api = async function (out) {
    const t = need(S.v.tokens, "Run step 8 first.");
    const r = await callApi(out, t.access_token);
    checks(out, [{ id: "ok", ok: r.status === 200, label: "The API answers 200 with who you are", detail: r.json.username ? `username ${r.json.username}` : `got ${r.status}` }]);
    if (r.status !== 200) throw new StepError("The API refused the token.");
    return "200 " + r.json.username;
  };

  STEPS.refresh = async function (out) {
    const t = need(S.v.tokens, "Run step 8 first.");
    const old = need(t.refresh_token, "No refresh token: run step 8 first.");
    const r = await http(out, "POST", S.v.asm.token_endpoint, { form: {
      grant_type: "refresh_token", refresh_token: old, client_id: S.v.client.client_id, resource: S.v.prm.resource,
    } });
    if (r.status !== 200) throw new StepError(`${r.json.error}: ${r.json.error_description || ""}`);
    S.v.prevRefresh = old;
    S.v.rotatedAt = Date.now();
    S.v.tokens = Object.assign({}, t, r.json);
    out({ t: "kv", title: "Rotation", rows: [
      ["old refresh token (now used)", old],
      ["new refresh token (current)", r.json.refresh_token],
      ["new access token", r.json.access_token],
    ] });
    checks(out, [{ id: "rotated", ok: !!r.json.refresh_token && r.json.refresh_token !== old, label: "A new refresh token replaced the old one" }]);
    return "rotated";
  };

  STEPS.reuse = async function (out) {
    const old = need(S.v.prevRefresh, "Run step 11 first: it makes the old refresh token.");
    const grace = Number(cfg.reuseGrace) || 0;
    const since = (Date.now() - S.v.rotatedAt) / 1000;
    if (since < grace) {
      out({ t: "note", tone: "warn", text: `Only ${Math.floor(since)} s since step 11: within this server's ${grace} s grace period the old token is refused but nothing is revoked. Re-run after ${grace} s to see the family revoked.` });
    }
    const r = await http(out, "POST", S.v.asm.token_endpoint, { form: {
      grant_type: "refresh_token", refresh_token: old, client_id: S.v.client.client_id,
    } });
    out({ t: "note", text: "Proof: the access token step 11 issued, asked at introspection and at the API." });
    const info = await introspect(out, S.v.tokens.access_token);
    const api = await callApi(out, S.v.tokens.access_token);
    const ok = checks(out, [
      { id: "invalid_grant", ok: r.json.error === "invalid_grant", label: "The replay is refused with invalid_grant", detail: r.json.error_description },
      { id: "inactive", ok: info.active === false, label: "The new access token is now inactive (the family is revoked)" },
      { id: "api-401", ok: api.status === 401, label: "/api/v2/users/me now answers 401", detail: `got ${api.status}` },
    ]);
    return ok ? "family revoked" : "not revoked (see above)";
  };

  STEPS.revoke = async function (out) {
    const t = need(S.v.tokens, "Run step 8 first.");
    const before = await introspect(out, t.access_token);
    if (!before.active) {
      out({ t: "note", tone: "warn", text: "This access token is already inactive (step 12 revoked its family). Revocation will still answer 200. Re-run steps 6 to 8 to revoke a live token." });
    }
    const token = t.refresh_token || t.access_token;
    const r = await http(out, "POST", S.v.asm.revocation_endpoint, { form: {
      token, token_type_hint: t.refresh_token ? "refresh_token" : "access_token", client_id: S.v.client.client_id,
    } });
    const after = await introspect(out, t.access_token);
    const api = await callApi(out, t.access_token);
    checks(out, [
      { id: "revoke-200", ok: r.status === 200, label: "The revocation endpoint answers 200" },
      { id: "was-active", ok: before.active === true, label: "The access token was active before" },
      { id: "inactive", ok: after.active === false, label: "The access token is inactive after revoking the refresh token" },
      { id: "api-401", ok: api.status === 401, label: "/api/v2/users/me answers 401", detail: `got ${api.status}` },
    ]);
    return after.active === false ? "revoked" : "still active";
  };

  // -- client credentials --------------------------------------------------------------------

  STEPS["cc-register"] = async function (out) {
    const info = await register(out, {
      client_name: "Playground machine client",
      grant_types: ["client_credentials"],
      token_endpoint_auth_method: "client_secret_basic",
      scope: "profile",
    });
    S.v.cc = info;
    checks(out, [{ id: "secret", ok: !!info.client_secret, label: "A client_secret, shown once", detail: info.client_secret }]);
    return "client_id " + info.client_id;
  };

  STEPS["cc-token"] = async function (out) {
    const cc = need(S.v.cc, "Run step C1 first.");
    const asm = await metadata(out);
    const r = await http(out, "POST", asm.token_endpoint, {
      headers: [["Authorization", basicAuth(cc.client_id, cc.client_secret)]],
      form: { grant_type: "client_credentials", scope: "profile" },
    });
    if (r.status !== 200) throw new StepError(`${r.json.error}: ${r.json.error_description || ""}`);
    S.v.ccToken = r.json;
    checks(out, [
      { id: "access", ok: !!r.json.access_token, label: "An access token" },
      { id: "no-refresh", ok: !r.json.refresh_token, label: "No refresh token: the client can always ask again (RFC 6749 §4.4.3)" },
    ]);
    return "token received";
  };

  STEPS["cc-introspect"] = async function (out) {
    const token = need(S.v.ccToken, "Run step C2 first.");
    const info = await introspect(out, token.access_token, S.v.cc);
    const api = await callApi(out, token.access_token);
    checks(out, [
      { id: "sub", ok: info.active && info.sub === S.v.cc.client_id, label: "Its subject is the client itself", detail: `sub ${info.sub}` },
      { id: "api-401", ok: api.status === 401, label: "/api/v2/users/me refuses it: no user", detail: api.json.error_description },
    ]);
    return "sub " + info.sub;
  };

  // -- device flow ---------------------------------------------------------------------------

  STEPS["device-register"] = async function (out) {
    const info = await register(out, {
      client_name: "Playground TV app",
      grant_types: [DEVICE_GRANT, "refresh_token"],
      token_endpoint_auth_method: "none",
      scope: "openid profile email",
    });
    S.v.device = info;
    return "client_id " + info.client_id;
  };

  STEPS["device-authorize"] = async function (out) {
    const device = need(S.v.device, "Run step D1 first.");
    const asm = await metadata(out);
    stopPolling();
    const r = await http(out, "POST", asm.device_authorization_endpoint, { form: {
      client_id: device.client_id, scope: "openid profile",
    } });
    if (r.status !== 200) throw new StepError(`${r.json.error}: ${r.json.error_description || ""}`);
    S.v.deviceAuth = r.json;
    out({ t: "usercode", code: r.json.user_code, uri: r.json.verification_uri, complete: r.json.verification_uri_complete });
    save();
    setTimeout(() => run("device-poll"), 0);
    return `code ${r.json.user_code}, polling every ${r.json.interval} s`;
  };

  let pollTimer = null;
  let countdown = null;
  let polling = false;

  function stopPolling() {
    clearTimeout(pollTimer);
    clearInterval(countdown);
    pollTimer = null;
    document.getElementById("pg-poll-next").textContent = "";
  }

  function schedulePoll(seconds) {
    stopPolling();
    let left = seconds;
    const label = document.getElementById("pg-poll-next");
    label.textContent = `next poll in ${left} s`;
    countdown = setInterval(() => { left -= 1; label.textContent = `next poll in ${Math.max(left, 0)} s`; }, 1000);
    pollTimer = setTimeout(() => poll(), seconds * 1000);
  }

  /** One poll of the token endpoint (RFC 8628 §3.4), logged, then the next one scheduled. */
  async function poll() {
    const auth = S.v.deviceAuth;
    if (polling || !auth) return;
    polling = true;
    stopPolling();
    const id = "device-poll";
    const exchange = [];
    try {
      const r = await http((b) => exchange.push(b), "POST", S.v.asm.token_endpoint, { form: {
        grant_type: DEVICE_GRANT, device_code: auth.device_code, client_id: S.v.device.client_id,
      } });
      const at = Math.round((Date.now() - S.v.pollStart) / 1000);
      const error = r.json.error;
      const kind = error || "success";
      let detail = r.json.error_description || "";
      if (r.status === 200) { S.v.deviceTokens = r.json; detail = "tokens issued"; }
      if (error === "slow_down") S.v.interval += 5; // RFC 8628 §3.5: for this and every later poll
      if (error === "slow_down") detail = `the interval is now ${S.v.interval} s`;
      S.v.polls.push({ at, status: r.status, outcome: r.status === 200 ? "success" : error, kind, detail });
      const extra = [];
      if (r.status === 200) {
        const api = await callApi((b) => extra.push(b), r.json.access_token);
        extra.push({ t: "checks", rows: [{ id: "device-api", ok: api.status === 200, label: "The device's token works at /api/v2/users/me", detail: api.json.username ? `username ${api.json.username}` : "" }] });
        S.state[id] = { state: "done", text: "approved: tokens received" };
      } else if (error === "authorization_pending" || error === "slow_down") {
        S.state[id] = { state: "running", text: `waiting for approval (${error})` };
        schedulePoll(S.v.interval);
      } else {
        S.state[id] = { state: "failed", text: `stopped: ${error}` };
      }
      S.out[id] = [{ t: "polls", rows: S.v.polls }, ...exchange, ...extra];
    } catch (e) {
      S.out[id] = [{ t: "polls", rows: S.v.polls }, ...exchange, { t: "note", tone: "error", text: String(e.message || e) }];
      S.state[id] = { state: "failed", text: "stopped" };
    } finally {
      polling = false;
      save();
      render(id);
    }
  }

  STEPS["device-poll"] = async function (out) {
    const auth = need(S.v.deviceAuth, "Run step D2 first: it gives the device code.");
    stopPolling();
    S.v.polls = [];
    S.v.pollStart = Date.now();
    S.v.interval = auth.interval || 5;
    S.v.deviceTokens = null;
    out({ t: "polls", rows: S.v.polls });
    setTimeout(() => poll(), 0);
    return "polling";
  };

  // -- wiring --------------------------------------------------------------------------------

  for (const button of root.querySelectorAll(".pg-run")) {
    button.dataset.label = button.textContent;
    button.addEventListener("click", () => run(button.dataset.run));
  }
  document.getElementById("pg-authorize-go").addEventListener("click", save);
  document.getElementById("pg-poll-now").addEventListener("click", () => {
    if (!S.v.deviceAuth) return;
    if (!S.v.polls) S.v.polls = [];
    if (!S.v.pollStart) S.v.pollStart = Date.now();
    poll();
  });
  document.getElementById("pg-poll-stop").addEventListener("click", () => {
    stopPolling();
    S.state["device-poll"] = { state: "done", text: "polling stopped" };
    save();
    render("device-poll");
  });
  document.getElementById("pg-reveal").addEventListener("change", (e) => {
    reveal = e.target.checked;
    renderAll();
  });
  document.getElementById("pg-reset").addEventListener("click", () => {
    stopPolling();
    S = fresh();
    sessionStorage.removeItem(STORE);
    sessionStorage.removeItem(CALLBACK);
    renderAll();
    window.scrollTo(0, 0);
  });

  // A "running" step cannot survive a reload: show it as interrupted.
  for (const [id, st] of Object.entries(S.state)) {
    if (st.state === "running") S.state[id] = { state: "failed", text: "interrupted by reload; re-run" };
  }
  renderAll();

  const arrived = sessionStorage.getItem(CALLBACK);
  if (arrived) {
    sessionStorage.removeItem(CALLBACK);
    try { S.v.callback = JSON.parse(arrived); } catch (e) { S.v.callback = null; }
    if (S.v.callback) {
      secret(S.v.callback.params.code);
      run("callback").then(() => section("callback").scrollIntoView());
    }
  }
})();
