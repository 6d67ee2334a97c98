"""The outbox: e-mails waiting to be sent, one row per recipient, and their delivery state.

Semantics (what a sender may rely on):

- ``enqueue`` stores the complete RFC 5322 message of each recipient in the caller's
  transaction, so a message exists durably as soon as the page or command commits, and
  survives any restart.
- ``claim_due`` moves one due row from ``queued`` to ``sending`` with a single conditional
  ``UPDATE … WHERE id = :id AND <still due>`` and checks the row count. Whatever the number
  of senders (threads, processes, hosts) on SQLite or PostgreSQL, one claim wins, so a row is
  handed to one sender at a time. A claim is a lease: a row left in ``sending`` longer than
  the lease (its sender died) is due again.
- The sender marks the row ``sent`` right after the SMTP server accepted it. A crash in that
  short window, or an attempt that outlives the lease, is the only way a message can go out
  twice: delivery is at-least-once, because losing a report silently is worse than sending it
  twice. Both copies carry the same Message-ID, so mail clients may fold them into one.
  (Without SMTP the ``.eml`` file is named after the row, so a repeat overwrites it.)
- A failed attempt goes back to ``queued`` with an exponential backoff (``base × 4^(n-1)``);
  after ``max_attempts`` attempts, or on a permanent refusal, the row is ``failed`` with the
  reason, which the page shows.
"""

from __future__ import annotations

import copy
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.utils import make_msgid, parseaddr

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    Engine,
    Index,
    Integer,
    LargeBinary,
    Text,
    and_,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.orm import Mapped, Session, mapped_column
from sqlalchemy.sql.elements import ColumnElement

from store.models import Base

STATUSES = ("queued", "sending", "sent", "failed")
FINAL_STATUSES = frozenset(("sent", "failed"))
DEFAULT_LEASE_SECONDS = 300.0
DEFAULT_MAX_ATTEMPTS = 3
DEFAULT_RETRY_BASE_SECONDS = 5.0
BACKOFF_FACTOR = 4
_CANDIDATES = 20
STALE_ERROR = "the sender stopped during the last attempt; delivery is uncertain"


def utc_now() -> datetime:
    """The current time as naive UTC, as the database stores it."""
    return datetime.now(UTC).replace(tzinfo=None)


class OutboxMessage(Base):
    """One e-mail to one recipient."""

    __tablename__ = "outbox"
    __table_args__ = (
        CheckConstraint(
            "status IN (" + ", ".join(f"'{s}'" for s in STATUSES) + ")", name="ck_outbox_status"
        ),
        Index("ix_outbox_due", "status", "next_attempt_at"),
        Index("ix_outbox_request", "request_id"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(Text, nullable=False)  # one "Send" of the page
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    recipient: Mapped[str] = mapped_column(Text, nullable=False)
    subject: Mapped[str] = mapped_column(Text, nullable=False)
    message: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)  # RFC 5322, CRLF
    status: Mapped[str] = mapped_column(Text, nullable=False, default="queued")
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    last_error: Mapped[str | None] = mapped_column(Text)
    claim_token: Mapped[str | None] = mapped_column(Text)
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)
    delivered_via: Mapped[str | None] = mapped_column(Text)  # "smtp" or "file"
    snapshot_token: Mapped[str | None] = mapped_column(Text)
    requested_by: Mapped[int | None] = mapped_column(Integer)  # users.id, None from the CLI


OUTBOX = OutboxMessage.__table__


@dataclass(frozen=True)
class Claim:
    """A row a sender holds the lease of: deliver ``message`` to ``recipient``, then mark it."""

    id: int
    token: str
    recipient: str
    message: bytes
    attempts: int  # including this one
    request_id: str


