"""Benchmark query (a) of the engine issue end to end from PostgreSQL (not part of the suite).

    .venv/bin/python bench/bench_postgres.py                      # 100,000 clients × 730 days
    .venv/bin/python bench/bench_postgres.py --clients 20000 --runs 1
    .venv/bin/python bench/bench_postgres.py --reseed             # seed again

Seeds the PostgreSQL database ``--database`` (default ``bench``, created if missing) with
``dynamics seed-demo`` unless it already holds demo data of that size, then times new
``dynamics report`` processes for query (a): the last full year, daily, Europe/Kyiv, EUR, active
3 months — each process starts cold (imports, connection, ledger load over COPY, engine, CSV).
Target: ≤ 20 s.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
DYNAMICS = Path(sys.executable).with_name("dynamics")
TARGET_SECONDS = 20.0


def _ensure_database(server: str, name: str) -> None:
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def _held(url: str) -> tuple[int, int, str | None]:
    """(clients, transactions, last ts) of the database, zeros if it has no tables yet."""
    with psycopg.connect(url) as conn:
        try:
            clients = conn.execute("SELECT count(*) FROM clients").fetchone()[0]
            count, last = conn.execute("SELECT count(*), max(ts) FROM transactions").fetchone()
        except psycopg.errors.UndefinedTable:
            return 0, 0, None
    return clients, count, None if last is None else last.date().isoformat()


def _run(args: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run([str(DYNAMICS), *args], env=env, cwd=ROOT, check=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", default="postgresql://postgres@127.0.0.1:5432")
    parser.add_argument("--database", default="bench")
    parser.add_argument("--clients", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--reseed", action="store_true")
    options = parser.parse_args()

    url = f"{options.server}/{options.database}"
    _ensure_database(options.server, options.database)
    instance = tempfile.mkdtemp(prefix="bench-postgres-")
    env = {**os.environ, "DATABASE_URL": url, "INSTANCE_PATH": instance,
           "SECRET_KEY": "benchmark-only", "LOG_LEVEL": "WARNING"}
    env.pop("REDIS_URL", None)

    clients, transactions, _last = _held(url)
    if options.reseed or clients != options.clients:
        _run(["init-db"], env)
        seconds = _run(["seed-demo", "--clients", str(options.clients), "--days",
                        str(options.days), "--reset"], env)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
        print(f"seeded in {seconds:.1f} s", flush=True)
    clients, transactions, last = _held(url)
    print(f"database {options.database}: {clients:,} clients, {transactions:,} transactions, "
          f"last {last}", flush=True)

    if options.runs < 1:
        return
    this_year = int(last[:4]) if last else time.gmtime().tm_year
    report = ["report", "--from", f"{this_year - 1}-01-01", "--to", f"{this_year}-01-01",
              "--tz", "Europe/Kyiv", "--group-by", "date", "--currency", "EUR",
              "--active-months", "3", "--output", os.devnull]
    print("query (a): dynamics " + " ".join(report[:-2]), flush=True)
    times = []
    for run in range(1, options.runs + 1):
        seconds = _run(report, env)
        times.append(seconds)
        print(f"  run {run}: {seconds:.1f} s", flush=True)
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    median = statistics.median(times)
    print(f"query (a) from PostgreSQL, new process: median {median:.1f} s, best {min(times):.1f} s"
          f" over {len(times)} runs; peak RSS {peak_mib:,.0f} MiB; target ≤ {TARGET_SECONDS:.0f} s: "
          f"{'met' if median <= TARGET_SECONDS else 'NOT met'}")


if __name__ == "__main__":
    main()
