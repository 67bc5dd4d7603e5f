"""Several Gatehouse hosts on one PostgreSQL database behind a round-robin balancer (issue 11 §2).

Each host is its own gunicorn (tests.helpers.live) with its own folder (log, metrics) and port.
They share what every host of one deployment must share: the database URL,
GATEHOUSE_SECRET_KEY and the issuer, which is the balancer's address, the one URL clients
know. The balancer is a TCP relay in the test process that hands each new connection to the
next host in turn; gunicorn's sync workers close the connection after every response, so
consecutive requests through it land on different hosts. Tests that must say which host
serves a step use `hosts[i].url` directly.
"""

from __future__ import annotations

import contextlib
import itertools
import secrets
import socket
import socketserver
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tests.helpers.live import LiveServer, free_port, start_live_server


class _Relay(socketserver.BaseRequestHandler):
    """Copy bytes both ways between the caller and the next host until both sides close."""

    def handle(self) -> None:
        backend = next(self.server.backends)  # type: ignore[attr-defined]
        with socket.create_connection(backend, timeout=60) as upstream:
            back = threading.Thread(target=_pipe, args=(upstream, self.request))
            back.start()
            _pipe(self.request, upstream)
            back.join()


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            sink.sendall(data)
    with contextlib.suppress(OSError):
        sink.shutdown(socket.SHUT_WR)  # pass the end of the stream on


class Balancer(socketserver.ThreadingTCPServer):
    """A round-robin TCP load balancer on `port` (127.0.0.1) over `backends`."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # the tests open 32 connections at once; socketserver's default is 5

    def __init__(self, port: int, backends: list[tuple[str, int]]) -> None:
        super().__init__(("127.0.0.1", port), _Relay)
        self.backends = itertools.cycle(backends)
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        self.thread.join()


@dataclass
class Hosts:
    """Gatehouse hosts sharing one database and issuer; `url` is the balancer in front.

    Quacks like a LiveServer where tests only talk to "the server": `url`, `database`,
    `flask()` (run on the first host's settings), `log()` (every host's) and `extra`.
    """

    url: str
    database: str
    hosts: list[LiveServer]
    balancer: Balancer
    extra: dict = field(default_factory=dict)

    def __getitem__(self, index: int) -> LiveServer:
        return self.hosts[index]

    def flask(self, *args: str, input: str | None = None) -> str:
        return self.hosts[0].flask(*args, input=input)

    def log(self) -> str:
        return "\n".join(f"== host {i}\n{host.log()}" for i, host in enumerate(self.hosts))


@contextlib.contextmanager
def running_hosts(
    tmp: Path, database: str, count: int = 2, workers: int = 2, **env: str
) -> Iterator[Hosts]:
    """`count` hosts with `workers` each on the PostgreSQL `database` (already migrated or
    not), behind a balancer; all stopped when the block ends. `env` adds settings to all."""
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    shared = {
        "GATEHOUSE_ISSUER": issuer,
        "GATEHOUSE_SECRET_KEY": secrets.token_hex(32),
        **env,
    }
    hosts: list[LiveServer] = []
    balancer = None
    try:
        for i in range(count):
            folder = tmp / f"host{i}"
            folder.mkdir()  # its log and its metrics (a host starting empties its metrics folder)
            hosts.append(start_live_server(folder, workers, database=database, **shared))
        backends = [("127.0.0.1", int(host.url.rsplit(":", 1)[1])) for host in hosts]
        balancer = Balancer(port, backends)
        yield Hosts(issuer, database, hosts, balancer)
    finally:
        if balancer is not None:
            balancer.stop()
        for host in hosts:
            host.stop()
