"""Per-request CPU cost of each benchmarked endpoint and its floor, in one process, no server.

`make bench` measures throughput through gunicorn and wrk, which a busy machine blurs by 30%
or more. This drives the same WSGI apps in-process (Flask's test client) and counts the
process's CPU time per request, which other load on the machine barely moves: it is the tool
for before/after comparisons of a code change. It leaves out the HTTP server, the network and
the time spent waiting for fsync, so its ratios are not the table's.

With `--postgresql URL` (a server where it may create databases) the floor and Gatehouse run
on PostgreSQL instead: the CPU of this process then leaves out the server's own work.

    python -m bench.micro [--requests 400] [--rounds 3] [--only jwks,introspection]
                          [--postgresql postgresql://USER@HOST:PORT/DATABASE]
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

from app import create_app
from bench import fixtures, floor_app
from bench.server import OUT, fresh_database
from oauth.ops.migrations import upgrade

ISSUER = "http://127.0.0.1:9"
FORM = "application/x-www-form-urlencoded"


def _cpu_us(call: Callable[[int], None], requests: int, rounds: int) -> float:
    """The best round's CPU microseconds per request (`call(i)` makes request i)."""
    best = float("inf")
    for r in range(rounds):
        start = time.process_time()
        for i in range(requests):
            call(r * requests + i)
        best = min(best, (time.process_time() - start) / requests * 1e6)
    return best


def _check(response, status: int = 200) -> None:
    if response.status_code != status:
        raise RuntimeError(f"{response.status_code}: {response.get_data(as_text=True)[:200]}")


def floor_calls(postgresql: str | None = None) -> dict[str, Callable[[int], None]]:
    database = fresh_database("micro-floor", postgresql)
    floor_app.seed(database)
    os.environ["GATEHOUSE_DATABASE"] = database
    client = floor_app.create_app().test_client()
    keys = [floor_app.key_for(n) for n in range(floor_app.SEED_ROWS)]
    return {
        "floor: JSON": lambda i: _check(client.get("/floor/json")),
        "floor: SELECT": lambda i: _check(client.get(f"/floor/select?key={keys[i % len(keys)]}")),
        "floor: INSERT": lambda i: _check(client.post("/floor/insert")),
    }


def gatehouse_calls(count: int, postgresql: str | None = None) -> dict[str, Callable[[int], None]]:
    database = fresh_database("micro-gatehouse", postgresql)
    upgrade(database)
    conn = fixtures.connect(database)
    setup = fixtures.base_rows(conn, ISSUER)
    access, _ = fixtures.mint_grants(conn, setup, "micro-access", count, refresh=False)
    _, refresh = fixtures.mint_grants(conn, setup, "micro-refresh", count)
    codes = fixtures.mint_codes(conn, setup, "micro-code", count)
    oidc = fixtures.mint_codes(conn, setup, "micro-oidc", count, "openid profile")
    es256 = fixtures.es256_client(conn, setup)
    oidc_es256 = fixtures.mint_codes(conn, es256, "micro-oidc-es256", count, "openid profile")
    conn.close()
    app = create_app({"DATABASE": database, "ISSUER": ISSUER, "SECRET_KEY": "micro" * 8})
    client = app.test_client()
    auth = {"Authorization": setup.basic()}

    def form(path: str, body: str, headers: dict[str, str] = auth) -> None:
        # The body goes as the bytes wrk sends: encoding a form is the load driver's work,
        # not the endpoint's (the floor's POST has no body to encode).
        _check(client.post(path, data=body, content_type=FORM, headers=headers))

    def token(body: str, headers: dict[str, str] = auth) -> None:
        form("/oauth2/token", body, headers)

    calls = {
        "metadata": lambda i: _check(client.get("/.well-known/oauth-authorization-server")),
        "jwks": lambda i: _check(client.get("/oauth2/jwks")),
        "token: authorization_code": lambda i: token(codes[i]),
        "token: authorization_code + id_token": lambda i: token(oidc[i]),
        "token: authorization_code + id_token (ES256)": lambda i: token(
            oidc_es256[i], {"Authorization": es256.basic()}
        ),
        "token: refresh_token": lambda i: token(
            f"grant_type=refresh_token&refresh_token={refresh[i]}"
        ),
        "token: client_credentials": lambda i: token("grant_type=client_credentials"),
        "introspection": lambda i: form("/oauth2/introspect", f"token={access[i]}"),
        "GET /api/v2/users/me": lambda i: _check(
            client.get("/api/v2/users/me", headers={"Authorization": f"Bearer {access[i]}"})
        ),
    }
    assert tuple(calls) == ENDPOINTS, "ENDPOINTS names what this measures"
    return calls


ENDPOINTS = (  # what gatehouse_calls measures, in its order
    "metadata",
    "jwks",
    "token: authorization_code",
    "token: authorization_code + id_token",
    "token: authorization_code + id_token (ES256)",
    "token: refresh_token",
    "token: client_credentials",
    "introspection",
    "GET /api/v2/users/me",
)
FLOOR_OF = {
    "metadata": "floor: JSON",
    "jwks": "floor: JSON",
    "introspection": "floor: SELECT",
    "GET /api/v2/users/me": "floor: SELECT",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400, help="per round")
    parser.add_argument("--rounds", type=int, default=3, help="the best round counts")
    parser.add_argument("--only", default="", help="comma-separated endpoint names")
    parser.add_argument("--postgresql", metavar="URL", help="run on this PostgreSQL server")
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    count = args.requests * (args.rounds + 1)
    calls = {**floor_calls(args.postgresql), **gatehouse_calls(count, args.postgresql)}
    only = {name.strip() for name in args.only.split(",") if name.strip()}
    costs = {}
    for name, call in calls.items():
        if only and name not in only and not name.startswith("floor"):
            continue
        call(args.requests * args.rounds)  # warm up, with a pool entry no round uses
        costs[name] = _cpu_us(call, args.requests, args.rounds)
        floor = FLOOR_OF.get(name, "floor: INSERT") if not name.startswith("floor") else None
        ratio = f"  floor/endpoint {costs[floor] / costs[name]:4.0%}" if floor else ""
        print(f"{name:<45} {costs[name]:8.0f} µs CPU/request{ratio}", flush=True)


if __name__ == "__main__":
    main()
