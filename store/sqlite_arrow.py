"""Reading a SQLite query into Arrow columns fast, in a child process.

Python's sqlite3 builds a Python object per value: about 30 s for the 10 million
transactions of the benchmark ledger. The ADBC driver reads the same rows straight into
Arrow columns in C, in about a fifth of that. It carries its own copy of the SQLite library,
and two copies of SQLite in one process must not open the same database file (their POSIX
locks interfere: https://sqlite.org/howtocorrupt.html, and the second copy does not see the
other's recent commits), so the read runs in a child process that streams Arrow IPC back.

    python -m store.sqlite_arrow DATABASE_FILE < query.sql > table.arrows
"""

from __future__ import annotations

import subprocess
import sys

import pyarrow as pa


class SQLiteReadError(RuntimeError):
    """The child process could not run the query; the message is the driver's."""


def read_table(database_file: str, sql: str) -> pa.Table:
    """The rows of ``sql`` on ``database_file`` as an Arrow table."""
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


def _main() -> None:
    import adbc_driver_sqlite.dbapi

    database_file = sys.argv[1]
    sql = sys.stdin.read()
    with (
        adbc_driver_sqlite.dbapi.connect(f"file:{database_file}?mode=ro", autocommit=True) as conn,
        conn.cursor() as cursor,
    ):
        cursor.execute(sql)
        reader = cursor.fetch_record_batch()
        with pa.ipc.new_stream(sys.stdout.buffer, reader.schema) as writer:
            for batch in reader:
                writer.write_batch(batch)


if __name__ == "__main__":
    _main()
