"""Browser tests of the actions on the report on screen: ``pytest -k act``.

Export to CSV / XLSX (the data on screen, in the order on screen), Output Type CSV with
Query, the share link after a query and the snapshot page it opens (with its charts), and
Save Query / Load Query on the dashboard. Downloaded files are read back (pandas, openpyxl)
and compared cell by cell with the engine's frame for the same parameters.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import openpyxl
import pandas as pd
import pytest
from selenium.webdriver.common.by import By

from extensions import db
from layouts import ids
from layouts import templates as saved_queries
from metrics.columns import COUNT_COLUMNS, GROUPS, MONEY_COLUMNS
from metrics.query import query_from_params
from store.reports import run_report
from store.snapshots import TOKEN_LENGTH, load_snapshot
from store.users import load_user_by_login
from tests.dashboard_seed import ADMIN, R1A
from tests.integration.conftest import (
    choose,
    current_params,
    log_in,
    open_path,
    tick,
    ticked,
    wait_until,
)
from tests.integration.test_charts import show_chart, wait_for_figure
from tests.integration.test_dashboard import fill_interval, run_query

pytestmark = pytest.mark.browser

MONTH_BY_PACKAGE_EUR = {
    "from": "2025-01-01", "to": "2025-04-01", "tz": "UTC", "group": ["month", "package"],
    "currency": "EUR",
}
MONTH_USD = {"from": "2025-01-01", "to": "2025-04-01", "tz": "UTC", "group": ["month"]}
CSV_NAME = "customer-dynamics_2025-01-01_2025-04-01.csv"
XLSX_NAME = "customer-dynamics_2025-01-01_2025-04-01.xlsx"

# Row index -> column id -> shown text, of every rendered row of a grid (one script: a row is
# split between the pinned and the scrolled part of the grid).
ROWS_BY_INDEX_SCRIPT = """
const rows = {};
for (const row of document.querySelectorAll(arguments[0] + ' .ag-row[row-index]')) {
    const cells = rows[row.getAttribute('row-index')] ||= {};
    for (const cell of row.querySelectorAll('.ag-cell[col-id]')) {
        cells[cell.getAttribute('col-id')] = cell.innerText.trim();
    }
}
return rows;
"""
ROW_IDS_SCRIPT = """
return Array.from(document.querySelectorAll(
    arguments[0] + ' .ag-pinned-left-cols-container .ag-row[row-id]'))
  .sort((a, b) => Number(a.getAttribute('row-index')) - Number(b.getAttribute('row-index')))
  .map(row => row.getAttribute('row-id'));
"""


# --------------------------------------------------------------------------- helpers


def engine_frame(app, login: str, params: dict) -> pd.DataFrame:
    with app.server.app_context():
        user = load_user_by_login(db.engine, login)
        return run_report(query_from_params(params), user).frame


def is_missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def cents(value) -> Decimal:
    """Money as the files must hold it: 2 decimals, half away from zero, never -0.00."""
    rounded = Decimal(repr(float(value))).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return rounded + 0 if rounded else Decimal("0.00")


def csv_text(column: str, value) -> str:
    """How the CSV must write an engine value (SPEC §4)."""
    if column in COUNT_COLUMNS:
        return str(int(value))
    if column in MONEY_COLUMNS:
        return "" if is_missing(value) else str(cents(value))
    return str(value)


def expected_csv(frame: pd.DataFrame) -> list[dict[str, str]]:
    return [{c: csv_text(c, v) for c, v in row.items()} for row in frame.to_dict("records")]


def read_csv(path: Path) -> list[dict[str, str]]:
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    return frame.to_dict("records")


def downloads(dash_duo) -> set[Path]:
    return set(Path(dash_duo.download_path).iterdir())


def wait_for_download(dash_duo, name: str, before: set[Path], timeout: float = 20) -> Path:
    """The new file ``name`` of the browser's download folder, once completely written."""
    folder = Path(dash_duo.download_path)
    found: dict[str, Path] = {}

    def complete() -> bool:
        paths = set(folder.iterdir()) - before
        if any(p.suffix == ".crdownload" for p in paths):
            return False
        named = [p for p in paths if p.name == name]
        if not named or named[0].stat().st_size == 0:
            return False
        found["path"] = named[0]
        return True

    try:
        wait_until(complete, timeout)
    except Exception as error:
        raise AssertionError(
            f"{name} was not downloaded; the folder holds {sorted(folder.iterdir())}"
        ) from error
    return found["path"]


def click_and_download(dash_duo, selector: str, name: str) -> Path:
    before = downloads(dash_duo)
    dash_duo.find_element(selector).click()
    return wait_for_download(dash_duo, name, before)


