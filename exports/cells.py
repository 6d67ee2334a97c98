"""Cell values shared by every writer: formula neutralisation, money rounding, column kinds."""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from numbers import Integral, Number
from typing import Any

import pandas as pd

from metrics.columns import COUNT_COLUMNS, MONEY_COLUMNS

# OWASP "CSV injection": a spreadsheet treats a text cell starting with one of these as a formula
# (tab and carriage return because some programs strip them and then see the next character).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

_CENT = Decimal("0.01")
# Float arithmetic leaves noise far below a cent (1.005 computed as 1.00499999999999989…);
# settling it at 1e-9 first makes "half a cent" round away from zero as a person expects.
_NOISE = Decimal("1e-9")

TEXT = "text"
COUNT = "count"
MONEY = "money"


def neutralise(text: str) -> str:
    """``text`` with a leading apostrophe when a spreadsheet would read it as a formula."""
    if text.startswith(FORMULA_PREFIXES):
        return "'" + text
    return text


def column_kind(name: str) -> str:
    """How a column's cells are written: ``count``, ``money`` (averages included) or ``text``."""
    if name in COUNT_COLUMNS:
        return COUNT
    if name in MONEY_COLUMNS:
        return MONEY
    return TEXT


def is_missing(value: Any) -> bool:
    """Whether a cell holds no value (None, NaN, pandas' NA)."""
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # not a scalar: a value, whatever it is
        return False


def round_money(value: Any) -> Decimal | None:
    """``value`` rounded half away from zero to 2 decimals; None when missing or not finite.

    Never returns a negative zero, so no writer prints ``-0.00``.
    """
    if is_missing(value):
        return None
    try:
        if isinstance(value, Decimal):
            exact = value
        else:
            number = float(value)
            if not math.isfinite(number):
                return None
            exact = Decimal(repr(number)).quantize(_NOISE, rounding=ROUND_HALF_UP)
        cents = exact.quantize(_CENT, rounding=ROUND_HALF_UP)
    except (InvalidOperation, TypeError, ValueError):
        return None
    if cents == 0:
        return Decimal("0.00")
    return cents


def count_value(value: Any) -> int | None:
    """A count cell as an int; None when missing."""
    if is_missing(value):
        return None
    number = float(value)
    if not math.isfinite(number):
        return None
    return round(number)


def text_value(value: Any) -> str | int | float:
    """A label cell: text neutralised; empty when missing. A number stays a number."""
    if is_missing(value):
        return ""
    if isinstance(value, Number) and not isinstance(value, bool):
        return int(value) if isinstance(value, Integral) else float(value)
    return neutralise(str(value))
