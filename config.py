"""Configuration from the environment (SPEC §5), with defaults for the embedded setup."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

DEFAULT_PORT = 8050
DEFAULT_MAX_CONTENT_LENGTH = 32 * 1024 * 1024


class ConfigError(RuntimeError):
    """The configuration cannot be used; the message says why."""


def normalise_database_url(url: str) -> str:
    """Map Heroku's ``postgres://`` and plain ``postgresql://`` onto the psycopg 3 driver."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def _secret_key(instance_path: Path, environment: str, given: str | None) -> str:
    if given:
        return given
    if environment == "production":
        raise ConfigError("SECRET_KEY must be set when DYNAMICS_ENV=production")
    # Development: one random key per instance folder, kept so sessions survive restarts.
    key_file = instance_path / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    key_file.write_text(key)
    key_file.chmod(0o600)
    return key


def load_config(
    environ: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Read the settings of SPEC §5 from ``environ`` (default ``os.environ``); ``overrides`` win."""
    env = dict(os.environ if environ is None else environ)
    env.update({k: v for k, v in (overrides or {}).items() if isinstance(v, str)})
    given = dict(overrides or {})
    instance_path = Path(
        given.get("INSTANCE_PATH") or env.get("INSTANCE_PATH") or Path.cwd() / "instance"
    ).resolve()
    environment = str(given.get("DYNAMICS_ENV") or env.get("DYNAMICS_ENV") or "development")
    port = int(given.get("PORT") or env.get("PORT") or DEFAULT_PORT)
    database_url = str(
        given.get("DATABASE_URL")
        or env.get("DATABASE_URL")
        or f"sqlite:///{instance_path / 'dynamics.sqlite'}"
    )
    config: dict[str, Any] = {
        "INSTANCE_PATH": str(instance_path),
        "DYNAMICS_ENV": environment,
        "PORT": port,
        "DATABASE_URL": normalise_database_url(database_url),
        "REDIS_URL": given.get("REDIS_URL") or env.get("REDIS_URL") or None,
        # How many reverse proxies / load balancers stand in front of the app: their
        # X-Forwarded-* headers are then trusted for the client's address and scheme.
        "TRUSTED_PROXIES": int(given.get("TRUSTED_PROXIES") or env.get("TRUSTED_PROXIES") or 0),
        "BASE_URL": str(
            given.get("BASE_URL") or env.get("BASE_URL") or f"http://127.0.0.1:{port}"
        ).rstrip("/"),
        "BASE_CURRENCY": str(
            given.get("BASE_CURRENCY") or env.get("BASE_CURRENCY") or "USD"
        ).upper(),
        "SMTP_URL": given.get("SMTP_URL") or env.get("SMTP_URL") or None,
        "MAIL_FROM": str(given.get("MAIL_FROM") or env.get("MAIL_FROM") or "dynamics@localhost"),
        "SECRET_KEY": _secret_key(
            instance_path, environment, given.get("SECRET_KEY") or env.get("SECRET_KEY")
        ),
    }
    for key, value in given.items():
        config.setdefault(key, value)
    # Bodies above this answer 413: the largest legitimate one is a big report sent back by
    # the page (charts, exports of the screen), far below it.
    config.setdefault(
        "MAX_CONTENT_LENGTH", int(env.get("MAX_CONTENT_LENGTH") or DEFAULT_MAX_CONTENT_LENGTH)
    )
    config["SESSION_COOKIE_HTTPONLY"] = True
    config["SESSION_COOKIE_SAMESITE"] = "Lax"
    config["REMEMBER_COOKIE_HTTPONLY"] = True
    config["REMEMBER_COOKIE_SAMESITE"] = "Lax"
    secure = config["BASE_URL"].startswith("https://")
    config["SESSION_COOKIE_SECURE"] = secure
    config["REMEMBER_COOKIE_SECURE"] = secure
    return config
