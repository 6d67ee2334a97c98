"""The query form's behaviour: adding and removing filters, their choices, interval presets,
filling the form from parameters (``FORM_LOAD``), and the browser-side niceties (default time
zone, one time grain at most, "Send to" only with a file, the address bar) of
``assets/dynamics.js``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from dash import (
    ALL,
    ClientsideFunction,
    Dash,
    Input,
    Output,
    State,
    ctx,
    no_update,
)
from dash.exceptions import PreventUpdate
from flask import current_app

from callbacks.session import current_account
from extensions import db
from layouts import ids
from layouts.dashboard import SEND_TO_HELP, SEND_TO_WEB_REASON, row_style
from layouts.form_state import (
    DISPLAY_FORMAT,
    FILTER_KINDS,
    PRESET_LABELS,
    form_state,
    now_in,
    preset_data,
    preset_interval,
)
from store.options import filter_options
from store.users import AccountInfo


def _options(user: AccountInfo, kind: str) -> list[dict[str, Any]]:
    return [{"label": o.label, "value": o.value} for o in filter_options(db.engine, user, kind)]


def _kinds_of(slots: Sequence[Mapping[str, Any]]) -> list[str]:
    return [slot["id"]["kind"] for slot in slots]


def change_filters(
    _add_clicks: list[int | None], _delete_clicks: list[int | None], active: list[str] | None
) -> tuple:
    """Add the filter whose menu item was clicked, or remove the one whose delete icon was.

    Outputs: the added kinds, each row's style, each filter's value, each filter's choices (of
    the user's scope, loaded when the filter is added) and whether the menu stays open.
    """
    trigger = ctx.triggered_id
    if not isinstance(trigger, Mapping) or trigger.get("kind") not in FILTER_KINDS:
        raise PreventUpdate
    if not (ctx.triggered and ctx.triggered[0].get("value")):
        raise PreventUpdate  # a (re)rendered button, not a click
    user = current_account()
    if user is None:
        raise PreventUpdate
    kind = str(trigger["kind"])
    active = [k for k in (active or []) if k in FILTER_KINDS]
    adding = trigger.get("type") == ids.ADD_FILTER_ITEM_TYPE
    if adding and kind not in active:
        active.append(kind)
    elif not adding and kind in active:
        active.remove(kind)
    kinds = _kinds_of(ctx.outputs_list[1])
    styles = [row_style(k in active, active.index(k) if k in active else 0) for k in kinds]
    values = [[] if (k == kind and not adding) else no_update for k in kinds]
    options = [_options(user, k) if (k == kind and adding) else no_update for k in kinds]
    return active, styles, values, options, False if adding else no_update


def pick_preset(_clicks: list[int | None], tz: str | None) -> tuple[str, str, dict[str, str]]:
    """Fill the interval from the clicked preset, in the chosen time zone."""
    trigger = ctx.triggered_id
    if not isinstance(trigger, Mapping) or trigger.get("name") not in PRESET_LABELS:
        raise PreventUpdate
    if not (ctx.triggered and ctx.triggered[0].get("value")):
        raise PreventUpdate
    name = str(trigger["name"])
    start, end = preset_interval(name, now_in(tz, datetime.now(UTC)))
    start_text, end_text = start.strftime(DISPLAY_FORMAT), end.strftime(DISPLAY_FORMAT)
    return start_text, end_text, preset_data(name, start_text, end_text)


def load_form(params: Mapping[str, Any] | None) -> tuple:
    """Fill the whole form from SPEC §5 ``params`` (e.g. a saved query); nothing is run."""
    if not params:
        raise PreventUpdate
    user = current_account()
    if user is None:
        raise PreventUpdate
    form = form_state(params, current_app.config["BASE_CURRENCY"], datetime.now(UTC))
    active = list(form.filters)
    choices = {kind: _options(user, kind) for kind in active}
    form = form.within({kind: [o["value"] for o in opts] for kind, opts in choices.items()})
    kinds = _kinds_of(ctx.outputs_list[-1])
    return (
        form.start,
        form.end,
        form.tz if form.tz else no_update,
        form.preset_data,
        list(form.group),
        form.currency,
        form.active,
        form.output,
        active,
        [row_style(k in active, active.index(k) if k in active else 0) for k in kinds],
        [list(form.filters.get(k, ())) for k in kinds],
        [choices[k] if k in active else no_update for k in kinds],
    )


def send_to_state(output: str | None) -> tuple[bool, str]:
    """"Send to" is for files only; with Web it is disabled and says why."""
    web = (output or "web") == "web"
    return web, SEND_TO_WEB_REASON if web else SEND_TO_HELP


def _clientside(app: Dash, function_name: str, *dependencies: Any, **kwargs: Any) -> None:
    app.clientside_callback(
        ClientsideFunction(namespace="dynamics", function_name=function_name),
        *dependencies,
        **kwargs,
    )


def register(app: Dash) -> None:
    filter_rows = Output({"type": ids.FILTER_ROW_TYPE, "kind": ALL}, "style")
    filter_values = Output({"type": ids.FILTER_VALUE_TYPE, "kind": ALL}, "value")
    filter_choices = Output({"type": ids.FILTER_VALUE_TYPE, "kind": ALL}, "options")
    app.callback(
        Output(ids.ACTIVE_FILTERS, "data"),
        filter_rows,
        filter_values,
        filter_choices,
        Output(ids.ADD_FILTER_MENU, "is_open"),
        Input({"type": ids.ADD_FILTER_ITEM_TYPE, "kind": ALL}, "n_clicks"),
        Input({"type": ids.FILTER_DELETE_TYPE, "kind": ALL}, "n_clicks"),
        State(ids.ACTIVE_FILTERS, "data"),
        prevent_initial_call=True,
    )(change_filters)

    app.callback(
        Output(ids.INTERVAL_START, "value"),
        Output(ids.INTERVAL_END, "value"),
        Output(ids.INTERVAL_PRESET, "data"),
        Input({"type": ids.PRESET_TYPE, "name": ALL}, "n_clicks"),
        State(ids.INTERVAL_TZ, "value"),
        prevent_initial_call=True,
    )(pick_preset)

    app.callback(
        Output(ids.INTERVAL_START, "value", allow_duplicate=True),
        Output(ids.INTERVAL_END, "value", allow_duplicate=True),
        Output(ids.INTERVAL_TZ, "value", allow_duplicate=True),
        Output(ids.INTERVAL_PRESET, "data", allow_duplicate=True),
        Output(ids.GROUP_BY, "value", allow_duplicate=True),
        Output(ids.CURRENCY, "value"),
        Output(ids.ACTIVE_DURATION, "value"),
        Output(ids.OUTPUT_TYPE, "value"),
        Output(ids.ACTIVE_FILTERS, "data", allow_duplicate=True),
        Output({"type": ids.FILTER_ROW_TYPE, "kind": ALL}, "style", allow_duplicate=True),
        Output({"type": ids.FILTER_VALUE_TYPE, "kind": ALL}, "value", allow_duplicate=True),
        Output({"type": ids.FILTER_VALUE_TYPE, "kind": ALL}, "options", allow_duplicate=True),
        Input(ids.FORM_LOAD, "data"),
        prevent_initial_call=True,
    )(load_form)

    # Browser-side behaviour (assets/dynamics.js).
    _clientside(
        app, "browserTimeZone",
        Output(ids.INTERVAL_TZ, "value"),
        Input(ids.BROWSER_TZ, "data"),
        State(ids.INTERVAL_TZ, "options"),
    )
    _clientside(
        app, "oneTimeGrain",
        Output(ids.GROUP_BY, "value"),
        Output(ids.GROUP_BY_PREVIOUS, "data"),
        Input(ids.GROUP_BY, "value"),
        State(ids.GROUP_BY_PREVIOUS, "data"),
        prevent_initial_call=True,
    )
    app.callback(
        Output(ids.SEND_TO, "disabled"),
        Output(ids.SEND_TO_HELP, "children"),
        Input(ids.OUTPUT_TYPE, "value"),
        prevent_initial_call=True,
    )(send_to_state)
    _clientside(
        app, "presetGuard",
        Output(ids.INTERVAL_PRESET, "data", allow_duplicate=True),
        Input(ids.INTERVAL_START, "value"),
        Input(ids.INTERVAL_END, "value"),
        State(ids.INTERVAL_PRESET, "data"),
        prevent_initial_call=True,
    )
    _clientside(
        app, "presetLabel",
        Output(ids.INTERVAL_PRESETS, "label"),
        Input(ids.INTERVAL_PRESET, "data"),
    )
    _clientside(
        app, "narrowFilterMenu",
        Output({"type": ids.ADD_FILTER_ITEM_TYPE, "kind": ALL}, "style"),
        Output(ids.ADD_FILTER_EMPTY, "style"),
        Output(ids.ADD_FILTER_EMPTY, "children"),
        Input(ids.ADD_FILTER_SEARCH, "value"),
        Input(ids.ACTIVE_FILTERS, "data"),
        State({"type": ids.ADD_FILTER_ITEM_TYPE, "kind": ALL}, "children"),
    )
    _clientside(
        app, "clearFilterSearch",
        Output(ids.ADD_FILTER_SEARCH, "value"),
        Input(ids.ADD_FILTER_MENU, "is_open"),
        prevent_initial_call=True,
    )
    _clientside(
        app, "syncUrl",
        Output(ids.URL_SYNC, "data"),
        Input(ids.INTERVAL_START, "value"),
        Input(ids.INTERVAL_END, "value"),
        Input(ids.INTERVAL_TZ, "value"),
        Input(ids.INTERVAL_PRESET, "data"),
        Input(ids.GROUP_BY, "value"),
        Input(ids.CURRENCY, "value"),
        Input(ids.ACTIVE_DURATION, "value"),
        Input(ids.OUTPUT_TYPE, "value"),
        Input(ids.ACTIVE_FILTERS, "data"),
        *(Input(ids.filter_value(kind), "value") for kind in FILTER_KINDS),
    )
