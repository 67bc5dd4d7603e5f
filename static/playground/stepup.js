/* Playground: step-up authorization (MCP 2026-07-28 SEP-2350, RFC 6750 §3.1).
 *
 * A token granted `openid` only meets an API that needs `profile`: the API answers 403
 * insufficient_scope naming the scope it needs, and the client asks again for the union of
 * what it has and what was named. The person is asked only for what is new.
 */

import { S, STEPS, StepError, cfg, http, need, parseChallenge, randomB64url } from "./core.js";
import { checks } from "./ui.js";
import {
  authorizationRequest, callApi, checkCallback, exchangeCode, makePkce, metadata, register,
} from "./steps.js";

const FIRST_SCOPE = "openid";

/** The API's protected resource metadata (steps 1 and 2), fetched if those have not run. */
async function protectedResource(out) {
  if (S.v.prm) return S.v.prm;
  out({ t: "note", text: "Discovering the API first (as in steps 1 and 2)." });
  const r = await http(out, "GET", cfg.issuer + "/.well-known/oauth-protected-resource");
  if (r.status !== 200) throw new StepError("No protected resource metadata.");
  S.v.prm = r.json;
  return r.json;
}

/** A new authorization request for `scope`, with a fresh PKCE pair and state. */
async function ask(out, step, scope) {
  const up = S.v.up;
  const pkce = await makePkce();
  Object.assign(up, { verifier: pkce.verifier, state: randomB64url(32), asked: scope });
  authorizationRequest(out, step, { clientId: up.client.client_id, scope, state: up.state,
    challenge: pkce.challenge, resource: up.resource });
}

/** Back from the server: check the response, trade the code, keep what was granted. */
async function tokens(out) {
  const up = need(S.v.up, "Run step U1 first.");
  const code = checkCallback(out, up.state);
  const r = await exchangeCode(out, { code, clientId: up.client.client_id, verifier: up.verifier,
    resource: up.resource, again: "a new authorization request" });
  up.tokens = r.json;
  up.granted = r.json.scope || up.asked; // RFC 6749 §5.1: scope may be omitted when as asked
  out({ t: "kv", title: "What the token allows", rows: [["scope", up.granted]], mark: "scope" });
  return up.granted.split(" ");
}

STEPS["up-authorize"] = async function (out) {
  await metadata(out);
  const prm = await protectedResource(out);
  // A client of its own, so that no consent is remembered yet: each walk starts afresh.
  const client = await register(out, {
    client_name: "Playground step-up client",
    redirect_uris: [cfg.redirectUri],
    grant_types: ["authorization_code"],
    response_types: ["code"],
    token_endpoint_auth_method: "none",
    scope: "openid profile",
  });
  S.v.up = { client, resource: prm.resource };
  await ask(out, "up-authorize", FIRST_SCOPE);
  out({ t: "note", text: `Only "${FIRST_SCOPE}": ask for the least, and more when an operation needs it.` });
  return "ready: open it";
};

STEPS["up-token"] = async function (out) {
  const granted = await tokens(out);
  checks(out, [
    { id: "no-profile", ok: !granted.includes("profile"), label: "The token does not carry profile", detail: granted.join(" ") },
  ]);
  return "granted " + granted.join(" ");
};

STEPS["up-403"] = async function (out) {
  const up = need(S.v.up, "Run step U1 first.");
  const token = need(up.tokens, "Run step U2 first: it gets the token.");
  const r = await callApi(out, token.access_token);
  const header = r.headers.get("www-authenticate") || "";
  const challenge = parseChallenge(header);
  const p = challenge.params;
  out({ t: "kv", title: "The challenge, parsed (RFC 6750 §3)", mark: "scope",
    rows: [["scheme", challenge.scheme], ...Object.entries(p)] });
  up.needed = p.scope || "";
  checks(out, [
    { id: "403", ok: r.status === 403, label: "403: the token is good, but not enough", detail: `got ${r.status}` },
    { id: "insufficient_scope", ok: p.error === "insufficient_scope", label: "error=\"insufficient_scope\" (RFC 6750 §3.1)", detail: p.error },
    { id: "scope", ok: up.needed === "profile", label: "scope names only what this call needs (SEP-2350)", detail: `scope="${up.needed}"` },
    { id: "resource_metadata", ok: !!p.resource_metadata, label: "resource_metadata says where to learn more", detail: p.resource_metadata },
  ]);
  if (r.status !== 403 || !up.needed) throw new StepError("Expected a 403 naming a scope.");
  return `403: needs ${up.needed}`;
};

STEPS["up-reauthorize"] = async function (out) {
  const up = need(S.v.up, "Run step U1 first.");
  need(up.needed, "Run step U3 first: the challenge names the scope.");
  // SEP-2350: ask for the union, or the new token would lose what the old one had.
  const union = [...new Set([...up.granted.split(" "), ...up.needed.split(" ")])].join(" ");
  out({ t: "kv", title: "The scope to ask for", mark: "union: ask for this", rows: [
    ["granted before", up.granted],
    ["named by the challenge", up.needed],
    ["union: ask for this", union],
  ] });
  await ask(out, "up-reauthorize", union);
  out({ t: "note", text: "The consent page marks profile as new; openid was allowed already." });
  return "ready: open it";
};

STEPS["up-retry"] = async function (out) {
  const granted = await tokens(out);
  const r = await callApi(out, S.v.up.tokens.access_token);
  checks(out, [
    { id: "union", ok: granted.includes("openid") && granted.includes("profile"), label: "The token carries openid and profile", detail: granted.join(" ") },
    { id: "200", ok: r.status === 200, label: "The API answers 200", detail: r.json.username ? `username ${r.json.username}` : `got ${r.status}` },
  ]);
  if (r.status !== 200) throw new StepError("The API still refuses the token.");
  return "200 " + r.json.username;
};
