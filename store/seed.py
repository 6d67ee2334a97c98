"""Realistic demo data (``dynamics seed-demo``), generated with numpy and bulk-loaded.

The ledger covers the ``days`` whole days before ``today`` (UTC): [today − days, today).
Everything is drawn from one ``numpy`` generator seeded with ``seed``, so the same
(clients, days, seed, today, base currency) always gives the same rows.

What it holds:

- companies: the operator (id 1, "Operator") → resellers → sub-resellers, a few a level deeper;
- users of every role in several companies, with unusable passwords (``set-password`` gives
  one); the root company has an admin and managers, resellers a reseller and a manager user;
- clients of every type in several currencies, created over the whole period, each company
  with a home currency most of its clients use; a third of the clients churn (stop), a few
  never use the service at all;
- daily ``currency_rates`` for every currency but the base one (a random walk);
- tags; six packages, with an activation (free for one package) plus its initial renewal at
  the same instant, then a renewal every month until the client cancels or churns;
- pay-as-you-go charges (most days for busy clients, now and then for quiet ones; about one in
  fifty is zero), refills — prepaid clients top up just before a charge would take them below
  zero, postpaid ones run a negative balance and pay each month's bill some days after the
  month ends, some of them only partly — and a few signed adjustments.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from store.importer import LOAD_ORDER, BulkLoad
from store.models import KINDS, SOURCE_TABLES, Base
from store.users import UNUSABLE_PASSWORD

DAY = 86_400
# Approximate US dollars per unit at the start of the period, the daily volatility of the
# log rate and its drift per day.
CURRENCIES: dict[str, tuple[float, float, float]] = {
    "USD": (1.0, 0.0, 0.0),
    "EUR": (1.08, 0.004, 0.0),
    "GBP": (1.27, 0.0045, 0.0),
    "PLN": (0.25, 0.005, 0.0),
    "UAH": (0.027, 0.006, -0.0002),
}
CURRENCY_SHARES = {"USD": 0.45, "EUR": 0.2, "GBP": 0.1, "PLN": 0.12, "UAH": 0.13}
TYPE_SHARES = {"client": 0.68, "calling_card": 0.14, "call_shop": 0.10, "reseller": 0.08}
# Per client type: mean chance of a pay-as-you-go charge per day, mean charge in USD, share of
# prepaid clients, chance of subscribing to a package.
TYPE_BEHAVIOUR: dict[str, tuple[float, float, float, float]] = {
    "client": (0.22, 2.5, 0.75, 0.35),
    "calling_card": (0.12, 3.0, 1.0, 0.05),
    "call_shop": (0.8, 15.0, 0.8, 0.5),
    "reseller": (0.7, 40.0, 0.3, 0.2),
}
# name, monthly renewal fee in USD, activation fee in USD
PACKAGES = (
    ("Basic 100", 5.0, 0.0),
    ("Standard 500", 12.0, 5.0),
    ("Unlimited Local", 25.0, 10.0),
    ("International 200", 18.0, 5.0),
    ("Business Pro", 49.0, 20.0),
    ("Call Shop Bundle", 99.0, 30.0),
)
# Which package a subscriber of each type picks (weights over PACKAGES).
PACKAGE_CHOICE = {
    "client": (0.35, 0.3, 0.15, 0.15, 0.05, 0.0),
    "calling_card": (0.5, 0.3, 0.0, 0.2, 0.0, 0.0),
    "call_shop": (0.0, 0.1, 0.1, 0.1, 0.2, 0.5),
    "reseller": (0.0, 0.0, 0.2, 0.2, 0.6, 0.0),
}
TAGS = ("vip", "wholesale", "retail", "b2b", "b2c", "promo", "sms", "mobile", "fixed", "trial")
TAG_WEIGHTS = np.array([0.5, 0.6, 1.5, 1.0, 1.2, 0.8, 0.6, 1.0, 0.5, 0.4])
BRANDS = ("North", "Blue", "Swift", "Prime", "Nova", "Star", "Metro", "Alpha", "Orbit", "Vertex",
          "Delta", "Echo", "Polar", "Summit", "Coral", "Harbor", "Cedar", "Silver", "Red", "Green")
TRADES = ("Telecom", "VoIP", "Connect", "Networks", "Voice", "Communications", "Mobile", "Link",
          "Call", "Tel")
CITIES = ("Berlin", "Kyiv", "London", "Warsaw", "Madrid", "Lviv", "Paris", "Dallas", "Krakow",
          "Leeds")
NAME_PREFIX = {"client": "Customer", "calling_card": "Card", "call_shop": "Call shop",
               "reseller": "Sub-account"}

KIND_CODE = {kind: code for code, kind in enumerate(KINDS)}
REFILL, PAYG, ACTIVATION, RENEWAL, ADJUSTMENT = (KIND_CODE[k] for k in (
    "refill", "payg", "package_activation", "package_renewal", "adjustment"))


class SeedError(RuntimeError):
    """The demo data cannot be seeded as asked; the message says why."""


@dataclass(frozen=True)
class SeedOptions:
    clients: int = 2000
    days: int = 730
    seed: int = 1
    today: date | None = None  # None: today in UTC
    base_currency: str = "USD"


def _companies(rng: np.random.Generator, clients: int) -> pd.DataFrame:
    """The operator, its resellers and their sub-resellers, with each one's level."""
    resellers = int(np.clip(round(np.sqrt(clients) / 8), 3, 40))
    brand_names = [f"{b} {t}" for t in TRADES for b in BRANDS]
    picks = rng.permutation(len(brand_names))[:resellers]
    rows: list[tuple[int, str, int | None, int]] = [(1, "Operator", None, 0)]
    for number, pick in enumerate(picks):
        reseller_id = len(rows) + 1
        name = brand_names[pick]
        rows.append((reseller_id, name, 1, 1))
        # The first reseller always has sub-companies: the demo reseller login uses it.
        subs = 2 + int(rng.integers(0, 2)) if number == 0 else int(rng.integers(0, 4))
        for city in rng.permutation(len(CITIES))[:subs]:
            sub_id = len(rows) + 1
            sub_name = f"{name} {CITIES[city]}"
            rows.append((sub_id, sub_name, reseller_id, 2))
            if rng.random() < 0.35:
                rows.append((len(rows) + 1, f"{sub_name} Retail", sub_id, 3))
    return pd.DataFrame(rows, columns=["id", "name", "parent_id", "level"])


