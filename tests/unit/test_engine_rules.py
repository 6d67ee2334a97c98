"""One small hand-computed case per SPEC §2/§3 rule of the report engine.

Every expected value is worked out by hand in the test (the arithmetic is in the comments);
nothing here calls the reference implementation.
"""

from __future__ import annotations

import math
from datetime import datetime

import pandas as pd
import pytest

from metrics.columns import COUNT_COLUMNS, MONEY_COLUMNS, report_columns
from metrics.errors import ReportError
from metrics.query import ReportQuery
from tests.ledgers import load_micro, make_frames, to_engine

ACT, REN = "package_activation", "package_renewal"


def t(text: str) -> datetime:
    return datetime.fromisoformat(text)


def Q(start: str, end: str, **kw) -> ReportQuery:
    return ReportQuery(start=t(start), end=t(end), **kw)


def C(cid, created="2025-01-01", type_="client", company=1, owner=None, currency="USD"):
    return (cid, type_, company, owner, currency, created)


def run(frames, query, scope=None, base="USD"):
    from metrics.engine import build_report, prepare_ledger

    return build_report(
        prepare_ledger(to_engine(frames), base_currency=base), query, scope_company_id=scope
    )


def col(report, name):
    return list(report.frame[name])


def nan(value) -> bool:
    return isinstance(value, float) and math.isnan(value)


def approx(values):
    return pytest.approx(values, abs=1e-9)


USD_EUR_RATES = (("EUR", "2025-01-01", 1.1), ("EUR", "2025-02-01", 1.2))

# A 4-level company tree: 1 Op ← 2 R1 ← 4 R1a ← 5 R1a-x ; 1 Op ← 3 R2
TREE = ((1, "Op", None), (2, "R1", 1), (3, "R2", 1), (4, "R1a", 2), (5, "R1a-x", 4))
USERS = ((1, "u1", 1), (2, "u2", 2), (3, "u3", 4))


def tree_frames():
    """Five clients, one per company, each with one refill of a distinct power of two, so a
    refill total names exactly which clients are in the population."""
    return make_frames(
        clients=[
            C(1, type_="client", company=1, owner=1),
            C(2, type_="reseller", company=2, owner=2),
            C(3, type_="calling_card", company=3, owner=None),
            C(4, type_="call_shop", company=4, owner=2),
            C(5, type_="client", company=5, owner=3),
        ],
        transactions=[(cid, "2025-01-10", "refill", 2 ** (cid - 1), None) for cid in range(1, 6)],
        companies=TREE,
        users=USERS,
        tags=[(1, "vip"), (2, "vip"), (2, "test"), (3, "test"), (5, "new")],
    )


def refill_total(frames, scope=None, **kw):
    report = run(frames, Q("2025-01-01", "2025-02-01", **kw), scope=scope)
    (total,) = col(report, "Balance Refill: Total")
    (qty,) = col(report, "Clients - All: Qty")
    return qty, total


# --------------------------------------------------------------------------- buckets


def test_eng010_buckets_dst_spring_day_has_23_hours():
    """Buckets are calendar days in the zone: Kyiv 2025-03-30 (03:00→04:00) is
    [03-29 22:00Z, 03-30 21:00Z), 23 hours."""
    frames = make_frames(
        clients=[C(1, created="2025-01-01")],
        transactions=[
            (1, "2025-03-29 21:59:59", "refill", 1, None),  # 03-29 23:59:59 EET → 03-29
            (1, "2025-03-29 22:00:00", "refill", 2, None),  # 03-30 00:00 EET → 03-30
            (1, "2025-03-30 20:59:59", "refill", 4, None),  # 03-30 23:59:59 EEST → 03-30
            (1, "2025-03-30 21:00:00", "refill", 8, None),  # 03-31 00:00 EEST → 03-31
        ],
    )
    report = run(frames, Q("2025-03-29", "2025-04-01", tz="Europe/Kyiv", time_grain="date"))
    assert col(report, "Period") == ["2025-03-29", "2025-03-30", "2025-03-31"]
    assert col(report, "Balance Refill: Qty") == [1, 2, 1]
    assert col(report, "Balance Refill: Total") == approx([1, 2 + 4, 8])
    # balance at E: E = 03-29 22:00Z → 1; E = 03-30 21:00Z → 1+2+4 = 7; E = 03-31 21:00Z → 15
    assert col(report, "Clients - All: Balance") == approx([1, 7, 15])


def test_eng020_buckets_dst_autumn_day_has_25_hours():
    """Kyiv 2025-10-26 (04:00→03:00) is [10-25 21:00Z, 10-26 22:00Z), 25 hours."""
    frames = make_frames(
        clients=[C(1, created="2025-01-01")],
        transactions=[
            (1, "2025-10-25 20:59:59", "refill", 16, None),  # 10-25 23:59:59 EEST → outside
            (1, "2025-10-25 21:00:00", "refill", 1, None),  # 10-26 00:00 EEST → 10-26
            (1, "2025-10-26 21:59:59", "refill", 2, None),  # 10-26 23:59:59 EET → 10-26
            (1, "2025-10-26 22:00:00", "refill", 4, None),  # 10-27 00:00 EET → 10-27
        ],
    )
    report = run(frames, Q("2025-10-26", "2025-10-28", tz="Europe/Kyiv", time_grain="date"))
    assert col(report, "Period") == ["2025-10-26", "2025-10-27"]
    assert col(report, "Balance Refill: Total") == approx([1 + 2, 4])
    assert col(report, "Clients - All: Balance") == approx([16 + 1 + 2, 16 + 1 + 2 + 4])


