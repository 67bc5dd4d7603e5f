"""Every GATEHOUSE_* setting, read once at start by one strict, typed reader.

Over 250 lines: most of it is the declarative table of every setting, which is the point of
having one reader.

`SETTINGS` is the table (name, type, default, range or choices, one line of help); the README's
configuration table repeats it and tests/ops/test_config_docs.py keeps the two identical.
`load_config(environ, overrides)` returns the typed config dict or raises SettingsError naming
one variable; `config_or_exit()` turns that into one line on stderr and exit status 2, for
gunicorn.conf.py and for create_app() under `flask` and gunicorn. No Flask here.

Values are parsed, never evaluated: booleans are exactly 1/0, true/false, yes/no, on/off (any
case), numbers are decimal integers within their range, choices come from their list. (Flask's
`from_prefixed_env` JSON-parses values, so `GATEHOUSE_MOCK=off` was the truthy string "off".)
"""

from __future__ import annotations

import difflib
import os
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from oauth.dialect import display, is_postgresql_url, url_problem
from oauth.urls import is_loopback_host, normalize_issuer

PREFIX = "GATEHOUSE_"
TRUE = ("1", "true", "yes", "on")
FALSE = ("0", "false", "no", "off")
DAY = 86400
# GATEHOUSE_* names that belong to Gatehouse's scripts and test tools, not to the server.
TOOL_NAMES = {"URL", "PYTHON", "SLOW", "SCHEMATHESIS_EXAMPLES", "TEST_POSTGRESQL"}


class SettingsError(RuntimeError):
    """A setting the server refuses to start with: `name` (without the prefix), value, why."""

    def __init__(self, name: str, value: Any, why: str, secret: bool = False) -> None:
        shown = "(hidden)" if secret else _display(value)
        super().__init__(f"{PREFIX}{name}={shown}: {why}")
        self.name, self.why = name, why


@dataclass(frozen=True)
class Setting:
    """One setting: `kind` is bool, int, choice or text; `check` says why a text is refused."""

    name: str
    kind: str
    default: Any
    help: str
    low: int = 0
    high: int = 0
    choices: tuple[str, ...] = ()
    check: Callable[[str], str | None] | None = None
    secret: bool = False
    shown: str = ""  # the README's default when the real one is worked out at start


def _issuer_problem(value: str) -> str | None:
    try:
        normalize_issuer(value)
    except ValueError as exc:
        return str(exc)
    return None


_HOST_PORT = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?$")
_HOST = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?)$")


def _bind_problem(value: str) -> str | None:
    if value.startswith(("unix:", "fd://")):
        return None
    match = _HOST_PORT.match(value)
    if match is None or (match.group(2) and not 1 <= int(match.group(2)) <= 65535):
        return "must be HOST:PORT (port 1 to 65535), unix:PATH or fd://N"
    return None


def _secret_key_problem(value: str) -> str | None:
    if value and len(value) < 32:  # empty: generated once into the instance folder
        return "must be at least 32 characters (32 random bytes in hex)"
    return None


def _file_problem(value: str) -> str | None:
    return "no such file" if value and not os.path.isfile(value) else None


def host_list(value: str) -> list[str]:
    """The host names in a list separated by commas and/or whitespace (GATEHOUSE_CIMD_HOSTS)."""
    return [host for host in re.split(r"[\s,]+", value) if host]


def _hosts_problem(value: str) -> str | None:
    bad = [host for host in host_list(value) if not _HOST.match(host)]
    return f"not a host name: {bad[0]}" if bad else None


def _flag(name: str, help: str) -> Setting:
    return Setting(name, "bool", False, help)


