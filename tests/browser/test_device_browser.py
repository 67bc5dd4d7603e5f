"""In real headless Chromium: a person approves or denies a device code; the device polls."""

from __future__ import annotations

import httpx
import pytest

from oauth.constants import DEVICE_CODE_GRANT as DEVICE_GRANT
from tests.helpers.device import serve_device

PASSWORD = "correct horse battery"
# The form's <input type=submit> wears the same style as every <button>, not Chromium's grey.
LOOKS_LIKE_A_BUTTON = """submit => {
  const button = document.body.appendChild(document.createElement("button"));
  const colour = getComputedStyle(button).backgroundColor;
  button.remove();
  return colour === getComputedStyle(submit).backgroundColor;
}"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with serve_device(tmp_path_factory.mktemp("device-browser"), workers=2) as live:
        yield live


def device_start(server) -> dict:
    form = {"client_id": server.extra["client_id"], "scope": "openid profile"}
    return httpx.post(server.url + "/oauth2/device_authorization", data=form).json()


def poll(server, device_code: str) -> httpx.Response:
    form = {"grant_type": DEVICE_GRANT, "device_code": device_code}
    form["client_id"] = server.extra["client_id"]
    return httpx.post(server.url + "/oauth2/token", data=form)


def sign_in(page) -> None:
    page.wait_for_url("**/login?next=*")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", PASSWORD)
    assert page.eval_on_selector("#login-form [type=submit]", LOOKS_LIKE_A_BUTTON)
    page.click("#login-form [type=submit]")


@pytest.mark.browser
def test_sign_in_enter_the_code_approve_and_the_device_gets_tokens(server, watched):
    page = watched
    grant = device_start(server)
    assert poll(server, grant["device_code"]).json()["error"] == "authorization_pending"

    page.goto(grant["verification_uri_complete"])
    sign_in(page)
    page.wait_for_url("**/oauth2/device?user_code=*")
    assert page.input_value("input[name=user_code]") == grant["user_code"]  # prefilled
    page.click("#continue")

    page.wait_for_selector("#device-form")
    assert page.inner_text("#client-name") == "Living Room TV"
    assert page.inner_text("#device-user-code") == grant["user_code"]
    scopes = page.inner_text("#device-scopes")
    assert "Confirm your identity" in scopes and "See your name and username" in scopes
    assert page.inner_text("#device-audience") == "Gatehouse account API"
    page.click("#device-form button[value=allow]")
    page.wait_for_selector("#device-result[data-outcome=approved]")

    tokens = poll(server, grant["device_code"])
    assert tokens.status_code == 200, tokens.text
    body = tokens.json()
    assert body["token_type"] == "Bearer" and "id_token" in body and "refresh_token" in body
    me = httpx.get(
        server.url + "/api/v2/users/me",
        headers={"Authorization": "Bearer " + body["access_token"]},
    )
    assert me.json()["username"] == "alice"
    assert poll(server, grant["device_code"]).json()["error"] == "invalid_grant"

    page.goto(server.url + "/oauth2/device")  # the same code again: it says so
    page.fill("input[name=user_code]", grant["user_code"])
    page.click("#continue")
    page.wait_for_selector("#device-result[data-outcome=used]")
    assert page.problems == []


@pytest.mark.browser
def test_typed_code_then_deny_gives_access_denied(server, watched):
    page = watched
    grant = device_start(server)
    page.goto(server.url + "/oauth2/device")
    sign_in(page)
    page.wait_for_url("**/oauth2/device")
    page.fill("input[name=user_code]", "WRNG-CODE")  # not a code: says so, stays on the form
    page.click("#continue")
    assert "not valid" in page.inner_text("#device-error")
    typed = grant["user_code"].replace("-", "").lower()  # any case, no dash
    page.fill("input[name=user_code]", typed)
    page.click("#continue")
    page.wait_for_selector("#device-form")
    page.click("#device-form button[value=deny]")
    page.wait_for_selector("#device-result[data-outcome=denied]")

    denied = poll(server, grant["device_code"])
    assert denied.status_code == 400 and denied.json()["error"] == "access_denied"
    assert page.problems == []
