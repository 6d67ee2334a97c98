"""Extensions, created unbound here and bound to an app in ``create_app``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask, current_app
from flask_caching import Cache
from flask_login import LoginManager
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # noqa: ANN001 - DB-API objects
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets foreign keys, WAL and a busy timeout, PostgreSQL a
    connect timeout and a liveness check of pooled connections."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # A server that does not answer (down host, full backlog) fails a connection after this many
    # seconds instead of holding a worker thread for minutes; the URL may set its own.
    connect_args = {} if "connect_timeout=" in url else {"connect_timeout": 10}
    return create_engine(
        url, pool_pre_ping=True, pool_size=5, max_overflow=5, connect_args=connect_args
    )


class Database:
    """The SQLAlchemy engine and session factory of the current app."""

    def init_app(self, app: Flask) -> None:
        engine = make_engine(app.config["DATABASE_URL"])
        app.extensions["dynamics.engine"] = engine
        app.extensions["dynamics.sessionmaker"] = sessionmaker(engine, expire_on_commit=False)

    @property
    def engine(self) -> Engine:
        return current_app.extensions["dynamics.engine"]

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on error."""
        with current_app.extensions["dynamics.sessionmaker"]() as session:
            with session.begin():
                yield session


db = Database()
login_manager = LoginManager()
cache = Cache()
