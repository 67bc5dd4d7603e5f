#!/usr/bin/env bash
# End-to-end check of what an MCP client does against a running Gatehouse: discovery (RFC 8414,
# OIDC, RFC 9728), PKCE, resource indicators, sign-in and consent (scripted with a cookie jar),
# the token exchange, refresh rotation, reuse detection and revocation. Stops with a non-zero
# exit status at the first step that fails.
#
#   eval "$(scripts/oauth2/setup-test-app.sh)"
#   TEST_USERNAME=alice TEST_PASSWORD=... scripts/oauth2/test-mcp-oauth2.sh
#
# Env: GATEHOUSE_URL (default http://127.0.0.1:8000), CLIENT_ID, CLIENT_SECRET (unset for a
# public client), TOKEN_AUTH (basic | post; default basic), REDIRECT_URI, TEST_USERNAME,
# TEST_PASSWORD, SCOPE (default "openid profile email"), RESOURCE (default: the resource of the
# server's own protected resource metadata), REUSE_GRACE (seconds the script waits before
# proving family revocation: set it above the server's GATEHOUSE_REFRESH_TOKEN_REUSE_GRACE when
# that is on; default 0, like the server).
set -euo pipefail
source "$(dirname "$0")/_lib.sh"

: "${CLIENT_ID:?set CLIENT_ID (eval \"\$(scripts/oauth2/setup-test-app.sh)\")}"
: "${TEST_USERNAME:?set TEST_USERNAME}"
: "${TEST_PASSWORD:?set TEST_PASSWORD}"
REDIRECT_URI="${REDIRECT_URI:-http://127.0.0.1:8765/callback}"
SCOPE="${SCOPE:-openid profile email}"
REUSE_GRACE="${REUSE_GRACE:-0}"
export CLIENT_ID GATEHOUSE_URL

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
jar="$work/cookies"
body="$work/body"

# http CURL_ARGS... -> the status code; the body goes to $body, the headers to $work/headers.
http() { curl -sS -o "$body" -D "$work/headers" -w '%{http_code}' "$@"; }
header() { grep -i "^$1:" "$work/headers" | tail -n 1 | cut -d' ' -f2- | tr -d '\r'; }
expect_status() { [ "$1" = "$2" ] || die "$3: HTTP $1, expected $2: $(head -c 400 "$body")"; }
expect() { json_check "$body" "$1" || die "$2: $(head -c 400 "$body")"; }

if [ -z "${CLIENT_SECRET:-}" ]; then
  auth=(--data-urlencode "client_id=$CLIENT_ID")
elif [ "${TOKEN_AUTH:-basic}" = post ]; then
  auth=(--data-urlencode "client_id=$CLIENT_ID" --data-urlencode "client_secret=$CLIENT_SECRET")
else
  auth=(-u "$CLIENT_ID:$CLIENT_SECRET")
fi

token_request() { http -X POST "${auth[@]}" "$TOKEN_ENDPOINT" "$@"; }

# authorize -> sets CODE: the authorization request, signing in and allowing as a person would.
authorize() {
  local state url status method=GET data="" location action kind signed_in=""
  state="$(openssl rand 16 | b64url)"
  url="$AUTHORIZATION_ENDPOINT?$(urlencode response_type code client_id "$CLIENT_ID" \
    redirect_uri "$REDIRECT_URI" scope "$SCOPE" state "$state" \
    code_challenge "$CODE_CHALLENGE" code_challenge_method S256 resource "$RESOURCE")"
  for _ in 1 2 3 4 5 6 7 8 9 10 11 12; do
    if [ "$method" = GET ]; then
      status="$(http -b "$jar" -c "$jar" "$url")"
    else
      status="$(http -b "$jar" -c "$jar" -X POST --data "$data" "$url")"
    fi
    case "$status" in
      301|302|303|307)
        location="$(absolute "$url" "$(header location)")"
        if [[ "$location" == "$REDIRECT_URI"* ]]; then
          [ -z "$(query_get "$location" error)" ] \
            || die "authorization failed: $(query_get "$location" error_description)"
          [ "$(query_get "$location" state)" = "$state" ] || die "state was not echoed"
          [ "$(query_get "$location" iss)" = "$ISSUER" ] || die "iss (RFC 9207) is not the issuer"
          CODE="$(query_get "$location" code)"
          [ -n "$CODE" ] || die "no code in the redirect"
          return 0
        fi
        url="$location"; method=GET ;;
      200)
        { read -r kind; read -r action; read -r data; } \
          < <(next_form "$body" "$TEST_USERNAME" "$TEST_PASSWORD")
        [ -n "$data" ] || die "no sign-in or consent form at $url"
        if [ "$kind" = login ]; then
          [ -z "$signed_in" ] || die "sign-in as $TEST_USERNAME failed (wrong password?)"
          signed_in=1
        fi
        url="$(absolute "$url" "$action")"; method=POST ;;
      *) die "authorization step $url: HTTP $status: $(head -c 400 "$body")" ;;
    esac
  done
  die "too many steps before the redirect back to the client"
}

