"""The report query: an immutable, validated description of what the user asked for."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from metrics.errors import InvalidQuery, shown

TIME_GRAINS = ("year", "month", "date")
GROUP_BY_VALUES = (*TIME_GRAINS, "package")
CLIENT_TYPES = ("client", "reseller", "calling_card", "call_shop")
MAX_BUCKETS = 100_000
MAX_ACTIVE_MONTHS = 120
_TIME_FORMATS = (
    "%Y-%m-%d",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d %H:%M:%S",
)


def parse_local_time(value: str, what: str) -> datetime:
    """``YYYY-MM-DD`` or ``YYYY-MM-DDTHH:MM[:SS]`` as a naive local date-time."""
    text = (value or "").strip()
    for fmt in _TIME_FORMATS:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    raise InvalidQuery(
        f"{what} {shown(value)} is not a date-time (use YYYY-MM-DD or YYYY-MM-DDTHH:MM)",
        field="interval",
    )


def bucket_count(start: datetime, end: datetime, grain: str | None) -> int:
    """How many buckets the interval [start, end) has at ``grain`` (1 without a grain)."""
    if grain is None:
        return 1
    last = end if end > start else start
    # The last bucket is the one holding the last instant before ``end``.
    if grain == "year":
        return last.year - start.year + (1 if _has_part_after(last, "year") else 0)
    if grain == "month":
        months = (last.year - start.year) * 12 + last.month - start.month
        return months + (1 if _has_part_after(last, "month") else 0)
    days = (last.date() - start.date()).days
    return days + (1 if _has_part_after(last, "date") else 0)


def _has_part_after(end: datetime, grain: str) -> bool:
    """Whether ``end`` lies after the start of its own bucket (so that bucket is in the report)."""
    if grain == "year":
        return end != end.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
    if grain == "month":
        return end != end.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return end != end.replace(hour=0, minute=0, second=0, microsecond=0)


@dataclass(frozen=True)
class ReportQuery:
    """What to report. Times are naive local date-times in ``tz``; [start, end)."""

    start: datetime
    end: datetime
    tz: str = "UTC"
    time_grain: str | None = None
    by_package: bool = False
    currency: str | None = None  # None: the base currency
    active_months: int = 1
    client_types: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    company_ids: tuple[int, ...] = ()
    owner_ids: tuple[int, ...] = ()
    package_ids: tuple[int, ...] = ()
    zone: ZoneInfo = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        if not isinstance(self.start, datetime) or not isinstance(self.end, datetime):
            raise InvalidQuery("the interval needs a start and an end", field="interval")
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise InvalidQuery("interval times must be local, without a zone", field="interval")
        if self.start >= self.end:
            raise InvalidQuery("the interval start must be before its end", field="interval")
        try:
            zone = ZoneInfo(self.tz)
        except (ZoneInfoNotFoundError, ValueError, TypeError, OSError):
            raise InvalidQuery(f"unknown time zone {shown(self.tz)}", field="tz") from None
        object.__setattr__(self, "zone", zone)
        if self.time_grain is not None and self.time_grain not in TIME_GRAINS:
            raise InvalidQuery(f"unknown time grain {shown(self.time_grain)}", field="group_by")
        if isinstance(self.active_months, bool) or not isinstance(self.active_months, int):
            raise InvalidQuery("active duration must be a whole number of months", field="active")
        if not 1 <= self.active_months <= MAX_ACTIVE_MONTHS:
            raise InvalidQuery(
                f"active duration must be between 1 and {MAX_ACTIVE_MONTHS} months", field="active"
            )
        for client_type in self.client_types:
            if client_type not in CLIENT_TYPES:
                raise InvalidQuery(f"unknown client type {shown(client_type)}", field="type")
        if self.currency is not None:
            object.__setattr__(self, "currency", self.currency.strip().upper())
        # Normalise the filters so equal queries compare (and cache) equal.
        object.__setattr__(self, "client_types", tuple(sorted(set(self.client_types))))
        object.__setattr__(self, "tags", tuple(sorted(set(self.tags))))
        for name in ("company_ids", "owner_ids", "package_ids"):
            object.__setattr__(self, name, tuple(sorted({int(v) for v in getattr(self, name)})))
        count = bucket_count(self.start, self.end, self.time_grain)
        if count > MAX_BUCKETS:
            raise InvalidQuery(
                f"{count:,} {self.time_grain} buckets is too many (at most {MAX_BUCKETS:,}); "
                "choose a coarser grain or a shorter interval",
                field="group_by",
            )

    @property
    def group_by(self) -> tuple[str, ...]:
        return (
            *((self.time_grain,) if self.time_grain else ()),
            *(("package",) if self.by_package else ()),
        )

    def to_params(self) -> dict[str, object]:
        """The query in the SPEC §5 query-string vocabulary (``from``, ``to``, ``group``, …)."""
        params: dict[str, object] = {
            "from": self.start.isoformat(timespec="minutes"),
            "to": self.end.isoformat(timespec="minutes"),
            "tz": self.tz,
            "group": list(self.group_by),
            "active": self.active_months,
        }
        if self.currency:
            params["currency"] = self.currency
        for key, values in (
            ("type", self.client_types),
            ("tag", self.tags),
            ("company", self.company_ids),
            ("owner", self.owner_ids),
            ("package", self.package_ids),
        ):
            if values:
                params[key] = list(values)
        return params


def group_by_parts(group_by: list[str] | tuple[str, ...]) -> tuple[str | None, bool]:
    """(time grain, by package) from a list of group-by values; at most one time grain."""
    unknown = [g for g in group_by if g not in GROUP_BY_VALUES]
    if unknown:
        raise InvalidQuery(f"unknown group by {shown(unknown[0])}", field="group_by")
    grains = [g for g in group_by if g in TIME_GRAINS]
    if len(set(grains)) > 1:
        raise InvalidQuery("group by at most one of year, month, date", field="group_by")
    return (grains[0] if grains else None), ("package" in group_by)


def _ints(values: list[str] | tuple[str, ...], what: str, field_name: str) -> tuple[int, ...]:
    result = []
    for value in values:
        try:
            result.append(int(str(value).strip()))
        except ValueError:
            raise InvalidQuery(f"{what} id {shown(value)} is not a number", field=field_name) from None
    return tuple(result)


def query_from_params(params: dict[str, object]) -> ReportQuery:
    """A query from SPEC §5 names (``from``, ``to``, ``tz``, ``group``…); values are strings/lists."""

    def many(key: str) -> tuple[str, ...]:
        value = params.get(key)
        if value is None or value == "":
            return ()
        if isinstance(value, (list, tuple)):
            return tuple(str(v) for v in value if str(v) != "")
        return (str(value),)

    if not params.get("from") or not params.get("to"):
        raise InvalidQuery("the interval is mandatory: give a start and an end", field="interval")
    start = parse_local_time(str(params["from"]), "interval start")
    end = parse_local_time(str(params["to"]), "interval end")
    grain, by_package = group_by_parts(list(many("group")))
    active_text = str(params.get("active") or "1").strip()
    try:
        active = int(active_text)
    except ValueError:
        raise InvalidQuery(
            f"active duration {shown(active_text)} is not a whole number", field="active"
        ) from None
    return ReportQuery(
        start=start,
        end=end,
        tz=str(params.get("tz") or "UTC"),
        time_grain=grain,
        by_package=by_package,
        currency=(str(params["currency"]) if params.get("currency") else None),
        active_months=active,
        client_types=many("type"),
        tags=many("tag"),
        company_ids=_ints(many("company"), "company", "company"),
        owner_ids=_ints(many("owner"), "owner", "owner"),
        package_ids=_ints(many("package"), "package", "package"),
    )
