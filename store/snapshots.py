"""Snapshots of report outputs (SPEC §6): stored once, read through the cache, never changed.

A snapshot keeps the rows exactly as they were generated, so a share link shows the same data
forever, whatever happens to the source tables afterwards (rerating, deleted clients, …).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import pandas as pd
from flask import current_app
from sqlalchemy import JSON, CheckConstraint, DateTime, Integer, String, Text, event, select
from sqlalchemy.orm import Mapped, mapped_column

import ratelimit
from extensions import cache, db
from metrics.columns import COUNT_COLUMNS, MONEY_COLUMNS
from metrics.query import ReportQuery, query_from_params
from metrics.report import Report
from store.models import Base, Company, Package, User
from store.scope import scope_company_ids

if TYPE_CHECKING:  # store.users imports store.models, which imports this module
    from store.users import AccountInfo

log = logging.getLogger(__name__)

OUTPUTS = ("web", "csv", "xlsx", "xls", "cli")
TOKEN_BYTES = 32  # 256 random bits; SPEC §6 asks for at least 128
# ``secrets.token_urlsafe(n)`` is the unpadded base64url text of n bytes.
TOKEN_LENGTH = math.ceil(TOKEN_BYTES * 4 / 3)
_TOKEN_RE = re.compile(rf"[A-Za-z0-9_-]{{{TOKEN_LENGTH}}}")
CACHE_TIMEOUT_SECONDS = 24 * 3600  # the database is the durable copy; the cache only saves reads

# The query-string vocabulary of SPEC §5, plus ``preset``: the name of a relative interval
# ("last_month") as the user chose it, so a saved query keeps meaning "last month".
SINGLE_PARAMS = ("from", "to", "tz", "preset", "currency", "active", "output", "chart")
MULTI_PARAMS = ("group", "type", "tag", "company", "owner", "package")
PARAM_ORDER = ("from", "to", "tz", "preset", "group", "currency", "active",
               "type", "tag", "company", "owner", "package", "output", "chart")


def clean_params(params: Mapping[str, Any] | None) -> dict[str, str | list[str]]:
    """The SPEC §5 parameters of ``params`` as strings / lists of strings; others dropped.

    Anything else a caller passes (e-mail addresses of ``send-to``, form internals) stays out:
    a snapshot is readable by every company.
    """
    cleaned: dict[str, str | list[str]] = {}
    for key in PARAM_ORDER:
        value = (params or {}).get(key)
        if value is None:
            continue
        if key in MULTI_PARAMS:
            values = value if isinstance(value, (list, tuple, set, frozenset)) else [value]
            items = [str(v).strip() for v in values if v is not None and str(v).strip() != ""]
            if items:
                cleaned[key] = items
        else:
            text = str(value).strip()
            if text:
                cleaned[key] = text
    return cleaned


def query_string(params: Mapping[str, Any]) -> str:
    """``params`` as the SPEC §5 query string of ``GET /`` (repeated keys for lists), no ``?``."""
    cleaned = clean_params(params)
    return urlencode([(key, cleaned[key]) for key in PARAM_ORDER if key in cleaned], doseq=True)


class SnapshotRecord(Base):
    """One stored snapshot. There is deliberately no foreign key to users or companies: a link
    must keep working after its creator or their company is gone."""

    __tablename__ = "snapshots"
    __table_args__ = (
        CheckConstraint(
            "output IN (" + ", ".join(repr(o) for o in OUTPUTS) + ")", name="ck_snapshots_output"
        ),
    )
    token: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    user_id: Mapped[int | None] = mapped_column(Integer)
    user_login: Mapped[str | None] = mapped_column(Text)
    user_role: Mapped[str | None] = mapped_column(Text)
    company_id: Mapped[int | None] = mapped_column(Integer)  # the creator's scope; None = all
    params: Mapped[dict] = mapped_column(JSON, nullable=False)
    rows: Mapped[str] = mapped_column(Text, nullable=False)
    # ``metadata`` is reserved on declarative classes; the column keeps the name.
    meta: Mapped[dict] = mapped_column("metadata", JSON, nullable=False)
    content_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    output: Mapped[str] = mapped_column(String(8), nullable=False)


@event.listens_for(SnapshotRecord, "before_update")
def _refuse_update(_mapper, _connection, target: SnapshotRecord) -> None:
    raise RuntimeError(f"snapshot {target.token[:6]}… is immutable")


@dataclass(frozen=True)
class Snapshot:
    """A stored snapshot as plain data; ``report()`` rebuilds the Report it was made from."""

    token: str
    created_at: datetime  # UTC, naive
    user_id: int | None
    user_login: str | None
    user_role: str | None
    company_id: int | None
    params: Mapping[str, Any]
    rows_json: str
    meta: Mapping[str, Any]
    content_hash: str
    output: str

    @property
    def currency(self) -> str:
        return str(self.meta["currency"])

    @property
    def data_interval(self) -> tuple[datetime, datetime] | None:
        interval = self.meta.get("data_interval")
        if not interval:
            return None
        return datetime.fromisoformat(interval[0]), datetime.fromisoformat(interval[1])

    @property
    def generated_by(self) -> str | None:
        return self.meta.get("generated_by")

    @property
    def generated_at(self) -> datetime | None:
        value = self.meta.get("generated_at")
        return datetime.fromisoformat(value) if value else None

    @property
    def filter_names(self) -> dict[str, dict[int, str]]:
        """Display names of the query's filter ids (``exports.title.FilterNames``)."""
        stored = self.meta.get("names") or {}
        return {key: {int(i): name for i, name in ids.items()} for key, ids in stored.items()}

    @property
    def duration_seconds(self) -> float | None:
        value = self.meta.get("duration_seconds")
        return None if value is None else float(value)

    def query(self) -> ReportQuery:
        """The query that produced the rows (absolute interval, as run)."""
        return query_from_params(dict(self.meta.get("query") or self.params))

    def frame(self) -> pd.DataFrame:
        """The rows with the engine's dtypes: counts int64, money float64, undefined as NaN."""
        return rows_frame(self.rows_json)

    def report(self) -> Report:
        return Report(
            frame=self.frame(),
            query=self.query(),
            currency=self.currency,
            data_interval=self.data_interval,
            generated_by=self.generated_by,
            generated_at=self.generated_at,
            duration_seconds=self.duration_seconds,
        )


