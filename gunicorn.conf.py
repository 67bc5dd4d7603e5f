"""gunicorn settings for Gatehouse (`gunicorn -c gunicorn.conf.py 'app:create_app()'`)."""

import os

bind = os.environ.get("GATEHOUSE_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GATEHOUSE_WORKERS", "2"))
threads = int(os.environ.get("GATEHOUSE_THREADS", "1"))
worker_class = "gthread" if threads > 1 else "sync"
timeout = 30
graceful_timeout = 10
keepalive = 5
# Requests carrying secrets are never logged with their bodies; the access log has no query
# strings ("%(U)s" is the path only) because /oauth2/authorize callbacks carry codes in them.
accesslog = os.environ.get("GATEHOUSE_ACCESS_LOG", "-")
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms'
errorlog = "-"
# gunicorn 25+ opens a control socket shared by every instance of this user on the machine
# ($HOME/.gunicorn/gunicorn.ctl); Gatehouse doesn't use gunicornc, and parallel instances
# (tests, benchmarks) must not step on each other's socket.
control_socket_disable = True
