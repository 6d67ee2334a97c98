"""``dynamics import-csv``: the worked example, every kind of bad row with its line, all or
nothing, and the round trip of the demo data: ``pytest -k imp``."""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import inspect, text

from app import create_app
from extensions import db
from store.schema import init_db, ledger_version
from store.users import UNUSABLE_PASSWORD, authenticate
from tests.conftest import MICRO

FILES = ("companies", "users", "clients", "client_tags", "packages", "transactions",
         "currency_rates")
HEADERS = {
    "companies": "id,name,parent_id",
    "users": "id,login,role,company_id,email",
    "clients": "id,name,client_type,company_id,owner_user_id,currency,created_at",
    "client_tags": "client_id,tag",
    "packages": "id,name",
    "transactions": "id,client_id,ts,kind,amount,package_id",
    "currency_rates": "currency,valid_from,rate",
}
MICRO_SUMMARY = ("imported 3 companies, 1 users, 3 clients, 0 client_tags, 2 packages, "
                 "8 transactions, 2 currency_rates")


def _micro_copy(tmp_path: Path, name: str = "micro") -> Path:
    target = tmp_path / name
    target.mkdir()
    for table in FILES:
        shutil.copy(MICRO / f"{table}.csv", target / f"{table}.csv")
    return target


def _headers_only(tmp_path: Path, name: str, **bodies: str) -> Path:
    """A directory of header-only files, plus the given rows (``table="row\\nrow"``)."""
    target = tmp_path / name
    target.mkdir()
    for table in FILES:
        if table == "users" and table not in bodies:
            continue
        body = bodies.get(table, "")
        (target / f"{table}.csv").write_text(HEADERS[table] + "\n" + (body + "\n" if body else ""))
    return target


def _append(path: Path, *rows: str) -> None:
    with path.open("a") as handle:
        for row in rows:
            handle.write(row + "\n")


def _replace_line(path: Path, line: int, row: str) -> None:
    lines = path.read_text().splitlines()
    lines[line - 1] = row
    path.write_text("\n".join(lines) + "\n")


def _state(app) -> dict[str, object]:
    """Row counts and sums of every source table, and the ledger version."""
    queries = {
        "companies": "SELECT COUNT(*), SUM(id), SUM(parent_id), MAX(name) FROM companies",
        "users": "SELECT COUNT(*), SUM(id), MAX(login), MAX(password_hash) FROM users",
        "clients": "SELECT COUNT(*), SUM(id), SUM(company_id), SUM(owner_user_id), "
                   "MIN(created_at), MAX(created_at) FROM clients",
        "client_tags": "SELECT COUNT(*), SUM(client_id), MAX(tag) FROM client_tags",
        "packages": "SELECT COUNT(*), SUM(id), MAX(name) FROM packages",
        "transactions": "SELECT COUNT(*), SUM(id), SUM(client_id), SUM(amount), "
                        "SUM(package_id), MIN(ts), MAX(ts) FROM transactions",
        "currency_rates": "SELECT COUNT(*), SUM(rate), MIN(valid_from), MAX(valid_from) "
                          "FROM currency_rates",
        "ledger_version": "SELECT version FROM ledger_version",
    }
    with app.server.app_context(), db.engine.connect() as conn:
        return {
            table: tuple(
                round(float(v), 4) if isinstance(v, float) or type(v).__name__ == "Decimal"
                else v for v in conn.execute(text(sql)).one()
            )
            for table, sql in queries.items()
        }


def _import(runner, directory: Path):
    return runner.invoke(args=["import-csv", str(directory)])


@pytest.fixture
def full(app, runner, tmp_path):
    """The database holding the worked example."""
    result = _import(runner, MICRO)
    assert result.exit_code == 0, result.output
    return app


# ------------------------------------------------------------------------ clean imports


def test_imp001_the_worked_example_imports_cleanly(app, runner):
    result = _import(runner, MICRO)
    assert result.exit_code == 0, result.output
    assert result.output.startswith(MICRO_SUMMARY)
    state = _state(app)
    assert state["transactions"][:5] == (8, 36, 14, 193, 3)
    assert state["currency_rates"][:2] == (2, 2.3)
    with app.server.app_context(), db.engine.connect() as conn:
        row = conn.execute(text("SELECT ts, amount, package_id FROM transactions WHERE id = 1"))
        ts, amount, package_id = row.one()
        owners = conn.execute(text("SELECT id, owner_user_id FROM clients ORDER BY id")).all()
        parents = conn.execute(text("SELECT parent_id FROM companies ORDER BY id")).scalars()
        assert [p for p in parents] == [None, 1, 2]
    assert owners == [(1, None), (2, 1), (3, None)]  # empty cell = NULL
    assert (float(amount), package_id) == (100.0, None)
    if isinstance(ts, str):  # SQLite: exactly as SQLAlchemy's DateTime writes it
        assert ts == "2025-01-02 10:00:00.000000"
    else:
        assert str(ts) == "2025-01-02 10:00:00"


