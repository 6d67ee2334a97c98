"""Report files of SPEC §4: CSV, XLSX (openpyxl) and XLS (xlwt), as bytes.

Each writer has two entry points: ``<fmt>_bytes(report)`` for a freshly computed ``Report``,
and ``<fmt>_from_frame(frame, title=…)`` for the data on screen (the grid's records, in the
order the user sorted them), which has no ``Report`` object behind it.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
import xlwt
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.cell_range import CellRange

from exports.cells import (
    COUNT,
    MONEY,
    column_kind,
    count_value,
    neutralise,
    round_money,
    text_value,
)
from exports.title import REPORT_NAME, FilterNames, report_filename, report_title
from metrics.columns import COUNT_COLUMNS, MONEY_COLUMNS, report_columns, split_column
from metrics.errors import ReportError
from metrics.report import Report

FORMATS = ("csv", "xlsx", "xls")
MIMETYPES = {
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "xls": "application/vnd.ms-excel",
}
MONEY_FORMAT = "#,##0.00"
COUNT_FORMAT = "#,##0"
SHEET_NAME = REPORT_NAME
XLS_MAX_ROWS = 65_536
XLSX_MAX_ROWS = 1_048_576
XLS_MAX_TEXT = 32_767
MIN_WIDTH = 8
MAX_WIDTH = 50


class ExportError(ReportError):
    """The report cannot be written in the asked format (e.g. too many rows for XLS)."""


# --------------------------------------------------------------------------- shared layout


@dataclass(frozen=True)
class _Layout:
    """Where the title block, the two header rows and the data go (0-based rows/columns)."""

    columns: list[str]
    kinds: list[str]
    title: list[tuple[str, str]]
    header_row: int  # first of the two header rows
    # (text, first column, last column) of the upper header row; label columns span both rows.
    groups: list[tuple[str, int, int]]
    label_columns: list[int]
    leaves: list[str]
    widths: list[int]

    @property
    def data_row(self) -> int:
        return self.header_row + 2

    @property
    def frozen_columns(self) -> int:
        # Freeze the leading label columns (Period, Package) so they stay beside the numbers.
        count = 0
        for index in range(len(self.columns)):
            if index in self.label_columns:
                count += 1
            else:
                break
        return count


def _title_rows(title: Mapping[str, str] | None) -> list[tuple[str, str]]:
    if title is None:
        return []
    return [(REPORT_NAME, ""), *((str(k), str(v)) for k, v in title.items())]


def _layout(frame: pd.DataFrame, title: Mapping[str, str] | None) -> _Layout:
    columns = [str(c) for c in frame.columns]
    kinds = [column_kind(c) for c in columns]
    title_rows = _title_rows(title)
    header_row = len(title_rows) + 1 if title_rows else 0  # a blank row under the title block
    groups: list[tuple[str, int, int]] = []
    label_columns: list[int] = []
    leaves: list[str] = []
    for index, name in enumerate(columns):
        group, leaf = split_column(name)
        leaves.append(leaf)
        if not group:
            label_columns.append(index)
            groups.append((leaf, index, index))
        elif (
            groups
            and groups[-1][0] == group
            and groups[-1][2] == index - 1
            and (index - 1 not in label_columns)
        ):
            groups[-1] = (group, groups[-1][1], index)
        else:
            groups.append((group, index, index))
    widths = [_width(frame[name], kind, leaf) for name, kind, leaf in zip(columns, kinds, leaves, strict=False)]
    # A group name wider than its leaves together widens its leaves evenly.
    for group, first, last in groups:
        span = last - first + 1
        missing = len(group) + 2 - sum(widths[first : last + 1])
        if missing > 0:
            for index in range(first, last + 1):
                widths[index] += -(-missing // span)
    if title_rows and widths:
        widths[0] = max(widths[0], min(MAX_WIDTH, max(len(label) for label, _ in title_rows) + 2))
    return _Layout(columns, kinds, title_rows, header_row, groups, label_columns, leaves, widths)


def _width(series: pd.Series, kind: str, leaf: str) -> int:
    """Characters needed to read the column's longest value as displayed."""
    longest = len(leaf)
    values = pd.to_numeric(series, errors="coerce") if kind in (COUNT, MONEY) else series
    if len(values):
        if kind in (COUNT, MONEY):
            numbers = values.dropna()
            if len(numbers):
                biggest = float(numbers.abs().max())
                shown = f"{biggest:,.2f}" if kind == MONEY else f"{biggest:,.0f}"
                longest = max(longest, len(shown) + (1 if (numbers < 0).any() else 0))
        else:
            longest = max(longest, int(values.map(lambda v: len(str(v))).max()))
    return max(MIN_WIDTH, min(MAX_WIDTH, longest + 2))


