"""The playground's server side: the page, its callback page, CSP, and what the script registers."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.helpers import ISSUER, ROOT
from tests.helpers.common import login

STEP_IDS = (
    *("401", "prm", "asm", "register", "pkce", "authorize", "callback", "token", "inspect"),
    *("api", "refresh", "reuse", "revoke", "cc-register", "cc-token", "cc-introspect"),
    *("device-register", "device-authorize", "device-poll"),
)


class PageParser(HTMLParser):
    """Scripts, styles, inline handlers and element ids of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict] = []
        self.stylesheets: list[str] = []
        self.inline: list[str] = []
        self.ids: set[str] = set()
        self.data: dict[str, str] = {}
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.add(a["id"])
        if a.get("id") in ("playground", "playground-callback"):
            self.data = {k: v or "" for k, v in attrs if k.startswith("data-")}
        if tag == "script":
            self.scripts.append(a)
            self._in_script = True
        if tag == "link" and a.get("rel") == "stylesheet":
            self.stylesheets.append(a["href"])
        if tag == "style" or "style" in a or any(k.startswith("on") for k in a):
            self.inline.append(f"<{tag} {a}>")

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script and data.strip():
            self.inline.append(data.strip()[:60])


def parse(html: str) -> PageParser:
    parser = PageParser()
    parser.feed(html)
    return parser


def test_the_page_renders_signed_out_and_is_marked_as_teaching(client):
    response = client.get("/playground")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Teaching tool" in html
    assert "step 6" in html.lower() and "sign in" in html.lower()
    page = parse(html)
    assert page.data["data-issuer"] == ISSUER
    assert page.data["data-api-url"] == ISSUER + "/api/v2/users/me"
    assert page.data["data-redirect-uri"] == ISSUER + "/playground/callback"
    assert page.data["data-registration"] == "open"


def test_every_step_has_its_anchor_and_a_run_button(client):
    html = client.get("/playground").get_data(as_text=True)
    page = parse(html)
    for step in STEP_IDS:
        assert f"step-{step}" in page.ids
        assert f'data-run="{step}"' in html


@pytest.mark.parametrize("path", ["/playground", "/playground/callback?code=x&state=y"])
def test_csp_holds_own_script_and_styles_only(client, path):
    response = client.get(path)
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp
    assert "connect-src 'self'" in csp
    page = parse(response.get_data(as_text=True))
    assert page.inline == []  # no inline scripts, styles or event handlers
    assert [(s.get("type"), s.get("src")) for s in page.scripts] == [
        ("module", "/static/playground.js")
    ]
    assert all(href.startswith("/static/") for href in page.stylesheets)
    assert response.headers["Cache-Control"] == "no-store"


STATIC = [
    "playground.js",
    "playground.css",
    *(f"playground/{p.name}" for p in sorted((ROOT / "static" / "playground").glob("*.js"))),
]


@pytest.mark.parametrize("name", STATIC)
def test_static_files_load_nothing_from_elsewhere(name):
    text = (ROOT / "static" / name).read_text()
    assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}/", text, re.I)
    assert "@import" not in text and "eval(" not in text and "innerHTML" not in text
    # ES modules import only siblings, by relative path (same origin, script-src 'self').
    for target in re.findall(r'^import .*?"([^"]+)";', text, re.M | re.S):
        assert target.startswith("./")
        assert (ROOT / "static" / Path(name).parent / target).is_file()


def test_callback_page_never_echoes_the_code(client):
    code = "gac_" + "A" * 43
    response = client.get(f"/playground/callback?code={code}&state=s1&iss={ISSUER}")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert code not in body and "s1" not in body
    # The code is in this page's URL: no Referer may carry it to another page.
    assert response.headers["Referrer-Policy"] == "no-referrer"
    page = parse(body)
    assert page.data["data-return"] == "/playground#step-callback"


def test_callback_page_handles_an_error_response(client):
    response = client.get("/playground/callback?error=access_denied&state=s1")
    assert response.status_code == 200
    assert "Return to the playground" in response.get_data(as_text=True)


