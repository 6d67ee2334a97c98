"""Hostile input (``pytest -k hos``): anonymous requests, tampered callbacks, nasty names and
tags, malformed and oversized input, share-token guessing, a production start without a key.

Tampering with the Query button's company / owner / package ids is ``test_dashboard_api``'s
(api001–api005); this module adds what it does not cover.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest
import xlrd
from sqlalchemy import func, insert, select

from app import create_app
from config import ConfigError
from extensions import db
from layouts import ids
from store.models import Client, ClientTag, Company, Package, Transaction
from store.outbox import enqueue, new_request_id
from store.templates import save
from store.users import load_user_by_login
from tests.dashboard_seed import PASSWORD, R1A, R2, load_scoped_example
from tests.unit.test_dashboard_api import add_filter, logged_in, options_of, query
from tests.unit.test_templates import call

ROOT = Path(__file__).resolve().parents[2]
MAX_MESSAGE = 500  # characters of a user-facing error: one clear line, not an echo of the input


@pytest.fixture
def seeded(app):
    with app.server.app_context():
        load_scoped_example(db.engine)
    return app


def error_text(decoded: Any) -> str:
    """The message of ``query-error`` ("The report was not made. <message>")."""
    children = decoded["response"][ids.QUERY_ERROR]["children"]
    if isinstance(children, dict):
        parts = children["props"]["children"]
        return "".join(p if isinstance(p, str) else p["props"]["children"] for p in parts)
    return str(children or "")


# --------------------------------------------------------------------------- anonymous access

PUBLIC_RULES = {"/login", "/healthz", "/assets/<path:filename>"}
SAMPLES = {"filename": "dynamics.css", "path": "some/page", "package_name": "dash",
           "fingerprinted_path": "dash_renderer.min.js"}


def _anonymous_answers(server) -> list[tuple[str, str, int, str]]:
    adapter = server.url_map.bind("localhost")
    client = server.test_client()
    answers = []
    for rule in server.url_map.iter_rules():
        url = adapter.build(rule.endpoint, {a: SAMPLES[a] for a in rule.arguments})
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = client.open(url, method=method)
            answers.append((rule.rule, method, response.status_code,
                            response.headers.get("Location", "")))
    return answers


def test_hos001_every_route_refuses_anonymous_access_but_login_health_and_assets(server):
    answers = _anonymous_answers(server)
    assert {rule for rule, *_ in answers} >= PUBLIC_RULES | {"/", "/_dash-update-component",
                                                             "/view/export"}
    for rule, method, status, location in answers:
        if rule in PUBLIC_RULES:
            assert status in (200, 302, 404) and not location.startswith("/login?"), rule
            continue
        if method == "GET" and not rule.startswith("/_dash-"):
            assert status == 302 and location.startswith("/login?next="), (rule, method)
        else:
            assert status == 401, (rule, method, status)


def test_hos002_the_login_page_needs_only_public_assets(client):
    page = client.get("/login").get_data(as_text=True)
    links = re.findall(r'(?:href|src)="([^"]+)"', page)
    assert links, "the page links its stylesheet"
    for link in links:
        assert link.startswith("/assets/") or link == "/login", link
        if link.startswith("/assets/"):
            assert client.get(link).status_code == 200, link


# --------------------------------------------------------------------------- tampered callbacks


def _mail_status(client, dash_app, request_id: str) -> Any:
    client.dash_app = dash_app
    return call(client, "mail-status.children",
                [{"id": ids.MAIL_POLL, "property": "n_intervals", "value": 1},
                 {"id": ids.MAIL_REQUEST, "property": "data", "value": request_id}],
                changed=f"{ids.MAIL_POLL}.n_intervals")


def test_hos010_another_user_s_mail_request_shows_nothing(seeded):
    with seeded.server.app_context(), db.session() as session:
        from email.message import EmailMessage

        owner = load_user_by_login(db.engine, R1A)
        message = EmailMessage()
        message["From"], message["Subject"] = "dynamics@example.com", "r1a report"
        message.set_content("x")
        request_id = new_request_id()
        enqueue(session, message, ["secret-recipient@example.com"], request_id=request_id,
                requested_by=owner.id)
    mine = _mail_status(logged_in(seeded, R1A), seeded, request_id)
    assert "secret-recipient@example.com" in json.dumps(mine)
    theirs = _mail_status(logged_in(seeded, R2), seeded, request_id)
    assert "secret-recipient@example.com" not in json.dumps(theirs)


def test_hos011_another_user_s_private_query_cannot_be_loaded(seeded):
    with seeded.server.app_context():
        owner = load_user_by_login(db.engine, R1A)
        template = save(owner, "R1a private", {"from": "2025-01-01", "to": "2025-04-01",
                                               "company": ["3"]})
    client = logged_in(seeded, R2)
    client.dash_app = seeded
    answer = call(client, "form-load.data",
                  [{"id": ids.LOAD_QUERY, "property": "value", "value": template.id}])
    assert "form-load" not in answer.get("response", {})
    assert "R1a" not in json.dumps(answer)


@pytest.mark.parametrize("filters", [
    {"tag": ["platinum"]},  # R2's client's tag
    {"type": ["reseller"]},  # R2's client's type
    {"tag": ["platinum", "gold"], "type": ["reseller", "call_shop"]},
])
def test_hos012_free_text_filters_reach_only_the_user_s_own_clients(seeded, filters):
    """Tags and types are not ids to refuse; they filter within the scope, never beyond it."""
    decoded, text = query(logged_in(seeded, R1A), seeded, filters=filters)
    records = decoded["response"][ids.REPORT_STORE]["data"]["records"]
    assert max(row["Clients - All: Qty"] for row in records) <= 1  # client B at most
    for word in ("1234567.89", "2500000", "R2", R2):
        assert word not in text


# --------------------------------------------------------------------------- nasty names

NASTY = [
    "O'Brien \"Telecom\", Ltd.",
    "<script>alert('x')</script>",
    "'; DROP TABLE clients; --",
    "=HYPERLINK(\"http://evil.example\",\"click\")",
    "+SUM(A1:A9)",
    "-2+3",
    "@cmd",
    "Robert\\'); DELETE FROM transactions WHERE ('1'='1",
    "%s %(name)s {0} $1 :name",
    "Ünïcødé — ✓",
]
RAW_NASTY = ["\tTabbed", "\rCarriage"]  # the importer strips cells; written directly
FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _write_csv(path: Path, header: list[str], rows: list[list[Any]]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


@pytest.fixture
def nasty(app, runner, tmp_path):
    """Companies, packages, clients and tags named with NASTY, loaded by ``import-csv``; one
    client per package, each with an activation and a refill; the admin logs in."""
    data = tmp_path / "nasty"
    data.mkdir()
    names = NASTY
    _write_csv(data / "companies.csv", ["id", "name", "parent_id"],
               [[1, "Op", ""]] + [[i + 2, n, 1] for i, n in enumerate(names[:3])])
    _write_csv(data / "packages.csv", ["id", "name"], [[i + 1, n] for i, n in enumerate(names)])
    _write_csv(data / "clients.csv",
               ["id", "name", "client_type", "company_id", "owner_user_id", "currency",
                "created_at"],
               [[i + 1, n, "client", 2 + i % 3, "", "USD", "2025-01-01 00:00:00"]
                for i, n in enumerate(names)])
    _write_csv(data / "client_tags.csv", ["client_id", "tag"],
               [[i + 1, n] for i, n in enumerate(names)])
    transactions = []
    for i in range(len(names)):
        transactions.append([3 * i + 1, i + 1, "2025-01-10 00:00:00", "refill", 10 + i, ""])
        transactions.append([3 * i + 2, i + 1, "2025-01-11 00:00:00", "package_activation",
                             1, i + 1])
        transactions.append([3 * i + 3, i + 1, "2025-01-11 00:00:00", "package_renewal", 2,
                             i + 1])
    _write_csv(data / "transactions.csv",
               ["id", "client_id", "ts", "kind", "amount", "package_id"], transactions)
    _write_csv(data / "currency_rates.csv", ["currency", "valid_from", "rate"], [])
    result = runner.invoke(args=["import-csv", str(data)])
    assert result.exit_code == 0, result.output
    base = len(names)
    with app.server.app_context(), db.engine.begin() as conn:
        for offset, name in enumerate(RAW_NASTY, start=1):
            conn.execute(insert(Package).values(id=base + offset, name=name))
            conn.execute(insert(Client).values(
                id=base + offset, name=name, client_type="client", company_id=1,
                currency="USD", created_at=datetime(2025, 1, 1)))
            conn.execute(insert(ClientTag).values(client_id=base + offset, tag=name))
            conn.execute(insert(Transaction).values(
                id=1000 + offset, client_id=base + offset, ts=datetime(2025, 1, 12),
                kind="package_activation", amount=Decimal(1), package_id=base + offset))
    result = runner.invoke(args=["create-user", "nastyadmin", "--password", PASSWORD,
                                 "--role", "admin", "--company", "1"])
    assert result.exit_code == 0, result.output
    return app


def test_hos020_nasty_names_and_tags_are_stored_exactly(nasty):
    with nasty.server.app_context(), db.engine.connect() as conn:
        packages = conn.execute(select(Package.name).order_by(Package.id)).scalars().all()
        tags = conn.execute(select(ClientTag.tag).order_by(ClientTag.client_id)).scalars().all()
        companies = conn.execute(select(Company.name).order_by(Company.id)).scalars().all()
        clients = conn.execute(select(func.count()).select_from(Client)).scalar_one()
    assert packages == NASTY + RAW_NASTY
    assert tags == NASTY + RAW_NASTY
    assert companies == ["Op", *NASTY[:3]]
    assert clients == len(NASTY) + len(RAW_NASTY)  # "DROP TABLE clients" did nothing


@pytest.mark.parametrize("tag", NASTY + RAW_NASTY)
def test_hos021_filtering_by_a_nasty_tag_finds_exactly_its_client(nasty, tag):
    """Through the ledger loader's SQL (COPY with literal values on PostgreSQL)."""
    client = logged_in(nasty, "nastyadmin")
    decoded, _ = query(client, nasty, filters={"tag": [tag]}, group=["month"],
                       **{"from": "2025-01-01 00:00", "to": "2025-02-01 00:00"})
    (row,) = decoded["response"][ids.REPORT_STORE]["data"]["records"]
    assert row["Clients - All: Qty"] == 1
    with nasty.server.app_context(), db.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Transaction)).scalar_one() == 32


