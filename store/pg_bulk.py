"""Bulk reads from PostgreSQL straight into numpy: rows packed into a few large ``bytea`` values.

Fetching ten million rows one by one (a cursor, or COPY, which libpq hands over one row per
message) costs a Python step per row — about 20 s. Instead the server packs each row into a
fixed-width binary record with the types' ``*send`` functions (big-endian, what the binary wire
format uses) and ``string_agg`` concatenates the records of each of ``CHUNKS`` groups into one
``bytea``. The client receives a few dozen values, which numpy views as arrays of structs: no
parsing and no Python object per value. Timestamps arrive as PostgreSQL keeps them
(microseconds since 2000-01-01) and are returned as microseconds since 1970-01-01.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sqlalchemy import Engine, text

# PostgreSQL's timestamp epoch, 2000-01-01, in microseconds since 1970-01-01.
POSTGRES_EPOCH_MICROS = 946_684_800_000_000
# SQL type -> (send function, big-endian numpy type).
WIRE_TYPES = {
    "smallint": ("int2send", ">i2"),
    "integer": ("int4send", ">i4"),
    "bigint": ("int8send", ">i8"),
    "double precision": ("float8send", ">f8"),
    "timestamp": ("timestamp_send", ">i8"),
}
CHUNKS = 32  # values of at most ~1/32 of the result each (a bytea holds at most 1 GB)


class PackedReadError(RuntimeError):
    """The packed rows are not what the query promised (a NULL value dropped a row)."""


def packed_sql(columns: Sequence[tuple[str, str]], source: str, chunk_key: str) -> str:
    """SELECT of ``(count, bytea)`` per chunk of ``source`` (``FROM … [WHERE …]``)."""
    fields = [
        f"{WIRE_TYPES[sql_type][0]}(CAST({expression} AS {sql_type}))"
        for expression, sql_type in columns
    ]
    return (
        f"SELECT count(*), string_agg({' || '.join(fields)}, ''::bytea) {source} "
        f"GROUP BY mod({chunk_key}, {CHUNKS})"
    )


def read_columns(
    engine: Engine,
    columns: Sequence[tuple[str, str]],
    source: str,
    params: dict[str, object],
    chunk_key: str = "id",
) -> list[np.ndarray]:
    """The values of ``columns`` (``(SQL expression, SQL type)``, types of ``WIRE_TYPES``) over
    the rows of ``source`` (``FROM … [WHERE …]`` bound with ``params``), one numpy array each.

    Every expression must be NOT NULL (``COALESCE`` it). Row order is unspecified; rows stay
    whole. Timestamps come back as int64 microseconds since 1970-01-01.
    """
    dtype = np.dtype([(f"value{i}", WIRE_TYPES[t][1]) for i, (_e, t) in enumerate(columns)])
    sql = packed_sql(columns, source, chunk_key)
    statement = str(
        text(sql).bindparams(**params).compile(
            dialect=engine.dialect, compile_kwargs={"literal_binds": True}
        )
    )
    parts: list[list[np.ndarray]] = []
    with engine.connect() as conn:
        raw = conn.connection.driver_connection
        # Binary results: the bytea values arrive as raw bytes, not as hex text.
        with raw.cursor(binary=True) as cursor:
            # This bypasses SQLAlchemy's execute(); tell its cursor events anyway, so that
            # statement logging and monitoring (and the tests) see this read like any other.
            conn.dispatch.before_cursor_execute(conn, cursor, statement, {}, None, False)
            cursor.execute(statement)
            while (row := cursor.fetchone()) is not None:
                count, packed = row
                if len(packed or b"") != count * dtype.itemsize:
                    raise PackedReadError("a packed row is missing: a column was NULL")
                if not count:
                    continue
                records = np.frombuffer(packed, dtype=dtype)
                part = []
                for i, (_expression, sql_type) in enumerate(columns):
                    values = records[f"value{i}"].astype(WIRE_TYPES[sql_type][1].replace(">", "="))
                    if sql_type == "timestamp":
                        values += POSTGRES_EPOCH_MICROS
                    part.append(values)
                parts.append(part)
                del records, packed, row
            conn.dispatch.after_cursor_execute(conn, cursor, statement, {}, None, False)
    if not parts:
        return [np.zeros(0, dtype=WIRE_TYPES[t][1].replace(">", "=")) for _e, t in columns]
    return [np.concatenate([part[i] for part in parts]) for i in range(len(columns))]
