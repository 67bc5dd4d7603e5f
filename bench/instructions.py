"""Instructions per request of each endpoint and its floor: a CPU measure no other load moves.

`bench.micro` counts CPU time, which a busy machine still moves by 10-30%: too much to see a
change worth 3%. This counts the instructions the process executes, under valgrind's
cachegrind (`valgrind --tool=cachegrind --cache-sim=no`), which is exact and repeatable.
Each endpoint runs in two child processes with the same set-up as `bench.micro` (the same
fixtures, the same test client), one making FEW requests and the other MANY: the difference
of their totals over MANY - FEW is one request's cost, start-up and set-up cancelled out.
The children run with PYTHONHASHSEED=0: with random string hashes, dict and set layouts
differ from run to run, and so did the counts, by about 10k per request.

It leaves out what instructions do not show: cache misses, and the kernel's work (fsync, the
WAL's writes), which `bench.micro` includes. Use it to compare two versions of the code;
use `bench.micro` and `make bench` for how far an endpoint is from its floor. The two
`sql: ...` rows are the floor INSERT's and a code exchange's statements alone, through
`sqlite3` (bench/sql_only.py): what SQLite costs of each, without Flask and Peewee.

    python -m bench.instructions [--only "token: refresh_token,introspection"]
                                 [--requests 100,400] [--jobs 2]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench import micro, server, sql_only

VALGRIND = ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null"]
TOTAL = re.compile(r"I\s+refs:\s+([\d,]+)")
FLOORS = ("floor: JSON", "floor: SELECT", "floor: INSERT")


def child(name: str, requests: int, setup_for: int) -> None:
    """Make `requests` requests of endpoint `name` after `bench.micro`'s set-up for
    `setup_for` requests (the same in both children, whatever `requests` is), in databases
    of its own (children run side by side)."""
    server.OUT = Path(tempfile.mkdtemp(prefix="gatehouse-instructions-"))
    try:
        if name in FLOORS:
            call = micro.floor_calls()[name]
        elif name in sql_only.NAMES:
            call = sql_only.call_for(name, setup_for + 1)
        else:
            call = micro.gatehouse_calls(setup_for + 1)[name]
        call(setup_for)  # warm up, with a pool entry no measured request uses
        for i in range(requests):
            call(i)
    finally:
        shutil.rmtree(server.OUT)


def instructions(name: str, requests: int, setup_for: int) -> int:
    """The total instructions of a child process making `requests` requests of `name`."""
    command = [*VALGRIND, sys.executable, "-m", "bench.instructions", "--child", name]
    command += ["--requests", f"{requests},{setup_for}"]
    environ = {**os.environ, "PYTHONHASHSEED": "0"}  # the same hashes in every child
    done = subprocess.run(command, capture_output=True, text=True, check=True, env=environ)
    found = TOTAL.search(done.stderr)
    if found is None:
        raise RuntimeError(f"no instruction count from valgrind:\n{done.stderr[-2000:]}")
    return int(found.group(1).replace(",", ""))


def per_request(name: str, few: int, many: int) -> float:
    return (instructions(name, many, many) - instructions(name, few, many)) / (many - few)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="comma-separated endpoint names")
    parser.add_argument("--requests", default="100,400", help="FEW,MANY requests per child")
    parser.add_argument("--jobs", type=int, default=2, help="endpoints measured at once")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    few, many = (int(n) for n in args.requests.split(","))
    if args.child:
        child(args.child, few, many)
        return
    if shutil.which("valgrind") is None:
        parser.error("needs valgrind (Debian: apt-get install valgrind)")
    names = [*FLOORS, *micro.ENDPOINTS, *sql_only.NAMES]
    only = {name.strip() for name in args.only.split(",") if name.strip()}
    names = [name for name in names if not only or name in only or name in FLOORS]
    with ThreadPoolExecutor(args.jobs) as pool:
        costs = dict(zip(names, pool.map(lambda n: per_request(n, few, many), names), strict=True))
    for name, cost in costs.items():
        measured = name not in FLOORS and name not in sql_only.NAMES
        floor = micro.FLOOR_OF.get(name, "floor: INSERT") if measured else None
        ratio = f"  floor/endpoint {costs[floor] / cost:4.0%}" if floor else ""
        print(f"{name:<45} {cost / 1000:8.0f} k instructions/request{ratio}", flush=True)


if __name__ == "__main__":
    main()
