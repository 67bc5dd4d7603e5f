/* Playground: the MCP chain, steps 1 to 13, and the helpers the other flows share. */

import {
  S, STEPS, StepError, b64url, b64urlBytes, basicAuth, cfg, decodeJwtPart, hex, http, need,
  parseChallenge, randomB64url, secret,
} from "./core.js";
import { readable } from "./times.js";
import { checks } from "./ui.js";

export async function metadata(out) {
  if (S.v.asm) return S.v.asm;
  out({ t: "note", text: "Discovering the authorization server first (as in step 3)." });
  const r = await http(out, "GET", cfg.issuer + "/.well-known/oauth-authorization-server");
  if (r.status !== 200) throw new StepError("No authorization server metadata.");
  S.v.asm = r.json;
  return r.json;
}

export async function register(out, body) {
  const asm = await metadata(out);
  const endpoint = need(asm.registration_endpoint,
    "This server does not offer dynamic registration (no registration_endpoint).");
  const r = await http(out, "POST", endpoint, { json: body });
  if (r.status !== 201 && r.status !== 200) {
    throw new StepError(`Registration refused: ${r.json.error || r.status} ${r.json.error_description || ""}`);
  }
  return r.json;
}

/**
 * A confidential client created by an administrator (you, through the management API with your
 * session): only such vetted clients may use client_credentials or see other clients' tokens
 * at introspection. A client that registers itself sees only its own.
 */
export async function adminClient(out, body) {
  const r = await http(out, "POST", cfg.issuer + "/api/v2/oauth2-provider/apps", {
    json: Object.assign({ client_type: "confidential", grant_types: ["client_credentials"] }, body),
    headers: [["X-CSRFToken", cfg.csrfToken || ""]],
    credentials: "same-origin",
  });
  if (r.status !== 201) {
    throw new StepError(
      "Only an administrator can create this client: a client that registers itself may not use " +
      "client_credentials and sees only its own tokens at introspection. Sign in as an " +
      "administrator, or have one run: flask --app app clients create --name \"" + body.name +
      "\" --grant-type client_credentials");
  }
  return r.json;
}

/** The confidential client the page uses to introspect, created on first need. */
export async function resourceServer(out) {
  if (S.v.rs) return S.v.rs;
  out({ t: "note", text: "Creating a confidential client, \"Playground resource server\", to introspect with (administrators only)." });
  S.v.rs = await adminClient(out, { name: "Playground resource server" });
  return S.v.rs;
}

export async function introspect(out, token, caller) {
  const asm = await metadata(out);
  caller = caller || (await resourceServer(out));
  const r = await http(out, "POST", asm.introspection_endpoint, {
    headers: [["Authorization", basicAuth(caller.client_id, caller.client_secret)]],
    form: { token, token_type_hint: "access_token" },
  });
  if (r.status !== 200) throw new StepError("Introspection failed: " + (r.json.error || r.status));
  return r.json;
}

export async function callApi(out, token) {
  const headers = token ? [["Authorization", "Bearer " + token]] : [];
  return http(out, "GET", cfg.apiUrl, { headers });
}

// -- the MCP chain ---------------------------------------------------------------------------

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

/** A fresh PKCE pair, made in this browser (RFC 7636 §4.1-4.2), with what goes into it. */
export async function makePkce() {
  if (!window.crypto || !crypto.subtle) {
    throw new StepError("crypto.subtle needs a secure context (https, or http on 127.0.0.1/localhost).");
  }
  const verifier = secret(randomB64url(32));
  const bytes = new TextEncoder().encode(verifier);
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return { verifier, bytes, digest, challenge: b64url(digest) };
}

