"""WSGI entry point named by the Procfile: ``gunicorn --config gunicorn.conf.py wsgi:server``."""

from __future__ import annotations

import logging
import os

from app import create_app
from config import ConfigError

# The app's own log lines (database unavailable, mail failures, …) go to gunicorn's stderr.
logging.basicConfig(
    level=os.environ.get("LOG_LEVEL", "INFO").upper(),
    format="%(asctime)s [%(process)d] %(levelname)s %(name)s: %(message)s",
)

try:
    server = create_app().server
except ConfigError as error:
    # One line instead of a traceback; gunicorn then stops: a worker that cannot boot halts it.
    raise SystemExit(f"Customer Dynamics cannot start: {error}") from None