def _cells(frame: pd.DataFrame, kinds: Sequence[str]) -> Iterator[list[Any]]:
    """Each row's values as the spreadsheets store them: int counts, 2-decimal floats, text."""
    for row in frame.itertuples(index=False, name=None):
        values: list[Any] = []
        for kind, value in zip(kinds, row, strict=False):
            if kind == COUNT:
                values.append(count_value(value))
            elif kind == MONEY:
                cents = round_money(value)
                values.append(None if cents is None else float(cents))
            else:
                values.append(text_value(value))
        yield values


def _check_rows(frame: pd.DataFrame, layout: _Layout, limit: int, fmt: str) -> None:
    if layout.data_row + len(frame) > limit:
        raise ExportError(
            f"the report has {len(frame):,} rows, more than {fmt.upper()} can hold; "
            "choose CSV or XLSX, a coarser grain or a shorter interval"
        )


# --------------------------------------------------------------------------- CSV


def csv_from_frame(frame: pd.DataFrame, *, bom: bool = True) -> bytes:
    """The frame as SPEC §4 CSV: header row first, '.' decimals, money with 2 decimals."""
    kinds = [column_kind(str(c)) for c in frame.columns]
    lines = [",".join(_csv_field(str(c)) for c in frame.columns)]
    lines.extend(",".join(_csv_field(v) for v in values) for values in _csv_rows(frame, kinds))
    return ("\ufeff" if bom else "").encode() + "".join(f"{line}\n" for line in lines).encode()


