#!/usr/bin/env bash
# Create a test client in the local Gatehouse database and print its credentials as exports:
#   eval "$(scripts/oauth2/setup-test-app.sh)"            # confidential, client_secret_basic
#   eval "$(scripts/oauth2/setup-test-app.sh --public)"   # public (PKCE only)
# Env: APP_NAME, REDIRECT_URI (default http://127.0.0.1:8765/callback), and the server's own
# GATEHOUSE_* settings (GATEHOUSE_DATABASE ...). Runs `flask --app app clients create --json`.
set -euo pipefail
source "$(dirname "$0")/_lib.sh"

REDIRECT_URI="${REDIRECT_URI:-http://127.0.0.1:8765/callback}"

out="$(mktemp)"
trap 'rm -f "$out"' EXIT
flask_cli clients create --name "${APP_NAME:-OAuth2 script test app}" \
  --redirect-uri "$REDIRECT_URI" --json "$@" >"$out" || die "flask clients create failed"

printf 'export CLIENT_ID=%s\n' "$(json_get "$out" client_id)"
if json_has "$out" client_secret; then
  printf 'export CLIENT_SECRET=%s\n' "$(json_get "$out" client_secret)"
else
  printf 'unset CLIENT_SECRET\n'
fi
printf 'export REDIRECT_URI=%s\n' "$REDIRECT_URI"
