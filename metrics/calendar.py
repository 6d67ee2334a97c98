"""Calendar buckets of a report interval in a time zone, and the active-window starts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
from dateutil.relativedelta import relativedelta

_EPOCH = datetime(1970, 1, 1)
_STEP = {
    "year": relativedelta(years=1),
    "month": relativedelta(months=1),
    "date": timedelta(days=1),
}


def to_utc_micros(local: datetime, zone: ZoneInfo) -> int:
    """Microseconds since the epoch (UTC) of a naive local time in ``zone`` (fold=0)."""
    utc = local.replace(tzinfo=zone, fold=0).astimezone(UTC).replace(tzinfo=None)
    return (utc - _EPOCH) // _MICROSECOND


_MICROSECOND = datetime(1970, 1, 1, 0, 0, 0, 1) - _EPOCH


def micros_to_local(micros: int, zone: ZoneInfo) -> datetime:
    """The naive local time in ``zone`` of an instant given in UTC microseconds."""
    utc = (_EPOCH + micros * _MICROSECOND).replace(tzinfo=UTC)
    return utc.astimezone(zone).replace(tzinfo=None)


def _floor(local: datetime, grain: str) -> datetime:
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if grain == "year":
        return midnight.replace(month=1, day=1)
    if grain == "month":
        return midnight.replace(day=1)
    return midnight


def _label(local: datetime, grain: str | None) -> str:
    if grain == "year":
        return f"{local.year:04d}"
    if grain == "month":
        return f"{local.year:04d}-{local.month:02d}"
    return local.strftime("%Y-%m-%d")


@dataclass(frozen=True)
class Buckets:
    """Buckets [S_b, E_b) of a report: ``starts``/``ends`` in UTC microseconds, contiguous."""

    labels: list[str]
    starts: np.ndarray  # int64
    ends: np.ndarray  # int64
    active_starts: np.ndarray  # int64: E_b - k months on the local calendar, in UTC

    def __len__(self) -> int:
        return len(self.labels)


def make_buckets(
    start: datetime, end: datetime, grain: str | None, zone: ZoneInfo, active_months: int
) -> Buckets:
    """The calendar buckets of [start, end) at ``grain`` in ``zone``, each clipped to the interval."""
    if grain is None:
        local_bounds = [start, end]
        labels = [f"{start:%Y-%m-%dT%H:%M}/{end:%Y-%m-%dT%H:%M}"]
    else:
        local_bounds = [start]
        labels = [_label(start, grain)]
        boundary = _floor(start, grain) + _STEP[grain]
        while boundary < end:
            local_bounds.append(boundary)
            labels.append(_label(boundary, grain))
            boundary = boundary + _STEP[grain]
        local_bounds.append(end)
    utc = np.array([to_utc_micros(b, zone) for b in local_bounds], dtype=np.int64)
    window = relativedelta(months=active_months)
    active = np.array([to_utc_micros(b - window, zone) for b in local_bounds[1:]], dtype=np.int64)
    return Buckets(labels=labels, starts=utc[:-1], ends=utc[1:], active_starts=active)
