"""Share links and saved queries in the browser (headless Chromium through dash_duo)."""

from __future__ import annotations

import importlib
from datetime import datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pandas as pd
import pytest
from dash.testing.wait import until
from selenium.webdriver.common.by import By
from sqlalchemy import update

from extensions import cache, db
from metrics.query import ReportQuery
from store.models import Client, ClientTag, Company, CurrencyRate, Package, Transaction, User
from store.reports import run_report
from store.snapshots import create_snapshot
from store.users import AccountInfo, set_password

pytestmark = pytest.mark.browser

MICRO = Path(__file__).resolve().parents[1] / "data" / "micro"
RESA = AccountInfo(id=9, login="resa", role="reseller", company_id=3, email=None)
ALICE = AccountInfo(id=10, login="alice", role="manager", company_id=2, email=None)
BOB = AccountInfo(id=11, login="bob", role="reseller", company_id=2, email=None)
CAROL = AccountInfo(id=12, login="carol", role="reseller", company_id=3, email=None)
QUERY = ReportQuery(start=datetime(2025, 1, 1), end=datetime(2025, 4, 1), time_grain="month")


def _load_micro() -> None:
    def rows(name: str) -> list[dict]:
        frame = pd.read_csv(MICRO / f"{name}.csv", dtype=str, keep_default_na=False)
        return [{k: (v or None) for k, v in r.items()} for r in frame.to_dict("records")]

    def number(value: str | None) -> int | None:
        return None if value is None else int(value)

    with db.session() as session:
        for r in rows("companies"):
            session.add(Company(id=int(r["id"]), name=r["name"], parent_id=number(r["parent_id"])))
        session.flush()
        for r in rows("users"):
            session.add(User(id=int(r["id"]), login=r["login"], password_hash="!", role=r["role"],
                             company_id=int(r["company_id"]), email=r["email"]))
        for user in (RESA, ALICE, BOB, CAROL):
            session.add(User(id=user.id, login=user.login, password_hash="!", role=user.role,
                             company_id=user.company_id))
        for r in rows("packages"):
            session.add(Package(id=int(r["id"]), name=r["name"]))
        session.flush()
        for r in rows("clients"):
            session.add(Client(id=int(r["id"]), name=r["name"], client_type=r["client_type"],
                               company_id=int(r["company_id"]),
                               owner_user_id=number(r["owner_user_id"]), currency=r["currency"],
                               created_at=datetime.fromisoformat(r["created_at"])))
        session.flush()
        for r in rows("client_tags"):
            session.add(ClientTag(client_id=int(r["client_id"]), tag=r["tag"]))
        for r in rows("transactions"):
            session.add(Transaction(id=int(r["id"]), client_id=int(r["client_id"]),
                                    ts=datetime.fromisoformat(r["ts"]), kind=r["kind"],
                                    amount=r["amount"], package_id=number(r["package_id"])))
        for r in rows("currency_rates"):
            session.add(CurrencyRate(currency=r["currency"],
                                     valid_from=datetime.fromisoformat(r["valid_from"]),
                                     rate=r["rate"]))
        session.flush()
        for login in ("opsadmin", "resa", "alice", "bob", "carol"):
            set_password(session, login, f"{login}-password")


def _wire(dash_app) -> None:
    """Until app.py wires every feature, wire the ones these pages need."""
    if not any(key.startswith("page.children") for key in dash_app.callback_map):
        for name in ("pages", "query_form", "query"):
            module = importlib.import_module(f"callbacks.{name}")
            module.register(dash_app)
    if not any("view-compare-result" in key for key in dash_app.callback_map):
        importlib.import_module("callbacks.view").register(dash_app)
    if not any("saved-queries-version" in key for key in dash_app.callback_map):
        importlib.import_module("callbacks.templates").register(dash_app)
    if "share" not in dash_app.server.blueprints:
        import share_routes

        dash_app.server.register_blueprint(share_routes.bp)


@pytest.fixture
def share_app(app):
    _wire(app)
    with app.server.app_context():
        cache.clear()
        _load_micro()
    return app


def _base(dash_duo) -> str:
    return dash_duo.server.url.rstrip("/")


