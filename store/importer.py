"""Bulk loading of the SPEC §2 source tables: ``dynamics import-csv`` and the demo seeder's writer.

A load runs in ONE database transaction on a connection of its own, so it is all or nothing.
For speed it writes with the DB-API directly (``executemany`` on SQLite, ``COPY`` on
PostgreSQL) and, on SQLite, drops the per-row ``ledger_version`` triggers for the duration of
the load (bumping the version once at the end instead) and, when asked, rebuilds the
transaction indexes after the rows are in. All of it is undone by a rollback.

Timestamps are written as SQLAlchemy's ``DateTime`` writes them on SQLite,
``YYYY-MM-DD HH:MM:SS.ffffff`` (naive UTC), so rows loaded here and rows written by the ORM
read back alike.
"""

from __future__ import annotations

import csv
import io
import itertools
import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self, TypeVar

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from store.models import CLIENT_TYPES, KINDS, NON_NEGATIVE_KINDS, PACKAGE_KINDS, ROLES
from store.users import UNUSABLE_PASSWORD

# The CSV columns of each file, in SPEC §2 order (users.csv carries no password).
CSV_COLUMNS: dict[str, tuple[str, ...]] = {
    "companies": ("id", "name", "parent_id"),
    "users": ("id", "login", "role", "company_id", "email"),
    "clients": ("id", "name", "client_type", "company_id", "owner_user_id", "currency", "created_at"),
    "client_tags": ("client_id", "tag"),
    "packages": ("id", "name"),
    "transactions": ("id", "client_id", "ts", "kind", "amount", "package_id"),
    "currency_rates": ("currency", "valid_from", "rate"),
}
# The order errors are reported in: the order SPEC §5 lists the files.
FILE_ORDER = ("companies", "clients", "client_tags", "packages", "transactions", "currency_rates",
              "users")
OPTIONAL_FILES = frozenset({"users"})
# Parents before children, so that every foreign key points at a row already written.
LOAD_ORDER = ("companies", "users", "packages", "clients", "client_tags", "currency_rates",
              "transactions")
SERIAL_TABLES = ("companies", "users", "clients", "packages")

ERROR_CAP = 50
CHUNK_ROWS = 100_000
INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1
MONEY_LIMIT = 1e14  # NUMERIC(18,4)
RATE_LIMIT = 1e10  # NUMERIC(18,8)

_TIMESTAMP_RE = (
    r"\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?"
)
_CURRENCY_RE = r"[A-Z]{3}"
TIMESTAMP_HINT = "expected YYYY-MM-DD HH:MM:SS[.ffffff]"

log = logging.getLogger(__name__)
T = TypeVar("T")


class ImportFailed(Exception):
    """The files are not valid; ``messages`` holds the first errors as ``file:line: reason``."""

    def __init__(self, messages: list[str], total: int) -> None:
        super().__init__(f"{total} errors")
        self.messages = messages
        self.total = total


# --------------------------------------------------------------------------------------------
# Values as the DB-API wants them
# --------------------------------------------------------------------------------------------


# Code points of "0000" … "9999", to write timestamps digit group by digit group.
_DIGITS = np.array([[ord(c) for c in f"{i:04d}"] for i in range(10_000)], dtype=np.uint32)
_PAIRS = _DIGITS[:100, 2:]


