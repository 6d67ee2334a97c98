"""gunicorn settings for ``web:`` in the Procfile, from the environment.

``PORT`` (default 8050) is bound on every interface; ``WEB_CONCURRENCY`` worker processes
(default 2) each run ``GUNICORN_THREADS`` threads (default 4). Each worker keeps its own
loaded-ledger cache and database pool; snapshots, sessions (signed cookies with
``SECRET_KEY``), saved queries and the outbox live in the database, and the snapshot cache and
the share-guess counters in Redis when ``REDIS_URL`` is set — so any worker on any host can
answer any request.
"""

from __future__ import annotations

import os


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


bind = [f"0.0.0.0:{_int('PORT', 8050)}"]
workers = _int("WEB_CONCURRENCY", 2)
threads = _int("GUNICORN_THREADS", 4)
worker_class = "gthread"
# The first report of a worker loads the ledger, which takes a while on a large database.
timeout = _int("GUNICORN_TIMEOUT", 120)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
keepalive = 5
# Each worker builds its own app and connections after the fork (no preload): no database
# connection or Redis socket is ever shared between processes.
preload_app = False
# The load balancer's address, whose X-Forwarded-* headers gunicorn believes.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
# The workers' heartbeat files: in memory where there is /dev/shm (a slow disk would make a busy
# worker look dead).
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
# gunicorn ≥ 25 opens a control socket at one fixed path per user, which several instances on
# one host would fight over; only with GUNICORN_CONTROL_SOCKET=<path> (older versions ignore
# both settings).
control_socket = os.environ.get("GUNICORN_CONTROL_SOCKET") or "gunicorn.ctl"
control_socket_disable = not os.environ.get("GUNICORN_CONTROL_SOCKET")
