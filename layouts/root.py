"""The page shell: a location component and the page chosen by the URL."""

from __future__ import annotations

from dash import html
from dash.development.base_component import Component


def layout() -> Component:
    return html.Div([html.H1("Customer Dynamics"), html.P("The dashboard is being built.")])