def test_hos022_nasty_names_are_shown_as_text(nasty):
    """Dash sends them as JSON strings (React renders text), option labels included; the
    login page (server-side HTML) escapes what it echoes."""
    client = logged_in(nasty, "nastyadmin")
    decoded, text = query(client, nasty, group=["month", "package"],
                          **{"from": "2025-01-01 00:00", "to": "2025-02-01 00:00"})
    records = decoded["response"][ids.REPORT_STORE]["data"]["records"]
    assert sorted(row["Package"] for row in records) == sorted(NASTY + RAW_NASTY)
    assert "dangerously" not in text
    options = add_filter(client, nasty, "tag")
    assert sorted(options_of(options, "tag")) == sorted(NASTY + RAW_NASTY)
    assert sorted(options_of(add_filter(client, nasty, "package"), "package")) == sorted(
        NASTY + RAW_NASTY)

    anonymous = nasty.server.test_client()
    page = anonymous.post("/login", data={"login": NASTY[1], "password": "x"})
    html = page.get_data(as_text=True)
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html


def test_hos023_exports_neutralise_formula_names(nasty):
    """The snapshot's CSV / XLSX / XLS: package cells starting with = + - @ tab CR get a quote
    and stay text; the company filter's name in the title block too."""
    client = logged_in(nasty, "nastyadmin")
    decoded, _ = query(client, nasty, group=["month", "package"],
                       **{"from": "2025-01-01 00:00", "to": "2025-02-01 00:00"})
    token = decoded["response"][ids.REPORT_STORE]["data"]["snapshot"]
    expected = {n: ("'" + n if n.startswith(FORMULA) else n) for n in NASTY + RAW_NASTY}

    csv_bytes = client.get(f"/view/export?id={token}&format=csv").data
    frame = pd.read_csv(io.BytesIO(csv_bytes), encoding="utf-8-sig", dtype=str,
                        keep_default_na=False)
    assert sorted(frame["Package"]) == sorted(expected.values())

    workbook = openpyxl.load_workbook(
        io.BytesIO(client.get(f"/view/export?id={token}&format=xlsx").data))
    cells = [c for row in workbook.active.iter_rows() for c in row if isinstance(c.value, str)]
    shown = {c.value for c in cells}
    assert set(expected.values()) <= shown
    assert all(c.data_type == "s" for c in cells)  # text, never a formula cell
    assert not any(c.value.startswith(FORMULA) for c in cells)

    book = xlrd.open_workbook(file_contents=client.get(
        f"/view/export?id={token}&format=xls").data)
    sheet = book.sheet_by_index(0)
    texts = {sheet.cell_value(r, c) for r in range(sheet.nrows) for c in range(sheet.ncols)
             if sheet.cell_type(r, c) == xlrd.XL_CELL_TEXT}
    assert set(expected.values()) <= texts
    assert not any(t.startswith(FORMULA) for t in texts)


