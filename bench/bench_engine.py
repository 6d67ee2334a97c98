"""Benchmark of the report engine on the demo data (not part of the test suite).

    .venv/bin/python bench/bench_engine.py            # seeds bench/data/ on first use
    .venv/bin/python bench/bench_engine.py --clients 10000

For each query it starts a fresh process and prints: the time to read the ledger from the
SQLite file, the time to prepare it, the engine time (first and repeated run on the frames in
memory), a repeated ``run_report`` in the same process (the cached ledger) and the peak memory
of the process. It also times a whole new ``dynamics report`` process for query (a).

Queries (the engine issue): (a) daily over the last full year, Europe/Kyiv, EUR, active 3
months; (b) monthly with package grouping over two years; (c) no grouping over two years.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from datetime import date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DYNAMICS = Path(sys.executable).with_name("dynamics")


def queries(today: date) -> dict[str, dict[str, object]]:
    """The three benchmark queries, relative to the last day of the demo data."""
    month_start = datetime(today.year, today.month, 1)
    two_years_back = datetime(month_start.year - 2, month_start.month, 1)
    return {
        "a": {
            "from": f"{today.year - 1}-01-01",
            "to": f"{today.year}-01-01",
            "tz": "Europe/Kyiv",
            "group": ["date"],
            "currency": "EUR",
            "active": "3",
        },
        "b": {
            "from": two_years_back.strftime("%Y-%m-%d"),
            "to": month_start.strftime("%Y-%m-%d"),
            "group": ["month", "package"],
        },
        "c": {"from": two_years_back.strftime("%Y-%m-%d"), "to": month_start.strftime("%Y-%m-%d")},
    }


def environment(database: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=f"sqlite:///{database}",
        INSTANCE_PATH=str(database.parent / "instance"),
        SECRET_KEY="benchmark-only",
    )
    return env


def ensure_database(database: Path, clients: int, days: int) -> None:
    if database.exists():
        return
    database.parent.mkdir(parents=True, exist_ok=True)
    print(f"seeding {database.name}: {clients:,} clients, {days} days …", flush=True)
    started = time.perf_counter()
    env = environment(database)
    subprocess.run([str(DYNAMICS), "init-db"], env=env, check=True)
    subprocess.run(
        [str(DYNAMICS), "seed-demo", "--clients", str(clients), "--days", str(days), "--seed", "1"],
        env=env,
        check=True,
    )
    print(f"seeded in {time.perf_counter() - started:.1f} s", flush=True)


def measure_one(name: str, database: Path) -> dict[str, object]:
    """Run one query in this process and return its figures."""
    from app import create_app
    from extensions import db
    from metrics.engine import build_report
    from metrics.ledger import prepare_ledger
    from metrics.query import query_from_params
    from store.ledger import ClientFilter, ledgers, load_frames
    from store.reports import run_report

    app = create_app({"DATABASE_URL": f"sqlite:///{database}", "SECRET_KEY": "benchmark-only"})
    with app.server.app_context():
        engine = db.engine
        with engine.connect() as conn:
            last_day = conn.exec_driver_sql("SELECT max(ts) FROM transactions").scalar_one()
        today = datetime.fromisoformat(str(last_day)).date()
        query = query_from_params(queries(today)[name])

        started = time.perf_counter()
        frames = load_frames(engine, ClientFilter())
        loaded = time.perf_counter()
        prepared = prepare_ledger(frames, app.server.config["BASE_CURRENCY"])
        prepared_at = time.perf_counter()
        transactions = len(frames.transactions)
        del frames
        report = build_report(prepared, query)
        first = time.perf_counter() - prepared_at
        again = time.perf_counter()
        build_report(prepared, query)
        repeated = time.perf_counter() - again
        del prepared

        ledgers.clear()
        run_report(query, None)  # fills the cache
        again = time.perf_counter()
        run_report(query, None)
        cached_run = time.perf_counter() - again
    return {
        "query": name,
        "params": queries(today)[name],
        "transactions": transactions,
        "rows": len(report.frame),
        "load_s": round(loaded - started, 2),
        "prepare_s": round(prepared_at - loaded, 2),
        "engine_first_s": round(first, 3),
        "engine_repeat_s": round(repeated, 3),
        "run_report_cached_s": round(cached_run, 3),
        "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def end_to_end(database: Path) -> tuple[float, int]:
    """Wall time and peak memory (MB) of a new ``dynamics report`` process for query (a)."""
    import sqlite3

    with sqlite3.connect(database) as conn:
        today = datetime.fromisoformat(conn.execute("SELECT max(ts) FROM transactions").fetchone()[0]).date()
    params = queries(today)["a"]
    args = [str(DYNAMICS), "report", "--from", params["from"], "--to", params["to"], "--tz", params["tz"]]
    args += ["--group-by", "date", "--currency", "EUR", "--active-months", "3", "--output", os.devnull]
    started = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    subprocess.run(args, env=environment(database), check=True)
    peak = max(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, before)
    return time.perf_counter() - started, round(peak / 1024)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--queries", default="abc")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--database", help="an existing SQLite file to use instead of bench/data/")
    args = parser.parse_args()
    database = Path(args.database or ROOT / "bench" / "data" / f"demo-{args.clients}-{args.days}.sqlite")
    if args.one:
        print(json.dumps(measure_one(args.one, database)))
        return
    ensure_database(database, args.clients, args.days)
    print(f"database: {database} ({database.stat().st_size / 2**20:,.0f} MB)")
    header = (
        f"{'query':5} {'txns':>11} {'rows':>5} {'load s':>7} {'prep s':>7} {'engine s':>9} "
        f"{'again s':>8} {'cached run_report s':>19} {'peak MB':>8}"
    )
    print(header)
    for name in args.queries:
        output = subprocess.run(
            [sys.executable, __file__, "--one", name, "--database", str(database)],
            capture_output=True, text=True, check=True, env=environment(database),
        ).stdout
        r = json.loads(output.strip().splitlines()[-1])
        print(
            f"({name})   {r['transactions']:>11,} {r['rows']:>5} {r['load_s']:>7} {r['prepare_s']:>7} "
            f"{r['engine_first_s']:>9} {r['engine_repeat_s']:>8} {r['run_report_cached_s']:>19} "
            f"{r['peak_mb']:>8}   {json.dumps(r['params'])}",
            flush=True,
        )
    if "a" in args.queries:
        seconds, peak = end_to_end(database)
        print(f"new `dynamics report` process, query (a): {seconds:.1f} s wall, peak {peak} MB")


if __name__ == "__main__":
    main()
