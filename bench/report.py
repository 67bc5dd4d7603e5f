"""Turn measured points into bench/results.md: tables, ratios to the floor, targets; with a
PostgreSQL run, both engines side by side."""

from __future__ import annotations

import os
import platform
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

from bench.wrk import Result

NOTES = Path(__file__).with_name("notes.md")
TARGET_RATIO = 0.9
TARGET_P99_GROWTH = 1.2
TARGET_RSS_MB = 60
# Which floor each endpoint is held against.
FLOOR_OF = {
    "metadata": "floor: JSON",
    "jwks": "floor: JSON",
    "token: authorization_code": "floor: INSERT",
    "token: authorization_code + id_token": "floor: INSERT",
    "token: refresh_token": "floor: INSERT",
    "token: client_credentials": "floor: INSERT",
    "introspection": "floor: SELECT",
    "GET /api/v2/users/me": "floor: SELECT",
}
# Measured for information; its RS256 signature is work the floor does not do.
INFORMATIONAL = {"token: authorization_code + id_token"}


@dataclass
class Run:
    """One gunicorn configuration's floor and Gatehouse points."""

    label: str
    workers: int
    threads: int
    levels: list[int]
    floor: dict[tuple[str, int], Result]
    gatehouse: dict[tuple[str, int], Result]
    floor_memory: list[dict[str, int]]
    gatehouse_memory: list[dict[str, int]]
    engine: str = "SQLite"

    @property
    def title(self) -> str:
        return f"{self.label}, {self.engine}"

    def ratio(self, name: str, c: int) -> float:
        floor = self.floor[(FLOOR_OF[name], c)].rps
        return self.gatehouse[(name, c)].rps / floor if floor else 0.0

    def mean_rps(self) -> float:
        points = [r.rps for (name, _), r in self.gatehouse.items() if name not in INFORMATIONAL]
        return sum(points) / len(points)


def config_label(workers: int, threads: int) -> str:
    kind = "sync" if threads == 1 else f"gthread, {threads} threads, keep-alive"
    return f"{workers} workers ({kind})"


def machine() -> str:
    model = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{model}, {os.cpu_count()} cores; Python {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}, gunicorn {version('gunicorn')}, "
        f"Flask {version('flask')}, peewee {version('peewee')}; load average at the end: {load}"
    )


def postgresql_line(url: str) -> str:
    """The PostgreSQL server's version and the settings that decide what a commit waits for."""
    import psycopg

    with psycopg.connect(url) as conn:
        shown = {
            name: conn.execute(f"SHOW {name}").fetchone()[0]
            for name in ("server_version", "fsync", "synchronous_commit", "full_page_writes")
        }
    version = shown.pop("server_version").split()[0]
    settings = ", ".join(f"{name}={value}" for name, value in shown.items())
    return f"PostgreSQL {version} on this machine over TCP loopback ({settings})"


def _mark(ok: bool) -> str:
    return "yes" if ok else "**no**"


def config_table(run: Run) -> list[str]:
    lines = [
        f"### {run.title}",
        "",
        "| endpoint | c | req/s | p50 ms | p99 ms | errors | floor | floor req/s | ratio | ≥ 90% |",
        "|---|---:|---:|---:|---:|---:|---|---:|---:|---|",
    ]
    for (name, c), r in run.floor.items():
        lines.append(
            f"| {name} | {c} | {r.rps:.0f} | {r.p50_ms:.2f} | {r.p99_ms:.2f} | {r.errors} | | | | |"
        )
    for (name, c), r in run.gatehouse.items():
        floor = FLOOR_OF[name]
        ratio = run.ratio(name, c)
        met = "(info)" if name in INFORMATIONAL else _mark(ratio >= TARGET_RATIO)
        lines.append(
            f"| {name} | {c} | {r.rps:.0f} | {r.p50_ms:.2f} | {r.p99_ms:.2f} | {r.errors} "
            f"| {floor.removeprefix('floor: ')} | {run.floor[(floor, c)].rps:.0f} "
            f"| {ratio:.0%} | {met} |"
        )
    return [*lines, ""]


def side_by_side(runs: list[Run]) -> list[str]:
    """Per configuration, each point on both engines: req/s, p99 and the ratio to that
    engine's own floor."""
    lines: list[str] = []
    by_label: dict[str, list[Run]] = {}
    for run in runs:
        by_label.setdefault(run.label, []).append(run)
    for label, pair in by_label.items():
        if len(pair) < 2:
            continue
        head = " | ".join(f"{r.engine} req/s | {r.engine} p99 ms | {r.engine} ratio" for r in pair)
        lines += [
            f"### {label}",
            "",
            f"| endpoint | c | {head} |",
            "|---|---:|" + "---:|---:|---:|" * len(pair),
        ]
        for (name, c), _ in pair[0].floor.items():
            cells = " | ".join(f"{r.floor[(name, c)].rps:.0f} | {r.floor[(name, c)].p99_ms:.2f} | "
                               for r in pair)  # fmt: skip
            lines.append(f"| {name} | {c} | {cells}|")
        for (name, c), _ in pair[0].gatehouse.items():
            cells = " | ".join(
                f"{r.gatehouse[(name, c)].rps:.0f} | {r.gatehouse[(name, c)].p99_ms:.2f} | "
                f"{r.ratio(name, c):.0%}"
                for r in pair
            )
            lines.append(f"| {name} | {c} | {cells} |")
        lines.append("")
    return lines