@dataclass(frozen=True)
class RecipientStatus:
    """The delivery state of one recipient, for the page and the CLI."""

    id: int
    recipient: str
    status: str
    attempts: int
    last_error: str | None
    next_attempt_at: datetime | None
    sent_at: datetime | None
    delivered_via: str | None

    @property
    def final(self) -> bool:
        return self.status in FINAL_STATUSES

    def describe(self) -> str:
        """One line for a user: ``sent``, ``queued (will retry: …)``, ``failed: …``."""
        if self.status == "sent":
            return "sent" if self.delivered_via != "file" else "written to the outbox folder"
        if self.status == "failed":
            return f"failed: {self.last_error or 'unknown error'}"
        if self.status == "queued" and self.last_error:
            return f"queued (will retry; last attempt: {self.last_error})"
        return self.status


def new_request_id() -> str:
    """An id grouping the recipients of one send (unguessable, so the page may hold it)."""
    return secrets.token_urlsafe(16)


def _addressed(message: EmailMessage, recipient: str) -> bytes:
    addressed = copy.deepcopy(message)
    del addressed["To"]
    del addressed["Message-ID"]
    addressed["To"] = recipient
    domain = parseaddr(str(message.get("From", "")))[1].rpartition("@")[2] or "localhost"
    addressed["Message-ID"] = make_msgid(domain=domain)
    return addressed.as_bytes(policy=policy.SMTP)


def enqueue(
    session: Session,
    message: EmailMessage,
    recipients: Iterable[str],
    *,
    request_id: str | None = None,
    snapshot_token: str | None = None,
    requested_by: int | None = None,
    now: datetime | None = None,
) -> list[int]:
    """Queue ``message`` once per recipient in the session's transaction; the new row ids.

    Recipients should come from ``exports.mail.parse_recipients``. Group the rows with
    ``request_id`` (``new_request_id()``) to follow them with ``status_for``; without one,
    a fresh id is used (read it back from any row).
    """
    recipients = list(recipients)
    if not recipients:
        raise ValueError("enqueue needs at least one recipient")
    now = now or utc_now()
    request_id = request_id or new_request_id()
    rows = [
        OutboxMessage(
            request_id=request_id,
            created_at=now,
            recipient=recipient,
            subject=str(message.get("Subject", "")),
            message=_addressed(message, recipient),
            status="queued",
            attempts=0,
            next_attempt_at=now,
            snapshot_token=snapshot_token,
            requested_by=requested_by,
        )
        for recipient in recipients
    ]
    session.add_all(rows)
    session.flush()
    return [row.id for row in rows]


def _due(now: datetime, stale_before: datetime) -> ColumnElement[bool]:
    return or_(
        and_(OUTBOX.c.status == "queued", OUTBOX.c.next_attempt_at <= now),
        and_(OUTBOX.c.status == "sending", OUTBOX.c.claimed_at < stale_before),
    )


def claim_due(
    engine: Engine,
    now: datetime | None = None,
    *,
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    request_id: str | None = None,
) -> Claim | None:
    """Atomically take the lease of one due row (``request_id``: of that send only), or None.

    A row whose sender died during its last allowed attempt is failed on the way, not retried.
    An idle outbox costs one SELECT: nothing is written unless a row is due.
    """
    now = now or utc_now()
    stale_before = now - timedelta(seconds=lease_seconds)
    due = _due(now, stale_before)
    if request_id is not None:
        due = and_(due, OUTBOX.c.request_id == request_id)
    with engine.connect() as conn:
        candidates = conn.execute(
            select(OUTBOX.c.id, OUTBOX.c.status, OUTBOX.c.attempts)
            .where(due)
            .order_by(OUTBOX.c.next_attempt_at, OUTBOX.c.id)
            .limit(_CANDIDATES)
        ).all()
    for row_id, status, attempts in candidates:
        if status == "sending" and attempts >= max_attempts:
            _expire(engine, row_id, stale_before)
            continue
        token = secrets.token_hex(16)
        # The UPDATE comes first in its transaction: on SQLite it takes the write lock at
        # once (waiting on busy_timeout), on PostgreSQL a concurrent claimer re-evaluates
        # the WHERE on the row it waited for and matches nothing.
        with engine.begin() as conn:
            result = conn.execute(
                update(OUTBOX)
                .where(OUTBOX.c.id == row_id, due)
                .values(
                    status="sending",
                    claim_token=token,
                    claimed_at=now,
                    attempts=OUTBOX.c.attempts + 1,
                )
            )
            if result.rowcount != 1:
                continue  # another sender was faster
            row = conn.execute(
                select(
                    OUTBOX.c.recipient, OUTBOX.c.message, OUTBOX.c.attempts, OUTBOX.c.request_id
                ).where(OUTBOX.c.id == row_id)
            ).one()
        return Claim(row_id, token, row.recipient, bytes(row.message), row.attempts, row.request_id)
    return None


