"""The dashboard's actions on the report on screen: Export to CSV / XLSX and the share link.

``layout()`` goes into ``layouts.dashboard.report_actions()``. The buttons start disabled and
the share link hidden; ``callbacks/actions.py`` enables / fills them once a report is on
screen and turns a click into a file of the rows in the order the grid shows them.
"""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html
from dash.development.base_component import Component

from layouts import ids

HIDDEN: dict[str, str] = {"display": "none"}
EXPORTS = ((ids.EXPORT_CSV, "Export to CSV"), (ids.EXPORT_XLSX, "Export to XLSX"))


def export_button(component_id: str, label: str) -> Component:
    return dbc.Button(
        label, id=component_id, color="secondary", outline=True, size="sm", n_clicks=0,
        disabled=True, title="Download the rows on screen, in the order shown",
    )


def share_link() -> Component:
    """The snapshot link of the report on screen, read-only, with a copy button."""
    return html.Div(
        dbc.InputGroup(
            [
                dbc.InputGroupText(html.Span(
                    "Share link",
                    title="Anyone logged in can open this link: the rows as generated",
                )),
                dbc.Input(id=ids.SHARE_LINK, type="text", value="", readonly=True,
                          class_name="dyn-share-link", style={"minWidth": "22rem"}),
                dbc.InputGroupText(
                    dcc.Clipboard(id=ids.SHARE_LINK_COPY, target_id=ids.SHARE_LINK,
                                  title="Copy the link"),
                ),
            ],
            size="sm",
        ),
        id=ids.SHARE_LINK_GROUP,
        style=HIDDEN,
    )


def layout() -> list[Component]:
    """The share link, the export buttons, the export's message slot and its download."""
    return [
        share_link(),
        *(export_button(component_id, label) for component_id, label in EXPORTS),
        html.Span(id=ids.EXPORT_ERROR, className="text-danger small align-self-center",
                  role="alert"),
        dcc.Download(id=ids.EXPORT_DOWNLOAD),
    ]
