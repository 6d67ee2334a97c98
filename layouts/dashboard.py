"""The dashboard page ``/``: the query form of SPEC §3 (filters, group by, output) and the result.

Structure (ids in ``layouts.ids``)::

    QUERY_FORM
      Filters: interval (INTERVAL_START, INTERVAL_END, INTERVAL_TZ, INTERVAL_PRESETS),
               FILTER_LIST (one row per filter kind, hidden until added), ADD_FILTER (+ menu)
      Group by: GROUP_BY        Output: OUTPUT_TYPE, SEND_TO, CURRENCY, ACTIVE_DURATION
      QUERY_BUTTON, SAVE_QUERY / LOAD_QUERY (layouts/templates.py), QUERY_ERROR, QUERY_STATUS
    results: REPORT_SUMMARY, REPORT_INFO (+ popover),
             REPORT_ACTIONS (SHARE_LINK, EXPORT_CSV, EXPORT_XLSX: layouts/actions.py; SHOW_CHART),
             CHART_AREA,
             RESULTS (the grid REPORT_GRID, under a loading indicator)
    stores: REPORT_STORE, ACTIVE_FILTERS, INTERVAL_PRESET, BROWSER_TZ, GROUP_BY_PREVIOUS,
            FORM_LOAD, URL_SYNC; REPORT_DOWNLOAD

To add a button that acts on the report on screen, add it in ``report_actions()``; its
callback reads ``State(ids.REPORT_STORE, "data")`` (see ``callbacks/report_store.py``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import dash_bootstrap_components as dbc
from dash import dcc, html
from dash.development.base_component import Component

from layouts import actions as report_actions_ui  # exports and share link (issue 5, 7)
from layouts import ids
from layouts import templates as saved_queries  # Save Query / Load Query (issue 7)
from layouts.charts import chart_area, chart_controls  # charts (issue 6)
from layouts.form_state import (
    FILTER_KINDS,
    FILTER_LABELS,
    GROUP_OPTIONS,
    OUTPUT_TYPES,
    PRESET_LABELS,
    PRESETS,
    FormState,
)
from store.options import Option

SEND_TO_WEB_REASON = "E-mail needs a file: choose CSV, Excel XLS or Excel XLSX as the type."
SEND_TO_HELP = "One or more addresses, separated by commas."
MAIL_POLL_MS = 3000
NO_REPORT_YET = "Fill in the form and press Query to see the report."
FIELD_ERRORS = (
    "interval", "tz", "group_by", "currency", "active", "output", "send_to", *FILTER_KINDS,
)


def _options(options: Sequence[Option]) -> list[dict[str, str | int]]:
    return [{"label": o.label, "value": o.value} for o in options]


def field_error(field: str) -> Component:
    """The message slot of ``field`` (filled with a ``ReportError`` about it)."""
    return html.Div(id=ids.field_error(field), className="invalid-feedback d-block")


def _section(title: str, *children: Component, width: Mapping[str, int]) -> Component:
    return dbc.Col(
        html.Fieldset(
            [html.Legend(title, className="h6 text-uppercase text-muted mb-2"), *children]
        ),
        **width,
        className="mb-3",
    )


def interval_block(form: FormState, zones: Sequence[str]) -> Component:
    preset_label = PRESET_LABELS.get(form.preset or "", "Presets")
    return html.Div(
        [
            dbc.Label("Interval", html_for=ids.INTERVAL_START, className="fw-semibold"),
            html.Div(
                [
                    dbc.Input(
                        id=ids.INTERVAL_START, type="text", value=form.start,
                        placeholder="YYYY-MM-DD HH:MM", debounce=False,
                        class_name="dyn-time", autocomplete="off",
                    ),
                    html.Span("→", className="px-1 text-muted", **{"aria-hidden": "true"}),
                    dbc.Label("Interval end", html_for=ids.INTERVAL_END,
                              class_name="visually-hidden"),
                    dbc.Input(
                        id=ids.INTERVAL_END, type="text", value=form.end,
                        placeholder="YYYY-MM-DD HH:MM", class_name="dyn-time",
                        autocomplete="off",
                    ),
                    html.Div(
                        dcc.Dropdown(
                            id=ids.INTERVAL_TZ,
                            options=[{"label": z, "value": z} for z in zones],
                            value=form.tz,
                            clearable=False,
                            placeholder="Time zone",
                        ),
                        className="dyn-tz",
                        title="Time zone of the interval and of the report",
                    ),
                    dbc.DropdownMenu(
                        [dbc.DropdownMenuItem(label, id=ids.preset_item(name))
                         for name, label in PRESETS],
                        id=ids.INTERVAL_PRESETS,
                        label=preset_label,
                        color="secondary",
                        size="sm",
                        class_name="dyn-presets",
                    ),
                ],
                className="d-flex flex-wrap align-items-center gap-2",
            ),
            html.Div("Start inclusive, end exclusive.", className="form-text"),
            field_error("interval"),
            field_error("tz"),
        ],
        className="mb-3",
    )


def filter_row(kind: str, form: FormState, options: Sequence[Option] | None) -> Component:
    """The row of one optional filter; hidden unless the filter is added."""
    order = list(form.filters).index(kind) if kind in form.filters else 0
    label = FILTER_LABELS[kind]
    return html.Div(
        [
            html.Div(
                [
                    dbc.Label(label, className="fw-semibold mb-0 dyn-filter-label"),
                    html.Div(
                        dcc.Dropdown(
                            id=ids.filter_value(kind),
                            options=_options(options or []),
                            value=list(form.filters.get(kind, ())),
                            multi=True,
                            placeholder=f"Any {label.lower()}",
                            closeOnSelect=False,
                        ),
                        className="flex-grow-1 dyn-filter-value",
                    ),
                    html.Button(
                        id=ids.filter_delete(kind),
                        type="button",
                        className="btn-close",
                        title=f"Remove the {label} filter",
                        **{"aria-label": f"Remove the {label} filter"},
                    ),
                ],
                className="d-flex align-items-center gap-2",
            ),
            field_error(kind),
        ],
        id=ids.filter_row(kind),
        className="dyn-filter-row mb-2",
        style=row_style(kind in form.filters, order),
    )


def row_style(shown: bool, order: int) -> dict[str, str | int]:
    return {"order": order} if shown else {"display": "none"}


def add_filter_menu(form: FormState) -> Component:
    return html.Div(
        [
            dbc.Button(
                "+ Add filter", id=ids.ADD_FILTER, color="link", size="sm",
                class_name="px-0", n_clicks=0,
            ),
            dbc.Popover(
                dbc.PopoverBody(
                    [
                        dbc.Input(
                            id=ids.ADD_FILTER_SEARCH, type="search", placeholder="Search filters",
                            size="sm", autocomplete="off", class_name="mb-2", autofocus=True,
                        ),
                        html.Div(
                            [
                                html.Button(
                                    FILTER_LABELS[kind], id=ids.add_filter_item(kind),
                                    type="button", n_clicks=0,
                                    className="list-group-item list-group-item-action",
                                    style={"display": "none"} if kind in form.filters else {},
                                )
                                for kind in FILTER_KINDS
                            ],
                            className="list-group list-group-flush",
                        ),
                        html.Div("No filter matches.", id=ids.ADD_FILTER_EMPTY,
                                 className="text-muted small", style={"display": "none"}),
                    ]
                ),
                id=ids.ADD_FILTER_MENU,
                target=ids.ADD_FILTER,
                trigger="legacy",
                placement="bottom-start",
                hide_arrow=True,
            ),
        ]
    )


def filters_section(
    form: FormState, zones: Sequence[str], filter_options: Mapping[str, Sequence[Option]]
) -> Component:
    return _section(
        "Filters",
        interval_block(form, zones),
        html.Div(
            [filter_row(kind, form, filter_options.get(kind)) for kind in FILTER_KINDS],
            id=ids.FILTER_LIST,
            className="d-flex flex-column",
        ),
        add_filter_menu(form),
        width={"lg": 6},
    )


def group_by_section(form: FormState) -> Component:
    return _section(
        "Group by",
        dbc.Checklist(
            id=ids.GROUP_BY,
            options=[{"label": label, "value": value} for value, label in GROUP_OPTIONS],
            value=list(form.group),
            class_name="dyn-group-by",
        ),
        html.Div("One time grain at most.", className="form-text"),
        field_error("group_by"),
        width={"lg": 2, "md": 4},
    )


def output_section(form: FormState, currencies: Sequence[Option]) -> Component:
    currency_values = [o.value for o in currencies]
    currency_options = _options(currencies)
    if form.currency not in currency_values:  # keep what the URL asked for; the query says why not
        currency_options.append({"label": form.currency, "value": form.currency})
    web = form.output == "web"
    return _section(
        "Output",
        dbc.Row(
            [
                dbc.Col(
                    [
                        dbc.Label("Type", html_for=ids.OUTPUT_TYPE),
                        dcc.Dropdown(
                            id=ids.OUTPUT_TYPE,
                            options=[{"label": label, "value": v} for v, label in OUTPUT_TYPES],
                            value=form.output, clearable=False, searchable=False,
                        ),
                        field_error("output"),
                    ],
                    sm=6,
                    class_name="mb-2",
                ),
                dbc.Col(
                    [
                        dbc.Label("Currency", html_for=ids.CURRENCY),
                        dcc.Dropdown(
                            id=ids.CURRENCY, options=currency_options, value=form.currency,
                            clearable=False,
                        ),
                        field_error("currency"),
                    ],
                    sm=6,
                    class_name="mb-2",
                ),
                dbc.Col(
                    [
                        dbc.Label("Send to", html_for=ids.SEND_TO),
                        dbc.Input(
                            id=ids.SEND_TO, type="text", disabled=web, value="",
                            placeholder="name@example.com, …", autocomplete="email",
                        ),
                        html.Div(
                            SEND_TO_WEB_REASON if web else SEND_TO_HELP,
                            id=ids.SEND_TO_HELP, className="form-text",
                        ),
                        field_error("send_to"),
                    ],
                    sm=8,
                    class_name="mb-2",
                ),
                dbc.Col(
                    [
                        dbc.Label("Active Duration", html_for=ids.ACTIVE_DURATION),
                        dbc.InputGroup(
                            [
                                # No min / max: the browser would turn an out-of-range
                                # number into no value; the server says what is allowed.
                                dbc.Input(
                                    id=ids.ACTIVE_DURATION, type="number", step=1,
                                    value=form.active,
                                ),
                                dbc.InputGroupText("months"),
                            ],
                            size="sm",
                        ),
                        field_error("active"),
                    ],
                    sm=4,
                    class_name="mb-2",
                ),
            ],
            class_name="g-2",
        ),
        width={"lg": 4, "md": 8},
    )


def info_button() -> list[Component]:
    return [
        dbc.Button(
            [html.Span("i", className="dyn-info-icon", **{"aria-hidden": "true"}), "Info"],
            id=ids.REPORT_INFO, color="secondary", outline=True, size="sm",
            disabled=True, title="About this report", n_clicks=0,
        ),
        dbc.Popover(
            [
                dbc.PopoverHeader("About this report"),
                dbc.PopoverBody("No report yet.", id=ids.REPORT_INFO_BODY),
            ],
            id=ids.REPORT_INFO_POPOVER,
            target=ids.REPORT_INFO,
            trigger="legacy",
            placement="bottom",
            class_name="dyn-info-popover",
        ),
    ]


def report_actions() -> Component:
    """The buttons acting on the report on screen (exports, chart, share link, …)."""
    return html.Div(
        [
            *report_actions_ui.layout(),  # share link, Export to CSV / XLSX (issues 5, 7)
            chart_controls(),  # charts (issue 6): the Show Chart menu
        ],
        id=ids.REPORT_ACTIONS,
        className="d-flex flex-wrap gap-2 ms-auto",
    )


def results_section() -> Component:
    return html.Section(
        [
            html.Div(
                [
                    html.H2("Report", className="h5 mb-0"),
                    html.Span(id=ids.REPORT_SUMMARY, className="text-muted small"),
                    *info_button(),
                    report_actions(),
                ],
                className="d-flex flex-wrap align-items-center gap-2 mb-2",
            ),
            chart_area(),  # charts (issue 6): CHART_AREA and the charts' stores
            dcc.Loading(
                html.Div(
                    html.P(NO_REPORT_YET, className="text-muted"), id=ids.RESULTS,
                ),
                id=ids.RESULTS_LOADING,
                type="circle",
                delay_show=150,
                overlay_style={"visibility": "visible", "opacity": 0.5},
            ),
        ],
        className="mt-2",
    )


def layout(
    form: FormState,
    *,
    zones: Sequence[str],
    currencies: Sequence[Option],
    filter_options: Mapping[str, Sequence[Option]],
) -> Component:
    """The dashboard, its form filled from ``form`` and the given choices."""
    return html.Div(
        [
            html.Div(
                [
                    dbc.Row(
                        [
                            filters_section(form, zones, filter_options),
                            group_by_section(form),
                            output_section(form, currencies),
                        ]
                    ),
                    html.Div(
                        [
                            dbc.Button("Query", id=ids.QUERY_BUTTON, color="primary",
                                       n_clicks=0, type="button", class_name="px-4"),
                            saved_queries.layout(),  # Save Query / Load Query (issue 7)
                            html.Div(id=ids.QUERY_STATUS, className="text-success small"),
                            html.Div(id=ids.MAIL_STATUS, className="small", role="status"),
                        ],
                        className="d-flex align-items-center gap-3",
                    ),
                    html.Div(id=ids.QUERY_ERROR, className="text-danger mt-2", role="alert"),
                ],
                id=ids.QUERY_FORM,
                className="card card-body mb-3",
            ),
            results_section(),
            dcc.Store(id=ids.REPORT_STORE),
            dcc.Store(id=ids.ACTIVE_FILTERS, data=list(form.filters)),
            dcc.Store(id=ids.INTERVAL_PRESET, data=form.preset_data),
            dcc.Store(id=ids.BROWSER_TZ, data=form.tz is None),
            dcc.Store(id=ids.GROUP_BY_PREVIOUS, data=list(form.group)),
            dcc.Store(id=ids.FORM_LOAD),
            dcc.Store(id=ids.URL_SYNC),
            dcc.Download(id=ids.REPORT_DOWNLOAD),
            dcc.Store(id=ids.MAIL_REQUEST),
            dcc.Interval(id=ids.MAIL_POLL, interval=MAIL_POLL_MS, disabled=True),
        ],
        className="container-fluid py-3",
    )