def _log_in(dash_duo, login: str) -> None:
    dash_duo.wait_for_element("#login")
    dash_duo.find_element("#login").send_keys(login)
    dash_duo.find_element("#password").send_keys(f"{login}-password")
    dash_duo.find_element("#login-submit").click()


def _log_out(dash_duo) -> None:
    dash_duo.wait_for_element("#logout-button").click()
    dash_duo.wait_for_element("#login")


def _cell(dash_duo, row: int, column: str) -> str:
    return dash_duo.find_element(
        f"#report-grid .ag-row[row-index='{row}'] .ag-cell[col-id='{column}']"
    ).text


def test_shr001_link_by_a_reseller_opened_by_an_operator_after_a_rerating(dash_duo, share_app):
    with share_app.server.app_context():
        report = run_report(QUERY, RESA)
        token = create_snapshot(report, RESA, QUERY.to_params() | {"preset": "last_month"}, "web")
        with db.session() as session:  # the data changes after the link was made
            session.execute(update(Transaction).where(Transaction.id == 4).values(amount=99))

    dash_duo.start_server(share_app, navigate=False)
    dash_duo.driver.get(f"{_base(dash_duo)}/view?id={token}")
    # Anonymous: to the login, and back to the snapshot after it.
    assert urlsplit(dash_duo.driver.current_url).path == "/login"
    assert parse_qs(urlsplit(dash_duo.driver.current_url).query)["next"] == [f"/view?id={token}"]
    _log_in(dash_duo, "opsadmin")
    dash_duo.wait_for_element("#report-grid .ag-row")
    assert dash_duo.driver.current_url == f"{_base(dash_duo)}/view?id={token}"

    # The reseller's rows as generated: client B only, activation 10 EUR at 1.1 = 11.00 USD.
    assert _cell(dash_duo, 0, "Period") == "2025-01"
    assert _cell(dash_duo, 0, "Clients - All: Qty") == "1"
    assert _cell(dash_duo, 0, "Packages: Activation Total") == "11.00"
    assert _cell(dash_duo, 1, "Balance Refill: Avg") == "—"
    href = dash_duo.find_element("#export-csv").get_attribute("href")
    assert href == f"{_base(dash_duo)}/view/export?id={token}&format=csv"
    assert "preset=last_month" in dash_duo.find_element("#view-open-query").get_attribute("href")

    dash_duo.find_element("#report-info").click()
    popover = dash_duo.wait_for_element("#view-info-popover")
    dash_duo.wait_for_text_to_equal("#view-info-popover dd", popover.find_element(
        By.CSS_SELECTOR, "dd").text)
    assert "reseller resa" in popover.text

    # The operator covers the reseller's scope: compare with today's data.
    dash_duo.find_element("#view-compare").click()
    dash_duo.wait_for_contains_text("#view-compare-result", "→")
    changed = dash_duo.find_elements("#view-compare-result td[data-changed='true']")
    texts = [c.text for c in changed]
    assert "11.00 → 108.90" in texts  # 99 EUR at 1.1
    # Today the operator sees all three clients: the comparison says so too.
    assert "1 → 2" in texts
    assert "more companies than that of the snapshot's creator" in dash_duo.find_element(
        "#view-compare-result").text
    assert dash_duo.get_logs() == []


def test_shr002_link_by_an_operator_opened_by_a_reseller_without_compare(dash_duo, share_app):
    operator = AccountInfo(id=1, login="opsadmin", role="admin", company_id=1, email=None)
    with share_app.server.app_context():
        token = create_snapshot(run_report(QUERY, operator), operator, QUERY.to_params(), "web")
        with db.session() as session:
            session.execute(update(Transaction).where(Transaction.id == 1).values(amount=250))

    dash_duo.start_server(share_app, navigate=False)
    dash_duo.driver.get(f"{_base(dash_duo)}/login?next=/view?id={token}")
    _log_in(dash_duo, "resa")
    dash_duo.wait_for_element("#report-grid .ag-row")
    # The operator's rows, as generated (micro/expected-month-usd.csv), not today's 250.
    assert _cell(dash_duo, 0, "Balance Refill: Total") == "100.00"
    assert _cell(dash_duo, 0, "Clients - All: Balance Pos") == "70.00"
    assert _cell(dash_duo, 2, "Clients - All: Qty") == "3"
    assert dash_duo.find_elements("#view-compare") == []
    assert dash_duo.get_logs() == []