def test_imp002_imported_users_log_in_only_after_set_password(app, runner):
    assert _import(runner, MICRO).exit_code == 0
    assert _state(app)["users"][3] == UNUSABLE_PASSWORD
    with app.server.app_context():
        assert authenticate(db.engine, "opsadmin", "") is None
        assert authenticate(db.engine, "opsadmin", UNUSABLE_PASSWORD) is None
    result = runner.invoke(args=["set-password", "opsadmin", "--password", "a long password"])
    assert result.exit_code == 0, result.output
    with app.server.app_context():
        assert authenticate(db.engine, "opsadmin", "a long password").role == "admin"


def test_imp003_users_csv_is_optional(app, runner, tmp_path):
    data = _micro_copy(tmp_path)
    (data / "users.csv").unlink()
    _replace_line(data / "clients.csv", 3, "2,B,call_shop,3,,EUR,2025-01-15 00:00:00")
    result = _import(runner, data)
    assert result.exit_code == 0, result.output
    assert _state(app)["users"][0] == 0


def test_imp004_timestamps_iso_forms_offsets_and_fractions(app, runner, tmp_path):
    data = _headers_only(
        tmp_path, "ts",
        companies="1,Op,",
        clients="1,A,client,1,,USD,2025-01-01T00:00",
        transactions=(
            "1,1,2025-01-02T10:00:00Z,refill,1,\n"
            "2,1,2025-01-02T12:00:00+02:00,payg,1,\n"
            "3,1,2025-01-02 10:00:00.5,payg,1,\n"
            "4,1,2025-01-03,payg,1,\n"
            "5,1,2025-01-02T10:00:00.123456,payg,1,"
        ),
        currency_rates="EUR,2025-01-01,1.1",
    )
    result = _import(runner, data)
    assert result.exit_code == 0, result.output
    with app.server.app_context(), db.engine.connect() as conn:
        stored = conn.execute(text("SELECT ts FROM transactions ORDER BY id")).scalars().all()
        created = conn.execute(text("SELECT created_at FROM clients")).scalar_one()
    expected = ["2025-01-02 10:00:00", "2025-01-02 10:00:00", "2025-01-02 10:00:00.500000",
                "2025-01-03 00:00:00", "2025-01-02 10:00:00.123456"]
    assert [pd.Timestamp(v) for v in stored] == [pd.Timestamp(v) for v in expected]
    if isinstance(stored[0], str):
        assert stored == [v if "." in v else v + ".000000" for v in expected]
        assert created == "2025-01-01 00:00:00.000000"


def test_imp005_bom_crlf_blank_lines_and_quoted_fields(app, runner, tmp_path):
    data = _micro_copy(tmp_path)
    (data / "clients.csv").write_bytes(
        "\ufeffid,name,client_type,company_id,owner_user_id,currency,created_at\r\n"
        '1,"A, with a comma",client,1,,USD,2025-01-01 00:00:00\r\n'
        "\r\n"
        '2,"B ""the shop""",call_shop,3,1,EUR,2025-01-15 00:00:00\r\n'
        '3,"C\r\non two lines",client,2,,USD,2025-03-01 00:00:00\r\n'.encode()
    )
    result = _import(runner, data)
    assert result.exit_code == 0, result.output
    with app.server.app_context(), db.engine.connect() as conn:
        names = conn.execute(text("SELECT name FROM clients ORDER BY id")).scalars().all()
    assert names == ["A, with a comma", 'B "the shop"', "C\r\non two lines"]


def test_imp006_rows_may_refer_to_rows_already_in_the_database(full, runner, tmp_path):
    more = _headers_only(
        tmp_path, "more",
        companies="4,R2,1",
        clients="4,D,reseller,4,1,EUR,2025-04-01 00:00:00",
        client_tags="1,vip\n4,vip",
        transactions="100,1,2025-04-02 00:00:00,package_activation,3,2\n"
                     "101,4,2025-04-03 00:00:00,refill,9,",
        currency_rates="EUR,2025-03-01 00:00:00,1.15",
    )
    result = _import(runner, more)
    assert result.exit_code == 0, result.output
    state = _state(full)
    assert (state["companies"][0], state["clients"][0], state["transactions"][0]) == (4, 4, 10)
    assert state["client_tags"][0] == 2 and state["currency_rates"][0] == 3


