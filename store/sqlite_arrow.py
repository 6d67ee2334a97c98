"""Reading the transactions of a SQLite file into Arrow columns fast, in child processes.

Python's sqlite3 builds a Python object per value: about 30 s for the 10 million
transactions of the benchmark ledger. The ADBC driver reads the same rows straight into
Arrow columns in C. It carries its own copy of the SQLite library, and two copies of SQLite in
one process must not open the same database file (their POSIX locks interfere, see
https://sqlite.org/howtocorrupt.html, and the second copy misses the other's recent commits),
so the read runs in child processes that stream Arrow IPC back. Each child reads one range
of client ids, parses the timestamps, encodes the kinds and sorts its rows by
(client_id, ts, id) — the order the engine wants — so the ranges, read in parallel,
concatenate into sorted order.

    python -m store.sqlite_arrow DATABASE_FILE < query.sql > table.arrows
"""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pyarrow as pa


class SQLiteReadError(RuntimeError):
    """A child process could not run the query; the message is the driver's."""


def _read_one(database_file: str, sql: str) -> pa.Table:
    child = subprocess.run(
        [sys.executable, "-m", "store.sqlite_arrow", database_file],
        input=sql.encode("utf-8"),
        capture_output=True,
        check=False,
    )
    if child.returncode != 0:
        lines = child.stderr.decode("utf-8", "replace").strip().splitlines()
        raise SQLiteReadError(lines[-1] if lines else f"exit status {child.returncode}")
    return pa.ipc.open_stream(child.stdout).read_all()


def read_tables(database_file: str, queries: list[str]) -> list[pa.Table]:
    """The tables of ``queries`` on ``database_file``, read in parallel child processes."""
    with ThreadPoolExecutor(max_workers=max(len(queries), 1)) as pool:
        return list(pool.map(lambda sql: _read_one(database_file, sql), queries))


def _main() -> None:
    import adbc_driver_sqlite.dbapi
    import pyarrow.compute as pc

    database_file = sys.argv[1]
    sql = sys.stdin.read()
    with (
        adbc_driver_sqlite.dbapi.connect(f"file:{database_file}?mode=ro", autocommit=True) as conn,
        conn.cursor() as cursor,
    ):
        cursor.execute(sql)
        table = cursor.fetch_arrow_table()
    if "ts" in table.column_names and pa.types.is_string(table.schema.field("ts").type):
        table = table.set_column(
            table.column_names.index("ts"), "ts", pc.cast(table["ts"], pa.timestamp("us"))
        )
    if "kind" in table.column_names:
        table = table.set_column(
            table.column_names.index("kind"), "kind", pc.dictionary_encode(table["kind"])
        )
    if {"client_id", "ts", "id"} <= set(table.column_names):
        table = table.sort_by(
            [("client_id", "ascending"), ("ts", "ascending"), ("id", "ascending")]
        )
    table = table.combine_chunks()
    with pa.ipc.new_stream(sys.stdout.buffer, table.schema) as writer:
        writer.write_table(table)


if __name__ == "__main__":
    _main()