def test_eng030_buckets_lord_howe_half_hour_dst():
    """Lord Howe leaves DST on 2025-04-06 02:00 (+11 → +10:30): that day is
    [04-05 13:00Z, 04-06 13:30Z), 24.5 hours."""
    frames = make_frames(
        clients=[C(1, created="2025-01-01")],
        transactions=[
            (1, "2025-04-05 12:59:59", "refill", 1, None),  # 04-05 23:59:59 +11 → 04-05
            (1, "2025-04-05 13:00:00", "refill", 2, None),  # 04-06 00:00 +11 → 04-06
            (1, "2025-04-06 13:29:59", "refill", 4, None),  # 04-06 23:59:59 +10:30 → 04-06
            (1, "2025-04-06 13:30:00", "refill", 8, None),  # 04-07 00:00 +10:30 → 04-07
        ],
    )
    report = run(frames, Q("2025-04-05", "2025-04-08", tz="Australia/Lord_Howe", time_grain="date"))
    assert col(report, "Period") == ["2025-04-05", "2025-04-06", "2025-04-07"]
    assert col(report, "Balance Refill: Total") == approx([1, 2 + 4, 8])


def test_eng040_local_times_convert_with_fold0():
    """Interval ends convert with zoneinfo fold=0: a time in the spring gap uses the offset before
    the change (Kyiv 2025-03-30 03:30 → +02 → 01:30Z); an ambiguous autumn time is its first
    occurrence (2025-10-26 03:30 → +03 → 00:30Z)."""
    frames = make_frames(
        clients=[C(1, created="2025-01-01")],
        transactions=[
            (1, "2025-03-30 01:29:59", "refill", 1, None),  # before the start
            (1, "2025-03-30 01:30:00", "refill", 2, None),  # = start 03:30 (+02)
            (1, "2025-10-26 00:29:59", "refill", 4, None),  # before the end
            (1, "2025-10-26 00:30:00", "refill", 8, None),  # = end 03:30 (first, +03): outside
        ],
    )
    report = run(frames, Q("2025-03-30T03:30", "2025-10-26T03:30", tz="Europe/Kyiv"))
    assert col(report, "Balance Refill: Qty") == [2]
    assert col(report, "Balance Refill: Total") == approx([2 + 4])


def test_eng050_buckets_first_and_last_are_clipped_to_the_interval():
    """Calendar months intersecting [01-15 12:00, 03-10 06:00), clipped: [S, E) of the first is
    [01-15 12:00, 02-01), of the last [03-01, 03-10 06:00)."""
    frames = make_frames(
        clients=[C(1, created="2024-12-01")],
        transactions=[
            (1, "2025-01-15 11:59:59", "refill", 1, None),  # before S: not a flow, but in balance
            (1, "2025-01-15 12:00:00", "refill", 2, None),  # first bucket
            (1, "2025-03-10 05:59:59", "refill", 4, None),  # last bucket
            (1, "2025-03-10 06:00:00", "refill", 8, None),  # = interval end: outside
        ],
    )
    report = run(frames, Q("2025-01-15T12:00", "2025-03-10T06:00", time_grain="month"))
    assert col(report, "Period") == ["2025-01", "2025-02", "2025-03"]
    assert col(report, "Balance Refill: Qty") == [1, 0, 1]
    assert col(report, "Balance Refill: Total") == approx([2, 0, 4])
    # balance at E: 02-01 → 1+2 = 3; 03-01 → 3; 03-10 06:00 → 3+4 = 7 (the 8 at E excluded)
    assert col(report, "Clients - All: Balance") == approx([3, 3, 7])


def test_eng060_every_bucket_appears_without_data():
    """Every bucket appears, with or without data (5 days, no transactions)."""
    frames = make_frames(clients=[C(1, created="2025-01-01")])
    report = run(frames, Q("2025-02-26", "2025-03-03", time_grain="date"))
    assert col(report, "Period") == [
        "2025-02-26",
        "2025-02-27",
        "2025-02-28",
        "2025-03-01",
        "2025-03-02",
    ]
    assert col(report, "Clients - All: Qty") == [1] * 5
    assert col(report, "Clients - All: Balance") == approx([0.0] * 5)
    assert all(nan(v) for v in col(report, "Balance Refill: Avg"))
    assert all(nan(v) for v in col(report, "Pay As You Go: Active Avg"))


def test_eng070_every_bucket_appears_even_without_clients():
    frames = make_frames(clients=[])
    report = run(frames, Q("2024-11-15", "2025-02-01", time_grain="month"))
    assert col(report, "Period") == ["2024-11", "2024-12", "2025-01"]
    assert col(report, "Clients - All: Qty") == [0, 0, 0]
    assert col(report, "Balance Refill: Total") == approx([0.0, 0.0, 0.0])
    assert report.data_interval is None


# --------------------------------------------------------------------------- labels


