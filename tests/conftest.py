"""Fixtures shared by the whole suite: an app on a real SQLite file, its client and CLI runner."""

from __future__ import annotations

from pathlib import Path

import pytest

from app import create_app
from extensions import db
from store.schema import init_db

MICRO = Path(__file__).resolve().parent / "data" / "micro"


@pytest.fixture
def app(tmp_path: Path):
    """A Dash app whose database is a fresh SQLite file with the schema created."""
    dash_app = create_app(
        {
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'test.sqlite'}",
            "SECRET_KEY": "tests-only-secret",
            "TESTING": True,
        }
    )
    with dash_app.server.app_context():
        init_db(db.engine)
    return dash_app


@pytest.fixture
def server(app):
    return app.server


@pytest.fixture
def client(server):
    return server.test_client()


@pytest.fixture
def runner(server):
    return server.test_cli_runner()
