#!/usr/bin/env bash
# Walk the authorization code flow by hand: open the authorization URL in your browser, sign in
# and allow; a one-shot listener on 127.0.0.1:$PORT catches the redirect, and the script
# exchanges the code (with PKCE) and prints the token response.
#
#   eval "$(scripts/oauth2/setup-test-app.sh)" && scripts/oauth2/test-manual-flow.sh
#
# Env: GATEHOUSE_URL (default http://127.0.0.1:8000), CLIENT_ID, CLIENT_SECRET (unset for a
# public client), PORT (default 8765; the client must have http://127.0.0.1:PORT/callback
# registered), SCOPE (default "openid profile email"), RESOURCE (optional), TIMEOUT (seconds
# to wait for the browser, default 300).
set -euo pipefail
source "$(dirname "$0")/_lib.sh"

: "${CLIENT_ID:?set CLIENT_ID (eval \"\$(scripts/oauth2/setup-test-app.sh)\")}"
PORT="${PORT:-8765}"
REDIRECT_URI="http://127.0.0.1:$PORT/callback"
SCOPE="${SCOPE:-openid profile email}"

new_pkce
state="$(openssl rand 16 | b64url)"
params=(response_type code client_id "$CLIENT_ID" redirect_uri "$REDIRECT_URI" scope "$SCOPE"
  state "$state" code_challenge "$CODE_CHALLENGE" code_challenge_method S256)
[ -z "${RESOURCE:-}" ] || params+=(resource "$RESOURCE")
url="$GATEHOUSE_URL/oauth2/authorize?$(urlencode "${params[@]}")"

printf 'Open this URL in a browser, sign in and allow:\n\n  %s\n\n' "$url" >&2
for opener in xdg-open open; do
  if command -v "$opener" >/dev/null 2>&1; then "$opener" "$url" >/dev/null 2>&1 || true; break; fi
done
printf 'Waiting for the redirect on %s ...\n' "$REDIRECT_URI" >&2

# One request, one answer: print the callback's query string and stop listening.
query="$(python3 - "$PORT" "${TIMEOUT:-300}" <<'PY'
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import urlsplit

class Callback(BaseHTTPRequestHandler):
    def do_GET(self):
        parts = urlsplit(self.path)
        if parts.path != "/callback":
            self.send_error(404)
            return
        self.server.query = parts.query
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.end_headers()
        self.wfile.write(b"Gatehouse test: you can close this tab and go back to the terminal.\n")

    def log_message(self, *args):
        pass

server = HTTPServer(("127.0.0.1", int(sys.argv[1])), Callback)
server.timeout = float(sys.argv[2])
server.query = None
server.timed_out = False


def timed_out():
    server.timed_out = True


server.handle_timeout = timed_out
while server.query is None and not server.timed_out:
    server.handle_request()  # a stray request (favicon) is answered 404 and we keep waiting
if server.query is None:
    sys.exit("timed out waiting for the redirect")
print(server.query)
PY
)"
callback="$REDIRECT_URI?$query"

error="$(query_get "$callback" error)"
[ -z "$error" ] || die "authorization failed: $error: $(query_get "$callback" error_description)"
[ "$(query_get "$callback" state)" = "$state" ] || die "state mismatch: possible CSRF"
code="$(query_get "$callback" code)"
[ -n "$code" ] || die "no code in the callback"
printf 'Got a code (iss=%s); exchanging it ...\n' "$(query_get "$callback" iss)" >&2

form=(--data-urlencode grant_type=authorization_code --data-urlencode "code=$code"
  --data-urlencode "redirect_uri=$REDIRECT_URI" --data-urlencode "code_verifier=$CODE_VERIFIER")
[ -z "${RESOURCE:-}" ] || form+=(--data-urlencode "resource=$RESOURCE")
if [ -n "${CLIENT_SECRET:-}" ]; then
  form+=(-u "$CLIENT_ID:$CLIENT_SECRET")
else
  form+=(--data-urlencode "client_id=$CLIENT_ID")
fi
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
status="$(curl -sS -o "$out" -w '%{http_code}' -X POST "${form[@]}" "$GATEHOUSE_URL/oauth2/token")"
python3 -m json.tool "$out"
[ "$status" = 200 ] || die "token endpoint answered HTTP $status"
