// panva's openid-client, a certified OpenID Connect relying party, against a live Gatehouse.
//
// Driven by tests/interop/test_openid_client.py. Environment: ISSUER, REDIRECT_URI,
// POST_LOGOUT_REDIRECT_URI, and ID_TOKEN_ALG (optional: registered as
// id_token_signed_response_alg, which the library then requires of every id_token). Talks to pytest in JSON lines (see tests/helpers/node.py):
//   {"event": "authorize", "url"}  -> the query of the redirect back to REDIRECT_URI
//   {"event": "device", "user_code", ...} -> {} once the person has approved
//   {"event": "logout", "url"}     -> {"location"}: where the end-session endpoint sent them
// and finally {"event": "result", ...}. Every check of the protocol (issuer, state, PKCE, the
// id_token's signature, iss, aud, nonce, exp; RFC 9207's iss on the redirect; the userinfo
// subject) is the library's own: any failure throws and the script exits without a result.
import { createInterface } from "node:readline";
import * as client from "openid-client";

const ISSUER = new URL(process.env.ISSUER);
const REDIRECT_URI = process.env.REDIRECT_URI;
const POST_LOGOUT_REDIRECT_URI = process.env.POST_LOGOUT_REDIRECT_URI;
const ID_TOKEN_ALG = process.env.ID_TOKEN_ALG;

const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();

async function ask(event) {
  process.stdout.write(JSON.stringify(event) + "\n");
  const { value, done } = await lines.next();
  if (done) throw new Error(`pytest closed stdin while answering ${event.event}`);
  return JSON.parse(value);
}

// Discovery (OpenID Connect Discovery 1.0) and registration (RFC 7591) in one call; loopback
// http is test-only, hence allowInsecureRequests.
const config = await client.dynamicClientRegistration(
  ISSUER,
  {
    client_name: "Gatehouse test RP (openid-client)",
    redirect_uris: [REDIRECT_URI],
    post_logout_redirect_uris: [POST_LOGOUT_REDIRECT_URI],
    grant_types: [
      "authorization_code",
      "refresh_token",
      "urn:ietf:params:oauth:grant-type:device_code",
    ],
    response_types: ["code"],
    token_endpoint_auth_method: "client_secret_post",
    ...(ID_TOKEN_ALG ? { id_token_signed_response_alg: ID_TOKEN_ALG } : {}),
  },
  undefined,
  { execute: [client.allowInsecureRequests] },
);
const metadata = config.serverMetadata();
const report = {
  event: "result",
  issuer: metadata.issuer,
  client_id: config.clientMetadata().client_id,
  id_token_signed_response_alg: config.clientMetadata().id_token_signed_response_alg,
};

// The authorization code flow with PKCE, state and nonce; the library validates the id_token.
const verifier = client.randomPKCECodeVerifier();
const state = client.randomState();
const nonce = client.randomNonce();
const authorizationUrl = client.buildAuthorizationUrl(config, {
  redirect_uri: REDIRECT_URI,
  scope: "openid profile email",
  code_challenge: await client.calculatePKCECodeChallenge(verifier),
  code_challenge_method: "S256",
  state,
  nonce,
});
const callback = await ask({ event: "authorize", url: authorizationUrl.href });
const currentUrl = new URL(REDIRECT_URI);
for (const [name, value] of Object.entries(callback)) currentUrl.searchParams.set(name, value);
const tokens = await client.authorizationCodeGrant(config, currentUrl, {
  pkceCodeVerifier: verifier,
  expectedState: state,
  expectedNonce: nonce,
  idTokenExpected: true,
});
const claims = tokens.claims();
report.code = {
  claims,
  scope: tokens.scope,
  token_type: tokens.token_type,
  id_token: tokens.id_token,
};
report.authorizationUrl = authorizationUrl.href;

// UserInfo, bound to the id_token's subject (the library refuses another `sub`).
report.userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);

// The device authorization grant (RFC 8628): the person approves on another device.
const device = await client.initiateDeviceAuthorization(config, { scope: "openid profile" });
await ask({
  event: "device",
  user_code: device.user_code,
  verification_uri: device.verification_uri,
  verification_uri_complete: device.verification_uri_complete,
  interval: device.interval,
});
const deviceTokens = await client.pollDeviceAuthorizationGrant(config, device);
report.device = { claims: deviceTokens.claims(), scope: deviceTokens.scope };

// RP-initiated logout with the id_token as hint.
const endSession = client.buildEndSessionUrl(config, {
  id_token_hint: tokens.id_token,
  post_logout_redirect_uri: POST_LOGOUT_REDIRECT_URI,
  state: "bye",
});
report.logout = await ask({ event: "logout", url: endSession.href });
report.endSessionUrl = endSession.href;

process.stdout.write(JSON.stringify(report) + "\n");
process.exit(0);
