"""Faults (``pytest -k flt``): the database down and back, Redis down, a worker killed in the
middle of a write, the app restarted.

The database outage is real on both backends, and nobody else's database is touched:

- PostgreSQL: a throwaway database, made unreachable with ``ALTER DATABASE … ALLOW_CONNECTIONS
  false`` plus ``pg_terminate_backend`` of its sessions, and reachable again with ``true``;
- SQLite: the database file moved away and a directory put in its place (so it cannot be
  opened), then put back. An SQLite handle that is already open keeps reading the moved file,
  as a process that still holds a file does, so the outage also closes the pool's handles.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import func, select

from app import DATABASE_UNAVAILABLE, create_app
from extensions import db
from metrics.errors import DataUnavailable
from metrics.query import query_from_params
from store import templates
from store.outbox import OutboxMessage, enqueue, new_request_id, status_for
from store.reports import run_report
from store.schema import init_db
from store.snapshots import SnapshotRecord, content_hash, create_snapshot, load_snapshot
from store.users import load_user_by_login
from tests.conftest import TEST_DATABASE_URL, _admin_url
from tests.dashboard_seed import PASSWORD, R1A, load_scoped_example
from tests.unit.test_dashboard_api import query

ROOT = Path(__file__).resolve().parents[2]
QUERY = {"from": "2025-01-01", "to": "2025-04-01", "group": ["month"]}
UNAVAILABLE = "database is unavailable"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --------------------------------------------------------------------------- the outage


@dataclass
class Outage:
    """A database of its own that a test can take down and bring back."""

    url: str
    down: Callable[[], None]
    up: Callable[[], None]


def _admin_execute(*statements: str) -> None:
    import psycopg

    with psycopg.connect(_admin_url(), autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


@pytest.fixture
def outage(backend: str, tmp_path: Path) -> Iterator[Outage]:
    if backend.startswith("postgresql"):
        name = f"faults_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        _admin_execute(f'CREATE DATABASE "{name}"')
        base = TEST_DATABASE_URL.rsplit("/", 1)[0]
        url = f"{base}/{name}"

        def down() -> None:
            _admin_execute(
                f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false',
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                f"WHERE datname = '{name}' AND pid <> pg_backend_pid()",
            )

        def up() -> None:
            _admin_execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')

        try:
            yield Outage(url, down, up)
        finally:
            _admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        return

    path = tmp_path / "outage.sqlite"
    away = tmp_path / "away"
    apps: list[Any] = []

    def down() -> None:
        for dash_app in apps:  # the open handles would keep reading the moved file
            dash_app.server.extensions["dynamics.engine"].dispose()
        away.mkdir()
        for name in (path.name, f"{path.name}-wal", f"{path.name}-shm"):
            if (tmp_path / name).exists():
                shutil.move(tmp_path / name, away / name)
        path.mkdir()  # a directory where the file was: SQLite cannot open it

    def up() -> None:
        path.rmdir()
        for moved in away.iterdir():
            shutil.move(moved, tmp_path / moved.name)
        away.rmdir()

    sqlite_outage = Outage(f"sqlite:///{path}", down, up)
    sqlite_outage.apps = apps  # type: ignore[attr-defined]
    yield sqlite_outage


def _app_on(outage: Outage, app_config: dict[str, Any], **extra: Any) -> Any:
    dash_app = create_app({**app_config, "DATABASE_URL": outage.url, **extra})
    getattr(outage, "apps", []).append(dash_app)
    return dash_app


def query_request(dash_app: Any, **form: Any) -> dict[str, Any]:
    """The body the page POSTs for a press of Query (built by test_dashboard_api's helper)."""
    sent: dict[str, Any] = {}

    class Capture:
        status_code = 204

        def post(self, _path: str, json: dict[str, Any]) -> Capture:
            sent.update(json)
            return self

    query(Capture(), dash_app, **form)
    return sent


def _log_in(dash_app: Any, login: str = R1A) -> Any:
    client = dash_app.server.test_client()
    response = client.post("/login", data={"login": login, "password": PASSWORD})
    assert response.status_code == 302
    return client


# --------------------------------------------------------------------------- database down


def test_flt001_database_down_then_back(outage, app_config):
    """Down: /healthz 503, pages and queries say the database is unavailable (no 500).
    Back: everything works again, without a restart."""
    dash_app = _app_on(outage, app_config)
    with dash_app.server.app_context():
        init_db(db.engine)
        load_scoped_example(db.engine)
    client = _log_in(dash_app)
    decoded, _ = query(client, dash_app)
    assert "report-store" in decoded["response"]  # works, and the ledger is now cached

    outage.down()
    health = client.get("/healthz")
    assert (health.status_code, health.get_json()) == (503, {"status": "unavailable"})
    assert client.get("/", headers={"Accept": "text/html"}).status_code in (200, 503)
    # The page's content (the page.children callback) says why it cannot be drawn.
    page = client.post("/_dash-update-component", json={
        "output": "page.children", "outputs": {"id": "page", "property": "children"},
        "inputs": [{"id": "url", "property": "pathname", "value": "/"}],
        "state": [{"id": "url", "property": "search", "value": ""}],
        "changedPropIds": ["url.pathname"]})
    assert page.status_code == 503
    assert page.get_json() == {"error": DATABASE_UNAVAILABLE}
    # The Query button, through Dash's HTTP API: the answer says why, whatever layer noticed
    # (loading the logged-in user, or the report itself).
    answer = client.post("/_dash-update-component", json=query_request(dash_app))
    # The logged-in account is known from the session, so the form itself shows the message.
    assert answer.status_code == 200
    assert UNAVAILABLE in answer.get_data(as_text=True)
    with dash_app.server.app_context(), pytest.raises(
        DataUnavailable, match="the database is unavailable; please try"
    ):
        run_report(query_from_params(QUERY), None)

    outage.up()
    assert client.get("/healthz").status_code == 200
    decoded, _ = query(client, dash_app)
    assert "report-store" in decoded["response"]
    assert client.get("/").status_code == 200


def test_flt002_redis_down_the_app_works_from_the_database(app_config):
    """REDIS_URL names a port nobody listens on: snapshots, pages and queries still work."""
    dead = f"redis://127.0.0.1:{free_port()}/0"
    dash_app = create_app({**app_config, "REDIS_URL": dead, "CACHE_KEY_PREFIX": "dead:"})
    with dash_app.server.app_context():
        init_db(db.engine)
        load_scoped_example(db.engine)
        user = load_user_by_login(db.engine, R1A)
        token = create_snapshot(run_report(query_from_params(QUERY), user), user, QUERY, "web")
    client = _log_in(dash_app)
    assert client.get("/healthz").status_code == 200
    assert client.get(f"/view?id={token}").status_code == 200
    export = client.get(f"/view/export?id={token}&format=csv")
    assert export.status_code == 200 and b"Clients - All: Qty" in export.data
    assert client.get("/view?id=unknown").status_code == 404  # the limiter counts in process
    decoded, _ = query(client, dash_app)
    assert "report-store" in decoded["response"]
    with dash_app.server.app_context():
        assert load_snapshot(token).token == token
    dash_app.server.extensions["dynamics.engine"].dispose()


# --------------------------------------------------------------------------- killed mid-write

CHILD = """
import json, os, sys, time
from sqlalchemy import event
from app import create_app
from extensions import db
from callbacks.query import run_query
from store.users import load_user_by_login

config, table, marker = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
server = create_app(config).server

def pause(conn, cursor, statement, *args):
    if statement.lstrip().upper().startswith("INSERT INTO " + table.upper()):
        with open(marker, "w") as handle:
            handle.write("inside")
        time.sleep(300)  # the parent kills us here, the INSERT done and not committed

with server.test_request_context("/"):
    event.listen(db.engine, "after_cursor_execute", pause)
    user = load_user_by_login(db.engine, "r1auser")
    params = {"from": "2025-01-01", "to": "2025-04-01", "group": ["month"], "active": "1",
              "output": "csv"}
    run_query(params, "a@example.com, b@example.com", user)
print("not killed")
"""


def _kill_inside(app_config: dict[str, Any], table: str, tmp_path: Path) -> None:
    """Run a Query with e-mail in a child process and SIGKILL it inside ``table``'s INSERT."""
    marker = tmp_path / f"inside-{table}"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, json.dumps(app_config), table, str(marker)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 90
        while not marker.exists():
            if child.poll() is not None or time.monotonic() > deadline:
                output = child.stdout.read().decode(errors="replace") if child.stdout else ""
                pytest.fail(f"the child never reached INSERT INTO {table}: {output[-2000:]}")
            time.sleep(0.05)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        if child.stdout:
            child.stdout.close()
    assert child.returncode == -signal.SIGKILL


def _counts(dash_app: Any) -> tuple[int, int]:
    with dash_app.server.app_context(), db.engine.connect() as conn:
        return (conn.execute(select(func.count()).select_from(SnapshotRecord)).scalar_one(),
                conn.execute(select(func.count()).select_from(OutboxMessage)).scalar_one())


@pytest.fixture
def seeded(app):
    with app.server.app_context():
        load_scoped_example(db.engine)
    return app


def test_flt003_killed_while_storing_the_snapshot_leaves_no_snapshot(seeded, app_config,
                                                                    tmp_path):
    _kill_inside(app_config, "snapshots", tmp_path)
    assert _counts(seeded) == (0, 0)
    # The database is not left locked or half-written: the next worker writes normally.
    client = _log_in(seeded)
    decoded, _ = query(client, seeded)
    assert "report-store" in decoded["response"]
    assert _counts(seeded) == (1, 0)


def test_flt004_killed_while_queueing_the_mail_leaves_no_outbox_row(seeded, app_config,
                                                                   tmp_path):
    _kill_inside(app_config, "outbox", tmp_path)
    snapshots, outbox = _counts(seeded)
    assert (snapshots, outbox) == (1, 0)  # the snapshot was committed before, whole
    with seeded.server.app_context(), db.session() as session:
        record = session.scalars(select(SnapshotRecord)).one()
        assert content_hash(record.rows) == record.content_hash
        assert len(json.loads(record.rows)["data"]) == 3


# --------------------------------------------------------------------------- restarted


def _procfile() -> dict[str, str]:
    entries = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        name, _, command = line.partition(":")
        if command.strip():
            entries[name.strip()] = command.strip()
    return entries


class Gunicorn:
    """The Procfile's ``web:`` process, started and stopped like a platform would."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env, self.log, self.process = env, log, None
        self.url = f"http://127.0.0.1:{env['PORT']}"

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                ["bash", "-c", f"exec {_procfile()['web']}"], cwd=ROOT, env=self.env,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()[-3000:]
            try:
                if requests.get(f"{self.url}/healthz", timeout=10).status_code == 200:
                    return
            except requests.RequestException:  # not listening yet, or the worker is booting
                pass
            time.sleep(0.2)
        pytest.fail(f"gunicorn did not answer /healthz: {self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None


def test_flt005_after_a_restart_sessions_snapshots_templates_and_mail_are_still_there(
    app_config, tmp_path
):
    """Release, then web, from the Procfile; restart web; the same cookies still log in."""
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "SMTP_URL")},
        "PATH": f"{ROOT / '.venv' / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
        "DATABASE_URL": app_config["DATABASE_URL"],
        "INSTANCE_PATH": app_config["INSTANCE_PATH"],
        "SECRET_KEY": "restart-test-secret",
        "DYNAMICS_ENV": "production",
        "PORT": str(free_port()),
        "WEB_CONCURRENCY": "1",
        "GUNICORN_THREADS": "2",
    }
    release = subprocess.run(["bash", "-c", _procfile()["release"]], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=120, check=False)
    assert release.returncode == 0, release.stderr
    setup = create_app({**app_config, "SECRET_KEY": env["SECRET_KEY"]})
    with setup.server.app_context():
        load_scoped_example(db.engine)
        user = load_user_by_login(db.engine, R1A)
        token = create_snapshot(run_report(query_from_params(QUERY), user), user, QUERY, "csv")
        templates.save(user, "Quarter by month", QUERY)
        message = EmailMessage()
        message["From"], message["Subject"] = "dynamics@example.com", "queued before restart"
        message.set_content("x")
        request_id = new_request_id()
        with db.session() as session:
            enqueue(session, message, ["a@example.com"], request_id=request_id)
    setup.server.extensions["dynamics.engine"].dispose()

    web = Gunicorn(env, tmp_path / "gunicorn.log")
    try:
        web.start()
        browser = requests.Session()
        remembered = requests.Session()
        for session, remember in ((browser, ""), (remembered, "1")):
            response = session.post(f"{web.url}/login", allow_redirects=False, data={
                "login": R1A, "password": PASSWORD, "remember": remember})
            assert response.status_code == 302 and response.headers["Location"] == "/"
        remembered.cookies.set("session", None)  # only the remember-me cookie is kept
        assert browser.get(f"{web.url}/", allow_redirects=False).status_code == 200

        web.stop()
        web.start()

        for session in (browser, remembered):
            assert session.get(f"{web.url}/", allow_redirects=False).status_code == 200
            view = session.get(f"{web.url}/view?id={token}", allow_redirects=False)
            assert view.status_code == 200
        export = browser.get(f"{web.url}/view/export", params={"id": token, "format": "csv"})
        assert export.status_code == 200 and b"Clients - All: Qty" in export.content
        anonymous = requests.get(f"{web.url}/", allow_redirects=False)
        assert anonymous.status_code == 302  # the cookies are what logs in, not the address
    finally:
        web.stop()
    after = create_app({**app_config, "SECRET_KEY": env["SECRET_KEY"]})
    with after.server.app_context():
        user = load_user_by_login(db.engine, R1A)
        assert [t.name for t in templates.list_for(user)] == ["Quarter by month"]
        assert [s.status for s in status_for(db.engine, request_id)] == ["queued"]
    after.server.extensions["dynamics.engine"].dispose()


def test_flt006_without_secret_key_development_keeps_its_key_across_restarts(tmp_path, app_config):
    """Development (no SECRET_KEY): the key is kept in the instance folder, so a session made
    before a restart still logs in after it."""
    config = {k: v for k, v in app_config.items() if k != "SECRET_KEY"}
    first = create_app(config)
    with first.server.app_context():
        init_db(db.engine)
        load_scoped_example(db.engine)
    client = _log_in(first)
    cookie = client.get_cookie("session")
    assert cookie is not None
    first.server.extensions["dynamics.engine"].dispose()
    again = create_app(config).server.test_client()
    again.set_cookie("session", cookie.value)
    assert again.get("/").status_code == 200
    assert (Path(config["INSTANCE_PATH"]) / "secret_key").exists()
