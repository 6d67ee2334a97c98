"""Browser tests of the dashboard (headless Chromium through dash_duo): ``pytest -k dsh``."""

from __future__ import annotations

import math
import threading
from decimal import ROUND_HALF_UP, Decimal

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from extensions import db
from layouts import ids
from metrics.columns import COUNT_COLUMNS, GROUPS
from metrics.query import query_from_params
from store.reports import run_report
from store.users import load_user_by_login
from tests.dashboard_seed import ADMIN, R1A
from tests.integration.conftest import (
    choose,
    current_params,
    dropdown_choices,
    grid_rows,
    log_in,
    open_path,
    pattern,
    selected_labels,
    set_text,
    submit_login,
    tick,
    ticked,
    wait_until,
)

pytestmark = pytest.mark.browser

COMPANY_FILTER = pattern(ids.filter_value("company"))
TAG_FILTER = pattern(ids.filter_value("tag"))
OWNER_FILTER = pattern(ids.filter_value("owner"))


def expected_text(column: str, value) -> str:
    """How the grid must show ``value``: thousands separators, cents half up, "—" for none."""
    if column in ("Period", "Package"):
        return str(value)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if column in COUNT_COLUMNS:
        return f"{int(value):,}"
    cents = Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return f"{cents + 0:,.2f}".replace("-0.00", "0.00")


def engine_rows(app, login: str, params: dict) -> dict[str, dict[str, str]]:
    """The engine's report for ``login``, as the grid must show it (row id -> column -> text)."""
    with app.server.app_context():
        user = load_user_by_login(db.engine, login)
        report = run_report(query_from_params(params), user)
    rows = {}
    for record in report.frame.to_dict("records"):
        row_id = f"{record['Period']}|{record.get('Package', '')}"
        rows[row_id] = {column: expected_text(column, value) for column, value in record.items()}
    return rows


def run_query(dash_duo) -> None:
    dash_duo.find_element(f"#{ids.QUERY_BUTTON}").click()
    dash_duo.wait_for_element(f"#{ids.REPORT_GRID} .ag-row[row-id]")


def fill_interval(dash_duo, start: str, end: str) -> None:
    set_text(dash_duo, f"#{ids.INTERVAL_START}", start)
    set_text(dash_duo, f"#{ids.INTERVAL_END}", end)


def add_filter(dash_duo, label: str) -> None:
    dash_duo.find_element(f"#{ids.ADD_FILTER}").click()
    dash_duo.wait_for_element(f"#{ids.ADD_FILTER_SEARCH}")
    dash_duo.driver.find_element(
        By.XPATH, f"//div[contains(@class,'list-group')]/button[normalize-space()='{label}']"
    ).click()


def menu_items(dash_duo) -> list[str]:
    return [
        e.text
        for e in dash_duo.find_elements(".popover .list-group button")
        if e.is_displayed()
    ]


def test_dsh001_login_redirects_back_and_logout_ends_the_session(dashboard):
    open_path(dashboard, "/?group=month")
    dashboard.wait_for_element("#login-form")
    assert "next=" in dashboard.driver.current_url

    submit_login(dashboard, ADMIN, "wrong password")
    dashboard.wait_for_text_to_equal("#login-message", "Wrong login or password.")

    dashboard.find_element("#password").send_keys("correct horse battery")
    dashboard.find_element("#login-submit").click()
    dashboard.wait_for_element(f"#{ids.QUERY_BUTTON}")
    assert ("group", "month") in current_params(dashboard)  # back to the page asked for
    dashboard.wait_for_contains_text("#navbar-user", ADMIN)
    assert ticked(dashboard, ids.GROUP_BY) == ["month"]

    dashboard.find_element(f"#{ids.LOGOUT_BUTTON}").click()
    dashboard.wait_for_text_to_equal("#login-message", "You have been logged out.")
    open_path(dashboard, "/")
    dashboard.wait_for_element("#login-form")  # the session is gone
    assert dashboard.get_logs() == []


