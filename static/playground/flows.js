/* Playground: the client credentials flow and the device flow (polling shown live). */

import { DEVICE_GRANT, S, STEPS, StepError, basicAuth, http, need, save } from "./core.js";
import { checks, render, run } from "./ui.js";
import { adminClient, callApi, introspect, metadata, register } from "./steps.js";

// -- client credentials --------------------------------------------------------------------

STEPS["cc-register"] = async function (out) {
  const info = await adminClient(out, { name: "Playground machine client" });
  S.v.cc = info;
  checks(out, [{ id: "secret", ok: !!info.client_secret, label: "A client_secret, shown once", detail: info.client_secret }]);
  return "client_id " + info.client_id;
};

STEPS["cc-token"] = async function (out) {
  const cc = need(S.v.cc, "Run step C1 first.");
  const asm = await metadata(out);
  const r = await http(out, "POST", asm.token_endpoint, {
    headers: [["Authorization", basicAuth(cc.client_id, cc.client_secret)]],
    form: { grant_type: "client_credentials" },  // no user, so no user scopes
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
  setTimeout(() => run("device-poll", { alongside: true }), 0); // keep the user code's exchange open
  return `code ${r.json.user_code}, polling every ${r.json.interval} s`;
};

let pollTimer = null;
let countdown = null;
let polling = false;

export function stopPolling() {
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
export async function poll() {
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
