"""Ledgers for the engine tests: the micro example loader, a hand-built ledger helper and a
seeded random ledger / query generator.

Everything here builds plain pandas frames with the column names and dtypes the engine's
``Ledger`` takes (SPEC §2): naive UTC ``datetime64`` timestamps, float64 money, nullable ids as
float (NaN) or ``Int64``. ``LedgerFrames`` is our own container (same field names as
``metrics.engine.Ledger``) so that the reference implementation never depends on the engine;
``to_engine`` turns it into the engine's ``Ledger``.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd

from metrics.query import CLIENT_TYPES, ReportQuery

MICRO = Path(__file__).resolve().parent / "data" / "micro"

ZONES = ("UTC", "Europe/Kyiv", "Asia/Kolkata", "America/St_Johns", "Australia/Lord_Howe")
TAGS = ("vip", "wholesale", "test", "new")
PACKAGE_NAMES = (
    "Zeta",
    "Alpha",
    "Mid",
    "Basic",
    "Gold",
)  # ids in this order: id order != name order
SPAN_START = datetime(2023, 9, 1)
SPAN_END = datetime(2025, 7, 1)


@dataclass
class LedgerFrames:
    clients: pd.DataFrame
    tags: pd.DataFrame
    transactions: pd.DataFrame
    rates: pd.DataFrame
    companies: pd.DataFrame
    packages: pd.DataFrame
    users: pd.DataFrame

    def copy(self) -> LedgerFrames:
        return LedgerFrames(**{f.name: getattr(self, f.name).copy(deep=True) for f in fields(self)})


def to_engine(frames: LedgerFrames):
    """The engine's ``Ledger`` holding (copies of) these frames' objects."""
    from metrics.engine import Ledger

    return Ledger(**{f.name: getattr(frames, f.name) for f in fields(frames)})


# --------------------------------------------------------------------------- frame building


def _ids(values, nullable: str) -> pd.Series:
    """A nullable id column: float64 with NaN, or pandas ``Int64``."""
    values = [
        None if v is None or (isinstance(v, float) and math.isnan(v)) else int(v) for v in values
    ]
    if nullable == "Int64":
        return pd.Series(values, dtype="Int64")
    return pd.Series([float("nan") if v is None else float(v) for v in values], dtype="float64")


def _times(values, unit: str) -> pd.Series:
    parsed = [v if isinstance(v, datetime) else datetime.fromisoformat(str(v)) for v in values]
    return pd.Series(parsed, dtype=f"datetime64[{unit}]")


def make_frames(
    *,
    clients,
    transactions=(),
    rates=(),
    companies=((1, "Op", None),),
    packages=((1, "P1"), (2, "P2")),
    users=((1, "admin", 1),),
    tags=(),
    nullable: str = "float",
    unit: str = "us",
) -> LedgerFrames:
    """Frames from tuples.

    clients: (id, client_type, company_id, owner_user_id|None, currency, created_at)
    transactions: (client_id, ts, kind, amount, package_id|None) — ids are 1, 2, … in order —
    or (id, client_id, ts, kind, amount, package_id|None)
    rates: (currency, valid_from, rate); companies: (id, name, parent_id|None);
    packages: (id, name); users: (id, login, company_id); tags: (client_id, tag).
    Times are datetimes or ISO strings, naive UTC.
    """
    clients = list(clients)
    txs = [t if len(t) == 6 else (i + 1, *t) for i, t in enumerate(transactions)]
    rates = list(rates)
    companies = list(companies)
    packages = list(packages)
    users = list(users)
    tags = list(tags)
    return LedgerFrames(
        clients=pd.DataFrame(
            {
                "id": pd.Series([c[0] for c in clients], dtype="int64"),
                "client_type": pd.Series([c[1] for c in clients], dtype="str"),
                "company_id": pd.Series([c[2] for c in clients], dtype="int64"),
                "owner_user_id": _ids([c[3] for c in clients], nullable),
                "currency": pd.Series([c[4] for c in clients], dtype="str"),
                "created_at": _times([c[5] for c in clients], unit),
            }
        ),
        tags=pd.DataFrame(
            {
                "client_id": pd.Series([t[0] for t in tags], dtype="int64"),
                "tag": pd.Series([t[1] for t in tags], dtype="str"),
            }
        ),
        transactions=pd.DataFrame(
            {
                "id": pd.Series([t[0] for t in txs], dtype="int64"),
                "client_id": pd.Series([t[1] for t in txs], dtype="int64"),
                "ts": _times([t[2] for t in txs], unit),
                "kind": pd.Series([t[3] for t in txs], dtype="str"),
                "amount": pd.Series([float(t[4]) for t in txs], dtype="float64"),
                "package_id": _ids([t[5] for t in txs], nullable),
            }
        ),
        rates=pd.DataFrame(
            {
                "currency": pd.Series([r[0] for r in rates], dtype="str"),
                "valid_from": _times([r[1] for r in rates], unit),
                "rate": pd.Series([float(r[2]) for r in rates], dtype="float64"),
            }
        ),
        companies=pd.DataFrame(
            {
                "id": pd.Series([c[0] for c in companies], dtype="int64"),
                "name": pd.Series([c[1] for c in companies], dtype="str"),
                "parent_id": _ids([c[2] for c in companies], nullable),
            }
        ),
        packages=pd.DataFrame(
            {
                "id": pd.Series([p[0] for p in packages], dtype="int64"),
                "name": pd.Series([p[1] for p in packages], dtype="str"),
            }
        ),
        users=pd.DataFrame(
            {
                "id": pd.Series([u[0] for u in users], dtype="int64"),
                "login": pd.Series([u[1] for u in users], dtype="str"),
                "company_id": pd.Series([u[2] for u in users], dtype="int64"),
            }
        ),
    )


# --------------------------------------------------------------------------- micro example


def load_micro(directory: Path = MICRO, nullable: str = "float", unit: str = "us") -> LedgerFrames:
    """The micro example's CSVs (SPEC §5 import format) as ledger frames."""

    def read(name: str) -> pd.DataFrame:
        return pd.read_csv(directory / name, dtype=str, keep_default_na=False)

    def opt(v: str):
        return None if v == "" else int(v)

    clients = read("clients.csv")
    txs = read("transactions.csv")
    rates = read("currency_rates.csv")
    companies = read("companies.csv")
    packages = read("packages.csv")
    users = read("users.csv")
    tags = read("client_tags.csv")
    return make_frames(
        clients=[
            (
                int(r.id),
                r.client_type,
                int(r.company_id),
                opt(r.owner_user_id),
                r.currency,
                r.created_at,
            )
            for r in clients.itertuples()
        ],
        transactions=[
            (int(r.id), int(r.client_id), r.ts, r.kind, float(r.amount), opt(r.package_id))
            for r in txs.itertuples()
        ],
        rates=[(r.currency, r.valid_from, float(r.rate)) for r in rates.itertuples()],
        companies=[(int(r.id), r.name, opt(r.parent_id)) for r in companies.itertuples()],
        packages=[(int(r.id), r.name) for r in packages.itertuples()],
        users=[(int(r.id), r.login, int(r.company_id)) for r in users.itertuples()],
        tags=[(int(r.client_id), r.tag) for r in tags.itertuples()],
        nullable=nullable,
        unit=unit,
    )


