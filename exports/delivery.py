"""Delivering the outbox: SMTP from ``SMTP_URL``, or ``.eml`` files without it.

``deliver_due`` sends what is due once; ``run_sender`` loops for the background thread of
``python app.py`` and for ``dynamics send-mail`` (the Procfile worker); ``deliver_request``
waits until every recipient of one send is sent or failed (``dynamics report --send-to``).
Row claiming and the at-least-once guarantee are described in ``store.outbox``.
"""

from __future__ import annotations

import logging
import os
import smtplib
import socket
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from email.utils import parseaddr
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from flask import Flask
from sqlalchemy import Engine

from store.outbox import (
    DEFAULT_LEASE_SECONDS,
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_RETRY_BASE_SECONDS,
    Claim,
    RecipientStatus,
    claim_due,
    mark_failed,
    mark_retry,
    mark_sent,
    next_due_at,
    status_for,
    utc_now,
)

log = logging.getLogger(__name__)

DEFAULT_SMTP_TIMEOUT_SECONDS = 30.0
DEFAULT_POLL_SECONDS = 1.0
_TRUE = ("1", "true", "yes", "on")


class DeliveryError(Exception):
    """An attempt failed; ``permanent`` when retrying cannot help (the server refused it)."""

    def __init__(self, message: str, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


@dataclass(frozen=True)
class SmtpServer:
    """Where and how to hand mail over, from ``smtp://user:pass@host:port?starttls=1``."""

    host: str
    port: int
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    implicit_tls: bool = False  # smtps://


def parse_smtp_url(url: str) -> SmtpServer:
    """The server of an ``smtp://`` (or ``smtps://``) URL; user and password may be %-encoded."""
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ValueError("SMTP_URL must look like smtp://user:pass@host:port[?starttls=1]")
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    implicit_tls = parts.scheme == "smtps"
    return SmtpServer(
        host=parts.hostname,
        port=parts.port or (465 if implicit_tls else 25),
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        starttls=query.get("starttls", "").lower() in _TRUE,
        implicit_tls=implicit_tls,
    )


@dataclass(frozen=True)
class MailSettings:
    """The mail part of the app configuration (SPEC §5 plus the outbox tuning knobs)."""

    mail_from: str
    outbox_dir: Path
    smtp: SmtpServer | None = None
    retry_base_seconds: float = DEFAULT_RETRY_BASE_SECONDS
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    lease_seconds: float = DEFAULT_LEASE_SECONDS
    smtp_timeout_seconds: float = DEFAULT_SMTP_TIMEOUT_SECONDS

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> MailSettings:
        """From ``SMTP_URL``, ``MAIL_FROM``, ``INSTANCE_PATH`` and the optional ``MAIL_*`` keys."""
        smtp_url = config.get("SMTP_URL")
        return cls(
            mail_from=str(config.get("MAIL_FROM") or "dynamics@localhost"),
            outbox_dir=Path(str(config.get("INSTANCE_PATH") or "instance")) / "outbox",
            smtp=parse_smtp_url(str(smtp_url)) if smtp_url else None,
            retry_base_seconds=float(
                config.get("MAIL_RETRY_BASE_SECONDS", DEFAULT_RETRY_BASE_SECONDS)
            ),
            max_attempts=int(config.get("MAIL_MAX_ATTEMPTS", DEFAULT_MAX_ATTEMPTS)),
            lease_seconds=float(config.get("MAIL_LEASE_SECONDS", DEFAULT_LEASE_SECONDS)),
            smtp_timeout_seconds=float(
                config.get("SMTP_TIMEOUT_SECONDS", DEFAULT_SMTP_TIMEOUT_SECONDS)
            ),
        )

    @property
    def envelope_from(self) -> str:
        return parseaddr(self.mail_from)[1] or self.mail_from


@dataclass(frozen=True)
class Delivery:
    """What one attempt did: the row, its recipient, its status afterwards, the error."""

    id: int
    recipient: str
    status: str
    error: str | None = None
    via: str | None = None

    def line(self) -> str:
        if self.status == "sent":
            return f"{self.recipient}: sent" + (
                " (written to .eml file)" if self.via == "file" else ""
            )
        if self.status == "failed":
            return f"{self.recipient}: failed: {self.error}"
        return f"{self.recipient}: {self.status} (will retry: {self.error})"


def transport_note(config: Mapping[str, Any]) -> str | None:
    """What the page says about delivery when no SMTP server is configured (None when one is)."""
    if config.get("SMTP_URL"):
        return None
    return (
        "No mail server is configured (SMTP_URL): messages are written as .eml files "
        "under instance/outbox/ instead of being sent."
    )


# --------------------------------------------------------------------------- transports


def _smtp_error(exc: Exception) -> DeliveryError:
    """A message for the user that names what went wrong, never the credentials."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, text = next(iter(exc.recipients.values()))
        return DeliveryError(
            f"the mail server refused the recipient: {code} {_text(text)}", permanent=code >= 500
        )
    if isinstance(exc, smtplib.SMTPSenderRefused):
        return DeliveryError(
            f"the mail server refused the sender: {exc.smtp_code} {_text(exc.smtp_error)}",
            permanent=exc.smtp_code >= 500,
        )
    if isinstance(exc, smtplib.SMTPDataError):
        return DeliveryError(
            f"the mail server refused the message: {exc.smtp_code} {_text(exc.smtp_error)}",
            permanent=exc.smtp_code >= 500,
        )
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return DeliveryError("the mail server did not accept the SMTP login")
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return DeliveryError(f"the mail server does not support a required feature ({exc})")
    if isinstance(exc, ssl.SSLError):
        return DeliveryError(f"TLS with the mail server failed ({exc.reason or exc})")
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return DeliveryError("the mail server did not answer in time")
    if isinstance(exc, smtplib.SMTPResponseException):
        return DeliveryError(f"the mail server answered {exc.smtp_code} {_text(exc.smtp_error)}")
    if isinstance(exc, OSError):
        return DeliveryError(f"cannot reach the mail server ({exc.strerror or exc})")
    return DeliveryError(f"mail delivery failed ({type(exc).__name__})")


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def send_smtp(settings: MailSettings, recipient: str, message: bytes) -> None:
    """Hand ``message`` to the SMTP server for ``recipient``; raises ``DeliveryError``."""
    server = settings.smtp
    assert server is not None
    factory = smtplib.SMTP_SSL if server.implicit_tls else smtplib.SMTP
    extra: dict[str, Any] = {"context": ssl.create_default_context()} if server.implicit_tls else {}
    try:
        with factory(
            server.host,
            server.port,
            local_hostname="localhost",  # skips a reverse-DNS lookup of our own name
            timeout=settings.smtp_timeout_seconds,
            **extra,
        ) as smtp:
            smtp.ehlo()
            if server.starttls:
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if server.username:
                smtp.login(server.username, server.password or "")
            smtp.sendmail(settings.envelope_from, [recipient], message)
    except (smtplib.SMTPException, OSError) as exc:
        raise _smtp_error(exc) from exc


def write_eml(settings: MailSettings, row_id: int, message: bytes) -> Path:
    """Write ``<outbox_dir>/<id>.eml`` atomically; a repeat overwrites the same file."""
    settings.outbox_dir.mkdir(parents=True, exist_ok=True)
    path = settings.outbox_dir / f"{row_id}.eml"
    partial = path.with_name(f".{row_id}.{os.getpid()}.{threading.get_ident()}.tmp")
    partial.write_bytes(message)
    os.replace(partial, path)
    return path


# --------------------------------------------------------------------------- the sender


def _resolve(target: Any, config: Mapping[str, Any] | None) -> tuple[Engine, Mapping[str, Any]]:
    server = getattr(target, "server", target)  # a Dash app holds its Flask server
    if isinstance(server, Flask):
        return server.extensions["dynamics.engine"], config or server.config
    if isinstance(target, Engine):
        if config is None:
            raise TypeError("deliver_due(engine, …) needs the app configuration")
        return target, config
    raise TypeError(f"cannot deliver mail with {type(target).__name__}")


def deliver_claim(
    engine: Engine, settings: MailSettings, claim: Claim, now: datetime | None = None
) -> Delivery:
    """Make one attempt for a claimed row and record its outcome (at ``now``, default the clock)."""
    via = "smtp" if settings.smtp else "file"
    try:
        if settings.smtp:
            send_smtp(settings, claim.recipient, claim.message)
        else:
            write_eml(settings, claim.id, claim.message)
    except DeliveryError as exc:
        error = str(exc)
        if exc.permanent:
            mark_failed(engine, claim, error)
            status = "failed"
        else:
            status = mark_retry(
                engine,
                claim,
                error,
                now or utc_now(),
                base_seconds=settings.retry_base_seconds,
                max_attempts=settings.max_attempts,
            )
        log.warning("mail %s to %s: %s (%s)", claim.id, claim.recipient, error, status)
        return Delivery(claim.id, claim.recipient, status, error, via)
    except OSError as exc:  # the .eml folder is not writable
        error = f"cannot write the message file ({exc.strerror or exc})"
        status = mark_retry(
            engine,
            claim,
            error,
            now or utc_now(),
            base_seconds=settings.retry_base_seconds,
            max_attempts=settings.max_attempts,
        )
        return Delivery(claim.id, claim.recipient, status, error, via)
    _record_sent(engine, claim, via, now)
    log.info("mail %s to %s: sent via %s", claim.id, claim.recipient, via)
    return Delivery(claim.id, claim.recipient, "sent", None, via)


def _record_sent(
    engine: Engine, claim: Claim, via: str, now: datetime | None, tries: int = 5
) -> None:
    # The message is out: marking it is the one step that must not be skipped, or the lease
    # runs out and it goes again. Retry a database hiccup a few times before giving up.
    for attempt in range(tries):
        try:
            if not mark_sent(engine, claim, now or utc_now(), via):
                log.warning("mail %s: sent, but its lease had passed to another sender", claim.id)
            return
        except Exception:  # any database error: try again shortly
            if attempt == tries - 1:
                log.exception("mail %s: sent but not marked; it may be sent again", claim.id)
                return
            time.sleep(0.5 * (attempt + 1))


def deliver_due(
    target: Any,
    config: Mapping[str, Any] | None = None,
    now: datetime | None = None,
    *,
    request_id: str | None = None,
    limit: int | None = None,
) -> list[Delivery]:
    """Attempt every row due at ``now`` (default: the clock, read per row); what happened.

    ``target``: the Dash app, its Flask server, or an Engine together with ``config``.
    """
    engine, config = _resolve(target, config)
    settings = MailSettings.from_config(config)
    results: list[Delivery] = []
    while limit is None or len(results) < limit:
        claim = claim_due(
            engine,
            now or utc_now(),
            lease_seconds=settings.lease_seconds,
            max_attempts=settings.max_attempts,
            request_id=request_id,
        )
        if claim is None:
            break
        results.append(deliver_claim(engine, settings, claim, now))
    return results


def deliver_request(
    target: Any,
    request_id: str,
    config: Mapping[str, Any] | None = None,
    *,
    timeout_seconds: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> list[RecipientStatus]:
    """Deliver one send now, waiting out its retries, until each recipient is sent or failed.

    Returns the recipients' states; some may still be queued when ``timeout_seconds`` ran out.
    """
    engine, config = _resolve(target, config)
    deadline = None if timeout_seconds is None else time.monotonic() + timeout_seconds
    while True:
        deliver_due(engine, config, request_id=request_id)
        statuses = status_for(engine, request_id)
        if all(s.final for s in statuses):
            return statuses
        if deadline is not None and time.monotonic() >= deadline:
            return statuses
        due = next_due_at(engine, request_id)
        wait = 0.2 if due is None else (due - utc_now()).total_seconds()
        if deadline is not None:
            wait = min(wait, deadline - time.monotonic())
        sleep(min(max(wait, 0.05), 5.0))


def run_sender(
    target: Any,
    stop_event: threading.Event,
    config: Mapping[str, Any] | None = None,
    *,
    poll_seconds: float = DEFAULT_POLL_SECONDS,
) -> None:
    """Deliver due mail until ``stop_event`` is set; a failing database is logged and retried."""
    engine, config = _resolve(target, config)
    while not stop_event.is_set():
        try:
            deliver_due(engine, config)
        except Exception:  # the database is away: keep the loop alive and try again
            log.exception("mail sender: delivery round failed")
            stop_event.wait(max(poll_seconds, 5.0))
            continue
        stop_event.wait(poll_seconds)


def start_sender_thread(
    target: Any, *, poll_seconds: float = DEFAULT_POLL_SECONDS
) -> tuple[threading.Thread, threading.Event]:
    """Run ``run_sender`` in a daemon thread; set the returned event to stop it."""
    stop_event = threading.Event()
    thread = threading.Thread(
        target=run_sender,
        args=(target, stop_event),
        kwargs={"poll_seconds": poll_seconds},
        name="dynamics-mail-sender",
        daemon=True,
    )
    thread.start()
    return thread, stop_event
