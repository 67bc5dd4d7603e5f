"""The test matrix itself: which tests run on PostgreSQL too, and what happens without a server."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.helpers import ROOT

GRANT_TEST = (
    "tests/grants/test_client_credentials.py::test_client_without_the_grant_is_unauthorized"
)
RULE_TEST = "tests/rules/test_claims.py"
PLAIN_TEST = "tests/ops/test_config_docs.py::test_the_table_and_the_reader_name_the_same_settings"


def pytest(*args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in ("CI", "GATEHOUSE_TEST_POSTGRESQL")}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def collected(*args: str, **env: str) -> list[str]:
    result = pytest("--collect-only", *args, **env)
    assert result.returncode == 0, result.stdout + result.stderr
    return [line for line in result.stdout.splitlines() if "::" in line]


def test_database_suites_run_on_both_engines_and_rule_tests_once():
    server = "postgresql://gatehouse@127.0.0.1:1/gatehouse"  # collecting connects to nothing
    both = collected(GRANT_TEST, GATEHOUSE_TEST_POSTGRESQL=server)
    assert both == [f"{GRANT_TEST}[sqlite]", f"{GRANT_TEST}[postgresql]"]
    rules = collected(RULE_TEST, GATEHOUSE_TEST_POSTGRESQL=server)
    assert rules and not any("postgresql" in test for test in rules)


def test_without_a_server_the_postgresql_half_is_skipped_with_one_line():
    result = pytest(GRANT_TEST)
    assert result.returncode == 0, result.stdout
    lines = [line for line in result.stdout.splitlines() if "PostgreSQL" in line]
    assert lines == [
        "PostgreSQL half skipped: GATEHOUSE_TEST_POSTGRESQL is unset (make test starts a "
        "throwaway server when PostgreSQL is installed: apt-get install postgresql)"
    ]


def test_ci_never_skips_the_postgresql_half():
    result = pytest(PLAIN_TEST, CI="true")
    assert result.returncode == 4  # pytest's usage error: nothing ran
    assert "GATEHOUSE_TEST_POSTGRESQL is unset" in result.stderr
    assert "CI never skips it" in result.stderr
