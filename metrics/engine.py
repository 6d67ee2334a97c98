"""The Customer Dynamics report (SPEC §3), computed from changes rather than states.

Every stock column (client counts and balance sums at each bucket end) is a sum over clients of
a step function of time, so it is computed from the transactions that change it: each
transaction is assigned to the first bucket whose end lies after it, the changes are added up
per (currency, bucket) with ``bincount`` and a cumulative sum over the buckets gives the state
at every bucket end. Nothing of size clients × buckets is ever built; the cost grows with the
number of transactions. ``tests/reference_report.py`` computes the same report literally.

Membership of a row's population is a range of buckets per client: from the first bucket in
which the client exists (``created_at < E``) and, for package rows, is a member of the package,
to the end. "Active" clients are a union of ranges per client: a paid service at t makes its
client active in the buckets with A ≤ t < E, which is a contiguous range because both the
bucket ends E and the window starts A increase.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from metrics import columns as col
from metrics.calendar import Buckets, make_buckets, micros_to_local
from metrics.errors import DataError, InvalidQuery, shown
from metrics.ledger import (
    ACTIVATION,
    CLIENT_TYPES,
    PAYG,
    REFILL,
    RENEWAL,
    Ledger,
    PreparedLedger,
    prepare_ledger,
)
from metrics.query import ReportQuery
from metrics.report import Report
from metrics.scope import descendants

__all__ = ["Ledger", "PreparedLedger", "prepare_ledger", "build_report"]


@dataclass(frozen=True)
class _Runs:
    """The transactions of one query collapsed per (client, bucket), in (client, bucket) order.

    A client's balance only matters at bucket ends, so all its transactions inside one bucket
    act as one change: from ``previous`` (its balance before the run) to ``balance`` (after).
    """

    client: np.ndarray
    bucket: np.ndarray
    balance: np.ndarray
    changes: tuple[np.ndarray, np.ndarray, np.ndarray]  # of (positive part, negative part, balance)
    refill_qty: np.ndarray  # flows inside the interval, amounts in the report currency
    refill_total: np.ndarray
    payg_total: np.ndarray
    active_end: (
        np.ndarray
    )  # first bucket whose window starts after the run's last paid service; -1: none

    def subset(self, keep: np.ndarray) -> _Runs:
        if keep.all():
            return self
        arrays = {n: getattr(self, n)[keep] for n in self.__dataclass_fields__ if n != "changes"}
        return _Runs(**arrays, changes=tuple(change[keep] for change in self.changes))


@dataclass(frozen=True)
class _Fees:
    """Package activations and renewals inside the interval (amounts in the report currency)."""

    client: np.ndarray
    bucket: np.ndarray
    kind: np.ndarray
    package: np.ndarray
    amount: np.ndarray


@dataclass(frozen=True)
class _Context:
    prepared: PreparedLedger
    buckets: Buckets
    stock_factor: np.ndarray  # (currencies, buckets): rate(X, E) / rate(R, E)

    @property
    def size(self) -> int:
        return len(self.buckets)


def build_report(
    prepared: PreparedLedger, query: ReportQuery, scope_company_id: int | None = None
) -> Report:
    """The report of ``query`` over the clients in the scope of ``scope_company_id``.

    ``scope_company_id`` None means the whole ledger; otherwise the user's company, whose
    scope is that company and every company below it.
    """
    report_currency = _report_currency(prepared, query)
    scope = (
        None if scope_company_id is None else descendants(prepared.company_parent, scope_company_id)
    )
    _check_ids(prepared, query, scope)
    buckets = make_buckets(
        query.start, query.end, query.time_grain, query.zone, query.active_months
    )
    size = len(buckets)
    ends = buckets.ends

    eligible = _static_population(prepared, query, scope)
    entry = np.where(
        eligible, np.searchsorted(ends, prepared.client_created, side="right"), size
    ).astype(np.int64)
    _check_rates(prepared, np.unique(prepared.client_currency[entry < size]))
    stock_factor = np.vstack(
        [
            prepared.rate_at(code, ends) / prepared.rate_at(report_currency, ends)
            if prepared.has_rates(code)
            else np.full(size, np.nan)
            for code in range(len(prepared.currencies))
        ]
    )
    context = _Context(prepared, buckets, stock_factor)
    runs, fees, seen = _collapse(prepared, buckets, report_currency, entry < size)

    if query.by_package:
        positions = _package_positions(prepared, query)
        starts = {p: np.maximum(entry, _member_start(prepared, p, ends)) for p in positions}
        if not query.package_ids:
            positions = [p for p in positions if (starts[p] < size).any()]
        positions.sort(key=lambda p: prepared.package_names[p])
        blocks = [_block(context, runs, fees, starts[p], np.array([p])) for p in positions]
        frame = _package_frame(buckets, [prepared.package_names[p] for p in positions], blocks)
        populations = [starts[p] for p in positions]
    else:
        start, packages = entry, None
        if query.package_ids:
            packages = np.array(_package_positions(prepared, query))
            first = np.min([_member_start(prepared, p, ends) for p in packages], axis=0)
            start = np.maximum(entry, first)
        frame = pd.DataFrame(
            {col.PERIOD: buckets.labels, **_block(context, runs, fees, start, packages)}
        )
        populations = [start]

    in_report = np.zeros(len(prepared.client_ids), dtype=bool)
    for start in populations:
        in_report |= start < size
    frame = frame[col.report_columns(query.by_package)]
    # Empty sums come out of bincount as integers: fix every column's type.
    frame = frame.astype(
        {c: np.float64 for c in col.MONEY_COLUMNS} | {c: np.int64 for c in col.COUNT_COLUMNS}
    )
    return Report(
        frame=frame,
        query=query,
        currency=prepared.currencies[report_currency],
        data_interval=_data_interval(seen, in_report, query),
    )


def _report_currency(prepared: PreparedLedger, query: ReportQuery) -> int:
    currency = query.currency or prepared.base_currency
    if currency not in prepared.currencies or not prepared.has_rates(
        prepared.currencies.index(currency)
    ):
        raise InvalidQuery(f"unknown currency {shown(currency)}", field="currency")
    return prepared.currencies.index(currency)


def _check_ids(prepared: PreparedLedger, query: ReportQuery, scope: set[int] | None) -> None:
    for company_id in query.company_ids:
        if company_id not in prepared.company_parent:
            raise InvalidQuery(f"unknown company {company_id}", field="company")
        if scope is not None and company_id not in scope:
            raise InvalidQuery(f"company {company_id} is outside your scope", field="company")
    for user_id in query.owner_ids:
        if user_id not in prepared.user_company:
            raise InvalidQuery(f"unknown owner user {user_id}", field="owner")
        if scope is not None and prepared.user_company[user_id] not in scope:
            raise InvalidQuery(f"owner user {user_id} is outside your scope", field="owner")
    known = set(prepared.package_ids.tolist())
    for package_id in query.package_ids:
        if package_id not in known:
            raise InvalidQuery(f"unknown package {package_id}", field="package")


def _check_rates(prepared: PreparedLedger, currency_codes: np.ndarray) -> None:
    missing = [prepared.currencies[c] for c in currency_codes if not prepared.has_rates(int(c))]
    if missing:
        raise DataError(f"currency {', '.join(missing)} has no exchange rate", field="currency")


def _static_population(
    prepared: PreparedLedger, query: ReportQuery, scope: set[int] | None
) -> np.ndarray:
    """Clients in scope matching the type / tag / company / owner filters."""
    keep = np.ones(len(prepared.client_ids), dtype=bool)
    if scope is not None:
        keep &= np.isin(prepared.client_company, list(scope))
    if query.company_ids:
        wanted: set[int] = set()
        for company_id in query.company_ids:
            wanted |= descendants(prepared.company_parent, company_id)
        keep &= np.isin(prepared.client_company, list(wanted))
    if query.client_types:
        codes = [CLIENT_TYPES.index(t) for t in query.client_types]
        keep &= np.isin(prepared.client_type, codes)
    if query.owner_ids:
        keep &= np.isin(prepared.client_owner, list(query.owner_ids))
    if query.tags:
        tagged = np.zeros(len(keep), dtype=bool)
        for tag in query.tags:
            tagged[prepared.tags.get(tag, np.zeros(0, np.int64))] = True
        keep &= tagged
    return keep


def _collapse(
    prepared: PreparedLedger, buckets: Buckets, report_currency: int, included: np.ndarray
) -> tuple[_Runs, _Fees, _Seen]:
    """Runs and package fees of the included clients' transactions before the last bucket end."""
    ends = buckets.ends
    size = len(ends)
    # Transactions at or after the last bucket end go into a bucket of their own (``size``)
    # that every sum drops, and so do those of clients outside the population; they are only
    # left out (copying every array) when that saves much.
    keep = prepared.tx_ts < ends[-1]
    if not included.all():
        keep &= included[prepared.tx_client]
    pick = np.flatnonzero(keep) if keep.sum() < 0.8 * len(keep) else None

    def take(values: np.ndarray, index: np.ndarray | None = None) -> np.ndarray:
        """``values`` of the picked transactions (then of ``index`` among them)."""
        if pick is None:
            return values if index is None else values[index]
        return values[pick] if index is None else values[pick[index]]

    client = take(prepared.tx_client)
    ts = take(prepared.tx_ts)
    kind = take(prepared.tx_kind)
    count = len(client)
    # Each transaction needs three counts of instants at or before it: bucket ends (its
    # bucket), window starts (how far a paid service keeps its client active) and rate
    # changes of the report currency (its rate). One search in the union of those instants
    # gives all three through small tables.
    rate_times = (
        np.zeros(0, np.int64)
        if prepared.currencies[report_currency] == prepared.base_currency
        else prepared.rate_times[report_currency]
    )
    marks = np.unique(np.concatenate((ends, buckets.active_starts, rate_times)))
    if len(marks) <= 8:  # a few instants (no grain, base currency): comparisons beat a search
        slot = np.zeros(count, dtype=np.int32)
        for mark in marks:
            slot += ts >= mark
    else:
        slot = np.searchsorted(marks, ts, side="right")

    def at_or_before(instants: np.ndarray) -> np.ndarray:
        """Per slot, how many of ``instants`` lie at or before a transaction in that slot."""
        return np.concatenate(([0], np.searchsorted(instants, marks, side="right")))

    bucket = at_or_before(ends).astype(np.int32)[slot]

    last = np.ones(count, dtype=bool)
    last[:-1] = (client[1:] != client[:-1]) | (bucket[1:] != bucket[:-1])
    run_last = np.flatnonzero(last)
    run_first = np.concatenate(([0], run_last[:-1] + 1)) if count else run_last
    run_client = client[run_last].astype(np.int64)
    balance = take(prepared.tx_balance, run_last)
    previous = np.zeros(len(run_last))
    if len(run_last) > 1:
        previous[1:] = np.where(run_client[1:] == run_client[:-1], balance[:-1], 0.0)

    # Flows: transactions inside the interval, at the rate of their own instant.
    inside = (ts >= buckets.starts[0]) & (bucket < size)
    if pick is None and not included.all():
        inside &= included[client]
    amount = take(prepared.tx_amount_base)  # only ever read where ``inside`` holds
    if len(rate_times):
        rate_index = np.maximum(at_or_before(rate_times)[slot] - 1, 0)
        amount = amount / prepared.rate_values[report_currency][rate_index]

    def per_run(values: np.ndarray) -> np.ndarray:
        return np.add.reduceat(values, run_first) if count else np.zeros(0)

    is_refill = inside & (kind == REFILL)
    refill_qty = per_run(is_refill.astype(np.int32)).astype(np.int64)
    refill_total = per_run(np.where(is_refill, amount, 0.0))
    payg_total = per_run(np.where(inside & (kind == PAYG), amount, 0.0))

    # The window of a paid service at t covers the buckets with A <= t < E: a run's last paid
    # service decides how far it keeps its client active.
    paid = np.flatnonzero(take(prepared.tx_paid) & (bucket < size))
    active_end = np.full(len(run_last), -1, dtype=np.int64)
    if len(paid):
        run_of = np.cumsum(last, dtype=np.int32) - last  # run index of each transaction
        paid_runs = run_of[paid]
        final = np.ones(len(paid), dtype=bool)
        final[:-1] = paid_runs[1:] != paid_runs[:-1]
        active_end[paid_runs[final]] = at_or_before(buckets.active_starts)[slot[paid[final]]]

    fee = np.flatnonzero(inside & ((kind == ACTIVATION) | (kind == RENEWAL)))
    fees = _Fees(
        client=client[fee].astype(np.int64),
        bucket=bucket[fee],
        kind=kind[fee],
        package=take(prepared.tx_package, fee),
        amount=amount[fee],
    )
    runs = _Runs(
        client=run_client,
        bucket=bucket[run_last].astype(np.int64),
        balance=balance,
        changes=tuple(
            now - before for now, before in zip(_parts(balance), _parts(previous), strict=True)
        ),
        refill_qty=refill_qty,
        refill_total=refill_total,
        payg_total=payg_total,
        active_end=active_end,
    )
    return runs, fees, _Seen(client, ts, inside)