def _seconds(name: str, default: int, low: int, high: int, help: str) -> Setting:
    return Setting(name, "int", default, help, low, high)


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "ISSUER",
        "text",
        "http://127.0.0.1:8000",
        "The issuer: `scheme://host[:port]`, no trailing slash.",
        check=_issuer_problem,
    ),
    Setting(
        "BIND",
        "text",
        "127.0.0.1:8000",
        "gunicorn's listen address: `HOST:PORT`, `unix:PATH` or `fd://N`.",
        check=_bind_problem,
    ),
    Setting("WORKERS", "int", 2, "gunicorn worker processes, 1 to 64.", 1, 64),
    Setting("THREADS", "int", 1, "Threads per gunicorn worker, 1 to 64.", 1, 64),
    Setting(
        "DATABASE",
        "text",
        "",
        "The SQLite file, or a `postgresql://USER:PASSWORD@HOST:PORT/DATABASE` URL "
        "(also `postgresql:///DATABASE?host=/run/postgresql`).",
        check=url_problem,
        shown="`instance/gatehouse.sqlite3`; `instance/gatehouse-mock.sqlite3` in mock mode",
    ),
    Setting(
        "SECRET_KEY",
        "text",
        "",
        "Signs sessions, CSRF tokens and the pending consent; at least 32 characters.",
        check=_secret_key_problem,
        secret=True,
        shown="generated once into `instance/secret_key`",
    ),
    # RFC 6749 §4.1.2: a code is short-lived, 10 minutes at most.
    _seconds("CODE_TTL", 300, 1, 600, "Authorization code lifetime in seconds, 1 to 600."),
    _seconds("ACCESS_TOKEN_TTL", 3600, 1, DAY, "Access token lifetime in seconds, 1 to 86400."),
    Setting(
        "ACCESS_TOKEN_FORMAT",
        "choice",
        "opaque",
        "Access tokens for resources that choose no format, and for the built-in API: "
        "`opaque` or `jwt` (RFC 9068).",
        choices=("opaque", "jwt"),
    ),
    _seconds(
        "REFRESH_TOKEN_TTL",
        30 * DAY,
        1,
        366 * DAY,
        "Refresh token idle lifetime in seconds, 1 to 31622400 (366 days).",
    ),
    _seconds(
        "REFRESH_TOKEN_ABSOLUTE_TTL",
        90 * DAY,
        1,
        3 * 366 * DAY,
        "A refresh token family never outlives this, in seconds, 1 to 94867200 (1098 days).",
    ),
    _seconds(
        "REFRESH_TOKEN_REUSE_GRACE",
        0,
        0,
        DAY,
        "Seconds after a rotation in which a reuse is a client racing itself, 0 to 86400.",
    ),
    _seconds("DEVICE_CODE_TTL", 900, 1, 3600, "Device code lifetime in seconds, 1 to 3600."),
    _seconds(
        "SESSION_LIFETIME",
        8 * 3600,
        60,
        31 * DAY,
        "Browser session lifetime in seconds, 60 to 2678400 (31 days).",
    ),
    Setting(
        "REGISTRATION",
        "choice",
        "open",
        "How clients may register themselves, by RFC 7591 and by client ID metadata documents "
        "alike: `open`, `admin` or `off`.",
        choices=("open", "admin", "off"),
    ),
    Setting(
        "CIMD_HOSTS",
        "text",
        "",
        "Hosts whose client ID metadata documents are accepted under "
        "`GATEHOUSE_REGISTRATION=admin`.",
        check=_hosts_problem,
    ),
    _flag("MOCK", "Mock identity provider: any username signs in without a password."),
    _flag("MOCK_AUTO_CONSENT", "In mock mode, approve consent without asking."),
    _flag(
        "MOCK_ANY_CLIENT",
        "In mock mode, register an unknown `client_id` at `/oauth2/authorize` as a public client.",
    ),
    _flag(
        "MOCK_ALLOW_REMOTE",
        "Let mock mode run with a non-loopback issuer and bind, and answer other machines.",
    ),
    _flag("ALLOW_INSECURE_ISSUER", "Accept an `http://` issuer on a non-loopback host."),
    Setting(
        "TRUSTED_PROXIES", "int", 0, "How many reverse proxies' headers to trust, 0 to 10.", 0, 10
    ),
    Setting(
        "MAX_CONTENT_LENGTH",
        "int",
        64 * 1024,
        "Largest request body in bytes, 1024 to 16777216.",
        1024,
        16 * 1024 * 1024,
    ),
    Setting("MAX_FORM_PARTS", "int", 200, "Most parts of a multipart body, 1 to 10000.", 1, 10_000),
    Setting(
        "BUSY_TIMEOUT_MS",
        "int",
        5000,
        "How long a write waits for the write lock, in ms, 0 to 600000.",
        0,
        600_000,
    ),
    Setting("ACCESS_LOG", "text", "-", "gunicorn's access log file."),
    Setting(
        "LOG_FORMAT",
        "choice",
        "text",
        "Access and application log lines: `text` or `json` (one object per line).",
        choices=("text", "json"),
    ),
    Setting(
        "METRICS_DIR",
        "text",
        "",
        "Where each worker writes its counters for `/metrics`.",
        shown="`<database>-metrics`; PostgreSQL: `instance/<database name>-metrics`",
    ),
    Setting("CIMD_ALLOWLIST", "text", "", "Tests only: hosts a metadata document may resolve to."),
    Setting(
        "CIMD_CA_BUNDLE",
        "text",
        "",
        "Tests only: a CA file trusted for metadata documents.",
        check=_file_problem,
    ),
)
BY_NAME = {setting.name: setting for setting in SETTINGS}
DEFAULTS: dict[str, Any] = {setting.name: setting.default for setting in SETTINGS}