def rows_by_index(dash_duo) -> dict[str, dict[str, str]]:
    return dash_duo.driver.execute_script(ROWS_BY_INDEX_SCRIPT, f"#{ids.REPORT_GRID}")


def row_ids_on_screen(dash_duo) -> list[str]:
    return dash_duo.driver.execute_script(ROW_IDS_SCRIPT, f"#{ids.REPORT_GRID}")


def query_month_by_package_eur(dash_duo) -> None:
    fill_interval(dash_duo, "2025-01-01", "2025-04-01")
    choose(dash_duo, f"#{ids.INTERVAL_TZ}", "UTC")
    tick(dash_duo, ids.GROUP_BY, "Month")
    tick(dash_duo, ids.GROUP_BY, "Package Name")
    choose(dash_duo, f"#{ids.CURRENCY}", "EUR")
    run_query(dash_duo)


def wait_enabled(dash_duo, selector: str) -> None:
    wait_until(lambda: dash_duo.find_element(selector).is_enabled())


# --------------------------------------------------------------------------- tests


def test_act001_export_csv_holds_the_engine_report(dashboard, seeded_app):
    log_in(dashboard, ADMIN)
    for button in (ids.EXPORT_CSV, ids.EXPORT_XLSX):  # no report on screen yet
        assert not dashboard.find_element(f"#{button}").is_enabled()
    assert not dashboard.find_element(f"#{ids.SHARE_LINK_GROUP}").is_displayed()

    query_month_by_package_eur(dashboard)
    wait_enabled(dashboard, f"#{ids.EXPORT_CSV}")
    assert dashboard.find_element(f"#{ids.EXPORT_XLSX}").is_enabled()
    path = click_and_download(dashboard, f"#{ids.EXPORT_CSV}", CSV_NAME)

    frame = engine_frame(seeded_app, ADMIN, MONTH_BY_PACKAGE_EUR)
    rows = read_csv(path)
    assert list(rows[0]) == list(frame.columns)
    assert rows == expected_csv(frame)
    # Full precision up to the writer: -1,054,529.2575 EUR is -1054529.26, not …25.
    assert rows[3]["Clients - All: Balance"] == "-1054529.26"
    assert rows[3]["Pay As You Go: Total"] == "2083333.33"
    assert rows[1]["Balance Refill: Avg"] == ""  # undefined average: empty cell
    assert path.read_bytes().startswith(b"\xef\xbb\xbfPeriod,Package,")
    assert dashboard.find_element(f"#{ids.EXPORT_ERROR}").text == ""
    assert dashboard.get_logs() == []


def test_act002_export_csv_follows_the_order_on_screen(dashboard, seeded_app):
    log_in(dashboard, ADMIN)
    fill_interval(dashboard, "2025-01-01", "2025-04-01")
    choose(dashboard, f"#{ids.INTERVAL_TZ}", "UTC")
    tick(dashboard, ids.GROUP_BY, "Month")
    run_query(dashboard)
    wait_until(lambda: row_ids_on_screen(dashboard) == ["2025-01|", "2025-02|", "2025-03|"])

    column = "Clients - All: Balance"  # 1,234,619.89 / -1,265,397.51 / -1,265,347.51
    header = f"#{ids.REPORT_GRID} .ag-header-cell[col-id='{column}'] .ag-header-cell-label"
    dashboard.find_element(header).click()  # ascending
    wait_until(lambda: row_ids_on_screen(dashboard) == ["2025-02|", "2025-03|", "2025-01|"])
    path = click_and_download(dashboard, f"#{ids.EXPORT_CSV}", CSV_NAME)

    frame = engine_frame(seeded_app, ADMIN, MONTH_USD)
    by_period = {row["Period"]: row for row in expected_csv(frame)}
    rows = read_csv(path)
    assert [r["Period"] for r in rows] == ["2025-02", "2025-03", "2025-01"]
    assert rows == [by_period[p] for p in ("2025-02", "2025-03", "2025-01")]

    dashboard.find_element(header).click()  # descending: the next export follows again
    wait_until(lambda: row_ids_on_screen(dashboard) == ["2025-01|", "2025-03|", "2025-02|"])
    path.unlink()  # the browser would write the same name again
    again = click_and_download(dashboard, f"#{ids.EXPORT_CSV}", CSV_NAME)
    assert [r["Period"] for r in read_csv(again)] == ["2025-01", "2025-03", "2025-02"]
    assert dashboard.get_logs() == []


