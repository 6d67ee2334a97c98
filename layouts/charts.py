"""Charts of the report on screen: the Show Chart menu, chart cards, and ``figure_for``.

A chart is described by a ``ChartSpec`` (chart type, measures, an optional second y axis, the x
dimension, a title). ``figure_for(records, spec, meta)`` draws it from the report store's rows
(``callbacks/report_store.py``: ``records`` and the rest of the store as ``meta``) — no query.
``"auto"`` type / x follow the report: time on x when it has a time grain (a line per package
when grouped by package), packages on x when grouped by package only, one bar otherwise.

The open cards' specs travel in the URL as ``chart=<encode_specs(...)>`` (base64url of a compact
JSON list), so a bookmark or a saved query comes back with its charts.

Ids: the menu and the area are SPEC §5 ones (``ids.SHOW_CHART``, ``ids.CHART_AREA``); the
rest are this feature's own, the per-card ones pattern-matching ``{"type": …, "index": n}``.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from html import escape as html_escape
from typing import Any
from urllib.parse import parse_qs

import dash_bootstrap_components as dbc
import pandas as pd
import plotly.graph_objects as go
from dash import dcc, html
from dash.development.base_component import Component

from exports.cells import count_value, round_money
from exports.title import interval_words, report_filename
from layouts import ids
from metrics.columns import COUNT_COLUMNS, MONEY_COLUMNS, PACKAGE, PERIOD, VALUE_COLUMNS
from metrics.errors import ReportError
from metrics.query import TIME_GRAINS, query_from_params

# This feature's own ids.
CHART_COUNTER = "chart-counter"  # Store: the index the next card gets
CHART_STATE = "chart-state"  # Store: the ``chart`` URL parameter of the open cards ("" = none)
CHART_URL = "chart-url"  # Store: the query string last written with the chart parameter
CHART_RESTORE = "chart-restore"  # Store: its first render restores the cards of the URL
MENU_ITEM_TYPE = "show-chart-item"
CARD_TYPE = "chart-card"
CARD_LABEL_TYPE = "chart-label"
SPEC_TYPE = "chart-spec"  # Store of each card: its ``ChartSpec.to_dict()``
GRAPH_TYPE = "chart-graph"
BUILDER_TYPE = "chart-builder"
KIND_TYPE = "chart-kind"
MEASURES_TYPE = "chart-measures"
SECONDARY_TYPE = "chart-secondary"
X_TYPE = "chart-x"
TITLE_TYPE = "chart-title"
EDIT_TYPE = "chart-edit"
CSV_TYPE = "chart-csv"
DOWNLOAD_TYPE = "chart-download"
REMOVE_TYPE = "chart-remove"

CHART_PARAM = "chart"  # the query-string (and saved-query) parameter of the open charts
BLANK = "blank"
# (key, menu label, measure); the blank chart has no measure yet.
PRESETS: tuple[tuple[str, str, str | None], ...] = (
    ("active_qty", "Clients - Active: Qty", "Clients - Active: Qty"),
    ("refill_total", "Balance Refill: Total", "Balance Refill: Total"),
    ("payg_total", "Pay As You Go: Total", "Pay As You Go: Total"),
    ("renew_total", "Packages: Renew Total", "Packages: Renew Total"),
    (BLANK, "Blank Chart", None),
)
PRESET_LABELS = {key: label for key, label, _ in PRESETS}
PRESET_MEASURES = {key: measure for key, _, measure in PRESETS}

AUTO = "auto"
KINDS: tuple[tuple[str, str], ...] = (
    (AUTO, "Automatic"),
    ("line", "Line"),
    ("bar", "Bar"),
    ("stacked", "Stacked bar"),
    ("area", "Area"),
    ("pie", "Pie"),
)
# No "month from days": a coarser bucket's rows are not the sum of its finer ones in general
# (a package row's population is the members at the bucket end), so that needs a new query.
X_DIMENSIONS: tuple[tuple[str, str], ...] = (
    (AUTO, "Automatic"),
    ("period", "Period"),
    ("package", "Package"),
)
KIND_VALUES = frozenset(k for k, _ in KINDS)
X_VALUES = frozenset(x for x, _ in X_DIMENSIONS)
MAX_CARDS = 30  # open at once (more would make an unusable page and an endless URL)
MAX_MEASURES = len(VALUE_COLUMNS)
MAX_TITLE_LENGTH = 120
NO_REPORT = "Press Query to draw this chart from the report."
NO_MEASURE = "Choose one or more measures."
NO_ROWS = "The report has no rows."
EMPTY_VALUE = "—"  # as the grid shows an undefined average
GRAPH_HEIGHT = 380
GRID_COLOR = "#e9ecef"
AXIS_COLOR = "#adb5bd"


# --------------------------------------------------------------------------- the spec


def _text(value: Any) -> str | None:
    """A browser-sent value when it is text (anything else is no value)."""
    return value if isinstance(value, str) else None


@dataclass(frozen=True)
class ChartSpec:
    """What one card draws. ``preset`` is the menu entry it came from (None when unknown)."""

    preset: str | None = None
    kind: str = AUTO
    measures: tuple[str, ...] = ()
    secondary: str | None = None  # one of ``measures``, drawn against a right-hand y axis
    x: str = AUTO
    title: str = ""
    editing: bool = False  # the builder is open

    @classmethod
    def for_preset(cls, preset: str) -> ChartSpec:
        """The spec a menu entry opens (the blank chart opens in its builder)."""
        if preset not in PRESET_LABELS:
            raise ValueError(f"unknown chart preset {preset!r}")
        measure = PRESET_MEASURES[preset]
        return cls(preset=preset, measures=(measure,) if measure else (),
                   editing=preset == BLANK)

    @classmethod
    def coerce(cls, value: ChartSpec | Mapping[str, Any] | None) -> ChartSpec:
        """A valid spec from a spec or its dict (as a browser sent it): unknown parts dropped."""
        if isinstance(value, ChartSpec):
            return value
        data = value if isinstance(value, Mapping) else {}
        preset = _text(data.get("preset"))
        measures_in = data.get("measures") or ()
        if isinstance(measures_in, str):
            measures_in = (measures_in,)
        measures = tuple(
            dict.fromkeys(m for m in measures_in if isinstance(m, str) and m in VALUE_COLUMNS)
        )[:MAX_MEASURES]
        secondary = _text(data.get("secondary"))
        kind = _text(data.get("kind"))
        x = _text(data.get("x"))
        title = _text(data.get("title"))
        return cls(
            preset=preset if preset in PRESET_LABELS else None,
            kind=kind if kind in KIND_VALUES else AUTO,
            measures=measures,
            secondary=secondary if secondary in measures else None,
            x=x if x in X_VALUES else AUTO,
            title=" ".join(str(title).split())[:MAX_TITLE_LENGTH] if title else "",
            editing=bool(data.get("editing")),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "preset": self.preset,
            "kind": self.kind,
            "measures": list(self.measures),
            "secondary": self.secondary,
            "x": self.x,
            "title": self.title,
            "editing": self.editing,
        }

    @property
    def default_title(self) -> str:
        """The title when the user gave none: the preset's name, else the measures."""
        if self.preset and self.preset != BLANK and self.measures == (
            PRESET_MEASURES[self.preset],
        ):
            return PRESET_LABELS[self.preset]
        if self.measures:
            return " vs ".join(self.measures)
        return "New chart"

    @property
    def shown_title(self) -> str:
        return self.title or self.default_title