def test_dsh002_add_filter_menu_quick_search_and_delete(dashboard):
    log_in(dashboard, ADMIN)
    dashboard.find_element(f"#{ids.ADD_FILTER}").click()
    dashboard.wait_for_element(f"#{ids.ADD_FILTER_SEARCH}")
    assert menu_items(dashboard) == [
        "Client Type", "Client Tags", "Company", "Owner User", "Package",
    ]

    dashboard.find_element(f"#{ids.ADD_FILTER_SEARCH}").send_keys("co")
    wait_until(lambda: menu_items(dashboard) == ["Company"])
    dashboard.find_element(f"#{ids.ADD_FILTER_SEARCH}").send_keys("x")
    wait_until(lambda: menu_items(dashboard) == [])
    dashboard.wait_for_text_to_equal(f"#{ids.ADD_FILTER_EMPTY}", "No filter matches.")
    dashboard.find_element(f"#{ids.ADD_FILTER_SEARCH}").send_keys(Keys.BACKSPACE)
    wait_until(lambda: menu_items(dashboard) == ["Company"])
    dashboard.find_element(".popover .list-group button:not([style*='none'])").click()

    company_row = pattern(ids.filter_row("company"))
    dashboard.wait_for_no_elements(f"#{ids.ADD_FILTER_SEARCH}")  # the menu closed
    wait_until(lambda: dashboard.find_element(company_row).is_displayed())
    assert dropdown_choices(dashboard, COMPANY_FILTER) == ["Op", "R1", "R1a", "R2"]

    dashboard.find_element(f"#{ids.ADD_FILTER}").click()
    dashboard.wait_for_element(f"#{ids.ADD_FILTER_SEARCH}")
    wait_until(lambda: menu_items(dashboard) == [
        "Client Type", "Client Tags", "Owner User", "Package",
    ])
    dashboard.find_element(f"#{ids.ADD_FILTER}").click()  # closes the menu again
    dashboard.wait_for_no_elements(f"#{ids.ADD_FILTER_SEARCH}")

    dashboard.find_element(pattern(ids.filter_delete("company"))).click()
    wait_until(lambda: not dashboard.find_element(company_row).is_displayed())
    dashboard.find_element(f"#{ids.ADD_FILTER}").click()
    wait_until(lambda: "Company" in menu_items(dashboard))
    assert dashboard.get_logs() == []


def test_dsh003_grid_cells_equal_the_engine_report(dashboard, seeded_app):
    log_in(dashboard, ADMIN)
    fill_interval(dashboard, "2025-01-01", "2025-04-01")
    choose(dashboard, f"#{ids.INTERVAL_TZ}", "UTC")
    tick(dashboard, ids.GROUP_BY, "Month")
    tick(dashboard, ids.GROUP_BY, "Package Name")
    choose(dashboard, f"#{ids.CURRENCY}", "EUR")
    run_query(dashboard)

    expected = engine_rows(seeded_app, ADMIN, {
        "from": "2025-01-01", "to": "2025-04-01", "tz": "UTC",
        "group": ["month", "package"], "currency": "EUR",
    })
    assert list(expected) == ["2025-01|P1", "2025-01|P2", "2025-02|P1", "2025-02|P2",
                              "2025-03|P1", "2025-03|P2"]
    wait_until(lambda: grid_rows(dashboard) == expected)

    header = [e.text for e in dashboard.find_elements(".ag-header-group-cell") if e.text]
    assert header == [group for group, _ in GROUPS]
    negative = dashboard.find_element(
        f'#{ids.REPORT_GRID} [row-id="2025-01|P1"] [col-id="Clients - All: Balance Neg"]'
    )
    assert "dyn-negative" in negative.get_attribute("class")
    pinned = dashboard.find_elements(".ag-pinned-left-header [col-id]")
    assert [e.get_attribute("col-id") for e in pinned] == ["Period", "Package"]
    assert dashboard.get_logs() == []


