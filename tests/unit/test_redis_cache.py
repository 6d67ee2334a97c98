"""Redis through ``REDIS_URL``: what one worker caches, another serves (``pytest -k red``).

Each test runs on the in-process cache and, when ``TEST_REDIS_URL`` is set, on Redis
(``[…-redis]`` ids). Two ``create_app`` instances on one database stand for two gunicorn workers
(or two hosts): with Redis they share the snapshot cache and the share-guess counters, with the
in-process cache each keeps its own.
"""

from __future__ import annotations

import pytest
import redis
from sqlalchemy import event

from app import create_app
from extensions import cache, db
from metrics.query import query_from_params
from store.reports import run_report
from store.snapshots import CACHE_TIMEOUT_SECONDS, create_snapshot, load_snapshot
from store.users import load_user_by_login
from tests.conftest import TEST_REDIS_URL
from tests.dashboard_seed import PASSWORD, R1A, load_scoped_example

QUERY = {"from": "2025-01-01", "to": "2025-04-01", "group": ["month"]}


@pytest.fixture
def workers(app, app_config):
    """Two app instances ("workers") on the seeded database and the same cache settings."""
    with app.server.app_context():
        load_scoped_example(db.engine)
    other = create_app(app_config)
    yield app, other
    other.server.extensions["dynamics.engine"].dispose()


def _snapshot(dash_app) -> str:
    with dash_app.server.app_context():
        user = load_user_by_login(db.engine, R1A)
        report = run_report(query_from_params(QUERY), user)
        return create_snapshot(report, user, QUERY, "web")


def _snapshot_reads(dash_app, token: str):
    """(the snapshot ``dash_app`` loads, how many times it read the snapshots table)."""
    reads: list[str] = []

    def seen(_conn, _cursor, statement, *_args) -> None:
        if "FROM snapshots" in statement:
            reads.append(statement)

    with dash_app.server.app_context():
        event.listen(db.engine, "before_cursor_execute", seen)
        try:
            snapshot = load_snapshot(token)
        finally:
            event.remove(db.engine, "before_cursor_execute", seen)
    return snapshot, len(reads)


def test_red001_a_snapshot_cached_by_one_worker_is_served_by_another(workers, redis_url):
    first, second = workers
    token = _snapshot(first)
    cached, first_reads = _snapshot_reads(first, token)  # read once from the DB, then cached
    assert first_reads == 1
    served, second_reads = _snapshot_reads(second, token)
    assert served == cached
    # With Redis the second worker finds it in the shared cache; in-process caches are per
    # worker, so there it has to read the database.
    assert second_reads == (0 if redis_url else 1)
    for dash_app in workers:  # and each serves it over HTTP, the same bytes
        client = dash_app.server.test_client()
        assert client.post("/login", data={"login": R1A, "password": PASSWORD}).status_code == 302
        response = client.get(f"/view/export?id={token}&format=csv")
        assert response.status_code == 200
        assert b"Clients - All: Qty" in response.data


@pytest.mark.backends("sqlite-redis", "postgresql-redis")
def test_red002_snapshots_in_redis_have_the_prefix_and_expire(app, app_config):
    with app.server.app_context():
        load_scoped_example(db.engine)
    token = _snapshot(app)
    with app.server.app_context():
        load_snapshot(token)
        assert cache.get(f"snapshot:{token}")["token"] == token
    client = redis.Redis.from_url(TEST_REDIS_URL)
    key = f"{app_config['CACHE_KEY_PREFIX']}snapshot:{token}"
    assert client.exists(key) == 1
    assert 0 < client.ttl(key) <= CACHE_TIMEOUT_SECONDS
    with app.server.app_context():
        cache.clear()  # clears this deployment's prefix only …
    assert client.exists(key) == 0
    with app.server.app_context():
        assert load_snapshot(token).token == token  # … and the database still has it


def test_red003_share_guess_counters_are_shared_by_the_workers(workers, redis_url):
    """Guesses spread over two workers add up with Redis; in process each counts its own."""
    for dash_app in workers:
        dash_app.server.extensions["dynamics.share_guess_limiter"].limit = 4
    clients = []
    for dash_app in workers:
        client = dash_app.server.test_client()
        assert client.post("/login", data={"login": R1A, "password": PASSWORD}).status_code == 302
        clients.append(client)
    first, second = clients
    for i in range(2):
        assert first.get(f"/view?id=guess{i}").status_code == 404
        assert second.get(f"/view/export?id=guess{i}&format=csv").status_code == 404
    # Four guesses in all, two on each worker.
    expected = 429 if redis_url else 404
    assert first.get("/view?id=guess9").status_code == expected
    assert second.get("/view?id=guess9").status_code == expected