def format_timestamps(values: np.ndarray) -> np.ndarray:
    """``datetime64`` values (no NaT) as SQLAlchemy's SQLite text, ``YYYY-MM-DD HH:MM:SS.ffffff``.

    Built from lookup tables of digits in whole-array numpy operations: several times faster
    than ``datetime_as_string`` plus a replace, and it lets other threads run meanwhile.
    """
    micro = np.asarray(values).astype("datetime64[us]")
    days = micro.astype("datetime64[D]")
    months = days.astype("datetime64[M]")
    years = months.astype("datetime64[Y]")
    year = years.astype(np.int64) + 1970
    if len(year) and (year.min() < 0 or year.max() > 9999):
        return np.char.replace(np.datetime_as_string(micro, unit="us"), "T", " ")
    within_day = (micro - days).astype(np.int64)
    seconds, fraction = within_day // 1_000_000, within_day % 1_000_000
    out = np.empty((len(micro), 26), dtype=np.uint32)
    out[:, 0:4] = _DIGITS[year]
    out[:, 4] = out[:, 7] = ord("-")
    out[:, 5:7] = _PAIRS[(months - years.astype("datetime64[M]")).astype(np.int64) + 1]
    out[:, 8:10] = _PAIRS[(days - months.astype("datetime64[D]")).astype(np.int64) + 1]
    out[:, 10] = ord(" ")
    out[:, 11:13] = _PAIRS[seconds // 3600]
    out[:, 13] = out[:, 16] = ord(":")
    out[:, 14:16] = _PAIRS[seconds // 60 % 60]
    out[:, 17:19] = _PAIRS[seconds % 60]
    out[:, 19] = ord(".")
    out[:, 20:22] = _PAIRS[fraction // 10_000]
    out[:, 22:26] = _DIGITS[fraction % 10_000]
    return out.view("<U26").ravel()


def python_values(series: pd.Series) -> list[Any]:
    """The values of ``series`` as plain Python objects (None for missing) for ``executemany``."""
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        codes = series.cat.codes.to_numpy()
        out = np.asarray(dtype.categories, dtype=object)[codes]
        out[codes < 0] = None
        return out.tolist()
    if pd.api.types.is_datetime64_any_dtype(dtype):
        raw = series.to_numpy(dtype="datetime64[us]")
        missing = np.isnat(raw)
        if not missing.any():
            return format_timestamps(raw).tolist()
        out = format_timestamps(np.where(missing, np.datetime64(0, "us"), raw)).astype(object)
        out[missing] = None
        return out.tolist()
    if pd.api.types.is_integer_dtype(dtype) and isinstance(dtype, pd.api.extensions.ExtensionDtype):
        missing = series.isna().to_numpy()
        out = series.to_numpy(dtype="int64", na_value=0).astype(object)
        out[missing] = None
        return out.tolist()
    if pd.api.types.is_integer_dtype(dtype) or pd.api.types.is_bool_dtype(dtype):
        return series.to_numpy().tolist()
    if pd.api.types.is_float_dtype(dtype):
        raw = series.to_numpy(dtype="float64", na_value=np.nan)
        missing = np.isnan(raw)
        if not missing.any():
            return raw.tolist()
        out = raw.astype(object)
        out[missing] = None
        return out.tolist()
    out = series.to_numpy(dtype=object, copy=True)
    out[pd.isna(out)] = None
    return out.tolist()


# --------------------------------------------------------------------------------------------
# One bulk load: a transaction on its own connection
# --------------------------------------------------------------------------------------------


class BulkLoad:
    """An all-or-nothing bulk write of source tables; use as a context manager.

    On leaving the block without an exception the load commits, otherwise it rolls back and
    the database is exactly as it was.
    """

    def __init__(self, engine: Engine, *, trusted: bool = False) -> None:
        self.engine = engine
        self.trusted = trusted
        self.dialect = engine.dialect.name
        self._connection = engine.connect()
        # The connection gets settings of its own (PRAGMAs, isolation); it must not go back to
        # the pool afterwards.
        self._connection.detach()
        self._dbapi = self._connection.connection.dbapi_connection
        self._restore: list[str] = []
        self._deferred: list[str] = []
        self._bumped = False

    # -- transaction ----------------------------------------------------------------------

    def __enter__(self) -> Self:
        if self.dialect == "sqlite":
            # Explicit BEGIN/COMMIT, so that the DDL below is part of the transaction too
            # (pysqlite would otherwise run it outside any transaction).
            self._dbapi.isolation_level = None
            cursor = self._dbapi.cursor()
            if self.trusted:
                # Rows that cannot break a key or a CHECK (the generated demo data; its tests
                # check both) skip SQLite's row-by-row checks, which cost as much as the rest
                # of the insert.
                cursor.execute("PRAGMA foreign_keys = OFF")
                cursor.execute("PRAGMA ignore_check_constraints = ON")
            cursor.execute("PRAGMA cache_size = -262144")  # 256 MiB: index builds sort in memory
            cursor.execute("PRAGMA threads = 2")  # let CREATE INDEX sort on a second core
            cursor.execute("BEGIN IMMEDIATE")
            self._drop_row_triggers(cursor)
        else:
            self._dbapi.autocommit = False
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        try:
            if exc_type is not None:
                self._rollback()
                return
            try:
                self._finish()
                self._commit()
            except BaseException:
                self._rollback()
                raise
        finally:
            self._connection.close()

    def _commit(self) -> None:
        if self.dialect == "sqlite":
            self._dbapi.cursor().execute("COMMIT")
        else:
            self._dbapi.commit()

    def _rollback(self) -> None:
        try:
            if self.dialect == "sqlite":
                if self._dbapi.in_transaction:
                    self._dbapi.cursor().execute("ROLLBACK")
            else:
                self._dbapi.rollback()
        except Exception:  # the connection is closed next; nothing was committed
            log.warning("rollback of a bulk load failed", exc_info=True)

    def _drop_row_triggers(self, cursor: Any) -> None:
        # SQLite's ledger_version triggers fire once per row; a bulk load bumps once instead.
        rows = cursor.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND sql LIKE ?",
            ("%ledger_version%",),
        ).fetchall()
        for name, sql in rows:
            cursor.execute(f'DROP TRIGGER "{name}"')
            self._restore.append(sql)

    def _finish(self) -> None:
        cursor = self._dbapi.cursor()
        for statement in self._deferred:
            cursor.execute(statement)
        if self.dialect == "sqlite":
            for statement in self._restore:
                cursor.execute(statement)
            if self._bumped:
                cursor.execute("UPDATE ledger_version SET version = version + 1 WHERE id = 1")
        else:
            # Explicit ids do not advance the SERIAL sequences; later inserts (create-user)
            # would collide with the loaded rows.
            for table in SERIAL_TABLES:
                cursor.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"COALESCE(MAX(id), 1), MAX(id) IS NOT NULL) FROM {table}"
                )

    # -- reading --------------------------------------------------------------------------

    def fetch(self, sql: str) -> list[tuple]:
        cursor = self._dbapi.cursor()
        cursor.execute(sql)
        return cursor.fetchall()

    def count(self, table: str) -> int:
        return int(self.fetch(f"SELECT COUNT(*) FROM {table}")[0][0])

    # -- writing --------------------------------------------------------------------------

    def rebuild_after(self, table: str) -> None:
        """Drop the secondary indexes of ``table`` (on PostgreSQL its foreign keys too) now;
        build them again, in one pass each, before the commit.

        Cheaper than maintaining them row by row when many rows go in; until the commit the
        table is locked against other writers (and, on PostgreSQL, readers).
        """
        if self.dialect == "sqlite":
            rows = self.fetch(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' "
                f"AND tbl_name = '{table}' AND sql IS NOT NULL"
            )
            drops = [(f'DROP INDEX "{name}"', sql) for name, sql in rows]
        else:
            indexes = self.fetch(
                "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() "
                f"AND tablename = '{table}' AND indexname NOT IN "
                f"(SELECT conname FROM pg_constraint WHERE conrelid = '{table}'::regclass)"
            )
            keys = self.fetch(
                "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                f"WHERE conrelid = '{table}'::regclass AND contype = 'f'"
            )
            drops = [(f'DROP INDEX "{name}"', sql) for name, sql in indexes] + [
                (f'ALTER TABLE {table} DROP CONSTRAINT "{name}"',
                 f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
                for name, definition in keys
            ]
        cursor = self._dbapi.cursor()
        for drop, create in drops:
            cursor.execute(drop)
            self._deferred.append(create)

    def delete_all(self, tables: Sequence[str]) -> None:
        """Delete every row of ``tables`` (children before parents)."""
        cursor = self._dbapi.cursor()
        if self.dialect == "postgresql":
            # TRUNCATE is transactional in PostgreSQL and far quicker than DELETE.
            cursor.execute(f"TRUNCATE {', '.join(tables)}")
        else:
            for table in tables:
                cursor.execute(f"DELETE FROM {table}")
        self._bumped = True

    def insert(self, table: str, frame: pd.DataFrame) -> None:
        """Append the rows of ``frame`` (columns named as the table's) to ``table``."""
        if frame.empty:
            return
        self._bumped = True
        columns = list(frame.columns)
        names = ", ".join(columns)
        if self.dialect == "sqlite":
            statement = f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' * len(columns))})"
            cursor = self._dbapi.cursor()
            for values in _prefetch(_chunks(frame), _column_values):
                cursor.executemany(statement, zip(*values, strict=False))
        else:
            cursor = self._dbapi.cursor()
            with cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for values in _prefetch(_chunks(frame), _column_values):
                    for row in zip(*values, strict=False):
                        copy.write_row(row)


def _column_values(chunk: pd.DataFrame) -> list[list[Any]]:
    return [python_values(chunk[name]) for name in chunk.columns]


def _prefetch(items: Iterator[pd.DataFrame], convert: Callable[[pd.DataFrame], T]
              ) -> Iterator[T]:
    """``convert`` each item, the next one on a worker thread while the caller uses this one.

    SQLite releases the GIL while it steps through an insert, so preparing the next chunk's
    Python values overlaps with writing the current one.
    """
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = None
        for item in items:
            upcoming = pool.submit(convert, item)
            if pending is not None:
                yield pending.result()
            pending = upcoming
        if pending is not None:
            yield pending.result()


def _chunks(frame: pd.DataFrame) -> Iterator[pd.DataFrame]:
    for start in range(0, len(frame), CHUNK_ROWS):
        yield frame.iloc[start : start + CHUNK_ROWS]


# --------------------------------------------------------------------------------------------
# Reading the CSV files
# --------------------------------------------------------------------------------------------


@dataclass
class _Problem:
    """One kind of error found on some lines of one file."""

    file: str
    lines: np.ndarray
    template: str  # formatted with the row's values in ``args`` as {0}, {1}, …
    args: tuple[np.ndarray, ...] = ()


@dataclass
class _Table:
    """The cells of one CSV file: stripped strings ('' = empty), and the line of each row."""

    name: str
    file: str
    lines: np.ndarray
    cells: dict[str, pd.Series]

    def __len__(self) -> int:
        return len(self.lines)


@dataclass
class _Checker:
    problems: list[_Problem] = field(default_factory=list)

    def report(self, table: _Table, mask: np.ndarray | pd.Series, template: str,
               *args: np.ndarray | pd.Series) -> None:
        mask = np.asarray(mask, dtype=bool)
        if mask.any():
            self.problems.append(_Problem(
                table.file, table.lines[mask], template,
                tuple(np.asarray(a, dtype=object)[mask] for a in args),
            ))

    def file_error(self, file: str, line: int, message: str) -> None:
        self.problems.append(_Problem(file, np.array([line]), message.replace("{", "{{")
                                      .replace("}", "}}")))

    @property
    def total(self) -> int:
        return sum(len(p.lines) for p in self.problems)

    def messages(self, cap: int = ERROR_CAP) -> list[str]:
        """The first ``cap`` errors in file order, then line order, as ``file:line: reason``."""
        rank = {f"{name}.csv": i for i, name in enumerate(FILE_ORDER)}
        candidates = []
        for order, problem in enumerate(self.problems):
            for i in range(min(cap, len(problem.lines))):
                candidates.append((rank.get(problem.file, 99), int(problem.lines[i]), order, i))
        candidates.sort()
        out = []
        for _, line, order, i in candidates[:cap]:
            problem = self.problems[order]
            reason = problem.template.format(*(a[i] for a in problem.args))
            where = f"{problem.file}:{line}" if line else problem.file  # line 0: the whole file
            out.append(f"{where}: {reason}")
        return out


def _read_table(path: Path, name: str, checker: _Checker) -> _Table | None:
    """Parse one CSV file; header or layout errors go to ``checker`` and return None."""
    file = path.name
    expected = CSV_COLUMNS[name]
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        checker.file_error(file, data.count(b"\n", 0, exc.start) + 1, "not valid UTF-8 text")
        return None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
        if header is None:
            checker.file_error(file, 1, f"empty file; the header must be {','.join(expected)}")
            return None
        header = [cell.strip() for cell in header]
        if len(header) != len(set(header)) or set(header) != set(expected):
            checker.file_error(
                file, 1, f"header must be {','.join(expected)} (got {','.join(header)})"
            )
            return None
        width = len(header)
        first_line = reader.line_num + 1
        if '"' in text:
            # A quoted cell may span lines: note where each record starts.
            records, starts = [], []
            previous_end = reader.line_num
            for row in reader:
                records.append(row)
                starts.append(previous_end + 1)
                previous_end = reader.line_num
            lines = np.array(starts, dtype=np.int64)
        else:  # one record per line
            records = list(reader)
            lines = np.arange(first_line, first_line + len(records), dtype=np.int64)
    except csv.Error as exc:
        checker.file_error(file, reader.line_num, f"cannot parse CSV: {exc}")
        return None
    widths = np.fromiter(map(len, records), dtype=np.int64, count=len(records))
    fitting = widths == width
    bad_width = False
    for index in np.flatnonzero(~fitting):
        row = records[index]
        if any(cell.strip() for cell in row):  # a blank line is no row at all
            checker.file_error(file, int(lines[index]),
                               f"expected {width} fields, found {len(row)}")
            bad_width = True
    if bad_width:
        return None
    rows = records if fitting.all() else list(itertools.compress(records, fitting))
    lines = lines[fitting]
    columns = list(zip(*rows, strict=False)) if rows else [() for _ in header]
    cells = {
        # numpy's string functions strip a million cells in C, pandas' ``.str`` one by one.
        column: pd.Series(np.strings.strip(np.array(values, dtype=str)).astype(object),
                          dtype=object)
        for column, values in zip(header, columns, strict=True)
    }
    return _Table(name, file, lines, cells)


# --------------------------------------------------------------------------------------------
# Checks of single columns
# --------------------------------------------------------------------------------------------


def _empty(series: pd.Series) -> np.ndarray:
    return (series == "").to_numpy(dtype=bool)


def _required(checker: _Checker, table: _Table, column: str) -> np.ndarray:
    """Report empty cells of ``column``; the mask of non-empty ones."""
    empty = _empty(table.cells[column])
    checker.report(table, empty, f"missing {column}")
    return ~empty


def _integers(checker: _Checker, table: _Table, column: str, *, required: bool,
              maximum: int = INT32_MAX) -> tuple[np.ndarray, np.ndarray]:
    """Parse an integer id column: values (0 where unusable) and the mask of usable ones."""
    series = table.cells[column]
    present = _required(checker, table, column) if required else ~_empty(series)
    text = series.to_numpy().astype(str)
    digits = np.strings.lstrip(text, "+-")
    signs = np.strings.str_len(text) - np.strings.str_len(digits)
    shaped = (signs <= 1) & np.strings.isdecimal(digits) & (np.strings.str_len(digits) <= 18)
    bad = present & ~shaped
    checker.report(table, bad, f"{column} must be an integer, got {{0!r}}", series)
    ok = present & shaped
    values = np.zeros(len(series), dtype=np.int64)
    if ok.any():
        values[ok] = series[ok].astype(np.int64).to_numpy()
    out_of_range = ok & ((values < 1) | (values > maximum))
    checker.report(table, out_of_range, f"{column} must be between 1 and {maximum}, got {{0}}",
                   series)
    return values, ok & ~out_of_range


def _timestamps(checker: _Checker, table: _Table, column: str) -> tuple[np.ndarray, np.ndarray]:
    """Parse a timestamp column into naive UTC ``datetime64[us]`` and the mask of usable ones."""
    series = table.cells[column]
    present = _required(checker, table, column)
    values = np.full(len(series), np.datetime64("NaT"), dtype="datetime64[us]")
    shaped = present & series.str.fullmatch(_TIMESTAMP_RE).to_numpy(dtype=bool, na_value=False)
    if shaped.any():
        parsed = pd.to_datetime(series[shaped], format="ISO8601", utc=True, errors="coerce")
        values[shaped] = parsed.dt.tz_convert(None).to_numpy(dtype="datetime64[us]")
    ok = shaped & ~np.isnat(values)
    checker.report(table, present & ~ok, f"bad timestamp {{0!r}} in {column} ({TIMESTAMP_HINT})",
                   series)
    return values, ok


def _numbers(checker: _Checker, table: _Table, column: str, limit: float
             ) -> tuple[np.ndarray, np.ndarray]:
    series = table.cells[column]
    present = _required(checker, table, column)
    values = pd.to_numeric(series.where(present, None), errors="coerce").to_numpy(
        dtype="float64", na_value=np.nan
    )
    ok = present & np.isfinite(values)
    checker.report(table, present & ~ok, f"{column} must be a number, got {{0!r}}", series)
    too_big = ok & (np.abs(values) >= limit)
    checker.report(table, too_big, f"{column} {{0}} is out of range", series)
    return values, ok & ~too_big


def _choice(checker: _Checker, table: _Table, column: str, allowed: Sequence[str]) -> np.ndarray:
    series = table.cells[column]
    present = _required(checker, table, column)
    known = series.isin(allowed).to_numpy(dtype=bool)
    checker.report(table, present & ~known,
                   f"unknown {column} {{0!r}} (expected one of {', '.join(allowed)})", series)
    return present & known


def _currency(checker: _Checker, table: _Table, column: str) -> np.ndarray:
    series = table.cells[column]
    present = _required(checker, table, column)
    shaped = series.str.fullmatch(_CURRENCY_RE).to_numpy(dtype=bool, na_value=False)
    checker.report(table, present & ~shaped,
                   f"{column} must be a 3-letter ISO 4217 code in capitals, got {{0!r}}", series)
    return present & shaped


def _unique(checker: _Checker, table: _Table, what: str, keys: pd.DataFrame,
            usable: np.ndarray, shown: pd.Series) -> None:
    """Report rows whose key repeats an earlier row of the same file."""
    if not usable.any():
        return
    positions = np.flatnonzero(usable)
    subset = keys.iloc[positions].reset_index(drop=True)
    repeated = subset.duplicated(keep="first").to_numpy()
    if not repeated.any():
        return
    lines = pd.Series(table.lines[positions])
    first_line = lines.groupby([subset[c] for c in subset.columns], sort=False).transform("first")
    mask = np.zeros(len(table), dtype=bool)
    mask[positions[repeated]] = True
    first = np.zeros(len(table), dtype=np.int64)
    first[positions] = first_line.to_numpy()
    checker.report(table, mask, f"duplicate {what} {{0}} (first on line {{1}})", shown, first)


def _in_database(checker: _Checker, table: _Table, what: str, found: np.ndarray,
                 shown: pd.Series) -> None:
    checker.report(table, found, f"{what} {{0}} is already in the database", shown)


def _foreign(checker: _Checker, table: _Table, column: str, values: np.ndarray,
             usable: np.ndarray, known: np.ndarray, target: str) -> None:
    missing = usable & ~np.isin(values, known)
    checker.report(table, missing,
                   f"unknown {column} {{0}} (not in {target}.csv nor in the database)",
                   table.cells[column])


# --------------------------------------------------------------------------------------------
# Checks of the files
# --------------------------------------------------------------------------------------------


@dataclass
class _Existing:
    """What the database already holds, as far as the checks need it."""

    company_parent: dict[int, int | None]
    company_names: set[str]
    user_ids: np.ndarray
    user_logins: set[str]
    client_ids: np.ndarray
    client_tags: pd.DataFrame
    package_ids: np.ndarray
    package_names: set[str]
    rates: pd.DataFrame
    transaction_ids: np.ndarray


def _ints(rows: list[tuple], index: int = 0) -> np.ndarray:
    return np.array([int(row[index]) for row in rows], dtype=np.int64)


def _existing(load: BulkLoad, transaction_ids: np.ndarray) -> _Existing:
    companies = load.fetch("SELECT id, name, parent_id FROM companies")
    users = load.fetch("SELECT id, login FROM users")
    packages = load.fetch("SELECT id, name FROM packages")
    tags = load.fetch("SELECT client_id, tag FROM client_tags")
    rates = load.fetch("SELECT currency, valid_from FROM currency_rates")
    if len(transaction_ids):
        # Only the id range of the file can collide; an import of new rows reads nothing.
        low, high = int(transaction_ids.min()), int(transaction_ids.max())
        taken = _ints(load.fetch(f"SELECT id FROM transactions WHERE id BETWEEN {low} AND {high}"))
    else:
        taken = np.array([], dtype=np.int64)
    return _Existing(
        company_parent={int(r[0]): (None if r[2] is None else int(r[2])) for r in companies},
        company_names={str(r[1]) for r in companies},
        user_ids=_ints(users),
        user_logins={str(r[1]) for r in users},
        client_ids=_ints(load.fetch("SELECT id FROM clients")),
        client_tags=pd.DataFrame(
            {"client_id": _ints(tags), "tag": [str(r[1]) for r in tags]}
        ),
        package_ids=_ints(packages),
        package_names={str(r[1]) for r in packages},
        rates=pd.DataFrame({
            "currency": [str(r[0]) for r in rates],
            "valid_from": pd.to_datetime(pd.Series([r[1] for r in rates], dtype=object),
                                         format="ISO8601").to_numpy(dtype="datetime64[us]")
            if rates else np.array([], dtype="datetime64[us]"),
        }),
        transaction_ids=taken,
    )


def _nullable(values: np.ndarray, usable: np.ndarray) -> pd.Series:
    return pd.Series(pd.arrays.IntegerArray(values.copy(), ~usable))


def _text(series: pd.Series) -> pd.Series:
    return series.where(series != "", None).astype(object).reset_index(drop=True)


def _check_companies(checker: _Checker, table: _Table, db: _Existing) -> pd.DataFrame:
    ids, ids_ok = _integers(checker, table, "id", required=True)
    names_ok = _required(checker, table, "name")
    parents, parents_ok = _integers(checker, table, "parent_id", required=False)
    _unique(checker, table, "id", pd.DataFrame({"id": ids}), ids_ok, table.cells["id"])
    _in_database(checker, table, "company id", ids_ok & np.isin(ids, list(db.company_parent)),
                 table.cells["id"])
    names = table.cells["name"]
    _unique(checker, table, "name", pd.DataFrame({"name": names.to_numpy()}), names_ok, names)
    _in_database(checker, table, "company name", names_ok & names.isin(db.company_names)
                 .to_numpy(), names)
    known = np.union1d(ids[ids_ok], np.array(list(db.company_parent), dtype=np.int64))
    _foreign(checker, table, "parent_id", parents, parents_ok, known, "companies")
    checker.report(table, ids_ok & parents_ok & (ids == parents),
                   "company {0} cannot be its own parent", table.cells["id"])
    # A parent_id cycle would leave those companies outside every scope.
    tree = dict(db.company_parent)
    for company, parent, ok, parent_ok in zip(ids, parents, ids_ok, parents_ok, strict=False):
        if ok:
            tree[int(company)] = int(parent) if parent_ok else None
    in_cycle = np.array([ok and _in_cycle(tree, int(c)) for c, ok in zip(ids, ids_ok, strict=False)],
                        dtype=bool)
    checker.report(table, in_cycle & (ids != parents),
                   "company {0} is part of a parent_id cycle", table.cells["id"])
    frame = pd.DataFrame({"id": ids, "name": _text(names), "parent_id": _nullable(parents,
                                                                                  parents_ok)})
    # Parents first: sort by depth in the tree.
    depth = np.array([_depth(tree, int(c)) for c in ids], dtype=np.int64)
    return frame.iloc[np.argsort(depth, kind="stable")].reset_index(drop=True)


def _in_cycle(tree: Mapping[int, int | None], start: int) -> bool:
    """Whether walking up from ``start`` through ``parent_id`` comes back to it."""
    node, steps = tree.get(start), 0
    while node is not None and steps <= len(tree):
        if node == start:
            return True
        node, steps = tree.get(node), steps + 1
    return False


def _depth(tree: Mapping[int, int | None], start: int) -> int:
    depth, node = 0, tree.get(start)
    while node is not None and depth <= len(tree):
        depth, node = depth + 1, tree.get(node)
    return depth


def _check_users(checker: _Checker, table: _Table, db: _Existing, company_ids: np.ndarray
                 ) -> pd.DataFrame:
    ids, ids_ok = _integers(checker, table, "id", required=True)
    logins_ok = _required(checker, table, "login")
    _choice(checker, table, "role", ROLES)
    companies, companies_ok = _integers(checker, table, "company_id", required=True)
    _unique(checker, table, "id", pd.DataFrame({"id": ids}), ids_ok, table.cells["id"])
    _in_database(checker, table, "user id", ids_ok & np.isin(ids, db.user_ids), table.cells["id"])
    logins = table.cells["login"]
    _unique(checker, table, "login", pd.DataFrame({"login": logins.to_numpy()}), logins_ok,
            logins)
    _in_database(checker, table, "login", logins_ok & logins.isin(db.user_logins).to_numpy(),
                 logins)
    _foreign(checker, table, "company_id", companies, companies_ok, company_ids, "companies")
    return pd.DataFrame({
        "id": ids, "login": _text(logins), "password_hash": UNUSABLE_PASSWORD,
        "role": _text(table.cells["role"]), "company_id": companies,
        "email": _text(table.cells["email"]),
    })


def _check_clients(checker: _Checker, table: _Table, db: _Existing, company_ids: np.ndarray,
                   user_ids: np.ndarray) -> pd.DataFrame:
    ids, ids_ok = _integers(checker, table, "id", required=True)
    _required(checker, table, "name")
    _choice(checker, table, "client_type", CLIENT_TYPES)
    companies, companies_ok = _integers(checker, table, "company_id", required=True)
    owners, owners_ok = _integers(checker, table, "owner_user_id", required=False)
    _currency(checker, table, "currency")
    created, _ = _timestamps(checker, table, "created_at")
    _unique(checker, table, "id", pd.DataFrame({"id": ids}), ids_ok, table.cells["id"])
    _in_database(checker, table, "client id", ids_ok & np.isin(ids, db.client_ids),
                 table.cells["id"])
    _foreign(checker, table, "company_id", companies, companies_ok, company_ids, "companies")
    _foreign(checker, table, "owner_user_id", owners, owners_ok, user_ids, "users")
    return pd.DataFrame({
        "id": ids, "name": _text(table.cells["name"]),
        "client_type": _text(table.cells["client_type"]), "company_id": companies,
        "owner_user_id": _nullable(owners, owners_ok), "currency": _text(table.cells["currency"]),
        "created_at": created,
    })


def _check_client_tags(checker: _Checker, table: _Table, db: _Existing, client_ids: np.ndarray
                       ) -> pd.DataFrame:
    clients, clients_ok = _integers(checker, table, "client_id", required=True)
    tags_ok = _required(checker, table, "tag")
    _foreign(checker, table, "client_id", clients, clients_ok, client_ids, "clients")
    tags = table.cells["tag"]
    keys = pd.DataFrame({"client_id": clients, "tag": tags.to_numpy()})
    usable = clients_ok & tags_ok
    shown = table.cells["client_id"] + "/" + tags
    _unique(checker, table, "client_id/tag", keys, usable, shown)
    if len(db.client_tags) and usable.any():
        existing = pd.MultiIndex.from_frame(db.client_tags)
        found = pd.MultiIndex.from_frame(keys).isin(existing) & usable
        _in_database(checker, table, "client_id/tag", found, shown)
    return pd.DataFrame({"client_id": clients, "tag": _text(tags)})


def _check_packages(checker: _Checker, table: _Table, db: _Existing) -> pd.DataFrame:
    ids, ids_ok = _integers(checker, table, "id", required=True)
    names_ok = _required(checker, table, "name")
    names = table.cells["name"]
    _unique(checker, table, "id", pd.DataFrame({"id": ids}), ids_ok, table.cells["id"])
    _in_database(checker, table, "package id", ids_ok & np.isin(ids, db.package_ids),
                 table.cells["id"])
    _unique(checker, table, "name", pd.DataFrame({"name": names.to_numpy()}), names_ok, names)
    _in_database(checker, table, "package name",
                 names_ok & names.isin(db.package_names).to_numpy(), names)
    return pd.DataFrame({"id": ids, "name": _text(names)})


def _check_transactions(checker: _Checker, table: _Table, db: _Existing, client_ids: np.ndarray,
                        package_ids: np.ndarray, exact_amounts: bool) -> pd.DataFrame:
    ids, ids_ok = _integers(checker, table, "id", required=True, maximum=INT64_MAX)
    clients, clients_ok = _integers(checker, table, "client_id", required=True)
    ts, _ = _timestamps(checker, table, "ts")
    kinds_ok = _choice(checker, table, "kind", KINDS)
    amounts, amounts_ok = _numbers(checker, table, "amount", MONEY_LIMIT)
    packages, packages_ok = _integers(checker, table, "package_id", required=False)
    kinds = table.cells["kind"]
    _unique(checker, table, "id", pd.DataFrame({"id": ids}), ids_ok, table.cells["id"])
    _in_database(checker, table, "transaction id",
                 ids_ok & np.isin(ids, db.transaction_ids), table.cells["id"])
    _foreign(checker, table, "client_id", clients, clients_ok, client_ids, "clients")
    _foreign(checker, table, "package_id", packages, packages_ok, package_ids, "packages")
    non_negative = kinds.isin(NON_NEGATIVE_KINDS).to_numpy(dtype=bool)
    checker.report(table, kinds_ok & amounts_ok & non_negative & (amounts < 0),
                   "negative amount {0} for kind {1} (only adjustment may be negative)",
                   table.cells["amount"], kinds)
    package_kind = kinds.isin(PACKAGE_KINDS).to_numpy(dtype=bool)
    checker.report(table, package_kind & _empty(table.cells["package_id"]),
                   "package_id is required for kind {0}", kinds)
    kind_codes = pd.Categorical(np.where(kinds_ok, kinds.to_numpy(), None), categories=KINDS)
    return pd.DataFrame({
        "id": ids, "client_id": clients, "ts": ts, "kind": kind_codes,
        # PostgreSQL gets the exact decimal text; SQLite stores REAL whatever it is given.
        "amount": _text(table.cells["amount"]) if exact_amounts else amounts,
        "package_id": _nullable(packages, packages_ok),
    })


def _check_rates(checker: _Checker, table: _Table, db: _Existing, exact_amounts: bool
                 ) -> pd.DataFrame:
    currency_ok = _currency(checker, table, "currency")
    valid_from, valid_ok = _timestamps(checker, table, "valid_from")
    rates, rates_ok = _numbers(checker, table, "rate", RATE_LIMIT)
    checker.report(table, rates_ok & (rates <= 0), "rate must be > 0, got {0}",
                   table.cells["rate"])
    keys = pd.DataFrame({"currency": table.cells["currency"].to_numpy(), "valid_from": valid_from})
    usable = currency_ok & valid_ok
    shown = table.cells["currency"] + "@" + table.cells["valid_from"]
    _unique(checker, table, "currency/valid_from", keys, usable, shown)
    if len(db.rates) and usable.any():
        found = pd.MultiIndex.from_frame(keys).isin(pd.MultiIndex.from_frame(db.rates)) & usable
        _in_database(checker, table, "rate", found, shown)
    return pd.DataFrame({
        "currency": _text(table.cells["currency"]), "valid_from": valid_from,
        "rate": _text(table.cells["rate"]) if exact_amounts else rates,
    })


# --------------------------------------------------------------------------------------------
# The import
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportSummary:
    """Rows written per table, and the seconds the import took."""

    rows: dict[str, int]
    seconds: float


def _read_all(directory: Path, checker: _Checker) -> dict[str, _Table]:
    tables: dict[str, _Table] = {}
    for name in FILE_ORDER:
        path = directory / f"{name}.csv"
        if not path.is_file():
            if name not in OPTIONAL_FILES:
                checker.file_error(path.name, 0, "file missing")
            continue
        table = _read_table(path, name, checker)
        if table is not None:
            tables[name] = table
    return tables


def import_directory(engine: Engine, directory: Path) -> ImportSummary:
    """Validate and load the CSV files of ``directory`` in one transaction.

    Raises ImportFailed (and changes nothing) when any file or row is not valid.
    """
    started = time.perf_counter()
    checker = _Checker()
    tables = _read_all(Path(directory), checker)
    if checker.problems:  # a file is missing or unreadable: row checks would mislead
        raise ImportFailed(checker.messages(), checker.total)
    exact = engine.dialect.name != "sqlite"
    with BulkLoad(engine) as load:
        # Read what the database holds under the write lock: nobody can add a clashing row
        # between the checks and the writes.
        transaction_ids, _ = _integers(_Checker(), tables["transactions"], "id", required=True,
                                       maximum=INT64_MAX)
        db = _existing(load, transaction_ids)
        frames: dict[str, pd.DataFrame] = {}
        frames["companies"] = _check_companies(checker, tables["companies"], db)
        company_ids = np.union1d(frames["companies"]["id"].to_numpy(),
                                 np.array(list(db.company_parent), dtype=np.int64))
        user_ids = db.user_ids
        if "users" in tables:
            frames["users"] = _check_users(checker, tables["users"], db, company_ids)
            user_ids = np.union1d(frames["users"]["id"].to_numpy(), db.user_ids)
        frames["clients"] = _check_clients(checker, tables["clients"], db, company_ids, user_ids)
        client_ids = np.union1d(frames["clients"]["id"].to_numpy(), db.client_ids)
        frames["client_tags"] = _check_client_tags(checker, tables["client_tags"], db, client_ids)
        frames["packages"] = _check_packages(checker, tables["packages"], db)
        package_ids = np.union1d(frames["packages"]["id"].to_numpy(), db.package_ids)
        frames["transactions"] = _check_transactions(
            checker, tables["transactions"], db, client_ids, package_ids, exact
        )
        frames["currency_rates"] = _check_rates(checker, tables["currency_rates"], db, exact)
        if checker.problems:
            raise ImportFailed(checker.messages(), checker.total)
        if len(frames["transactions"]) >= load.count("transactions"):
            # Building the indexes once afterwards beats updating them row by row.
            load.rebuild_after("transactions")
        for name in LOAD_ORDER:
            if name in frames:
                load.insert(name, frames[name])
    rows = {name: len(frame) for name, frame in frames.items()}
    return ImportSummary(rows, time.perf_counter() - started)
