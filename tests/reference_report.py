"""A deliberately simple, literal implementation of the SPEC §3 report, for the tests only.

It follows the SPEC text, one definition at a time, with plain Python loops over the ledger's
rows; it is slow and that is fine. It must never import or imitate ``metrics.engine``: its
value is that it is written independently from the SPEC, so the tests can compare the two.

Inputs are the ledger frames of SPEC §2 (any object with ``clients``, ``tags``,
``transactions``, ``rates``, ``companies``, ``packages``, ``users`` attributes, e.g.
``tests.ledgers.LedgerFrames``) and a ``metrics.query.ReportQuery``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
from dateutil.relativedelta import relativedelta

from metrics.columns import report_columns
from metrics.errors import ReportError
from metrics.query import ReportQuery

PAID_KINDS = ("payg", "package_activation", "package_renewal")
ADD_KINDS = ("refill", "adjustment")  # + amount
SUB_KINDS = ("payg", "package_activation", "package_renewal")  # − amount


# --------------------------------------------------------------------------- plain records


@dataclass(frozen=True)
class Client:
    id: int
    client_type: str
    company_id: int
    owner_user_id: int | None
    currency: str
    created_at: datetime


@dataclass(frozen=True)
class Tx:
    id: int
    client_id: int
    ts: datetime
    kind: str
    amount: float
    package_id: int | None


def _opt_int(value) -> int | None:
    if value is None or value is pd.NA:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    return int(value)


def _py_time(value) -> datetime:
    ts = pd.Timestamp(value)
    return ts.to_pydatetime()


def _clients(ledger) -> list[Client]:
    return [
        Client(
            id=int(r["id"]),
            client_type=str(r["client_type"]),
            company_id=int(r["company_id"]),
            owner_user_id=_opt_int(r["owner_user_id"]),
            currency=str(r["currency"]),
            created_at=_py_time(r["created_at"]),
        )
        for r in ledger.clients.to_dict("records")
    ]


def _txs(ledger) -> list[Tx]:
    return [
        Tx(
            id=int(r["id"]),
            client_id=int(r["client_id"]),
            ts=_py_time(r["ts"]),
            kind=str(r["kind"]),
            amount=float(r["amount"]),
            package_id=_opt_int(r["package_id"]),
        )
        for r in ledger.transactions.to_dict("records")
    ]


# --------------------------------------------------------------------------- SPEC §2 notions


def effect(tx: Tx) -> float:
    """Balance effect of a transaction (SPEC §2 table)."""
    if tx.kind in ADD_KINDS:
        return tx.amount
    if tx.kind in SUB_KINDS:
        return -tx.amount
    return 0.0


def is_paid_service(tx: Tx) -> bool:
    return tx.kind in PAID_KINDS and tx.amount > 0


class Rates:
    """rate(X, t): the row of X with the greatest valid_from ≤ t, else X's earliest row; the
    base currency is 1 at all times; a needed currency without any row is an error."""

    def __init__(self, ledger, base_currency: str) -> None:
        self.base = base_currency
        self.rows: dict[str, list[tuple[datetime, float]]] = {}
        for r in ledger.rates.to_dict("records"):
            self.rows.setdefault(str(r["currency"]), []).append(
                (_py_time(r["valid_from"]), float(r["rate"]))
            )
        for rows in self.rows.values():
            rows.sort()

    def rate(self, currency: str, t: datetime) -> float:
        if currency == self.base:
            return 1.0
        rows = self.rows.get(currency)
        if not rows:
            raise ReportError(f"no exchange rate for currency {currency}")
        best = None
        for valid_from, value in rows:
            if valid_from <= t:
                best = value  # rows are sorted: the last one ≤ t wins
        return rows[0][1] if best is None else best

    def convert(self, amount: float, currency: str, report_currency: str, t: datetime) -> float:
        """a × rate(X, t) / rate(R, t)."""
        return amount * self.rate(currency, t) / self.rate(report_currency, t)


def to_utc(local: datetime, zone: ZoneInfo) -> datetime:
    """A naive local date-time (fold=0) as a naive UTC datetime."""
    return local.replace(tzinfo=zone, fold=0).astimezone(UTC).replace(tzinfo=None)


def to_local(utc: datetime, zone: ZoneInfo) -> datetime:
    return utc.replace(tzinfo=UTC).astimezone(zone).replace(tzinfo=None)


def scope_companies(ledger, root: int) -> set[int]:
    """``root`` and every company that has it as an ancestor (via parent_id)."""
    parent = {int(r["id"]): _opt_int(r["parent_id"]) for r in ledger.companies.to_dict("records")}
    out = set()
    for company in parent:
        c, seen = company, set()
        while c is not None and c not in seen:
            if c == root:
                out.add(company)
                break
            seen.add(c)
            c = parent.get(c)
    return out


# --------------------------------------------------------------------------- SPEC §3


def buckets(query: ReportQuery) -> list[tuple[str, datetime, datetime]]:
    """(label, S, E) with S, E naive local: calendar units intersecting the interval, clipped."""
    start, end = query.start, query.end
    grain = query.time_grain
    if grain is None:
        return [(f"{start:%Y-%m-%dT%H:%M}/{end:%Y-%m-%dT%H:%M}", start, end)]
    out = []
    if grain == "year":
        unit_start = datetime(start.year, 1, 1)
    elif grain == "month":
        unit_start = datetime(start.year, start.month, 1)
    else:
        unit_start = datetime(start.year, start.month, start.day)
    while unit_start < end:
        if grain == "year":
            unit_end = datetime(unit_start.year + 1, 1, 1)
            label = f"{unit_start:%Y}"
        elif grain == "month":
            unit_end = unit_start + relativedelta(months=1)
            label = f"{unit_start:%Y-%m}"
        else:
            unit_end = unit_start + timedelta(days=1)
            label = f"{unit_start:%Y-%m-%d}"
        out.append((label, max(unit_start, start), min(unit_end, end)))
        unit_start = unit_end
    return out


def _base_filtered_clients(
    ledger, clients: list[Client], query: ReportQuery, scope_company_id
) -> list[Client]:
    """Clients in scope matching the type / tag / company / owner filters (no time condition)."""
    tags_of: dict[int, set[str]] = {}
    for r in ledger.tags.to_dict("records"):
        tags_of.setdefault(int(r["client_id"]), set()).add(str(r["tag"]))
    scope = scope_companies(ledger, scope_company_id) if scope_company_id is not None else None
    company_filter = None
    if query.company_ids:
        company_filter = set()
        for company in query.company_ids:
            company_filter |= scope_companies(ledger, company)
    out = []
    for c in clients:
        if scope is not None and c.company_id not in scope:
            continue
        if query.client_types and c.client_type not in query.client_types:
            continue
        if query.tags and not (tags_of.get(c.id, set()) & set(query.tags)):
            continue
        if company_filter is not None and c.company_id not in company_filter:
            continue
        if query.owner_ids and c.owner_user_id not in query.owner_ids:
            continue
        out.append(c)
    return out


def is_member(client: Client, package_id: int, t: datetime, txs_of: dict[int, list[Tx]]) -> bool:
    """c has a package_activation or package_renewal of p with ts < t."""
    for tx in txs_of.get(client.id, []):
        if (
            tx.kind in ("package_activation", "package_renewal")
            and tx.package_id == package_id
            and tx.ts < t
        ):
            return True
    return False


def reference_data_interval(ledger, query: ReportQuery, scope_company_id: int | None = None):
    """(first, last) ts (local, naive) of the transactions of the clients in scope and filters
    (type / tag / company / owner) inside the interval; None without any."""
    zone = ZoneInfo(query.tz)
    start_utc, end_utc = to_utc(query.start, zone), to_utc(query.end, zone)
    ids = {c.id for c in _base_filtered_clients(ledger, _clients(ledger), query, scope_company_id)}
    times = [tx.ts for tx in _txs(ledger) if tx.client_id in ids and start_utc <= tx.ts < end_utc]
    if not times:
        return None
    return to_local(min(times), zone), to_local(max(times), zone)


def reference_report(
    ledger, query: ReportQuery, base_currency: str = "USD", scope_company_id: int | None = None
) -> pd.DataFrame:
    zone = ZoneInfo(query.tz)
    report_currency = query.currency or base_currency
    rates = Rates(ledger, base_currency)
    rates.rate(report_currency, datetime(2000, 1, 1))  # the report currency is always needed

    clients = _clients(ledger)
    txs = _txs(ledger)
    txs_of: dict[int, list[Tx]] = {}
    for tx in txs:
        txs_of.setdefault(tx.client_id, []).append(tx)
    package_name = {int(r["id"]): str(r["name"]) for r in ledger.packages.to_dict("records")}

    filtered = _base_filtered_clients(ledger, clients, query, scope_company_id)
    interval_end_utc = to_utc(query.end, zone)

    # Package rows.
    if query.by_package:
        if query.package_ids:
            row_packages = list(query.package_ids)
        else:
            row_packages = [
                p
                for p in package_name
                if any(
                    c.created_at < interval_end_utc and is_member(c, p, interval_end_utc, txs_of)
                    for c in filtered
                )
            ]
        row_packages.sort(key=lambda p: package_name[p])
        row_keys = [(p,) for p in row_packages]
    else:
        row_keys = [()]

    rows = []
    for label, s_local, e_local in buckets(query):
        s = to_utc(s_local, zone)
        e = to_utc(e_local, zone)
        a = to_utc(e_local - relativedelta(months=query.active_months), zone)
        for key in row_keys:
            # Population at E.
            if key:
                allowed_packages = [key[0]]
            elif query.package_ids:
                allowed_packages = list(query.package_ids)
            else:
                allowed_packages = None
            population = []
            for c in filtered:
                if not c.created_at < e:
                    continue
                if allowed_packages is not None and not any(
                    is_member(c, p, e, txs_of) for p in allowed_packages
                ):
                    continue
                population.append(c)

            row: dict[str, object] = {"Period": label}
            if query.by_package:
                row["Package"] = package_name[key[0]]

            balance = {}
            active, overall = [], []
            for c in population:
                native = sum(effect(tx) for tx in txs_of.get(c.id, []) if tx.ts < e)
                balance[c.id] = rates.convert(native, c.currency, report_currency, e)
                if any(is_paid_service(tx) and a <= tx.ts < e for tx in txs_of.get(c.id, [])):
                    active.append(c)
                if any(is_paid_service(tx) and tx.ts < e for tx in txs_of.get(c.id, [])):
                    overall.append(c)

            for group, members in (
                ("Clients - Active", active),
                ("Clients - Overall Active", overall),
                ("Clients - All", population),
            ):
                row[f"{group}: Qty"] = len(members)
                row[f"{group}: Balance Pos"] = sum((max(balance[c.id], 0.0) for c in members), 0.0)
                row[f"{group}: Balance Neg"] = sum((min(balance[c.id], 0.0) for c in members), 0.0)
                row[f"{group}: Balance"] = sum((balance[c.id] for c in members), 0.0)

            currency_of = {c.id: c.currency for c in population}
            flows = [tx for tx in txs if tx.client_id in currency_of and s <= tx.ts < e]

            def converted(tx: Tx, currency_of=currency_of) -> float:
                return rates.convert(tx.amount, currency_of[tx.client_id], report_currency, tx.ts)

            refills = [tx for tx in flows if tx.kind == "refill"]
            row["Balance Refill: Qty"] = len(refills)
            row["Balance Refill: Total"] = sum((converted(tx) for tx in refills), 0.0)
            row["Balance Refill: Avg"] = (
                row["Balance Refill: Total"] / len(refills) if refills else float("nan")
            )
            payg = [tx for tx in flows if tx.kind == "payg"]
            row["Pay As You Go: Total"] = sum((converted(tx) for tx in payg), 0.0)
            row["Pay As You Go: Active Avg"] = (
                row["Pay As You Go: Total"] / len(active) if active else float("nan")
            )
            for kind, leaf in (("package_activation", "Activation"), ("package_renewal", "Renew")):
                chosen = [
                    tx
                    for tx in flows
                    if tx.kind == kind
                    and (allowed_packages is None or tx.package_id in allowed_packages)
                ]
                row[f"Packages: {leaf} Qty"] = len(chosen)
                row[f"Packages: {leaf} Total"] = sum((converted(tx) for tx in chosen), 0.0)
            rows.append(row)

    columns = report_columns(query.by_package)
    frame = pd.DataFrame(rows, columns=columns)
    for col in columns:
        if col in ("Period", "Package"):
            frame[col] = frame[col].astype("str")
        elif col.endswith("Qty"):
            frame[col] = frame[col].astype("int64")
        else:
            frame[col] = frame[col].astype("float64")
    return frame.reset_index(drop=True)
