"""The page shell: a location component and the page chosen by the URL.

``callbacks/pages.py`` renders ``PAGE`` from the URL: ``/`` is the dashboard, ``/view`` the
snapshot page of ``layouts.view.layout(search)`` when that module defines one; anything else
is "page not found". The navigation bar names the logged-in user and has the logout button.
"""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html
from dash.development.base_component import Component

from layouts import ids
from store.users import AccountInfo

APP_NAME = "Customer Dynamics"


def layout() -> Component:
    return html.Div(
        [
            dcc.Location(id=ids.URL, refresh=False),
            html.Div(id=ids.PAGE),
        ]
    )


def navbar(user: AccountInfo | None) -> Component:
    right: list[Component] = []
    if user is not None:
        right = [
            html.Span(
                [html.Span(user.role, className="badge text-bg-light me-1"), user.login],
                className="navbar-text text-light me-3",
                id="navbar-user",
            ),
            html.Form(
                html.Button("Log out", id=ids.LOGOUT_BUTTON, type="submit",
                            className="btn btn-outline-light btn-sm"),
                method="POST",
                action="/logout",
                className="d-inline",
            ),
        ]
    return html.Nav(
        html.Div(
            [
                html.A(APP_NAME, href="/", className="navbar-brand"),
                html.Div(right, className="d-flex align-items-center ms-auto"),
            ],
            className="container-fluid",
        ),
        id=ids.NAVBAR,
        className="navbar navbar-dark bg-dark",
    )


def not_found(pathname: str) -> Component:
    return html.Div(
        [
            html.H1("Page not found", className="h4"),
            html.P(["There is no page at ", html.Code(pathname), "."]),
            dbc.Button("Go to the dashboard", href="/", color="primary", external_link=True),
        ],
        className="container py-4",
        id="page-not-found",
    )


def page(user: AccountInfo | None, content: Component) -> list[Component]:
    return [navbar(user), html.Main(content)]
