"""Loading the ledger from the database for the engine, and keeping it while the data is unchanged.

Only the clients a query can see are read: the user's scope and the query's static filters
(type, tag, company, owner) go into the SQL. The transactions are read in bulk, never as row
objects: from SQLite by child processes into Arrow columns (``store.sqlite_arrow``), from
PostgreSQL as packed binary values that numpy views (``store.pg_bulk``).
The prepared ledger is cached per process, keyed by the ``ledger_version`` counter that
triggers bump on every change of a source table, so an unchanged database is read once.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from metrics.ledger import KINDS, Ledger, PreparedLedger, prepare_ledger
from metrics.query import ReportQuery
from metrics.scope import descendants
from store.pg_bulk import read_columns
from store.schema import ledger_version
from store.scope import company_tree

log = logging.getLogger(__name__)

# Child processes reading the transactions of a SQLite file in parallel (one per core).
_READ_PROCESSES = max(1, min(os.cpu_count() or 1, 4))
_KIND_CASE = "CASE kind " + " ".join(f"WHEN '{k}' THEN {i}" for i, k in enumerate(KINDS)) + " END"


@dataclass(frozen=True)
class ClientFilter:
    """Which clients to load: None means no restriction on that attribute."""

    companies: frozenset[int] | None = None
    client_types: frozenset[str] | None = None
    owners: frozenset[int] | None = None
    tags: frozenset[str] | None = None

    def covers(self, other: ClientFilter) -> bool:
        """Whether every client ``other`` loads is also loaded by this filter."""
        return all(
            mine is None or (theirs is not None and theirs <= mine)
            for mine, theirs in (
                (self.companies, other.companies),
                (self.client_types, other.client_types),
                (self.owners, other.owners),
                (self.tags, other.tags),
            )
        )


def client_filter_for(
    query: ReportQuery, tree: dict[int, int | None], scope: set[int] | None
) -> ClientFilter:
    """The clients ``query`` can reach within ``scope`` (None: every company)."""
    companies: set[int] | None = None if scope is None else set(scope)
    if query.company_ids:
        wanted: set[int] = set()
        for company_id in query.company_ids:
            wanted |= descendants(tree, company_id)
        companies = wanted if companies is None else companies & wanted
    return ClientFilter(
        companies=None if companies is None else frozenset(companies),
        client_types=frozenset(query.client_types) or None,
        owners=frozenset(query.owner_ids) or None,
        tags=frozenset(query.tags) or None,
    )


def _in_list(column: str, values: Iterable[object], params: dict[str, object], prefix: str) -> str:
    names = []
    for i, value in enumerate(sorted(values, key=str)):
        params[f"{prefix}{i}"] = value
        names.append(f":{prefix}{i}")
    return f"{column} IN ({', '.join(names)})" if names else "1 = 0"


def _client_where(selection: ClientFilter, params: dict[str, object], alias: str = "") -> str:
    clauses = []
    if selection.companies is not None:
        clauses.append(_in_list(f"{alias}company_id", selection.companies, params, "co"))
    if selection.client_types is not None:
        clauses.append(_in_list(f"{alias}client_type", selection.client_types, params, "ty"))
    if selection.owners is not None:
        clauses.append(_in_list(f"{alias}owner_user_id", selection.owners, params, "ow"))
    if selection.tags is not None:
        tags = _in_list("tag", selection.tags, params, "tg")
        clauses.append(f"{alias}id IN (SELECT client_id FROM client_tags WHERE {tags})")
    return " AND ".join(clauses) if clauses else "1 = 1"


def _micros(dialect: str, column: str) -> str:
    """SQL for a naive UTC timestamp column as integer microseconds since the epoch."""
    if dialect == "postgresql":
        return f"CAST(EXTRACT(EPOCH FROM {column}) * 1000000 AS BIGINT)"
    # SQLite keeps timestamps as 'YYYY-MM-DD HH:MM:SS[.ffffff]' text. The whole seconds go to
    # strftime without the fraction: SQLite rounds a time to milliseconds first, which would
    # move 23:59:59.9999995 into the next second (and day).
    return (
        f"(CAST(strftime('%s', substr({column}, 1, 19)) AS INTEGER) * 1000000"
        f" + CAST(substr({column} || '.000000', 21, 6) AS INTEGER))"
    )


def _literal_sql(engine: Engine, sql: str, params: dict[str, object]) -> str:
    """``sql`` with its parameters rendered as SQL literals (ints and quoted strings)."""
    compiled = (
        text(sql)
        .bindparams(**params)
        .compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True})
    )
    return str(compiled)


def _read_transactions(
    engine: Engine, where: str, params: dict[str, object], client_ids: np.ndarray
) -> pd.DataFrame:
    """The transactions of the clients matching ``where``, as a frame of columns."""
    conditions = (
        [] if where == "1 = 1" else [f"client_id IN (SELECT id FROM clients WHERE {where})"]
    )
    columns = ["id", "client_id", "ts", "kind", "amount", "package_id"]
    if engine.dialect.name == "postgresql":
        # Packed server-side into a few bytea values and viewed by numpy (store.pg_bulk).
        ids, tx_client_ids, ts, kinds, amounts, package_ids = read_columns(
            engine,
            [
                ("id", "bigint"),
                ("client_id", "integer"),
                ("ts", "timestamp"),
                (f"COALESCE({_KIND_CASE}, -1)", "smallint"),
                ("amount", "double precision"),
                ("COALESCE(package_id, -1)", "integer"),
            ],
            "FROM transactions" + "".join(f" WHERE {c}" for c in conditions),
            params,
            chunk_key="client_id",
        )
        if (kinds < 0).any():
            raise ValueError("unknown transaction kind in the database")
        frame = pd.DataFrame(
            {
                "id": ids,
                "client_id": tx_client_ids.astype(np.int64),
                "ts": ts.astype("datetime64[us]"),
                "kind": pd.Categorical.from_codes(kinds.astype(np.int8), list(KINDS)),
                "amount": amounts,
                "package_id": package_ids.astype(np.float64),
            },
            columns=columns,
        )
    else:
        frame = _read_transactions_sqlite(engine, conditions, params, client_ids)
    frame["package_id"] = frame["package_id"].where(frame["package_id"] >= 0)
    return frame


def _client_ranges(client_ids: np.ndarray, parts: int) -> list[list[str]]:
    """Conditions splitting the clients into ``parts`` ranges of about equal size."""
    ids = np.sort(client_ids)
    parts = min(parts, max(len(ids) // 1000, 1))
    bounds = [int(ids[len(ids) * i // parts]) for i in range(1, parts)]
    # ``+client_id`` keeps SQLite from answering a range through the (client_id, ts) index:
    # a scan of the table in its own order is much faster than a lookup per row.
    lows, highs = [None, *bounds], [*bounds, None]
    return [
        [
            *([f"+client_id >= {low}"] if low is not None else []),
            *([f"+client_id < {high}"] if high is not None else []),
        ]
        for low, high in zip(lows, highs, strict=True)
    ]


def _read_transactions_sqlite(
    engine: Engine, conditions: list[str], params: dict[str, object], client_ids: np.ndarray
) -> pd.DataFrame:
    """Transactions read in bulk into Arrow by child processes (see ``store.sqlite_arrow``),
    one range of client ids each, already sorted by (client, ts, id)."""
    import pyarrow as pa

    from store.sqlite_arrow import SQLiteReadError, read_tables

    select = (
        "SELECT id, client_id, ts, kind, CAST(amount AS REAL) AS amount, "
        "COALESCE(package_id, -1) AS package_id FROM transactions"
    )
    queries = []
    for extra in _client_ranges(client_ids, _READ_PROCESSES):
        where = " AND ".join([*conditions, *extra])
        queries.append(_literal_sql(engine, select + (f" WHERE {where}" if where else ""), params))
    with engine.connect() as conn:  # tell SQLAlchemy's cursor events, as the other reads do
        conn.dispatch.before_cursor_execute(conn, None, queries[0], {}, None, False)
        try:
            tables = read_tables(str(engine.url.database), queries)
        except SQLiteReadError as error:
            raise OperationalError(queries[0], {}, error) from error
        conn.dispatch.after_cursor_execute(conn, None, queries[0], {}, None, False)
    table = pa.concat_tables(tables)
    del tables
    if table.num_rows == 0:
        return pd.DataFrame(
            {
                "id": np.zeros(0, np.int64),
                "client_id": np.zeros(0, np.int64),
                "ts": np.zeros(0, "datetime64[us]"),
                "kind": pd.Categorical([], categories=list(KINDS)),
                "amount": np.zeros(0),
                "package_id": np.zeros(0),
            }
        )
    kinds = table["kind"].unify_dictionaries().combine_chunks()
    known = [str(k) for k in kinds.dictionary.to_pylist()]
    unknown = set(known) - set(KINDS)
    if unknown:
        raise ValueError(f"unknown transaction kind {sorted(unknown)[0]!r} in the database")
    remap = np.array([KINDS.index(k) for k in known], dtype=np.int8)
    return pd.DataFrame(
        {
            "id": table["id"].to_numpy(),
            "client_id": table["client_id"].to_numpy(),
            "ts": table["ts"].to_numpy(),
            "kind": pd.Categorical.from_codes(
                remap[kinds.indices.to_numpy(zero_copy_only=False)], categories=list(KINDS)
            ),
            "amount": table["amount"].to_numpy(),
            "package_id": table["package_id"].to_numpy().astype(np.float64),
        }
    )


def _micros_to_datetime(values: np.ndarray) -> np.ndarray:
    return values.astype(np.int64).astype("datetime64[us]")


def load_frames(engine: Engine, selection: ClientFilter) -> Ledger:
    """The ledger of the clients ``selection`` names, plus the small tables in full."""
    dialect = engine.dialect.name
    params: dict[str, object] = {}
    where = _client_where(selection, params)
    clients_sql = (
        "SELECT id, client_type, company_id, owner_user_id, currency, "
        f"{_micros(dialect, 'created_at')} AS created FROM clients WHERE {where}"
    )
    with engine.connect() as conn:
        clients = pd.DataFrame(
            conn.execute(text(clients_sql), params).all(),
            columns=["id", "client_type", "company_id", "owner_user_id", "currency", "created"],
        )
        tags = pd.DataFrame(
            conn.execute(
                text(
                    f"SELECT client_id, tag FROM client_tags WHERE client_id IN (SELECT id FROM clients WHERE {where})"
                ),
                params,
            ).all(),
            columns=["client_id", "tag"],
        )
        rates = pd.DataFrame(
            conn.execute(
                text(
                    f"SELECT currency, {_micros(dialect, 'valid_from')}, CAST(rate AS FLOAT) "
                    "FROM currency_rates"
                )
            ).all(),
            columns=["currency", "valid_from", "rate"],
        )
        companies = pd.DataFrame(
            conn.execute(text("SELECT id, name, parent_id FROM companies")).all(),
            columns=["id", "name", "parent_id"],
        )
        packages = pd.DataFrame(
            conn.execute(text("SELECT id, name FROM packages")).all(), columns=["id", "name"]
        )
        users = pd.DataFrame(
            conn.execute(text("SELECT id, login, company_id FROM users")).all(),
            columns=["id", "login", "company_id"],
        )
    transactions = _read_transactions(engine, where, params, clients["id"].to_numpy(np.int64))
    clients["created_at"] = _micros_to_datetime(clients.pop("created").to_numpy(np.int64))
    rates["valid_from"] = _micros_to_datetime(rates["valid_from"].to_numpy(np.int64))
    return Ledger(
        clients=clients,
        tags=tags,
        transactions=transactions,
        rates=rates,
        companies=companies,
        packages=packages,
        users=users,
    )


class LedgerCache:
    """Prepared ledgers of this process, newest first, for the current ``ledger_version``."""

    def __init__(self, capacity: int = 2) -> None:
        self.capacity = capacity
        self._entries: OrderedDict[tuple, PreparedLedger] = OrderedDict()
        self._lock = threading.Lock()

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def get(self, engine: Engine, base_currency: str, selection: ClientFilter) -> PreparedLedger:
        """A prepared ledger holding at least the clients of ``selection``, loading it if needed."""
        version = ledger_version(engine)
        owner = (str(engine.url), version, base_currency)
        # One load at a time: a second request for the same data waits and reuses the first.
        with self._lock:
            for key in list(self._entries):
                if key[:3] != owner:
                    del self._entries[key]  # stale: the data changed since
            for key, prepared in self._entries.items():
                if key[3].covers(selection):
                    self._entries.move_to_end(key, last=False)
                    return prepared
            frames = load_frames(engine, selection)
            prepared = prepare_ledger(frames, base_currency)
            del frames
            self._entries[(*owner, selection)] = prepared
            self._entries.move_to_end((*owner, selection), last=False)
            while len(self._entries) > self.capacity:
                self._entries.popitem(last=True)
            log.info(
                "ledger loaded: %d clients, %d transactions (version %d)",
                len(prepared.client_ids),
                prepared.transaction_count,
                version,
            )
            return prepared


ledgers = LedgerCache()


def scope_tree(engine: Engine) -> dict[int, int | None]:
    with engine.connect() as conn:
        return company_tree(conn)
