"""Secrets never reach a log: every flow runs against a live server with canary values, then
the access log, the error log and the app log (one gunicorn output here) and the audit log are
searched for every password, secret, code and token the test saw, in both log formats
(GATEHOUSE_LOG_FORMAT text and json)."""

from __future__ import annotations

import json
import sqlite3
from urllib.parse import urlencode

import httpx
import pytest

from tests.helpers.common import pkce_pair
from tests.helpers.live import REDIRECT_URI, start_live_server
from tests.helpers.oauth_browser import drive_consent, forms_of

pytestmark = pytest.mark.live

PASSWORD = "canary-password-5f1d7e"
WRONG_PASSWORD = "canary-wrong-password-9a4c"
STATE = "canary-state-2b7e"
NONCE = "canary-nonce-8c3f"


class Seen:
    """Every secret value the flows handled, to look for afterwards."""

    def __init__(self) -> None:
        self.values: set[str] = {PASSWORD, WRONG_PASSWORD}

    def add(self, *values: str | None) -> None:
        self.values.update(v for v in values if v)

    def tokens(self, body: dict) -> dict:
        self.add(body.get("access_token"), body.get("refresh_token"), body.get("id_token"))
        return body


@pytest.fixture(params=["text", "json"])
def server(tmp_path, request):
    live = start_live_server(tmp_path, workers=2, GATEHOUSE_LOG_FORMAT=request.param)
    live.extra["log_format"] = request.param
    yield live
    live.stop()


def authorize_url(server, client_id: str, challenge: str) -> str:
    query = urlencode({"response_type": "code", "client_id": client_id,
                       "redirect_uri": REDIRECT_URI, "scope": "openid profile email",
                       "state": STATE, "nonce": NONCE, "code_challenge": challenge,
                       "code_challenge_method": "S256"})  # fmt: skip
    return f"{server.url}/oauth2/authorize?{query}"


def approve_device(server, browser: httpx.Client, user_code: str) -> None:
    """Enter the user code on the device page, then approve, as a person would."""
    page = browser.get(f"{server.url}/oauth2/device", params={"user_code": user_code})
    form = next(f for f in forms_of(page.text) if f["attrs"].get("id") == "code-form")
    confirm = browser.post(f"{server.url}/oauth2/device", data=form["fields"])
    form = next(f for f in forms_of(confirm.text) if f["attrs"].get("id") == "device-form")
    done = browser.post(f"{server.url}/oauth2/device", data={**form["fields"], "decision": "allow"})
    assert done.status_code == 200, done.text[:300]


