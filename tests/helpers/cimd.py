"""A local HTTPS server of client ID metadata documents (self-signed, on 127.0.0.1).

The fetcher trusts it through the test-only `cafile`/`GATEHOUSE_CIMD_CA_BUNDLE` and may reach
loopback only because the test-only allowlist names it; the `doc_server` fixture in
conftest.py runs one per test.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

DOC_REDIRECT = "http://127.0.0.1:9999/callback"


def self_signed(tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "gatehouse-test")])
    now = datetime.datetime.now(datetime.UTC)
    san = x509.SubjectAlternativeName(
        [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(san, critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_path), str(key_path)


class Handler(BaseHTTPRequestHandler):
    """Serves documents by path; `self.server.hits` counts requests per path."""

    def log_message(self, *args):
        pass

    def do_GET(self):  # noqa: N802 - http.server's name
        server = self.server
        server.hits[self.path] = server.hits.get(self.path, 0) + 1
        url = f"https://127.0.0.1:{server.server_port}{self.path}"
        doc = {"client_id": url, "client_name": "Doc Client", "redirect_uris": [DOC_REDIRECT]}
        status, ctype, headers = 200, "application/json", {}
        body = None
        if self.path == "/redirect.json":
            status, headers = (
                302,
                {"Location": f"https://127.0.0.1:{server.server_port}/client.json"},
            )
            body = b""
        elif self.path == "/big.json":
            doc["padding"] = "x" * 6000
        elif self.path == "/slow.json":
            time.sleep(1.5)
        elif self.path == "/dribble.json":
            return self.dribble()
        elif self.path == "/html.json":
            ctype = "text/html"
        elif self.path == "/broken.json":
            body = b"{not json"
        elif self.path == "/wrong-id.json":
            doc["client_id"] = url + "?x"
        elif self.path == "/no-name.json":
            del doc["client_name"]
        elif self.path == "/secret.json":
            doc["client_secret"] = "shh"
        elif self.path == "/evil-redirect.json":
            doc["redirect_uris"] = ["http://evil.example/cb"]
        elif self.path == "/missing.json":
            status, body = 404, b"{}"
        elif self.path == "/nostore.json":
            headers["Cache-Control"] = "no-store"
        elif self.path == "/renamed.json":
            doc["client_name"] = server.names.pop(0) if server.names else "Final"
            headers["Cache-Control"] = "max-age=0"
        if body is None:
            body = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def dribble(self):
        """Headers at once, then the body a byte every 0.2 s (about 30 s in all)."""
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "150")
        self.end_headers()
        try:
            for byte in b"{" + b" " * 148 + b"}":
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(0.2)
        except OSError:
            pass  # the fetcher gave up and closed the connection


def start_doc_server(tmp_path) -> ThreadingHTTPServer:
    """A running document server with `base`, `allow` (for the allowlist) and `cafile`."""
    cert, key = self_signed(tmp_path)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.hits, server.names = {}, []
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    server.base = f"https://127.0.0.1:{server.server_port}"
    server.allow = f"127.0.0.1:{server.server_port}"
    server.cafile = cert
    return server
