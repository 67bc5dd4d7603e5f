"""In real headless Chromium: click through the playground's MCP chain and its device flow.

The page is the OAuth client: every request it shows was really made by its own script
against a live Gatehouse, and sign-in, consent and device approval happen on the server's
real pages in the same browser context. Assertions are on what the page shows.
"""

from __future__ import annotations

import base64
import hashlib
import re

import pytest
import test_device_browser as device_browser

from tests.helpers.live import start_live_server

PASSWORD = "correct horse battery"
ACCESS_TOKEN = re.compile(r"gat_[A-Za-z0-9_-]{20,}")

# The device page's tests already collect console errors (CSP violations) and sign in.
sign_in = device_browser.sign_in


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    # No reuse grace: replaying a rotated refresh token at once revokes the family (step 12).
    live = start_live_server(
        tmp_path_factory.mktemp("playground"), workers=2, GATEHOUSE_REFRESH_TOKEN_REUSE_GRACE="0"
    )
    # An administrator: the page creates its resource server and machine client (which must
    # be vetted) through the management API with her session.
    live.flask("users", "create", "alice", "--password", PASSWORD, "--admin")
    yield live
    live.stop()


def run(page, step: str, state: str = "done"):
    """Press the step's Run button and wait until the step settles; return the step element."""
    page.click(f"#step-{step} .pg-run")
    page.wait_for_selector(f"#step-{step}[data-state={state}]")
    return page.locator(f"#step-{step}")


def verdict(page, step: str, check: str) -> str:
    return page.inner_text(f"#step-{step} [data-check={check}] .pg-verdict")


def response_of(page, step: str, index: int = 0) -> str:
    return page.locator(f"#step-{step} pre.pg-res").nth(index).inner_text()


def authorize_and_return(page, sign_in_first: bool) -> None:
    """Step 6's link: sign in if asked, allow on the real consent page, back to step 7."""
    page.click("#pg-authorize-go")
    if sign_in_first:
        sign_in(page)
    page.wait_for_selector("#consent-form")
    assert page.inner_text("#client-name") == "Gatehouse playground"
    page.click("#consent-form button[value=allow]")
    page.wait_for_url("**/playground#step-callback")
    page.wait_for_selector("#step-callback[data-state=done]")


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@pytest.mark.browser
def test_the_mcp_chain_end_to_end(server, watched):
    page = watched
    page.goto(server.url + "/playground")
    assert "Teaching tool" in page.inner_text("h1")

    step = run(page, "401")
    assert "HTTP/1.1 401" in response_of(page, "401")
    assert f'resource_metadata="{server.url}/.well-known/oauth-protected-resource"' in (
        response_of(page, "401")
    )
    assert verdict(page, "401", "resource_metadata") == "pass"

    run(page, "prm")
    prm = response_of(page, "prm")
    assert '"authorization_servers"' in prm and f'"{server.url}"' in prm
    assert verdict(page, "prm", "resource") == "pass"

    run(page, "asm")
    assert verdict(page, "asm", "issuer") == "pass"
    assert f'"{server.url}" === "{server.url}"' in page.inner_text("#step-asm [data-check=issuer]")

    run(page, "register")
    assert "HTTP/1.1 201" in response_of(page, "register")
    assert verdict(page, "register", "public") == "pass"

    # PKCE: the challenge on the page is SHA-256 of the (masked) verifier, in base64url.
    step = run(page, "pkce")
    secret = step.locator(".pg-secret").first
    assert "(hidden)" in secret.inner_text()
    secret.click()
    verifier = secret.inner_text()
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", verifier)
    assert s256(verifier) in step.inner_text()

    step = run(page, "authorize")
    params = step.locator("table.pg-params").inner_text()
    for expected in ("code_challenge_method\tS256", f"resource\t{server.url}", "prompt\tconsent"):
        assert expected in params
    authorize_and_return(page, sign_in_first=True)
    for check in ("state", "iss", "code"):
        assert verdict(page, "callback", check) == "pass"

    step = run(page, "token")
    assert "HTTP/1.1 200" in response_of(page, "token")
    assert verdict(page, "token", "refresh") == "pass"
    assert not ACCESS_TOKEN.search(step.inner_text())  # masked by default
    page.check("#pg-reveal")
    assert ACCESS_TOKEN.search(step.inner_text())
    page.uncheck("#pg-reveal")
    assert not ACCESS_TOKEN.search(step.inner_text())

    step = run(page, "inspect")
    assert '"kid"' in step.inner_text()
    assert "The access token is opaque" in step.inner_text()
    for check in ("kid", "signature", "id-iss", "id-aud", "active", "aud"):
        assert verdict(page, "inspect", check) == "pass", check
    assert f'"aud": "{server.url}"' in step.inner_text()

    run(page, "api")
    assert '"username": "alice"' in response_of(page, "api")

    run(page, "refresh")
    assert verdict(page, "refresh", "rotated") == "pass"

    step = run(page, "reuse")
    assert '"error": "invalid_grant"' in response_of(page, "reuse")
    for check in ("invalid_grant", "inactive", "api-401"):
        assert verdict(page, "reuse", check) == "pass", check

    # Revocation needs a live family: every step re-runs, so take a second code and revoke.
    run(page, "pkce")
    run(page, "authorize")
    authorize_and_return(page, sign_in_first=False)
    run(page, "token")
    run(page, "revoke")
    for check in ("revoke-200", "was-active", "inactive", "api-401"):
        assert verdict(page, "revoke", check) == "pass", check
    assert page.problems == []