def test_the_registrations_the_script_sends_are_accepted(client):
    """The same bodies as static/playground.js: public code client, resource server, TV app."""
    bodies = [
        {
            "client_name": "Gatehouse playground",
            "redirect_uris": [ISSUER + "/playground/callback"],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
            "scope": "openid profile email offline_access",
        },
        {
            "client_name": "Playground TV app",
            "grant_types": ["urn:ietf:params:oauth:grant-type:device_code", "refresh_token"],
            "token_endpoint_auth_method": "none",
            "scope": "openid profile email",
        },
    ]
    script = "".join(p.read_text() for p in (ROOT / "static" / "playground").glob("*.js"))
    for body in bodies:
        assert f'client_name: "{body["client_name"]}"' in script
        response = client.post("/oauth2/register", json=body)
        assert response.status_code == 201, response.get_json()
        assert ("client_secret" in response.get_json()) == (
            body["token_endpoint_auth_method"] != "none"
        )


def test_the_clients_an_admin_creates_from_the_script_are_vetted(client, admin):
    """static/playground/steps.js adminClient(): the management API with the admin's session."""
    login(client, "root", "admin password 123")
    csrf = parse(client.get("/playground").get_data(as_text=True)).data["data-csrf-token"]
    script = "".join(p.read_text() for p in (ROOT / "static" / "playground").glob("*.js"))
    assert '["X-CSRFToken", cfg.csrfToken' in script
    for name in ("Playground resource server", "Playground machine client"):
        assert f'name: "{name}"' in script
        body = {"name": name, "client_type": "confidential", "grant_types": ["client_credentials"]}
        headers = {"X-CSRFToken": csrf}
        response = client.post("/api/v2/oauth2-provider/apps", json=body, headers=headers)
        assert response.status_code == 201, response.get_json()
        assert response.get_json()["vetted"] is True and response.get_json()["client_secret"]


@pytest.mark.parametrize(("policy", "warned"), [("open", False), ("admin", True), ("off", True)])
def test_the_page_warns_when_registration_is_not_open(config, request, policy, warned):
    config["REGISTRATION"] = policy
    client = request.getfixturevalue("client")  # the app is built after the change
    html = client.get("/playground").get_data(as_text=True)
    assert ("registration policy is" in html) == warned


def test_the_reuse_grace_shown_is_the_servers(config, app):
    app.config["REFRESH_TOKEN_REUSE_GRACE"] = 3
    page = parse(app.test_client().get("/playground").get_data(as_text=True))
    assert page.data["data-reuse-grace"] == "3"


def test_readme_links_to_playground_steps_that_exist(client):
    readme = Path(ROOT / "README.md").read_text()
    anchors = set(re.findall(r"/playground#(step-[a-z0-9-]+)", readme))
    assert anchors, "the README links to playground steps"
    ids = parse(client.get("/playground").get_data(as_text=True)).ids
    assert anchors <= ids


# What a line of a Mermaid sequenceDiagram may be; `;` would end a statement (Mermaid splits on
# it), so message text may not hold one.
MERMAID_PARTICIPANT = re.compile(r"^(?:participant|actor) (\w+)(?: as [^;]+)?$")
MERMAID_MESSAGE = re.compile(r"^(\w+)(?:-->>|->>|-->|->|--x|-x|--\)|-\))(\w+): [^;]+$")
MERMAID_NOTE = re.compile(r"^Note (?:over|left of|right of) (\w+)(?:,\s*(\w+))?: [^;]+$")
MERMAID_OPEN = re.compile(r"^(?:loop|alt|opt|par|critical|break|rect)\b")