# redeem -> tokens for CODE into $work/tokens.json; sets ACCESS_TOKEN and REFRESH_TOKEN.
redeem() {
  status="$(token_request --data-urlencode grant_type=authorization_code \
    --data-urlencode "code=$CODE" --data-urlencode "redirect_uri=$REDIRECT_URI" \
    --data-urlencode "code_verifier=$CODE_VERIFIER" --data-urlencode "resource=$RESOURCE")"
  expect_status "$status" 200 "token exchange"
  [ "$(header cache-control)" = no-store ] || die "token response lacks Cache-Control: no-store"
  expect 'd["token_type"] == "Bearer" and type(d["expires_in"]) is int and d["expires_in"] > 0' \
    "token response shape (token_type Bearer, integer expires_in)"
  expect '"refresh_token" in d' "no refresh_token (does the client have the refresh_token grant?)"
  cp "$body" "$work/tokens.json"
  ACCESS_TOKEN="$(json_get "$body" access_token)"
  REFRESH_TOKEN="$(json_get "$body" refresh_token)"
}

refresh() {  # refresh TOKEN -> status; body in $body
  token_request --data-urlencode grant_type=refresh_token --data-urlencode "refresh_token=$1"
}

expect_invalid_grant() {
  expect_status "$1" 400 "$2"
  expect 'd["error"] == "invalid_grant"' "$2"
}

step "Discovery: authorization server metadata (RFC 8414)"
status="$(http "$GATEHOUSE_URL/.well-known/oauth-authorization-server")"
expect_status "$status" 200 "metadata"
expect 'd["issuer"] == env["GATEHOUSE_URL"]' "issuer must equal GATEHOUSE_URL exactly"
expect '"S256" in d["code_challenge_methods_supported"]' "S256 not advertised"
expect 'd.get("authorization_response_iss_parameter_supported") is True' "iss not advertised"
ISSUER="$(json_get "$body" issuer)"
AUTHORIZATION_ENDPOINT="$(json_get "$body" authorization_endpoint)"
TOKEN_ENDPOINT="$(json_get "$body" token_endpoint)"
REVOCATION_ENDPOINT="$(json_get "$body" revocation_endpoint)"
ok "issuer $ISSUER"

step "Discovery: OpenID configuration has the same issuer"
status="$(http "$GATEHOUSE_URL/.well-known/openid-configuration")"
expect_status "$status" 200 "openid-configuration"
expect 'd["issuer"] == env["GATEHOUSE_URL"]' "OIDC issuer differs"
ok "same issuer"

