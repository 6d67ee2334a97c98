"""Charts of the report on screen: adding, editing, drawing, downloading and removing cards.

Cards are added and removed with ``Patch``: only the new card travels, and the open ones keep
what the user made of them (Dash draws the area's children anew, from their current props).
Each card keeps its ``ChartSpec`` in a store; the builder's controls write it in the browser,
and the server draws it with ``layouts.charts.figure_for`` from ``REPORT_STORE`` — the data on
screen, never a new query. The open cards' specs are kept in the URL (``chart``) next
to the form's SPEC §5 parameters, and restored from the URL and from a loaded saved query.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from dash import ALL, MATCH, Dash, Input, Output, Patch, State, ctx, dcc, no_update
from dash.exceptions import PreventUpdate

from exports.files import csv_from_frame
from layouts import charts as ui
from layouts import ids
from layouts.charts import ChartSpec


def _clicked() -> bool:
    """Whether the callback runs for a click, not for a (re)rendered button."""
    return bool(ctx.triggered and ctx.triggered[0].get("value"))


def add_chart(
    _clicks: list[int | None],
    report: Mapping[str, Any] | None,
    counter: int | None,
    open_cards: list[Mapping[str, Any]] | None,
) -> tuple[Patch, int]:
    """Add the card of the chosen menu entry after the open ones (up to ``MAX_CARDS``)."""
    trigger = ctx.triggered_id
    if not isinstance(trigger, Mapping) or trigger.get("preset") not in ui.PRESET_LABELS:
        raise PreventUpdate
    if not _clicked() or len(open_cards or []) >= ui.MAX_CARDS:
        raise PreventUpdate
    index = int(counter or 0)
    cards = Patch()
    cards.append(ui.chart_card(index, ChartSpec.for_preset(str(trigger["preset"])), report))
    return cards, index + 1


def remove_chart(_clicks: list[int | None], card_ids: list[Mapping[str, Any]]) -> Patch:
    """Remove the card whose close button was pressed."""
    trigger = ctx.triggered_id
    if not isinstance(trigger, Mapping) or not _clicked():
        raise PreventUpdate
    positions = [i for i, card in enumerate(card_ids) if card.get("index") == trigger["index"]]
    if not positions:
        raise PreventUpdate
    cards = Patch()
    del cards[positions[0]]
    return cards


def _restored(specs: Sequence[ChartSpec], report: Mapping[str, Any] | None,
              counter: int | None) -> tuple[list[Any], int]:
    first = int(counter or 0)
    return ui.chart_cards(specs, report, first), first + len(specs)


def restore_from_url(
    _first_render: Any, search: str | None, report: Mapping[str, Any] | None,
    counter: int | None,
) -> tuple[Any, Any]:
    """The cards of the page's ``chart`` parameter (a bookmark, a shared link)."""
    specs = ui.specs_from_search(search)
    if not specs:
        raise PreventUpdate
    return _restored(specs, report, counter)


def restore_from_params(
    params: Mapping[str, Any] | None, report: Mapping[str, Any] | None, counter: int | None
) -> tuple[Any, Any]:
    """The cards of a loaded saved query, when it was saved with charts."""
    if not isinstance(params, Mapping) or ui.CHART_PARAM not in params:
        raise PreventUpdate
    value = params[ui.CHART_PARAM]
    if isinstance(value, (list, tuple)):
        value = value[0] if value else ""
    return _restored(ui.decode_specs(str(value or "")), report, counter)


def draw_chart(
    spec: Mapping[str, Any] | None, report: Mapping[str, Any] | None
) -> tuple[Any, dict[str, Any], str]:
    """A card's figure, toolbar settings and header, from its spec and the report on screen."""
    chart = ChartSpec.coerce(spec)
    if not report:
        return ui.message_figure(ui.NO_REPORT, chart.shown_title), ui.graph_config(chart, {}), \
            chart.shown_title
    figure = ui.figure_for(report.get("records") or [], chart, report)
    return figure, ui.graph_config(chart, report), chart.shown_title


def chart_state(specs: list[Mapping[str, Any] | None]) -> str:
    """The ``chart`` parameter of the open cards, in their order."""
    return ui.encode_specs(ChartSpec.coerce(s) for s in specs)


def download_csv(
    n_clicks: int | None, spec: Mapping[str, Any] | None, report: Mapping[str, Any] | None
) -> Any:
    """The chart's data (its label columns and measures, as on screen) as CSV."""
    if not n_clicks or not report:
        return no_update
    chart = ChartSpec.coerce(spec)
    frame = ui.chart_frame(report.get("records") or [], chart, report)
    return dcc.send_bytes(csv_from_frame(frame), ui.chart_filename(chart, report, "csv"))


# Browser-side: the builder writes the card's spec; Edit opens / closes the builder; the second
# axis offers the chosen measures; the address bar gets the ``chart`` parameter.
_WRITE_SPEC = """
function (kind, measures, secondary, x, title, builderStyle, spec) {
    var open = !(builderStyle && builderStyle.display === "none");
    var chosen = measures || [];
    var next = Object.assign({}, spec || {}, {
        kind: kind || "auto",
        measures: chosen,
        secondary: chosen.indexOf(secondary) >= 0 ? secondary : null,
        x: x || "auto",
        title: title || "",
        editing: open
    });
    return JSON.stringify(next) === JSON.stringify(spec) ?
        window.dash_clientside.no_update : next;
}
"""

