"""Benchmark of ``dynamics seed-demo`` and ``dynamics import-csv`` (not part of the test suite).

    .venv/bin/python bench/bench_seed_import.py                      # 100k clients; 1M rows
    .venv/bin/python bench/bench_seed_import.py --clients 2000 --import-clients 1000
    .venv/bin/python bench/bench_seed_import.py --database-url postgresql://127.0.0.1/bench

Each step runs the real console script in a new process, on a fresh database (a SQLite file
in a temporary directory, or, with ``--database-url``, that PostgreSQL database, whose source
tables it empties first), and prints its wall time:

1. ``seed-demo --clients N --days D`` — and the transactions written and the file size;
2. ``import-csv`` of a directory holding the demo data of ``--import-clients`` clients (about
   100 transactions each, so 10,000 clients make about one million transaction rows), written
   as CSV here beforehand, into an empty database.

The targets of issue 2: seeding 100,000 clients over 730 days in under 3 minutes, importing
1 million transaction rows into SQLite in under 60 seconds.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DYNAMICS = Path(sys.executable).with_name("dynamics")
TODAY = date(2025, 6, 30)  # fixed, so runs compare


def _environment(database_url: str, instance: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(DATABASE_URL=database_url, INSTANCE_PATH=str(instance), SECRET_KEY="benchmark")
    return env


def _run(args: list[str], env: dict[str, str]) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run([str(DYNAMICS), *args], env=env, capture_output=True, text=True,
                          check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"dynamics {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return seconds, done.stdout


def _fresh(database_url: str | None, directory: Path, name: str) -> str:
    if database_url is None:
        return f"sqlite:///{directory / name}"
    from sqlalchemy import create_engine, text

    from config import normalise_database_url
    from store.importer import LOAD_ORDER
    from store.seed import dependent_tables

    engine = create_engine(normalise_database_url(database_url))
    with engine.begin() as conn:
        tables = [t for t in (*dependent_tables(), *reversed(LOAD_ORDER))
                  if conn.execute(text(f"SELECT to_regclass('{t}')")).scalar() is not None]
        if tables:
            conn.execute(text(f"TRUNCATE {', '.join(tables)}"))
    engine.dispose()
    return database_url


def _write_csv(directory: Path, clients: int) -> int:
    """The demo data of ``clients`` clients as the CSV files import-csv reads."""
    from store.importer import CSV_COLUMNS, python_values
    from store.seed import SeedOptions, generate

    frames = generate(SeedOptions(clients=clients, days=730, seed=2, today=TODAY))
    directory.mkdir(parents=True)
    for table, columns in CSV_COLUMNS.items():
        frame = frames[table][list(columns)].copy()
        for column in columns:
            if frame[column].dtype.kind == "M":
                frame[column] = python_values(frame[column])
        frame.to_csv(directory / f"{table}.csv", index=False)
    return len(frames["transactions"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--import-clients", type=int, default=10_000)
    parser.add_argument("--database-url", help="PostgreSQL database to use (its data is deleted)")
    parser.add_argument("--skip-seed", action="store_true")
    parser.add_argument("--skip-import", action="store_true")
    options = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-seed-import-") as temporary:
        work = Path(temporary)
        if not options.skip_seed:
            url = _fresh(options.database_url, work, "seed.sqlite")
            env = _environment(url, work / "instance")
            _run(["init-db"], env)
            seconds, output = _run(
                ["seed-demo", "--clients", str(options.clients), "--days", str(options.days),
                 "--seed", "1", "--today", TODAY.isoformat()], env)
            print(output, end="")
            size = ""
            if url.startswith("sqlite"):
                size = f", file {(work / 'seed.sqlite').stat().st_size / 2**20:,.0f} MiB"
            print(f"SEED  {options.clients:,} clients x {options.days} days: {seconds:.1f} s"
                  f"{size}", flush=True)
        if not options.skip_import:
            started = time.perf_counter()
            rows = _write_csv(work / "csv", options.import_clients)
            print(f"(wrote {rows:,} transaction rows as CSV in "
                  f"{time.perf_counter() - started:.1f} s)", flush=True)
            url = _fresh(options.database_url, work, "import.sqlite")
            env = _environment(url, work / "instance")
            _run(["init-db"], env)
            seconds, output = _run(["import-csv", str(work / "csv")], env)
            print(output, end="")
            print(f"IMPORT {rows:,} transaction rows: {seconds:.1f} s "
                  f"({rows / seconds:,.0f} rows/s)", flush=True)


if __name__ == "__main__":
    main()