@pytest.mark.parametrize(
    "start,end,grain,tz,labels",
    [
        ("2024-12-31T23:00", "2025-01-01T01:00", "year", "UTC", ["2024", "2025"]),
        ("2023-06-01", "2025-01-01", "year", "Asia/Kolkata", ["2023", "2024"]),
        ("2024-02-29T10:00", "2024-03-01", "month", "UTC", ["2024-02"]),
        (
            "2024-01-31T23:59",
            "2024-03-01T00:01",
            "month",
            "America/St_Johns",
            ["2024-01", "2024-02", "2024-03"],
        ),
        (
            "2024-02-28T12:00",
            "2024-03-01T00:30",
            "date",
            "UTC",
            ["2024-02-28", "2024-02-29", "2024-03-01"],
        ),
        (
            "2025-01-15T12:00",
            "2025-03-10T06:30",
            None,
            "Europe/Kyiv",
            ["2025-01-15T12:00/2025-03-10T06:30"],
        ),
        (
            "2025-01-01",
            "2025-02-01",
            None,
            "America/St_Johns",
            ["2025-01-01T00:00/2025-02-01T00:00"],
        ),
    ],
)
def test_eng080_period_labels(start, end, grain, tz, labels):
    """YYYY / YYYY-MM / YYYY-MM-DD (a clipped bucket keeps its calendar label); without a grain
    'start/end' local as YYYY-MM-DDTHH:MM."""
    report = run(make_frames(clients=[]), Q(start, end, tz=tz, time_grain=grain))
    assert col(report, "Period") == labels


# --------------------------------------------------------------------------- package rows


def test_eng090_package_rows_ordered_by_bucket_then_name():
    """One row per package with a member at the interval end, ordered by bucket then name (not
    id); 'Mid' has no member and gets no row."""
    frames = make_frames(
        clients=[C(1), C(2)],
        transactions=[
            (1, "2025-01-10", ACT, 10, 1),
            (1, "2025-01-10", REN, 5, 1),
            (2, "2025-02-10", ACT, 20, 2),
            (2, "2025-02-10", REN, 6, 2),
        ],
        packages=((1, "Zeta"), (2, "Alpha"), (3, "Mid")),
    )
    report = run(frames, Q("2025-01-01", "2025-03-01", time_grain="month", by_package=True))
    assert list(zip(col(report, "Period"), col(report, "Package"), strict=False)) == [
        ("2025-01", "Alpha"),
        ("2025-01", "Zeta"),
        ("2025-02", "Alpha"),
        ("2025-02", "Zeta"),
    ]
    assert col(report, "Clients - All: Qty") == [0, 1, 1, 1]  # Alpha's member joins on 02-10
    assert col(report, "Packages: Activation Qty") == [0, 1, 1, 0]
    assert col(report, "Packages: Activation Total") == approx([0, 10, 20, 0])
    assert col(report, "Packages: Renew Qty") == [0, 1, 1, 0]  # the initial renewals
    assert col(report, "Packages: Renew Total") == approx([0, 5, 6, 0])
    # client 1's balance at E: −15; Alpha's Feb row: client 2 −26
    assert col(report, "Clients - All: Balance") == approx([0, -15, -26, -15])


def test_eng100_package_rows_need_a_member_at_interval_end_among_filtered_clients():
    """Without a package filter, a package gets rows only if some client in scope and filters,
    created before the interval end, is a member at the interval end."""
    frames = make_frames(
        clients=[
            C(1),
            C(2, type_="reseller"),
            C(3),
            C(4, created="2025-03-05"),  # created after the interval end
        ],
        transactions=[
            (1, "2025-03-01 00:00:00", ACT, 1, 1),  # at the interval end: not yet a member
            (1, "2025-03-01 00:00:00", REN, 1, 1),
            (2, "2025-01-10", ACT, 1, 2),  # a member, but filtered out by type
            (2, "2025-01-10", REN, 1, 2),
            (3, "2025-02-15", ACT, 3, 3),
            (3, "2025-02-15", REN, 2, 3),
            (4, "2025-02-10", ACT, 1, 4),  # (inconsistent data) member, created after the end
            (4, "2025-02-10", REN, 1, 4),
        ],
        packages=((1, "P1"), (2, "P2"), (3, "P3"), (4, "P4")),
    )
    report = run(
        frames,
        Q(
            "2025-01-01",
            "2025-03-01",
            time_grain="month",
            by_package=True,
            client_types=("client",),
        ),
    )
    assert list(zip(col(report, "Period"), col(report, "Package"), strict=False)) == [
        ("2025-01", "P3"),
        ("2025-02", "P3"),
    ]
    assert col(report, "Clients - All: Qty") == [0, 1]
    assert col(report, "Packages: Activation Total") == approx([0, 3])


