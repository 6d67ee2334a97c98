"""The data commands (init-db, seed-demo, create-user, set-password) and the embedded first
start: ``pytest -k cli``."""

from __future__ import annotations

import stat
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import func, select, text
from werkzeug.security import check_password_hash

from app import create_app
from extensions import db
from store.demo import prepare_embedded_instance
from store.models import SOURCE_TABLES, User
from store.schema import init_db, ledger_version
from store.users import UNUSABLE_PASSWORD, authenticate

TODAY = "2025-06-30"
SMALL = ["seed-demo", "--clients", "150", "--days", "120", "--seed", "7", "--today", TODAY]


def _counts(app) -> dict[str, int]:
    with app.server.app_context(), db.engine.connect() as conn:
        return {t: conn.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar_one()
                for t in SOURCE_TABLES}


def _frame(app, sql: str) -> pd.DataFrame:
    with app.server.app_context(), db.engine.connect() as conn:
        return pd.read_sql_query(text(sql), conn)


def _seed(runner, *extra: str) -> str:
    result = runner.invoke(args=[*SMALL, *extra])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def seeded(app, runner):
    _seed(runner)
    return app


@pytest.fixture
def company(app):
    with app.server.app_context(), db.engine.begin() as conn:
        conn.execute(text("INSERT INTO companies (id, name, parent_id) VALUES (1, 'Op', NULL)"))
    return 1


# ------------------------------------------------------------------------------ init-db


def test_cli001_init_db_is_idempotent_and_keeps_data(app, runner, company):
    first = runner.invoke(args=["init-db"])
    assert (first.exit_code, first.output) == (0, "database ready\n")
    with app.server.app_context():
        version = ledger_version(db.engine)
    again = runner.invoke(args=["init-db"])
    assert again.exit_code == 0
    assert _counts(app)["companies"] == 1
    with app.server.app_context():
        assert ledger_version(db.engine) == version  # nothing rewritten


def test_cli002_init_db_creates_the_tables_of_a_fresh_file(tmp_path):
    fresh = create_app({"INSTANCE_PATH": str(tmp_path / "i"), "SECRET_KEY": "x",
                        "DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.sqlite'}"})
    result = fresh.server.test_cli_runner().invoke(args=["init-db"])
    assert result.exit_code == 0, result.output
    assert set(_counts(fresh).values()) == {0}
    fresh.server.extensions["dynamics.engine"].dispose()


# -------------------------------------------------------------------------- create-user


def test_cli010_create_user_hashes_the_password(app, runner, company):
    result = runner.invoke(args=["create-user", "alice", "--password", "s3cret-enough",
                                 "--role", "manager", "--company", "1",
                                 "--email", "alice@example.com"])
    assert result.exit_code == 0, result.output
    assert "created user alice" in result.output
    with app.server.app_context(), db.session() as session:
        user = session.scalar(select(User).where(User.login == "alice"))
        assert (user.role, user.company_id, user.email) == ("manager", 1, "alice@example.com")
        assert "s3cret-enough" not in user.password_hash
        assert check_password_hash(user.password_hash, "s3cret-enough")
        assert authenticate(db.engine, "alice", "s3cret-enough").login == "alice"
        assert authenticate(db.engine, "alice", "wrong") is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--role", "boss", "--company", "1"], "unknown role 'boss'"),
        (["--role", "admin", "--company", "99"], "unknown company 99"),
        (["--role", "admin", "--company", "1", "--password", "short"],
         "password must have at least 8 characters"),
    ],
)
def test_cli011_create_user_checks_role_company_password(app, runner, company, args, message):
    if "--password" not in args:
        args = [*args, "--password", "long enough pw"]
    result = runner.invoke(args=["create-user", "bob", *args])
    assert result.exit_code == 2
    assert f"error: {message}" in result.stderr
    assert _counts(app)["users"] == 0


def test_cli012_create_user_refuses_a_taken_login(app, runner, company):
    args = ["create-user", "carol", "--password", "long enough pw", "--role", "admin",
            "--company", "1"]
    assert runner.invoke(args=args).exit_code == 0
    again = runner.invoke(args=args)
    assert again.exit_code == 2
    assert "login 'carol' is taken" in again.stderr
    assert _counts(app)["users"] == 1


