"""PostgreSQL through ``DATABASE_URL`` (psycopg 3): the same schema, the same results.

``pytest -k pg``. The tests marked ``postgresql`` only run when ``TEST_DATABASE_URL`` is set
(``scripts/test.sh`` sets it when the server is up); the others run on every backend.
"""

from __future__ import annotations

import threading
from datetime import datetime
from decimal import Decimal

import pandas as pd
import pytest
from sqlalchemy import create_engine, insert, select, text

from app import create_app
from extensions import db
from metrics.query import query_from_params
from store.ledger import ClientFilter, ledgers, load_frames
from store.models import Client, Company, CurrencyRate, Transaction, User
from store.outbox import OutboxMessage, claim_due, enqueue, mark_sent
from store.reports import run_report
from store.schema import init_db, ledger_version
from store.users import load_user_by_login
from tests.conftest import MICRO

TODAY = "2025-06-30"
SEED = ["seed-demo", "--clients", "120", "--days", "150", "--seed", "7", "--today", TODAY]


def _columns(engine, table: str) -> dict[str, tuple]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT column_name, data_type, numeric_precision, numeric_scale "
                "FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND table_name = :table"
            ),
            {"table": table},
        ).all()
    return {row[0]: tuple(row[1:]) for row in rows}


@pytest.mark.backends("postgresql")
def test_pg001_schema_types_are_the_spec_s(app):
    """Money NUMERIC(18,4), rates NUMERIC(18,8), naive timestamps, BIGINT transaction ids."""
    with app.server.app_context():
        engine = db.engine
        assert engine.dialect.name == "postgresql"
        assert engine.dialect.driver == "psycopg"
        transactions = _columns(engine, "transactions")
        rates = _columns(engine, "currency_rates")
        clients = _columns(engine, "clients")
    assert transactions["amount"] == ("numeric", 18, 4)
    assert transactions["id"][0] == "bigint"
    assert transactions["ts"][0] == "timestamp without time zone"
    assert rates["rate"] == ("numeric", 18, 8)
    assert rates["valid_from"][0] == "timestamp without time zone"
    assert clients["created_at"][0] == "timestamp without time zone"


@pytest.mark.backends("postgresql")
def test_pg002_version_triggers_fire_once_per_statement_and_on_truncate(app):
    with app.server.app_context():
        engine = db.engine
        with engine.begin() as conn:
            conn.execute(insert(Company).values(id=1, name="Op"))
            conn.execute(insert(Company).values([{"id": i, "name": f"R{i}", "parent_id": 1}
                                                 for i in range(2, 6)]))
        before = ledger_version(engine)
        with engine.begin() as conn:
            conn.execute(text("UPDATE companies SET name = name || '!' WHERE parent_id = 1"))
        assert ledger_version(engine) == before + 1  # four rows, one statement
        with engine.begin() as conn:
            conn.execute(text("TRUNCATE client_tags"))
        assert ledger_version(engine) == before + 2
        init_db(engine)  # idempotent: the triggers are replaced, not doubled
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM companies WHERE id = 5"))
        assert ledger_version(engine) == before + 3


def test_pg003_a_write_by_another_program_invalidates_the_loaded_ledger(runner, app):
    """The billing system writes the tables directly: the next report sees the change."""
    assert runner.invoke(args=["import-csv", str(MICRO)]).exit_code == 0
    ledgers.clear()
    query = query_from_params({"from": "2025-01-01", "to": "2025-04-01", "group": ["month"]})
    with app.server.app_context():
        first = run_report(query, None).frame["Balance Refill: Total"].tolist()
        other = create_engine(db.engine.url)  # not the app's engine, not its events
        with other.begin() as conn:
            conn.execute(text("UPDATE transactions SET amount = amount + 1 WHERE kind = 'refill'"))
        other.dispose()
        again = run_report(query, None).frame["Balance Refill: Total"].tolist()
    refills = [1, 0, 1]  # refills per month in the worked example
    assert again == [a + n for a, n in zip(first, refills, strict=True)]


QUERIES = [
    {"group": ["month"]},
    {"group": ["month", "package"], "currency": "EUR", "active": "3"},
    {"group": ["date"], "tz": "Europe/Kyiv", "type": ["client", "call_shop"]},
    {"tag": ["vip", "promo"], "package": ["2", "5"]},
    {"group": ["year", "package"], "tz": "America/St_Johns", "currency": "UAH"},
]


@pytest.mark.backends("postgresql")
def test_pg004_the_same_seed_gives_the_same_reports_as_sqlite(runner, app, app_config, tmp_path):
    """Seeded on PostgreSQL and on SQLite, every report is the same (scoped ones too)."""
    sqlite_app = create_app({**app_config, "DATABASE_URL": f"sqlite:///{tmp_path / 'same.sqlite'}"})
    with sqlite_app.server.app_context():
        init_db(db.engine)
    for _app, cli in ((app, runner), (sqlite_app, sqlite_app.server.test_cli_runner())):
        result = cli.invoke(args=SEED)
        assert result.exit_code == 0, result.output
    with app.server.app_context(), db.session() as session:
        reseller = session.scalar(
            select(User.login).where(User.role == "reseller").order_by(User.id)
        )
    frames: dict[str, list] = {}
    for name, dash_app in (("postgresql", app), ("sqlite", sqlite_app)):
        with dash_app.server.app_context():
            assert db.engine.dialect.name == name
            user = load_user_by_login(db.engine, reseller)
            frames[name] = [
                run_report(query_from_params({"from": "2025-02-01", "to": "2025-06-30T12:00",
                                              **params}), who)
                for params in QUERIES
                for who in (None, user)
            ]
    for pg, lite in zip(frames["postgresql"], frames["sqlite"], strict=True):
        assert len(pg.frame) > 0
        pd.testing.assert_frame_equal(pg.frame, lite.frame, check_exact=False, rtol=1e-12)
        assert pg.data_interval == lite.data_interval
    sqlite_app.server.extensions["dynamics.engine"].dispose()