def test_eng110_package_rows_with_a_package_filter_are_the_filtered_packages():
    """With a package filter, the rows are exactly the filtered packages (P3 has no member and
    still gets its rows; P1 has members but is not filtered)."""
    frames = make_frames(
        clients=[C(1), C(2)],
        transactions=[
            (1, "2025-01-10", ACT, 10, 1),
            (1, "2025-01-10", REN, 5, 1),
            (2, "2025-01-12", ACT, 20, 2),
            (2, "2025-01-12", REN, 6, 2),
            (2, "2025-01-13", "refill", 50, None),
        ],
        packages=((1, "P1"), (2, "P2"), (3, "P3")),
    )
    report = run(
        frames,
        Q("2025-01-01", "2025-03-01", time_grain="month", by_package=True, package_ids=(3, 2)),
    )
    assert list(zip(col(report, "Period"), col(report, "Package"), strict=False)) == [
        ("2025-01", "P2"),
        ("2025-01", "P3"),
        ("2025-02", "P2"),
        ("2025-02", "P3"),
    ]
    assert col(report, "Clients - All: Qty") == [1, 0, 1, 0]
    assert col(report, "Balance Refill: Total") == approx([50, 0, 0, 0])
    assert col(report, "Packages: Activation Total") == approx([20, 0, 0, 0])
    # client 2 at E: 50 − 20 − 6 = 24
    assert col(report, "Clients - All: Balance") == approx([24, 0, 24, 0])
    refill_avg = col(report, "Balance Refill: Avg")
    assert refill_avg[0] == pytest.approx(50) and all(nan(v) for v in refill_avg[1:])


def test_eng120_package_row_flows_are_the_members_flows_and_activations_of_that_package():
    """A package row's population is the members of p at E; refills and payg are all of theirs,
    activations/renewals only those of p."""
    frames = make_frames(
        clients=[C(1), C(2), C(3)],
        transactions=[
            (1, "2025-01-05", "refill", 7, None),
            (1, "2025-01-10", ACT, 10, 1),
            (1, "2025-01-10", REN, 5, 1),
            (1, "2025-01-12", ACT, 100, 2),
            (1, "2025-01-12", REN, 50, 2),
            (2, "2025-01-15", ACT, 20, 2),
            (2, "2025-01-15", REN, 6, 2),
            (2, "2025-01-16", "payg", 3, None),
            (3, "2025-01-20", "refill", 1000, None),  # not a member of anything
        ],
    )
    report = run(frames, Q("2025-01-01", "2025-02-01", time_grain="month", by_package=True))
    assert col(report, "Package") == ["P1", "P2"]
    assert col(report, "Clients - All: Qty") == [1, 2]
    assert col(report, "Balance Refill: Total") == approx([7, 7])
    assert col(report, "Pay As You Go: Total") == approx([0, 3])
    assert col(report, "Packages: Activation Qty") == [1, 2]
    assert col(report, "Packages: Activation Total") == approx([10, 120])
    assert col(report, "Packages: Renew Total") == approx([5, 56])
    # balances: client 1: 7 − 10 − 5 − 100 − 50 = −158; client 2: −20 − 6 − 3 = −29
    assert col(report, "Clients - All: Balance") == approx([-158, -187])
    # Active Avg: P1 0 / 1 = 0; P2 3 / 2 = 1.5
    assert col(report, "Pay As You Go: Active Avg") == approx([0, 1.5])


def test_eng130_package_membership_needs_a_transaction_strictly_before_E():
    """member of p at t: activation/renewal of p with ts < t; one exactly at E counts from the
    next bucket."""
    frames = make_frames(
        clients=[C(1)],
        transactions=[(1, "2025-02-01 00:00:00", ACT, 4, 1), (1, "2025-02-01 00:00:00", REN, 2, 1)],
    )
    report = run(frames, Q("2025-01-01", "2025-03-01", time_grain="month", package_ids=(1,)))
    assert col(report, "Clients - All: Qty") == [0, 1]
    assert col(report, "Packages: Activation Qty") == [0, 1]
    assert col(report, "Clients - All: Balance") == approx([0, -6])


# --------------------------------------------------------------------------- population


def test_eng140_population_is_clients_created_before_E():
    """created_at < E (strict): a client created exactly at a bucket end joins the next bucket."""
    frames = make_frames(
        clients=[
            C(1, created="2025-01-01 00:00:00"),
            C(2, created="2025-02-01 00:00:00"),  # = E of January
            C(3, created="2025-03-31 23:59:59"),
        ],
        transactions=[(3, "2025-03-31 23:59:59", "refill", 5, None)],
    )
    report = run(frames, Q("2025-01-01", "2025-04-01", time_grain="month"))
    assert col(report, "Clients - All: Qty") == [1, 2, 3]
    assert col(report, "Balance Refill: Qty") == [0, 0, 1]


# --------------------------------------------------------------------------- active window


def test_eng150_active_window_month_end_clamped():
    """A = E − k months on the local date-time, day clamped: E = 2025-03-31, k = 1 → A = 2025-02-28
    (not 03-01 as E − 30 days would give)."""
    frames = make_frames(
        clients=[C(1, created="2024-01-01"), C(2, created="2024-01-01")],
        transactions=[
            (1, "2025-02-28 00:00:00", "payg", 1, None),  # = A: active
            (2, "2025-02-27 23:59:59", "payg", 1, None),  # before A: only overall active
        ],
    )
    report = run(frames, Q("2025-03-30", "2025-03-31", time_grain="date", active_months=1))
    assert col(report, "Clients - Active: Qty") == [1]
    assert col(report, "Clients - Overall Active: Qty") == [2]
    assert col(report, "Clients - Active: Balance") == approx([-1])