def _display(value: Any) -> str:
    text = display(str(value))  # a database URL's password never reaches the terminal
    return text if len(text) <= 80 else text[:77] + "..."


def parse(setting: Setting, raw: str) -> Any:
    """The typed value of one environment variable, or SettingsError saying why not."""
    value = raw.strip().lower()
    if setting.kind == "bool":
        if value in TRUE or value in FALSE:
            return value in TRUE
        return _refuse(setting, raw, "must be one of 1/0, true/false, yes/no, on/off")
    if setting.kind == "int":
        if not re.fullmatch(r"[+-]?[0-9]{1,12}", value):
            return _refuse(setting, raw, f"must be an integer from {setting.low} to {setting.high}")
        return check_value(setting, int(value))
    if setting.kind == "choice":
        return check_value(setting, value)
    return check_value(setting, raw)


def check_value(setting: Setting, value: Any) -> Any:
    """A typed value (parsed from the environment, or passed by a test) checked against its
    type, range and choices; SettingsError if it does not fit."""
    if setting.kind == "bool" and not isinstance(value, bool):
        return _refuse(setting, value, "must be true or false")
    if setting.kind == "int":
        if not isinstance(value, int) or isinstance(value, bool):
            return _refuse(setting, value, "must be an integer")
        if not setting.low <= value <= setting.high:
            why = f"must be an integer from {setting.low} to {setting.high}"
            return _refuse(setting, value, why)
    if setting.kind == "choice" and value not in setting.choices:
        return _refuse(setting, value, f"must be one of {', '.join(setting.choices)}")
    if setting.kind == "text":
        if not isinstance(value, str):
            return _refuse(setting, value, "must be a string")
        problem = setting.check(value) if setting.check else None
        if problem:
            return _refuse(setting, value, problem)
    return value


def _refuse(setting: Setting, value: Any, why: str):
    raise SettingsError(setting.name, value, why, setting.secret)


def unknown_names(environ: Mapping[str, str]) -> list[str]:
    """A warning for every GATEHOUSE_* variable that is no setting, naming the nearest one."""
    warnings = []
    for key in sorted(environ):
        name = key[len(PREFIX) :]
        if not key.startswith(PREFIX) or name in BY_NAME or name in TOOL_NAMES:
            continue
        near = difflib.get_close_matches(name, list(BY_NAME), n=1)
        hint = f"; did you mean {PREFIX}{near[0]}?" if near else ""
        warnings.append(f"gatehouse: warning: {key} is not a setting and is ignored{hint}")
    return warnings


def read_settings(environ: Mapping[str, str]) -> dict[str, Any]:
    """Every setting from `environ` (defaults for the unset ones), typed and checked."""
    config = dict(DEFAULTS)
    for setting in SETTINGS:
        raw = environ.get(PREFIX + setting.name)
        if raw is not None:
            config[setting.name] = parse(setting, raw)
    return config


def loopback_bind_issuer(bind: str) -> str | None:
    """`http://<bind>` when gunicorn listens on a loopback host and port, else None.

    With no GATEHOUSE_ISSUER, `GATEHOUSE_BIND=127.0.0.1:9000` makes the issuer (and every URL
    printed or published) say port 9000, not the default 8000 nobody is listening on.
    """
    parts = urlsplit("http://" + bind)
    try:
        port = parts.port
    except ValueError:
        return None
    if port is None or not is_loopback_host(parts.hostname or ""):
        return None
    return f"http://{parts.netloc}"