def test_dsh004_validation_errors_show_next_to_their_field(dashboard):
    log_in(dashboard, ADMIN)
    fill_interval(dashboard, "2025-04-01", "2025-01-01")
    dashboard.find_element(f"#{ids.QUERY_BUTTON}").click()
    interval_error = pattern(ids.field_error("interval"))
    dashboard.wait_for_text_to_equal(
        interval_error, "The interval start must be before its end"
    )
    dashboard.wait_for_contains_text(
        f"#{ids.QUERY_ERROR}", "The interval start must be before its end"
    )
    assert dashboard.find_elements(f"#{ids.REPORT_GRID}") == []

    fill_interval(dashboard, "2025-01-01", "2025-04-01")
    set_text(dashboard, f"#{ids.ACTIVE_DURATION}", "121")
    dashboard.find_element(f"#{ids.QUERY_BUTTON}").click()
    dashboard.wait_for_text_to_equal(
        pattern(ids.field_error("active")), "Active duration must be between 1 and 120 months"
    )
    dashboard.wait_for_text_to_equal(interval_error, "")
    assert dashboard.get_logs() == []


def test_dsh005_info_popover_tells_interval_author_and_duration(dashboard):
    log_in(dashboard, ADMIN)
    fill_interval(dashboard, "2025-01-01", "2025-04-01")
    choose(dashboard, f"#{ids.INTERVAL_TZ}", "UTC")
    run_query(dashboard)
    dashboard.find_element(f"#{ids.REPORT_INFO}").click()
    dashboard.wait_for_text_to_equal(
        "#report-info-data-interval", "2025-01-02 10:00:00 – 2025-03-10 00:00:00 (UTC)"
    )
    assert dashboard.find_element("#report-info-generated-by").text.startswith(
        "admin opsadmin, 20"
    )
    assert dashboard.find_element("#report-info-duration").text.endswith(("ms", "s"))
    assert dashboard.get_logs() == []


def test_dsh006_a_bookmarked_url_fills_the_form_without_running(dashboard):
    log_in(dashboard, ADMIN)
    path = (
        "/?from=2025-01-01T00:00&to=2025-03-01T12:30&tz=Europe%2FBerlin&group=date"
        "&group=package&currency=EUR&active=3&company=3&company=4&tag=gold&output=xlsx"
    )
    open_path(dashboard, path)
    dashboard.wait_for_element(f"#{ids.QUERY_BUTTON}")
    assert dashboard.find_element(f"#{ids.INTERVAL_START}").get_attribute("value") == (
        "2025-01-01 00:00"
    )
    assert dashboard.find_element(f"#{ids.INTERVAL_END}").get_attribute("value") == (
        "2025-03-01 12:30"
    )
    dashboard.wait_for_text_to_equal(f"#{ids.INTERVAL_TZ} .dash-dropdown-value", "Europe/Berlin")
    assert ticked(dashboard, ids.GROUP_BY) == ["date", "package"]
    dashboard.wait_for_text_to_equal(f"#{ids.CURRENCY} .dash-dropdown-value", "EUR")
    assert dashboard.find_element(f"#{ids.ACTIVE_DURATION}").get_attribute("value") == "3"
    dashboard.wait_for_text_to_equal(f"#{ids.OUTPUT_TYPE} .dash-dropdown-value", "Excel XLSX")
    assert dashboard.find_element(f"#{ids.SEND_TO}").is_enabled()
    assert selected_labels(dashboard, COMPANY_FILTER) == ["R1a", "R2"]
    assert selected_labels(dashboard, TAG_FILTER) == ["gold"]
    rows = dashboard.find_elements(f"#{ids.FILTER_LIST} > div")
    shown = [r.get_attribute("id") for r in rows if r.is_displayed()]
    assert [s for s in shown if "company" in s or "tag" in s] == shown and len(shown) == 2
    assert dashboard.find_elements(f"#{ids.REPORT_GRID}") == []  # not run

    # Changing the form rewrites the address, so that it can be bookmarked again.
    tick(dashboard, ids.GROUP_BY, "Month")
    wait_until(lambda: [v for k, v in current_params(dashboard) if k == "group"]
               == ["month", "package"])
    params = current_params(dashboard)
    assert ("from", "2025-01-01T00:00") in params and ("tz", "Europe/Berlin") in params
    assert [v for k, v in params if k == "company"] == ["3", "4"]
    assert dashboard.get_logs() == []


