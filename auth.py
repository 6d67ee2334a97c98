"""Login, logout and the login requirement of every route (flask-login)."""

from __future__ import annotations

from flask import Flask


def init_app(server: Flask) -> None:
    """Install the login routes and the login requirement on ``server``."""
