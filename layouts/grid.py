"""The report grid (dash-ag-grid), shared by the dashboard and the snapshot page.

``report_grid(report, grid_id)`` builds the grid of a ``Report``; ``records_grid(columns, rows,
grid_id)`` that of rows already in JSON form (``grid_rows``). Formatting happens in the browser
(``assets/dashAgGridFunctions.js``) so that the rows keep full precision and sort as numbers:
counts with thousands separators, money with 2 decimals (half away from zero, as the files),
negative money in red, an undefined average as "—".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import dash_ag_grid as dag
import pandas as pd

from layouts import ids
from metrics.columns import COUNT_COLUMNS, GROUPS, MONEY_COLUMNS, PACKAGE, PERIOD
from metrics.report import Report

# Below this many rows the grid takes the height of its rows; above, a fixed height whose rows
# AG Grid virtualises (a daily report over years has thousands).
AUTO_HEIGHT_MAX_ROWS = 20
FIXED_HEIGHT = "70vh"


def _value_column(name: str, leaf: str) -> dict[str, Any]:
    column: dict[str, Any] = {
        "field": name,
        "colId": name,
        "headerName": leaf,
        "headerTooltip": name,
        "type": "rightAligned",
        "cellDataType": "number",
    }
    if name in COUNT_COLUMNS:
        column["valueFormatter"] = {"function": "dynamicsCount(params.value)"}
        column["minWidth"] = 70
    else:
        column["valueFormatter"] = {"function": "dynamicsMoney(params.value)"}
        column["cellClassRules"] = {"dyn-negative": "dynamicsIsNegative(params.value)"}
        column["minWidth"] = 100
    return column


def column_defs(columns: Sequence[str]) -> list[dict[str, Any]]:
    """Two-level column definitions of a report's columns (SPEC §4), in SPEC order."""
    present = set(columns)
    defs: list[dict[str, Any]] = []
    for label in (PERIOD, PACKAGE):
        if label in present:
            defs.append(
                {
                    "field": label,
                    "colId": label,
                    "headerName": label,
                    "pinned": "left",
                    "cellDataType": "text",
                    "minWidth": 110,
                    "cellClass": "dyn-label",
                }
            )
    for group, leaves in GROUPS:
        children = [
            _value_column(f"{group}: {leaf}", leaf)
            for leaf in leaves
            if f"{group}: {leaf}" in present
        ]
        if children:
            defs.append({"headerName": group, "groupId": group, "marryChildren": True,
                         "headerClass": "dyn-group-header", "children": children})
    return defs


def _json_value(name: str, value: Any) -> Any:
    if value is None:
        return None
    if name in COUNT_COLUMNS:
        return None if pd.isna(value) else int(value)
    if name in MONEY_COLUMNS:
        number = float(value)
        return number if math.isfinite(number) else None
    if not isinstance(value, str) and pd.isna(value):
        return None
    return value.item() if hasattr(value, "item") else value


def grid_rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows of a report frame as JSON-ready dicts, full precision, NaN as None."""
    names = [str(c) for c in frame.columns]
    return [
        {name: _json_value(name, value) for name, value in zip(names, row, strict=True)}
        for row in frame.itertuples(index=False, name=None)
    ]


def records_grid(
    columns: Sequence[str], rows: list[dict[str, Any]], grid_id: str | dict = ids.REPORT_GRID
) -> dag.AgGrid:
    """The grid of ``rows`` (``grid_rows`` dicts) with the report ``columns``."""
    auto_height = len(rows) <= AUTO_HEIGHT_MAX_ROWS
    options: dict[str, Any] = {
        "suppressColumnVirtualisation": True,  # 23 columns: render all, tests and copy see them
        "enableCellTextSelection": True,
        "ensureDomOrder": True,
        "tooltipShowDelay": 300,
        "animateRows": False,
    }
    if auto_height:
        options["domLayout"] = "autoHeight"
    return dag.AgGrid(
        id=grid_id,
        columnDefs=column_defs(columns),
        rowData=rows,
        defaultColDef={"sortable": True, "resizable": True, "suppressMovable": True,
                       "filter": False},
        dashGridOptions=options,
        # "Period|Package": stable row ids, so that sorting and tests can name a row.
        getRowId="dynamicsRowId(params)",
        columnSize="autoSize",
        className="dyn-report-grid",
        style={"height": None if auto_height else FIXED_HEIGHT, "width": "100%"},
    )


def report_grid(report: Report, grid_id: str | dict = ids.REPORT_GRID) -> dag.AgGrid:
    """The grid of ``report``'s rows."""
    return records_grid([str(c) for c in report.frame.columns], grid_rows(report.frame), grid_id)
