"""Configuration from the environment (SPEC §5): ``pytest -k cfg``."""

from __future__ import annotations

import stat

import pytest

from app import create_app
from config import ConfigError, load_config, normalise_database_url


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u:p@db.example:5432/dyn", "postgresql+psycopg://u:p@db.example:5432/dyn"),
        ("postgresql://u@h/dyn?sslmode=require", "postgresql+psycopg://u@h/dyn?sslmode=require"),
        ("postgresql+psycopg://u@h/dyn", "postgresql+psycopg://u@h/dyn"),
        ("sqlite:////var/lib/dyn.sqlite", "sqlite:////var/lib/dyn.sqlite"),
    ],
)
def test_cfg001_database_url_is_normalised_to_psycopg(given, expected):
    assert normalise_database_url(given) == expected
    assert load_config({"DATABASE_URL": given, "SECRET_KEY": "k"})["DATABASE_URL"] == expected


def test_cfg002_embedded_defaults(tmp_path):
    config = load_config({"INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "k"})
    assert config["DATABASE_URL"] == f"sqlite:///{tmp_path.resolve() / 'dynamics.sqlite'}"
    assert (config["PORT"], config["BASE_CURRENCY"], config["REDIS_URL"]) == (8050, "USD", None)
    assert config["BASE_URL"] == "http://127.0.0.1:8050"
    custom = load_config({"INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "k", "PORT": "9000",
                          "BASE_CURRENCY": "eur", "BASE_URL": "https://dyn.example/"})
    assert (custom["PORT"], custom["BASE_CURRENCY"]) == (9000, "EUR")
    assert custom["BASE_URL"] == "https://dyn.example"
    assert custom["SESSION_COOKIE_SECURE"] is True


def test_cfg003_secret_key_is_generated_once_and_kept(tmp_path):
    first = load_config({"INSTANCE_PATH": str(tmp_path / "a")})["SECRET_KEY"]
    again = load_config({"INSTANCE_PATH": str(tmp_path / "a")})["SECRET_KEY"]
    other = load_config({"INSTANCE_PATH": str(tmp_path / "b")})["SECRET_KEY"]
    assert first == again and first != other and len(first) >= 32
    key_file = tmp_path / "a" / "secret_key"
    assert key_file.read_text().strip() == first
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_cfg004_secret_key_from_the_environment_wins_and_writes_nothing(tmp_path):
    config = load_config({"INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "from-env"})
    assert config["SECRET_KEY"] == "from-env"
    assert not (tmp_path / "secret_key").exists()


def test_cfg005_production_requires_a_secret_key(tmp_path):
    with pytest.raises(ConfigError, match="SECRET_KEY must be set when DYNAMICS_ENV=production"):
        load_config({"INSTANCE_PATH": str(tmp_path), "DYNAMICS_ENV": "production"})
    assert not (tmp_path / "secret_key").exists()
    config = load_config({"INSTANCE_PATH": str(tmp_path), "DYNAMICS_ENV": "production",
                          "SECRET_KEY": "set"})
    assert config["SECRET_KEY"] == "set"


def test_cfg006_the_app_reads_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://u:p@h:5432/dyn")
    monkeypatch.setenv("SECRET_KEY", "env-key")
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path))
    server = create_app().server
    assert server.config["DATABASE_URL"] == "postgresql+psycopg://u:p@h:5432/dyn"
    assert server.config["SECRET_KEY"] == "env-key"
    assert server.extensions["dynamics.engine"].dialect.driver == "psycopg"


def test_cfg090_trusted_proxies_give_the_client_address(tmp_path):
    """Behind TRUSTED_PROXIES=1 the app sees the X-Forwarded-For address (for the limiters)."""
    from flask import request

    from app import create_app

    seen = []
    for trusted in (0, 1):
        dash_app = create_app({
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'p.sqlite'}",
            "SECRET_KEY": "tests-only-secret",
            "TRUSTED_PROXIES": trusted,
        })
        dash_app.server.before_request(lambda: seen.append(request.remote_addr))
        dash_app.server.test_client().get(
            "/healthz", headers={"X-Forwarded-For": "203.0.113.7"},
            environ_base={"REMOTE_ADDR": "127.0.0.2"},
        )
    assert seen == ["127.0.0.2", "203.0.113.7"]