@dataclass(frozen=True)
class _Seen:
    """The picked transactions' clients and instants, and which lie inside the interval."""

    client: np.ndarray
    ts: np.ndarray
    inside: np.ndarray


def _package_positions(prepared: PreparedLedger, query: ReportQuery) -> list[int]:
    if query.package_ids:
        return [int(p) for p in np.searchsorted(prepared.package_ids, query.package_ids)]
    return list(range(len(prepared.package_ids)))


def _member_start(prepared: PreparedLedger, package: int, ends: np.ndarray) -> np.ndarray:
    """Per client, the first bucket at whose end it is a member of ``package`` (nb: never)."""
    start = np.full(len(prepared.client_ids), len(ends), dtype=np.int64)
    pick = prepared.member_package == package
    start[prepared.member_client[pick]] = np.searchsorted(
        ends, prepared.member_since[pick], side="right"
    )
    return start


def _block(
    context: _Context,
    all_runs: _Runs,
    fees: _Fees,
    start: np.ndarray,
    packages: np.ndarray | None,
) -> dict[str, np.ndarray]:
    """All value columns for a population given by each client's first bucket in it."""
    size = context.size
    runs = all_runs.subset(start[all_runs.client] < size)
    run_start = start[runs.client]
    columns: dict[str, np.ndarray] = {}

    segments = _active_segments(runs, start, size)
    columns.update(_segment_stock("Clients - Active", context, runs, segments))
    paid_since = _first_paid_bucket(runs, len(start), size)
    columns.update(
        _open_stock("Clients - Overall Active", context, runs, np.maximum(start, paid_since))
    )
    columns.update(_open_stock("Clients - All", context, runs, start))

    # Flows count for a client from the bucket in which it is in the population.
    counted = runs.bucket >= run_start
    bucket = runs.bucket[counted]
    refill_qty = np.bincount(bucket, weights=runs.refill_qty[counted], minlength=size)[:size]
    refill_qty = np.rint(refill_qty).astype(np.int64)
    refill_total = np.bincount(bucket, weights=runs.refill_total[counted], minlength=size)[:size]
    payg_total = np.bincount(bucket, weights=runs.payg_total[counted], minlength=size)[:size]
    active_qty = columns["Clients - Active: Qty"]
    with np.errstate(divide="ignore", invalid="ignore"):
        columns["Balance Refill: Qty"] = refill_qty
        columns["Balance Refill: Total"] = refill_total
        columns["Balance Refill: Avg"] = np.where(refill_qty > 0, refill_total / refill_qty, np.nan)
        columns["Pay As You Go: Total"] = payg_total
        columns["Pay As You Go: Active Avg"] = np.where(
            active_qty > 0, payg_total / active_qty, np.nan
        )

    fee = fees.bucket >= start[fees.client]
    if packages is not None:
        fee &= (
            (fees.package == packages[0]) if len(packages) == 1 else np.isin(fees.package, packages)
        )
    for kind, qty_name, total_name in (
        (ACTIVATION, "Packages: Activation Qty", "Packages: Activation Total"),
        (RENEWAL, "Packages: Renew Qty", "Packages: Renew Total"),
    ):
        pick = fee & (fees.kind == kind)
        columns[qty_name] = np.bincount(fees.bucket[pick], minlength=size)[:size].astype(np.int64)
        columns[total_name] = np.bincount(
            fees.bucket[pick], weights=fees.amount[pick], minlength=size
        )[:size]
    return columns


