"""Save Query / Load Query: the saved-query controls mounted beside the dashboard's form."""

from __future__ import annotations

from collections.abc import Sequence

import dash_bootstrap_components as dbc
from dash import dcc, html
from dash.development.base_component import Component

from layouts import ids
from store.templates import MAX_DESCRIPTION_LENGTH, MAX_NAME_LENGTH, Template

# This feature's own ids (SAVE_QUERY and LOAD_QUERY are SPEC §5 ones, in layouts.ids).
TEMPLATES = "saved-queries"
TEMPLATES_VERSION = "saved-queries-version"  # Store: bumped whenever a template changes
LOAD_QUERY_SLOT = "load-query-slot"  # holds the Load Query menu once the user has a template
SAVE_QUERY_MODAL = "save-query-modal"
SAVE_QUERY_NAME = "save-query-name"
SAVE_QUERY_DESCRIPTION = "save-query-description"
SAVE_QUERY_VISIBILITY = "save-query-visibility"
SAVE_QUERY_SUBMIT = "save-query-submit"
SAVE_QUERY_CANCEL = "save-query-cancel"
SAVE_QUERY_ERROR = "save-query-error"
SAVE_QUERY_DONE = "save-query-done"
MANAGE_QUERIES = "manage-queries"
MANAGE_QUERIES_MODAL = "manage-queries-modal"
MANAGE_QUERIES_LIST = "manage-queries-list"
MANAGE_QUERIES_ERROR = "manage-queries-error"
RENAME_NAME_TYPE = "saved-query-name"
RENAME_TYPE = "saved-query-rename"
DELETE_TYPE = "saved-query-delete"

VISIBILITY_OPTIONS = [
    {"label": "Only me", "value": "private"},
    {"label": "My company", "value": "company"},
]


def rename_name(template_id: int) -> dict[str, object]:
    return {"type": RENAME_NAME_TYPE, "index": template_id}


def rename_button(template_id: int) -> dict[str, object]:
    return {"type": RENAME_TYPE, "index": template_id}


def delete_button(template_id: int) -> dict[str, object]:
    return {"type": DELETE_TYPE, "index": template_id}


def template_label(template: Template, viewer_id: int) -> str:
    if template.user_id == viewer_id:
        return template.name + (" (shared)" if template.visibility == "company" else "")
    return f"{template.name} — by {template.owner_login or 'a colleague'}"


def load_menu(templates: Sequence[Template], viewer_id: int) -> list[Component]:
    """The Load Query menu and the Manage button; nothing while the user has no template."""
    if not templates:
        return []
    options = [
        {"label": template_label(t, viewer_id), "value": t.id, "title": t.description or t.name}
        for t in templates
    ]
    return [
        dcc.Dropdown(
            id=ids.LOAD_QUERY,
            options=options,
            value=None,
            placeholder="Load Query…",
            clearable=False,
            searchable=True,
            style={"minWidth": "16rem"},
        ),
        dbc.Button("Manage", id=MANAGE_QUERIES, color="link", size="sm", n_clicks=0,
                   title="Rename or delete your saved queries"),
    ]


def manage_list(templates: Sequence[Template], viewer_id: int) -> Component:
    """The saved queries the user sees; their own ones can be renamed and deleted."""
    if not templates:
        return html.P("No saved queries.", className="text-muted mb-0")
    items = []
    for template in templates:
        if template.user_id == viewer_id:
            body: Component = dbc.InputGroup(
                [
                    dbc.Input(id=rename_name(template.id), value=template.name,
                              maxLength=MAX_NAME_LENGTH, size="sm"),
                    dbc.Button("Rename", id=rename_button(template.id), n_clicks=0, size="sm",
                               color="secondary", outline=True),
                    dbc.Button("Delete", id=delete_button(template.id), n_clicks=0, size="sm",
                               color="danger", outline=True),
                ],
                size="sm",
            )
            note = "shared with my company" if template.visibility == "company" else "only me"
        else:
            body = html.Span(template.name, className="fw-semibold")
            note = f"shared by {template.owner_login or 'a colleague'}"
        items.append(
            dbc.ListGroupItem(
                [
                    body,
                    html.Div(
                        [note, *([" · ", template.description] if template.description else [])],
                        className="small text-muted mt-1",
                    ),
                ]
            )
        )
    return dbc.ListGroup(items, flush=True)


def _save_modal() -> Component:
    return dbc.Modal(
        [
            dbc.ModalHeader(dbc.ModalTitle("Save Query")),
            dbc.ModalBody(
                [
                    dbc.Label("Name", html_for=SAVE_QUERY_NAME),
                    dbc.Input(id=SAVE_QUERY_NAME, value="", maxLength=MAX_NAME_LENGTH,
                              placeholder="e.g. Monthly balances in EUR", required=True),
                    dbc.Label("Description", html_for=SAVE_QUERY_DESCRIPTION, className="mt-2"),
                    dbc.Textarea(id=SAVE_QUERY_DESCRIPTION, value="",
                                 maxLength=MAX_DESCRIPTION_LENGTH, rows=2),
                    dbc.Label("Visible to", className="mt-2"),
                    dbc.RadioItems(id=SAVE_QUERY_VISIBILITY, options=VISIBILITY_OPTIONS,
                                   value="private", inline=True),
                    html.Div(id=SAVE_QUERY_ERROR, className="text-danger small mt-2",
                             role="alert"),
                ]
            ),
            dbc.ModalFooter(
                [
                    dbc.Button("Cancel", id=SAVE_QUERY_CANCEL, color="secondary", outline=True,
                               n_clicks=0),
                    dbc.Button("Save", id=SAVE_QUERY_SUBMIT, color="primary", n_clicks=0),
                ]
            ),
        ],
        id=SAVE_QUERY_MODAL,
        is_open=False,
    )


def _manage_modal() -> Component:
    return dbc.Modal(
        [
            dbc.ModalHeader(dbc.ModalTitle("Saved queries")),
            dbc.ModalBody(
                [
                    html.Div(id=MANAGE_QUERIES_ERROR, className="text-danger small mb-2",
                             role="alert"),
                    html.Div(id=MANAGE_QUERIES_LIST),
                ]
            ),
        ],
        id=MANAGE_QUERIES_MODAL,
        is_open=False,
        scrollable=True,
    )


def layout() -> Component:
    """Save Query, and Load Query once the user has a template (filled by the callbacks)."""
    return html.Div(
        [
            dcc.Store(id=TEMPLATES_VERSION, data=0),
            dbc.Button("Save Query", id=ids.SAVE_QUERY, color="secondary", outline=True,
                       n_clicks=0, className="me-2"),
            html.Div(id=LOAD_QUERY_SLOT, className="d-flex align-items-center gap-1"),
            html.Span(id=SAVE_QUERY_DONE, className="small text-success ms-2", role="status"),
            _save_modal(),
            _manage_modal(),
        ],
        id=TEMPLATES,
        className="d-flex align-items-center flex-wrap",
    )