def test_hos024_a_company_filter_with_a_nasty_name_is_neutralised_in_the_title(nasty):
    client = logged_in(nasty, "nastyadmin")
    with nasty.server.app_context(), db.engine.begin() as conn:
        conn.execute(insert(Company).values(id=99, name="=1+2", parent_id=1))
    decoded, _ = query(client, nasty, filters={"company": [99, 2]}, output="xlsx",
                       **{"from": "2025-01-01 00:00", "to": "2025-02-01 00:00"})
    token = decoded["response"][ids.REPORT_STORE]["data"]["snapshot"]
    workbook = openpyxl.load_workbook(
        io.BytesIO(client.get(f"/view/export?id={token}&format=xlsx").data))
    values = [c.value for row in workbook.active.iter_rows() for c in row if c.value]
    title = " ".join(str(v) for v in values if isinstance(v, str))
    assert "=1+2" in title and not any(str(v).startswith("=") for v in values)


# --------------------------------------------------------------------------- malformed, oversized

HUGE = "9" * 1_000_000
OVERSIZED = [
    pytest.param({"from": "2025-01-01" + HUGE}, "interval start", id="1MB-from"),
    pytest.param({"currency": "X" * 1_000_000}, "currency", id="1MB-currency"),
    pytest.param({"active": HUGE}, "active duration", id="1MB-active"),
    pytest.param({"tz": "Europe/" + "A" * 1_000_000}, "time zone", id="1MB-tz"),
    pytest.param({"output": "csv", "send_to": "not-an-address, " * 70_000}, "e-mail",
                 id="1MB-send-to"),
    pytest.param({"filters": {"company": list(range(10_000))}}, "outside your scope",
                 id="10k-company-ids"),
    pytest.param({"filters": {"company": ["1 OR 1=1"]}}, "is not a number", id="sql-id"),
    pytest.param({"filters": {"owner": [10**30]}}, "outside your scope", id="huge-id"),
    pytest.param({"active": -5}, "between 1 and 120", id="negative-active"),
    pytest.param({"tz": "../../etc/passwd"}, "time zone", id="path-tz"),
    pytest.param({"group": ["bogus", "year"]}, "group by", id="bogus-group"),
    pytest.param({"from": "2025-01-01", "to": "9999-12-31", "group": ["date"]}, "too many",
                 id="million-days"),
    pytest.param({"from": ["2025-01-01", "x"]}, "interval", id="list-for-text"),
    pytest.param({"output": ["csv"]}, "output", id="list-for-output"),
]


