"""The ledger: the source frames, and their query-independent preparation for the engine.

``prepare_ledger`` does once, when the data is loaded, everything that does not depend on a
query: it sorts the transactions by (client, ts), turns kinds, currencies and packages into
small integer codes, and keeps per transaction the client's running balance after it, the
changes it makes to the positive and negative parts of that balance, and its amount in the
base currency at the rate of its own instant. A query then only assigns transactions to
buckets and adds things up (see ``metrics.engine``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from metrics.errors import DataError

KINDS = ("refill", "payg", "package_activation", "package_renewal", "adjustment")
REFILL, PAYG, ACTIVATION, RENEWAL, ADJUSTMENT = range(len(KINDS))
# Balance effect of each kind: refills and adjustments add, charges subtract.
KIND_SIGN = np.array([1.0, -1.0, -1.0, -1.0, 1.0])
CLIENT_TYPES = ("client", "reseller", "calling_card", "call_shop")
NO_ID = -1


@dataclass(frozen=True)
class Ledger:
    """The source tables as frames; timestamps are naive UTC ``datetime64``.

    clients: id, client_type, company_id, owner_user_id (NaN: none), currency, created_at
    tags: client_id, tag
    transactions: id, client_id, ts, kind, amount, package_id (NaN: none)
    rates: currency, valid_from, rate
    companies: id, name, parent_id (NaN: root)
    packages: id, name
    users: id, login, company_id
    """

    clients: pd.DataFrame
    tags: pd.DataFrame
    transactions: pd.DataFrame
    rates: pd.DataFrame
    companies: pd.DataFrame
    packages: pd.DataFrame
    users: pd.DataFrame


def to_micros(values: pd.Series | np.ndarray) -> np.ndarray:
    """Naive UTC timestamps as int64 microseconds since the epoch, whatever their resolution."""
    return np.asarray(pd.to_datetime(values)).astype("datetime64[us]").astype(np.int64)


def _ids(values: pd.Series) -> np.ndarray:
    """A nullable id column as int64 with ``NO_ID`` for missing values."""
    return pd.to_numeric(values, errors="coerce").fillna(NO_ID).to_numpy(np.int64)


def _positions(sorted_ids: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Index of each of ``ids`` in ``sorted_ids``; -1 where it is not there."""
    if len(sorted_ids) == 0:
        return np.full(len(ids), -1, dtype=np.int32)
    if sorted_ids[0] >= 0 and sorted_ids[-1] < 4 * len(sorted_ids) + 1_000_000:
        # Dense ids (the usual case): a lookup table is one pass instead of a binary search.
        table = np.full(int(sorted_ids[-1]) + 2, -1, dtype=np.int32)
        table[sorted_ids] = np.arange(len(sorted_ids), dtype=np.int32)
        return table[np.clip(ids, -1, len(table) - 1)]
    index = np.minimum(np.searchsorted(sorted_ids, ids), len(sorted_ids) - 1)
    return np.where(sorted_ids[index] == ids, index, -1).astype(np.int32)


def _is_sorted(client: np.ndarray, ts: np.ndarray, tx_id: np.ndarray) -> bool:
    """Whether rows are already in (client, ts, id) order, so the sort can be skipped."""
    if len(client) < 2:
        return True
    c0, c1 = client[:-1], client[1:]
    t0, t1 = ts[:-1], ts[1:]
    ordered = (c0 < c1) | ((c0 == c1) & ((t0 < t1) | ((t0 == t1) & (tx_id[:-1] <= tx_id[1:]))))
    return bool(ordered.all())