def rows_json(frame: pd.DataFrame) -> str:
    """The canonical JSON text of a report frame: columns and rows, floats at full precision."""
    columns = [str(c) for c in frame.columns]
    series = []
    for name in frame.columns:
        values = frame[name].tolist()
        if name in COUNT_COLUMNS:
            series.append([int(v) for v in values])
        elif name in MONEY_COLUMNS:
            series.append([_number(v) for v in values])
        else:
            series.append([_plain(v) for v in values])
    data = [list(row) for row in zip(*series, strict=True)] if series else []
    return json.dumps(
        {"columns": columns, "data": data},
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    )


def _number(value: Any) -> float | None:
    if value is None or pd.isna(value):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _plain(value: Any) -> Any:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, (str, bool, int, float)):
        return value
    if hasattr(value, "item"):  # a numpy scalar
        return value.item()
    return str(value)


def rows_frame(text: str) -> pd.DataFrame:
    """The frame of ``rows_json`` text, with the dtypes the engine gives it."""
    payload = json.loads(text)
    columns = payload["columns"]
    data = payload["data"]
    frame = pd.DataFrame(
        {name: [row[i] for row in data] for i, name in enumerate(columns)}, columns=columns
    )
    for name in columns:
        if name in COUNT_COLUMNS:
            frame[name] = frame[name].astype("int64")
        elif name in MONEY_COLUMNS:
            frame[name] = pd.to_numeric(frame[name], errors="coerce").astype("float64")
    return frame


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def is_token(value: object) -> bool:
    """Whether ``value`` has the shape of a token (checked before any database query)."""
    return isinstance(value, str) and _TOKEN_RE.fullmatch(value) is not None


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def filter_names(query: ReportQuery) -> dict[str, dict[int, str]]:
    """Display names of the query's company / owner / package ids (``exports.title.FilterNames``)."""
    wanted = (
        ("company", Company.id, Company.name, query.company_ids),
        ("owner", User.id, User.login, query.owner_ids),
        ("package", Package.id, Package.name, query.package_ids),
    )
    names: dict[str, dict[int, str]] = {}
    with db.engine.connect() as conn:
        for key, id_column, name_column, ids in wanted:
            if ids:
                rows = conn.execute(select(id_column, name_column).where(id_column.in_(ids)))
                names[key] = {int(row[0]): str(row[1]) for row in rows}
    return names


_filter_names = filter_names  # the name commands/report.py imports


