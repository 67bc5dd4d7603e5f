#!/usr/bin/env bash
# Print a fresh PKCE pair (RFC 7636, S256) as shell exports:
#   eval "$(scripts/oauth2/generate-pkce.sh)"
set -euo pipefail
source "$(dirname "$0")/_lib.sh"

new_pkce
printf 'export CODE_VERIFIER=%s\n' "$CODE_VERIFIER"
printf 'export CODE_CHALLENGE=%s\n' "$CODE_CHALLENGE"
printf 'export CODE_CHALLENGE_METHOD=S256\n'
