"""Dash callbacks: one module per feature, each with a ``register(app)``."""

from __future__ import annotations

from dash import Dash


def register_all(app: Dash) -> None:
    """Wire every feature's callbacks into ``app``."""