def _first_paid_bucket(runs: _Runs, client_count: int, size: int) -> np.ndarray:
    """Per client, the first bucket at whose end it has had a paid service (nb: never)."""
    first = np.full(client_count, size, dtype=np.int64)
    paid = runs.active_end >= 0
    paid_clients = runs.client[paid]
    if len(paid_clients):
        is_first = np.ones(len(paid_clients), dtype=bool)
        is_first[1:] = paid_clients[1:] != paid_clients[:-1]
        first[paid_clients[is_first]] = runs.bucket[paid][is_first]
    return first


@dataclass(frozen=True)
class _Segments:
    """Ranges of buckets [first, end) in which a client is counted, by client then first."""

    client: np.ndarray
    first: np.ndarray
    end: np.ndarray


def _active_segments(runs: _Runs, start: np.ndarray, size: int) -> _Segments:
    """Per client, the merged ranges of buckets in which it had a paid service in [A, E)."""
    paid = runs.active_end >= 0
    client = runs.client[paid]
    low = runs.bucket[paid]
    high = runs.active_end[paid]
    if len(client) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return _Segments(empty, empty, empty)
    # Both bounds grow with t, so within a client a range overlaps or touches the union of the
    # ones before it exactly when it starts no later than the previous one ends.
    new = np.ones(len(client), dtype=bool)
    new[1:] = (client[1:] != client[:-1]) | (low[1:] > high[:-1])
    heads = np.flatnonzero(new)
    tails = np.append(heads[1:] - 1, len(client) - 1)
    seg_client = client[heads]
    first = np.maximum(low[heads], start[seg_client])
    end = np.minimum(high[tails], size)
    keep = first < end
    return _Segments(seg_client[keep], first[keep], end[keep])