_TOGGLE_BUILDER = """
function (nClicks, style) {
    var open = style && style.display === "none";
    return [open ? {} : {display: "none"}, open ? "Done" : "Edit"];
}
"""

_SECONDARY_OPTIONS = """
function (measures, secondary) {
    var chosen = measures || [];
    var options = chosen.map(function (m) { return {label: m, value: m}; });
    return [options, chosen.indexOf(secondary) >= 0 ? secondary : null];
}
"""

# The form's own URL writer (``dynamics.syncUrl``) rebuilds the query string from the form, so
# this runs after it too (URL_SYNC) and puts the ``chart`` parameter back.
_WRITE_URL = """
function (chart, formQuery) {
    if (chart === null || chart === undefined) {
        return window.dash_clientside.no_update;
    }
    var params = new URLSearchParams(window.location.search);
    if (chart) {
        params.set(__CHART_PARAM__, chart);
    } else {
        params.delete(__CHART_PARAM__);
    }
    var query = params.toString();
    var target = window.location.pathname + (query ? "?" + query : "") + window.location.hash;
    var here = window.location.pathname + window.location.search + window.location.hash;
    if (target !== here) {
        window.history.replaceState(window.history.state, "", target);
    }
    return query;
}
""".replace("__CHART_PARAM__", json.dumps(ui.CHART_PARAM))


def _card(type_: str) -> dict[str, Any]:
    return {"type": type_, "index": MATCH}


def register(app: Dash) -> None:
    area = Output(ids.CHART_AREA, "children")
    counter = Output(ui.CHART_COUNTER, "data")
    app.callback(
        area,
        counter,
        Input(ui.CHART_RESTORE, "data"),
        State(ids.URL, "search"),
        State(ids.REPORT_STORE, "data"),
        State(ui.CHART_COUNTER, "data"),
    )(restore_from_url)
    app.callback(
        Output(ids.CHART_AREA, "children", allow_duplicate=True),
        Output(ui.CHART_COUNTER, "data", allow_duplicate=True),
        Input(ids.FORM_LOAD, "data"),
        State(ids.REPORT_STORE, "data"),
        State(ui.CHART_COUNTER, "data"),
        prevent_initial_call=True,
    )(restore_from_params)
    app.callback(
        Output(ids.CHART_AREA, "children", allow_duplicate=True),
        Output(ui.CHART_COUNTER, "data", allow_duplicate=True),
        Input({"type": ui.MENU_ITEM_TYPE, "preset": ALL}, "n_clicks"),
        State(ids.REPORT_STORE, "data"),
        State(ui.CHART_COUNTER, "data"),
        State({"type": ui.CARD_TYPE, "index": ALL}, "id"),
        prevent_initial_call=True,
    )(add_chart)
    app.callback(
        Output(ids.CHART_AREA, "children", allow_duplicate=True),
        Input({"type": ui.REMOVE_TYPE, "index": ALL}, "n_clicks"),
        State({"type": ui.CARD_TYPE, "index": ALL}, "id"),
        prevent_initial_call=True,
    )(remove_chart)
    app.callback(
        Output(_card(ui.GRAPH_TYPE), "figure"),
        Output(_card(ui.GRAPH_TYPE), "config"),
        Output(_card(ui.CARD_LABEL_TYPE), "children"),
        Input(_card(ui.SPEC_TYPE), "data"),
        Input(ids.REPORT_STORE, "data"),
        prevent_initial_call=True,  # a card is drawn when it is made
    )(draw_chart)
    app.callback(
        Output(ui.CHART_STATE, "data"),
        Input({"type": ui.SPEC_TYPE, "index": ALL}, "data"),
    )(chart_state)
    app.callback(
        Output(_card(ui.DOWNLOAD_TYPE), "data"),
        Input(_card(ui.CSV_TYPE), "n_clicks"),
        State(_card(ui.SPEC_TYPE), "data"),
        State(ids.REPORT_STORE, "data"),
        prevent_initial_call=True,
    )(download_csv)
    app.clientside_callback(
        _WRITE_SPEC,
        Output(_card(ui.SPEC_TYPE), "data"),
        Input(_card(ui.KIND_TYPE), "value"),
        Input(_card(ui.MEASURES_TYPE), "value"),
        Input(_card(ui.SECONDARY_TYPE), "value"),
        Input(_card(ui.X_TYPE), "value"),
        Input(_card(ui.TITLE_TYPE), "value"),
        Input(_card(ui.BUILDER_TYPE), "style"),
        State(_card(ui.SPEC_TYPE), "data"),
        prevent_initial_call=True,
    )
    app.clientside_callback(
        _TOGGLE_BUILDER,
        Output(_card(ui.BUILDER_TYPE), "style"),
        Output(_card(ui.EDIT_TYPE), "children"),
        Input(_card(ui.EDIT_TYPE), "n_clicks"),
        State(_card(ui.BUILDER_TYPE), "style"),
        prevent_initial_call=True,
    )
    app.clientside_callback(
        _SECONDARY_OPTIONS,
        Output(_card(ui.SECONDARY_TYPE), "options"),
        Output(_card(ui.SECONDARY_TYPE), "value"),
        Input(_card(ui.MEASURES_TYPE), "value"),
        State(_card(ui.SECONDARY_TYPE), "value"),
        prevent_initial_call=True,
    )
    app.clientside_callback(
        _WRITE_URL,
        Output(ui.CHART_URL, "data"),
        Input(ui.CHART_STATE, "data"),
        Input(ids.URL_SYNC, "data"),
    )
