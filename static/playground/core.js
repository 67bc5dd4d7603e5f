/* Playground core: what the client knows (sessionStorage), encoders, and recorded HTTP. */

export const STORE = "gatehouse.playground";
export const CALLBACK = "gatehouse.playground.callback";
export const DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code";

const root = document.getElementById("playground");
/** The page's settings: issuer, apiUrl, redirectUri, reuseGrace, registration. */
export const cfg = root ? root.dataset : {};

/** Each step's run function, by step id (steps.js and flows.js fill it in). */
export const STEPS = {};

// -- state kept in this tab ------------------------------------------------------------

/** The state: values learned (v), step outputs (out), step states, known secrets. */
export const S = load();

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

/** Forget everything (the "Start over" button). */
export function resetState() {
  for (const key of Object.keys(S)) delete S[key];
  Object.assign(S, fresh());
  sessionStorage.removeItem(STORE);
  sessionStorage.removeItem(CALLBACK);
}

export function save() {
  sessionStorage.setItem(STORE, JSON.stringify(S));
}

/** Remember a value as secret: it is masked wherever it appears. */
export function secret(value) {
  if (typeof value === "string" && value.length >= 8 && !S.secrets.includes(value)) {
    S.secrets.push(value);
  }
  return value;
}

const SECRET_FIELDS = [
  "access_token", "refresh_token", "id_token", "device_code", "client_secret",
  "registration_access_token", "code", "code_verifier", "token",
];

export class StepError extends Error {}

export function need(value, what) {
  if (value === undefined || value === null) throw new StepError(what);
  return value;
}

// -- small encoders ----------------------------------------------------------------------

export function b64url(bytes) {
  let s = "";
  for (const b of new Uint8Array(bytes)) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function b64urlBytes(text) {
  const s = atob(text.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(text.length / 4) * 4, "="));
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}

export function hex(bytes) {
  return Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("");
}

export function randomB64url(n) {
  return b64url(crypto.getRandomValues(new Uint8Array(n)));
}

/** application/x-www-form-urlencoded, as RFC 6749 §2.3.1 asks for Basic credentials. */
function formEncode(s) {
  return encodeURIComponent(s).replace(/%20/g, "+");
}

export function basicAuth(id, pass) {
  return "Basic " + secret(btoa(formEncode(id) + ":" + formEncode(pass)));
}

export function decodeJwtPart(part) {
  return JSON.parse(new TextDecoder().decode(b64urlBytes(part)));
}

/** The auth-params of a WWW-Authenticate challenge (RFC 9110 §11.6.1). */
export function parseChallenge(header) {
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
export async function http(out, method, url, opts) {
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
    // Cookies only when a step acts as the signed-in person (an administrator's API call).
    const credentials = opts.credentials || "omit";
    response = await fetch(url, { method, headers, body, credentials, cache: "no-store" });
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