def test_act003_export_xlsx_has_the_merged_header_and_numeric_cells(dashboard, seeded_app):
    log_in(dashboard, ADMIN)
    query_month_by_package_eur(dashboard)
    wait_enabled(dashboard, f"#{ids.EXPORT_XLSX}")
    path = click_and_download(dashboard, f"#{ids.EXPORT_XLSX}", XLSX_NAME)

    sheet = openpyxl.load_workbook(path).active
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert values[0][0] == "Customer Dynamics"
    title = {row[0]: row[1] for row in values[1:] if row[0] and row[0] != "Period"}
    assert title["Interval"] == "2025-01-01 00:00 to 2025-04-01 00:00 (UTC), end excluded"
    assert title["Currency"] == "EUR"
    assert title["Group by"] == "month, package"
    assert title["Generated by"] == f"admin {ADMIN}"

    top = next(i for i, row in enumerate(values, start=1) if row[0] == "Period")
    frame = engine_frame(seeded_app, ADMIN, MONTH_BY_PACKAGE_EUR)
    columns = list(frame.columns)
    merged = {str(r) for r in sheet.merged_cells.ranges}
    assert f"A{top}:A{top + 1}" in merged and f"B{top}:B{top + 1}" in merged
    upper = values[top - 1]
    lower = values[top]
    column = 2  # 0-based: after Period and Package
    for group, leaves in GROUPS:
        first = openpyxl.utils.get_column_letter(column + 1)
        last = openpyxl.utils.get_column_letter(column + len(leaves))
        assert upper[column] == group
        assert f"{first}{top}:{last}{top}" in merged
        assert lower[column:column + len(leaves)] == list(leaves)
        column += len(leaves)
    assert sheet.freeze_panes == f"C{top + 2}"

    data = list(sheet.iter_rows(min_row=top + 2))
    assert len(data) == len(frame)
    for cells, record in zip(data, frame.to_dict("records"), strict=True):
        for cell, name in zip(cells, columns, strict=True):
            value = record[name]
            if name in COUNT_COLUMNS:
                assert (cell.value, cell.number_format) == (int(value), "#,##0"), name
                assert isinstance(cell.value, int)
            elif name in MONEY_COLUMNS:
                expected = None if is_missing(value) else float(cents(value))
                assert cell.value == expected, (name, cell.value, value)
                if expected is not None:  # a number (0.0 reads back as the int 0)
                    assert isinstance(cell.value, (int, float)), (name, cell.value)
                    assert cell.number_format == "#,##0.00", name
            else:
                assert cell.value == value
    assert dashboard.get_logs() == []


def test_act004_output_type_csv_downloads_the_file_and_shows_the_grid(dashboard, seeded_app):
    log_in(dashboard, R1A)
    fill_interval(dashboard, "2025-01-01", "2025-04-01")
    choose(dashboard, f"#{ids.INTERVAL_TZ}", "UTC")
    tick(dashboard, ids.GROUP_BY, "Month")
    choose(dashboard, f"#{ids.OUTPUT_TYPE}", "CSV")
    before = downloads(dashboard)
    run_query(dashboard)
    path = wait_for_download(dashboard, CSV_NAME, before)
    dashboard.wait_for_contains_text(f"#{ids.QUERY_STATUS}", f"{CSV_NAME} is downloading.")

    frame = engine_frame(seeded_app, R1A, MONTH_USD)
    assert read_csv(path) == expected_csv(frame)
    assert row_ids_on_screen(dashboard) == ["2025-01|", "2025-02|", "2025-03|"]
    shown = rows_by_index(dashboard)
    assert [shown[str(i)]["Clients - All: Qty"] for i in range(3)] == [
        str(v) for v in frame["Clients - All: Qty"]
    ]
    assert dashboard.get_logs() == []


def test_act005_the_share_link_opens_the_same_rows(dashboard, seeded_app):
    log_in(dashboard, ADMIN)
    query_month_by_package_eur(dashboard)
    link_input = f"#{ids.SHARE_LINK}"
    wait_until(lambda: dashboard.find_element(link_input).get_attribute("value"))
    assert dashboard.find_element(f"#{ids.SHARE_LINK_GROUP}").is_displayed()
    assert dashboard.find_element(link_input).get_attribute("readonly") is not None
    assert dashboard.find_elements(f"#{ids.SHARE_LINK_COPY}")  # the copy button
    link = dashboard.find_element(link_input).get_attribute("value")
    parts = urlsplit(link)
    (token,) = parse_qs(parts.query)["id"]
    assert f"{parts.scheme}://{parts.netloc}" == seeded_app.server.config["BASE_URL"]
    assert parts.path == "/view" and len(token) == TOKEN_LENGTH
    with seeded_app.server.app_context():
        assert load_snapshot(token) is not None
    wait_until(lambda: len(rows_by_index(dashboard)) == 6)
    on_dashboard = rows_by_index(dashboard)

    # A second query makes a second snapshot, with its own link.
    tick(dashboard, ids.GROUP_BY, "Package Name")
    run_query(dashboard)
    wait_until(lambda: dashboard.find_element(link_input).get_attribute("value") != link)

    open_path(dashboard, f"{parts.path}?{parts.query}")  # the link, on the test server
    dashboard.wait_for_element(f"#{ids.REPORT_GRID} .ag-row")
    wait_until(lambda: rows_by_index(dashboard) == on_dashboard)
    assert dashboard.get_logs() == []