def test_eng160_active_window_month_end_clamped_to_leap_day():
    """E = 2025-03-31, k = 13 → 2024-02-31 clamps to 2024-02-29."""
    frames = make_frames(
        clients=[C(3, created="2024-01-01"), C(4, created="2024-01-01")],
        transactions=[
            (3, "2024-02-29 00:00:00", "payg", 1, None),  # = A
            (4, "2024-02-28 23:59:59", "payg", 1, None),  # before A
        ],
    )
    report = run(frames, Q("2025-03-30", "2025-03-31", time_grain="date", active_months=13))
    assert col(report, "Clients - Active: Qty") == [1]
    assert col(report, "Clients - Overall Active: Qty") == [2]


def test_eng170_active_window_computed_on_local_time_then_utc():
    """Kyiv, E = 2025-04-02 00:00 local (+03) = 04-01 21:00Z; A = 2025-03-02 00:00 local (+02) =
    03-01 22:00Z (E in UTC minus a month would be 03-01 21:00Z)."""
    frames = make_frames(
        clients=[C(1, created="2024-01-01"), C(2, created="2024-01-01")],
        transactions=[
            (1, "2025-03-01 21:30:00", "payg", 1, None),  # before A
            (2, "2025-03-01 22:00:00", "payg", 1, None),  # = A
        ],
    )
    report = run(frames, Q("2025-04-01", "2025-04-02", tz="Europe/Kyiv", time_grain="date"))
    assert col(report, "Clients - Active: Qty") == [1]
    assert col(report, "Clients - Active: Balance") == approx([-1])


def test_eng180_overall_active_counts_any_paid_service_before_E():
    """Overall active: any paid service before E, even before the interval."""
    frames = make_frames(
        clients=[C(1, created="2024-01-01")],
        transactions=[(1, "2024-06-01", "payg", 2, None), (1, "2024-06-02", "refill", 10, None)],
    )
    report = run(frames, Q("2025-01-01", "2025-02-01"))
    assert col(report, "Clients - Active: Qty") == [0]
    assert col(report, "Clients - Overall Active: Qty") == [1]
    assert col(report, "Clients - Overall Active: Balance") == approx([8])  # 10 − 2
    assert col(report, "Clients - Active: Balance") == approx([0])
    assert nan(col(report, "Pay As You Go: Active Avg")[0])


# --------------------------------------------------------------------------- paid service, kinds


def test_eng190_zero_amount_charge_is_not_a_paid_service():
    """paid service = payg / activation / renewal with amount > 0; a zero activation still makes
    a member (membership needs no amount)."""
    frames = make_frames(
        clients=[C(1)],
        transactions=[
            (1, "2025-01-10", "payg", 0, None),
            (1, "2025-01-11", ACT, 0, 1),
            (1, "2025-01-11", REN, 0, 1),
        ],
    )
    report = run(frames, Q("2025-01-01", "2025-02-01", by_package=True))
    assert col(report, "Package") == ["P1"]
    assert col(report, "Clients - All: Qty") == [1]
    assert col(report, "Clients - Active: Qty") == [0]
    assert col(report, "Clients - Overall Active: Qty") == [0]
    assert col(report, "Packages: Activation Qty") == [1]  # counted as a transaction, total 0
    assert col(report, "Packages: Renew Qty") == [1]
    assert col(report, "Pay As You Go: Total") == approx([0])
    assert nan(col(report, "Pay As You Go: Active Avg")[0])  # Active Qty is 0


def test_eng200_adjustment_moves_the_balance_only():
    frames = make_frames(
        clients=[C(1)],
        transactions=[
            (1, "2025-01-10", "adjustment", -7, None),
            (1, "2025-01-11", "adjustment", 3, None),
        ],
    )
    report = run(frames, Q("2025-01-01", "2025-02-01"))
    assert col(report, "Clients - All: Balance") == approx([-4])  # −7 + 3
    assert col(report, "Clients - All: Balance Neg") == approx([-4])
    assert col(report, "Balance Refill: Qty") == [0]
    assert col(report, "Clients - Active: Qty") == [0]
    assert col(report, "Clients - Overall Active: Qty") == [0]


def test_eng210_balance_pos_neg_split():
    """Pos = Σ max(b, 0), Neg = Σ min(b, 0), Balance = Σ b over the clients of the group."""
    frames = make_frames(
        clients=[C(1), C(2), C(3)],
        transactions=[
            (1, "2025-01-02", "refill", 60, None),
            (1, "2025-01-03", "payg", 10, None),  # +50
            (2, "2025-01-03", "payg", 20, None),  # −20
            (3, "2025-01-03", "refill", 5, None),  # +5, never active
        ],
    )
    report = run(frames, Q("2025-01-01", "2025-02-01"))
    assert col(report, "Clients - Active: Qty") == [2]
    assert col(report, "Clients - Active: Balance Pos") == approx([50])
    assert col(report, "Clients - Active: Balance Neg") == approx([-20])
    assert col(report, "Clients - Active: Balance") == approx([30])
    assert col(report, "Clients - All: Qty") == [3]
    assert col(report, "Clients - All: Balance Pos") == approx([55])
    assert col(report, "Clients - All: Balance") == approx([35])