# Short keys of the URL form; a part equal to the preset's default is left out.
_SHORT_KEYS = (("preset", "p"), ("kind", "k"), ("measures", "m"), ("secondary", "s"),
               ("x", "x"), ("title", "t"), ("editing", "e"))


def _compact(spec: ChartSpec) -> dict[str, Any]:
    default = ChartSpec.for_preset(spec.preset) if spec.preset else ChartSpec()
    full, base = spec.to_dict(), default.to_dict()
    compact: dict[str, Any] = {}
    for name, short in _SHORT_KEYS:
        if name == "preset" or full[name] != base[name]:
            value = full[name]
            if value is None and name == "preset":
                continue
            compact[short] = int(value) if isinstance(value, bool) else value
    return compact


def encode_specs(specs: Iterable[ChartSpec | Mapping[str, Any]]) -> str:
    """The ``chart`` parameter of ``specs``: base64url (unpadded) of a compact JSON list."""
    compact = [_compact(ChartSpec.coerce(s)) for s in specs]
    if not compact:
        return ""
    text = json.dumps(compact, separators=(",", ":"), ensure_ascii=False)
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_specs(text: str | None) -> list[ChartSpec]:
    """The specs of a ``chart`` parameter; anything unreadable gives no chart, never an error."""
    text = (text or "").strip()
    if not text:
        return []
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        items = json.loads(raw.decode())
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return []
    if not isinstance(items, list):
        return []
    specs: list[ChartSpec] = []
    for item in items[:MAX_CARDS]:
        if not isinstance(item, Mapping):
            continue
        preset = _text(item.get("p"))
        base = (ChartSpec.for_preset(preset) if preset in PRESET_LABELS else ChartSpec()).to_dict()
        for name, short in _SHORT_KEYS:
            if short in item and name != "preset":
                base[name] = item[short]
        specs.append(ChartSpec.coerce(base))
    return specs