def test_shr003_save_and_load_a_query_with_a_colleague(dash_duo, share_app):
    dash_duo.start_server(share_app, navigate=False)
    dash_duo.driver.set_window_size(1400, 1000)  # the controls sit by Query, below the form
    dash_duo.driver.get(f"{_base(dash_duo)}/login?next=/%3Fpreset%3Dlast_month"
                        "%26group%3Dmonth%26currency%3DEUR")
    _log_in(dash_duo, "alice")
    dash_duo.wait_for_element("#save-query")
    assert dash_duo.find_elements("#load-query") == []  # no template yet

    dash_duo.find_element("#save-query").click()
    dash_duo.wait_for_element("#save-query-name").send_keys("Last month EUR")
    dash_duo.find_element("#save-query-description").send_keys("for the board")
    dash_duo.find_element("label[for='_dbcprivate_radioitems_save-query-visibility_input_company']"
                          ).click()
    dash_duo.find_element("#save-query-submit").click()
    dash_duo.wait_for_text_to_equal("#save-query-done", "Saved “Last month EUR”.")
    dash_duo.wait_for_element("#load-query")

    # The same name again is refused in the pop-up.
    dash_duo.find_element("#save-query").click()
    dash_duo.wait_for_element("#save-query-name").send_keys("last month eur")
    dash_duo.find_element("#save-query-submit").click()
    dash_duo.wait_for_text_to_equal(
        "#save-query-error", "you already have a saved query named 'last month eur'")
    dash_duo.find_element("#save-query-cancel").click()
    _log_out(dash_duo)

    _log_in(dash_duo, "bob")  # alice's colleague loads it
    dash_duo.wait_for_element("#load-query")
    dash_duo.select_dcc_dropdown("#load-query", value="Last month EUR — by alice")
    # The form shows the template, "last month" as a preset, not as the dates it had.
    dash_duo.wait_for_contains_text("#interval-presets", "Last month")
    until(lambda: "preset=last_month" in dash_duo.driver.current_url, timeout=10)
    query = parse_qs(urlsplit(dash_duo.driver.current_url).query)
    assert query["group"] == ["month"] and query["currency"] == ["EUR"]
    _log_out(dash_duo)

    _log_in(dash_duo, "carol")  # another company sees nothing
    dash_duo.wait_for_element("#save-query")
    assert dash_duo.find_elements("#load-query") == []
    assert dash_duo.get_logs() == []


def test_shr004_owner_renames_and_deletes(dash_duo, share_app):
    from store import templates

    with share_app.server.app_context():
        saved = templates.save(ALICE, "Monthly", QUERY.to_params(), visibility="company")
    dash_duo.start_server(share_app, navigate=False)
    dash_duo.driver.set_window_size(1400, 1000)
    dash_duo.driver.get(f"{_base(dash_duo)}/login")
    _log_in(dash_duo, "alice")
    dash_duo.wait_for_element("#manage-queries").click()
    name = dash_duo.wait_for_element("#manage-queries-list input")
    name.clear()
    name.send_keys("Monthly USD")
    dash_duo.find_element("#manage-queries-list .btn-outline-secondary").click()
    with share_app.server.app_context():
        until(lambda: templates.get(saved.id, BOB).name == "Monthly USD", timeout=10)
    dash_duo.wait_for_text_to_equal("#manage-queries-error", "")
    until(lambda: dash_duo.find_element("#manage-queries-list input").get_attribute("value")
          == "Monthly USD", timeout=10)
    dash_duo.find_element("#manage-queries-list .btn-outline-danger").click()
    dash_duo.wait_for_contains_text("#manage-queries-list", "No saved queries.")
    with share_app.server.app_context():
        assert templates.list_for(BOB) == []
    assert dash_duo.find_elements("#load-query") == []
    assert dash_duo.get_logs() == []