step "Discovery: a 401 points at the protected resource metadata (RFC 9728 §5.1)"
status="$(http "$GATEHOUSE_URL/api/v2/users/me")"
expect_status "$status" 401 "unauthenticated API call"
prm="$(header www-authenticate | sed -n 's/.*resource_metadata="\([^"]*\)".*/\1/p')"
[ -n "$prm" ] || die "WWW-Authenticate has no resource_metadata"
status="$(http "$prm")"
expect_status "$status" 200 "protected resource metadata"
expect 'd["authorization_servers"][0] == env["GATEHOUSE_URL"]' "PRM names another issuer"
RESOURCE="${RESOURCE:-$(json_get "$body" resource)}"
ok "resource $RESOURCE"

step "Grant 1: PKCE, sign-in, consent, code"
new_pkce
authorize
ok "code received, state and iss checked"

step "Grant 1: token exchange with resource and code_verifier"
redeem
ok "access token, refresh token, expires_in $(json_get "$work/tokens.json" expires_in)"

if [ "$RESOURCE" = "$ISSUER" ]; then
  step "Grant 1: the access token works at the built-in API"
  status="$(http -H "Authorization: Bearer $ACCESS_TOKEN" "$GATEHOUSE_URL/api/v2/users/me")"
  expect_status "$status" 200 "/api/v2/users/me"
  expect 'd["username"] == env["TEST_USERNAME"].lower()' "/users/me names another user"
  ok "signed in as $(json_get "$body" username)"
fi

step "Grant 1: a replayed code is refused and revokes what it issued"
status="$(token_request --data-urlencode grant_type=authorization_code \
  --data-urlencode "code=$CODE" --data-urlencode "redirect_uri=$REDIRECT_URI" \
  --data-urlencode "code_verifier=$CODE_VERIFIER" --data-urlencode "resource=$RESOURCE")"
expect_invalid_grant "$status" "code replay"
status="$(refresh "$REFRESH_TOKEN")"
expect_invalid_grant "$status" "refresh token of a replayed code still works"
ok "replay refused, grant revoked"

step "Grant 2: a wrong code_verifier is refused, the right one then works"
new_pkce
authorize
good_verifier="$CODE_VERIFIER"
CODE_VERIFIER="$(openssl rand 32 | b64url)"
status="$(token_request --data-urlencode grant_type=authorization_code \
  --data-urlencode "code=$CODE" --data-urlencode "redirect_uri=$REDIRECT_URI" \
  --data-urlencode "code_verifier=$CODE_VERIFIER" --data-urlencode "resource=$RESOURCE")"
expect_invalid_grant "$status" "wrong code_verifier"
CODE_VERIFIER="$good_verifier"
redeem
ok "PKCE enforced"

step "Grant 2: refresh rotates the refresh token"
first_refresh="$REFRESH_TOKEN"
status="$(refresh "$first_refresh")"
expect_status "$status" 200 "refresh"
expect 'd["token_type"] == "Bearer" and type(d["expires_in"]) is int' "refresh response shape"
second_refresh="$(json_get "$body" refresh_token)"
[ "$second_refresh" != "$first_refresh" ] || die "refresh token was not rotated"
ok "rotated"

step "Grant 2: reuse of the rotated refresh token is refused"
status="$(refresh "$first_refresh")"
expect_invalid_grant "$status" "reuse of a rotated refresh token"
ok "refused"

# A reuse within the server's grace (a client racing itself) is refused without revoking;
# past it, reuse means theft and the whole family goes.
step "Grant 2: reuse past the grace revokes the whole family (waiting ${REUSE_GRACE}s)"
sleep "$REUSE_GRACE"
status="$(refresh "$first_refresh")"
expect_invalid_grant "$status" "late reuse of a rotated refresh token"
status="$(refresh "$second_refresh")"
expect_invalid_grant "$status" "family still alive after reuse"
ok "family revoked"

step "Grant 3: revocation (RFC 7009)"
new_pkce
authorize
redeem
status="$(http -X POST "${auth[@]}" --data-urlencode "token=$REFRESH_TOKEN" \
  --data-urlencode token_type_hint=refresh_token "$REVOCATION_ENDPOINT")"
expect_status "$status" 200 "revoke"
status="$(refresh "$REFRESH_TOKEN")"
expect_invalid_grant "$status" "refresh after revocation"
if [ "$RESOURCE" = "$ISSUER" ]; then
  status="$(http -H "Authorization: Bearer $ACCESS_TOKEN" "$GATEHOUSE_URL/api/v2/users/me")"
  expect_status "$status" 401 "access token after its refresh token was revoked"
fi
status="$(http -X POST "${auth[@]}" --data-urlencode "token=gat_unknown" "$REVOCATION_ENDPOINT")"
expect_status "$status" 200 "revoking an unknown token"
ok "revoked"

printf '\nAll checks passed against %s\n' "$ISSUER"
