"""``dynamics report``: the worked example end to end, scope, bad input, the ledger cache."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import event, text

from extensions import db
from metrics.query import query_from_params
from store.ledger import ClientFilter, ledgers, load_frames
from store.reports import run_report
from tests.conftest import MICRO

INTERVAL = ["--from", "2025-01-01", "--to", "2025-04-01"]


@pytest.fixture
def micro(runner):
    """The worked example of shared/examples/micro imported with ``dynamics import-csv``."""
    result = runner.invoke(args=["import-csv", str(MICRO)])
    assert result.exit_code == 0, result.output
    ledgers.clear()
    return runner


def csv_text(result) -> str:
    assert result.exit_code == 0, result.stderr
    return result.stdout_bytes.decode("utf-8-sig").replace("\r\n", "\n")


def test_rpt001_worked_example_month_usd(micro):
    result = micro.invoke(args=["report", *INTERVAL, "--group-by", "month"])
    assert csv_text(result) == (MICRO / "expected-month-usd.csv").read_text()


def test_rpt002_worked_example_month_package_eur(micro):
    args = ["report", *INTERVAL, "--group-by", "month", "--group-by", "package", "--currency", "EUR"]
    assert csv_text(micro.invoke(args=args)) == (MICRO / "expected-month-package-eur.csv").read_text()


def test_rpt003_json_has_rows_and_data_interval(micro):
    result = micro.invoke(args=["report", *INTERVAL, "--group-by", "month", "--format", "json"])
    document = json.loads(result.stdout)
    assert document["currency"] == "USD"
    # Earliest / latest transaction inside the interval: ids 1 and 8 of transactions.csv.
    assert document["data_interval"] == ["2025-01-02T10:00:00", "2025-03-10T00:00:00"]
    march = document["rows"][2]
    assert march["Period"] == "2025-03"
    assert march["Clients - All: Qty"] == 3
    assert march["Clients - All: Balance"] == 87.6  # 70 (A) + 50 (C) - 27 EUR x 1.2 (B)
    assert march["Pay As You Go: Active Avg"] is None  # no active client in March


def test_rpt004_without_grouping_one_row_labelled_with_the_interval(micro):
    result = micro.invoke(args=["report", "--from", "2025-01-01T06:30", "--to", "2025-04-01"])
    lines = csv_text(result).splitlines()
    assert len(lines) == 2
    assert lines[1].startswith("2025-01-01T06:30/2025-04-01T00:00,")


def test_rpt005_as_user_applies_the_reseller_scope(micro):
    created = micro.invoke(
        args=["create-user", "r1user", "--password", "a-long-password", "--role", "reseller", "--company", "2"]
    )
    assert created.exit_code == 0, created.output
    result = micro.invoke(args=["report", *INTERVAL, "--group-by", "month", "--format", "json", "--as-user", "r1user"])
    rows = json.loads(result.stdout)["rows"]
    # R1 (company 2) sees C (company 2, from March) and B (R1a, below R1) but never A (Op).
    assert [r["Clients - All: Qty"] for r in rows] == [1, 1, 2]
    assert [r["Balance Refill: Total"] for r in rows] == [0.0, 0.0, 50.0]
    assert rows[2]["Clients - All: Balance"] == 50 - 32.4

    outside = micro.invoke(args=["report", *INTERVAL, "--as-user", "r1user", "--company", "1"])
    assert outside.exit_code == 2
    assert outside.stdout == ""
    assert outside.stderr.strip() == "error: company 1 is outside your scope"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--to", "2025-04-01"], "the interval is mandatory"),
        (["--from", "2025-04-01", "--to", "2025-01-01"], "start must be before its end"),
        (["--from", "2025-01-01", "--to", "2025-01-01"], "start must be before its end"),
        (["--from", "2025-13-01", "--to", "2026-01-01"], "is not a date-time"),
        ([*INTERVAL, "--tz", "Mars/Olympus"], "unknown time zone 'Mars/Olympus'"),
        ([*INTERVAL, "--currency", "XYZ"], "unknown currency 'XYZ'"),
        ([*INTERVAL, "--client-type", "robot"], "unknown client type 'robot'"),
        ([*INTERVAL, "--company", "99"], "unknown company 99"),
        ([*INTERVAL, "--company", "x"], "company id 'x' is not a number"),
        ([*INTERVAL, "--owner", "42"], "unknown owner user 42"),
        ([*INTERVAL, "--package", "7"], "unknown package 7"),
        ([*INTERVAL, "--as-user", "nobody"], "unknown user 'nobody'"),
        ([*INTERVAL, "--active-months", "0"], "between 1 and 120 months"),
        ([*INTERVAL, "--active-months", "121"], "between 1 and 120 months"),
        ([*INTERVAL, "--group-by", "week"], "unknown group by 'week'"),
        ([*INTERVAL, "--group-by", "date", "--group-by", "month"], "at most one of year, month, date"),
        (["--from", "1700-01-01", "--to", "2025-01-01", "--group-by", "date"], "too many"),
        ([*INTERVAL, "--format", "pdf"], "unknown format 'pdf'"),
        ([*INTERVAL, "--no-such-option"], "No such option"),
    ],
)
def test_rpt006_bad_input_exits_2_with_one_line(micro, args, message):
    result = micro.invoke(args=["report", *args])
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert message in lines[0]


def test_rpt007_repeated_query_does_not_read_the_database_again(micro, app):
    statements: list[str] = []
    with app.server.app_context():
        event.listen(db.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
        query = query_from_params({"from": "2025-01-01", "to": "2025-04-01", "group": ["month"]})
        first = run_report(query, None)
        reads = sum("FROM transactions" in s for s in statements)
        second = run_report(query, None)
        assert sum("FROM transactions" in s for s in statements) == reads == 1
        assert second.frame.equals(first.frame)

        # Rerating a transaction changes the data: the next query reads the ledger again.
        with db.engine.begin() as conn:
            conn.execute(text("UPDATE transactions SET amount = 200 WHERE id = 1"))
        third = run_report(query, None)
        assert sum("FROM transactions" in s for s in statements) == 2
        assert third.frame["Balance Refill: Total"].tolist() == [200.0, 0.0, 50.0]


def test_rpt008_loader_reads_only_the_clients_in_scope(micro, app):
    with app.server.app_context():
        frames = load_frames(db.engine, ClientFilter(companies=frozenset({2, 3})))
    assert sorted(frames.clients["id"]) == [2, 3]
    assert sorted(frames.transactions["id"].astype(int)) == [4, 5, 6, 7, 8]
    # The small tables come whole: names and the tree are needed to check the query.
    assert len(frames.companies) == 3 and len(frames.packages) == 2


def test_rpt009_flask_app_cli_works_the_same(micro, app, tmp_path):
    """SPEC §5: ``flask --app app …`` is the same command group as ``dynamics``."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = {
        **os.environ,
        "DATABASE_URL": app.server.config["DATABASE_URL"],
        "INSTANCE_PATH": str(tmp_path / "flask-instance"),
        "SECRET_KEY": "tests-only-secret",
    }
    flask = Path(sys.executable).with_name("flask")
    result = subprocess.run(
        [str(flask), "--app", "app", "report", *INTERVAL, "--group-by", "month"],
        cwd=root, env=env, capture_output=True, check=False, timeout=120,
    )
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout.decode("utf-8-sig") == (MICRO / "expected-month-usd.csv").read_text()