def read_expected(name: str, directory: Path = MICRO) -> pd.DataFrame:
    """An expected report CSV: labels as text, empty cells as NaN."""
    return pd.read_csv(directory / name, dtype={"Period": str, "Package": str})


# --------------------------------------------------------------------------- random ledgers


def _local_to_utc(local: datetime, zone: str) -> datetime:
    return local.replace(tzinfo=ZoneInfo(zone), fold=0).astimezone(UTC).replace(tzinfo=None)


def _utc_to_local(utc: datetime, zone: str) -> datetime:
    return utc.replace(tzinfo=UTC).astimezone(ZoneInfo(zone)).replace(tzinfo=None)


def _random_instant(rng: random.Random, lo: datetime, hi: datetime) -> datetime:
    """A UTC instant in [lo, hi]: mostly uniform (whole seconds), often a calendar boundary
    (local midnight / first of a month in one of the test zones) so that transactions sit
    exactly on bucket ends."""
    span = max(int((hi - lo).total_seconds()), 1)
    t = lo + timedelta(seconds=rng.randrange(span))
    roll = rng.random()
    if roll < 0.25:
        zone = rng.choice(ZONES)
        local = _utc_to_local(t, zone).replace(hour=0, minute=0, second=0)
        if roll < 0.08:
            local = local.replace(day=1)
        b = _local_to_utc(local, zone)
        if lo <= b <= hi:
            return b
    elif roll < 0.32:
        return t.replace(second=0)
    elif roll < 0.40:
        # near a DST change of one of the zones (inside the hour a gap/fold wall time spans)
        zone = rng.choice(ZONES[1:2] + ZONES[3:])
        instant, _, _ = rng.choice(_transitions(zone))
        b = instant + timedelta(minutes=rng.randrange(-30, 90))
        if lo <= b <= hi:
            return b
    return t


def _amount(rng: random.Random, zero_p: float, top: float = 200.0) -> float:
    if rng.random() < zero_p:
        return 0.0
    return round(rng.uniform(0.01, top), rng.choice((0, 2, 4)))


