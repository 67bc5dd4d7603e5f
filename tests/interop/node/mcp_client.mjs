// The official TypeScript MCP SDK client against an MCP server protected by a live Gatehouse.
//
// Driven by tests/interop/test_ts_mcp_sdk.py. Environment:
//   MCP_URL              the MCP endpoint (its 401 starts discovery)
//   REDIRECT_URI         the client's redirect URI (nothing listens there)
//   CLIENT_METADATA_URL  optional: register by client ID metadata document instead of RFC 7591
//   STEPS                comma-separated: whoami, refresh, reuse, stepup (in that order;
//                        stepup only where the server has the write_note tool)
//
// Talks to pytest in JSON lines. For each authorization it prints
// {"event": "authorize", "url": ...} and reads one line back: the query of the redirect to
// REDIRECT_URI ({"code", "state", "iss"}), which pytest obtains by signing the user in over
// HTTP. At the end it prints {"event": "result", ...}: tool answers, tokens and every HTTP
// request the SDK made (the "wire").
import { createInterface } from "node:readline";
import { randomBytes } from "node:crypto";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import {
  UnauthorizedError,
  auth,
  discoverAuthorizationServerMetadata,
  refreshAuthorization,
} from "@modelcontextprotocol/sdk/client/auth.js";

const MCP_URL = process.env.MCP_URL;
const REDIRECT_URI = process.env.REDIRECT_URI;
const CLIENT_METADATA_URL = process.env.CLIENT_METADATA_URL || undefined;
const STEPS = (process.env.STEPS || "whoami").split(",");

const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const emit = (event) => process.stdout.write(JSON.stringify(event) + "\n");

// -- the wire: every request the SDK sends, with its answer's status --------------------------
const wire = [];

async function recordingFetch(url, init = {}) {
  const entry = { method: init.method || "GET", url: String(url) };
  const body = init.body;
  if (body instanceof URLSearchParams) {
    entry.form = Object.fromEntries(body);
  } else if (typeof body === "string" && String(url) !== MCP_URL) {
    entry.json = JSON.parse(body);
  }
  const response = await fetch(url, init);
  entry.status = response.status;
  entry.challenge = response.headers.get("www-authenticate");
  wire.push(entry);
  if (response.status === 403 && /insufficient_scope/.test(entry.challenge || "")) {
    provider.stepUpPending = true;
  }
  return response;
}

// -- the OAuthClientProvider: storage in memory, the "browser" is pytest ----------------------
class TestProvider {
  constructor() {
    this.clientMetadataUrl = CLIENT_METADATA_URL;
    this.client = undefined;
    this.saved = []; // every token response, in order
    this.authorizations = []; // [{url, callback}]
    this.verifier = undefined;
    this.expectedState = undefined;
    this.stepUpPending = false;
  }
  get redirectUrl() {
    return REDIRECT_URI;
  }
  get clientMetadata() {
    return {
      client_name: "Gatehouse test MCP client (TypeScript SDK)",
      redirect_uris: [REDIRECT_URI],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
    };
  }
  state() {
    this.expectedState = randomBytes(16).toString("base64url");
    return this.expectedState;
  }
  clientInformation() {
    return this.client;
  }
  saveClientInformation(info) {
    this.client = info;
  }
  tokens() {
    const current = this.saved.at(-1);
    // typescript-sdk#2255 (fixed by #2346, not in 1.x): on a 403 insufficient_scope the SDK
    // refreshes first, which cannot widen the scope (RFC 6749 §6), and then gives up. Hiding
    // the refresh token while a step-up is pending sends it to a new authorization instead.
    if (current && this.stepUpPending) {
      return { ...current, refresh_token: undefined };
    }
    return current;
  }
  saveTokens(tokens) {
    this.saved.push(tokens);
    this.stepUpPending = false;
  }
  async redirectToAuthorization(url) {
    emit({ event: "authorize", url: url.href });
    const { value, done } = await lines.next();
    if (done) throw new Error("pytest closed stdin during an authorization");
    const callback = JSON.parse(value);
    if (callback.state !== this.expectedState) throw new Error("state mismatch");
    if (!callback.code) throw new Error(`authorization refused: ${JSON.stringify(callback)}`);
    this.authorizations.push({ url: url.href, callback });
    this.pendingCode = callback.code;
  }
  saveCodeVerifier(verifier) {
    this.verifier = verifier;
  }
  codeVerifier() {
    return this.verifier;
  }
  invalidateCredentials(scope) {
    this.invalidated = [...(this.invalidated || []), scope];
    if (scope === "all" || scope === "tokens") this.saved.push(undefined);
    if (scope === "all" || scope === "client") this.client = undefined;
  }
}