def create_snapshot(
    report: Report, user: AccountInfo | None, params: Mapping[str, Any] | None, output: str
) -> str:
    """Store ``report`` as made by ``user`` (None: the CLI on the whole database); its token.

    ``params`` are the parameters as the user chose them (with a relative ``preset`` if any);
    without them the query's own parameters are kept.
    """
    if output not in OUTPUTS:
        raise ValueError(f"unknown output {output!r} (one of {', '.join(OUTPUTS)})")
    text = rows_json(report.frame)
    chosen = clean_params(params) or clean_params(report.query.to_params())
    generated_by = report.generated_by or (f"{user.role} {user.login}" if user else None)
    meta = {
        "currency": report.currency,
        "data_interval": (
            [_iso(report.data_interval[0]), _iso(report.data_interval[1])]
            if report.data_interval
            else None
        ),
        "generated_by": generated_by,
        "generated_at": _iso(report.generated_at),
        "duration_seconds": report.duration_seconds,
        "query": clean_params(report.query.to_params()),
        # The filters' names as the creator saw them, for the parameters in words.
        "names": {
            key: {str(i): name for i, name in ids.items()}
            for key, ids in filter_names(report.query).items()
        },
    }
    token = new_token()
    record = SnapshotRecord(
        token=token,
        created_at=datetime.now(UTC).replace(tzinfo=None),
        user_id=user.id if user else None,
        user_login=user.login if user else None,
        user_role=user.role if user else None,
        company_id=user.company_id if user else None,
        params=chosen,
        rows=text,
        meta=meta,
        content_hash=content_hash(text),
        output=output,
    )
    with db.session() as session:
        session.add(record)
    return token


def _cache_key(token: str) -> str:
    return f"snapshot:{token}"


def _record_dict(record: SnapshotRecord) -> dict[str, Any]:
    return {
        "token": record.token,
        "created_at": record.created_at.isoformat(),
        "user_id": record.user_id,
        "user_login": record.user_login,
        "user_role": record.user_role,
        "company_id": record.company_id,
        "params": dict(record.params),
        "rows_json": record.rows,
        "meta": dict(record.meta),
        "content_hash": record.content_hash,
        "output": record.output,
    }


def _from_dict(data: Mapping[str, Any]) -> Snapshot:
    fields = dict(data)
    fields["created_at"] = datetime.fromisoformat(fields["created_at"])
    return Snapshot(**fields)


def _cached(token: str) -> dict[str, Any] | None:
    try:
        return cache.get(_cache_key(token))
    # The cache is an optimisation: any failure of it (Redis down, …) falls back to the DB.
    except Exception as error:  # noqa: BLE001
        log.warning("snapshot cache read failed, using the database: %s", error)
        return None


def _remember(token: str, data: dict[str, Any]) -> None:
    try:
        cache.set(_cache_key(token), data, timeout=CACHE_TIMEOUT_SECONDS)
    except Exception as error:  # noqa: BLE001
        log.warning("snapshot cache write failed: %s", error)


def load_snapshot(token: object) -> Snapshot | None:
    """The snapshot of ``token``, or None if there is none (or ``token`` cannot be one).

    Looking up tokens is rate-limited per user and address (``ratelimit``): a request that
    has guessed too many unknown tokens gets 429, whichever page or callback asks.
    """
    ratelimit.guard()
    if not is_token(token):
        ratelimit.count_guess()
        return None
    assert isinstance(token, str)
    data = _cached(token)
    if data is None:
        with db.session() as session:
            record = session.get(SnapshotRecord, token)
            if record is None:
                ratelimit.count_guess()
                return None
            data = _record_dict(record)
        if content_hash(data["rows_json"]) != data["content_hash"]:
            log.error("snapshot %s…: rows do not match their content hash", token[:6])
        _remember(token, data)
    return _from_dict(data)


def snapshot_exists(token: object) -> bool:
    """Whether ``token`` names a stored snapshot (for a 404 before the page is served)."""
    return load_snapshot(token) is not None


def share_url(token: str) -> str:
    """The absolute link of a snapshot: ``{BASE_URL}/view?id={token}``."""
    return f"{current_app.config['BASE_URL']}/view?id={token}"


def _scopes(snapshot: Snapshot, viewer: AccountInfo) -> tuple[set[int] | None, set[int] | None]:
    with db.engine.connect() as conn:
        return (
            scope_company_ids(conn, viewer.company_id),
            scope_company_ids(conn, snapshot.company_id),
        )


def scope_covers(snapshot: Snapshot, viewer: AccountInfo) -> bool:
    """Whether ``viewer`` sees at least every company the snapshot's creator saw.

    Only then is a recomputation for the viewer ("Compare with now") about the same clients.
    A creator whose company no longer exists has an unknown scope: nobody covers it.
    """
    viewer_scope, creator_scope = _scopes(snapshot, viewer)
    if viewer_scope is None:
        return True
    if creator_scope is None or not creator_scope:
        return False
    return creator_scope <= viewer_scope


def same_scope(snapshot: Snapshot, viewer: AccountInfo) -> bool:
    """Whether ``viewer`` sees exactly the companies the snapshot's creator saw."""
    viewer_scope, creator_scope = _scopes(snapshot, viewer)
    return viewer_scope == creator_scope