def random_ledger(seed: int) -> LedgerFrames:
    """A small random ledger (3–30 clients, 3-level company tree, 2–3 currencies, packages,
    every kind of transaction incl. zero amounts and boundary instants)."""
    rng = random.Random(seed)
    nullable = "Int64" if seed % 3 == 1 else "float"
    unit = ("us", "ns", "s")[seed % 3]

    companies = [(1, "Op", None)]
    next_id = 2
    level1 = []
    for _ in range(rng.randint(2, 3)):
        companies.append((next_id, f"R{next_id}", 1))
        level1.append(next_id)
        next_id += 1
    for parent in level1:
        for _ in range(rng.randint(0, 2)):
            companies.append((next_id, f"R{parent}-{next_id}", parent))
            next_id += 1
    company_ids = [c[0] for c in companies]

    users = [(i, f"u{i}", rng.choice(company_ids)) for i in range(1, rng.randint(2, 4) + 1)]

    currencies = ["USD", *rng.sample(["EUR", "GBP", "UAH"], rng.randint(1, 2))]
    base_rate = {"EUR": 1.1, "GBP": 1.3, "UAH": 0.025}
    rates = []
    for cur in currencies[1:]:
        n = rng.randint(1, 4)
        # half the currencies get their first rate only after many transactions (earliest-rate
        # fallback); the others may have one before the data starts
        lo = datetime(2024, 3, 1) if rng.random() < 0.5 else SPAN_START - timedelta(days=60)
        starts = set()
        while len(starts) < n:
            starts.add(_random_instant(rng, lo, SPAN_END))
        for vf in sorted(starts):
            rates.append((cur, vf, round(base_rate[cur] * rng.uniform(0.7, 1.3), 8)))

    n_packages = rng.randint(3, 5)
    packages = [(i + 1, PACKAGE_NAMES[i]) for i in range(n_packages)]
    package_ids = [p[0] for p in packages]

    n_clients = rng.randint(3, 30)
    client_ids = rng.sample(range(1, 200), n_clients)
    clients = []
    tags = []
    txs = []
    for cid in client_ids:
        created = _random_instant(
            rng, SPAN_START - timedelta(days=200), SPAN_END - timedelta(days=20)
        )
        owner = rng.choice(users)[0] if rng.random() < 0.6 else None
        clients.append(
            (
                cid,
                rng.choice(CLIENT_TYPES),
                rng.choice(company_ids),
                owner,
                rng.choice(currencies),
                created,
            )
        )
        for tag in rng.sample(TAGS, rng.choice((0, 0, 1, 1, 2))):
            tags.append((cid, tag))
        active_packages: list[int] = []
        for _ in range(rng.choice((0, 1, 3, 6, 10, 15, 25))):
            roll = rng.random()
            if roll < 0.03:
                ts = created
            elif roll < 0.06 and rates:
                # exactly at a rate change (valid_from <= t applies from that instant)
                ts = max(created, rng.choice(rates)[1])
            else:
                ts = _random_instant(rng, created, SPAN_END)
            kind = rng.choices(
                ("refill", "payg", "package_activation", "package_renewal", "adjustment"),
                weights=(30, 30, 12, 15, 8),
            )[0]
            if kind == "refill":
                txs.append([cid, ts, "refill", _amount(rng, 0.1, 300), None])
            elif kind == "payg":
                txs.append([cid, ts, "payg", _amount(rng, 0.15, 80), None])
            elif kind == "adjustment":
                txs.append(
                    [cid, ts, "adjustment", rng.choice((-1, 1)) * _amount(rng, 0.1, 50), None]
                )
            elif kind == "package_activation":
                pkg = rng.choice(package_ids)
                active_packages.append(pkg)
                txs.append([cid, ts, "package_activation", _amount(rng, 0.1, 30), pkg])
                txs.append(
                    [cid, ts, "package_renewal", _amount(rng, 0.1, 20), pkg]
                )  # initial renewal
            else:
                # usually a package the client activated; sometimes a stray renewal (data allows it)
                pkg = (
                    rng.choice(active_packages)
                    if active_packages and rng.random() < 0.85
                    else rng.choice(package_ids)
                )
                txs.append([cid, ts, "package_renewal", _amount(rng, 0.1, 20), pkg])
    rng.shuffle(txs)
    ids = rng.sample(range(1, 10 * len(txs) + 10), len(txs))
    transactions = [(ids[i], *t) for i, t in enumerate(txs)]
    return make_frames(
        clients=clients,
        transactions=transactions,
        rates=rates,
        companies=companies,
        packages=packages,
        users=users,
        tags=tags,
        nullable=nullable,
        unit=unit,
    )


def company_descendants(frames: LedgerFrames, company_id: int) -> list[int]:
    parent = {
        int(r.id): (None if pd.isna(r.parent_id) else int(r.parent_id))
        for r in frames.companies.itertuples()
    }
    out = []
    for cid in parent:
        c, seen = cid, set()
        while c is not None and c not in seen:
            if c == company_id:
                out.append(cid)
                break
            seen.add(c)
            c = parent.get(c)
    return sorted(out)