@dataclass(frozen=True, eq=False)
class PreparedLedger:
    """Arrays the engine reads; transactions are sorted by (client position, ts, id)."""

    base_currency: str
    currencies: tuple[str, ...]
    rate_times: tuple[np.ndarray, ...]  # per currency code: valid_from (µs), ascending
    rate_values: tuple[np.ndarray, ...]

    client_ids: np.ndarray  # ascending; a client's position is its index here
    client_type: np.ndarray  # int8 code into CLIENT_TYPES
    client_company: np.ndarray
    client_owner: np.ndarray  # NO_ID: none
    client_currency: np.ndarray  # int16 code into currencies
    client_created: np.ndarray  # µs

    tags: dict[str, np.ndarray]  # tag -> client positions

    company_parent: dict[int, int | None]
    user_company: dict[int, int]
    package_ids: np.ndarray  # ascending
    package_names: tuple[str, ...]

    tx_client: np.ndarray  # int32 client position
    tx_ts: np.ndarray  # int64 µs
    tx_kind: np.ndarray  # int8 code into KINDS
    tx_package: np.ndarray  # int32 package position, NO_ID: none
    tx_paid: np.ndarray  # bool: a paid service (charge kinds with amount > 0)
    tx_balance: np.ndarray  # running balance after the transaction
    tx_amount_base: np.ndarray  # amount in base currency at the rate of ts (NaN: no rate)

    # Package membership: first package transaction of each (client, package), by client.
    member_client: np.ndarray
    member_package: np.ndarray
    member_since: np.ndarray  # µs

    @property
    def transaction_count(self) -> int:
        return len(self.tx_ts)

    def rate_at(self, currency_code: int, times: np.ndarray) -> np.ndarray:
        """Rate of a currency at each instant (earliest row before the first; base is 1)."""
        if self.currencies[currency_code] == self.base_currency:
            return np.ones(len(times))
        valid_from = self.rate_times[currency_code]
        if len(valid_from) == 0:
            raise DataError(f"currency {self.currencies[currency_code]} has no exchange rate")
        index = np.searchsorted(valid_from, times, side="right") - 1
        return self.rate_values[currency_code][np.maximum(index, 0)]

    def has_rates(self, currency_code: int) -> bool:
        return (
            self.currencies[currency_code] == self.base_currency
            or len(self.rate_times[currency_code]) > 0
        )