@pytest.mark.browser
def test_a_jwt_access_token_is_shown_decoded(tmp_path, watched):
    """With GATEHOUSE_ACCESS_TOKEN_FORMAT=jwt the inspect step decodes the access token too."""
    live = start_live_server(tmp_path, workers=1, GATEHOUSE_ACCESS_TOKEN_FORMAT="jwt")
    try:
        live.flask("users", "create", "alice", "--password", PASSWORD, "--admin")
        page = watched
        page.goto(live.url + "/playground")
        for name in ("401", "prm", "asm", "register", "pkce", "authorize"):
            run(page, name)
        authorize_and_return(page, sign_in_first=True)
        run(page, "token")
        text = run(page, "inspect").inner_text()
        assert "access_token header (a jwt" in text.lower() and '"typ": "at+jwt"' in text
        assert f'"aud": "{live.url}"' in text and '"client_id"' in text
        run(page, "api")  # the built-in API accepts the JWT over real HTTP
        assert '"username": "alice"' in response_of(page, "api")
    finally:
        live.stop()


@pytest.mark.browser
def test_a_forged_callback_fails_the_state_check(server, watched):
    page = watched
    page.goto(server.url + "/playground")
    for step in ("401", "prm", "asm", "register", "pkce", "authorize"):
        run(page, step)
    # Someone else's redirect: a code and state this page never asked for.
    page.goto(server.url + f"/playground/callback?code=gac_forged&state=other&iss={server.url}")
    page.wait_for_selector("#step-callback[data-state=failed]")
    assert verdict(page, "callback", "state") == "fail"
    assert verdict(page, "callback", "iss") == "pass"
    assert "must stop here" in page.inner_text("#step-callback")
    assert page.problems == []


@pytest.mark.browser
def test_the_device_flow_end_to_end(server, watched):
    page = watched
    page.goto(server.url + "/playground#flow-device")
    run(page, "device-register")
    step = run(page, "device-authorize")
    user_code = page.inner_text("#pg-user-code")
    assert re.fullmatch(r"[B-DF-HJ-NP-TV-XZ]{4}-[B-DF-HJ-NP-TV-XZ]{4}", user_code)
    assert "HTTP/1.1 200" in step.locator("pre.pg-res").inner_text()

    page.wait_for_selector("#step-device-poll [data-poll=authorization_pending]")
    page.click("#pg-poll-now")  # straight after a poll: sooner than the interval
    page.wait_for_selector("#step-device-poll [data-poll=slow_down]")
    assert "interval is now 10 s" in page.inner_text("#pg-polls")

    with page.context.expect_page() as opened:
        page.click("#pg-device-link")
    approval = opened.value
    sign_in(approval)
    approval.wait_for_selector("#code-form")
    assert approval.input_value("input[name=user_code]") == user_code
    approval.click("#continue")
    approval.wait_for_selector("#device-form")
    assert approval.inner_text("#client-name") == "Playground TV app"
    approval.click("#device-form button[value=allow]")
    approval.wait_for_selector("#device-result[data-outcome=approved]")

    page.bring_to_front()
    page.click("#pg-poll-now")
    page.wait_for_selector("#step-device-poll [data-poll=success]")
    page.wait_for_selector("#step-device-poll[data-state=done]")
    assert verdict(page, "device-poll", "device-api") == "pass"
    assert '"token_type": "Bearer"' in page.inner_text("#step-device-poll")
    assert page.problems == []


@pytest.mark.browser
def test_client_credentials_end_to_end(server, watched):
    page = watched
    page.goto(server.url + "/login?next=/playground")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", PASSWORD)
    page.click("#login-form [type=submit]")
    page.wait_for_url("**/playground")
    page.goto(server.url + "/playground#flow-cc")
    step = run(page, "cc-register")
    assert "gcs_••••••••" in step.inner_text()  # the secret, masked
    step = run(page, "cc-token")
    request = step.locator("pre.pg-req").last.inner_text()
    assert "Authorization: Basic" in request and "grant_type=client_credentials" in request
    assert verdict(page, "cc-token", "no-refresh") == "pass"
    run(page, "cc-introspect")
    assert verdict(page, "cc-introspect", "sub") == "pass"
    assert verdict(page, "cc-introspect", "api-401") == "pass"
    assert page.problems == []


@pytest.mark.browser
def test_a_signed_out_visitor_cannot_make_a_machine_client(server, watched):
    page = watched
    page.goto(server.url + "/playground#flow-cc")
    step = run(page, "cc-register", "failed")
    assert "HTTP/1.1 401" in response_of(page, "cc-register")
    assert "Only an administrator can create this client" in step.inner_text()


@pytest.mark.browser
def test_deny_comes_back_as_access_denied_and_no_code(server, watched):
    page = watched
    page.goto(server.url + "/playground")
    for step in ("401", "prm", "asm", "register", "pkce", "authorize"):
        run(page, step)
    page.click("#pg-authorize-go")
    sign_in(page)
    page.click("#consent-form button[value=deny]")
    page.wait_for_selector("#step-callback[data-state=failed]")
    assert verdict(page, "callback", "state") == "pass"
    assert verdict(page, "callback", "code") == "fail"
    assert "error=access_denied" in page.inner_text("#step-callback [data-check=code]")
    run(page, "token", state="failed")  # nothing to exchange
    assert "run steps 6 and 7 first" in page.inner_text("#step-token")
    assert page.problems == []