def _parts(balance: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(positive part, negative part, whole) of balances."""
    return np.maximum(balance, 0.0), np.minimum(balance, 0.0), balance


_LEAVES = ("Balance Pos", "Balance Neg", "Balance")


def _sum_stock(
    context: _Context, currency: np.ndarray, position: np.ndarray, changes: tuple[np.ndarray, ...]
) -> dict[str, np.ndarray]:
    """Balance columns from changes placed at bucket positions (``size``: dropped), per currency."""
    size = context.size
    width = size + 1
    currencies = len(context.prepared.currencies)
    index = currency * width + position
    result = {}
    for leaf, change in zip(_LEAVES, changes, strict=True):
        per_currency = np.bincount(index, weights=change, minlength=currencies * width)
        per_currency = np.cumsum(per_currency.reshape(currencies, width), axis=1)[:, :size]
        used = per_currency.any(axis=1)
        result[leaf] = (
            (per_currency[used] * context.stock_factor[used]).sum(axis=0)
            if used.any()
            else np.zeros(size)
        )
    return result


def _open_stock(
    group: str, context: _Context, runs: _Runs, start: np.ndarray
) -> dict[str, np.ndarray]:
    """Qty and balances of clients counted from their ``start`` bucket to the end.

    A run's change counts from its own bucket or, if the client joins later, from its start:
    added up to a bucket end that gives the client's balance there.
    """
    size = context.size
    counted = start < size
    qty = np.cumsum(np.bincount(start[counted], minlength=size + 1))[:size]
    position = np.minimum(np.maximum(runs.bucket, start[runs.client]), size)
    currency = context.prepared.client_currency[runs.client].astype(np.int64)
    stock = _sum_stock(context, currency, position, runs.changes)
    return {f"{group}: Qty": qty.astype(np.int64), **{f"{group}: {k}": v for k, v in stock.items()}}


def _segment_stock(
    group: str, context: _Context, runs: _Runs, segments: _Segments
) -> dict[str, np.ndarray]:
    """Qty and balances of clients inside their segments.

    Over a segment [s, e) the sum is its client's balance at E_s added at s, the change of
    every run in buckets s < b < e added at b, the balance at E_(e-1) taken away at e.
    """
    size = context.size
    width = size + 1
    qty = np.cumsum(
        np.bincount(segments.first, minlength=width) - np.bincount(segments.end, minlength=width)
    )[:size]

    run_key = runs.client * width + runs.bucket
    opening = _balance_at(runs, run_key, width, segments.client, segments.first)
    closes = segments.end < size
    closing = _balance_at(runs, run_key, width, segments.client[closes], segments.end[closes] - 1)

    seg = np.searchsorted(segments.client * width + segments.first, run_key, side="right") - 1
    inner = seg >= 0
    if len(segments.client):
        seg = np.maximum(seg, 0)
        inner &= (segments.client[seg] == runs.client) & (runs.bucket > segments.first[seg])
        inner &= runs.bucket < segments.end[seg]
    else:
        inner[:] = False

    client_currency = context.prepared.client_currency
    currency = np.concatenate(
        (
            client_currency[runs.client[inner]],
            client_currency[segments.client],
            client_currency[segments.client[closes]],
        )
    ).astype(np.int64)
    position = np.concatenate((runs.bucket[inner], segments.first, segments.end[closes]))
    opened, closed = _parts(opening), _parts(closing)
    changes = tuple(
        np.concatenate((change[inner], o, -c))
        for change, o, c in zip(runs.changes, opened, closed, strict=True)
    )
    stock = _sum_stock(context, currency, position, changes)
    return {f"{group}: Qty": qty.astype(np.int64), **{f"{group}: {k}": v for k, v in stock.items()}}


def _balance_at(
    runs: _Runs, run_key: np.ndarray, width: int, clients: np.ndarray, buckets: np.ndarray
) -> np.ndarray:
    """Balance of each client at the end of the given bucket (0 before any transaction)."""
    if len(clients) == 0 or len(run_key) == 0:
        return np.zeros(len(clients))
    index = np.searchsorted(run_key, clients * width + buckets, side="right") - 1
    safe = np.maximum(index, 0)
    found = (index >= 0) & (runs.client[safe] == clients)
    return np.where(found, runs.balance[safe], 0.0)


def _package_frame(
    buckets: Buckets, names: list[str], blocks: list[dict[str, np.ndarray]]
) -> pd.DataFrame:
    """Rows ordered by bucket, then package name (``names`` is already in name order)."""
    size = len(buckets)
    count = len(names)
    data: dict[str, object] = {
        col.PERIOD: np.repeat(np.array(buckets.labels, dtype=object), count),
        col.PACKAGE: np.tile(np.array(names, dtype=object), size),
    }
    for name in col.VALUE_COLUMNS:
        if count:
            data[name] = np.column_stack([block[name] for block in blocks]).reshape(-1)
        else:
            data[name] = np.zeros(0, dtype=np.int64 if name in col.COUNT_COLUMNS else np.float64)
    return pd.DataFrame(data)


def _data_interval(seen: _Seen, in_report: np.ndarray, query: ReportQuery) -> tuple | None:
    """First and last instant of the report's clients' transactions inside the interval."""
    times = seen.ts[seen.inside & in_report[seen.client]]
    if len(times) == 0:
        return None
    return micros_to_local(int(times.min()), query.zone), micros_to_local(
        int(times.max()), query.zone
    )
