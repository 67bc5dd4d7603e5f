"""gunicorn settings for Gatehouse (`gunicorn -c gunicorn.conf.py 'app:create_app()'`).

The GATEHOUSE_* settings are read and checked here, in gunicorn's config phase, before it
binds or starts a worker: a bad value stops the start with one line and exit status 2.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # the `gunicorn` script's path

from oauth import settings  # noqa: E402 - after the path above
from oauth.ops import logs  # noqa: E402

# Not named `config`: gunicorn takes every module-level name that is one of its settings.
gatehouse = settings.config_or_exit(os.environ)
bind = gatehouse["BIND"]
workers = gatehouse["WORKERS"]
threads = gatehouse["THREADS"]
worker_class = "gthread" if threads > 1 else "sync"
timeout = 30
graceful_timeout = 10
keepalive = 5
# Requests carrying secrets are never logged with their bodies; the access log has no query
# strings ("%(U)s" is the path only) because /oauth2/authorize callbacks carry codes in them.
# `%(t)s` is ISO-8601 UTC and X-Request-Id is the id the app answered (oauth/ops/logs.py);
# GATEHOUSE_LOG_FORMAT=json writes the same fields as one JSON object per line.
accesslog = gatehouse["ACCESS_LOG"]
access_log_format = '%(t)s %({x-request-id}o)s %(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms'
errorlog = "-"
logger_class = logs.logger_class(gatehouse["LOG_FORMAT"])
# gunicorn 25+ opens a control socket shared by every instance of this user on the machine
# ($HOME/.gunicorn/gunicorn.ctl); Gatehouse doesn't use gunicornc, and parallel instances
# (tests, benchmarks) must not step on each other's socket.
control_socket_disable = True

# /metrics: prometheus_client's multiprocess mode. Each worker counts into its own files in
# METRICS_DIR and /metrics sums them. By default it is `<database>-metrics`, beside create_app's
# database (GATEHOUSE_DATABASE, else instance/gatehouse.sqlite3, or gatehouse-mock.sqlite3 in
# mock mode, in the instance folder beside this file); for PostgreSQL, in the instance folder.
_instance = os.path.join(os.path.dirname(os.path.abspath(__file__)), "instance")
metrics_dir = settings.metrics_dir(gatehouse, _instance)


def on_starting(server):
    """In the master, once, before any worker starts (and imports the app).

    prometheus_client decides on its first import whether it counts in files, so the workers
    must inherit the variable; a previous run's counters must not add to this server's.
    (Not with `preload_app`: the app would be imported before this hook.)
    """
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    from oauth.ops.metrics import reset_directory

    reset_directory(metrics_dir)


def post_worker_init(worker) -> None:
    """In each worker, once its app is loaded: on SQLite, a thread checkpoints the WAL, so
    no request waits for a checkpoint (oauth/dialect.py, Checkpointer)."""
    from models import db
    from oauth.dialect import SqliteFileDatabase

    if isinstance(db.obj, SqliteFileDatabase):
        db.obj.checkpoint_in_background()


def child_exit(server, worker):
    """In the master, when a worker is gone: its counters stay, its live gauges go."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid, metrics_dir)


def when_ready(server) -> None:
    """Once, in the master, when it listens: say loudly that mock mode is on."""
    banner = settings.mock_banner(gatehouse)
    if banner and gatehouse["LOG_FORMAT"] == "json":
        server.log.warning(banner)  # one JSON line like every other
    elif banner:
        settings.say_once(banner)