def test_eng220_transaction_at_bucket_end_belongs_to_next_bucket():
    """Flows are [S, E) and balances ts < E: a transaction at exactly E is in the next bucket."""
    frames = make_frames(
        clients=[C(1)],
        transactions=[
            (1, "2025-02-01 00:00:00", "refill", 10, None),
            (1, "2025-02-01 00:00:00", "payg", 4, None),
        ],
    )
    report = run(frames, Q("2025-01-01", "2025-03-01", time_grain="month"))
    assert col(report, "Balance Refill: Qty") == [0, 1]
    assert col(report, "Pay As You Go: Total") == approx([0, 4])
    assert col(report, "Clients - All: Balance") == approx([0, 6])
    assert col(report, "Clients - Active: Qty") == [0, 1]


def test_eng230_empty_and_defined_averages():
    """Refill Avg = total ÷ count, PAYG Active Avg = total ÷ Active Qty; empty (NaN) when the
    denominator is 0."""
    frames = make_frames(
        clients=[C(1), C(2)],
        transactions=[
            (1, "2025-01-05", "refill", 10, None),
            (2, "2025-01-06", "refill", 20, None),
            (1, "2025-01-07", ACT, 1, 1),  # client 1 active through the package only
            (1, "2025-01-07", REN, 1, 1),
            (2, "2025-01-08", "payg", 30, None),
        ],
    )
    report = run(frames, Q("2025-01-01", "2025-03-01", time_grain="month"))
    # January: refills (10 + 20) / 2 = 15; payg 30 / 2 active = 15
    # February: no refills, nobody active in [A, E) = [02-01, 03-01): both NaN
    assert col(report, "Balance Refill: Avg")[0] == pytest.approx(15)
    assert col(report, "Pay As You Go: Active Avg")[0] == pytest.approx(15)
    assert nan(col(report, "Balance Refill: Avg")[1])
    assert nan(col(report, "Pay As You Go: Active Avg")[1])
    assert col(report, "Pay As You Go: Total") == approx([30, 0])


# --------------------------------------------------------------------------- rates


def test_eng240_balance_converts_at_rate_at_E_and_flows_at_their_own_instant():
    """EUR 1.1 from 01-01, 1.2 from 02-01 00:00 (= E of January, valid_from ≤ t applies)."""
    frames = make_frames(
        clients=[C(1, currency="EUR")],
        transactions=[(1, "2025-01-10", "refill", 100, None)],
        rates=USD_EUR_RATES,
    )
    report = run(frames, Q("2025-01-01", "2025-03-01", time_grain="month"))
    assert col(report, "Clients - All: Balance") == approx([120, 120])  # 100 × 1.2 at E
    assert col(report, "Balance Refill: Total") == approx([110, 0])  # 100 × 1.1 at 01-10


def test_eng250_flows_convert_at_the_rate_of_their_own_instant():
    frames = make_frames(
        clients=[C(1, currency="EUR")],
        transactions=[
            (1, "2025-01-15 11:59:59", "refill", 10, None),  # × 1.1 = 11
            (1, "2025-01-15 12:00:00", "refill", 10, None),  # × 1.2 = 12
            (1, "2025-01-20", "payg", 5, None),  # × 1.2 = 6
        ],
        rates=(("EUR", "2025-01-01", 1.1), ("EUR", "2025-01-15 12:00:00", 1.2)),
    )
    report = run(frames, Q("2025-01-01", "2025-02-01"))
    assert col(report, "Balance Refill: Total") == approx([23])
    assert col(report, "Balance Refill: Avg") == approx([11.5])
    assert col(report, "Pay As You Go: Total") == approx([6])
    assert col(report, "Clients - All: Balance") == approx([18])  # (10 + 10 − 5) × 1.2


def test_eng260_earliest_rate_when_no_row_before_t():
    """No row at or before t: the currency's earliest row (1.5, not the later 2.0)."""
    frames = make_frames(
        clients=[C(1, currency="EUR")],
        transactions=[(1, "2025-01-10", "refill", 10, None)],
        rates=(("EUR", "2025-07-01", 2.0), ("EUR", "2025-06-01", 1.5)),
    )
    report = run(frames, Q("2025-01-01", "2025-02-01"))
    assert col(report, "Balance Refill: Total") == approx([15])
    assert col(report, "Clients - All: Balance") == approx([15])


def test_eng270_report_currency_converts_through_the_base():
    """a × rate(X, t) / rate(R, t), R = EUR: USD 22 at 01-10 → 22 / 1.1 = 20; GBP 10 → 10 × 1.3 / 1.1;
    balances at E = 02-01 (EUR 1.2): 22 / 1.2 and 10 × 1.3 / 1.2."""
    frames = make_frames(
        clients=[C(1, currency="USD"), C(2, currency="GBP")],
        transactions=[(1, "2025-01-10", "refill", 22, None), (2, "2025-01-10", "refill", 10, None)],
        rates=(*USD_EUR_RATES, ("GBP", "2025-01-01", 1.3)),
    )
    report = run(frames, Q("2025-01-01", "2025-02-01", currency="EUR"))
    assert col(report, "Balance Refill: Total") == approx([20 + 13 / 1.1])
    assert col(report, "Clients - All: Balance") == approx([22 / 1.2 + 13 / 1.2])