@cache
def _transitions(zone: str) -> tuple[tuple[datetime, timedelta, timedelta], ...]:
    """(UTC instant, offset before, offset after) of the zone's offset changes in the span."""
    tz = ZoneInfo(zone)

    def offset(utc: datetime) -> timedelta:
        return utc.replace(tzinfo=UTC).astimezone(tz).utcoffset()

    out = []
    t = SPAN_START - timedelta(days=60)
    prev = offset(t)
    while t < SPAN_END + timedelta(days=60):
        nxt = t + timedelta(hours=1)
        if offset(nxt) != prev:
            m = t
            while offset(m) == prev:
                m += timedelta(minutes=1)
            out.append((m, prev, offset(m)))
            prev = offset(m)
        t = nxt
    return tuple(out)


def _random_local(rng: random.Random, frames: LedgerFrames, zone: str) -> datetime:
    """A local interval endpoint: a midnight, the local time of a transaction (so a transaction
    sits exactly on the interval start/end), a wall time inside a DST gap or fold, or an
    arbitrary minute."""
    roll = rng.random()
    if roll < 0.08 and _transitions(zone):
        instant, before, after = rng.choice(_transitions(zone))
        width = abs(int((after - before).total_seconds() // 60))
        return (instant + min(before, after) + timedelta(minutes=rng.randrange(width))).replace(
            second=0
        )
    if roll < 0.2 and len(frames.transactions):
        ts = pd.Timestamp(
            frames.transactions["ts"].iloc[rng.randrange(len(frames.transactions))]
        ).to_pydatetime()
        local = _utc_to_local(ts, zone).replace(microsecond=0)
        if local.second == 0:
            return local
    t = (
        SPAN_START
        - timedelta(days=30)
        + timedelta(minutes=rng.randrange(int((SPAN_END - SPAN_START).days + 60) * 1440))
    )
    if roll < 0.65:
        return t.replace(hour=0, minute=0)
    if roll < 0.75:
        return t.replace(day=1, hour=0, minute=0)
    return t


def random_queries(
    frames: LedgerFrames, seed: int, n: int = 5
) -> list[tuple[ReportQuery, int | None]]:
    """(query, scope company id) pairs over ``frames``."""
    rng = random.Random(seed * 7919 + 17)
    currencies = sorted(set(frames.clients["currency"]) | set(frames.rates["currency"]) | {"USD"})
    company_ids = [int(c) for c in frames.companies["id"]]
    users = [(int(u), int(c)) for u, c in zip(frames.users["id"], frames.users["company_id"], strict=False)]
    package_ids = [int(p) for p in frames.packages["id"]]
    out = []
    for i in range(n):
        zone = ZONES[(seed + i) % len(ZONES)] if rng.random() < 0.6 else rng.choice(ZONES)
        grain = rng.choice((None, "year", "month", "month", "date", "date"))
        start = _random_local(rng, frames, zone)
        if grain == "date":
            length = timedelta(minutes=rng.randrange(60, 75 * 1440))
        elif grain == "month":
            length = timedelta(minutes=rng.randrange(20 * 1440, 600 * 1440))
        elif grain == "year":
            length = timedelta(minutes=rng.randrange(100 * 1440, 900 * 1440))
        else:
            length = timedelta(minutes=rng.randrange(60, 700 * 1440))
        end = start + length
        if rng.random() < 0.5:
            end = end.replace(hour=0, minute=0)
            if grain in ("month", "year") and rng.random() < 0.5:
                end = end.replace(day=1)
        if end <= start:
            end = start + timedelta(days=1)
        scope = None if rng.random() < 0.5 else rng.choice(company_ids)
        in_scope = company_descendants(frames, scope) if scope is not None else company_ids

        def maybe(p, values, k_max):
            if not values or rng.random() >= p:
                return ()
            return tuple(rng.sample(values, rng.randint(1, min(k_max, len(values)))))

        query = ReportQuery(
            start=start,
            end=end,
            tz=zone,
            time_grain=grain,
            by_package=rng.random() < 0.4,
            currency=rng.choice((None, *currencies)),
            active_months=rng.randint(1, 13) if rng.random() < 0.9 else rng.randint(14, 120),
            client_types=maybe(0.2, list(CLIENT_TYPES), 2),
            tags=maybe(0.2, [*TAGS, "nobody"], 2),
            company_ids=maybe(0.2, in_scope, 2),
            # owners from the scope's users (the engine may reject a user outside the scope)
            owner_ids=maybe(0.2, [u for u, c in users if c in in_scope], 2),
            package_ids=maybe(0.25, package_ids, 2),
        )
        out.append((query, scope))
    return out