const provider = new TestProvider();

function newTransport() {
  return new StreamableHTTPClientTransport(new URL(MCP_URL), {
    authProvider: provider,
    fetch: recordingFetch,
  });
}

// The SDK's pattern: a 401 starts the flow and throws UnauthorizedError after the redirect;
// the app exchanges the code with finishAuth and tries again.
async function connect() {
  for (let attempt = 0; attempt < 2; attempt++) {
    const transport = newTransport();
    const client = new Client({ name: "gatehouse-interop", version: "1.0.0" });
    try {
      await client.connect(transport);
      return { client, transport };
    } catch (error) {
      if (!(error instanceof UnauthorizedError)) throw error;
      await transport.finishAuth(provider.pendingCode);
    }
  }
  throw new Error("still unauthorized after signing in");
}

async function call(session, name, args = {}) {
  let result;
  try {
    result = await session.client.callTool({ name, arguments: args });
  } catch (error) {
    if (!(error instanceof UnauthorizedError)) throw error;
    await session.transport.finishAuth(provider.pendingCode);
    result = await session.client.callTool({ name, arguments: args });
  }
  if (result.isError) throw new Error(`${name} failed: ${JSON.stringify(result.content)}`);
  return result.structuredContent ?? result.content;
}

const report = { event: "result", calls: {} };
const session = await connect();
const tools = (await session.client.listTools()).tools.map((tool) => tool.name);
report.tools = tools;
report.calls.first = await call(session, "whoami");
const first = provider.tokens();

if (STEPS.includes("refresh")) {
  // The SDK's own orchestrator: with a stored refresh token it refreshes (with `resource`).
  const outcome = await auth(provider, { serverUrl: MCP_URL, fetchFn: recordingFetch });
  report.refresh = outcome;
  report.calls.afterRefresh = await call(session, "whoami");
}

if (STEPS.includes("reuse")) {
  // Replay the first, already rotated refresh token: the theft signal of OAuth 2.1 §4.3.1.
  const issuer = new URL(wire.find((e) => e.url.includes("/oauth2/token")).url).origin;
  const metadata = await discoverAuthorizationServerMetadata(issuer, { fetchFn: recordingFetch });
  const replay = async (refreshToken) => {
    try {
      await refreshAuthorization(issuer, {
        metadata,
        clientInformation: provider.client,
        refreshToken,
        resource: new URL(MCP_URL),
        fetchFn: recordingFetch,
      });
      return "accepted";
    } catch (error) {
      return error.errorCode || error.constructor.name;
    }
  };
  const current = provider.tokens();
  report.reuse = {
    replayed: await replay(first.refresh_token),
    current: await replay(current.refresh_token),
  };
  // The family is gone. (The example server caches introspection for 30 s, so ask the SDK
  // directly rather than wait for a 401.) Its refresh fails, it drops the tokens and signs in.
  report.reuse.recovery = await auth(provider, { serverUrl: MCP_URL, fetchFn: recordingFetch });
  await session.transport.finishAuth(provider.pendingCode);
  report.calls.afterReuse = await call(session, "whoami");
}

if (STEPS.includes("stepup") && tools.includes("write_note")) {
  report.calls.beforeStepUp = await call(session, "whoami");
  report.calls.writeNote = await call(session, "write_note", { text: "from the TypeScript SDK" });
  report.calls.afterStepUp = await call(session, "whoami");
}

await session.transport.close();
report.client = provider.client;
report.tokens = provider.saved;
report.authorizations = provider.authorizations;
report.invalidated = provider.invalidated || [];
report.wire = wire;
emit(report);
process.exit(0);