def test_dsh007_a_reseller_sees_only_their_scope(dashboard, seeded_app):
    # r1auser's company R1a holds client B only; R2 and its client D are another reseller's.
    log_in(dashboard, R1A, path="/?company=4&owner=3&tag=platinum")
    dashboard.wait_for_element(f"#{ids.QUERY_BUTTON}")
    assert selected_labels(dashboard, COMPANY_FILTER) == []  # R2 is no choice of theirs
    assert dropdown_choices(dashboard, COMPANY_FILTER) == ["R1a"]
    assert dropdown_choices(dashboard, OWNER_FILTER) == [R1A]
    assert dropdown_choices(dashboard, TAG_FILTER) == ["gold"]

    fill_interval(dashboard, "2025-01-01", "2025-04-01")
    choose(dashboard, f"#{ids.INTERVAL_TZ}", "UTC")
    tick(dashboard, ids.GROUP_BY, "Month")
    for kind in ("company", "owner", "tag"):
        dashboard.find_element(pattern(ids.filter_delete(kind))).click()
    run_query(dashboard)
    expected = engine_rows(seeded_app, R1A, {
        "from": "2025-01-01", "to": "2025-04-01", "tz": "UTC", "group": ["month"],
    })
    wait_until(lambda: grid_rows(dashboard) == expected)
    # Client B alone: one client at most, never client D's millions.
    assert {row["Clients - All: Qty"] for row in expected.values()} <= {"0", "1"}
    assert all("," not in row["Balance Refill: Total"] for row in expected.values())
    assert dashboard.get_logs() == []


def test_dsh008_the_time_zone_defaults_to_the_browser_s(dashboard):
    dashboard.driver.execute_cdp_cmd("Emulation.setTimezoneOverride",
                                     {"timezoneId": "Asia/Tokyo"})
    log_in(dashboard, ADMIN)
    dashboard.wait_for_text_to_equal(f"#{ids.INTERVAL_TZ} .dash-dropdown-value", "Asia/Tokyo")
    wait_until(lambda: ("tz", "Asia/Tokyo") in current_params(dashboard))

    open_path(dashboard, "/?tz=America%2FNew_York")  # a bookmark's zone wins
    dashboard.wait_for_text_to_equal(f"#{ids.INTERVAL_TZ} .dash-dropdown-value",
                                     "America/New_York")
    assert dashboard.get_logs() == []


def test_dsh009_presets_fill_the_interval_and_a_hand_edit_unsets_them(dashboard):
    log_in(dashboard, ADMIN, path="/?tz=UTC")
    dashboard.find_element(f"#{ids.INTERVAL_PRESETS} .dropdown-toggle").click()
    dashboard.driver.find_element(
        By.XPATH, "//div[contains(@class,'dropdown-menu')]//*[normalize-space()='Last year']"
    ).click()
    dashboard.wait_for_text_to_equal(f"#{ids.INTERVAL_PRESETS} .dropdown-toggle", "Last year")
    start = dashboard.find_element(f"#{ids.INTERVAL_START}").get_attribute("value")
    end = dashboard.find_element(f"#{ids.INTERVAL_END}").get_attribute("value")
    assert start.endswith("-01-01 00:00") and end.endswith("-01-01 00:00")
    assert int(end[:4]) - int(start[:4]) == 1
    wait_until(lambda: ("preset", "last_year") in current_params(dashboard))

    dashboard.find_element(f"#{ids.INTERVAL_START}").send_keys(Keys.BACKSPACE, "1")
    dashboard.wait_for_text_to_equal(f"#{ids.INTERVAL_PRESETS} .dropdown-toggle", "Presets")
    wait_until(lambda: "preset" not in dict(current_params(dashboard)))
    assert dashboard.get_logs() == []