def test_eng280_base_currency_has_rate_one_whatever_its_rows():
    """The base currency has rate 1 at all times (a stray USD row does not apply)."""
    frames = make_frames(
        clients=[C(1, currency="USD")],
        transactions=[(1, "2025-01-10", "refill", 10, None)],
        rates=(("USD", "2024-01-01", 2.0), *USD_EUR_RATES),
    )
    assert col(run(frames, Q("2025-01-01", "2025-02-01")), "Balance Refill: Total") == approx([10])
    report = run(frames, Q("2025-01-01", "2025-02-01", currency="EUR"))
    assert col(report, "Balance Refill: Total") == approx([10 / 1.1])


def test_eng290_other_base_currency():
    """prepare_ledger(base_currency='EUR'): rates are EUR per unit; the default report currency is
    EUR; USD 10 at rate 0.9 → 9."""
    frames = make_frames(
        clients=[C(1, currency="USD"), C(2, currency="EUR")],
        transactions=[(1, "2025-01-10", "refill", 10, None), (2, "2025-01-10", "refill", 5, None)],
        rates=(("USD", "2024-01-01", 0.9),),
    )
    report = run(frames, Q("2025-01-01", "2025-02-01"), base="EUR")
    assert col(report, "Balance Refill: Total") == approx([9 + 5])
    assert report.currency == "EUR"


def test_eng300_missing_rate_for_report_currency_is_an_error_naming_it():
    frames = make_frames(clients=[C(1)], transactions=[(1, "2025-01-10", "refill", 10, None)])
    with pytest.raises(ReportError, match="GBP"):
        run(frames, Q("2025-01-01", "2025-02-01", currency="GBP"))


def test_eng310_missing_rate_for_client_currency_is_an_error_naming_it():
    frames = make_frames(
        clients=[C(1, currency="CHF")],
        transactions=[(1, "2025-01-10", "refill", 10, None)],
        rates=USD_EUR_RATES,
    )
    with pytest.raises(ReportError, match="CHF"):
        run(frames, Q("2025-01-01", "2025-02-01"))


# --------------------------------------------------------------------------- scope and filters
# tree_frames: client k in company k with a refill of 2^(k−1): 1 → 1, 2 → 2, 3 → 4, 4 → 8, 5 → 16.


@pytest.mark.parametrize(
    "scope,qty,total",
    [
        (None, 5, 31),  # whole database
        (1, 5, 31),  # the root company sees everything
        (2, 3, 2 + 8 + 16),  # R1 and its descendants R1a, R1a-x
        (4, 2, 8 + 16),
        (3, 1, 4),
        (5, 1, 16),
    ],
)
def test_eng320_reseller_scope_is_company_and_descendants(scope, qty, total):
    assert refill_total(tree_frames(), scope=scope) == (qty, pytest.approx(total))


def test_eng330_filter_client_type():
    # types: 1 client, 2 reseller, 3 calling_card, 4 call_shop, 5 client → 1 + 8 + 16
    assert refill_total(tree_frames(), client_types=("client", "call_shop")) == (
        3,
        pytest.approx(25),
    )


def test_eng340_filter_tags_at_least_one():
    # tags: 1 vip, 2 vip+test, 3 test, 4 -, 5 new; (vip, new) → 1 + 2 + 16
    assert refill_total(tree_frames(), tags=("vip", "new")) == (3, pytest.approx(19))
    assert refill_total(tree_frames(), tags=("test",)) == (2, pytest.approx(6))
    assert refill_total(tree_frames(), tags=("nobody",)) == (0, pytest.approx(0))


def test_eng350_filter_company_includes_descendants():
    assert refill_total(tree_frames(), company_ids=(2,)) == (3, pytest.approx(26))  # 2, 4, 5
    assert refill_total(tree_frames(), company_ids=(3, 4)) == (3, pytest.approx(28))  # 3, 4, 5
    assert refill_total(tree_frames(), scope=2, company_ids=(4,)) == (2, pytest.approx(24))


def test_eng360_filter_owner():
    # owners: 1 u1, 2 u2, 3 none, 4 u2, 5 u3
    assert refill_total(tree_frames(), owner_ids=(2,)) == (2, pytest.approx(10))
    assert refill_total(tree_frames(), owner_ids=(1, 3)) == (2, pytest.approx(17))


def test_eng370_filter_package_without_grouping():
    """Population = members of any filtered package at E; activation/renewal columns only of the
    filtered packages; refills and payg of those members all count."""
    frames = make_frames(
        clients=[C(1), C(2), C(3)],
        transactions=[
            (1, "2025-01-05", "refill", 7, None),
            (1, "2025-01-10", ACT, 10, 1),
            (1, "2025-01-10", REN, 5, 1),
            (1, "2025-01-12", ACT, 100, 2),
            (1, "2025-01-12", REN, 50, 2),
            (2, "2025-01-15", ACT, 20, 2),
            (2, "2025-01-15", REN, 6, 2),
            (2, "2025-01-16", "payg", 3, None),
            (3, "2025-01-20", "refill", 1000, None),
        ],
    )
    report = run(frames, Q("2025-01-01", "2025-02-01", package_ids=(1,)))
    assert col(report, "Clients - All: Qty") == [1]  # client 1
    assert col(report, "Balance Refill: Total") == approx([7])
    assert col(report, "Packages: Activation Qty") == [1]
    assert col(report, "Packages: Activation Total") == approx([10])  # not P2's 100
    assert col(report, "Packages: Renew Total") == approx([5])
    assert col(report, "Clients - All: Balance") == approx([-158])  # 7 − 10 − 5 − 100 − 50
    report = run(frames, Q("2025-01-01", "2025-02-01", package_ids=(1, 2)))
    assert col(report, "Clients - All: Qty") == [2]  # clients 1 and 2
    assert col(report, "Packages: Activation Qty") == [3]
    assert col(report, "Packages: Activation Total") == approx([130])  # 10 + 100 + 20
    assert col(report, "Packages: Renew Total") == approx([61])  # 5 + 50 + 6
    assert col(report, "Pay As You Go: Total") == approx([3])
    assert col(report, "Clients - Active: Qty") == [2]
    assert col(report, "Pay As You Go: Active Avg") == approx([1.5])