def test_imp007_an_import_bumps_the_version_and_keeps_indexes_and_triggers(app, runner):
    with app.server.app_context():
        before = ledger_version(db.engine)
    assert _import(runner, MICRO).exit_code == 0
    with app.server.app_context():
        after = ledger_version(db.engine)
        assert after > before
        with db.engine.begin() as conn:
            conn.execute(text("UPDATE transactions SET amount = amount WHERE id = 1"))
        assert ledger_version(db.engine) == after + 1
        indexes = {tuple(i["column_names"]) for i in inspect(db.engine).get_indexes(
            "transactions")}
        keys = inspect(db.engine).get_foreign_keys("transactions")
    assert {("client_id", "ts"), ("ts",)} <= indexes
    assert {k["referred_table"] for k in keys} == {"clients", "packages"}


# --------------------------------------------------------------------------- bad rows

BAD_TRANSACTIONS = [
    ("9,1,2025-03-01 00:00:00,refil,5,", "unknown kind 'refil'"),
    ("9,1,2025-02-30 00:00:00,payg,5,", "bad timestamp '2025-02-30 00:00:00' in ts"),
    ("9,1,01/03/2025,payg,5,", "bad timestamp '01/03/2025' in ts"),
    ("9,1,2025-03-01 00:00:00,payg,-5,", "negative amount -5 for kind payg"),
    ("9,1,2025-03-01 00:00:00,refill,-0.01,", "negative amount -0.01 for kind refill"),
    ("9,1,2025-03-01 00:00:00,package_renewal,-1,1", ("negative amount -1 for kind "
                                                     "package_renewal")),
    ("9,99,2025-03-01 00:00:00,payg,5,", ("unknown client_id 99 (not in clients.csv nor in the "
                                         "database)")),
    ("9,1,2025-03-01 00:00:00,package_renewal,5,7", "unknown package_id 7"),
    ("3,1,2025-03-01 00:00:00,payg,5,", "duplicate id 3 (first on line 4)"),
    ("9,1,2025-03-01 00:00:00,package_activation,5,", ("package_id is required for kind "
                                                      "package_activation")),
    ("9,1,2025-03-01 00:00:00,payg,five,", "amount must be a number, got 'five'"),
    ("9,1,2025-03-01 00:00:00,payg,,", "missing amount"),
    ("9,,2025-03-01 00:00:00,payg,5,", "missing client_id"),
    ("x9,1,2025-03-01 00:00:00,payg,5,", "id must be an integer, got 'x9'"),
    ("9,1,2025-03-01 00:00:00,payg,5", "expected 6 fields, found 5"),
]


@pytest.mark.parametrize(("row", "reason"), BAD_TRANSACTIONS)
def test_imp010_a_bad_transaction_is_reported_with_its_line(app, runner, tmp_path, row, reason):
    data = _micro_copy(tmp_path)
    _append(data / "transactions.csv", row)  # line 10
    before = _state(app)
    result = _import(runner, data)
    assert result.exit_code == 1
    assert f"transactions.csv:10: {reason}" in result.stderr
    assert "nothing was imported" in result.stderr
    assert _state(app) == before  # the empty database stays empty
    assert before["transactions"][0] == 0 and before["companies"][0] == 0


@pytest.mark.parametrize(("row", "reason"), BAD_TRANSACTIONS)
def test_imp011_a_bad_row_leaves_a_full_database_unchanged(full, runner, tmp_path, row, reason):
    more = _headers_only(tmp_path, "more", transactions="\n".join([
        "1001,1,2025-04-02 00:00:00,payg,3,",  # line 2: good, refers to the database
        "1002,2,2025-04-02 00:00:00,package_renewal,5,1",
        row.replace("9,", "1009,", 1) if row.startswith("9,") else row,  # line 4
    ]))
    before = _state(full)
    result = _import(runner, more)
    assert result.exit_code == 1
    if reason.startswith("duplicate id 3"):
        reason = "transaction id 3 is already in the database"
    assert f"transactions.csv:4: {reason}" in result.stderr, result.stderr
    assert _state(full) == before