def _csv_field(text: str) -> str:
    # RFC 4180 quoting, done here because the csv module leaves a bare "\r" unquoted when
    # the line ends in "\n", and a reader would split the row there.
    if any(c in text for c in ',"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


def _csv_rows(frame: pd.DataFrame, kinds: Sequence[str]) -> Iterator[list[str]]:
    for row in frame.itertuples(index=False, name=None):
        values: list[str] = []
        for kind, value in zip(kinds, row, strict=False):
            if kind == COUNT:
                count = count_value(value)
                values.append("" if count is None else str(count))
            elif kind == MONEY:
                cents = round_money(value)
                values.append("" if cents is None else format(cents, "f"))
            else:
                text = text_value(value)
                values.append(text if isinstance(text, str) else _plain_number(text))
        yield values


def _plain_number(value: float) -> str:
    return str(value) if isinstance(value, int) else repr(value)


def csv_bytes(report: Report, *, bom: bool = True) -> bytes:
    """The report as CSV (no title block: the header row is the first line)."""
    return csv_from_frame(report.frame, bom=bom)


# --------------------------------------------------------------------------- XLSX


def _xlsx_text(value: str) -> str:
    return ILLEGAL_CHARACTERS_RE.sub("", value)


def xlsx_from_frame(frame: pd.DataFrame, title: Mapping[str, str] | None = None) -> bytes:
    """The frame as an XLSX workbook: title block, merged two-level header, frozen panes."""
    layout = _layout(frame, title)
    _check_rows(frame, layout, XLSX_MAX_ROWS, "xlsx")
    # Write-only mode streams the rows: a 100,000-row report stays within memory.
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(SHEET_NAME)
    for index, width in enumerate(layout.widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    if layout.columns:
        sheet.freeze_panes = f"{get_column_letter(layout.frozen_columns + 1)}{layout.data_row + 1}"

    bold = Font(bold=True)
    thin = Side(style="thin", color="999999")
    header_style = {
        "font": bold,
        "alignment": Alignment(horizontal="center", vertical="center", wrap_text=True),
        "fill": PatternFill("solid", fgColor="DDE3EA"),
        "border": Border(left=thin, right=thin, top=thin, bottom=thin),
    }

    def cell(value: Any, **style: Any) -> WriteOnlyCell:
        if isinstance(value, str):
            value = _xlsx_text(value)
        made = WriteOnlyCell(sheet, value=value)
        if isinstance(value, str):
            made.data_type = "s"  # never a formula, whatever the text
        for name, setting in style.items():
            setattr(made, name, setting)
        return made

    for number, (label, value) in enumerate(layout.title):
        if number == 0:
            sheet.append([cell(neutralise(label), font=Font(bold=True, size=14))])
        else:
            sheet.append([cell(neutralise(label), font=bold), cell(neutralise(value))])
    if layout.title:
        sheet.append([])

    upper: list[Any] = [None] * len(layout.columns)
    lower: list[Any] = [None] * len(layout.columns)
    for text, first, last in layout.groups:
        upper[first] = cell(neutralise(text), **header_style)
        for index in range(first + 1, last + 1):
            upper[index] = cell(None, **header_style)
        if first in layout.label_columns:
            lower[first] = cell(None, **header_style)
        else:
            for index in range(first, last + 1):
                lower[index] = cell(neutralise(layout.leaves[index]), **header_style)
    sheet.append(upper)
    sheet.append(lower)
    top = layout.header_row + 1  # 1-based
    for _text, first, last in layout.groups:
        bottom = top + 1 if first in layout.label_columns else top
        if bottom > top or last > first:
            sheet.merged_cells.add(
                CellRange(min_col=first + 1, min_row=top, max_col=last + 1, max_row=bottom)
            )

    number_formats = {COUNT: COUNT_FORMAT, MONEY: MONEY_FORMAT}
    for values in _cells(frame, layout.kinds):
        row = []
        for kind, value in zip(layout.kinds, values, strict=False):
            if value is None or value == "":
                row.append(None)
            elif kind in number_formats:
                row.append(cell(value, number_format=number_formats[kind]))
            else:
                row.append(cell(value))
        sheet.append(row)

    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def xlsx_bytes(report: Report, *, names: FilterNames | None = None) -> bytes:
    """The report as XLSX, with its title block."""
    return xlsx_from_frame(report.frame, title=report_title(report, names))


# --------------------------------------------------------------------------- XLS


def _xls_text(value: str) -> str:
    return value[:XLS_MAX_TEXT]


def xls_from_frame(frame: pd.DataFrame, title: Mapping[str, str] | None = None) -> bytes:
    """The frame as an XLS (BIFF8) workbook: title block, merged header, frozen panes."""
    layout = _layout(frame, title)
    _check_rows(frame, layout, XLS_MAX_ROWS, "xls")
    workbook = xlwt.Workbook(encoding="utf-8")
    sheet = workbook.add_sheet(SHEET_NAME)
    for index, width in enumerate(layout.widths):
        sheet.col(index).width = min(256 * width, 65_535)

    heading = xlwt.easyxf("font: bold on, height 280")
    label_style = xlwt.easyxf("font: bold on")
    plain = xlwt.easyxf("")
    header = xlwt.easyxf(
        "font: bold on; align: horiz centre, vert centre, wrap on; "
        "pattern: pattern solid, fore_colour pale_blue; "
        "borders: left thin, right thin, top thin, bottom thin"
    )
    money = xlwt.easyxf("", num_format_str=MONEY_FORMAT)
    count = xlwt.easyxf("", num_format_str=COUNT_FORMAT)

    for number, (label, value) in enumerate(layout.title):
        if number == 0:
            sheet.write(0, 0, _xls_text(neutralise(label)), heading)
        else:
            sheet.write(number, 0, _xls_text(neutralise(label)), label_style)
            sheet.write(number, 1, _xls_text(neutralise(value)), plain)

    top = layout.header_row
    for text, first, last in layout.groups:
        bottom = top + 1 if first in layout.label_columns else top
        label = _xls_text(neutralise(text))
        if bottom > top or last > first:
            sheet.write_merge(top, bottom, first, last, label, header)
        else:
            sheet.write(top, first, label, header)
        if bottom == top:
            for index in range(first, last + 1):
                sheet.write(top + 1, index, _xls_text(neutralise(layout.leaves[index])), header)

    styles = {COUNT: count, MONEY: money}
    for offset, values in enumerate(_cells(frame, layout.kinds)):
        row = sheet.row(layout.data_row + offset)
        for index, (kind, value) in enumerate(zip(layout.kinds, values, strict=False)):
            if value is None or value == "":
                continue
            if isinstance(value, str):
                row.write(index, _xls_text(value), plain)
            else:
                row.write(index, value, styles.get(kind, plain))

    if layout.columns:
        sheet.set_panes_frozen(True)
        sheet.set_horz_split_pos(layout.data_row)
        sheet.set_vert_split_pos(layout.frozen_columns)
        sheet.set_remove_splits(True)

    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def xls_bytes(report: Report, *, names: FilterNames | None = None) -> bytes:
    """The report as XLS, with its title block."""
    return xls_from_frame(report.frame, title=report_title(report, names))


# --------------------------------------------------------------------------- by format


def _check_format(fmt: str) -> str:
    fmt = (fmt or "").strip().lower()
    if fmt not in FORMATS:
        raise ExportError(f"unknown file format {fmt!r} (use csv, xlsx or xls)")
    return fmt


def frame_file_bytes(
    frame: pd.DataFrame,
    fmt: str,
    *,
    title: Mapping[str, str] | None = None,
    filename: str = "customer-dynamics",
) -> tuple[bytes, str, str]:
    """(content, MIME type, file name) of the frame in ``fmt``; ``filename`` without extension."""
    fmt = _check_format(fmt)
    if fmt == "csv":
        content = csv_from_frame(frame)
    elif fmt == "xlsx":
        content = xlsx_from_frame(frame, title)
    else:
        content = xls_from_frame(frame, title)
    return content, MIMETYPES[fmt], f"{filename}.{fmt}"


def file_bytes(
    report: Report, fmt: str, *, names: FilterNames | None = None
) -> tuple[bytes, str, str]:
    """(content, MIME type, file name) of the report in ``fmt`` (csv, xlsx or xls)."""
    fmt = _check_format(fmt)
    stem = report_filename(report.query, fmt).rsplit(".", 1)[0]
    return frame_file_bytes(report.frame, fmt, title=report_title(report, names), filename=stem)


def frame_from_records(
    records: Iterable[Mapping[str, Any]], columns: Sequence[str] | None = None
) -> pd.DataFrame:
    """A report frame from the grid's records (JSON rows), in their order.

    ``columns`` default: the SPEC §3 columns present in the records (with ``Package`` only
    when the records have it). Numbers arrive as JSON numbers or null; null becomes NaN.
    """
    rows = list(records)
    if columns is None:
        present = set().union(*(row.keys() for row in rows)) if rows else set()
        columns = [c for c in report_columns("Package" in present) if not rows or c in present]
    frame = pd.DataFrame([{c: row.get(c) for c in columns} for row in rows], columns=list(columns))
    for name in frame.columns:
        if name in COUNT_COLUMNS:
            frame[name] = pd.to_numeric(frame[name], errors="coerce").astype("Int64")
        elif name in MONEY_COLUMNS:
            frame[name] = pd.to_numeric(frame[name], errors="coerce").astype("float64")
    return frame.reset_index(drop=True)
