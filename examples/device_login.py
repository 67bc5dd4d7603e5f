#!/usr/bin/env python3
"""Sign a command-line app in with the device flow (RFC 8628), standard library only.

    python examples/device_login.py --issuer http://127.0.0.1:8000 --client-id CLIENT_ID

The app asks Gatehouse for a code, tells you where to enter it, then polls the token endpoint
politely (every `interval` seconds, 5 more after each `slow_down`) until you approve or deny
in a browser. Progress goes to stderr; the token response goes to stdout as JSON, so
`python examples/device_login.py ... > tokens.json` keeps only the tokens.

The client must have the grant `urn:ietf:params:oauth:grant-type:device_code`, e.g.
`flask --app app clients create --name "My CLI" --public --grant-type
urn:ietf:params:oauth:grant-type:device_code --grant-type refresh_token`.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
TIMEOUT = 30  # seconds per HTTP request


class Failed(Exception):
    """The flow ended without tokens; the message says why."""


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def post(url: str, form: dict, client_id: str, secret: str | None) -> tuple[int, dict, dict]:
    """POST a form (client_secret_basic with a secret, else a public client_id): status, JSON."""
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
    if secret is None:
        form = {**form, "client_id": client_id}
    else:  # RFC 6749 §2.3.1: each part form-urlencoded before base64
        pair = f"{urllib.parse.quote_plus(client_id)}:{urllib.parse.quote_plus(secret)}"
        headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
    body = urllib.parse.urlencode(form).encode()
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            return response.status, json.load(response), dict(response.headers)
    except urllib.error.HTTPError as error:
        with error:
            try:
                payload = json.load(error)
            except ValueError:
                payload = {"error": f"http_{error.code}"}
            return error.code, payload, dict(error.headers)


def endpoints(issuer: str) -> tuple[str, str]:
    """The device authorization and token endpoints, from the server's metadata (RFC 8414)."""
    url = issuer.rstrip("/") + "/.well-known/oauth-authorization-server"
    with urllib.request.urlopen(url, timeout=TIMEOUT) as response:
        metadata = json.load(response)
    if "device_authorization_endpoint" not in metadata:
        raise Failed(f"{issuer} does not offer the device flow")
    return metadata["device_authorization_endpoint"], metadata["token_endpoint"]


def start(args: argparse.Namespace, device_endpoint: str) -> dict:
    """Ask for a device code and a user code (RFC 8628 §3.1, §3.2)."""
    form = {}
    if args.scope:
        form["scope"] = args.scope
    if args.resource:
        form["resource"] = args.resource
    status, body, _ = post(device_endpoint, form, args.client_id, args.client_secret)
    if status != 200:
        raise Failed(f"device authorization failed: {describe(body)}")
    return body


def poll(args: argparse.Namespace, token_endpoint: str, grant: dict) -> dict:
    """Poll until approved, denied or expired (RFC 8628 §3.4, §3.5); the token response."""
    interval = int(grant.get("interval", 5))
    deadline = time.monotonic() + int(grant["expires_in"])
    form = {"grant_type": DEVICE_GRANT, "device_code": grant["device_code"]}
    while time.monotonic() < deadline:
        time.sleep(interval)  # wait first: the person needs time to type the code anyway
        status, body, headers = post(token_endpoint, form, args.client_id, args.client_secret)
        if status == 200:
            return body
        error = body.get("error")
        if error == "authorization_pending":
            say("  waiting for approval ...")
        elif error == "slow_down":
            interval += 5  # §3.5: for this and every later request
            say(f"  server asked to slow down; polling every {interval} s")
        elif status == 503:  # busy: come back when it says
            time.sleep(int(headers.get("Retry-After", interval)))
        else:
            raise Failed(describe(body))
    raise Failed("the code expired before it was approved; run again for a new one")


def describe(body: dict) -> str:
    error = body.get("error", "unknown_error")
    text = body.get("error_description")
    return f"{error}: {text}" if text else error


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Sign in with the OAuth device flow (RFC 8628) and print the tokens.",
        epilog="Progress goes to stderr; the token response is printed to stdout as JSON.",
    )
    parser.add_argument(
        "--issuer",
        default=os.environ.get("GATEHOUSE_ISSUER", "http://127.0.0.1:8000"),
        help="Gatehouse's issuer URL (default: $GATEHOUSE_ISSUER or http://127.0.0.1:8000)",
    )
    parser.add_argument("--client-id", required=True, help="a client with the device grant")
    parser.add_argument(
        "--client-secret",
        default=os.environ.get("CLIENT_SECRET"),
        help="for a confidential client (default: $CLIENT_SECRET); omit for a public client",
    )
    parser.add_argument("--scope", help='space-separated scopes, e.g. "openid profile"')
    parser.add_argument("--resource", help="the API the token is for (RFC 8707)")
    args = parser.parse_args(argv)
    try:
        device_endpoint, token_endpoint = endpoints(args.issuer)
        grant = start(args, device_endpoint)
        say(f"To sign in, open {grant['verification_uri']}")
        say(f"and enter the code: {grant['user_code']}")
        if "verification_uri_complete" in grant:
            say(f"(or open {grant['verification_uri_complete']} )")
        tokens = poll(args, token_endpoint, grant)
    except Failed as exc:
        say(f"Sign-in failed: {exc}")
        return 1
    except (OSError, ValueError) as exc:  # URLError is an OSError
        say(f"Cannot talk to {args.issuer}: {exc}")
        return 2
    say("Signed in.")
    print(json.dumps(tokens, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