def test_cli013_create_user_prompts_for_a_missing_password(app, runner, company):
    result = runner.invoke(args=["create-user", "dave", "--role", "reseller", "--company", "1"],
                           input="prompted pw 1\nprompted pw 1\n")
    assert result.exit_code == 0, result.output
    with app.server.app_context():
        assert authenticate(db.engine, "dave", "prompted pw 1") is not None


# ------------------------------------------------------------------------- set-password


def test_cli020_set_password_replaces_the_password(app, runner, company):
    runner.invoke(args=["create-user", "erin", "--password", "first password", "--role",
                        "admin", "--company", "1"])
    result = runner.invoke(args=["set-password", "erin", "--password", "second password"])
    assert (result.exit_code, result.output) == (0, "password of erin set\n")
    with app.server.app_context():
        assert authenticate(db.engine, "erin", "first password") is None
        assert authenticate(db.engine, "erin", "second password") is not None


def test_cli021_set_password_prompts_with_confirmation(app, runner, company):
    runner.invoke(args=["create-user", "fred", "--password", "first password", "--role",
                        "admin", "--company", "1"])
    mismatch = runner.invoke(args=["set-password", "fred"], input="new password 1\nother one\n"
                             "new password 1\nnew password 1\n")
    assert mismatch.exit_code == 0, mismatch.output
    assert "do not match" in mismatch.output
    with app.server.app_context():
        assert authenticate(db.engine, "fred", "new password 1") is not None


@pytest.mark.parametrize(
    ("login", "password", "message"),
    [("nobody", "long enough pw", "unknown user 'nobody'"),
     ("gina", "short", "password must have at least 8 characters")],
)
def test_cli022_set_password_errors_exit_2(app, runner, company, login, password, message):
    runner.invoke(args=["create-user", "gina", "--password", "first password", "--role",
                        "admin", "--company", "1"])
    result = runner.invoke(args=["set-password", login, "--password", password])
    assert result.exit_code == 2
    assert f"error: {message}" in result.stderr
    with app.server.app_context():
        assert authenticate(db.engine, "gina", "first password") is not None


# ---------------------------------------------------------------------------- seed-demo


def _sums(app) -> dict[str, object]:
    frame = _frame(app, """
        SELECT (SELECT COUNT(*) FROM transactions) AS transactions,
               (SELECT SUM(amount) FROM transactions) AS amount,
               (SELECT SUM(client_id) FROM transactions) AS client_ids,
               (SELECT MIN(ts) FROM transactions) AS first_ts,
               (SELECT MAX(ts) FROM transactions) AS last_ts,
               (SELECT SUM(rate) FROM currency_rates) AS rates,
               (SELECT COUNT(*) FROM clients) AS clients,
               (SELECT COUNT(*) FROM client_tags) AS tags,
               (SELECT COUNT(*) FROM users) AS users,
               (SELECT COUNT(*) FROM companies) AS companies""")
    row = frame.iloc[0].to_dict()
    row["first_ts"], row["last_ts"] = pd.Timestamp(row["first_ts"]), pd.Timestamp(row["last_ts"])
    row["amount"], row["rates"] = round(float(row["amount"]), 4), round(float(row["rates"]), 4)
    return {key: value if isinstance(value, (float, pd.Timestamp)) else int(value)
            for key, value in row.items()}


def test_cli030_seed_is_deterministic_for_a_seed_and_day(app, runner, app_config, tmp_path):
    _seed(runner)
    twin = create_app({**app_config, "DATABASE_URL": f"sqlite:///{tmp_path / 'twin.sqlite'}"})
    with twin.server.app_context():
        init_db(db.engine)
    twin_runner = twin.server.test_cli_runner()
    _seed(twin_runner)
    assert _sums(app) == _sums(twin)
    query = "SELECT id, client_id, ts, kind, amount, package_id FROM transactions ORDER BY id"
    left, right = _frame(app, query), _frame(twin, query)
    left["ts"], right["ts"] = pd.to_datetime(left["ts"]), pd.to_datetime(right["ts"])
    left["amount"], right["amount"] = left["amount"].astype(float), right["amount"].astype(float)
    pd.testing.assert_frame_equal(left, right)
    # Another seed gives other data.
    other = twin_runner.invoke(args=[*SMALL[:-4], "--seed", "8", "--today", TODAY, "--reset"])
    assert other.exit_code == 0, other.output
    assert _sums(twin) != _sums(app)
    twin.server.extensions["dynamics.engine"].dispose()


