"""In headless Chromium: the playground's step-up walk (MCP 2026-07-28 SEP-2350, RFC 6750 §3.1).

A token for `openid` only meets /api/v2/users/me, which needs `profile`: the page shows the 403
and its parsed challenge, re-authorizes for the union, and the server's real consent page asks
only for `profile` as new; the wider token gets 200. Every request is the page's own, against a
live Gatehouse.
"""

from __future__ import annotations

import pytest

from tests.helpers.live import start_live_server

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    live = start_live_server(tmp_path_factory.mktemp("playground-stepup"), workers=2)
    live.flask("users", "create", "alice", "--password", PASSWORD)
    yield live
    live.stop()


def sign_in(page) -> None:
    page.wait_for_url("**/login?next=*")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", PASSWORD)
    page.click("#login-form [type=submit]")


def run(page, step: str) -> None:
    page.click(f"#step-{step} .pg-run")
    page.wait_for_selector(f"#step-{step}[data-state=done]")


def consent_scopes(page) -> dict[str, str]:
    """The consent page's scopes: each one's marking ("new", "already allowed" or "")."""
    page.wait_for_selector("#consent-form")
    assert page.inner_text("#client-name") == "Playground step-up client"
    marks = {}
    for item in page.locator("#consent-scopes li").all():
        mark = "new" if "new" in (item.get_attribute("class") or "") else ""
        if "already allowed" in item.inner_text():
            mark = "already allowed"
        marks[item.get_attribute("data-scope")] = mark
    return marks


def allow(page, back_to: str) -> None:
    page.click("#consent-form button[value=allow]")
    page.wait_for_url("**/playground#step-callback")
    page.wait_for_selector(f"#step-{back_to}[data-state=done]")


def verdicts(page, step: str) -> dict[str, str]:
    return {
        li.get_attribute("data-check"): li.locator(".pg-verdict").inner_text()
        for li in page.locator(f"#step-{step} .pg-checks li").all()
    }


def marked_row(page, step: str) -> str:
    return page.inner_text(f"#step-{step} tr.pg-mark")


def arrow_states(page) -> set[str | None]:
    arrows = page.locator("figure[data-diagram=stepup] .pg-arrow:not([data-kind=note])")
    assert arrows.count() == 16
    return {a.get_attribute("data-state") for a in arrows.all()}


@pytest.mark.browser
def test_step_up_walks_403_union_and_200(server, watched):
    page = watched
    page.goto(server.url + "/playground#flow-stepup")
    assert arrow_states(page) == {""}

    # U1: openid only; the first consent asks for openid and nothing else.
    run(page, "up-authorize")
    assert "scope=openid&" in page.get_attribute("#pg-up-go", "href")
    page.click("#pg-up-go")
    sign_in(page)
    assert consent_scopes(page) == {"openid": ""}
    allow(page, "up-token")
    assert "openid" in marked_row(page, "up-token")
    checked = ("state", "iss", "code", "no-profile")
    assert verdicts(page, "up-token") == dict.fromkeys(checked, "pass")

    # U3: the API refuses it with 403 and names profile in its challenge, highlighted.
    run(page, "up-403")
    response = page.inner_text("#step-up-403 pre.pg-res")
    assert "HTTP/1.1 403" in response
    assert 'error="insufficient_scope"' in response and 'scope="profile"' in response
    assert marked_row(page, "up-403").split() == ["scope", "profile"]
    assert set(verdicts(page, "up-403").values()) == {"pass"}

    # U4: the union; the second consent marks profile as new, openid as already allowed.
    run(page, "up-reauthorize")
    assert marked_row(page, "up-reauthorize").endswith("openid profile")
    assert "scope=openid+profile&" in page.get_attribute("#pg-up-go-again", "href")
    page.click("#pg-up-go-again")
    assert consent_scopes(page) == {"openid": "already allowed", "profile": "new"}
    allow(page, "up-retry")

    # U5: the wider token, and the API answers 200.
    responses = page.locator("#step-up-retry pre.pg-res").all_inner_texts()
    assert "HTTP/1.1 200" in responses[-1] and '"username": "alice"' in responses[-1]
    assert verdicts(page, "up-retry")["200"] == "pass"
    assert verdicts(page, "up-retry")["union"] == "pass"
    assert arrow_states(page) == {"done"}
    assert page.problems == []


@pytest.mark.browser
def test_run_all_stops_twice_for_the_person(server, watched):
    page = watched
    page.goto(server.url + "/playground#flow-stepup")
    page.click(".pg-run-all[data-flow=stepup]")
    page.wait_for_selector("#pg-runall-stepup:text('Your turn:')")
    page.click("#pg-up-go")
    sign_in(page)
    assert consent_scopes(page) == {"openid": ""}
    page.click("#consent-form button[value=allow]")
    page.wait_for_selector("#pg-runall-stepup:text('Your turn again')", timeout=30_000)
    for step in ("up-token", "up-403", "up-reauthorize"):
        assert page.get_attribute(f"#step-{step}", "data-state") == "done", step
    page.click("#pg-up-go-again")
    assert consent_scopes(page) == {"openid": "already allowed", "profile": "new"}
    page.click("#consent-form button[value=allow]")
    page.wait_for_selector("#pg-runall-stepup:text('done: every step ran')", timeout=30_000)
    assert arrow_states(page) == {"done"}
    assert page.problems == []
