"""Actions on the report on screen: Export to CSV / XLSX, and the share link after each query.

An export writes exactly what the grid shows, in the order it shows it, without querying
again: the row order comes from the grid's ``virtualRowData`` (rows after the user's sort),
the columns and the values from ``REPORT_STORE`` (full precision; the writers round money to
2 decimals), the title block from the store's query and metadata.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from dash import Dash, Input, Output, State, ctx, dcc, no_update
from dash.exceptions import PreventUpdate

from callbacks.session import current_account
from exports.files import frame_file_bytes, frame_from_records
from exports.title import FilterNames, report_filename, title_block
from extensions import db
from layouts import ids
from layouts.actions import HIDDEN
from metrics.columns import PACKAGE, PERIOD
from metrics.errors import ReportError
from metrics.query import ReportQuery, query_from_params
from store.options import filter_options
from store.users import AccountInfo

log = logging.getLogger(__name__)

EXPORT_FORMATS = {ids.EXPORT_CSV: "csv", ids.EXPORT_XLSX: "xlsx"}
EXPORT_FAILED = "The file could not be made because of an unexpected problem. It has been logged."
NO_REPORT = "There is no report on screen to export."

Record = Mapping[str, Any]


def _row_key(row: Record) -> tuple[str, str]:
    """The grid's row id (``Period|Package``, see ``dynamicsRowId``) as a tuple."""
    package = row.get(PACKAGE)
    return str(row.get(PERIOD)), "" if package is None else str(package)


def rows_on_screen(
    records: Sequence[Record], virtual_rows: Sequence[Record] | None
) -> list[Record]:
    """The store's ``records`` in the order of the grid's ``virtualRowData``.

    Each shown row is taken from the store (the same row, the values as the report made
    them); without ``virtualRowData`` yet (the grid has not reported it) the store's order is
    the grid's order.
    """
    if virtual_rows is None:
        return list(records)
    by_key = {_row_key(row): row for row in records}
    return [by_key.get(_row_key(row), row) for row in virtual_rows]


def _when(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


def _names(query: ReportQuery, user: AccountInfo) -> FilterNames:
    """Names of the query's filter ids, among the choices the user has (nothing else)."""
    wanted = {"company": query.company_ids, "owner": query.owner_ids,
              "package": query.package_ids}
    names: dict[str, dict[int, str]] = {}
    for kind, chosen in wanted.items():
        if chosen:
            options = filter_options(db.engine, user, kind)
            names[kind] = {int(o.value): o.label for o in options if o.value in chosen}
    return names


def store_title(store: Mapping[str, Any], query: ReportQuery, user: AccountInfo
                ) -> dict[str, str]:
    """The spreadsheets' title block of the report on screen, from the store's metadata."""
    interval = store.get("data_interval")
    data_interval = None
    if isinstance(interval, Sequence) and len(interval) == 2 and all(interval):
        first, last = _when(interval[0]), _when(interval[1])
        data_interval = (first, last) if first and last else None
    duration = store.get("duration_seconds")
    return title_block(
        query,
        currency=str(store.get("currency") or ""),
        data_interval=data_interval,
        generated_by=store.get("generated_by"),
        generated_at=_when(store.get("generated_at")),
        duration_seconds=float(duration) if isinstance(duration, (int, float)) else None,
        names=_names(query, user),
    )


def export_file(
    store: Mapping[str, Any], virtual_rows: Sequence[Record] | None, fmt: str,
    user: AccountInfo,
) -> tuple[bytes, str]:
    """(content, file name) of the report on screen in ``fmt`` (``csv`` or ``xlsx``)."""
    query = query_from_params(dict(store.get("query") or store.get("params") or {}))
    records = rows_on_screen(list(store.get("records") or []), virtual_rows)
    frame = frame_from_records(records, [str(c) for c in store.get("columns") or []])
    stem = report_filename(query, fmt).removesuffix(f".{fmt}")
    content, _mimetype, filename = frame_file_bytes(
        frame, fmt, title=store_title(store, query, user), filename=stem
    )
    return content, filename


def export_on_screen(
    _csv: int | None,
    _xlsx: int | None,
    virtual_rows: list[dict[str, Any]] | None,
    store: Mapping[str, Any] | None,
) -> tuple[Any, str]:
    """Outputs: the download, the error message."""
    fmt = EXPORT_FORMATS.get(ctx.triggered_id)  # type: ignore[arg-type]
    if fmt is None or not ctx.triggered or not ctx.triggered[0].get("value"):
        raise PreventUpdate
    user = current_account()
    if user is None:  # the login requirement answers anonymous requests before this
        raise PreventUpdate
    if not store or not store.get("columns"):
        return no_update, NO_REPORT
    try:
        content, filename = export_file(store, virtual_rows, fmt, user)
    except ReportError as error:
        return no_update, error.message[:1].upper() + error.message[1:]
    except Exception:
        log.exception("export to %s failed for user %s", fmt, user.login)
        return no_update, EXPORT_FAILED
    return dcc.send_bytes(content, filename), ""


def report_on_screen(store: Mapping[str, Any] | None) -> tuple[bool, bool, str, dict, str]:
    """Outputs: Export to CSV disabled, Export to XLSX disabled, share link, its group's style,
    the export message (cleared: a new report is on screen)."""
    if not store or not store.get("columns"):
        return True, True, "", HIDDEN, ""
    link = store.get("share_url") or ""
    return False, False, link, ({} if link else HIDDEN), ""


def register(app: Dash) -> None:
    # prevent_initial_call: the page starts with no report (buttons disabled, no link); the
    # snapshot page's own store (layouts/view.py) never changes, so these never run there.
    app.callback(
        Output(ids.EXPORT_CSV, "disabled"),
        Output(ids.EXPORT_XLSX, "disabled"),
        Output(ids.SHARE_LINK, "value"),
        Output(ids.SHARE_LINK_GROUP, "style"),
        Output(ids.EXPORT_ERROR, "children"),
        Input(ids.REPORT_STORE, "data"),
        prevent_initial_call=True,
    )(report_on_screen)
    app.callback(
        Output(ids.EXPORT_DOWNLOAD, "data"),
        Output(ids.EXPORT_ERROR, "children", allow_duplicate=True),
        Input(ids.EXPORT_CSV, "n_clicks"),
        Input(ids.EXPORT_XLSX, "n_clicks"),
        State(ids.REPORT_GRID, "virtualRowData"),
        State(ids.REPORT_STORE, "data"),
        prevent_initial_call=True,
    )(export_on_screen)
