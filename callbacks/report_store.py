"""The ``REPORT_STORE`` value: the report on screen, for the actions that use "the data on screen".

Exports and charts read it instead of querying again. Its keys:

- ``columns``: the report's column names, in order; ``records``: the rows (``layouts.grid
  .grid_rows``: full precision, an undefined average as null) — exactly the grid's ``rowData``;
- ``params``: the SPEC §5 parameters as the user chose them (with ``preset`` if one was
  chosen), ``query``: the query as run (absolute interval);
- ``currency``, ``tz``, ``data_interval`` ([first, last] local ISO times, or null),
  ``generated_by`` ("role login"), ``generated_at`` (UTC ISO), ``duration_seconds``;
- ``output`` (web, csv, xls, xlsx), ``snapshot`` (the share token, or null), ``share_url``.

It lives in the browser, so a server-side use must treat it as the user's own claim: fine for
exporting what they see, never a source of data for anyone else (share links use the
snapshot the server stored when the report was made).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import pandas as pd

from layouts.grid import grid_rows
from metrics.columns import COUNT_COLUMNS, MONEY_COLUMNS
from metrics.query import query_from_params
from metrics.report import Report


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def report_store_data(
    report: Report,
    params: Mapping[str, Any],
    *,
    output: str = "web",
    snapshot: str | None = None,
    share_url: str | None = None,
) -> dict[str, Any]:
    """The store value of ``report``, made from ``params`` (see the module docstring)."""
    return {
        "columns": [str(c) for c in report.frame.columns],
        "records": grid_rows(report.frame),
        "params": dict(params),
        "query": report.query.to_params(),
        "currency": report.currency,
        "tz": report.query.tz,
        "data_interval": (
            [_iso(report.data_interval[0]), _iso(report.data_interval[1])]
            if report.data_interval
            else None
        ),
        "generated_by": report.generated_by,
        "generated_at": _iso(report.generated_at),
        "duration_seconds": report.duration_seconds,
        "output": output,
        "snapshot": snapshot,
        "share_url": share_url,
    }


def store_frame(data: Mapping[str, Any]) -> pd.DataFrame:
    """The rows of a store value as a report frame: counts int64, money float64, NaN."""
    columns = list(data.get("columns") or [])
    records = list(data.get("records") or [])
    frame = pd.DataFrame([{c: row.get(c) for c in columns} for row in records], columns=columns)
    for name in columns:
        if name in COUNT_COLUMNS:
            frame[name] = pd.to_numeric(frame[name]).fillna(0).astype("int64")
        elif name in MONEY_COLUMNS:
            frame[name] = pd.to_numeric(frame[name], errors="coerce").astype("float64")
    return frame


def report_from_store(data: Mapping[str, Any]) -> Report:
    """The ``Report`` a store value was made from (rows as on screen, metadata as generated)."""
    interval = data.get("data_interval")
    generated_at = data.get("generated_at")
    return Report(
        frame=store_frame(data),
        query=query_from_params(dict(data.get("query") or data.get("params") or {})),
        currency=str(data.get("currency") or ""),
        data_interval=(
            (datetime.fromisoformat(interval[0]), datetime.fromisoformat(interval[1]))
            if interval
            else None
        ),
        generated_by=data.get("generated_by"),
        generated_at=datetime.fromisoformat(generated_at) if generated_at else None,
        duration_seconds=data.get("duration_seconds"),
    )