def is_loopback_bind(bind: str) -> bool:
    """Whether gunicorn's address is a loopback host (`unix:` and `fd://` are not known to be)."""
    match = _HOST_PORT.match(bind)
    return match is not None and is_loopback_host(match.group(1))


def check_config(config: Mapping[str, Any]) -> None:
    """Refuse combinations of settings that would be unsafe to serve (SettingsError)."""
    for name, setting in BY_NAME.items():
        if name in config:
            check_value(setting, config[name])
    issuer = config["ISSUER"]
    host = urlsplit(issuer).hostname or ""
    insecure = issuer.startswith("http://") and not is_loopback_host(host)
    if insecure and not config["ALLOW_INSECURE_ISSUER"]:
        why = "http:// on a non-loopback host; use https, or set "
        raise SettingsError("ISSUER", issuer, why + "GATEHOUSE_ALLOW_INSECURE_ISSUER=1")
    if is_postgresql_url(config["DATABASE"]) and not config["SECRET_KEY"]:
        why = "required with a PostgreSQL database: every host must share one key (a key "
        why += "generated per host would split sessions across hosts)"
        raise SettingsError("SECRET_KEY", "", why)
    if config["MOCK"] and not config["MOCK_ALLOW_REMOTE"]:
        why = "mock mode signs anyone in: it needs a loopback {} "
        why += "unless GATEHOUSE_MOCK_ALLOW_REMOTE=1"
        if not is_loopback_host(host):
            raise SettingsError("ISSUER", issuer, why.format("issuer"))
        if not is_loopback_bind(config["BIND"]):
            raise SettingsError("BIND", config["BIND"], why.format("listen address"))


def load_config(
    environ: Mapping[str, str], overrides: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The whole typed config: defaults, then `environ`, then `overrides` (tests), checked.

    Without GATEHOUSE_ISSUER (or an ISSUER override), a loopback BIND names the issuer.
    """
    config = read_settings(environ)
    config.update(overrides or {})
    if PREFIX + "ISSUER" not in environ and "ISSUER" not in (overrides or {}):
        config["ISSUER"] = loopback_bind_issuer(str(config["BIND"])) or config["ISSUER"]
    check_config(config)
    config["ISSUER"] = normalize_issuer(config["ISSUER"])
    return config


_said: set[str] = set()  # lines already printed by this process (or its gunicorn master)


def say_once(line: str) -> None:
    """Print `line` on stderr once per process; gunicorn workers inherit the master's memory."""
    if line not in _said:
        _said.add(line)
        print(line, file=sys.stderr, flush=True)


def config_or_exit(
    environ: Mapping[str, str], overrides: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """load_config(), with a bad setting reported as one line on stderr and exit status 2."""
    for warning in unknown_names(environ):
        say_once(warning)
    try:
        return load_config(environ, overrides)
    except SettingsError as exc:
        print(f"gatehouse: {exc}", file=sys.stderr, flush=True)
        raise SystemExit(2) from None


def database_path(config: Mapping[str, Any], instance_path: str) -> str:
    """GATEHOUSE_DATABASE, else a file in the instance folder: mock mode has its own, so the
    real accounts never appear on its password-less sign-in page."""
    name = "gatehouse-mock.sqlite3" if config["MOCK"] else "gatehouse.sqlite3"
    return config["DATABASE"] or os.path.join(instance_path, name)


def metrics_dir(config: Mapping[str, Any], instance_path: str) -> str:
    """GATEHOUSE_METRICS_DIR, else beside the SQLite file, or for a PostgreSQL database a
    folder named after it in the instance folder (never a folder named like a URL)."""
    if config["METRICS_DIR"]:
        return config["METRICS_DIR"]
    database = database_path(config, instance_path)
    if is_postgresql_url(database):
        name = urlsplit(database).path.lstrip("/")
        return os.path.join(instance_path, f"{name}-metrics")
    return f"{database}-metrics"


def mock_banner(config: Mapping[str, Any]) -> str | None:
    """The start-up line that says mock mode is on, or None."""
    if not config["MOCK"]:
        return None
    return (
        f"gatehouse: MOCK MODE: anyone signs in as any user without a password at "
        f"{config['ISSUER']}; for local development and tests only"
    )
