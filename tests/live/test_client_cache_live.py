"""The client cache under gunicorn: a client deleted by another process (the CLI) fails in
every worker at the next request, though each worker had it cached a moment before."""

from __future__ import annotations

import httpx
import pytest

from tests.helpers.live import add_user_and_client, running

pytestmark = pytest.mark.live


def statuses(url: str, auth: tuple[str, str], count: int) -> list[int]:
    """`count` client_credentials requests, each on a new connection (any worker may take it)."""
    answers = []
    for _ in range(count):
        with httpx.Client(timeout=30) as http:
            response = http.post(url, data={"grant_type": "client_credentials"}, auth=auth)
        answers.append(response.status_code)
    return answers


def test_a_client_deleted_by_the_cli_fails_in_every_worker(tmp_path):
    with running(tmp_path, workers=2) as live:
        client = add_user_and_client(live, "client_credentials", name="Cached")
        auth = (client["client_id"], client["client_secret"])
        url = live.url + "/oauth2/token"
        assert statuses(url, auth, 20) == [200] * 20  # both workers now hold it
        live.flask("clients", "delete", client["client_id"])
        assert statuses(url, auth, 8) == [401] * 8  # (the 11th failure would be a 429)