def test_imp012_lines_count_physical_lines(app, runner, tmp_path):
    data = _micro_copy(tmp_path)
    lines = (data / "transactions.csv").read_text().splitlines()
    lines.insert(3, "")  # a blank line 4 is no row, but it is a line
    lines[5] = '5,2,"2025-01-20\n00:00:00",package_renewal,5,1'  # one row on lines 6 and 7
    lines[7] = "7,2,2025-02-21 00:00:00,adjustment,-7,"
    lines[8] = "8,3,2025-03-10 00:00:00,refil,50,"  # line 10
    (data / "transactions.csv").write_text("\n".join(lines) + "\n")
    result = _import(runner, data)
    assert result.exit_code == 1
    assert "transactions.csv:6: bad timestamp '2025-01-20\\n00:00:00' in ts" in result.stderr
    assert "transactions.csv:10: unknown kind 'refil'" in result.stderr


@pytest.mark.parametrize(
    ("table", "line", "row", "reason"),
    [
        ("companies", 4, "3,R1a,9", ("unknown parent_id 9 (not in companies.csv nor in the "
                                    "database)")),
        ("companies", 4, "3,R1,2", "duplicate name R1 (first on line 3)"),
        ("companies", 4, "3,R1a,3", "company 3 cannot be its own parent"),
        ("companies", 2, "1,Op,3", "company 1 is part of a parent_id cycle"),
        ("clients", 3, "2,B,shop,3,1,EUR,2025-01-15 00:00:00", "unknown client_type 'shop'"),
        ("clients", 3, "2,B,call_shop,3,5,EUR,2025-01-15 00:00:00",
         "unknown owner_user_id 5 (not in users.csv nor in the database)"),
        ("clients", 3, "2,B,call_shop,3,1,eur,2025-01-15 00:00:00",
         "currency must be a 3-letter ISO 4217 code in capitals, got 'eur'"),
        ("clients", 3, "2,,call_shop,3,1,EUR,2025-01-15 00:00:00", "missing name"),
        ("clients", 3, "2,B,call_shop,3,1,EUR,", "missing created_at"),
        ("currency_rates", 3, "EUR,2025-02-01 00:00:00,0", "rate must be > 0, got 0"),
        ("currency_rates", 3, "EUR,2025-02-01 00:00:00,-1.2", "rate must be > 0, got -1.2"),
        ("currency_rates", 3, "EUR,2025-01-01,1.3", ("duplicate currency/valid_from "
                                                   "EUR@2025-01-01 (first on line 2)")),
        ("users", 2, "1,opsadmin,root,1,ops@example.com", "unknown role 'root'"),
        ("users", 2, "1,opsadmin,admin,7,", "unknown company_id 7"),
        ("packages", 3, "2,P1", "duplicate name P1 (first on line 2)"),
    ],
)
def test_imp013_bad_rows_of_the_other_files(app, runner, tmp_path, table, line, row, reason):
    data = _micro_copy(tmp_path)
    _replace_line(data / f"{table}.csv", line, row)
    result = _import(runner, data)
    assert result.exit_code == 1
    assert f"{table}.csv:{line}: {reason}" in result.stderr, result.stderr
    assert _state(app)["companies"][0] == 0


def test_imp014_client_tags_checks(app, runner, tmp_path):
    data = _micro_copy(tmp_path)
    _append(data / "client_tags.csv", "1,vip", "9,vip", "1,vip", "2,")
    result = _import(runner, data)
    assert result.exit_code == 1
    assert "client_tags.csv:3: unknown client_id 9" in result.stderr
    assert "client_tags.csv:4: duplicate client_id/tag 1/vip (first on line 2)" in result.stderr
    assert "client_tags.csv:5: missing tag" in result.stderr


def test_imp015_importing_twice_reports_the_rows_already_there(full, runner):
    before = _state(full)
    result = _import(runner, MICRO)
    assert result.exit_code == 1
    for message in ("companies.csv:2: company id 1 is already in the database",
                    "companies.csv:2: company name Op is already in the database",
                    "users.csv:2: login opsadmin is already in the database",
                    "clients.csv:4: client id 3 is already in the database",
                    "packages.csv:3: package name P2 is already in the database",
                    "transactions.csv:9: transaction id 8 is already in the database",
                    ("currency_rates.csv:3: rate EUR@2025-02-01 00:00:00 is already in the "
                    "database")):
        assert message in result.stderr
    assert _state(full) == before