def test_act006_the_snapshot_page_charts_its_rows(dashboard, seeded_app):
    log_in(dashboard, ADMIN)
    fill_interval(dashboard, "2025-01-01", "2025-04-01")
    choose(dashboard, f"#{ids.INTERVAL_TZ}", "UTC")
    tick(dashboard, ids.GROUP_BY, "Month")
    run_query(dashboard)
    wait_until(lambda: dashboard.find_element(f"#{ids.SHARE_LINK}").get_attribute("value"))
    parts = urlsplit(dashboard.find_element(f"#{ids.SHARE_LINK}").get_attribute("value"))
    open_path(dashboard, f"{parts.path}?{parts.query}")
    dashboard.wait_for_element(f"#{ids.REPORT_GRID} .ag-row")

    show_chart(dashboard, "Balance Refill: Total")
    drawn = wait_for_figure(dashboard, 0, lambda f: f["traces"])
    (trace,) = drawn["traces"]
    frame = engine_frame(seeded_app, ADMIN, MONTH_USD)
    assert trace["x"] == ["2025-01", "2025-02", "2025-03"]
    assert trace["y"] == list(frame["Balance Refill: Total"])  # the snapshot's own values
    assert "2025-01-01 00:00 to 2025-04-01 00:00 (UTC)" in drawn["subtitle"]
    # The open chart is kept in the address, beside the snapshot's id.
    wait_until(lambda: "chart" in dict(current_params(dashboard)))
    assert dict(current_params(dashboard))["id"] == parse_qs(parts.query)["id"][0]

    # The page's own export links still download the snapshot (the dashboard's export
    # callback, wired to the same ids, stays out of it).
    path = click_and_download(dashboard, f"#{ids.EXPORT_CSV}", CSV_NAME)
    assert read_csv(path) == expected_csv(frame)
    assert dashboard.get_logs() == []


def test_act007_save_query_then_load_query_fills_the_form(dashboard):
    log_in(dashboard, ADMIN, path="/?from=2025-01-01&to=2025-04-01&tz=UTC&group=month"
                                  "&currency=EUR&active=3")
    dashboard.wait_for_element(f"#{ids.SAVE_QUERY}")
    assert dashboard.find_elements(f"#{ids.LOAD_QUERY}") == []  # no template yet
    dashboard.find_element(f"#{ids.SAVE_QUERY}").click()
    dashboard.wait_for_element(f"#{saved_queries.SAVE_QUERY_NAME}").send_keys("Q1 in EUR")
    dashboard.find_element(f"#{saved_queries.SAVE_QUERY_SUBMIT}").click()
    dashboard.wait_for_text_to_equal(f"#{saved_queries.SAVE_QUERY_DONE}", "Saved “Q1 in EUR”.")

    open_path(dashboard, "/?tz=UTC")  # a fresh form
    dashboard.wait_for_element(f"#{ids.LOAD_QUERY}")
    assert dashboard.find_element(f"#{ids.INTERVAL_START}").get_attribute("value") != (
        "2025-01-01 00:00"
    )
    assert ticked(dashboard, ids.GROUP_BY) == []
    dashboard.select_dcc_dropdown(f"#{ids.LOAD_QUERY}", value="Q1 in EUR")
    wait_until(lambda: dashboard.find_element(f"#{ids.INTERVAL_START}").get_attribute("value")
               == "2025-01-01 00:00")
    assert dashboard.find_element(f"#{ids.INTERVAL_END}").get_attribute("value") == (
        "2025-04-01 00:00"
    )
    assert ticked(dashboard, ids.GROUP_BY) == ["month"]
    dashboard.wait_for_text_to_equal(f"#{ids.CURRENCY} .dash-dropdown-value", "EUR")
    assert dashboard.find_element(f"#{ids.ACTIVE_DURATION}").get_attribute("value") == "3"
    # Query button and saved-query controls sit together in the form.
    form = dashboard.driver.find_element(By.ID, ids.QUERY_FORM)
    assert form.find_elements(By.ID, ids.SAVE_QUERY) and form.find_elements(By.ID, ids.LOAD_QUERY)
    assert dashboard.get_logs() == []
