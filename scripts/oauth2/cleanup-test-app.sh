#!/usr/bin/env bash
# Delete the test client made by setup-test-app.sh (and with it every token it holds):
#   scripts/oauth2/cleanup-test-app.sh [CLIENT_ID]      (default: $CLIENT_ID)
set -euo pipefail
source "$(dirname "$0")/_lib.sh"

client_id="${1:-${CLIENT_ID:-}}"
[ -n "$client_id" ] || die "usage: $0 CLIENT_ID (or set CLIENT_ID)"

flask_cli clients delete "$client_id" >&2
printf 'unset CLIENT_ID CLIENT_SECRET REDIRECT_URI\n'