@pytest.mark.parametrize(("form", "words"), OVERSIZED)
def test_hos030_malformed_and_oversized_query_input_gets_one_clear_line(seeded, form, words):
    client = logged_in(seeded, R1A)
    form = dict(form)
    filters = form.pop("filters", None)
    decoded, _ = query(client, seeded, filters=filters, **form)
    assert ids.REPORT_STORE not in decoded["response"]
    message = error_text(decoded)
    assert words in message.lower()
    assert len(message) < MAX_MESSAGE, message[:200]


def test_hos031_ten_thousand_tags_are_a_query_not_a_failure(seeded):
    decoded, _ = query(logged_in(seeded, R1A), seeded,
                       filters={"tag": [f"tag-{i}" for i in range(9_999)] + ["gold"]})
    records = decoded["response"][ids.REPORT_STORE]["data"]["records"]
    assert [row["Clients - All: Qty"] for row in records] == [1, 1, 1]  # client B, tag gold


@pytest.mark.parametrize("path", [
    "/?from=%ZZ&to=&group=year&group=bogus&active=abc&company=x&company=-1&tz=Nope/Zone",
    "/?" + "tag=x&" * 10_000,
    "/?from=" + "9" * 100_000,
    "/view?id=%00%ff",
    "/view?id=" + "A" * 100_000,
    "/view/export?id=abc&format=../../etc/passwd",
    "/view/export?format=csv",
])
def test_hos032_malformed_query_strings_never_fail_the_server(seeded, path):
    client = logged_in(seeded, R1A)
    response = client.get(path)
    assert response.status_code in (200, 400, 404), response.status_code
    if response.status_code == 400:
        assert b"format must be one of csv, xlsx, xls" in response.data


