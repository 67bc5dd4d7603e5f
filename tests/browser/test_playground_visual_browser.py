"""In headless Chromium: what the playground draws. Sequence diagrams (the README's, arrow for
arrow), arrows that follow their steps, "Run all", readable times, the token lifetimes picture.

Every test also checks the console stayed clean: a CSP violation would be logged there.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.helpers.live import start_live_server

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery"
# Lifetimes unlike the defaults, so the picture must come from the settings.
TTLS = {"access": 600, "idle": 86400, "absolute": 604800}
# The README's diagrams, in its order, and the page's figure for each.
README_ORDER = ("mcp", "cc", "device", "refresh", "stepup")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    live = start_live_server(
        tmp_path_factory.mktemp("playground-visual"),
        workers=2,
        GATEHOUSE_REFRESH_TOKEN_REUSE_GRACE="0",
        GATEHOUSE_ACCESS_TOKEN_TTL=str(TTLS["access"]),
        GATEHOUSE_REFRESH_TOKEN_TTL=str(TTLS["idle"]),
        GATEHOUSE_REFRESH_TOKEN_ABSOLUTE_TTL=str(TTLS["absolute"]),
    )
    live.flask("users", "create", "alice", "--password", PASSWORD, "--admin")
    yield live
    live.stop()


def sign_in(page) -> None:
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", PASSWORD)
    page.click("#login-form [type=submit]")


def open_signed_in(page, server) -> None:
    page.goto(server.url + "/login?next=/playground")
    sign_in(page)
    page.wait_for_url("**/playground")


def readme_messages() -> list[tuple[list[str], list[str]]]:
    """Each README sequence diagram: its participants' labels and its messages' texts."""
    readme = (ROOT / "README.md").read_text()
    diagrams = []
    for body in re.findall(r"```mermaid\n(.*?)```", readme, re.S):
        if not body.startswith("sequenceDiagram"):
            continue  # the flowchart of "Running on several hosts" is no flow of the playground
        actors = re.findall(r"^\s*participant \w+ as (.+)$", body, re.M)
        messages = re.findall(r"^\s*\w+(?:-->>|->>)\w+: (.+)$", body, re.M)
        diagrams.append((actors, messages))
    return diagrams


def arrows(page, diagram: str):
    return page.locator(
        f"figure[data-diagram={diagram}] .pg-arrow:is([data-kind=request], [data-kind=answer])"
    )


def states(page, diagram: str) -> list[str | None]:
    return [a.get_attribute("data-state") for a in arrows(page, diagram).all()]


def run(page, step: str, state: str = "done") -> None:
    page.click(f"#step-{step} .pg-run")
    page.wait_for_selector(f"#step-{step}[data-state={state}]")


def in_view(page, selector: str) -> bool:
    return page.eval_on_selector(
        selector,
        "e => { const r = e.getBoundingClientRect();"
        " return r.bottom > 0 && r.top < innerHeight && r.height > 0; }",
    )


@pytest.mark.browser
def test_each_flow_draws_the_readme_diagram(server, watched):
    page = watched
    page.goto(server.url + "/playground")
    diagrams = readme_messages()
    assert len(diagrams) == len(README_ORDER)
    for name, (actors, messages) in zip(README_ORDER, diagrams, strict=True):
        figure = page.locator(f"figure[data-diagram={name}]")
        assert figure.locator(".pg-actor-name").all_text_contents() == actors, name
        labels = arrows(page, name).locator(".pg-label-text").all_text_contents()
        assert labels == messages, name
        numbers = arrows(page, name).locator(".pg-badge-text").all_text_contents()
        assert numbers == [str(n) for n in range(1, len(messages) + 1)]  # as autonumber
    assert arrows(page, "mcp").count() == 16
    assert page.locator("figure[data-diagram=mcp] [data-kind=note]").count() == 1
    assert page.problems == []


@pytest.mark.browser
def test_arrows_follow_their_steps_and_link_to_the_exchanges(server, watched):
    page = watched
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(server.url + "/playground")
    assert set(states(page, "mcp")) == {""}

    run(page, "401")
    assert states(page, "mcp")[:3] == ["done", "done", ""]

    # Step 3 before step 2: it stops, and so do its arrows.
    run(page, "asm", "failed")
    assert states(page, "mcp")[4:6] == ["failed", "failed"]
    run(page, "prm")
    assert states(page, "mcp")[2:4] == ["done", "done"]

    # Only the step run last keeps its exchange open; the 401 folded to one line.
    assert page.eval_on_selector("#step-401 details.pg-http", "d => d.open") is False
    page.click("#arrow-mcp-2")
    assert page.eval_on_selector("#step-401 details.pg-http", "d => d.open") is True
    assert in_view(page, "#step-401 pre.pg-res")
    assert "HTTP/1.1 401" in page.inner_text("#step-401 pre.pg-res")

    # And back: the exchange's link scrolls to its arrow.
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    assert not in_view(page, "#arrow-mcp-3")
    page.click("#step-prm details.pg-http .pg-back")
    assert in_view(page, "#arrow-mcp-3")
    assert page.problems == []


@pytest.mark.browser
def test_run_all_runs_client_credentials_and_times_read_as_dates(server, watched):
    page = watched
    open_signed_in(page, server)
    page.click(".pg-run-all[data-flow=cc]")
    page.wait_for_selector("#pg-runall-cc:text('done: every step ran')")
    for step in ("cc-register", "cc-token", "cc-introspect"):
        assert page.get_attribute(f"#step-{step}", "data-state") == "done", step
    assert states(page, "cc") == ["done"] * 7

    # The introspection answer (the step run last, so open): exp and iat in words beside them.
    exchange = "#step-cc-introspect details.pg-http[data-path='/oauth2/introspect']"
    response = page.inner_text(exchange + " pre.pg-res")
    found = re.findall(
        r'"(exp|iat)": (\d+) \((\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC, (.+?)\)', response
    )
    assert {name for name, *_ in found} == {"exp", "iat"}, response
    for name, epoch, when, relative in found:
        assert when == datetime.fromtimestamp(int(epoch), UTC).strftime("%Y-%m-%d %H:%M:%S")
        # The access token lives 10 minutes: exp is minutes ahead, iat just now or just past.
        if name == "exp":
            assert re.fullmatch(r"in (9|10) min( \d+ s)?", relative), relative
        else:
            assert re.fullmatch(r"now|\d+ s ago", relative), relative
    assert page.problems == []


@pytest.mark.browser
def test_the_refresh_step_draws_the_servers_lifetimes(server, watched):
    page = watched
    page.goto(server.url + "/playground#step-refresh")
    bars = page.locator("#step-refresh .pg-life-bar")
    assert bars.count() == 3
    seen = {b.get_attribute("data-bar"): b for b in bars.all()}
    assert {k: int(b.get_attribute("data-seconds")) for k, b in seen.items()} == TTLS
    assert seen["access"].locator(".pg-bar-value").text_content() == "10 min"
    assert seen["idle"].locator(".pg-bar-value").text_content() == "1 d"
    assert seen["absolute"].locator(".pg-bar-value").text_content() == "7 d"
    # One axis: a longer lifetime is a longer bar.
    widths = [
        float(seen[k].locator("rect").get_attribute("width"))
        for k in ("access", "idle", "absolute")
    ]
    assert widths == sorted(widths) and len(set(widths)) == 3
    assert page.problems == []


@pytest.mark.browser
def test_run_all_stops_for_the_person_and_goes_on_after_the_callback(server, watched):
    page = watched
    page.goto(server.url + "/playground")
    page.click(".pg-run-all[data-flow=mcp]")
    page.wait_for_selector("#pg-runall-mcp:text('Your turn')")
    assert page.get_attribute("#step-authorize", "data-state") == "done"
    assert page.get_attribute("#step-callback", "data-state") in (None, "")
    page.click("#pg-authorize-go")
    page.wait_for_url("**/login?next=*")
    sign_in(page)
    page.click("#consent-form button[value=allow]")
    page.wait_for_url("**/playground#step-callback")
    page.wait_for_selector("#pg-runall-mcp:text('done: every step ran')", timeout=30_000)
    for step in ("callback", "token", "inspect", "api", "refresh", "reuse", "revoke"):
        assert page.get_attribute(f"#step-{step}", "data-state") == "done", step
    assert set(states(page, "mcp")) == {"done"}
    assert set(states(page, "refresh")) == {"done"}
    assert page.problems == []