def test_cli031_seed_covers_every_type_currency_and_kind(seeded):
    clients = _frame(seeded, "SELECT client_type, currency FROM clients")
    assert set(clients["client_type"]) == {"client", "reseller", "calling_card", "call_shop"}
    assert {"USD", "EUR"} < set(clients["currency"]) and clients["currency"].nunique() >= 4
    kinds = _frame(seeded, "SELECT kind, COUNT(*) AS n, MIN(amount) AS low FROM transactions "
                           "GROUP BY kind").set_index("kind")
    assert set(kinds.index) == {"refill", "payg", "package_activation", "package_renewal",
                                "adjustment"}
    assert float(kinds.loc["adjustment", "low"]) < 0  # adjustments are signed
    zero = _frame(seeded, "SELECT COUNT(*) AS n FROM transactions WHERE amount = 0 "
                          "AND kind IN ('payg', 'package_activation')")
    assert zero["n"].iloc[0] > 0
    users = _frame(seeded, "SELECT role, company_id, password_hash FROM users")
    assert set(users["role"]) == {"admin", "manager", "reseller"}
    assert users["company_id"].nunique() >= 3
    assert set(users["password_hash"]) == {UNUSABLE_PASSWORD}
    assert _counts(seeded)["client_tags"] > 0 and _counts(seeded)["packages"] == 6


def test_cli032_seed_company_tree_and_period(seeded):
    companies = _frame(seeded, "SELECT id, name, parent_id FROM companies ORDER BY id")
    root = companies.iloc[0]
    assert (root["id"], root["name"]) == (1, "Operator") and pd.isna(root["parent_id"])
    parents = dict(zip(companies["id"], companies["parent_id"], strict=True))
    depth = dict.fromkeys(parents, 0)
    for company, parent in parents.items():
        node = parent
        while not pd.isna(node):
            depth[company] += 1
            node = parents[int(node)]
    assert max(depth.values()) >= 2  # operator → reseller → sub-reseller
    bounds = _frame(seeded, "SELECT MIN(c.created_at) AS first_client, MAX(c.created_at) AS "
                            "last_client, MIN(t.ts) AS first_ts, MAX(t.ts) AS last_ts "
                            "FROM clients c, transactions t WHERE t.client_id = c.id")
    today = datetime.fromisoformat(TODAY)
    start = today - timedelta(days=120)
    for column in bounds.columns:
        value = pd.Timestamp(bounds[column].iloc[0])
        assert start <= value < today, column
    late = _frame(seeded, "SELECT COUNT(*) AS n FROM transactions t JOIN clients c "
                          "ON c.id = t.client_id WHERE t.ts < c.created_at")
    assert late["n"].iloc[0] == 0
    spread = _frame(seeded, "SELECT created_at FROM clients")["created_at"]
    assert pd.to_datetime(spread).dt.to_period("M").nunique() >= 4  # created over the period


def test_cli033_seed_daily_rates_for_every_foreign_currency(seeded):
    rates = _frame(seeded, "SELECT currency, valid_from, rate FROM currency_rates")
    rates["valid_from"] = pd.to_datetime(rates["valid_from"])
    assert "USD" not in set(rates["currency"])  # the base currency needs no rows
    used = set(_frame(seeded, "SELECT DISTINCT currency FROM clients")["currency"]) - {"USD"}
    assert used <= set(rates["currency"])
    for _, group in rates.groupby("currency"):
        days = group["valid_from"].sort_values().diff().dropna()
        assert (days == pd.Timedelta(days=1)).all()
        assert len(group) == 121 and group["rate"].astype(float).gt(0).all()
        assert group["rate"].astype(float).nunique() > 100  # a random walk, not a constant