def memory_lines(runs: list[Run]) -> list[str]:
    lines = ["| configuration | app | RSS per worker (MB) | PSS per worker (MB) | < 60 MB RSS |",
             "|---|---|---:|---:|---|"]  # fmt: skip
    for run in runs:
        for app, mem in (("floor", run.floor_memory), ("Gatehouse", run.gatehouse_memory)):
            rss = max(m["rss_kb"] for m in mem) / 1024
            pss = max(m["pss_kb"] for m in mem) / 1024
            ok = _mark(rss < TARGET_RSS_MB) if app == "Gatehouse" else ""
            lines.append(f"| {run.title} | {app} | {rss:.1f} | {pss:.1f} | {ok} |")
    return [*lines, ""]


def scale_lines(big) -> list[str]:
    grants = big.million
    lines = [
        f"### {big.engine}",
        "",
        f"Concurrency {big.concurrency}; the same endpoints on a database holding only the "
        f"benchmark's pools, then after adding {grants:,} grants (each a token family, an "
        "access token and a refresh token). Introspected tokens are sampled across the "
        "whole table.",
        "",
        f"| endpoint | p99 empty ms | p99 {grants:,} ms | growth | ≤ 1.2× | req/s empty "
        f"| req/s {grants:,} |",
        "|---|---:|---:|---:|---|---:|---:|",
    ]
    for name, r in big.big.items():
        e = big.empty[name]
        growth = r.p99_ms / e.p99_ms if e.p99_ms else 0.0
        lines.append(
            f"| {name} | {e.p99_ms:.2f} | {r.p99_ms:.2f} | {growth:.2f}× "
            f"| {_mark(growth <= TARGET_P99_GROWTH)} | {e.rps:.0f} | {r.rps:.0f} |"
        )
    per_million = (big.size_big - big.size_empty) / grants * 1_000_000 / 2**20
    lines += [
        "",
        f"Database size: {big.size_empty / 2**20:.1f} MB before, {big.size_big / 2**20:.1f} MB "
        f"after: **{per_million:.0f} MB per million grants** (two tokens each: "
        f"{per_million / 2:.0f} MB per million tokens, family rows and indexes included).",
        "",
    ]
    if big.tables:
        lines += ["| table or index | MB |", "|---|---:|"]
        lines += [f"| {name} | {size / 2**20:.1f} |" for name, size in big.tables.items()]
        lines.append("")
    return lines


def render(runs: list[Run], bigs: list, args) -> str:
    best = max(runs, key=Run.mean_rps)
    server = f" {postgresql_line(args.postgresql)}." if args.postgresql else ""
    lines = [
        "# Benchmarks",
        "",
        f"Generated by `make bench` (`bench/run.py`) on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC.",
        "",
        f"Machine: {machine()}.{server}",
        "",
        f"Each point: wrk for {args.seconds:g} s against gunicorn on 127.0.0.1 with "
        "`gunicorn.conf.py` and `models.PRAGMAS`; the load tool shares the machine's cores. "
        "The floor is `bench/floor_app.py` (Flask + Peewee + SQLite, one connection per "
        "worker thread kept open) under the same configuration. Ratios compare an endpoint "
        "with its floor at the same concurrency in the same configuration; single-use codes "
        "and refresh tokens are minted beforehand, a fresh pool per point. On PostgreSQL "
        "the floor is the same app on Peewee's PostgreSQL database (psycopg 3), and each "
        "endpoint is held against that floor.",
        "",
    ]
    both = side_by_side(runs)
    if both:
        lines += ["## SQLite and PostgreSQL side by side", "", *both]
    lines += ["## Throughput and latency", ""]
    for run in runs:
        lines += config_table(run)
    lines += [
        "Mean Gatehouse req/s over all points: "
        + "; ".join(f"{r.title}: {r.mean_rps():.0f}" for r in runs)
        + f". Faster here: **{best.title}**.",
        "",
        "## Memory",
        "",
        *memory_lines(runs),
    ]
    if bigs:
        lines += ["## A million stored grants", ""]
        for big in bigs:
            lines += scale_lines(big)
    if NOTES.exists():
        lines += [NOTES.read_text().rstrip(), ""]
    return "\n".join(lines)
