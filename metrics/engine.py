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
from metrics.errors import DataError, InvalidQuery
from metrics.ledger import (
    ACTIVATION,
    CLIENT_TYPES,
    NO_ID,
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
class _Transactions:
    """The transactions one computation looks at, in (client, ts) order, with their bucket."""

    client: np.ndarray
    ts: np.ndarray
    kind: np.ndarray
    package: np.ndarray
    paid: np.ndarray
    delta: np.ndarray
    delta_pos: np.ndarray
    delta_neg: np.ndarray
    balance: np.ndarray
    amount_base: np.ndarray
    currency: np.ndarray
    bucket: np.ndarray  # first bucket whose end lies after ts (nb: none)

    def subset(self, keep: np.ndarray) -> _Transactions:
        if keep.all():
            return self
        return _Transactions(**{name: getattr(self, name)[keep] for name in self.__dataclass_fields__})


@dataclass(frozen=True)
class _Context:
    prepared: PreparedLedger
    buckets: Buckets
    report_currency: int
    stock_factor: np.ndarray  # (currencies, buckets): rate(X, E) / rate(R, E)
    interval_start: int  # µs

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
    scope = None if scope_company_id is None else descendants(prepared.company_parent, scope_company_id)
    _check_ids(prepared, query, scope)
    buckets = make_buckets(query.start, query.end, query.time_grain, query.zone, query.active_months)
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
    context = _Context(prepared, buckets, report_currency, stock_factor, int(buckets.starts[0]))
    transactions = _transactions(prepared, entry < size, int(ends[-1]), ends)

    if query.by_package:
        positions = _package_positions(prepared, query)
        membership = {p: _member_start(prepared, p, ends) for p in positions}
        if not query.package_ids:
            positions = [p for p in positions if (np.maximum(entry, membership[p]) < size).any()]
        positions.sort(key=lambda p: prepared.package_names[p])
        blocks = [
            _block(context, transactions, np.maximum(entry, membership[p]), np.array([p]))
            for p in positions
        ]
        frame = _package_frame(buckets, [prepared.package_names[p] for p in positions], blocks)
        starts = [np.maximum(entry, membership[p]) for p in positions]
    else:
        packages = None
        start = entry
        if query.package_ids:
            packages = _package_positions(prepared, query)
            first = np.min([_member_start(prepared, p, ends) for p in packages], axis=0)
            start = np.maximum(entry, first)
        block = _block(context, transactions, start, packages)
        frame = pd.DataFrame({col.PERIOD: buckets.labels, **block})
        starts = [start]

    in_report = np.zeros(len(prepared.client_ids), dtype=bool)
    for start in starts:
        in_report |= start < size
    return Report(
        frame=frame[col.report_columns(query.by_package)],
        query=query,
        currency=prepared.currencies[report_currency],
        data_interval=_data_interval(transactions, in_report, context, query),
    )


def _report_currency(prepared: PreparedLedger, query: ReportQuery) -> int:
    currency = query.currency or prepared.base_currency
    if currency not in prepared.currencies or not prepared.has_rates(
        prepared.currencies.index(currency)
    ):
        raise InvalidQuery(f"unknown currency {currency!r}", field="currency")
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


def _transactions(
    prepared: PreparedLedger, client_included: np.ndarray, last_end: int, ends: np.ndarray
) -> _Transactions:
    """Transactions of the included clients before the last bucket end, with their bucket."""
    keep = client_included[prepared.tx_client] & (prepared.tx_ts < last_end)
    if keep.all():
        pick = slice(None)
    else:
        pick = np.flatnonzero(keep)
    client = prepared.tx_client[pick]
    ts = prepared.tx_ts[pick]
    return _Transactions(
        client=client,
        ts=ts,
        kind=prepared.tx_kind[pick],
        package=prepared.tx_package[pick],
        paid=prepared.tx_paid[pick],
        delta=prepared.tx_delta[pick],
        delta_pos=prepared.tx_delta_pos[pick],
        delta_neg=prepared.tx_delta_neg[pick],
        balance=prepared.tx_balance[pick],
        amount_base=prepared.tx_amount_base[pick],
        currency=prepared.client_currency[client],
        bucket=np.searchsorted(ends, ts, side="right"),
    )


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
    transactions: _Transactions,
    start: np.ndarray,
    packages: np.ndarray | None,
) -> dict[str, np.ndarray]:
    """All value columns for a population given by each client's first bucket in it."""
    size = context.size
    tx = transactions.subset(start[transactions.client] < size)
    client_start = start[tx.client]
    in_population = start < size

    columns: dict[str, np.ndarray] = {}
    segments = _active_segments(context, tx, start)
    _put_stock(columns, "Clients - Active", context, tx, segments)

    overall = _first_paid_bucket(tx, len(start), size)
    overall_start = np.maximum(start, overall)
    _put_stock(columns, "Clients - Overall Active", context, tx, _whole_range(overall_start, size))
    _put_stock(columns, "Clients - All", context, tx, _whole_range(start, size))
    del in_population

    # Flows: transactions inside the interval by clients in the population at their bucket.
    flow = (tx.ts >= context.interval_start) & (tx.bucket >= client_start)
    amount = np.zeros(len(tx.ts))
    if flow.any():
        prepared = context.prepared
        rate = prepared.rate_at(context.report_currency, tx.ts[flow])
        amount[flow] = tx.amount_base[flow] / rate
    active_qty = columns["Clients - Active: Qty"]

    def flow_sum(kind: int, restrict: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        pick = flow & (tx.kind == kind)
        if restrict is not None:
            pick &= restrict
        count = np.bincount(tx.bucket[pick], minlength=size)[:size]
        total = np.bincount(tx.bucket[pick], weights=amount[pick], minlength=size)[:size]
        return count.astype(np.int64), total

    refill_qty, refill_total = flow_sum(REFILL)
    _, payg_total = flow_sum(PAYG)
    in_packages = None if packages is None else np.isin(tx.package, packages)
    activation_qty, activation_total = flow_sum(ACTIVATION, in_packages)
    renewal_qty, renewal_total = flow_sum(RENEWAL, in_packages)
    with np.errstate(divide="ignore", invalid="ignore"):
        columns["Balance Refill: Qty"] = refill_qty
        columns["Balance Refill: Total"] = refill_total
        columns["Balance Refill: Avg"] = np.where(refill_qty > 0, refill_total / refill_qty, np.nan)
        columns["Pay As You Go: Total"] = payg_total
        columns["Pay As You Go: Active Avg"] = np.where(
            active_qty > 0, payg_total / active_qty, np.nan
        )
    columns["Packages: Activation Qty"] = activation_qty
    columns["Packages: Activation Total"] = activation_total
    columns["Packages: Renew Qty"] = renewal_qty
    columns["Packages: Renew Total"] = renewal_total
    return columns


@dataclass(frozen=True)
class _Segments:
    """Ranges of buckets [first, end) per client in which the client is counted."""

    client: np.ndarray  # ascending, then by first
    first: np.ndarray
    end: np.ndarray
    one_per_client: bool


def _whole_range(start: np.ndarray, size: int) -> _Segments:
    clients = np.flatnonzero(start < size)
    return _Segments(clients, start[clients], np.full(len(clients), size), True)


def _first_paid_bucket(tx: _Transactions, client_count: int, size: int) -> np.ndarray:
    """Per client, the first bucket at whose end it has had a paid service (nb: never)."""
    first = np.full(client_count, size, dtype=np.int64)
    paid_clients = tx.client[tx.paid]
    if len(paid_clients):
        is_first = np.ones(len(paid_clients), dtype=bool)
        is_first[1:] = paid_clients[1:] != paid_clients[:-1]
        first[paid_clients[is_first]] = tx.bucket[tx.paid][is_first]
    return first


def _active_segments(context: _Context, tx: _Transactions, start: np.ndarray) -> _Segments:
    """Per client, the merged ranges of buckets in which it had a paid service in [A, E)."""
    size = context.size
    paid = tx.paid & (tx.bucket < size)
    client = tx.client[paid]
    low = tx.bucket[paid]  # first bucket with E > t
    high = np.searchsorted(context.buckets.active_starts, tx.ts[paid], side="right")  # A > t
    if len(client) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return _Segments(empty, empty, empty, False)
    # Both bounds grow with t, so within a client a range overlaps or touches the union of the
    # ones before it exactly when it starts no later than the previous one ends.
    new = np.ones(len(client), dtype=bool)
    new[1:] = (client[1:] != client[:-1]) | (low[1:] > high[:-1])
    heads = np.flatnonzero(new)
    tails = np.append(heads[1:] - 1, len(client) - 1)
    seg_client = client[heads].astype(np.int64)
    first = np.maximum(low[heads], start[seg_client])
    end = np.minimum(high[tails], size)
    keep = first < end
    return _Segments(seg_client[keep], first[keep], end[keep], False)


def _put_stock(
    columns: dict[str, np.ndarray],
    group: str,
    context: _Context,
    tx: _Transactions,
    segments: _Segments,
) -> None:
    """Qty and balance sums at each bucket end of the clients inside their segments.

    Over a segment [s, e) of a client the sum is: its balance at E_s added at s, the change
    of every transaction in buckets s < b < e added at b, its balance at E_(e-1) taken away
    at e — then a cumulative sum over buckets.
    """
    size = context.size
    currencies = len(context.prepared.currencies)
    width = size + 1
    qty = np.cumsum(
        np.bincount(segments.first, minlength=width) - np.bincount(segments.end, minlength=width)
    )[:size]
    columns[f"{group}: Qty"] = qty.astype(np.int64)

    # Balance of each segment's client at E_s and at E_(e-1): its last transaction before.
    tx_key = tx.client.astype(np.int64) * width + tx.bucket
    at_first = _balance_lookup(tx, tx_key, segments.client, segments.first, width)
    closes = segments.end < size
    at_last = _balance_lookup(
        tx, tx_key, segments.client[closes], segments.end[closes] - 1, width
    )
    seg_currency = context.prepared.client_currency[segments.client].astype(np.int64)

    # Transactions strictly inside a segment (s < b < e) of their client.
    if segments.one_per_client:
        lookup = np.full(len(context.prepared.client_ids), -1, dtype=np.int64)
        lookup[segments.client] = np.arange(len(segments.client))
        seg = lookup[tx.client]
    else:
        seg_key = segments.client * width + segments.first
        seg = np.searchsorted(seg_key, tx_key, side="right") - 1
    inside = seg >= 0
    seg_safe = np.where(inside, seg, 0)
    if len(segments.client):
        inside &= segments.client[seg_safe] == tx.client
        inside &= (tx.bucket > segments.first[seg_safe]) & (tx.bucket < segments.end[seg_safe])
    else:
        inside[:] = False
    tx_index = tx.currency[inside].astype(np.int64) * width + tx.bucket[inside]
    open_index = seg_currency * width + segments.first
    close_index = seg_currency[closes] * width + segments.end[closes]

    for leaf, tx_values, part in (
        ("Balance Pos", tx.delta_pos, lambda b: np.maximum(b, 0.0)),
        ("Balance Neg", tx.delta_neg, lambda b: np.minimum(b, 0.0)),
        ("Balance", tx.delta, lambda b: b),
    ):
        changes = np.bincount(tx_index, weights=tx_values[inside], minlength=currencies * width)
        changes += np.bincount(open_index, weights=part(at_first), minlength=currencies * width)
        changes -= np.bincount(close_index, weights=part(at_last), minlength=currencies * width)
        per_currency = np.cumsum(changes.reshape(currencies, width), axis=1)[:, :size]
        used = per_currency.any(axis=1)
        columns[f"{group}: {leaf}"] = (
            (per_currency[used] * context.stock_factor[used]).sum(axis=0)
            if used.any()
            else np.zeros(size)
        )


def _balance_lookup(
    tx: _Transactions, tx_key: np.ndarray, clients: np.ndarray, buckets: np.ndarray, width: int
) -> np.ndarray:
    """Balance of each client at the end of the given bucket (0 before any transaction)."""
    if len(clients) == 0:
        return np.zeros(0)
    index = np.searchsorted(tx_key, clients * width + buckets, side="right") - 1
    safe = np.maximum(index, 0)
    found = (index >= 0) & (tx.client[safe] == clients) if len(tx.client) else np.zeros(len(clients), bool)
    return np.where(found, tx.balance[safe] if len(tx.client) else 0.0, 0.0)


def _package_frame(buckets: Buckets, names: list[str], blocks: list[dict[str, np.ndarray]]) -> pd.DataFrame:
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


def _data_interval(
    tx: _Transactions, in_report: np.ndarray, context: _Context, query: ReportQuery
) -> tuple | None:
    pick = in_report[tx.client] & (tx.ts >= context.interval_start)
    if not pick.any():
        return None
    times = tx.ts[pick]
    return (
        micros_to_local(int(times.min()), query.zone),
        micros_to_local(int(times.max()), query.zone),
    )
