"""The report's columns: names and order of SPEC §3, their two-level header and their kind."""

from __future__ import annotations

PERIOD = "Period"
PACKAGE = "Package"

# (group, leaves) in SPEC order; the CSV header name of a leaf is "<group>: <leaf>".
GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Clients - Active", ("Qty", "Balance Pos", "Balance Neg", "Balance")),
    ("Clients - Overall Active", ("Qty", "Balance Pos", "Balance Neg", "Balance")),
    ("Clients - All", ("Qty", "Balance Pos", "Balance Neg", "Balance")),
    ("Balance Refill", ("Qty", "Total", "Avg")),
    ("Pay As You Go", ("Total", "Active Avg")),
    ("Packages", ("Activation Qty", "Activation Total", "Renew Qty", "Renew Total")),
)

VALUE_COLUMNS: tuple[str, ...] = tuple(
    f"{group}: {leaf}" for group, leaves in GROUPS for leaf in leaves
)
COUNT_COLUMNS: frozenset[str] = frozenset(c for c in VALUE_COLUMNS if c.endswith("Qty"))
AVERAGE_COLUMNS: frozenset[str] = frozenset(("Balance Refill: Avg", "Pay As You Go: Active Avg"))
MONEY_COLUMNS: frozenset[str] = frozenset(c for c in VALUE_COLUMNS if c not in COUNT_COLUMNS)


def report_columns(by_package: bool) -> list[str]:
    """The column names of a report, in order."""
    return [PERIOD, *([PACKAGE] if by_package else []), *VALUE_COLUMNS]


def split_column(name: str) -> tuple[str, str]:
    """(group, leaf) of a column name; the label columns have an empty group."""
    group, sep, leaf = name.partition(": ")
    return (group, leaf) if sep else ("", name)