def test_cli034_seed_packages_activate_with_an_initial_renewal_then_monthly(seeded):
    package_rows = _frame(seeded, "SELECT client_id, ts, kind, package_id FROM transactions "
                                  "WHERE kind LIKE 'package%' ORDER BY client_id, ts, id")
    assert package_rows["package_id"].notna().all()
    activations = package_rows[package_rows["kind"] == "package_activation"]
    renewals = package_rows[package_rows["kind"] == "package_renewal"]
    initial = activations.merge(renewals, on=["client_id", "ts", "package_id"])
    assert len(activations) > 0 and len(initial) == len(activations)
    renewals = renewals.assign(ts=pd.to_datetime(renewals["ts"]))
    gaps = renewals.groupby(["client_id", "package_id"])["ts"].diff().dropna()
    assert len(gaps) > 0
    monthly = gaps.between(pd.Timedelta(days=28), pd.Timedelta(days=31, hours=1))
    assert monthly.mean() > 0.9
    others = _frame(seeded, "SELECT COUNT(*) AS n FROM transactions WHERE package_id IS NOT NULL "
                            "AND kind NOT LIKE 'package%'")
    assert others["n"].iloc[0] == 0


def test_cli035_seed_balances_go_both_ways_and_some_clients_stop(seeded):
    balances = _frame(seeded, """
        SELECT client_id,
               SUM(CASE WHEN kind IN ('refill', 'adjustment') THEN amount ELSE -amount END) AS b,
               MAX(CASE WHEN kind IN ('payg', 'package_activation', 'package_renewal')
                   THEN ts END) AS last_paid
        FROM transactions GROUP BY client_id""")
    balance = balances["b"].astype(float)
    assert (balance > 0).sum() > 10 and (balance < 0).sum() > 10
    last = pd.to_datetime(balances["last_paid"]).dropna()
    churned = last < pd.Timestamp(TODAY) - pd.Timedelta(days=30)
    assert 0.05 < churned.mean() < 0.6
    # Prepaid clients refill just before they spend: many refills precede a charge by minutes.
    refills = _frame(seeded, "SELECT COUNT(*) AS n FROM transactions WHERE kind = 'refill'")
    assert refills["n"].iloc[0] > 150


def test_cli036_seeded_rows_keep_the_keys_checks_and_timestamp_format(seeded):
    """The bulk load skips SQLite's row checks: the rows must satisfy them anyway."""
    checks = _frame(seeded, """
        SELECT COUNT(*) AS n FROM transactions
        WHERE kind NOT IN ('refill', 'payg', 'package_activation', 'package_renewal',
                           'adjustment')
           OR (amount < 0 AND kind <> 'adjustment')
           OR (package_id IS NULL AND kind IN ('package_activation', 'package_renewal'))
           OR client_id NOT IN (SELECT id FROM clients)
           OR (package_id IS NOT NULL AND package_id NOT IN (SELECT id FROM packages))""")
    assert checks["n"].iloc[0] == 0
    owners = _frame(seeded, "SELECT COUNT(*) AS n FROM clients WHERE company_id NOT IN "
                            "(SELECT id FROM companies) OR (owner_user_id IS NOT NULL AND "
                            "owner_user_id NOT IN (SELECT id FROM users))")
    assert owners["n"].iloc[0] == 0
    with seeded.server.app_context(), db.engine.connect() as conn:
        if db.engine.dialect.name == "sqlite":
            assert conn.execute(text("PRAGMA foreign_key_check")).all() == []
            pattern = "____-__-__ __:__:__.______"
            for table, column in (("transactions", "ts"), ("clients", "created_at"),
                                  ("currency_rates", "valid_from")):
                odd = conn.execute(text(f"SELECT COUNT(*) FROM {table} WHERE {column} NOT LIKE "
                                        f"'{pattern}' OR typeof({column}) <> 'text'"))
                assert odd.scalar_one() == 0, table
            kinds = conn.execute(text("SELECT DISTINCT typeof(amount) FROM transactions"))
            assert set(kinds.scalars()) <= {"integer", "real"}


def test_cli037_seed_bumps_the_version_and_restores_the_triggers(app, runner):
    with app.server.app_context():
        before = ledger_version(db.engine)
    _seed(runner)
    with app.server.app_context():
        after = ledger_version(db.engine)
        assert after > before
        with db.engine.begin() as conn:  # the per-row triggers work again after the bulk load
            conn.execute(text("UPDATE clients SET name = name WHERE id = 1"))
        assert ledger_version(db.engine) == after + 1
        with db.engine.connect() as conn:
            if db.engine.dialect.name == "sqlite":
                names = conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'index' "
                                          "AND tbl_name = 'transactions'")).scalars().all()
                assert {"ix_transactions_client_ts", "ix_transactions_ts"} <= set(names)