def _slug(name: str) -> str:
    return "-".join(name.lower().split())


def _users(companies: pd.DataFrame) -> pd.DataFrame:
    """Users of every role: admin and managers at the operator, reseller staff below."""
    rows: list[tuple[str, str, int]] = [
        ("operator.admin", "admin", 1),
        ("operator.manager1", "manager", 1),
        ("operator.manager2", "manager", 1),
    ]
    for company in companies.itertuples():
        if company.level == 0:
            continue
        slug = _slug(company.name)
        rows.append((f"{slug}.reseller", "reseller", company.id))
        if company.level == 1:
            rows.append((f"{slug}.manager", "manager", company.id))
            if company.id <= 3:
                rows.append((f"{slug}.admin", "admin", company.id))
    frame = pd.DataFrame(rows, columns=["login", "role", "company_id"])
    frame.insert(0, "id", np.arange(1, len(frame) + 1))
    frame["password_hash"] = UNUSABLE_PASSWORD
    frame["email"] = frame["login"] + "@example.com"
    return frame


def _rates(rng: np.random.Generator, days: int, base: str) -> tuple[np.ndarray, list[str]]:
    """Units of USD per unit of each currency for days 0..days (inclusive), as a matrix."""
    codes = list(CURRENCIES) + ([base] if base not in CURRENCIES else [])
    paths = np.empty((len(codes), days + 1))
    for row, code in enumerate(codes):
        start, volatility, drift = CURRENCIES.get(code, (1.0, 0.0, 0.0))
        steps = rng.normal(drift, volatility, days) if volatility else np.zeros(days)
        paths[row] = start * np.exp(np.concatenate([[0.0], np.cumsum(steps)]))
    return paths, codes


def _pick(rng: np.random.Generator, shares: dict[str, float], size: int) -> np.ndarray:
    weights = np.array(list(shares.values()))
    return rng.choice(len(shares), size=size, p=weights / weights.sum())


def _nice(amounts: np.ndarray) -> np.ndarray:
    """Round to two significant digits, as people pick top-up amounts (20, 45, 1,200)."""
    magnitude = 10.0 ** (np.floor(np.log10(np.maximum(amounts, 1e-9))) - 1)
    return np.maximum(np.round(amounts / magnitude) * magnitude, 1.0)