def test_pg005_timestamps_keep_microseconds_and_bucket_edges(app):
    """A charge one microsecond before midnight is in the old month, one at midnight is not."""
    with app.server.app_context(), db.engine.begin() as conn:
        conn.execute(insert(Company).values(id=1, name="Op"))
        conn.execute(insert(Client).values(id=1, name="A", client_type="client", company_id=1,
                                           currency="USD", created_at=datetime(2025, 1, 1)))
        conn.execute(insert(Transaction).values([
            {"id": 1, "client_id": 1, "ts": datetime(2025, 1, 31, 23, 59, 59, 999999),
             "kind": "payg", "amount": Decimal("1.2345"), "package_id": None},
            {"id": 2, "client_id": 1, "ts": datetime(2025, 2, 1), "kind": "payg",
             "amount": Decimal("0.0001"), "package_id": None},
            {"id": 3, "client_id": 1, "ts": datetime(2025, 1, 5, 0, 0, 0, 1), "kind": "refill",
             "amount": Decimal("99999999999999.9999"), "package_id": None},
        ]))
        conn.execute(insert(CurrencyRate).values(currency="EUR", valid_from=datetime(2025, 1, 1),
                                                 rate=Decimal("1.12345678")))
    ledgers.clear()
    with app.server.app_context():
        frames = load_frames(db.engine, ClientFilter())
        with db.engine.connect() as conn:
            amounts = conn.execute(select(Transaction.amount).order_by(Transaction.id)).scalars().all()
        report = run_report(
            query_from_params({"from": "2025-01-01", "to": "2025-03-01", "group": ["month"]}),
            None,
        )
    ts = frames.transactions.sort_values("id")["ts"].tolist()
    assert ts == [pd.Timestamp("2025-01-31 23:59:59.999999"), pd.Timestamp("2025-02-01"),
                  pd.Timestamp("2025-01-05 00:00:00.000001")]
    assert amounts[:2] == [Decimal("1.2345"), Decimal("0.0001")]
    if app.server.extensions["dynamics.engine"].dialect.name == "postgresql":
        assert amounts[2] == Decimal("99999999999999.9999")  # all 18 digits
    else:  # SQLite keeps NUMERIC as a double: 15-16 significant digits
        assert float(amounts[2]) == pytest.approx(1e14, rel=1e-15)
    assert frames.rates["rate"].tolist() == [pytest.approx(1.12345678, rel=1e-15)]
    assert report.frame["Pay As You Go: Total"].tolist() == [pytest.approx(1.2345),
                                                             pytest.approx(0.0001)]
    assert report.data_interval == (datetime(2025, 1, 5, 0, 0, 0, 1), datetime(2025, 2, 1))


def test_pg006_concurrent_claims_from_several_processes_never_overlap(app):
    """Four senders, each with its own engine (as separate processes have): one claim each."""
    with app.server.app_context(), db.session() as session:
        from email.message import EmailMessage

        message = EmailMessage()
        message["From"], message["Subject"] = "dynamics@example.com", "claims"
        message.set_content("x")
        enqueue(session, message, [f"u{i}@example.com" for i in range(40)])
    url = app.server.extensions["dynamics.engine"].url
    engines = [create_engine(url, pool_size=1) for _ in range(4)]
    claimed: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(len(engines))
    failures: list[BaseException] = []

    def sender(engine) -> None:
        try:
            start.wait()
            while (claim := claim_due(engine)) is not None:
                with lock:
                    claimed.append(claim.id)
                assert mark_sent(engine, claim)
        except BaseException as error:  # noqa: BLE001 - reported by the main thread
            failures.append(error)

    threads = [threading.Thread(target=sender, args=(e,)) for e in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    for engine in engines:
        engine.dispose()
    assert failures == []
    assert len(claimed) == len(set(claimed)) == 40
    with app.server.app_context(), db.engine.connect() as conn:
        statuses = conn.execute(select(OutboxMessage.status)).scalars().all()
    assert set(statuses) == {"sent"}


def test_pg007_after_an_import_with_explicit_ids_new_rows_get_fresh_ids(runner):
    """The import moves the id sequences past the loaded rows (PostgreSQL SERIAL)."""
    assert runner.invoke(args=["import-csv", str(MICRO)]).exit_code == 0
    result = runner.invoke(args=["create-user", "newcomer", "--password", "long enough pw",
                                 "--role", "manager", "--company", "1"])
    assert result.exit_code == 0, result.output
    with runner.app.app_context(), db.engine.connect() as conn:
        ids = conn.execute(select(User.id).order_by(User.id)).scalars().all()
    assert ids == [1, 2]