def test_imp016_errors_come_in_file_and_line_order_up_to_a_cap(app, runner, tmp_path):
    data = _micro_copy(tmp_path)
    _append(data / "transactions.csv", *[f"{100 + i},1,2025-03-01,oops,1," for i in range(60)])
    _replace_line(data / "companies.csv", 3, "2,R1,7")
    result = _import(runner, data)
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[0] == ("companies.csv:3: unknown parent_id 7 (not in companies.csv nor in the "
                        "database)")
    assert lines[1].startswith("transactions.csv:10: unknown kind 'oops'")
    assert lines[49].startswith("transactions.csv:58: ")
    assert lines[50] == "… and 11 more errors"
    assert lines[51] == f"error: 61 errors in {data}; nothing was imported"


def test_imp017_header_and_file_errors(app, runner, tmp_path):
    data = _micro_copy(tmp_path)
    (data / "transactions.csv").write_text("id,client,ts,kind,amount,package_id\n1,1,x,y,z,\n")
    (data / "packages.csv").unlink()
    (data / "currency_rates.csv").write_bytes(b"currency,valid_from,rate\nEUR,\xff,1\n")
    result = _import(runner, data)
    assert result.exit_code == 1
    assert result.stderr.splitlines()[:3] == [
        "packages.csv: file missing",
        ("transactions.csv:1: header must be id,client_id,ts,kind,amount,package_id "
        "(got id,client,ts,kind,amount,package_id)"),
        "currency_rates.csv:2: not valid UTF-8 text",
    ]
    assert _state(app)["companies"][0] == 0


def test_imp018_columns_may_come_in_any_order(app, runner, tmp_path):
    data = _micro_copy(tmp_path)
    frame = pd.read_csv(data / "transactions.csv", dtype=str, keep_default_na=False)
    frame[["kind", "amount", "id", "ts", "package_id", "client_id"]].to_csv(
        data / "transactions.csv", index=False)
    result = _import(runner, data)
    assert result.exit_code == 0, result.output
    assert _state(app)["transactions"][:4] == (8, 36, 14, 193)


# ------------------------------------------------------------------------- round trip


def _export(source_app, directory: Path) -> None:
    directory.mkdir()
    columns = {name: header.split(",") for name, header in HEADERS.items()}
    with source_app.server.app_context(), db.engine.connect() as conn:
        for table, names in columns.items():
            frame = pd.read_sql_query(text(f"SELECT {', '.join(names)} FROM {table}"), conn)
            for name in names:  # nullable integer columns read as floats
                if name.endswith("_id") and frame[name].dtype.kind == "f":
                    frame[name] = frame[name].astype("Int64")
            frame.to_csv(directory / f"{table}.csv", index=False)


def _plain(value: object) -> object:
    """A timestamp (text on SQLite, datetime on PostgreSQL) as one comparable text."""
    if isinstance(value, datetime) or (isinstance(value, str) and value[:2] == "20"
                                        and ":" in value):
        return pd.Timestamp(value).isoformat()
    return value


def test_imp020_the_demo_data_round_trips(app, runner, app_config, tmp_path):
    source = create_app({**app_config, "DATABASE_URL": f"sqlite:///{tmp_path / 'src.sqlite'}"})
    with source.server.app_context():
        init_db(db.engine)
    seeded = source.server.test_cli_runner().invoke(
        args=["seed-demo", "--clients", "120", "--days", "90", "--seed", "5",
              "--today", "2025-06-30"])
    assert seeded.exit_code == 0, seeded.output
    _export(source, tmp_path / "export")
    result = _import(runner, tmp_path / "export")
    assert result.exit_code == 0, result.output
    mine, theirs = _state(app), _state(source)
    for table in FILES:
        if table == "users":  # the import gives users no password
            assert mine[table][:3] == theirs[table][:3]
            continue
        normalised = [tuple(map(_plain, state[table])) for state in (mine, theirs)]
        assert normalised[0] == pytest.approx(normalised[1]), table
    query = "SELECT id, client_id, ts, kind, amount, package_id FROM transactions ORDER BY id"
    frames = []
    for dash_app in (app, source):
        with dash_app.server.app_context(), db.engine.connect() as conn:
            frame = pd.read_sql_query(text(query), conn)
        frame["ts"], frame["amount"] = pd.to_datetime(frame["ts"]), frame["amount"].astype(float)
        frames.append(frame)
    pd.testing.assert_frame_equal(*frames)
    source.server.extensions["dynamics.engine"].dispose()