def test_hos033_the_page_of_a_malformed_bookmark_still_renders(seeded):
    client = logged_in(seeded, R1A)
    client.dash_app = seeded
    search = "?from=%ZZ&group=bogus&active=abc&company=x&tz=" + "Z" * 10_000
    answer = call(client, "page.children",
                  [{"id": ids.URL, "property": "pathname", "value": "/"}],
                  [{"id": ids.URL, "property": "search", "value": search}])
    assert ids.INTERVAL_START in json.dumps(answer)


def test_hos034_a_request_body_over_the_limit_is_refused_with_413(seeded):
    client = logged_in(seeded, R1A)
    limit = seeded.server.config["MAX_CONTENT_LENGTH"]
    response = client.post("/_dash-update-component", data=b"{" + b" " * limit + b"}",
                           content_type="application/json")
    assert response.status_code == 413
    assert client.post("/login", data={"login": "x" * 1_000_000, "password": "y"}
                       ).status_code in (200, 413)


# --------------------------------------------------------------------------- share tokens


@pytest.fixture
def limited(app_config):
    dash_app = create_app({**app_config, "SHARE_GUESS_LIMIT": 5})
    with dash_app.server.app_context():
        from store.schema import init_db

        init_db(db.engine)
        load_scoped_example(db.engine)
    yield dash_app
    dash_app.server.extensions["dynamics.engine"].dispose()


def _token(dash_app) -> str:
    from metrics.query import query_from_params
    from store.reports import run_report
    from store.snapshots import create_snapshot

    with dash_app.server.app_context():
        user = load_user_by_login(db.engine, R1A)
        query_ = query_from_params({"from": "2025-01-01", "to": "2025-04-01"})
        return create_snapshot(run_report(query_, user), user, None, "web")


