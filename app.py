"""The application factory, and ``python app.py``: the embedded development server."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dash import Dash
from flask import Flask, Response, jsonify, request
from sqlalchemy import text
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.middleware.proxy_fix import ProxyFix

import auth
import commands
import ratelimit
import share_routes
from callbacks import register_all
from config import load_config
from extensions import cache, db, login_manager
from layouts import root
from metrics.errors import DATABASE_UNAVAILABLE

HERE = Path(__file__).resolve().parent
log = logging.getLogger(__name__)


def _cache_config(config: Mapping[str, Any]) -> dict[str, Any]:
    if config.get("REDIS_URL"):
        return {
            "CACHE_TYPE": "RedisCache",
            "CACHE_REDIS_URL": config["REDIS_URL"],
            # One Redis may serve several deployments (or test runs): each keeps its own keys.
            "CACHE_KEY_PREFIX": str(config.get("CACHE_KEY_PREFIX") or "dynamics:"),
            "CACHE_DEFAULT_TIMEOUT": 0,
            # A hung or unreachable Redis costs a request at most this long; the callers fall
            # back to the database.
            "CACHE_OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
    return {"CACHE_TYPE": "SimpleCache", "CACHE_DEFAULT_TIMEOUT": 0, "CACHE_THRESHOLD": 500}


def _register_health(server: Flask) -> None:
    @server.get("/healthz")
    def healthz():  # noqa: ANN202 - Flask view
        try:
            with db.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception:  # any failure to reach the database means "not healthy"
            log.warning("healthz: database unavailable", exc_info=True)
            return jsonify(status="unavailable"), 503
        return jsonify(status="ok")




def _register_database_errors(server: Flask) -> None:
    """A request that cannot reach the database (loading the user, a page, a callback) answers
    503 with a message saying so, not a 500; the next request tries the database again."""

    def unavailable(error: Exception) -> tuple[Response, int, dict[str, str]]:
        log.error("database unavailable (%s %s): %s", request.method, request.path,
                  type(error).__name__)
        headers = {"Retry-After": "5", "Cache-Control": "no-store"}
        if request.path.startswith("/_dash-") or not request.accept_mimetypes.accept_html:
            return jsonify(error=DATABASE_UNAVAILABLE), 503, headers
        page = Response(
            f"<!doctype html><title>Customer Dynamics</title><p>{DATABASE_UNAVAILABLE}</p>",
            mimetype="text/html",
        )
        return page, 503, headers

    for error_class in (OperationalError, InterfaceError, PoolTimeout):
        server.register_error_handler(error_class, unavailable)


def create_app(config: Mapping[str, Any] | None = None) -> Dash:
    """Build the Dash app (and its Flask server) from the environment and ``config``."""
    settings = load_config(overrides=config)
    server = Flask(__name__, instance_path=settings["INSTANCE_PATH"])
    server.config.update(settings)
    Path(settings["INSTANCE_PATH"]).mkdir(parents=True, exist_ok=True)
    if settings["TRUSTED_PROXIES"]:
        # Behind a load balancer the login throttle and the share-token limiter must see the
        # client's address, not the balancer's.
        hops = settings["TRUSTED_PROXIES"]
        server.wsgi_app = ProxyFix(server.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)

    db.init_app(server)
    login_manager.init_app(server)
    cache.init_app(server, config=_cache_config(settings))
    _register_health(server)
    _register_database_errors(server)
    auth.init_app(server)
    # After the login requirement, before the share routes (see ratelimit.init_app).
    ratelimit.init_app(server)
    server.register_blueprint(share_routes.bp)
    commands.register(server)

    app = Dash(
        __name__,
        server=server,
        title="Customer Dynamics",
        assets_folder=str(HERE / "assets"),
        suppress_callback_exceptions=True,
        update_title=None,
    )
    app.layout = root.layout
    register_all(app)
    return app


def __getattr__(name: str) -> Flask:
    # ``flask --app app …`` looks for a Flask object called ``app``; build it on demand so that
    # importing this module stays free of side effects.
    if name == "application":
        return create_app().server
    raise AttributeError(name)


def main() -> None:
    """Run the embedded default: create and seed the database on first start, then serve."""
    from exports.delivery import start_sender_thread
    from store.demo import prepare_embedded_instance

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = create_app()
    with app.server.app_context():
        for line in prepare_embedded_instance():
            print(line, flush=True)
    # Development: queued e-mails go out from a thread of this process (in production the
    # Procfile's ``worker:`` runs ``dynamics send-mail``).
    start_sender_thread(app.server)
    port = app.server.config["PORT"]
    print(f"Customer Dynamics on http://127.0.0.1:{port}", flush=True)
    app.run(host="127.0.0.1", port=port, debug=False)


if __name__ == "__main__":
    main()
