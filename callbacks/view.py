"""The snapshot page's one action: "Compare with now", cell by cell, old → new."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

import dash_bootstrap_components as dbc
import pandas as pd
from dash import Dash, Input, Output, State, html, no_update
from dash.development.base_component import Component

from callbacks.session import current_account
from layouts.view import VIEW_COMPARE, VIEW_COMPARE_RESULT, VIEW_TOKEN
from metrics.columns import COUNT_COLUMNS, MONEY_COLUMNS, PACKAGE, PERIOD
from metrics.errors import ReportError
from store.reports import run_report
from store.snapshots import load_snapshot, same_scope, scope_covers

log = logging.getLogger(__name__)

MAX_SHOWN_ROWS = 500
NOT_AVAILABLE = "Comparing is not available for this snapshot."
FAILED = "The comparison failed. Please try again later."
WIDER_SCOPE = (
    "Now is computed for your scope, which has more companies than that of the snapshot's "
    "creator: some differences may come from those companies' clients."
)


# --------------------------------------------------------------------------- the differences
# Pure: frames in, differences out. (A candidate for metrics/, where it would sit beside the
# engine; it is here because this page is its only user.)


@dataclass(frozen=True)
class RowDiff:
    """One report row whose cells differ; ``cells`` holds (old, new) of the differing columns."""

    key: tuple[str, ...]
    status: str  # "changed", "added" (only now) or "removed" (only in the snapshot)
    old: dict[str, Any]
    new: dict[str, Any]
    cells: frozenset[str]


def _shown(name: str, value: Any) -> Any:
    """The value as a user reads it: counts exact, money at its 2 displayed decimals."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if name in COUNT_COLUMNS:
        return int(value)
    if name in MONEY_COLUMNS:
        return round(float(value), 2) + 0.0  # + 0.0: -0.0 and 0.0 read the same
    return value


def frame_differences(old: pd.DataFrame, new: pd.DataFrame) -> list[RowDiff]:
    """The rows of ``old`` and ``new`` (keyed by period and package) that differ as displayed."""
    keys = [c for c in (PERIOD, PACKAGE) if c in old.columns or c in new.columns]
    columns = [c for c in old.columns if c not in keys]
    columns += [c for c in new.columns if c not in keys and c not in columns]

    def by_key(frame: pd.DataFrame) -> dict[tuple[str, ...], dict[str, Any]]:
        return {
            tuple(str(row.get(k, "")) for k in keys): row for row in frame.to_dict("records")
        }

    old_rows, new_rows = by_key(old), by_key(new)
    order = list(old_rows) + [k for k in new_rows if k not in old_rows]
    found: list[RowDiff] = []
    for key in order:
        before, after = old_rows.get(key), new_rows.get(key)
        if before is None or after is None:
            status = "added" if before is None else "removed"
            row = after if before is None else before
            cells = frozenset(c for c in columns if _shown(c, row.get(c)) is not None)
            found.append(RowDiff(key, status, before or {}, after or {}, cells))
            continue
        cells = frozenset(
            c for c in columns if _shown(c, before.get(c)) != _shown(c, after.get(c))
        )
        if cells:
            found.append(RowDiff(key, "changed", before, after, cells))
    return found


# --------------------------------------------------------------------------- rendering


def _text(name: str, value: Any) -> str:
    shown = _shown(name, value)
    if shown is None:
        return "—" if name in COUNT_COLUMNS or name in MONEY_COLUMNS else ""
    if name in COUNT_COLUMNS:
        return f"{shown:,}"
    if name in MONEY_COLUMNS:
        return f"{shown:,.2f}"
    return str(shown)


def differences_table(diffs: list[RowDiff], columns: list[str]) -> Component:
    keys = [c for c in columns if c in (PERIOD, PACKAGE)]
    header = html.Thead(html.Tr([html.Th(c, className="text-nowrap") for c in columns]))
    body = []
    for diff in diffs[:MAX_SHOWN_ROWS]:
        cells = []
        for name in columns:
            if name in keys:
                label = dict(zip(keys, diff.key, strict=False)).get(name, "")
                suffix = {"added": " (new row)", "removed": " (row gone)"}.get(diff.status, "")
                cells.append(html.Td(label + suffix, className="text-nowrap"))
            elif name in diff.cells:
                cells.append(html.Td(
                    f"{_text(name, diff.old.get(name))} → {_text(name, diff.new.get(name))}",
                    className="table-warning text-end text-nowrap",
                    **{"data-changed": "true"},
                ))
            else:
                row = diff.new or diff.old
                cells.append(html.Td(_text(name, row.get(name)), className="text-end text-nowrap"))
        body.append(html.Tr(cells))
    return html.Div(
        html.Table([header, html.Tbody(body)], className="table table-sm table-bordered small"),
        className="table-responsive",
        style={"maxHeight": "50vh"},
    )


def compare_with_now(n_clicks: int | None, token: str | None) -> Component:
    """Recompute the snapshot's query for the viewer, with today's data; show what changed."""
    if not n_clicks:
        return no_update
    snapshot = load_snapshot(token)
    viewer = current_account()
    if snapshot is None or viewer is None or not scope_covers(snapshot, viewer):
        return dbc.Alert(NOT_AVAILABLE, color="secondary")
    try:
        now = run_report(snapshot.query(), viewer)
    except ReportError as error:
        return dbc.Alert(error.message, color="danger")
    except Exception:
        log.exception("compare with now failed for snapshot %s…", snapshot.token[:6])
        return dbc.Alert(FAILED, color="danger")
    old = snapshot.frame()
    diffs = frame_differences(old, now.frame)
    note = [] if same_scope(snapshot, viewer) else [html.P(WIDER_SCOPE, className="small mb-1")]
    if not diffs:
        return html.Div([
            dbc.Alert("No differences: today's data gives the same rows.", color="success"),
            *note,
        ])
    cell_count = sum(len(d.cells) for d in diffs)
    summary = (
        f"{cell_count:,} cell{'s' if cell_count != 1 else ''} differ in {len(diffs):,} "
        f"row{'s' if len(diffs) != 1 else ''} (snapshot → now); rows without changes are not "
        "shown."
    )
    if len(diffs) > MAX_SHOWN_ROWS:
        summary += f" The first {MAX_SHOWN_ROWS:,} are shown."
    columns = list(old.columns) + [c for c in now.frame.columns if c not in old.columns]
    return html.Div(
        [html.P(summary, className="mb-1"), *note, differences_table(diffs, columns)]
    )


def register(app: Dash) -> None:
    app.callback(
        Output(VIEW_COMPARE_RESULT, "children"),
        Input(VIEW_COMPARE, "n_clicks"),
        State(VIEW_TOKEN, "data"),
        prevent_initial_call=True,
    )(compare_with_now)