def run_every_flow(server, seen: Seen) -> None:
    url = server.url
    server.flask("users", "create", "alice", "--password", PASSWORD, "--email", "a@example.com")
    server.flask("users", "create", "root", "--password", PASSWORD, "--admin")
    admin = server.flask("users", "token", "root").strip().splitlines()[-1]
    seen.add(admin)
    api = {"Authorization": f"Bearer {admin}"}
    created = httpx.post(url + "/api/v2/oauth2-provider/apps", headers=api, json={
        "name": "Canary", "redirect_uris": [REDIRECT_URI],
        "grant_types": ["authorization_code", "refresh_token", "client_credentials",
                        "urn:ietf:params:oauth:grant-type:device_code"]}).json()  # fmt: skip
    client_id, secret = created["client_id"], created["client_secret"]
    seen.add(secret)
    extra = httpx.post(f"{url}/api/v2/oauth2-provider/apps/{client_id}/secrets", headers=api)
    seen.add(extra.json()["client_secret"])
    auth = (client_id, secret)

    with httpx.Client(timeout=30) as browser:
        # A failed sign-in first (the wrong password must not be logged either).
        login = browser.get(url + "/login")
        fields = forms_of(login.text)[-1]["fields"]
        browser.post(url + "/login", data={**fields, "username": "alice",
                                           "password": WRONG_PASSWORD})  # fmt: skip
        verifier, challenge = pkce_pair()
        seen.add(verifier)
        code, state, _ = drive_consent(authorize_url(server, client_id, challenge), "alice",
                                       PASSWORD, http=browser)  # fmt: skip
        assert state == STATE
        seen.add(code, browser.cookies.get("gatehouse_session"))
        form = {"grant_type": "authorization_code", "code": code,
                "redirect_uri": REDIRECT_URI, "code_verifier": verifier}  # fmt: skip
        tokens = seen.tokens(httpx.post(url + "/oauth2/token", data=form, auth=auth).json())
        bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
        info = httpx.get(url + "/oauth2/userinfo", headers=bearer)
        assert info.status_code == 200, (tokens, info.text)
        assert httpx.get(url + "/api/v2/users/me", headers=bearer).status_code == 200
        refresh = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
        rotated = seen.tokens(httpx.post(url + "/oauth2/token", auth=auth, data=refresh).json())
        httpx.post(url + "/oauth2/introspect", data={"token": rotated["access_token"]}, auth=auth)
        httpx.post(url + "/oauth2/revoke", data={"token": rotated["refresh_token"]}, auth=auth)
        httpx.post(url + "/oauth2/token", data=form, auth=auth)  # a replayed code

        device = httpx.post(url + "/oauth2/device_authorization", auth=auth,
                            data={"scope": "openid profile"}).json()  # fmt: skip
        seen.add(device["device_code"], device["user_code"])
        approve_device(server, browser, device["user_code"])
        grant = "urn:ietf:params:oauth:grant-type:device_code"
        polled = httpx.post(
            url + "/oauth2/token",
            auth=auth,
            data={"grant_type": grant, "device_code": device["device_code"]},
        )
        assert "access_token" in seen.tokens(polled.json()), polled.text

    seen.tokens(httpx.post(url + "/oauth2/token", auth=auth,
                           data={"grant_type": "client_credentials"}).json())  # fmt: skip
    registered = httpx.post(url + "/oauth2/register", json={
        "client_name": "Canary DCR", "redirect_uris": [REDIRECT_URI]}).json()  # fmt: skip
    seen.add(registered["client_secret"], registered["registration_access_token"])
    reg = {"Authorization": f"Bearer {registered['registration_access_token']}"}
    httpx.get(registered["registration_client_uri"], headers=reg)
    httpx.delete(registered["registration_client_uri"], headers=reg)

    # Wrong and forged credentials are secrets too: a typo'd real secret is still one.
    wrong = "gcs_000000000000_canaryWrongSecretCanaryWrongSecretCanaryWr"
    forged = "gat_canaryForgedAccessTokenCanaryForgedAccessTok"
    seen.add(wrong, forged)
    httpx.post(
        url + "/oauth2/token", auth=(client_id, wrong), data={"grant_type": "client_credentials"}
    )  # noqa: E501
    httpx.get(url + "/api/v2/users/me", headers={"Authorization": f"Bearer {forged}"})
    httpx.get(url + "/oauth2/authorize", params={"client_id": client_id, "code": forged,
                                                  "access_token": forged})  # fmt: skip


def audit_text(database: str) -> str:
    conn = sqlite3.connect(database)
    try:
        return json.dumps(conn.execute("SELECT * FROM audit_event").fetchall())
    finally:
        conn.close()


def test_no_secret_code_or_token_appears_in_any_log(server):
    seen = Seen()
    run_every_flow(server, seen)
    server.stop()  # flush and close the logs
    logs = {"gunicorn access/error/app log": server.log(), "audit log": audit_text(server.database)}
    token_line = {"text": '"POST /oauth2/token"', "json": '"path": "/oauth2/token"'}
    assert token_line[server.extra["log_format"]] in logs["gunicorn access/error/app log"]
    assert len(seen.values) >= 20
    for name, text in logs.items():
        leaked = sorted(v[:12] + "…" for v in seen.values if v in text)
        assert leaked == [], f"{name} contains {leaked}"
        assert STATE not in text and NONCE not in text  # query strings are never logged