def test_dsh010_one_time_grain_and_send_to_only_with_a_file(dashboard):
    log_in(dashboard, ADMIN)
    tick(dashboard, ids.GROUP_BY, "Year")
    tick(dashboard, ids.GROUP_BY, "Package Name")
    tick(dashboard, ids.GROUP_BY, "Date")
    wait_until(lambda: ticked(dashboard, ids.GROUP_BY) == ["date", "package"])

    send_to = dashboard.find_element(f"#{ids.SEND_TO}")
    assert not send_to.is_enabled()
    dashboard.wait_for_contains_text(f"#{ids.SEND_TO_HELP}", "E-mail needs a file")
    choose(dashboard, f"#{ids.OUTPUT_TYPE}", "CSV")
    wait_until(lambda: dashboard.find_element(f"#{ids.SEND_TO}").is_enabled())
    dashboard.wait_for_text_to_equal(f"#{ids.SEND_TO_HELP}",
                                     "One or more addresses, separated by commas.")
    assert dashboard.get_logs() == []


def test_dsh011_while_computing_the_button_is_busy_and_a_second_click_does_nothing(
    dashboard, monkeypatch
):
    import callbacks.query

    release = threading.Event()
    calls = []
    real = callbacks.query.run_report

    def slow_report(query, user):
        calls.append(query)
        release.wait(20)
        return real(query, user)

    monkeypatch.setattr(callbacks.query, "run_report", slow_report)
    log_in(dashboard, ADMIN)
    fill_interval(dashboard, "2025-01-01", "2025-04-01")
    button = dashboard.find_element(f"#{ids.QUERY_BUTTON}")
    button.click()
    dashboard.wait_for_text_to_equal(f"#{ids.QUERY_BUTTON}", "Computing…")
    assert not button.is_enabled()
    dashboard.driver.execute_script("arguments[0].click()", button)  # even forced: disabled
    wait_until(lambda: len(calls) == 1)
    release.set()
    dashboard.wait_for_element(f"#{ids.REPORT_GRID} .ag-row[row-id]")
    dashboard.wait_for_text_to_equal(f"#{ids.QUERY_BUTTON}", "Query")
    assert button.is_enabled() and len(calls) == 1
    assert dashboard.get_logs() == []


def test_dsh012_a_daily_report_over_years_is_virtualised_and_sortable(dashboard, seeded_app):
    log_in(dashboard, ADMIN, path="/?tz=UTC&from=2023-01-01&to=2026-01-01&group=date")
    run_query(dashboard)
    dashboard.wait_for_contains_text(f"#{ids.REPORT_SUMMARY}", "1,096 rows")
    rendered = dashboard.find_elements(f"#{ids.REPORT_GRID} .ag-center-cols-container .ag-row")
    assert 0 < len(rendered) < 200  # only the rows in view are in the page

    expected = engine_rows(seeded_app, ADMIN, {
        "from": "2023-01-01", "to": "2026-01-01", "tz": "UTC", "group": ["date"],
    })
    wait_until(lambda: grid_rows(dashboard).get("2023-01-01|") == expected["2023-01-01|"])

    period_header = f"#{ids.REPORT_GRID} .ag-header-cell[col-id='Period']"
    dashboard.find_element(f"{period_header} .ag-header-cell-label").click()  # ascending
    dashboard.find_element(f"{period_header} .ag-header-cell-label").click()  # descending
    first = f"#{ids.REPORT_GRID} .ag-pinned-left-cols-container .ag-row[row-index='0']"
    dashboard.wait_for_text_to_equal(first, "2025-12-31")
    assert grid_rows(dashboard)["2025-12-31|"] == expected["2025-12-31|"]
    assert dashboard.get_logs() == []


def test_dsh013_an_ended_session_sends_the_page_to_the_login(dashboard):
    log_in(dashboard, ADMIN, path="/?group=month")
    dashboard.wait_for_element(f"#{ids.QUERY_BUTTON}")
    dashboard.driver.delete_all_cookies()  # as after a logout in another tab
    dashboard.find_element(f"#{ids.QUERY_BUTTON}").click()
    dashboard.wait_for_element("#login-form")
    submit_login(dashboard, ADMIN, "correct horse battery")
    dashboard.wait_for_element(f"#{ids.QUERY_BUTTON}")
    assert ("group", "month") in current_params(dashboard)
    # The refused request is the one thing the browser reports (a network error, not a bug).
    logs = dashboard.get_logs()
    assert [(e["source"], "401 (UNAUTHORIZED)" in e["message"]) for e in logs] == [
        ("network", True)
    ], logs
