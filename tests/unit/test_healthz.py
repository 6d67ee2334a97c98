"""``GET /healthz`` (SPEC §5): no login, 200 when the database answers, 503 otherwise:
``pytest -k hlz``."""

from __future__ import annotations

import socket

import pytest

from app import create_app


def test_hlz001_ok_without_a_login(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # nothing listens once the socket is closed


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:////nonexistent-directory/for-sure/dynamics.sqlite",
        f"postgresql://nobody@127.0.0.1:{_closed_port()}/dynamics?connect_timeout=2",
    ],
    ids=["sqlite-missing-directory", "postgresql-nothing-listening"],
)
def test_hlz002_unavailable_database_is_503(tmp_path, url):
    dash_app = create_app({"INSTANCE_PATH": str(tmp_path / "i"), "SECRET_KEY": "x",
                           "DATABASE_URL": url})
    response = dash_app.server.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["status"] != "ok"
    dash_app.server.extensions["dynamics.engine"].dispose()