def mermaid_problems(diagram: str) -> list[str]:
    """Why a README sequence diagram would not render: unknown lines, undeclared participants,
    unbalanced blocks (an empty list when it is fine)."""
    lines = [line.strip() for line in diagram.strip().splitlines() if line.strip()]
    if not lines or lines[0] != "sequenceDiagram":
        return ["does not start with sequenceDiagram"]
    declared: set[str] = set()
    problems, depth = [], 0
    for line in lines[1:]:
        used: tuple = ()
        if line == "autonumber":
            continue
        if m := MERMAID_PARTICIPANT.match(line):
            declared.add(m.group(1))
        elif m := MERMAID_MESSAGE.match(line) or MERMAID_NOTE.match(line):
            used = tuple(name for name in m.groups() if name)
        elif MERMAID_OPEN.match(line):
            depth += 1
        elif re.match(r"^(?:else|and)\b", line) and depth:
            pass
        elif line == "end" and depth:
            depth -= 1
        else:
            problems.append(f"not Mermaid: {line!r}")
        problems += [f"undeclared participant {name!r}" for name in used if name not in declared]
    return problems + (["a block is never closed with end"] if depth else [])


# Flowcharts (the deployment picture): `A["label"] -->|"label"| B[("label")]` edges, quoted labels.
FLOWCHART_NODE = r'\w+(?:\["[^"]*"\]|\[\("[^"]*"\)\])?'
FLOWCHART_EDGE = re.compile(rf'^{FLOWCHART_NODE}\s*-->(?:\|"[^"]*"\|)?\s*{FLOWCHART_NODE}$')


def flowchart_problems(diagram: str) -> list[str]:
    """Why a README flowchart would not render: a bad direction or a line that is no edge."""
    lines = [line.strip() for line in diagram.strip().splitlines() if line.strip()]
    if not re.fullmatch(r"flowchart (?:LR|RL|TD|TB|BT)", lines[0]):
        return ["does not start with flowchart and a direction"]
    edges = lines[1:]
    return [f"not a flowchart edge: {line!r}" for line in edges if not FLOWCHART_EDGE.match(line)]


def diagram_problems(diagram: str) -> list[str]:
    if diagram.lstrip().startswith("flowchart"):
        return flowchart_problems(diagram)
    return mermaid_problems(diagram)


def readme_diagrams() -> list[str]:
    return re.findall(r"```mermaid\n(.*?)```", (ROOT / "README.md").read_text(), re.S)


@pytest.mark.parametrize(
    ("diagram", "problem"),
    [
        ("sequenceDiagram\n participant A\n participant B\n A->>B: hi", None),
        ("graph TD\n A-->B", "does not start with sequenceDiagram"),
        ("sequenceDiagram\n participant A\n A->>B: hi", "undeclared participant 'B'"),
        ("sequenceDiagram\n participant A\n A->>>A: hi", "not Mermaid"),
        ("sequenceDiagram\n participant A\n A->>A: a; b", "not Mermaid"),
        ("sequenceDiagram\n participant A\n loop x\n A->>A: hi", "never closed"),
    ],
)
def test_mermaid_problems(diagram, problem):
    problems = mermaid_problems(diagram)
    assert (problem is None and problems == []) or problem in " ".join(problems)


@pytest.mark.parametrize(
    ("diagram", "problem"),
    [
        ('flowchart LR\n a["A"] -->|"x"| b[("B")]\n b --> c', None),
        ("flowchart sideways\n a --> b", "does not start with flowchart"),
        ("flowchart LR\n a[A (1)] --> b", "not a flowchart edge"),
        ('flowchart LR\n a -> b["B"]', "not a flowchart edge"),
    ],
)
def test_flowchart_problems(diagram, problem):
    problems = flowchart_problems(diagram)
    assert (problem is None and problems == []) or problem in " ".join(problems)


def test_readme_diagrams_are_mermaid():
    """Sequence diagrams for the flows, a flowchart for running on several hosts."""
    diagrams = readme_diagrams()
    assert len(diagrams) >= 4, "the MCP chain, client credentials, the device flow, several hosts"
    assert any(d.startswith("flowchart") for d in diagrams)
    assert {name: diagram_problems(d) for name, d in enumerate(diagrams)} == dict.fromkeys(
        range(len(diagrams)), []
    )
