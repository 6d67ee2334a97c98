"""Browser fixtures: the app on the seeded example database, and driving its page."""

from __future__ import annotations

import json
from collections.abc import Callable
from urllib.parse import parse_qsl, urlsplit

import pytest
from dash.testing.wait import until
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from extensions import db
from layouts import ids
from tests.dashboard_seed import PASSWORD, load_scoped_example


@pytest.fixture
def seeded_app(app):
    """The app of ``tests/conftest.py`` with ``tests/dashboard_seed.py``'s data and logins."""
    with app.server.app_context():
        load_scoped_example(db.engine)
    return app


@pytest.fixture
def dashboard(dash_duo, seeded_app):
    """``dash_duo`` serving the seeded app in a desktop-sized window, no page opened yet."""
    dash_duo.start_server(seeded_app, navigate=False)
    dash_duo.driver.set_window_size(1400, 1000)
    return dash_duo


def base_url(dash_duo) -> str:
    """The served app's address (``server_url`` stays empty with ``navigate=False``)."""
    return dash_duo.server.url.rstrip("/")


def open_path(dash_duo, path: str) -> None:
    dash_duo.driver.get(base_url(dash_duo) + path)


def log_in(dash_duo, login: str, password: str = PASSWORD, path: str = "/") -> None:
    """Open ``path`` (which asks for the login), log in, and wait for the page to be drawn."""
    open_path(dash_duo, path)
    submit_login(dash_duo, login, password)
    dash_duo.wait_for_element(f"#{ids.NAVBAR}")


def submit_login(dash_duo, login: str, password: str) -> None:
    dash_duo.wait_for_element("#login-form")
    dash_duo.find_element("#login").send_keys(login)
    dash_duo.find_element("#password").send_keys(password)
    dash_duo.find_element("#login-submit").click()


def pattern(id_: dict[str, str]) -> str:
    """The CSS selector of a pattern-matching id (Dash writes it as sorted, compact JSON)."""
    text = json.dumps(dict(sorted(id_.items())), separators=(",", ":"))
    return f"[id='{text}']"


def set_text(dash_duo, selector: str, text: str) -> None:
    element = dash_duo.find_element(selector)
    element.send_keys(Keys.CONTROL, "a")
    element.send_keys(Keys.DELETE)
    element.send_keys(text)


def choose(dash_duo, selector: str, label: str) -> None:
    """Pick ``label`` in the single-choice dcc.Dropdown ``selector`` and wait for it."""
    dash_duo.select_dcc_dropdown(selector, value=label)
    dash_duo.wait_for_text_to_equal(f"{selector} .dash-dropdown-value", label)


def dropdown_choices(dash_duo, selector: str) -> list[str]:
    """The labels a dcc.Dropdown offers (it is opened, read and closed again)."""
    dash_duo.find_element(selector).click()
    dash_duo.wait_for_element(".dash-dropdown-options")
    labels = [e.text for e in dash_duo.find_elements(".dash-dropdown-options .dash-dropdown-option")]
    dash_duo.find_element(".dash-dropdown-search").send_keys(Keys.ESCAPE)
    dash_duo.wait_for_no_elements(".dash-dropdown-options")
    return labels


def selected_labels(dash_duo, selector: str) -> list[str]:
    return [e.text for e in dash_duo.find_elements(f"{selector} .dash-dropdown-value-item")]


def tick(dash_duo, checklist_id: str, label: str) -> None:
    dash_duo.driver.find_element(
        By.XPATH, f"//div[@id='{checklist_id}']//label[normalize-space()='{label}']"
    ).click()


def ticked(dash_duo, checklist_id: str) -> list[str]:
    boxes = dash_duo.driver.find_elements(By.CSS_SELECTOR, f"#{checklist_id} input")
    return [b.get_attribute("value") for b in boxes if b.is_selected()]


def current_params(dash_duo) -> list[tuple[str, str]]:
    return parse_qsl(urlsplit(dash_duo.driver.current_url).query)


def wait_until(condition: Callable[[], object], timeout: float = 10) -> None:
    until(condition, timeout)


GRID_ROWS_SCRIPT = """
const rows = {};
for (const row of document.querySelectorAll(arguments[0] + ' .ag-row[row-id]')) {
    const cells = rows[row.getAttribute('row-id')] ||= {};
    for (const cell of row.querySelectorAll('.ag-cell[col-id]')) {
        cells[cell.getAttribute('col-id')] = cell.innerText.trim();
    }
}
return rows;
"""


def grid_rows(dash_duo) -> dict[str, dict[str, str]]:
    """row id -> (column id -> shown text) of every rendered row of the report grid.

    Read in one script: a row is split between the pinned and the scrolled part of the grid.
    """
    return dash_duo.driver.execute_script(GRID_ROWS_SCRIPT, f"#{ids.REPORT_GRID}")