def test_cli038_seed_refuses_a_database_with_data_unless_reset(app, runner):
    _seed(runner)
    counts = _counts(app)
    refused = runner.invoke(args=SMALL)
    assert refused.exit_code == 1
    assert "already holds data" in refused.stderr and "--reset" in refused.stderr
    assert _counts(app) == counts
    reset = runner.invoke(args=[*SMALL, "--reset"])
    assert reset.exit_code == 0, reset.output
    assert "deleted the existing data" in reset.output
    assert _counts(app) == counts  # the same seed again


def test_cli040_reset_also_deletes_the_saved_queries_of_the_deleted_users(app, runner):
    _seed(runner)
    with app.server.app_context():
        from store import templates
        from store.users import load_user

        templates.save(load_user(db.engine, 1), "Monthly", {"group": ["month"]})
    result = runner.invoke(args=[*SMALL, "--reset"])
    assert result.exit_code == 0, result.output
    assert "and 1 rows of query_templates" in result.output
    left = _frame(app, "SELECT COUNT(*) AS n FROM query_templates")
    assert left["n"].iloc[0] == 0


def test_cli039_seed_volume_is_about_100_transactions_per_client(app, runner):
    result = runner.invoke(args=["seed-demo", "--clients", "300", "--seed", "3",
                                 "--today", TODAY])
    assert result.exit_code == 0, result.output
    counts = _counts(app)
    assert counts["clients"] == 300
    assert 70 <= counts["transactions"] / counts["clients"] <= 130
    assert "seeded" in result.output and "300 clients" in result.output


# ----------------------------------------------------------------------- the first start


def test_cli050_first_start_seeds_and_creates_demo_logins(app, client):
    with app.server.app_context():
        lines = list(prepare_embedded_instance())
    output = "\n".join(lines)
    assert "seeding demo data (2000 clients, 730 days)" in output
    logins_file = Path(app.server.instance_path) / "demo-logins.txt"
    assert str(logins_file) in output
    assert stat.S_IMODE(logins_file.stat().st_mode) == 0o600
    kept = dict(line.split("\t")[:2] for line in logins_file.read_text().splitlines()
                if not line.startswith("#"))
    assert set(kept) == {"admin", "reseller"}
    for login, password in kept.items():
        assert f"{login} / {password}" in output  # printed once, on this start
    assert _counts(app)["clients"] == 2000
    with app.server.app_context(), db.session() as session:
        users = {u.login: u for u in session.scalars(select(User).where(
            User.login.in_(["admin", "reseller"])))}
        assert (users["admin"].role, users["admin"].company_id) == ("admin", 1)
        reseller = users["reseller"]
        assert reseller.role == "reseller"
        parent, children, clients = session.execute(text(
            "SELECT parent_id, (SELECT COUNT(*) FROM companies WHERE parent_id = :c), "
            "(SELECT COUNT(*) FROM clients WHERE company_id = :c) FROM companies WHERE id = :c"
        ), {"c": reseller.company_id}).one()
        assert (parent, children > 0, clients > 0) == (1, True, True)
    response = client.post("/login", data={"login": "reseller", "password": kept["reseller"]})
    assert response.status_code == 302
    assert client.get("/").status_code == 200


def test_cli051_later_starts_only_point_at_the_logins_file(app):
    with app.server.app_context():
        first = list(prepare_embedded_instance())
        counts, version = _counts(app), ledger_version(db.engine)
        later = list(prepare_embedded_instance())
        assert ledger_version(db.engine) == version
    path = app.server.instance_path + "/demo-logins.txt"
    assert later == ["database ready", f"demo logins: see {path}"]
    assert _counts(app) == counts
    passwords = [line.split(" / ")[1].split()[0] for line in first if " / " in line]
    assert len(passwords) == 2 and not any(p in "\n".join(later) for p in passwords)
    with app.server.app_context(), db.session() as session:
        assert session.scalar(select(func.count()).select_from(User).where(
            User.login == "admin")) == 1
