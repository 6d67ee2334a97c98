"""Page routing: the page of the URL, rendered for the logged-in user."""

from __future__ import annotations

import importlib
import logging
from datetime import UTC, datetime

from dash import Dash, Input, Output, State, html
from dash.development.base_component import Component
from flask import current_app

from callbacks.session import current_account
from extensions import db
from layouts import dashboard, ids, root
from layouts.form_state import form_state, parse_search, time_zones
from store.options import currency_options, filter_options
from store.users import AccountInfo

log = logging.getLogger(__name__)


def dashboard_page(search: str | None, user: AccountInfo) -> Component:
    """The dashboard with its form filled from the query string ``search`` (not run)."""
    base = current_app.config["BASE_CURRENCY"]
    form = form_state(parse_search(search), base, datetime.now(UTC))
    # The filters the URL names get their choices now (a multi-select drops values it has no
    # option for, so they must arrive together), and lose the values that are not choices.
    options = {kind: filter_options(db.engine, user, kind) for kind in form.filters}
    form = form.within({kind: [o.value for o in choices] for kind, choices in options.items()})
    return dashboard.layout(
        form,
        zones=time_zones(),
        currencies=currency_options(db.engine, base),
        filter_options=options,
    )


def _view_page(search: str | None) -> Component | None:
    try:
        module = importlib.import_module("layouts.view")
    except ImportError:
        return None
    build = getattr(module, "layout", None)
    return build(search or "") if callable(build) else None


def render_page(pathname: str | None, search: str | None) -> list[Component] | Component:
    """The navigation bar and the page of ``pathname``."""
    user = current_account()
    if user is None:  # the login requirement answers anonymous requests before this
        return html.Div()
    path = (pathname or "/").rstrip("/") or "/"
    content: Component | None
    if path == "/":
        content = dashboard_page(search, user)
    elif path == "/view":
        content = _view_page(search)
    else:
        content = None
    return root.page(user, content if content is not None else root.not_found(path))


def register(app: Dash) -> None:
    app.callback(
        Output(ids.PAGE, "children"),
        Input(ids.URL, "pathname"),
        State(ids.URL, "search"),
    )(render_page)
