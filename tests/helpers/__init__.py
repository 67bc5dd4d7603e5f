"""Helpers the tests share, imported as `tests.helpers.<module>`; fixtures stay in conftest.py.

- common.py        client rows, sign-in, PKCE pairs, Basic auth, redirect queries
- authorize.py     the authorization endpoint: requests, consent, codes
- tokens.py        the token endpoint: codes made directly, redemption, refresh
- live.py          Gatehouse under gunicorn on a free loopback port (the one live-server starter)
- device.py        the device flow against a live server: a seeded server, a person's approval
- oauth_browser.py a headless user agent that signs in and approves over plain HTTP
- node.py          the Node.js clients in tests/interop/node/: npm ci, a JSON-lines conversation
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the repository
ISSUER = "http://127.0.0.1:8000"  # the default issuer of the test config (and of the app)