def _expire(engine: Engine, row_id: int, stale_before: datetime) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(OUTBOX)
            .where(
                OUTBOX.c.id == row_id,
                OUTBOX.c.status == "sending",
                OUTBOX.c.claimed_at < stale_before,
            )
            .values(status="failed", last_error=STALE_ERROR, claim_token=None)
        )


def _finish(engine: Engine, claim: Claim, **values: object) -> bool:
    with engine.begin() as conn:
        result = conn.execute(
            update(OUTBOX)
            .where(
                OUTBOX.c.id == claim.id,
                OUTBOX.c.claim_token == claim.token,
                OUTBOX.c.status == "sending",
            )
            .values(**values)
        )
        return result.rowcount == 1


def mark_sent(engine: Engine, claim: Claim, now: datetime | None = None, via: str = "smtp") -> bool:
    """Record a delivery; False if the lease was lost meanwhile (another sender took over)."""
    return _finish(
        engine, claim, status="sent", sent_at=now or utc_now(), delivered_via=via, last_error=None
    )


def mark_failed(engine: Engine, claim: Claim, error: str) -> bool:
    """Give up on the row with ``error`` (shown to the user)."""
    return _finish(engine, claim, status="failed", last_error=error[:1000], claim_token=None)


def retry_delay(attempts: int, base_seconds: float = DEFAULT_RETRY_BASE_SECONDS) -> timedelta:
    """The wait after the ``attempts``-th failed attempt: base, 4 × base, 16 × base, …"""
    return timedelta(seconds=base_seconds * BACKOFF_FACTOR ** max(attempts - 1, 0))


def mark_retry(
    engine: Engine,
    claim: Claim,
    error: str,
    now: datetime | None = None,
    *,
    base_seconds: float = DEFAULT_RETRY_BASE_SECONDS,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
) -> str:
    """Queue the row again after a backoff, or fail it after ``max_attempts``; the new status."""
    now = now or utc_now()
    if claim.attempts >= max_attempts:
        mark_failed(engine, claim, f"{error} (after {claim.attempts} attempts)")
        return "failed"
    _finish(
        engine,
        claim,
        status="queued",
        next_attempt_at=now + retry_delay(claim.attempts, base_seconds),
        last_error=error[:1000],
        claim_token=None,
        claimed_at=None,
    )
    return "queued"


def status_for(
    engine: Engine, request_id: str, requested_by: int | None = None
) -> list[RecipientStatus]:
    """The state of each recipient of one send, in the order they were given.

    With ``requested_by``, only the rows that user asked for: a request id from the browser
    must not show anyone else's recipients.
    """
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                OUTBOX.c.id,
                OUTBOX.c.recipient,
                OUTBOX.c.status,
                OUTBOX.c.attempts,
                OUTBOX.c.last_error,
                OUTBOX.c.next_attempt_at,
                OUTBOX.c.sent_at,
                OUTBOX.c.delivered_via,
            )
            .where(OUTBOX.c.request_id == request_id)
            .where(OUTBOX.c.requested_by == requested_by if requested_by is not None else true())
            .order_by(OUTBOX.c.id)
        ).all()
    return [RecipientStatus(*row) for row in rows]


def next_due_at(engine: Engine, request_id: str | None = None) -> datetime | None:
    """When the earliest queued row becomes due (None when nothing is queued)."""
    query = select(OUTBOX.c.next_attempt_at).where(OUTBOX.c.status == "queued")
    if request_id is not None:
        query = query.where(OUTBOX.c.request_id == request_id)
    with engine.connect() as conn:
        return conn.execute(query.order_by(OUTBOX.c.next_attempt_at).limit(1)).scalar()
