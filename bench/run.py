"""`make bench`: Gatehouse against the floor of its own stack, on this machine, in one run.

For each gunicorn configuration (sync workers; threaded workers with keep-alive) it serves the
floor app and then Gatehouse with the production `gunicorn.conf.py` on loopback, loads each
endpoint with wrk at every concurrency, and compares each endpoint with its floor. Then it
measures p99 with a million stored grants against an almost empty database, RSS per worker and
the database size per million tokens, and writes `bench/results.md`.

With `--postgresql URL` (or GATEHOUSE_BENCH_POSTGRESQL; a role that may create databases) every
point is measured twice, on SQLite and on PostgreSQL, each engine against its own floor, and
the report sets the two side by side.

    python -m bench.run [--seconds 5] [--concurrency 1,8,32] [--configs 2x1,2x4] [--million N]
                        [--postgresql postgresql://USER@HOST:PORT/DATABASE]
    python -m bench.run --only-scale [--million N]     # only the big-database part, printed
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from bench import fixtures, floor_app, report, server, wrk
from bench.server import OUT, fresh_database
from bench.wrk import Result, Target
from oauth.ops.migrations import upgrade

ROOT = Path(__file__).resolve().parent
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
GATEHOUSE = "app:create_app()"
FLOOR = "bench.floor_app:create_app()"


def measure(base_url: str, targets: dict[str, Target], levels: list[int], seconds: float):
    """{(name, concurrency): Result}, each target at each level (pool files per level)."""
    results: dict[tuple[str, int], Result] = {}
    for name, target in targets.items():
        for c in levels:
            point = target
            if target.single_use:
                point = Target(**{**vars(target), "pool": Path(f"{target.pool}.{c}")})
            results[(name, c)] = wrk.run(base_url, point, c, seconds)
            r = results[(name, c)]
            print(f"  {name:<34} c={c:<3} {r.rps:8.0f} req/s  p50 {r.p50_ms:7.2f} ms  "
                  f"p99 {r.p99_ms:7.2f} ms  errors {r.errors}", flush=True)  # fmt: skip
    return results


def run_floor(tag: str, workers: int, threads: int, levels: list[int], seconds: float, pg=None):
    database = fresh_database(f"floor-{tag}", pg)
    floor_app.seed(database)
    keys = [f"/floor/select?key={floor_app.key_for(n)}" for n in range(floor_app.SEED_ROWS)]
    pool = fixtures.write_pool(OUT / "floor-select.txt", keys)
    targets = {
        "floor: JSON": Target("GET", "/floor/json", {}),
        "floor: SELECT": Target("GET", "/floor/select", {}, pool, vary="path"),
        "floor: INSERT": Target("POST", "/floor/insert", FORM),
    }
    srv = server.start(FLOOR, database, OUT / f"floor-{tag}.log", workers, threads, "/floor/json")
    try:
        wrk.run(srv.url, targets["floor: JSON"], 8, 1)  # warm up
        return measure(srv.url, targets, levels, seconds), srv.memory()
    finally:
        srv.stop()


def gatehouse_targets(setup: fixtures.Setup, conn, levels: list[int], seconds: float, tag: str):
    """Every Gatehouse endpoint we measure, with its pools minted into the database."""
    per_point = int(seconds * 3000) + 2000  # more than any point can use
    access, _ = fixtures.mint_grants(conn, setup, f"{tag}-access", 20_000, refresh=False)
    bearer = fixtures.write_pool(OUT / f"{tag}-access.txt", access)
    introspect = fixtures.write_pool(OUT / f"{tag}-introspect.txt", [f"token={t}" for t in access])
    client_auth = {**FORM, "Authorization": setup.basic()}
    for c in levels:
        codes = fixtures.mint_codes(conn, setup, f"{tag}-code-{c}", per_point)
        fixtures.write_pool(OUT / f"{tag}-code.txt.{c}", codes)
        oidc = fixtures.mint_codes(conn, setup, f"{tag}-oidc-{c}", per_point, "openid profile")
        fixtures.write_pool(OUT / f"{tag}-oidc.txt.{c}", oidc)
        _, refresh = fixtures.mint_grants(conn, setup, f"{tag}-refresh-{c}", per_point)
        bodies = [f"grant_type=refresh_token&refresh_token={t}" for t in refresh]
        fixtures.write_pool(OUT / f"{tag}-refresh.txt.{c}", bodies)
    cc = fixtures.write_pool(OUT / f"{tag}-cc.txt", ["grant_type=client_credentials"])

    def pool(name: str) -> Path:
        return OUT / f"{tag}-{name}.txt"

    return {
        "metadata": Target("GET", "/.well-known/oauth-authorization-server", {}),
        "jwks": Target("GET", "/oauth2/jwks", {}),
        "token: authorization_code": Target(
            "POST", "/oauth2/token", client_auth, pool("code"), single_use=True
        ),
        "token: authorization_code + id_token": Target(
            "POST", "/oauth2/token", client_auth, pool("oidc"), single_use=True
        ),
        "token: refresh_token": Target(
            "POST", "/oauth2/token", client_auth, pool("refresh"), single_use=True
        ),
        "token: client_credentials": Target("POST", "/oauth2/token", client_auth, cc),
        "introspection": Target("POST", "/oauth2/introspect", client_auth, introspect),
        "GET /api/v2/users/me": Target("GET", "/api/v2/users/me", {}, bearer, vary="bearer"),
    }


def run_gatehouse(tag: str, workers: int, threads: int, levels: list[int], seconds: float, pg=None):
    database = fresh_database(f"gatehouse-{tag}", pg)
    upgrade(database)
    port = server.free_port()
    conn = fixtures.connect(database)
    try:
        setup = fixtures.base_rows(conn, f"http://127.0.0.1:{port}")
        targets = gatehouse_targets(setup, conn, levels, seconds, tag)
    finally:
        conn.close()
    log = OUT / f"gatehouse-{tag}.log"
    srv = server.start(GATEHOUSE, database, log, workers, threads, "/healthz", port=port)
    try:
        wrk.run(srv.url, targets["metadata"], 8, 1)  # warm up every worker
        return measure(srv.url, targets, levels, seconds), srv.memory()
    finally:
        srv.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="per measured point")
    parser.add_argument("--concurrency", default="1,8,32")
    parser.add_argument("--configs", default="2x1,2x4", help="WORKERSxTHREADS, comma-separated")
    parser.add_argument("--million", type=int, default=1_000_000, help="0 skips the big-DB run")
    parser.add_argument("--out", type=Path, default=ROOT / "results.md")
    parser.add_argument(
        "--only-scale",
        action="store_true",
        help="run only the big-database part (first config) and print it; --out is not written",
    )
    parser.add_argument(
        "--postgresql",
        default=os.environ.get("GATEHOUSE_BENCH_POSTGRESQL") or None,
        metavar="URL",
        help="also measure on PostgreSQL: a server where the bench may create databases",
    )
    args = parser.parse_args()
    wrk.require_wrk()
    OUT.mkdir(exist_ok=True)
    if args.only_scale:
        from bench import scale

        workers, threads = (int(x) for x in args.configs.split(",")[0].split("x"))
        big = scale.run(workers, threads, args.million or 1_000_000, args.seconds)
        print("\n".join(report.scale_lines(big)))
        return
    levels = [int(c) for c in args.concurrency.split(",")]
    engines = {"SQLite": None, **({"PostgreSQL": args.postgresql} if args.postgresql else {})}
    runs = []
    for spec in args.configs.split(","):
        workers, threads = (int(x) for x in spec.split("x"))
        label = report.config_label(workers, threads)
        for engine, pg in engines.items():
            print(f"== {label}, {engine}", flush=True)
            tag = spec if pg is None else f"{spec}-pg"
            floor, floor_mem = run_floor(tag, workers, threads, levels, args.seconds, pg)
            gate, gate_mem = run_gatehouse(tag, workers, threads, levels, args.seconds, pg)
            runs.append(
                report.Run(
                    label, workers, threads, levels, floor, gate, floor_mem, gate_mem, engine
                )
            )
    bigs = []
    if args.million:
        from bench import scale

        workers, threads = (int(x) for x in args.configs.split(",")[0].split("x"))
        for engine, pg in engines.items():
            bigs.append(scale.run(workers, threads, args.million, args.seconds, pg, engine))
    text = report.render(runs, bigs, args)
    args.out.write_text(text)
    print(text)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