def specs_from_search(search: str | None) -> list[ChartSpec]:
    """The specs of the ``chart`` parameter of a query string (``?…``)."""
    values = parse_qs((search or "").lstrip("?")).get(CHART_PARAM)
    return decode_specs(values[0]) if values else []


# --------------------------------------------------------------------------- the figure


@dataclass(frozen=True)
class _Shape:
    """How a report's rows lay out on a chart."""

    rows: list[Mapping[str, Any]]  # the report's rows, in report order
    x: str  # the column on the x axis (PERIOD or PACKAGE)
    series: str | None  # the column that splits each measure into traces, if any
    kind: str  # a concrete chart type
    measures: tuple[str, ...]
    columns: tuple[str, ...] = field(default=())


def _group_of(meta: Mapping[str, Any]) -> list[str]:
    query = meta.get("query") or meta.get("params") or {}
    group = query.get("group") if isinstance(query, Mapping) else None
    if isinstance(group, str):
        return [group]
    return [str(g) for g in group or ()]


def _columns_of(records: Sequence[Mapping[str, Any]], meta: Mapping[str, Any]) -> list[str]:
    columns = meta.get("columns")
    if columns:
        return [str(c) for c in columns]
    return [str(c) for c in records[0]] if records else []


def _grain_of(meta: Mapping[str, Any]) -> str | None:
    return next((g for g in _group_of(meta) if g in TIME_GRAINS), None)


def _shape(
    records: Sequence[Mapping[str, Any]], spec: ChartSpec, meta: Mapping[str, Any]
) -> _Shape:
    columns = _columns_of(records, meta)
    grain = _grain_of(meta)
    by_package = PACKAGE in columns
    rows: list[Mapping[str, Any]] = list(records)
    if spec.x == "package" and by_package:
        x = PACKAGE
    elif spec.x != AUTO or grain or not by_package:
        x = PERIOD
    else:
        x = PACKAGE
    periods = {r.get(PERIOD) for r in rows}
    if x == PERIOD and by_package:
        series: str | None = PACKAGE
    elif x == PACKAGE and len(periods) > 1:
        series = PERIOD
    else:
        series = None
    kind = spec.kind
    if kind == AUTO:
        kind = "line" if x == PERIOD and grain else "bar"
    measures = tuple(m for m in spec.measures if m in columns)
    return _Shape(rows=rows, x=x, series=series, kind=kind, measures=measures,
                  columns=tuple(columns))


def measure_label(measure: str, currency: str) -> str:
    """The measure's name, with the report currency for money (``Balance Refill: Total (EUR)``)."""
    return f"{measure} ({currency})" if measure in MONEY_COLUMNS and currency else measure


def value_text(measure: str, value: Any, currency: str = "") -> str:
    """A value as the grid shows it: thousands separators, money with 2 decimals, "—" if none."""
    if measure in COUNT_COLUMNS:
        count = count_value(value)
        return EMPTY_VALUE if count is None else f"{count:,}"
    cents = round_money(value)
    if cents is None:
        return EMPTY_VALUE
    return f"{cents:,}" + (f" {currency}" if currency else "")


def _subtitle(meta: Mapping[str, Any], measures: Sequence[str]) -> str:
    query = meta.get("query") or meta.get("params") or {}
    try:
        words = interval_words(query_from_params(dict(query)))
    except (ReportError, TypeError, ValueError):
        words = ""
    currency = str(meta.get("currency") or "")
    if currency and any(m in MONEY_COLUMNS for m in measures):
        words = f"{words} · amounts in {currency}" if words else f"amounts in {currency}"
    return words


def plain(value: Any) -> str:
    """``value`` as text Plotly shows as it is: Plotly reads a subset of HTML in every text
    (``<a href>``, ``<b>``, …) and a title can come from a shared link, a package name from
    anyone who names packages."""
    return html_escape(str(value), quote=False)


