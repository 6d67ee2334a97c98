"""The report as the engine returns it: the frame of SPEC §3 and its metadata."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pandas as pd

from metrics.query import ReportQuery


@dataclass(frozen=True)
class Report:
    """Rows in SPEC §3 order, full precision (round on output only), and the Info metadata.

    ``frame`` has the columns of ``metrics.columns.report_columns``: counts as int64, money as
    float64, an undefined average as NaN. ``data_interval`` is the (first, last) ``ts`` of the
    report's clients' transactions inside the interval, as naive local times in the report's
    zone, or None ("no data"). The ``generated_*`` fields are filled by the caller that knows
    the user and the clock; the engine itself never reads the clock.
    """

    frame: pd.DataFrame
    query: ReportQuery
    currency: str
    data_interval: tuple[datetime, datetime] | None
    generated_by: str | None = None  # "role login"
    generated_at: datetime | None = None  # UTC, naive
    duration_seconds: float | None = None