def _add_months(start: np.ndarray, months: np.ndarray) -> np.ndarray:
    """``start`` (datetime64[s]) plus whole months, the day clamped to the month's end."""
    day = start.astype("datetime64[D]")
    month = day.astype("datetime64[M]")
    day_of_month = (day - month.astype("datetime64[D]")).astype(np.int64)
    time_of_day = start - day.astype("datetime64[s]")
    target = month + months
    month_days = ((target + 1).astype("datetime64[D]") - target.astype("datetime64[D]")).astype(
        np.int64)
    landed = target.astype("datetime64[D]") + np.minimum(day_of_month, month_days - 1)
    return landed.astype("datetime64[s]") + time_of_day


def generate(options: SeedOptions) -> dict[str, pd.DataFrame]:
    """The demo data set: one frame per source table, columns named as the table's."""
    if options.clients < 1 or options.days < 1:
        raise SeedError("--clients and --days must be at least 1")
    today = options.today or pd.Timestamp.now(tz="UTC").date()
    rng = np.random.default_rng(options.seed)
    n, days = options.clients, options.days
    period_start = np.datetime64(today, "s") - np.timedelta64(days * DAY, "s")
    period_end = days * DAY  # seconds after period_start

    companies = _companies(rng, n)
    users = _users(companies)

    # -- currencies -----------------------------------------------------------------------
    usd_paths, codes = _rates(rng, days, options.base_currency)
    base_row = codes.index(options.base_currency)
    rate_rows = [row for row, code in enumerate(codes) if code != options.base_currency]
    rates = pd.DataFrame({
        "currency": np.repeat([codes[r] for r in rate_rows], days + 1),
        "valid_from": np.tile(period_start + np.arange(days + 1) * np.timedelta64(DAY, "s"),
                              len(rate_rows)),
        "rate": np.round(
            (usd_paths[rate_rows] / usd_paths[base_row]).ravel(), 8),
    })
    client_codes = [codes.index(c) for c in CURRENCY_SHARES]
    usd_per_unit = usd_paths[:, 0]

    # -- clients --------------------------------------------------------------------------
    company_ids = companies["id"].to_numpy()
    level_weight = np.array([0.0, 1.0, 0.5, 0.3])[companies["level"].to_numpy()]
    weights = rng.gamma(2.0, 1.0, len(companies)) * level_weight
    weights = np.concatenate([[0.3], 0.7 * weights[1:] / weights[1:].sum()])
    company_of = rng.choice(len(companies), size=n, p=weights)
    home = _pick(rng, CURRENCY_SHARES, len(companies))
    home[0] = 0  # the operator bills in USD
    currency_of = home[company_of]
    foreign = rng.random(n) < 0.2
    currency_of[foreign] = _pick(rng, CURRENCY_SHARES, int(foreign.sum()))
    currency_row = np.array(client_codes)[currency_of]  # row in usd_paths
    unit_usd = usd_per_unit[currency_row]

    type_names = list(TYPE_SHARES)
    type_of = _pick(rng, TYPE_SHARES, n)
    client_type = np.array(type_names, dtype=object)[type_of]
    behaviour = np.array([TYPE_BEHAVIOUR[t] for t in type_names])[type_of]

    early = rng.random(n) < 0.12  # the customer base the period starts with
    created_day = np.where(early, rng.integers(0, 7, n),
                           np.floor(days * rng.random(n) ** 0.85).astype(np.int64))
    created = created_day * DAY + rng.integers(8 * 3600, 20 * 3600, n)
    created = np.minimum(created, period_end - 3600)
    churns = rng.random(n) < 0.33
    churn_at = created + ((period_end - created) * rng.uniform(0.05, 1.0, n)).astype(np.int64)
    ends = np.where(churns, churn_at, period_end)
    never_used = rng.random(n) < 0.04

    owners = np.full(n, -1, dtype=np.int64)
    staff = users[users["role"].isin(["manager", "reseller"])]
    owned = rng.random(n) < 0.6
    for index, company_id in enumerate(company_ids):
        candidates = staff.loc[staff["company_id"] == company_id, "id"].to_numpy()
        members = np.flatnonzero((company_of == index) & owned)
        if len(candidates) and len(members):
            owners[members] = rng.choice(candidates, size=len(members))

    client_ids = np.arange(1, n + 1, dtype=np.int64)
    names = pd.Series(np.array([NAME_PREFIX[t] for t in type_names], dtype=object)[type_of])
    clients = pd.DataFrame({
        "id": client_ids,
        "name": (names + " " + pd.Series(client_ids).astype(str).str.zfill(6)).to_numpy(),
        "client_type": client_type,
        "company_id": company_ids[company_of],
        "owner_user_id": pd.arrays.IntegerArray(np.maximum(owners, 0), owners < 0),
        "currency": np.array(list(CURRENCY_SHARES), dtype=object)[currency_of],
        "created_at": period_start + created.astype("timedelta64[s]"),
    })

    # -- tags: 0–3 distinct tags per client (Gumbel top-k over the tag weights) ---------------
    keys = np.log(TAG_WEIGHTS) - np.log(-np.log(rng.random((n, len(TAGS)))))
    order = np.argsort(-keys, axis=1)[:, :3]
    counts = rng.choice(4, size=n, p=[0.4, 0.35, 0.18, 0.07])
    take = np.arange(3) < counts[:, None]
    tags = pd.DataFrame({
        "client_id": np.repeat(client_ids, counts),
        "tag": np.array(TAGS, dtype=object)[order[take]],
    })

    # -- pay-as-you-go ----------------------------------------------------------------------
    usable_span = np.maximum(ends - created - 3600, 0)
    mean_chance = behaviour[:, 0]
    chance = rng.beta(4 * mean_chance, 4 * (1 - mean_chance))
    chance[never_used] = 0.0
    charge_usd = behaviour[:, 1] * rng.lognormal(0.0, 0.7, n)
    payg_count = rng.binomial(usable_span // DAY, chance)
    payg_client = np.repeat(np.arange(n), payg_count)
    payg_t = created[payg_client] + 3600 + (
        rng.random(len(payg_client)) * usable_span[payg_client]).astype(np.int64)
    payg_amount = np.round(
        charge_usd[payg_client] * rng.lognormal(-0.125, 0.5, len(payg_client))
        / unit_usd[payg_client], 2)
    payg_amount[rng.random(len(payg_client)) < 0.02] = 0.0

    # -- packages ---------------------------------------------------------------------------
    package_types = np.array([PACKAGE_CHOICE[t] for t in type_names])
    subscribes = (rng.random(n) < behaviour[:, 3]) & ~never_used & (usable_span > DAY)
    subscriber = np.flatnonzero(subscribes)
    second = subscriber[rng.random(len(subscriber)) < 0.12]
    sub_client = np.concatenate([subscriber, second])
    cumulative = np.cumsum(package_types[type_of[sub_client]], axis=1)
    draw = rng.random(len(sub_client))[:, None] * cumulative[:, -1:]
    sub_package = (draw > cumulative).sum(axis=1)  # index into PACKAGES
    sub_start = created[sub_client] + 3600 + (
        rng.random(len(sub_client)) * 0.7 * usable_span[sub_client]).astype(np.int64)
    cancels = rng.random(len(sub_client)) < 0.5
    kept_months = rng.geometric(0.15, len(sub_client))
    sub_end = np.where(cancels, np.minimum(sub_start + kept_months * 2_630_000,
                                           ends[sub_client]), ends[sub_client])
    monthly_usd = np.array([p[1] for p in PACKAGES])[sub_package]
    activation_usd = np.array([p[2] for p in PACKAGES])[sub_package]
    renewal_fee = np.round(monthly_usd / unit_usd[sub_client], 2)
    max_months = (sub_end - sub_start) // (28 * DAY) + 1
    renewal_sub = np.repeat(np.arange(len(sub_client)), max_months)
    renewal_month = np.arange(len(renewal_sub)) - np.repeat(
        np.cumsum(max_months) - max_months, max_months)
    renewal_at = (_add_months(
        period_start + sub_start[renewal_sub].astype("timedelta64[s]"), renewal_month
    ) - period_start).astype(np.int64)
    renewing = renewal_at < sub_end[renewal_sub]
    renewal_sub, renewal_at = renewal_sub[renewing], renewal_at[renewing]
    # The initial renewal (month 0) falls at the activation instant, as SPEC §2 asks.

    spend_client = np.concatenate([payg_client, sub_client[renewal_sub], sub_client])
    spend_t = np.concatenate([payg_t, renewal_at, sub_start])
    spend_kind = np.concatenate([
        np.full(len(payg_client), PAYG, np.int8),
        np.full(len(renewal_sub), RENEWAL, np.int8),
        np.full(len(sub_client), ACTIVATION, np.int8),
    ])
    spend_amount = np.concatenate([
        payg_amount, renewal_fee[renewal_sub],
        np.round(activation_usd / unit_usd[sub_client], 2),
    ])
    spend_package = np.concatenate([
        np.full(len(payg_client), -1), sub_package[renewal_sub], sub_package,
    ]).astype(np.int16)

    # -- refills ----------------------------------------------------------------------------
    order = np.argsort(spend_client.astype(np.int64) << 32 | spend_t, kind="stable")
    by_client, by_t, by_amount = spend_client[order], spend_t[order], spend_amount[order]
    first_of_client = np.ones(len(by_client), dtype=bool)
    first_of_client[1:] = by_client[1:] != by_client[:-1]
    running = np.cumsum(by_amount)
    group_start = np.maximum.accumulate(np.where(first_of_client, np.arange(len(by_client)), 0))
    spent = running - (running[group_start] - by_amount[group_start])

    prepaid = rng.random(n) < behaviour[:, 2]
    monthly_spend_usd = charge_usd * chance * 30 + 10.0
    top_up = _nice(monthly_spend_usd * rng.uniform(0.5, 2.0, n) / unit_usd)
    # Prepaid: before any charge that would take the balance below zero, top up enough
    # multiples of the client's usual amount.
    is_prepaid = prepaid[by_client]
    needed = np.ceil(np.round(spent / top_up[by_client], 9))
    needed_before = np.where(first_of_client, 0.0, np.roll(needed, 1))
    topping = is_prepaid & (needed > needed_before)
    prepaid_client = by_client[topping]
    prepaid_t = np.maximum(by_t[topping] - rng.integers(30, 1800, int(topping.sum())),
                           created[prepaid_client])
    prepaid_amount = (needed - needed_before)[topping] * top_up[prepaid_client]
    # A few never-used prepaid clients paid once and never came back.
    idle = np.flatnonzero(never_used & prepaid & (rng.random(n) < 0.5))
    idle_t = np.minimum(created[idle] + 600, period_end - 1)

    # Postpaid: each calendar month's bill paid 3–25 days after the month ends, within 45 days
    # of leaving; one client in seven pays only part of it.
    post = ~is_prepaid
    month_of = (period_start + by_t[post].astype("timedelta64[s]")).astype("datetime64[M]")
    first_month = period_start.astype("datetime64[M]")
    month_index = (month_of - first_month).astype(np.int64)
    months = int(month_index.max()) + 1 if len(month_index) else 1
    bill_key = by_client[post].astype(np.int64) * months + month_index
    bill_keys, bill_of = np.unique(bill_key, return_inverse=True)
    bill_sums = np.bincount(bill_of, weights=by_amount[post])
    bill_client = bill_keys // months
    bill_due = ((first_month + (bill_keys % months) + 1).astype("datetime64[s]")
                - period_start).astype(np.int64)
    paid_share = np.where(rng.random(n) < 1 / 7, rng.uniform(0.5, 0.95, n), 1.0)
    bill_t = bill_due + rng.integers(3 * DAY, 25 * DAY, len(bill_keys))
    bill_amount = np.round(bill_sums * paid_share[bill_client], 2)
    paying = (bill_t < np.minimum(ends[bill_client] + 45 * DAY, period_end)) & (bill_amount > 0)

    # -- adjustments --------------------------------------------------------------------------
    adjusted = rng.choice(n, size=max(1, n // 25), replace=True)
    adjusted = adjusted[usable_span[adjusted] > 0]
    adjust_t = created[adjusted] + 3600 + (
        rng.random(len(adjusted)) * usable_span[adjusted]).astype(np.int64)
    adjust_sign = np.where(rng.random(len(adjusted)) < 0.4, -1.0, 1.0)
    adjust_amount = np.round(adjust_sign * rng.uniform(1.0, 50.0, len(adjusted))
                             / unit_usd[adjusted], 2)

    # -- all transactions, in time order --------------------------------------------------------
    refill_client = np.concatenate([prepaid_client, idle, bill_client[paying]])
    refill_t = np.concatenate([prepaid_t, idle_t, bill_t[paying]])
    refill_amount = np.concatenate([
        np.round(prepaid_amount, 2), top_up[idle], bill_amount[paying]])
    tx_client = np.concatenate([refill_client, spend_client, adjusted])
    tx_t = np.concatenate([refill_t, spend_t, adjust_t])
    tx_kind = np.concatenate([
        np.full(len(refill_client), REFILL, np.int8), spend_kind,
        np.full(len(adjusted), ADJUSTMENT, np.int8),
    ])
    tx_amount = np.concatenate([refill_amount, spend_amount, adjust_amount])
    tx_package = np.concatenate([
        np.full(len(refill_client), -1, np.int16), spend_package,
        np.full(len(adjusted), -1, np.int16),
    ])
    # Same instant: refill first, activation before its initial renewal (the kind order).
    order = np.argsort(tx_t * 8 + tx_kind, kind="stable")
    package_ids = tx_package[order].astype(np.int64) + 1
    transactions = pd.DataFrame({
        "id": np.arange(1, len(order) + 1, dtype=np.int64),
        "client_id": client_ids[tx_client[order]],
        "ts": period_start + tx_t[order].astype("timedelta64[s]"),
        "kind": pd.Categorical.from_codes(tx_kind[order], categories=list(KINDS)),
        "amount": tx_amount[order],
        "package_id": pd.arrays.IntegerArray(package_ids, package_ids == 0),
    })
    packages = pd.DataFrame({"id": np.arange(1, len(PACKAGES) + 1),
                             "name": [p[0] for p in PACKAGES]})
    return {
        "companies": companies[["id", "name", "parent_id"]].astype({"parent_id": "Int64"}),
        "users": users[["id", "login", "password_hash", "role", "company_id", "email"]],
        "packages": packages,
        "clients": clients,
        "client_tags": tags,
        "currency_rates": rates,
        "transactions": transactions,
    }


def _source_rows(load: BulkLoad) -> dict[str, int]:
    return {table: load.count(table) for table in SOURCE_TABLES}


def dependent_tables() -> tuple[str, ...]:
    """The app's own tables whose rows refer to source rows (saved queries → users), the
    referring ones first; ``--reset`` empties them along with the source tables."""
    found: list[str] = []
    targets = set(SOURCE_TABLES)
    for table in reversed(Base.metadata.sorted_tables):
        if table.name not in targets and any(
            key.column.table.name in targets for key in table.foreign_keys
        ):
            found.append(table.name)
    changed = True
    while changed:  # tables referring to those, and so on
        changed = False
        for table in reversed(Base.metadata.sorted_tables):
            if table.name not in targets and table.name not in found and any(
                key.column.table.name in found for key in table.foreign_keys
            ):
                found.insert(0, table.name)
                changed = True
    return tuple(found)


def seed_steps(engine: Engine, options: SeedOptions, *, reset: bool = False) -> Iterator[str]:
    """Generate and write the demo data in one transaction, yielding progress lines.

    Consume it to the end: the data is committed when the generator finishes. Raises
    SeedError, before writing anything, if the database holds source data and ``reset`` is
    false.
    """
    started = time.perf_counter()
    # The generator only makes rows that satisfy the keys and CHECKs (its tests verify it), so
    # SQLite need not check them row by row.
    with BulkLoad(engine, trusted=True) as load:
        present = {table: rows for table, rows in _source_rows(load).items() if rows}
        if present and not reset:
            held = ", ".join(f"{rows} {table}" for table, rows in present.items())
            raise SeedError(
                f"the database already holds data ({held}); seed-demo only fills an empty "
                "database (use --reset to delete the data first)"
            )
        if present:
            dependents = dependent_tables()
            dropped = {table: load.count(table) for table in dependents}
            load.delete_all(dependents + tuple(reversed(LOAD_ORDER)))
            extra = "".join(f", and {rows} rows of {table}" for table, rows in dropped.items()
                            if rows)
            yield f"deleted the existing data ({sum(present.values())} rows{extra})"
        yield (f"generating {options.clients} clients over {options.days} days "
               f"(seed {options.seed})…")
        generating = time.perf_counter()
        frames = generate(options)
        yield (f"generated {len(frames['transactions']):,} transactions in "
               f"{time.perf_counter() - generating:.1f} s; writing…")
        load.rebuild_after("transactions")
        for table in LOAD_ORDER:
            load.insert(table, frames[table])
        yield "building indexes…"
    summary = ", ".join(f"{len(frames[t]):,} {t}" for t in LOAD_ORDER)
    yield f"seeded {summary} in {time.perf_counter() - started:.1f} s"
