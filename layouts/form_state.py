"""The query form's state and its two spellings: the SPEC §5 query string and the form's values.

``form_state(params)`` reads a query string (a bookmark, a saved query) into the values the form
shows; ``form_params(...)`` turns the form's values back into SPEC §5 parameters, which
``metrics.query.query_from_params`` validates. ``assets/dynamics.js`` (``syncUrl``) writes the
same vocabulary into the address bar as the form changes.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from urllib.parse import parse_qsl

from dateutil.relativedelta import relativedelta

from metrics.errors import InvalidQuery, ReportError
from metrics.query import CLIENT_TYPES, TIME_GRAINS, parse_local_time

FILTER_KINDS: tuple[str, ...] = ("type", "tag", "company", "owner", "package")
FILTER_LABELS: dict[str, str] = {
    "type": "Client Type",
    "tag": "Client Tags",
    "company": "Company",
    "owner": "Owner User",
    "package": "Package",
}
ID_FILTERS = frozenset({"company", "owner", "package"})

GROUP_OPTIONS: tuple[tuple[str, str], ...] = (
    ("year", "Year"),
    ("month", "Month"),
    ("date", "Date"),
    ("package", "Package Name"),
)
OUTPUT_TYPES: tuple[tuple[str, str], ...] = (
    ("web", "Web"),
    ("csv", "CSV"),
    ("xls", "Excel XLS"),
    ("xlsx", "Excel XLSX"),
)
OUTPUT_VALUES = frozenset(value for value, _ in OUTPUT_TYPES)
PRESETS: tuple[tuple[str, str], ...] = (
    ("today", "Today"),
    ("yesterday", "Yesterday"),
    ("this_week", "This week"),
    ("last_week", "Last week"),
    ("this_month", "This month"),
    ("last_month", "Last month"),
    ("this_year", "This year"),
    ("last_year", "Last year"),
    ("last_30_days", "Last 30 days"),
)
PRESET_LABELS = dict(PRESETS)
DEFAULT_PRESET = "this_month"
DEFAULT_ACTIVE_MONTHS = 1
DISPLAY_FORMAT = "%Y-%m-%d %H:%M"
URL_FORMAT = "%Y-%m-%dT%H:%M"

# Zone names the browser may report but that mean nothing to a person choosing one.
_HIDDEN_ZONES = frozenset({"localtime", "Factory", "posixrules"})


def time_zones() -> list[str]:
    """Every IANA zone name Python knows (aliases included, as browsers report some of them)."""
    return sorted(zoneinfo.available_timezones() - _HIDDEN_ZONES)


def preset_interval(name: str, now: datetime) -> tuple[datetime, datetime]:
    """[start, end) of the preset ``name`` around the local date-time ``now``.

    Weeks start on Monday. Every interval ends at a midnight: "this week" / "this month" /
    "this year" cover the whole current week / month / year, "last 30 days" the 30 days that end
    with today (today included).
    """
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    day = timedelta(days=1)
    if name == "today":
        return today, today + day
    if name == "yesterday":
        return today - day, today
    if name in ("this_week", "last_week"):
        monday = today - timedelta(days=today.weekday())
        if name == "last_week":
            monday -= timedelta(days=7)
        return monday, monday + timedelta(days=7)
    if name in ("this_month", "last_month"):
        first = today.replace(day=1)
        if name == "last_month":
            first -= relativedelta(months=1)
        return first, first + relativedelta(months=1)
    if name in ("this_year", "last_year"):
        first = today.replace(month=1, day=1)
        if name == "last_year":
            first = first.replace(year=first.year - 1)
        return first, first.replace(year=first.year + 1)
    if name == "last_30_days":
        return today - 29 * day, today + day
    raise ValueError(f"unknown preset {name!r}")


def now_in(tz: str | None, now_utc: datetime) -> datetime:
    """The naive local date-time in ``tz`` (UTC when unknown) of the aware/naive-UTC ``now_utc``."""
    try:
        zone = zoneinfo.ZoneInfo(tz or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = zoneinfo.ZoneInfo("UTC")
    aware = now_utc if now_utc.tzinfo else now_utc.replace(tzinfo=zoneinfo.ZoneInfo("UTC"))
    return aware.astimezone(zone).replace(tzinfo=None)


@dataclass(frozen=True)
class FormState:
    """What the form shows. Times are the texts of the start / end inputs."""

    start: str
    end: str
    tz: str | None  # None: take the browser's zone
    preset: str | None
    group: tuple[str, ...]
    currency: str
    active: int | str
    output: str
    filters: Mapping[str, tuple[str | int, ...]] = field(default_factory=dict)  # in added order

    def within(self, choices: Mapping[str, Sequence[object]]) -> FormState:
        """This form with each filter's values cut down to ``choices[kind]`` (the user's)."""
        kept = {
            kind: tuple(v for v in values if v in set(choices.get(kind, ())))
            for kind, values in self.filters.items()
        }
        return replace(self, filters=kept)

    @property
    def preset_data(self) -> dict[str, str] | None:
        """The ``INTERVAL_PRESET`` store's value: the preset and the interval it gave."""
        return preset_data(self.preset, self.start, self.end) if self.preset else None


def preset_data(name: str, start: str, end: str) -> dict[str, str]:
    """What the form keeps of a chosen preset: its name and label, and the interval it gave
    (a hand edit of the interval makes it no longer that preset)."""
    return {"name": name, "label": PRESET_LABELS[name], "from": start, "to": end}