def test_eng380_filter_package_with_grouping():
    """With grouping and a filter: only the filtered package's rows, each restricted to it."""
    frames = make_frames(
        clients=[C(1), C(2)],
        transactions=[
            (1, "2025-01-10", ACT, 10, 1),
            (1, "2025-01-10", REN, 5, 1),
            (1, "2025-01-12", ACT, 100, 2),
            (1, "2025-01-12", REN, 50, 2),
            (2, "2025-01-15", ACT, 20, 2),
            (2, "2025-01-15", REN, 6, 2),
        ],
    )
    report = run(frames, Q("2025-01-01", "2025-02-01", by_package=True, package_ids=(2,)))
    assert col(report, "Package") == ["P2"]
    assert col(report, "Clients - All: Qty") == [2]
    assert col(report, "Packages: Activation Total") == approx([120])
    assert col(report, "Packages: Renew Total") == approx([56])


# --------------------------------------------------------------------------- frame contract


DTYPE_LEDGERS = {
    "package_only": [(1, "2025-01-10", ACT, 1, 1), (1, "2025-01-10", REN, 1, 1)],
    "refill_only": [(1, "2025-01-10", "refill", 10, None)],
    "no_transactions": [],
}


@pytest.mark.parametrize("extra", [{}, {"by_package": True}, {"tags": ("nobody",)}], ids=str)
@pytest.mark.parametrize("ledger", list(DTYPE_LEDGERS))
def test_eng390_columns_order_and_dtypes(ledger, extra):
    """Columns of report_columns(); counts integers, money float64 also when a column has no
    contributing transaction (every value 0) — metrics.report.Report's contract."""
    frames = make_frames(clients=[C(1)], transactions=DTYPE_LEDGERS[ledger])
    query = Q("2025-01-01", "2025-03-01", time_grain="month", **extra)
    report = run(frames, query)
    assert list(report.frame.columns) == report_columns(query.by_package)
    bad = [
        f"{n}: {report.frame[n].dtype}"
        for n in COUNT_COLUMNS
        if not pd.api.types.is_integer_dtype(report.frame[n])
    ]
    bad += [
        f"{n}: {report.frame[n].dtype}" for n in MONEY_COLUMNS if report.frame[n].dtype != "float64"
    ]
    assert bad == []


def test_eng400_data_interval_is_first_and_last_ts_inside_interval_local():
    """Earliest/latest ts of the report's clients' transactions inside [start, end), local time."""
    frames = make_frames(
        clients=[C(1), C(2, type_="reseller")],
        transactions=[
            (1, "2024-12-31 21:59:59", "refill", 1, None),  # 12-31 23:59:59 local: outside
            (1, "2024-12-31 22:00:00", "payg", 0, None),  # = start 01-01 00:00 local
            (1, "2025-01-20 10:00:00", "adjustment", 1, None),  # 12:00 local
            (1, "2025-01-31 22:00:00", "refill", 1, None),  # = end: outside
            (2, "2025-01-25 10:00:00", "refill", 1, None),  # filtered out by type
        ],
    )
    report = run(frames, Q("2025-01-01", "2025-02-01", tz="Europe/Kyiv", client_types=("client",)))
    first, last = report.data_interval
    assert pd.Timestamp(first) == pd.Timestamp("2025-01-01 00:00:00")
    assert pd.Timestamp(last) == pd.Timestamp("2025-01-20 12:00:00")
    report = run(
        frames, Q("2025-01-01", "2025-02-01", tz="Europe/Kyiv", client_types=("call_shop",))
    )
    assert report.data_interval is None


def test_eng410_inputs_are_not_mutated():
    from metrics.engine import build_report, prepare_ledger

    frames = load_micro()
    before = frames.copy()
    prepared = prepare_ledger(to_engine(frames), base_currency="USD")
    for query in (
        Q("2025-01-01", "2025-04-01", time_grain="month"),
        Q(
            "2025-01-01",
            "2025-04-01",
            time_grain="date",
            by_package=True,
            currency="EUR",
            tz="Europe/Kyiv",
        ),
        Q("2024-12-15", "2025-04-01", package_ids=(1,), tags=("x",), active_months=3),
    ):
        build_report(prepared, query, scope_company_id=2)
        build_report(prepared, query)
    for name in ("clients", "tags", "transactions", "rates", "companies", "packages", "users"):
        pd.testing.assert_frame_equal(
            getattr(frames, name), getattr(before, name), check_exact=True
        )