STEPS.pkce = async function (out) {
  const { verifier, bytes, digest, challenge } = await makePkce();
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

/**
 * Show an authorization request (RFC 6749 §4.1.1 with PKCE and RFC 8707 `resource`) and keep
 * its URL for the step's "Sign in and approve" link; the callback comes back to that step.
 */
export function authorizationRequest(out, step, req) {
  const params = [
    ["response_type", "code"],
    ["client_id", req.clientId],
    ["redirect_uri", cfg.redirectUri],
    ["scope", req.scope],
    ["state", req.state],
    ["code_challenge", req.challenge],
    ["code_challenge_method", "S256"],
    ["resource", req.resource],
  ];
  if (req.scope.split(" ").includes("offline_access")) params.push(["prompt", "consent"]);
  const url = S.v.asm.authorization_endpoint + "?" + new URLSearchParams(params).toString();
  if (!S.v.goUrls) S.v.goUrls = {};
  S.v.goUrls[step] = url;
  S.v.callback = null;
  out({ t: "params", title: "The query parameters", rows: params });
  out({ t: "kv", title: "The URL the browser will open (GET)", rows: [["URL", url]] });
  return url;
}

STEPS.authorize = async function (out) {
  need(S.v.asm, "Run step 3 first.");
  const client = need(S.v.client, "Run step 4 first: the request needs a client_id.");
  need(S.v.challenge, "Run step 5 first: the request carries the code challenge.");
  authorizationRequest(out, "authorize", { clientId: client.client_id, scope: S.v.scope,
    state: S.v.state, challenge: S.v.challenge, resource: S.v.prm.resource });
  out({ t: "note", text: "Press \"Sign in and approve\" below: the server's own pages take over, then the callback brings you back to step 7." });
  return "ready: open it";
};

/** The checks a client makes on the authorization response before using the code. */
export function checkCallback(out, sentState) {
  const cb = need(S.v.callback, "No authorization response yet: open the authorization request first.");
  const p = cb.params;
  out({ t: "kv", title: "The redirect the browser followed", rows: [["GET", cb.path],
    ...Object.entries(p)] });
  const asm = S.v.asm || {};
  const issMissing = p.iss === undefined;
  const ok = checks(out, [
    { id: "state", ok: p.state !== undefined && p.state === sentState, label: "state is the one we sent",
      detail: `received ${JSON.stringify(p.state)}, sent ${JSON.stringify(sentState)}` },
    { id: "iss", ok: !issMissing && p.iss === asm.issuer, label: "iss equals the issuer from step 3",
      detail: issMissing ? "iss is missing, but the metadata promised it" : `${JSON.stringify(p.iss)} === ${JSON.stringify(asm.issuer)}` },
    { id: "code", ok: !!p.code, label: "A code came back", detail: p.error ? `error=${p.error}: ${p.error_description || ""}` : "" },
  ]);
  if (!ok) throw new StepError("A client must stop here and not use this response.");
  return secret(p.code);
}

/** The code, with its PKCE verifier, for tokens (RFC 6749 §4.1.3, RFC 7636 §4.5). */
export async function exchangeCode(out, grant) {
  const r = await http(out, "POST", S.v.asm.token_endpoint, { form: {
    grant_type: "authorization_code",
    code: grant.code,
    redirect_uri: cfg.redirectUri,
    client_id: grant.clientId,
    code_verifier: grant.verifier,
    resource: grant.resource,
  } });
  if (r.status !== 200) {
    throw new StepError(`${r.json.error}: ${r.json.error_description || ""}` +
      (r.json.error === "invalid_grant" ? ` A code works once; get a new one with ${grant.again}.` : ""));
  }
  return r;
}

STEPS.callback = async function (out) {
  S.v.code = null;
  S.v.code = checkCallback(out, S.v.state);
  return "all checks pass";
};

STEPS.token = async function (out) {
  need(S.v.asm, "Run step 3 first.");
  const code = need(S.v.code, "No checked code: run steps 6 and 7 first.");
  const r = await exchangeCode(out, { code, clientId: S.v.client.client_id, verifier: S.v.verifier,
    resource: S.v.prm.resource, again: "steps 5 to 7" });
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
      { id: "exp", ok: claims.exp * 1000 > Date.now(), label: "exp is in the future", detail: `${claims.exp} (${readable(claims.exp)})` },
    ]);
  } else {
    out({ t: "note", text: "No id_token: openid was not granted." });
  }
  if (/^eyJ[\w-]*\.[\w-]+\.[\w-]+$/.test(t.access_token)) {
    // RFC 9068: a JWT access token; decoded here only to look at (the API verifies it).
    const [ah, ap] = t.access_token.split(".");
    out({ t: "json", title: "access_token header (a JWT, RFC 9068: typ at+jwt)", value: decodeJwtPart(ah) });
    out({ t: "json", title: "access_token payload (base64url-decoded)", value: decodeJwtPart(ap) });
  } else {
    out({ t: "note", text: "The access token is opaque (gat_...): only introspection tells what it means. " +
      "With GATEHOUSE_ACCESS_TOKEN_FORMAT=jwt (or a resource added with --token-format jwt) it is a JWT " +
      "(RFC 9068) that a resource server can decode and verify itself; this step then shows it decoded." });
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