def parse_search(search: str | None) -> list[tuple[str, str]]:
    """The (name, value) pairs of a query string, in order, blank values dropped."""
    return [(k, v) for k, v in parse_qsl((search or "").lstrip("?")) if v.strip() != ""]


def _display_time(text: str) -> str:
    """``text`` as the form shows date-times, or unchanged when it is not one."""
    try:
        return parse_local_time(text, "time").strftime(DISPLAY_FORMAT)
    except ReportError:
        return text


def _filter_value(kind: str, text: str) -> str | int | None:
    text = text.strip()
    if kind in ID_FILTERS:
        return int(text) if text.isdigit() else None
    if kind == "type":
        return text if text in CLIENT_TYPES else None
    return text


def form_state(
    pairs: Sequence[tuple[str, str]] | Mapping[str, object],
    base_currency: str,
    now_utc: datetime,
) -> FormState:
    """The form for SPEC §5 parameters (pairs of a query string, or a dict of str / lists).

    Missing parts get the defaults: this month, the browser's zone, no grouping, the base
    currency, one month, Web. A ``preset`` is recomputed for ``now_utc`` so that a bookmark of
    "last month" keeps meaning last month. Values that cannot be shown are dropped.
    """
    if isinstance(pairs, Mapping):
        flat: list[tuple[str, str]] = []
        for key, value in pairs.items():
            for item in value if isinstance(value, (list, tuple)) else [value]:
                if item is not None and str(item).strip() != "":
                    flat.append((str(key), str(item)))
        pairs = flat
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for key, value in pairs:
        single.setdefault(key, value)
        multi.setdefault(key, []).append(value)

    tz = single.get("tz")
    preset = single.get("preset") if single.get("preset") in PRESET_LABELS else None
    if preset or not (single.get("from") or single.get("to")):
        start_dt, end_dt = preset_interval(preset or DEFAULT_PRESET, now_in(tz, now_utc))
        start, end = start_dt.strftime(DISPLAY_FORMAT), end_dt.strftime(DISPLAY_FORMAT)
    else:
        start = _display_time(single.get("from", ""))
        end = _display_time(single.get("to", ""))

    grains = [g for g in multi.get("group", []) if g in TIME_GRAINS]
    group = tuple(grains[:1]) + (("package",) if "package" in multi.get("group", []) else ())

    active_text = single.get("active", str(DEFAULT_ACTIVE_MONTHS)).strip()
    active: int | str = int(active_text) if active_text.lstrip("-").isdigit() else active_text

    output = single.get("output", "web").lower()
    filters: dict[str, tuple[str | int, ...]] = {}
    for key, _ in pairs:  # in the order of the query string, so the form keeps that order
        if key in FILTER_KINDS and key not in filters:
            values = [_filter_value(key, v) for v in multi[key]]
            filters[key] = tuple(dict.fromkeys(v for v in values if v is not None))
    return FormState(
        start=start,
        end=end,
        tz=tz,
        preset=preset,
        group=group,
        currency=(single.get("currency") or base_currency).strip().upper(),
        active=active,
        output=output if output in OUTPUT_VALUES else "web",
        filters=filters,
    )


def _url_time(text: str | None) -> str:
    text = (text or "").strip()
    try:
        return parse_local_time(text, "time").strftime(URL_FORMAT)
    except ReportError:
        return text


def form_params(
    *,
    start: str | None,
    end: str | None,
    tz: str | None,
    preset: Mapping[str, str] | None,
    group: Sequence[str] | None,
    currency: str | None,
    active: int | str | None,
    output: str | None,
    active_filters: Sequence[str] | None,
    filter_values: Mapping[str, Sequence[str | int] | None],
) -> dict[str, str | list[str]]:
    """The SPEC §5 parameters of the form's values (plus ``preset`` when one is chosen).

    Only added filters count; a filter's values are passed on as the browser sent them, to be
    validated by the query and checked against the user's scope on the server.
    """
    for value, what in ((start, "the interval start"), (end, "the interval end"),
                        (tz, "the time zone"), (currency, "the currency"),
                        (output, "the output type")):
        if value is not None and not isinstance(value, str):
            raise InvalidQuery(f"{what} must be text")
    if active is not None and not isinstance(active, (int, str)) or isinstance(active, bool):
        raise InvalidQuery("the active duration must be a number of months")
    for values, what in ((group, "group by"), *((filter_values.get(k), k) for k in FILTER_KINDS)):
        if values is not None and (
            not isinstance(values, (list, tuple))
            or not all(isinstance(v, (str, int)) and not isinstance(v, bool) for v in values)
        ):
            raise InvalidQuery(f"{what} must be a list of values")
    if preset is not None and not isinstance(preset, Mapping):
        raise InvalidQuery("the interval preset is not valid")
    params: dict[str, str | list[str]] = {}
    if start and str(start).strip():
        params["from"] = _url_time(start)
    if end and str(end).strip():
        params["to"] = _url_time(end)
    params["tz"] = tz or "UTC"
    if preset and preset.get("name") in PRESET_LABELS:
        params["preset"] = preset["name"]
    if group:
        params["group"] = [str(g) for g in group]
    if currency:
        params["currency"] = str(currency)
    params["active"] = "" if active is None else str(active)
    for kind in FILTER_KINDS:
        if kind in (active_filters or ()):
            values = [str(v) for v in (filter_values.get(kind) or ()) if str(v) != ""]
            if values:
                params[kind] = values
    params["output"] = output if output in OUTPUT_VALUES else "web"
    return params