def prepare_ledger(ledger: Ledger, base_currency: str = "USD") -> PreparedLedger:
    """Do the query-independent work on ``ledger`` (which is left unchanged)."""
    base_currency = base_currency.upper()
    clients = ledger.clients.sort_values("id", kind="stable")
    client_ids = clients["id"].to_numpy(np.int64)

    rates = ledger.rates.sort_values(["currency", "valid_from"], kind="stable")
    currencies = tuple(
        sorted(
            {base_currency}
            | set(clients["currency"].astype(str).str.upper())
            | set(rates["currency"].astype(str).str.upper())
        )
    )
    currency_code = {c: i for i, c in enumerate(currencies)}
    rate_currency = rates["currency"].astype(str).str.upper().to_numpy()
    rate_micros = to_micros(rates["valid_from"])
    rate_value = rates["rate"].to_numpy(np.float64)
    rate_times, rate_values = [], []
    for currency in currencies:
        pick = (rate_currency == currency) & (currency != base_currency)
        rate_times.append(rate_micros[pick])
        rate_values.append(rate_value[pick])

    type_code = {t: i for i, t in enumerate(CLIENT_TYPES)}
    client_currency = np.array(
        [currency_code[c] for c in clients["currency"].astype(str).str.upper()], dtype=np.int16
    )

    tags: dict[str, np.ndarray] = {}
    if len(ledger.tags):
        tag_positions = np.searchsorted(client_ids, ledger.tags["client_id"].to_numpy(np.int64))
        tag_positions = np.minimum(tag_positions, max(len(client_ids) - 1, 0))
        known = client_ids[tag_positions] == ledger.tags["client_id"].to_numpy(np.int64)
        tag_frame = pd.DataFrame({"tag": ledger.tags["tag"].astype(str), "pos": tag_positions})
        for tag, group in tag_frame[known].groupby("tag", sort=True):
            tags[str(tag)] = np.unique(group["pos"].to_numpy(np.int64))

    packages = ledger.packages.sort_values("id", kind="stable")
    package_ids = packages["id"].to_numpy(np.int64)

    tx = ledger.transactions
    tx_client = _positions(client_ids, tx["client_id"].to_numpy(np.int64))
    if (tx_client < 0).any():
        raise DataError("a transaction belongs to a client that is not in the ledger")
    tx_ts = to_micros(tx["ts"])
    tx_kind = pd.Categorical(tx["kind"], categories=list(KINDS)).codes
    if (tx_kind < 0).any():
        raise DataError("a transaction has an unknown kind")
    tx_kind = tx_kind.astype(np.int8)
    amount = tx["amount"].to_numpy(np.float64)
    package_raw = _ids(tx["package_id"])
    tx_package = np.where(
        package_raw == NO_ID, NO_ID, np.searchsorted(package_ids, package_raw)
    ).astype(np.int32)

    tx_id = tx["id"].to_numpy(np.int64)
    if not _is_sorted(tx_client, tx_ts, tx_id):
        order = np.lexsort((tx_id, tx_ts, tx_client))
        tx_client, tx_ts, tx_kind, amount, tx_package = (
            a[order] for a in (tx_client, tx_ts, tx_kind, amount, tx_package)
        )

    delta = KIND_SIGN[tx_kind] * amount
    # Running balance per client: a cumulative sum restarted at each client's first row.
    first_of_client = np.ones(len(tx_client), dtype=bool)
    first_of_client[1:] = tx_client[1:] != tx_client[:-1]
    starts = np.flatnonzero(first_of_client)
    running = np.cumsum(delta)
    run_lengths = np.diff(np.append(starts, len(tx_client)))
    balance = running - np.repeat(running[starts] - delta[starts], run_lengths)

    amount_base = np.full(len(amount), np.nan)
    tx_currency = client_currency[tx_client] if len(tx_client) else np.zeros(0, np.int16)
    rate_times_t, rate_values_t = tuple(rate_times), tuple(rate_values)
    for code, currency in enumerate(currencies):
        pick = tx_currency == code
        if not pick.any():
            continue
        if currency == base_currency:
            amount_base[pick] = amount[pick]
        elif len(rate_times_t[code]):
            index = np.maximum(
                np.searchsorted(rate_times_t[code], tx_ts[pick], side="right") - 1, 0
            )
            amount_base[pick] = amount[pick] * rate_values_t[code][index]

    is_package = tx_package != NO_ID
    member = pd.DataFrame(
        {
            "client": tx_client[is_package],
            "package": tx_package[is_package],
            "ts": tx_ts[is_package],
        }
    )
    member = member.groupby(["client", "package"], sort=True)["ts"].min().reset_index()

    parent = ledger.companies["parent_id"]
    company_parent = {
        int(cid): (None if pd.isna(pid) else int(pid))
        for cid, pid in zip(ledger.companies["id"], parent, strict=True)
    }
    return PreparedLedger(
        base_currency=base_currency,
        currencies=currencies,
        rate_times=rate_times_t,
        rate_values=rate_values_t,
        client_ids=client_ids,
        client_type=np.array([type_code[t] for t in clients["client_type"]], dtype=np.int8),
        client_company=clients["company_id"].to_numpy(np.int64),
        client_owner=_ids(clients["owner_user_id"]),
        client_currency=client_currency,
        client_created=to_micros(clients["created_at"]),
        tags=tags,
        company_parent=company_parent,
        user_company={
            int(u): int(c)
            for u, c in zip(ledger.users["id"], ledger.users["company_id"], strict=True)
        },
        package_ids=package_ids,
        package_names=tuple(str(n) for n in packages["name"]),
        tx_client=tx_client,
        tx_ts=tx_ts,
        tx_kind=tx_kind,
        tx_package=tx_package,
        tx_paid=(tx_kind != REFILL) & (tx_kind != ADJUSTMENT) & (amount > 0),
        tx_balance=balance,
        tx_amount_base=amount_base,
        member_client=member["client"].to_numpy(np.int32),
        member_package=member["package"].to_numpy(np.int32),
        member_since=member["ts"].to_numpy(np.int64),
    )
