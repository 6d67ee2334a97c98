"""Fixtures shared by the whole suite: an app on a fresh database, its client and CLI runner.

Every test that uses ``app`` (directly or through ``server``, ``client``, ``runner``) runs once
per database backend, shown in its id:

- ``[sqlite]`` always: a fresh SQLite file in the test's ``tmp_path``;
- ``[postgresql]`` when ``TEST_DATABASE_URL`` is set (``scripts/services.sh`` sets it): a fresh
  schema of that database, reached through the libpq ``options=-csearch_path=<schema>``
  connection parameter and dropped after the test, so tests never see each other's rows, and
  several runs (of several engineers) can share one server.

Test modules that use the cache (they import ``extensions.cache``) also run with Redis as the
flask-caching backend when ``TEST_REDIS_URL`` is set: ``[postgresql-redis]`` (or
``[sqlite-redis]`` without PostgreSQL). Each test gets its own key prefix, so ``cache.clear()``
only clears that test's keys.

Browser tests (``tests/integration``) run on SQLite only, to keep the suite short.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from app import create_app
from config import normalise_database_url
from extensions import cache, db
from store.schema import init_db

MICRO = Path(__file__).resolve().parent / "data" / "micro"

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL") or None
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL") or None
DATABASES = ["sqlite"] + (["postgresql"] if TEST_DATABASE_URL else [])


ALL_BACKENDS = ("sqlite", "postgresql", "sqlite-redis", "postgresql-redis")


def _available(backend: str) -> bool:
    database, _, cache_kind = backend.partition("-")
    return (database == "sqlite" or bool(TEST_DATABASE_URL)) and (
        not cache_kind or bool(TEST_REDIS_URL)
    )


def _backends_for(metafunc: pytest.Metafunc) -> list[Any]:
    marker = metafunc.definition.get_closest_marker("backends")
    if marker is not None:
        # Only these; those this machine lacks show up as skipped, with the reason.
        return [
            name if _available(name) else pytest.param(
                name, marks=pytest.mark.skip(reason=f"{name}: TEST_DATABASE_URL / "
                                             "TEST_REDIS_URL not set")
            )
            for name in marker.args
        ]
    if "integration" in metafunc.definition.path.parts:
        return ["sqlite"]
    backends = list(DATABASES)
    if TEST_REDIS_URL and getattr(metafunc.module, "cache", None) is cache:
        backends.append(f"{DATABASES[-1]}-redis")
    return backends


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "backends(*names): run only on these of sqlite, postgresql, sqlite-redis, "
        "postgresql-redis",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames:
        metafunc.parametrize("backend", _backends_for(metafunc), indirect=True)


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    """``sqlite``, ``postgresql``, ``sqlite-redis`` or ``postgresql-redis``."""
    return getattr(request, "param", "sqlite")


# --------------------------------------------------------------------------- PostgreSQL


def _admin_url() -> str:
    """``TEST_DATABASE_URL`` as a plain libpq URL, for psycopg.connect."""
    assert TEST_DATABASE_URL
    return normalise_database_url(TEST_DATABASE_URL).replace("postgresql+psycopg://", "postgresql://")


def postgresql_schema_url(schema: str) -> str:
    """The SQLAlchemy URL of ``TEST_DATABASE_URL`` with ``schema`` as the only search path.

    ``application_name`` names the schema too, so a test can find (and terminate) the server
    backends of its own app without touching anyone else's.
    """
    assert TEST_DATABASE_URL
    url = normalise_database_url(TEST_DATABASE_URL)
    separator = "&" if "?" in url else "?"
    options = quote(f"-csearch_path={schema}", safe="")
    return f"{url}{separator}application_name={schema}&options={options}"


def create_schema(schema: str) -> None:
    import psycopg

    with psycopg.connect(_admin_url(), autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')


def drop_schema(schema: str) -> None:
    """Drop ``schema`` and everything in it, ending its connections that are left over."""
    import psycopg

    with psycopg.connect(_admin_url(), autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = %s AND pid <> pg_backend_pid()",
            (schema,),
        )
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def new_schema_name() -> str:
    return f"test_{os.getpid()}_{uuid.uuid4().hex[:10]}"


@pytest.fixture
def database_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """The SQLAlchemy URL of a fresh, empty database of ``backend`` (no tables yet)."""
    if backend.startswith("postgresql"):
        schema = new_schema_name()
        create_schema(schema)
        try:
            yield postgresql_schema_url(schema)
        finally:
            drop_schema(schema)
    else:
        yield f"sqlite:///{tmp_path / 'test.sqlite'}"


@pytest.fixture
def redis_url(backend: str) -> str | None:
    """``TEST_REDIS_URL`` for the ``…-redis`` backends, else None (the in-process cache)."""
    return TEST_REDIS_URL if backend.endswith("-redis") else None


@pytest.fixture
def app_config(tmp_path: Path, database_url: str, redis_url: str | None) -> dict[str, Any]:
    """The configuration of ``app``; ``create_app(app_config)`` makes another instance of it
    (another worker) on the same database and cache."""
    config: dict[str, Any] = {
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "DATABASE_URL": database_url,
        "SECRET_KEY": "tests-only-secret",
        "TESTING": True,
    }
    if redis_url:
        config["REDIS_URL"] = redis_url
        config["CACHE_KEY_PREFIX"] = f"dynamics-test:{uuid.uuid4().hex}:"
    return config


@pytest.fixture
def app(app_config: dict[str, Any]) -> Iterator[Any]:
    """A Dash app whose database is fresh (SQLite file or PostgreSQL schema) with the schema
    created."""
    dash_app = create_app(app_config)
    with dash_app.server.app_context():
        init_db(db.engine)
    yield dash_app
    with dash_app.server.app_context():
        if app_config.get("REDIS_URL"):
            # This test's prefix only; a test may have pointed the app at a dead Redis.
            with contextlib.suppress(Exception):
                cache.clear()
    # Close the pooled connections before the schema (or file) goes away.
    dash_app.server.extensions["dynamics.engine"].dispose()


@pytest.fixture
def server(app):
    return app.server


@pytest.fixture
def client(server):
    return server.test_client()


@pytest.fixture
def runner(server):
    return server.test_cli_runner()