def _base_layout(title: str, subtitle: str) -> dict[str, Any]:
    return {
        "title": {"text": plain(title), "subtitle": {"text": subtitle}, "x": 0, "xanchor": "left",
                  "font": {"size": 15}},
        # No Plotly template: the default one would travel in every figure (~10 kB); the few
        # styles wanted are set here.
        "template": "none",
        "paper_bgcolor": "white",
        "plot_bgcolor": "white",
        "font": {"family": "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
                 "size": 12, "color": "#212529"},
        "height": GRAPH_HEIGHT,
        "margin": {"l": 60, "r": 30, "t": 80, "b": 50},
        "separators": ".,",
        # At the foot of the figure, under the x axis title (the plot shrinks to make room).
        "legend": {"orientation": "h", "yref": "container", "y": 0, "yanchor": "bottom",
                   "x": 0},
        "hoverlabel": {"namelength": -1},
    }


def message_figure(message: str, title: str = "", subtitle: str = "") -> go.Figure:
    """An empty chart that says why it is empty."""
    layout = _base_layout(title, subtitle)
    layout.update(
        xaxis={"visible": False},
        yaxis={"visible": False},
        annotations=[{"text": message, "showarrow": False, "xref": "paper", "yref": "paper",
                      "x": 0.5, "y": 0.5, "font": {"size": 14, "color": "#6c757d"}}],
    )
    return go.Figure(layout=layout)


def _split(
    records: Sequence[Mapping[str, Any]], series: str | None
) -> list[tuple[str | None, list[Mapping[str, Any]]]]:
    """The rows of each series value, in the order the report lists them."""
    if series is None:
        return [(None, list(records))]
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for row in records:
        groups.setdefault(plain(row.get(series)), []).append(row)
    return list(groups.items())


