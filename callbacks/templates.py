"""Saved queries: save the form as a template, load one into the form, rename and delete."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dash import ALL, Dash, Input, Output, State, ctx, no_update
from dash.development.base_component import Component
from dash.exceptions import PreventUpdate

from callbacks.query import FORM_STATES, params_from_form_values
from callbacks.session import current_account
from layouts import ids
from layouts import templates as ui
from store import templates
from store.templates import TemplateError
from store.users import AccountInfo

SAVED = "Saved “{name}”."


def _viewer() -> AccountInfo:
    user = current_account()
    if user is None:  # the login requirement answers anonymous requests before this
        raise PreventUpdate
    return user


def toggle_save_dialog(_open: int | None, _cancel: int | None) -> tuple[bool, str, str, str]:
    """Open the Save Query pop-up empty, or close it."""
    opening = ctx.triggered_id == ids.SAVE_QUERY
    return opening, "", "", ""


def save_template(
    n_clicks: int | None,
    name: str | None,
    description: str | None,
    visibility: str | None,
    version: int | None,
    *form: Any,
) -> tuple[Any, str, Any, str]:
    """Store the form as a template: (pop-up open, error, new version, confirmation)."""
    if not n_clicks:
        return no_update, no_update, no_update, no_update
    try:
        saved = templates.save(
            _viewer(), name or "", params_from_form_values(*form),
            description=description or "", visibility=visibility or "private",
        )
    except TemplateError as error:
        return True, error.message, no_update, ""
    return False, "", (version or 0) + 1, SAVED.format(name=saved.name)


def render_templates(_version: int | None) -> tuple[list[Component], Component]:
    """The Load Query menu and the Manage list, from the templates the user sees now."""
    viewer = _viewer()
    visible = templates.list_for(viewer)
    return ui.load_menu(visible, viewer.id), ui.manage_list(visible, viewer.id)


def load_template(template_id: int | None) -> tuple[Any, Any]:
    """Fill the form with the chosen template: (the form's ``FORM_LOAD`` params, menu value).

    The dashboard fills its form from them as from a query string, recomputing a relative
    ``preset`` for today; the menu goes back to its placeholder so any template can be chosen
    again.
    """
    if template_id is None:
        return no_update, no_update
    template = templates.get(template_id, _viewer())
    if template is None:  # deleted meanwhile, or no longer shared
        return no_update, None
    return dict(template.params), None


def open_manage(n_clicks: int | None) -> bool:
    """Open the list of saved queries; it closes with its own close button."""
    if not n_clicks:  # the button is rendered anew (n_clicks 0) whenever the list changes
        raise PreventUpdate
    return True


def change_template(
    _renames: list[int | None],
    _deletes: list[int | None],
    names: list[str | None],
    name_ids: list[Mapping[str, Any]],
    version: int | None,
) -> tuple[str, Any]:
    """Rename or delete the template whose button was pressed: (error, new version)."""
    triggered = ctx.triggered_id
    # A re-rendered list fires with n_clicks 0 / None: only a real click acts.
    if not isinstance(triggered, Mapping) or not any(t["value"] for t in ctx.triggered):
        return no_update, no_update
    template_id = int(triggered["index"])
    try:
        if triggered["type"] == ui.DELETE_TYPE:
            templates.delete(template_id, _viewer())
        else:
            new_names = {int(i["index"]): n for i, n in zip(name_ids, names, strict=False)}
            templates.rename(template_id, _viewer(), new_names.get(template_id) or "")
    except TemplateError as error:
        return error.message, no_update
    return "", (version or 0) + 1


def register(app: Dash) -> None:
    app.callback(
        Output(ui.SAVE_QUERY_MODAL, "is_open"),
        Output(ui.SAVE_QUERY_NAME, "value"),
        Output(ui.SAVE_QUERY_DESCRIPTION, "value"),
        Output(ui.SAVE_QUERY_ERROR, "children"),
        Input(ids.SAVE_QUERY, "n_clicks"),
        Input(ui.SAVE_QUERY_CANCEL, "n_clicks"),
        prevent_initial_call=True,
    )(toggle_save_dialog)
    app.callback(
        Output(ui.SAVE_QUERY_MODAL, "is_open", allow_duplicate=True),
        Output(ui.SAVE_QUERY_ERROR, "children", allow_duplicate=True),
        Output(ui.TEMPLATES_VERSION, "data"),
        Output(ui.SAVE_QUERY_DONE, "children"),
        Input(ui.SAVE_QUERY_SUBMIT, "n_clicks"),
        State(ui.SAVE_QUERY_NAME, "value"),
        State(ui.SAVE_QUERY_DESCRIPTION, "value"),
        State(ui.SAVE_QUERY_VISIBILITY, "value"),
        State(ui.TEMPLATES_VERSION, "data"),
        *FORM_STATES,
        prevent_initial_call=True,
    )(save_template)
    app.callback(
        Output(ui.LOAD_QUERY_SLOT, "children"),
        Output(ui.MANAGE_QUERIES_LIST, "children"),
        Input(ui.TEMPLATES_VERSION, "data"),
    )(render_templates)
    app.callback(
        Output(ids.FORM_LOAD, "data", allow_duplicate=True),
        Output(ids.LOAD_QUERY, "value"),
        Input(ids.LOAD_QUERY, "value"),
        prevent_initial_call=True,
    )(load_template)
    app.callback(
        Output(ui.MANAGE_QUERIES_MODAL, "is_open"),
        Input(ui.MANAGE_QUERIES, "n_clicks"),
        prevent_initial_call=True,
    )(open_manage)
    app.callback(
        Output(ui.MANAGE_QUERIES_ERROR, "children"),
        Output(ui.TEMPLATES_VERSION, "data", allow_duplicate=True),
        Input({"type": ui.RENAME_TYPE, "index": ALL}, "n_clicks"),
        Input({"type": ui.DELETE_TYPE, "index": ALL}, "n_clicks"),
        State({"type": ui.RENAME_NAME_TYPE, "index": ALL}, "value"),
        State({"type": ui.RENAME_NAME_TYPE, "index": ALL}, "id"),
        State(ui.TEMPLATES_VERSION, "data"),
        prevent_initial_call=True,
    )(change_template)