def test_hos040_guessing_share_tokens_is_rate_limited(limited):
    token = _token(limited)
    counter = limited.server.extensions["dynamics.share_guess_limiter"]
    now = [1_000_000.0]
    counter.clock = lambda: now[0]
    guesser = logged_in(limited, R1A)
    for i in range(5):  # unknown and malformed tokens, on both routes
        path = f"/view?id=guess{i}" if i % 2 else f"/view/export?id={'x' * 43}&format=csv"
        assert guesser.get(path).status_code == 404
    blocked = guesser.get(f"/view?id={token}")  # a real token: no oracle while blocked
    assert blocked.status_code == 429
    assert blocked.get_json() == {"error": f"Too many unknown share links. Try again in "
                                           f"{blocked.headers['Retry-After']} seconds."}
    assert 1 <= int(blocked.headers["Retry-After"]) <= 60
    assert guesser.get(f"/view/export?id={token}&format=csv").status_code == 429
    assert guesser.get("/").status_code == 200  # the rest of the app is not blocked
    # The address is blocked for everyone on it; another user elsewhere is not.
    assert logged_in(limited, R2).get(f"/view?id={token}").status_code == 429
    elsewhere = limited.server.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "10.9.8.7"
    assert elsewhere.post("/login", data={"login": R2, "password": PASSWORD}).status_code == 302
    assert elsewhere.get(f"/view?id={token}").status_code == 200
    now[0] += 61  # the next window
    assert guesser.get(f"/view?id={token}").status_code == 200


def test_hos041_opening_real_links_is_never_limited(limited):
    token = _token(limited)
    viewer = logged_in(limited, R2)
    for _ in range(20):
        assert viewer.get(f"/view/export?id={token}&format=csv").status_code == 200
        assert viewer.get(f"/view?id={token}").status_code == 200


def test_hos043_guessing_through_the_page_callback_is_rate_limited_too(limited):
    guesser = logged_in(limited, R1A)

    def page_of(token: str) -> int:
        return guesser.post("/_dash-update-component", json={
            "output": "page.children", "outputs": {"id": ids.PAGE, "property": "children"},
            "inputs": [{"id": ids.URL, "property": "pathname", "value": "/view"}],
            "state": [{"id": ids.URL, "property": "search", "value": f"?id={token}"}],
            "changedPropIds": [f"{ids.URL}.pathname"]}).status_code

    statuses = [page_of(f"guess{i:039d}") for i in range(6)]
    assert statuses[:5] == [200] * 5
    assert statuses[5] == 429
    assert guesser.get(f"/view?id={_token(limited)}").status_code == 429


def test_hos042_anonymous_guesses_go_to_the_login_first(limited):
    anonymous = limited.server.test_client()
    for i in range(10):
        response = anonymous.get(f"/view?id=guess{i}")
        assert response.status_code == 302 and "/login" in response.headers["Location"]


# --------------------------------------------------------------------------- SECRET_KEY


def test_hos050_production_without_secret_key_refuses_to_start(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    config = {"INSTANCE_PATH": str(tmp_path / "instance"),
              "DATABASE_URL": f"sqlite:///{tmp_path / 'prod.sqlite'}"}
    with pytest.raises(ConfigError, match="SECRET_KEY must be set when DYNAMICS_ENV=production"):
        create_app({**config, "DYNAMICS_ENV": "production"})
    monkeypatch.setenv("DYNAMICS_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "")
    with pytest.raises(ConfigError):
        create_app(config)
    assert not (tmp_path / "instance" / "secret_key").exists()  # no key made up either
    assert create_app({**config, "SECRET_KEY": "set"}).server.secret_key == "set"


def test_hos051_the_wsgi_entry_stops_with_one_line(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"}
    env.update(DYNAMICS_ENV="production", INSTANCE_PATH=str(tmp_path),
               DATABASE_URL=f"sqlite:///{tmp_path / 'prod.sqlite'}", PYTHONPATH=str(ROOT))
    result = subprocess.run([sys.executable, "-c", "import wsgi"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "Customer Dynamics cannot start: SECRET_KEY must be set when DYNAMICS_ENV=production")
    assert "Traceback" not in result.stderr