def _number(value: Any) -> float | int | None:
    """A JSON number for Plotly (None for no value): exactly the report's value."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if pd.isna(number) else number


HOVER = "<b>%{fullData.name}</b><br>%{x}: %{customdata}<extra></extra>"
PIE_HOVER = "<b>%{label}</b><br>%{customdata} (%{percent})<extra></extra>"


def _pie(shape: _Shape, currency: str, layout: dict[str, Any]) -> go.Figure:
    records = shape.rows
    measure = shape.measures[0]
    labels: list[str] = []
    for row in records:
        label = plain(row.get(shape.x))
        if shape.series:
            label = f"{label} · {plain(row.get(shape.series))}"
        labels.append(label)
    values = [_number(row.get(measure)) for row in records]
    trace = go.Pie(
        labels=labels,
        values=values,
        name=measure_label(measure, currency),
        customdata=[value_text(measure, row.get(measure), currency) for row in records],
        hovertemplate=PIE_HOVER,
        sort=False,
        textinfo="percent",
    )
    layout["legend"] = {"orientation": "v"}
    return go.Figure(data=[trace], layout=layout)


def figure_for(
    records: Sequence[Mapping[str, Any]],
    spec: ChartSpec | Mapping[str, Any],
    meta: Mapping[str, Any],
) -> go.Figure:
    """The Plotly figure of ``spec`` over the report rows ``records``.

    ``meta`` is the rest of the report store (``columns``, ``currency``, ``query``: its
    ``group`` tells the time grain, its interval and ``tz`` make the subtitle). Trace values
    are the report's own values; hover texts are formatted as the grid formats them.
    """
    spec = ChartSpec.coerce(spec)
    records = list(records or [])
    currency = str(meta.get("currency") or "")
    shape = _shape(records, spec, meta)
    title = spec.shown_title
    subtitle = _subtitle(meta, shape.measures)
    if not shape.rows:
        return message_figure(NO_ROWS, title, subtitle)
    if not shape.measures:
        return message_figure(NO_MEASURE, title, subtitle)
    layout = _base_layout(title, subtitle)
    if shape.kind == "pie":
        return _pie(shape, currency, layout)

    secondary = spec.secondary if spec.secondary in shape.measures else None
    traces: list[go.BaseTraceType] = []
    groups = _split(shape.rows, shape.series)
    for measure in shape.measures:
        axis = "y2" if measure == secondary else "y"
        for group, rows in groups:
            if group is None:
                name = measure
            elif len(shape.measures) == 1:
                name = group
            else:
                name = f"{group} · {measure}"
            common: dict[str, Any] = {
                "x": [plain(row.get(shape.x)) for row in rows],
                "y": [_number(row.get(measure)) for row in rows],
                "name": name,
                "yaxis": axis,
                "customdata": [value_text(measure, row.get(measure), currency) for row in rows],
                "hovertemplate": HOVER,
                "legendgroup": group or measure,
            }
            if shape.kind in ("bar", "stacked"):
                # Bars of the two y axes side by side rather than drawn over each other.
                offset = axis if shape.kind == "stacked" else str(len(traces))
                traces.append(go.Bar(offsetgroup=offset if secondary else None, **common))
            elif shape.kind == "area":
                traces.append(go.Scatter(mode="lines", stackgroup=axis, **common))
            else:
                traces.append(go.Scatter(mode="lines+markers", **common))

    primary = [m for m in shape.measures if m != secondary]
    layout.update(
        xaxis={"title": {"text": shape.x}, "type": "category", "automargin": True,
               "linecolor": AXIS_COLOR},
        yaxis={"title": {"text": " / ".join(measure_label(m, currency) for m in primary)},
               "separatethousands": True, "automargin": True, "gridcolor": GRID_COLOR,
               "zerolinecolor": AXIS_COLOR},
        showlegend=len(traces) > 1,
    )
    if shape.kind in ("bar", "stacked"):
        layout["barmode"] = "relative" if shape.kind == "stacked" else "group"
    if secondary:
        layout["yaxis2"] = {
            "title": {"text": measure_label(secondary, currency)},
            "overlaying": "y",
            "side": "right",
            "showgrid": False,
            "separatethousands": True,
            "automargin": True,
        }
        layout["margin"] = {**layout["margin"], "r": 70}
    return go.Figure(data=traces, layout=layout)


def chart_frame(
    records: Sequence[Mapping[str, Any]],
    spec: ChartSpec | Mapping[str, Any],
    meta: Mapping[str, Any],
) -> pd.DataFrame:
    """The data a chart draws: the report's label columns and the chart's measures, in order."""
    spec = ChartSpec.coerce(spec)
    shape = _shape(list(records or []), spec, meta)
    wanted = [c for c in (PERIOD, PACKAGE) if c in shape.columns]
    wanted += list(shape.measures)
    return pd.DataFrame([{c: row.get(c) for c in wanted} for row in shape.rows], columns=wanted)


def chart_filename(spec: ChartSpec | Mapping[str, Any], meta: Mapping[str, Any],
                   fmt: str) -> str:
    """``customer-dynamics_2025-01-01_2025-04-01_balance-refill-total.<fmt>``."""
    spec = ChartSpec.coerce(spec)
    slug = re.sub(r"[^a-z0-9]+", "-", spec.shown_title.lower()).strip("-")[:60] or "chart"
    try:
        base = report_filename(query_from_params(dict(meta.get("query") or {})), fmt)
    except (ReportError, TypeError, ValueError):
        return f"customer-dynamics_{slug}.{fmt}"
    return base.removesuffix(f".{fmt}") + f"_{slug}.{fmt}"


def graph_config(spec: ChartSpec | Mapping[str, Any], meta: Mapping[str, Any]) -> dict[str, Any]:
    """Plotly's toolbar: always shown, its camera button saving a PNG named after the chart."""
    return {
        "displaylogo": False,
        "displayModeBar": True,
        "responsive": True,
        "modeBarButtonsToRemove": ["lasso2d", "select2d"],
        "toImageButtonOptions": {
            "format": "png",
            "filename": chart_filename(spec, meta, "png").removesuffix(".png"),
            "scale": 2,
        },
    }


# --------------------------------------------------------------------------- components


def _index_id(type_: str, index: int) -> dict[str, Any]:
    return {"type": type_, "index": index}


def menu_item(preset: str) -> dict[str, str]:
    return {"type": MENU_ITEM_TYPE, "preset": preset}


def card_id(index: int) -> dict[str, Any]:
    return _index_id(CARD_TYPE, index)


def chart_controls() -> Component:
    """The Show Chart menu (``ids.SHOW_CHART``): the presets, then Blank Chart."""
    items: list[Component] = []
    for key, label, _ in PRESETS:
        if key == BLANK:
            items.append(dbc.DropdownMenuItem(divider=True))
        items.append(dbc.DropdownMenuItem(label, id=menu_item(key), n_clicks=0))
    return dbc.DropdownMenu(
        items,
        id=ids.SHOW_CHART,
        label="Show Chart",
        color="outline-secondary",
        size="sm",
        class_name="dyn-show-chart",
        align_end=True,
    )


def chart_area() -> Component:
    """Where the chart cards go (``ids.CHART_AREA``), with the stores the charts need."""
    return html.Div(
        [
            html.Div([], id=ids.CHART_AREA, className="dyn-chart-area"),
            dcc.Store(id=CHART_COUNTER, data=0),
            dcc.Store(id=CHART_STATE),
            dcc.Store(id=CHART_URL),
            dcc.Store(id=CHART_RESTORE),
        ]
    )


