"""gunicorn settings for Gatehouse (`gunicorn -c gunicorn.conf.py 'app:create_app()'`).

The GATEHOUSE_* settings are read and checked here, in gunicorn's config phase, before it
binds or starts a worker: a bad value stops the start with one line and exit status 2.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # the `gunicorn` script's path

from oauth import settings  # noqa: E402 - after the path above

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
accesslog = gatehouse["ACCESS_LOG"]
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms'
errorlog = "-"
# gunicorn 25+ opens a control socket shared by every instance of this user on the machine
# ($HOME/.gunicorn/gunicorn.ctl); Gatehouse doesn't use gunicornc, and parallel instances
# (tests, benchmarks) must not step on each other's socket.
control_socket_disable = True


def when_ready(server) -> None:
    """Once, in the master, when it listens: say loudly that mock mode is on."""
    banner = settings.mock_banner(gatehouse)
    if banner:
        settings.say_once(banner)
