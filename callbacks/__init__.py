"""Dash callbacks: one module per feature, each with a ``register(app)``.

``register_all`` wires the dashboard's modules, then every other module of this package that
defines ``register`` (so a new feature needs only its own ``callbacks/<feature>.py``).
"""

from __future__ import annotations

import importlib
import pkgutil

from dash import Dash

CORE = ("pages", "query_form", "query")


def register_all(app: Dash) -> None:
    """Wire every feature's callbacks into ``app``."""
    names = list(CORE) + sorted(
        info.name for info in pkgutil.iter_modules(__path__) if info.name not in CORE
    )
    for name in names:
        module = importlib.import_module(f"{__name__}.{name}")
        register = getattr(module, "register", None)
        if callable(register):
            register(app)