def _options(pairs: Sequence[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"label": label, "value": value} for value, label in pairs]


def measure_options() -> list[dict[str, str]]:
    """Every numeric column, by its two-level name (``Balance Refill: Total``)."""
    return [{"label": c, "value": c} for c in VALUE_COLUMNS]


def secondary_options(measures: Sequence[str]) -> list[dict[str, str]]:
    return [{"label": m, "value": m} for m in measures]


def _builder_field(label: str, control: Component, width: int) -> Component:
    return dbc.Col([dbc.Label(label, className="small mb-0"), control], md=width,
                   class_name="mb-2")


def builder(index: int, spec: ChartSpec) -> Component:
    """The builder of a card: type, measures, second y axis, x dimension, title."""
    return dbc.Row(
        [
            _builder_field("Chart type", dcc.Dropdown(
                id=_index_id(KIND_TYPE, index), options=_options(KINDS), value=spec.kind,
                clearable=False, searchable=False,
            ), 4),
            _builder_field("X axis", dcc.Dropdown(
                id=_index_id(X_TYPE, index), options=_options(X_DIMENSIONS), value=spec.x,
                clearable=False, searchable=False,
            ), 4),
            _builder_field("Title", dbc.Input(
                id=_index_id(TITLE_TYPE, index), value=spec.title, type="text", size="sm",
                placeholder="Automatic title", debounce=400, maxLength=MAX_TITLE_LENGTH,
            ), 4),
            _builder_field("Measures", dcc.Dropdown(
                id=_index_id(MEASURES_TYPE, index), options=measure_options(),
                value=list(spec.measures), multi=True, placeholder="Choose measures",
                closeOnSelect=False,
            ), 8),
            _builder_field("Second y axis", dcc.Dropdown(
                id=_index_id(SECONDARY_TYPE, index), options=secondary_options(spec.measures),
                value=spec.secondary, placeholder="None", clearable=True,
            ), 4),
        ],
        class_name="g-2",
    )


def _builder_style(open_: bool) -> dict[str, str]:
    return {} if open_ else {"display": "none"}


def chart_card(
    index: int, spec: ChartSpec, report: Mapping[str, Any] | None = None
) -> Component:
    """One chart card: header with its actions, the builder (open or not) and the graph."""
    meta = report or {}
    figure = (
        figure_for(report.get("records") or [], spec, report) if report
        else message_figure(NO_REPORT, spec.shown_title)
    )
    button = "btn btn-sm btn-outline-secondary"
    return html.Div(
        [
            html.Div(
                [
                    html.Span(spec.shown_title, id=_index_id(CARD_LABEL_TYPE, index),
                              className="fw-semibold text-truncate me-auto"),
                    html.Button("Done" if spec.editing else "Edit",
                                id=_index_id(EDIT_TYPE, index), n_clicks=0, type="button",
                                className=button, title="Change what this chart shows"),
                    html.Button("CSV", id=_index_id(CSV_TYPE, index), n_clicks=0,
                                type="button", className=button,
                                title="Download the chart's data as CSV"),
                    html.Button(id=_index_id(REMOVE_TYPE, index), n_clicks=0, type="button",
                                className="btn-close ms-1", title="Remove this chart",
                                **{"aria-label": "Remove this chart"}),
                ],
                className="card-header d-flex align-items-center gap-2",
            ),
            html.Div(
                [
                    dcc.Store(id=_index_id(SPEC_TYPE, index), data=spec.to_dict()),
                    html.Div(builder(index, spec), id=_index_id(BUILDER_TYPE, index),
                             className="dyn-chart-builder border-bottom mb-2",
                             style=_builder_style(spec.editing)),
                    dcc.Graph(id=_index_id(GRAPH_TYPE, index), figure=figure,
                              config=graph_config(spec, meta),
                              style={"height": f"{GRAPH_HEIGHT}px"}),
                    dcc.Download(id=_index_id(DOWNLOAD_TYPE, index)),
                ],
                className="card-body p-2",
            ),
        ],
        id=card_id(index),
        className="card dyn-chart-card",
    )


def chart_cards(
    specs: Sequence[ChartSpec], report: Mapping[str, Any] | None, first_index: int = 0
) -> list[Component]:
    return [chart_card(first_index + i, spec, report) for i, spec in enumerate(specs)]
